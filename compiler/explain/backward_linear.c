/* The rules of linear layers (dense, conv2d, pools, add): compile-time weight transforms, the layer's
 * linear map and its transpose with a given weight set, and share rules (as written, or over the W / W+
 * basis of rule_basis.c):
 *   z = sum_f LIN(f(a); g_f(w)) + h(b);  s = coef * masks(z_plain) * R / stab(z);  R_in = sum_f f(a) * LIN^T(s; g_f(w)) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backward.h"

/* ---------------- compile-time weight transforms ---------------- */

static int is_identity(const rx *g, rx_var v)
{
    if (rx_is_var(g, v)) return 1;
    return g->kind == RX_BIN && g->op == '*' && g->args[0]->kind == RX_NUM && g->args[0]->num == 1 &&
        rx_is_var(g->args[1], v);
}

/* g(w) as a recipe's program over element `src` (rx_eval's semantics, b = 0); 0 if g does not fit one. */
static int rx_to_tape(const rx *g, ir_recipe *r, int src)
{
    static const struct {
        int op;
        ir_tape_op t;
    } bins[] = { { '+', IR_T_ADD }, { '-', IR_T_SUB }, { '*', IR_T_MUL }, { '/', IR_T_DIV0 }, { '>', IR_T_GT },
                 { '<', IR_T_LT },  { 'G', IR_T_GE },  { 'L', IR_T_LE },  { 'E', IR_T_EQ },   { 'N', IR_T_NE } };
    if (src < 0) return 0;
    switch (g->kind) {
    case RX_NUM: return ir_recipe_push(r, IR_T_NUM, 0, g->num);
    case RX_VAR: return g->var == V_W ? ir_recipe_push(r, IR_T_ELEM, src, 0) : ir_recipe_push(r, IR_T_NUM, 0, 0);
    case RX_NEG: return rx_to_tape(g->args[0], r, src) && ir_recipe_push(r, IR_T_NEG, 0, 0);
    case RX_BIN:
        for (size_t i = 0; i < sizeof bins / sizeof *bins; i++)
            if (bins[i].op == g->op)
                return rx_to_tape(g->args[0], r, src) && rx_to_tape(g->args[1], r, src) &&
                    ir_recipe_push(r, bins[i].t, 0, 0);
        return rx_to_tape(g->args[0], r, src) && rx_to_tape(g->args[1], r, src) && ir_recipe_push(r, IR_T_NE, 0, 0);
    case RX_CALL:
        switch (g->fn) {
        case F_MAX:
        case F_MIN:
            if (g->n_args != 2) return 0; /* a reduction: refused in shares (rule_form.c) */
            return rx_to_tape(g->args[0], r, src) && rx_to_tape(g->args[1], r, src) &&
                ir_recipe_push(r, g->fn == F_MAX ? IR_T_MAX : IR_T_MIN, 0, 0);
        case F_POS: return rx_to_tape(g->args[0], r, src) && ir_recipe_push(r, IR_T_POS, 0, 0);
        case F_NEG: return rx_to_tape(g->args[0], r, src) && ir_recipe_push(r, IR_T_NEGPART, 0, 0);
        case F_ABS: return rx_to_tape(g->args[0], r, src) && ir_recipe_push(r, IR_T_ABS, 0, 0);
        case F_SIGN: return rx_to_tape(g->args[0], r, src) && ir_recipe_push(r, IR_T_SIGN, 0, 0);
        case F_STEP: return rx_to_tape(g->args[0], r, src) && ir_recipe_push(r, IR_T_STEP, 0, 0);
        case F_SQRT: return rx_to_tape(g->args[0], r, src) && ir_recipe_push(r, IR_T_SQRT, 0, 0);
        case F_EXP: return rx_to_tape(g->args[0], r, src) && ir_recipe_push(r, IR_T_EXP, 0, 0);
        case F_LOG: return rx_to_tape(g->args[0], r, src) && ir_recipe_push(r, IR_T_LOG, 0, 0);
        case F_POW: return rx_to_tape(g->args[0], r, src) && ir_recipe_push(r, IR_T_POW, 0, g->args[1]->num);
        case F_SIGMOID: /* 1 / (1 + exp(-x)) */
            return ir_recipe_push(r, IR_T_NUM, 0, 1) && ir_recipe_push(r, IR_T_NUM, 0, 1) &&
                rx_to_tape(g->args[0], r, src) && ir_recipe_push(r, IR_T_NEG, 0, 0) &&
                ir_recipe_push(r, IR_T_EXP, 0, 0) && ir_recipe_push(r, IR_T_ADD, 0, 0) &&
                ir_recipe_push(r, IR_T_DIV0, 0, 0);
        case F_TANH: /* 1 - 2 / (exp(2x) + 1) */
            return ir_recipe_push(r, IR_T_NUM, 0, 1) && ir_recipe_push(r, IR_T_NUM, 0, 2) &&
                ir_recipe_push(r, IR_T_NUM, 0, 2) && rx_to_tape(g->args[0], r, src) &&
                ir_recipe_push(r, IR_T_MUL, 0, 0) && ir_recipe_push(r, IR_T_EXP, 0, 0) &&
                ir_recipe_push(r, IR_T_NUM, 0, 1) && ir_recipe_push(r, IR_T_ADD, 0, 0) &&
                ir_recipe_push(r, IR_T_DIV0, 0, 0) && ir_recipe_push(r, IR_T_SUB, 0, 0);
        case F_SOFTPLUS: /* pos(x) + log(1 + exp(-|x|)) */
            return rx_to_tape(g->args[0], r, src) && ir_recipe_push(r, IR_T_POS, 0, 0) &&
                ir_recipe_push(r, IR_T_NUM, 0, 1) && rx_to_tape(g->args[0], r, src) &&
                ir_recipe_push(r, IR_T_ABS, 0, 0) && ir_recipe_push(r, IR_T_NEG, 0, 0) &&
                ir_recipe_push(r, IR_T_EXP, 0, 0) && ir_recipe_push(r, IR_T_ADD, 0, 0) &&
                ir_recipe_push(r, IR_T_LOG, 0, 0) && ir_recipe_push(r, IR_T_ADD, 0, 0);
        default: return 0;
        }
    default: return 0; /* rx_eval gives 0 here; no recipe, the data is stored */
    }
}

static ir_const *cached(rules_ctx *c, const ir_const *src, const char *key)
{
    for (int i = 0; i < c->n_cache; i++)
        if (c->cache[i].src == src && !strcmp(c->cache[i].key, key)) return c->cache[i].derived;
    return NULL;
}

static void remember(rules_ctx *c, const ir_const *src, const char *key, ir_const *derived)
{
    c->cache = realloc(c->cache, sizeof *c->cache * (c->n_cache + 1));
    c->cache[c->n_cache++] = (wcache){ src, strdup(key), derived };
}

/* g(W) for a dense or conv2d layer: W itself, W read as pos(W) / neg(W), or computed once per (tensor,
 * transform) at compile time */
static wset weights_for(rules_ctx *c, const ir_node *n, const rx *g, const char *key)
{
    if (is_identity(g, V_W)) return rules_plain_set(n->weight);
    double alpha = 0, beta = 0;
    if (rules_weight_basis(g, &alpha, &beta)) {
        if (alpha == 0 && beta == 1) return (wset){ n->weight, WMAP_POS };
        if (alpha == 1 && beta == -1) return (wset){ n->weight, WMAP_NEG };
    }
    ir_const *k = cached(c, n->weight, key);
    if (k) return rules_plain_set(k);
    char name[512];
    snprintf(name, sizeof name, "%s|%s", n->weight->name, key);
    k = ir_graph_new_const(c->g, name, n->weight->rank, n->weight->shape);
    ir_recipe *r = calloc(1, sizeof *r); /* a recipe: --weights=external computes it at bind time */
    int made = 0;
    if (r) {
        r->per_row = 1;
        if (rx_to_tape(g, r, ir_recipe_source(r, n->weight)))
            made = ir_recipe_apply(k, r); /* (takes r, or frees it) */
        else
            free(r);
    }
    if (!made)
        for (int64_t i = 0; i < k->count; i++) k->data[i] = (float)rx_eval(g, n->weight->data[i], 0);
    remember(c, n->weight, key, k);
    return rules_plain_set(k);
}

/* h(b) per output channel of a dense or conv2d layer (b = 0 where the layer has no bias) */
static ir_const *bias_for(rules_ctx *c, const ir_node *n, const rx *h, const char *key)
{
    if (!h) return NULL;
    if (is_identity(h, V_B) && n->bias) return n->bias;
    int64_t sh[1] = { n->units };
    char name[512];
    snprintf(name, sizeof name, "%s.bias|%s", n->name ? n->name : "layer", key);
    ir_const *k = ir_graph_new_const(c->g, name, 1, sh);
    int nonzero = 0;
    for (int i = 0; i < n->units; i++) {
        k->data[i] = (float)rx_eval(h, 0, n->bias ? n->bias->data[i] : 0);
        nonzero |= k->data[i] != 0;
    }
    return nonzero ? k : NULL;
}

/* The pool's weight per output position: 1/N for average pooling (N = window size, or the valid cells
 * with `same`), 1 for max pooling read as sum pooling, 1/(H*W) for global pooling; then g applied. */
ir_const *rules_pool_scale(rules_ctx *c, const ir_node *n, const ir_shape *in, const rx *g)
{
    int global = n->op == OP_GLOBAL_AVGPOOL;
    int64_t count = global ? 1 : (int64_t)n->shape.dims[1] * n->shape.dims[2];
    int64_t sh[1] = { count };
    ir_const *k = ir_graph_new_const(c->g, "pool_scale", 1, sh);
    for (int64_t p = 0; p < count; p++) {
        double w = 1;
        if (global)
            w = 1.0 / ((double)in->dims[1] * in->dims[2]);
        else if (n->op == OP_AVGPOOL) {
            /* PyTorch's divisor: the window's cells inside the input (count_include_pad=false, TF's same), else
             * those inside the padded input (the whole window, but where ceil_mode lets it run past the end) */
            int oy = (int)(p / n->shape.dims[2]), ox = (int)(p % n->shape.dims[2]), valid = 0, padded = 0;
            for (int ky = 0; ky < n->kh; ky++)
                for (int kx = 0; kx < n->kw; kx++) {
                    int iy = oy * n->sh + ky - n->pad_t, ix = ox * n->sw + kx - n->pad_l;
                    valid += iy >= 0 && iy < in->dims[1] && ix >= 0 && ix < in->dims[2];
                    padded += iy < in->dims[1] + n->pad_b && ix < in->dims[2] + n->pad_r;
                }
            w = 1.0 / (n->pad_same || n->exclude_pad ? valid : padded);
        }
        k->data[p] = (float)(g ? rx_eval(g, w, 0) : w);
    }
    return k;
}

/* ---------------- linear maps of a layer with a given weight set ---------------- */

/* forward-like: LIN(input; weights [, bias]) */
static int lin(rules_ctx *c, int i, int input, wset weights, ir_const *bias)
{
    const ir_node *n = &c->net->nodes[i];
    ir_node node = { 0 };
    if (n->op == OP_DENSE || n->op == OP_CONV2D) {
        node = *n;
        node.name = node.alias = NULL;
        node.weight = weights.k;
        node.weight_map = weights.map;
        node.bias = bias;
        node.has_bias = bias != NULL;
    } else { /* pools read as sum pooling with a per-position scale */
        node.op = OP_SUMPOOL;
        node.shape = n->shape;
        node.kh = n->kh, node.kw = n->kw, node.sh = n->sh, node.sw = n->sw;
        node.pad_t = n->pad_t, node.pad_l = n->pad_l, node.pad_b = n->pad_b, node.pad_r = n->pad_r;
        node.global = n->op == OP_GLOBAL_AVGPOOL;
        node.weight = weights.k;
        node.in_shape = c->net->nodes[n->inputs[0]].shape;
    }
    node.n_inputs = 1;
    node.inputs[0] = input;
    return rules_node(c, &node);
}

/* transposed: LIN^T(s; weights), shaped like the layer's input */
int rules_lin_t(rules_ctx *c, int i, int s, wset weights)
{
    const ir_node *n = &c->net->nodes[i];
    ir_node node = { 0 };
    node.in_shape = c->net->nodes[n->inputs[0]].shape;
    node.shape = node.in_shape;
    node.units = n->units;
    node.kh = n->kh, node.kw = n->kw, node.sh = n->sh, node.sw = n->sw;
    node.pad_t = n->pad_t, node.pad_l = n->pad_l, node.pad_b = n->pad_b, node.pad_r = n->pad_r;
    node.groups = n->groups, node.dh = n->dh, node.dw = n->dw;
    node.op = n->op == OP_DENSE ? OP_DENSE_T : n->op == OP_CONV2D ? OP_CONV2D_T : OP_SUMPOOL_T;
    node.global = n->op == OP_GLOBAL_AVGPOOL;
    node.weight = weights.k;
    node.weight_map = weights.map;
    node.n_inputs = 1;
    node.inputs[0] = s;
    return rules_node(c, &node);
}

/* ---------------- rules ---------------- */

static ir_ew_kind compare_kind(int op, int negated, int z_on_left)
{
    /* normalise to "z OP number" */
    if (!z_on_left) op = op == '>' ? '<' : op == '<' ? '>' : op == 'G' ? 'L' : op == 'L' ? 'G' : op;
    if (negated) op = op == '>' ? 'L' : op == '<' ? 'G' : op == 'G' ? '<' : op == 'L' ? '>' : op == 'E' ? 'N' : 'E';
    switch (op) {
    case '>': return EW_GT;
    case '<': return EW_LT;
    case 'G': return EW_GE;
    case 'L': return EW_LE;
    case 'E': return EW_EQ;
    default: return EW_NE;
    }
}

/* coef * masks(z_plain) * R / stab(z) for the expressions R, z, z_plain; stab(z) = z + eps * sign(z), or
 * z + e * sign(z) with e the share's stabilize expression (lowered: stab_expr) */
static ir_ew *scale_expr(rules_ctx *c, const branch *b, ir_ew *R, ir_ew *z, int z_plain_input, ir_ew *stab_expr)
{
    ir_ew *den = z;
    if (stab_expr)
        den = rules_ew(c, EW_ADD, z, rules_ew(c, EW_MUL, stab_expr, rules_ew(c, EW_SIGN, z, NULL)));
    else if (b->share.stabilize > 0) {
        den = rules_ew(c, EW_STAB, den, NULL);
        den->num = b->share.stabilize;
    }
    ir_ew *s = rules_ew(c, EW_SAFEDIV, R, den);
    if (b->coef != 1) s = rules_ew(c, EW_MUL, rules_ew_num(c, b->coef), s);
    for (int m = 0; m < b->n_masks; m++) {
        const rx *t = b->masks[m];
        int z_left = rx_is_var(t->args[0], V_Z);
        double v = z_left ? t->args[1]->num : t->args[0]->num;
        ir_ew *mask = rules_ew(c, compare_kind(t->op, b->mask_negated[m], z_left), rules_ew_in(c, z_plain_input),
                               rules_ew_num(c, v));
        s = rules_ew(c, EW_MUL, mask, s);
    }
    return s;
}

/* s = coef * masks(z_plain) * R / stab(z);  inputs: $0 = R, $1 = z, $2 = z_plain (only with masks: else the
 * forward's z need not stay alive until the backward pass reaches this layer), then the statistics a
 * stabilize expression reads (std(z), ...) */
static int scaled_relevance(rules_ctx *c, int i, const branch *b, int z)
{
    const ir_node *n = &c->net->nodes[i];
    ew_frame f;
    rules_frame_init(&f, &n->shape, n->name);
    f.inputs[f.n++] = c->R[i];
    rules_frame_var(&f, V_Z, z);
    if (b->n_masks) f.inputs[f.n++] = rules_fwd(c, i);
    if (n->n_inputs == 1) f.var_node[V_A] = rules_fwd(c, n->inputs[0]);
    ir_ew *stab = b->share.stabilize_expr ? rules_to_ew(c, b->share.stabilize_expr, &f) : NULL;
    return rules_eltwise(c, &n->shape, f.inputs, f.n, scale_expr(c, b, rules_ew_in(c, 0), rules_ew_in(c, 1), 2, stab));
}

/* The node holding f(a) for an input node (or -1 for the constant 1). */
static int input_factor(rules_ctx *c, int i, int in, const share_group *gr)
{
    if (!gr->f) return -1;
    int a = rules_fwd(c, in);
    if (rx_is_var(gr->f, V_A)) return a;
    const ir_shape *shape = &c->net->nodes[in].shape;
    ew_frame f;
    rules_frame_init(&f, shape, c->net->nodes[i].name);
    rules_frame_var(&f, V_A, a);
    ir_ew *e = rules_to_ew(c, gr->f, &f);
    return rules_eltwise(c, shape, f.inputs, f.n, e);
}

static int ones(rules_ctx *c, const ir_shape *shape) { return rules_eltwise(c, shape, NULL, 0, rules_ew_num(c, 1)); }

/* Is branch b's z the layer's forward output itself? */
static int restates_layer(const ir_node *n, const share_info *sh, int is_pool)
{
    return sh->n_groups == 1 && sh->groups[0].f && rx_is_var(sh->groups[0].f, V_A) &&
        is_identity(sh->groups[0].g, V_W) && n->op != OP_MAXPOOL &&
        (is_pool ? !sh->h || rx_eval(sh->h, 0, 0) == 0 : (sh->h ? is_identity(sh->h, V_B) : !n->has_bias));
}

/* forward-like + transposed kernels of the shares as written */
static int written_kernels(const ir_node *n, const rule_form *f)
{
    int k = 0;
    for (int b = 0; b < f->n_branches; b++) {
        const share_info *sh = &f->branches[b].share;
        k += sh->n_groups * (restates_layer(n, sh, 0) ? 1 : 2);
    }
    return k;
}

/* z_b over the basis products: $1 = the forward output (W a + bias), $(slot) = W f_k or W+ f_k */
static ir_ew *basis_z(rules_ctx *c, const basis_form *bf, int b, const int *w_slot, const int *pos_slot,
                      ir_const *offset)
{
    ir_ew *z = offset ? rules_ew(c, EW_CHANNEL, NULL, NULL) : NULL;
    if (z) z->channel = offset;
    for (int k = 0; k < bf->n_factors; k++) {
        double coef[2] = { bf->alpha[b][k], bf->beta[b][k] };
        int slot[2] = { w_slot[k], pos_slot[k] };
        for (int w = 0; w < 2; w++) {
            if (coef[w] == 0) continue;
            ir_ew *t = coef[w] == 1 ? rules_ew_in(c, slot[w])
                                    : rules_ew(c, EW_MUL, rules_ew_num(c, coef[w]), rules_ew_in(c, slot[w]));
            z = z ? rules_ew(c, EW_ADD, z, t) : t;
        }
    }
    return z;
}

/* dense and conv2d rewritten over W and W+ (rules_basis.c); 0 when that is not cheaper than as written */
static int share_linear_basis(rules_ctx *c, int i, const rule_form *f)
{
    const ir_node *n = &c->net->nodes[i];
    basis_form bf;
    for (int b = 0; b < f->n_branches; b++) /* own denominators and stabilize expressions: as written */
        if (f->branches[b].share.den || f->branches[b].share.stabilize_expr) return 0;
    if (!rules_basis_form(f, &bf) || rules_basis_kernels(&bf) >= written_kernels(n, f)) return 0;
    int in = n->inputs[0];
    const ir_shape *in_shape = &c->net->nodes[in].shape;
    /* inputs of the kernels computing the transposed products' inputs: R, the forward output, products */
    int inputs[IR_MAX_INPUTS] = { c->R[i], rules_fwd(c, i) }, ni = 2;
    int w_slot[MAX_GROUPS], pos_slot[MAX_GROUPS], fnodes[MAX_GROUPS];
    for (int k = 0; k < bf.n_factors; k++) ni += (bf.need_w[k] && !bf.is_input[k]) + bf.need_pos[k];
    if (ni > IR_MAX_INPUTS || bf.n_t + bf.n_factors > IR_MAX_INPUTS) return 0;
    wset w = rules_plain_set(n->weight), wpos = { n->weight, WMAP_POS };
    ni = 2;
    for (int k = 0; k < bf.n_factors; k++) {
        fnodes[k] = input_factor(c, i, in, bf.factor[k]);
        int fin = fnodes[k] >= 0 ? fnodes[k] : ones(c, in_shape);
        w_slot[k] = pos_slot[k] = -1;
        if (bf.need_w[k] && bf.is_input[k])
            w_slot[k] = 1;
        else if (bf.need_w[k])
            inputs[w_slot[k] = ni++] = lin(c, i, fin, w, NULL);
        if (bf.need_pos[k]) inputs[pos_slot[k] = ni++] = lin(c, i, fin, wpos, NULL);
    }
    /* per branch: h_b minus what the forward output's bias adds through alpha_b(a) */
    ir_const *offset[MAX_BRANCHES];
    for (int b = 0; b < f->n_branches; b++) {
        const share_info *sh = &f->branches[b].share;
        double from_forward = 0;
        for (int k = 0; k < bf.n_factors; k++)
            if (bf.is_input[k]) from_forward = bf.alpha[b][k];
        int64_t sh1[1] = { n->units };
        ir_const *k = ir_graph_new_const(c->g, "basis_offset", 1, sh1);
        int nonzero = 0;
        for (int o = 0; o < n->units; o++) {
            double bias = n->bias ? n->bias->data[o] : 0;
            k->data[o] = (float)((sh->h ? rx_eval(sh->h, 0, bias) : 0) - from_forward * bias);
            nonzero |= k->data[o] != 0;
        }
        offset[b] = nonzero ? k : NULL;
    }
    int T[BASIS_MAX_T];
    for (int t = 0; t < bf.n_t; t++) {
        ir_ew *u = NULL;
        for (int b = 0; b < f->n_branches; b++) {
            if (bf.t_coef[t][b] == 0) continue;
            ir_ew *s = scale_expr(c, &f->branches[b], rules_ew_in(c, 0),
                                  basis_z(c, &bf, b, w_slot, pos_slot, offset[b]), 1, NULL);
            if (bf.t_coef[t][b] != 1) s = rules_ew(c, EW_MUL, rules_ew_num(c, bf.t_coef[t][b]), s);
            u = u ? rules_ew(c, EW_ADD, u, s) : s;
        }
        T[t] = rules_lin_t(c, i, rules_eltwise(c, &n->shape, inputs, ni, u), bf.t_pos[t] ? wpos : w);
    }
    /* R_in = sum_k f_k * sum_t use[k][t] T_t */
    int rin[IR_MAX_INPUTS], nr = bf.n_t;
    for (int t = 0; t < bf.n_t; t++) rin[t] = T[t];
    ir_ew *sum = NULL;
    for (int k = 0; k < bf.n_factors; k++) {
        ir_ew *part = NULL;
        for (int t = 0; t < bf.n_t; t++) {
            if (bf.use[k][t] == 0) continue;
            ir_ew *x = bf.use[k][t] == 1 ? rules_ew_in(c, t)
                                         : rules_ew(c, EW_MUL, rules_ew_num(c, bf.use[k][t]), rules_ew_in(c, t));
            part = part ? rules_ew(c, EW_ADD, part, x) : x;
        }
        if (!part) continue;
        if (fnodes[k] >= 0) {
            rin[nr] = fnodes[k];
            part = rules_ew(c, EW_MUL, rules_ew_in(c, nr++), part);
        }
        sum = sum ? rules_ew(c, EW_ADD, sum, part) : part;
    }
    rules_give(c, in, rules_eltwise(c, in_shape, rin, nr, sum));
    return 1;
}

/* dense, conv2d, avgpool, maxpool (as sum pooling), global_avgpool under a share rule */
void rules_share_linear(rules_ctx *c, int i, const rule_form *f)
{
    const ir_node *n = &c->net->nodes[i];
    int in = n->inputs[0];
    const ir_shape *in_shape = &c->net->nodes[in].shape;
    int is_pool = n->op != OP_DENSE && n->op != OP_CONV2D;
    if (!is_pool && share_linear_basis(c, i, f)) return;
    int factors[MAX_BRANCHES * MAX_GROUPS], cs[MAX_BRANCHES * MAX_GROUPS], nt = 0;
    for (int bi = 0; bi < f->n_branches; bi++) {
        const branch *b = &f->branches[bi];
        const share_info *sh = &b->share;
        wset wsets[MAX_GROUPS], zsets[MAX_GROUPS];
        int fnodes[MAX_GROUPS], znodes[MAX_GROUPS];
        for (int gi = 0; gi < sh->n_groups; gi++) {
            const share_group *gr = &sh->groups[gi];
            wsets[gi] = is_pool ? rules_plain_set(rules_pool_scale(c, n, in_shape, gr->g))
                                : weights_for(c, n, gr->g, gr->g_key);
            fnodes[gi] = input_factor(c, i, in, gr);
        }
        /* z: over the denominator's contributions (the share's own unless it gives denominator = D); the
         * forward output itself when they restate the layer */
        const share_info *zs = sh->den ? sh->den : sh;
        int plain = restates_layer(n, zs, is_pool);
        for (int gi = 0; gi < zs->n_groups && !plain; gi++) {
            const share_group *gr = &zs->groups[gi];
            zsets[gi] = !sh->den ? wsets[gi]
                : is_pool        ? rules_plain_set(rules_pool_scale(c, n, in_shape, gr->g))
                                 : weights_for(c, n, gr->g, gr->g_key);
            znodes[gi] = !sh->den ? fnodes[gi] : input_factor(c, i, in, gr);
        }
        int z;
        if (plain) {
            z = rules_fwd(c, i);
        } else {
            ir_const *bias = is_pool ? NULL : bias_for(c, n, zs->h, zs->h_key);
            int parts[MAX_GROUPS] = { 0 }; /* a share has at least one group (rules_share.c) */
            for (int gi = 0; gi < zs->n_groups; gi++) {
                int fin = znodes[gi] >= 0 ? znodes[gi] : ones(c, in_shape);
                parts[gi] = lin(c, i, fin, zsets[gi], gi == 0 ? bias : NULL);
            }
            z = parts[0];
            if (zs->n_groups > 1) {
                ir_ew *sum = rules_ew_in(c, 0);
                for (int gi = 1; gi < zs->n_groups; gi++) sum = rules_ew(c, EW_ADD, sum, rules_ew_in(c, gi));
                z = rules_eltwise(c, &n->shape, parts, zs->n_groups, sum);
            }
            double hv = is_pool && zs->h ? rx_eval(zs->h, 0, 0) : 0;
            if (hv != 0)
                z = rules_eltwise(c, &n->shape, &z, 1, rules_ew(c, EW_ADD, rules_ew_in(c, 0), rules_ew_num(c, hv)));
        }
        int s = scaled_relevance(c, i, b, z);
        for (int gi = 0; gi < sh->n_groups; gi++) {
            factors[nt] = fnodes[gi];
            cs[nt++] = rules_lin_t(c, i, s, wsets[gi]);
        }
    }
    if (nt) rules_give(c, in, rules_sum_of_products(c, in_shape, factors, cs, nt));
}

/* add under a share rule: z = sum_f g_f(1) * (f(a1) + f(a2)) + h(0) */
void rules_share_add(rules_ctx *c, int i, const rule_form *f)
{
    const ir_node *n = &c->net->nodes[i];
    const ir_shape *s0 = &c->net->nodes[n->inputs[0]].shape, *s1 = &c->net->nodes[n->inputs[1]].shape;
    if (s0->rank != s1->rank || memcmp(s0->dims, s1->dims, sizeof(int) * s0->rank)) {
        diag_error(c->d, n->loc,
                   "%s '%s' broadcasts one input over the other; share rules (norm) need inputs of one "
                   "shape: give it gradient",
                   ir_op_name(n->op), n->name);
        c->failed = 1;
        return;
    }
    double sign[2] = { 1, n->op == OP_SUB ? -1 : 1 }; /* z = a + b, or a - b */
    for (int k = 0; k < 2; k++) {
        int factors[MAX_BRANCHES * MAX_GROUPS], cs[MAX_BRANCHES * MAX_GROUPS], nt = 0;
        for (int bi = 0; bi < f->n_branches; bi++) {
            const branch *b = &f->branches[bi];
            const share_info *sh = &b->share;
            /* z over both inputs, from the denominator's contributions */
            const share_info *zs = sh->den ? sh->den : sh;
            int inputs[IR_MAX_INPUTS], ni = 0;
            ir_ew *sum = NULL;
            for (int gi = 0; gi < zs->n_groups && ni + 2 <= IR_MAX_INPUTS; gi++) {
                double gv = rx_eval(zs->groups[gi].g, 1, 0);
                for (int side = 0; side < 2; side++) {
                    int fn = input_factor(c, i, n->inputs[side], &zs->groups[gi]);
                    ir_ew *t = fn >= 0 ? rules_ew_in(c, ni) : rules_ew_num(c, 1);
                    if (fn >= 0) inputs[ni++] = fn;
                    t = rules_ew(c, EW_MUL, rules_ew_num(c, gv * sign[side]), t);
                    sum = sum ? rules_ew(c, EW_ADD, sum, t) : t;
                }
            }
            double hv = zs->h ? rx_eval(zs->h, 0, 0) : 0;
            if (hv != 0) sum = rules_ew(c, EW_ADD, sum, rules_ew_num(c, hv));
            int z = rules_eltwise(c, &n->shape, inputs, ni, sum);
            int s = scaled_relevance(c, i, b, z);
            for (int gi = 0; gi < sh->n_groups; gi++) {
                double gv = rx_eval(sh->groups[gi].g, 1, 0);
                int scaled = rules_eltwise(c, &n->shape, &s, 1,
                                           rules_ew(c, EW_MUL, rules_ew_num(c, gv * sign[k]), rules_ew_in(c, 0)));
                factors[nt] = input_factor(c, i, n->inputs[k], &sh->groups[gi]);
                cs[nt++] = scaled;
            }
        }
        if (nt)
            rules_give(c, n->inputs[k], rules_sum_of_products(c, &c->net->nodes[n->inputs[k]].shape, factors, cs, nt));
    }
}

/* the op's own chain rule */
