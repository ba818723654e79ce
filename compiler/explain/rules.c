/* The rules stage: for each explain spec, the network's forward nodes followed by the backward nodes that
 * propagate relevance from the seed at the output down to the input (or to the `at` layer), layer by layer
 * in reverse topological order, each layer by its rule:
 *   share rules:  z = sum_f LIN(f(a); g_f(w)) + h(b);  s = coef * masks(z_plain) * R / stab(z);
 *                 R_in = sum_f f(a) * LIN^T(s; g_f(w))
 *   gradient:     R_in = the op's transposed Jacobian applied to R
 *   r/x/y rules:  R_in = expr(R, x, y) elementwise
 * The linear layers' rules (shares, gradient) are in rules_linear.c; this file builds the graphs (methods,
 * seeds, the CAM family) and applies the rules of elementwise and pooling layers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "rules_actmax.h"
#include "rules_internal.h"

/* ---------------- node construction ---------------- */

int rules_node(rules_ctx *c, const ir_node *n)
{
    ir_node copy = *n;
    if (!copy.mult) copy.mult = c->mult;   /* backward nodes work on the current samples */
    copy.layer = c->layer;
    return ir_graph_add_node(c->g, &copy);
}

int rules_eltwise(rules_ctx *c, const ir_shape *shape, const int *inputs, int n, ir_ew *expr)
{
    ir_node node = {0};
    node.op = OP_ELTWISE;
    node.shape = *shape;
    node.n_inputs = n;
    for (int k = 0; k < n; k++) node.inputs[k] = inputs[k];
    node.expr = expr;
    return rules_node(c, &node);
}


/* Adds relevance r to what has reached node i so far. */
void rules_give(rules_ctx *c, int i, int r)
{
    if (c->R[i] < 0) { c->R[i] = r; return; }
    int in[2] = {c->R[i], r};
    c->R[i] = rules_eltwise(c, &c->net->nodes[i].shape, in, 2, rules_ew(c, EW_ADD, rules_ew_in(c, 0), rules_ew_in(c, 1)));
}

/* sum_k inputs' products: terms[k] = (factor node or -1 for 1, c node); split so no node reads > 16 */
int rules_sum_of_products(rules_ctx *c, const ir_shape *shape, const int *factors, const int *cs, int n)
{
    int result = -1;
    int k = 0;
    while (k < n) {
        int inputs[IR_MAX_INPUTS], ni = 0;
        ir_ew *sum = NULL;
        if (result >= 0) { inputs[ni++] = result; sum = rules_ew_in(c, 0); }
        while (k < n && ni + 2 <= IR_MAX_INPUTS) {
            ir_ew *t = rules_ew_in(c, ni);
            inputs[ni++] = cs[k];
            if (factors[k] >= 0) {
                t = rules_ew(c, EW_MUL, rules_ew_in(c, ni), t);
                inputs[ni++] = factors[k];
            }
            sum = sum ? rules_ew(c, EW_ADD, sum, t) : t;
            k++;
        }
        result = rules_eltwise(c, shape, inputs, ni, sum);
    }
    return result;
}

/* ---------------- analysis of the network ---------------- */

static int nonneg(const ir_graph *g, int i)
{
    const ir_node *n = &g->nodes[i];
    switch (n->op) {
    case OP_RELU: case OP_SIGMOID: case OP_SOFTMAX: return 1;
    case OP_MAXPOOL: case OP_AVGPOOL: case OP_GLOBAL_AVGPOOL: case OP_FLATTEN: return nonneg(g, n->inputs[0]);
    case OP_INPUT: return g->has_range && g->range_low >= 0;
    default: return 0;
    }
}

/* ---------------- expressions ---------------- */

static int channels_of(const ir_shape *s) { return s->rank ? s->dims[0] : 1; }

/* rx -> elementwise expression; var_input maps a variable to an input slot (-1: not allowed here). */
ir_ew *rules_to_ew(rules_ctx *c, const rx *e, const int *var_input, const ir_shape *shape, const char *layer)
{
    switch (e->kind) {
    case RX_NUM: return rules_ew_num(c, e->num);
    case RX_VEC: {
        int ch = channels_of(shape);
        if (e->n_vec == 1) return rules_ew_num(c, e->vec[0]);
        if (e->n_vec != ch) {
            if (c->failed) return rules_ew_num(c, 0);   /* one message per rule is enough */
            diag_error(c->d, e->loc, "this list has %d values, but layer '%s' has %d channels at its input", e->n_vec,
                       layer, ch);
            c->failed = 1;
            return rules_ew_num(c, 0);
        }
        int64_t sh[1] = {ch};
        ir_const *k = ir_graph_new_const(c->g, "channel_constant", 1, sh);
        for (int i = 0; i < ch; i++) k->data[i] = (float)e->vec[i];
        ir_ew *x = rules_ew(c, EW_CHANNEL, NULL, NULL);
        x->channel = k;
        return x;
    }
    case RX_VAR:
        if (e->var == V_LOW || e->var == V_HIGH) {
            if (!c->net->has_range) {
                diag_error(c->d, e->loc, "%s is the input range of network '%s', which has none: give `range [low, "
                           "high]` on its input, or pass the bounds to the rule", rx_var_name(e->var), c->net->name);
                c->failed = 1;
                return rules_ew_num(c, 0);
            }
            return rules_ew_num(c, e->var == V_LOW ? c->net->range_low : c->net->range_high);
        }
        if (var_input[e->var] < 0) {
            diag_error(c->d, e->loc, "'%s' cannot be used in the rule of layer '%s' here", rx_var_name(e->var), layer);
            c->failed = 1;
            return rules_ew_num(c, 0);
        }
        return rules_ew_in(c, var_input[e->var]);
    case RX_NEG: return rules_ew(c, EW_NEG, rules_to_ew(c, e->args[0], var_input, shape, layer), NULL);
    case RX_CALL: {
        static const ir_ew_kind fk[] = {[F_POS] = EW_POS, [F_NEG] = EW_NEGPART, [F_ABS] = EW_ABS, [F_SIGN] = EW_SIGN,
                                        [F_STEP] = EW_STEP};
        if (e->fn == F_SHARE || e->fn == F_UNPOOL || e->fn == F_UNPOOL0) {
            diag_error(c->d, e->loc, "%s() belongs to rules for %s; layer '%s' takes an expression over r, x and y",
                       rx_fn_name(e->fn), e->fn == F_SHARE ? "linear layers" : "max pooling", layer);
            c->failed = 1;
            return rules_ew_num(c, 0);
        }
        if (e->fn == F_WHERE) {   /* elementwise: pick per element */
            ir_ew *sel = rules_ew(c, EW_SELECT, rules_to_ew(c, e->args[0], var_input, shape, layer),
                            rules_to_ew(c, e->args[1], var_input, shape, layer));
            sel->c = rules_to_ew(c, e->args[2], var_input, shape, layer);
            return sel;
        }
        if (e->fn == F_MAX || e->fn == F_MIN) {   /* a > b ? a : b */
            ir_ew *x = rules_to_ew(c, e->args[0], var_input, shape, layer), *y = rules_to_ew(c, e->args[1], var_input, shape, layer);
            ir_ew *sel = rules_ew(c, EW_SELECT, rules_ew(c, e->fn == F_MAX ? EW_GT : EW_LT, x, y), x);
            sel->c = y;
            return sel;
        }
        return rules_ew(c, fk[e->fn], rules_to_ew(c, e->args[0], var_input, shape, layer), NULL);
    }
    case RX_BIN: {
        ir_ew *a = rules_to_ew(c, e->args[0], var_input, shape, layer), *b = rules_to_ew(c, e->args[1], var_input, shape, layer);
        switch (e->op) {
        case '+': return rules_ew(c, EW_ADD, a, b);
        case '-': return rules_ew(c, EW_SUB, a, b);
        case '*': return rules_ew(c, EW_MUL, a, b);
        case '/': return rules_ew(c, EW_SAFEDIV, a, b);
        case '>': return rules_ew(c, EW_GT, a, b);
        case '<': return rules_ew(c, EW_LT, a, b);
        case 'G': return rules_ew(c, EW_GE, a, b);
        case 'L': return rules_ew(c, EW_LE, a, b);
        case 'E': return rules_ew(c, EW_EQ, a, b);
        default: return rules_ew(c, EW_NE, a, b);
        }
    }
    default:
        diag_error(c->d, e->loc, "gradient stands alone as a rule body");
        c->failed = 1;
        return rules_ew_num(c, 0);
    }
}

/* ---------------- pooling rules over r, x, y (and x0, y0): two shapes, joined by unpool ---------------- */

static int is_share_form(const rx *e)
{
    if (!e) return 0;
    if (e->kind == RX_GRADIENT || (e->kind == RX_CALL && e->fn == F_SHARE)) return 1;
    if (e->kind == RX_CALL && e->fn == F_WHERE && e->args[0]->kind == RX_BIN &&
        (rx_is_var(e->args[0]->args[0], V_Z) || rx_is_var(e->args[0]->args[1], V_Z)))
        return 1;
    for (int k = 0; k < e->n_args; k++)
        if (is_share_form(e->args[k])) return 1;
    return 0;
}

enum { LEVEL_CONST, LEVEL_OUT, LEVEL_IN };

typedef struct lowered {
    int level;
    ir_ew *e;
    int inputs[IR_MAX_INPUTS];
    int n;
} lowered;

/* Renumbers the inputs of a tree; subtrees may be shared (max(a, b) uses a twice), so each node once. */
typedef struct ew_seen {
    const ir_ew **nodes;
    int n, cap;
} ew_seen;

static void shift_walk(ir_ew *e, int by, ew_seen *seen)
{
    if (!e) return;
    for (int k = 0; k < seen->n; k++)
        if (seen->nodes[k] == e) return;
    if (seen->n == seen->cap) {
        seen->cap = seen->cap ? 2 * seen->cap : 32;
        seen->nodes = realloc(seen->nodes, sizeof *seen->nodes * seen->cap);
    }
    seen->nodes[seen->n++] = e;
    if (e->kind == EW_INPUT) e->input += by;
    shift_walk(e->a, by, seen);
    shift_walk(e->b, by, seen);
    shift_walk(e->c, by, seen);
}

static void shift_inputs(ir_ew *e, int by)
{
    ew_seen seen = {0};
    shift_walk(e, by, &seen);
    free(seen.nodes);
}

/* joins b's inputs into a's (renumbering b's tree); reports a level mismatch */
static int join(rules_ctx *c, const rx *at, lowered *a, lowered *b)
{
    if (a->level && b->level && a->level != b->level) {
        diag_error(c->d, at->loc, "this combines a value shaped like the pooling's output (r, y, y0) with one shaped "
                   "like its input (x, x0, unpool(...)); route output values with unpool(...) first");
        c->failed = 1;
        return 0;
    }
    if (a->n + b->n > IR_MAX_INPUTS) {
        diag_error(c->d, at->loc, "expression reads too many values");
        c->failed = 1;
        return 0;
    }
    shift_inputs(b->e, a->n);
    for (int k = 0; k < b->n; k++) a->inputs[a->n++] = b->inputs[k];
    if (!a->level) a->level = b->level;
    return 1;
}

static lowered leaf(rules_ctx *c, int level, int node)
{
    lowered l = {level, rules_ew_in(c, 0), {node}, 1};
    return l;
}

static int materialize(rules_ctx *c, const lowered *l, const ir_shape *shape)
{
    if (l->e->kind == EW_INPUT && l->n == 1) return l->inputs[0];
    return rules_eltwise(c, shape, l->inputs, l->n, l->e);
}

static lowered lower(rules_ctx *c, int i, const rx *e)
{
    const ir_node *n = &c->net->nodes[i];
    int in = n->inputs[0];
    lowered r = {LEVEL_CONST, NULL, {0}, 0};
    switch (e->kind) {
    case RX_NUM: r.e = rules_ew_num(c, e->num); return r;
    case RX_VAR:
        switch (e->var) {
        case V_R: return leaf(c, LEVEL_OUT, c->R[i]);
        case V_Y: return leaf(c, LEVEL_OUT, rules_fwd(c, i));
        case V_X: return leaf(c, LEVEL_IN, rules_fwd(c, in));
        case V_Y0: if (c->fwd0) return leaf(c, LEVEL_OUT, c->fwd0[i]); break;
        case V_X0: if (c->fwd0) return leaf(c, LEVEL_IN, c->fwd0[in]); break;
        default: break;
        }
        diag_error(c->d, e->loc, "'%s' cannot be used in the rule of %s layer '%s'%s", rx_var_name(e->var),
                   ir_op_name(n->op), n->name,
                   e->var == V_X0 || e->var == V_Y0 ? " (x0 and y0 exist in deeplift only)" : "");
        c->failed = 1;
        r.e = rules_ew_num(c, 0);
        return r;
    case RX_NEG: r = lower(c, i, e->args[0]); r.e = rules_ew(c, EW_NEG, r.e, NULL); return r;
    case RX_BIN: {
        static const ir_ew_kind kinds[128] = {['+'] = EW_ADD, ['-'] = EW_SUB, ['*'] = EW_MUL, ['/'] = EW_SAFEDIV,
                                              ['>'] = EW_GT, ['<'] = EW_LT, ['G'] = EW_GE, ['L'] = EW_LE,
                                              ['E'] = EW_EQ, ['N'] = EW_NE};
        lowered a = lower(c, i, e->args[0]), b = lower(c, i, e->args[1]);
        if (!join(c, e, &a, &b)) return a;
        a.e = rules_ew(c, kinds[e->op & 127], a.e, b.e);
        return a;
    }
    case RX_CALL: {
        if (e->fn == F_UNPOOL || e->fn == F_UNPOOL0) {
            lowered v = lower(c, i, e->args[0]);
            if (n->op != OP_MAXPOOL || v.level != LEVEL_OUT || (e->fn == F_UNPOOL0 && !c->fwd0)) {
                diag_error(c->d, e->loc, "%s", n->op != OP_MAXPOOL ? "unpool() routes to window maxima: it applies to "
                           "max pooling" : v.level != LEVEL_OUT ? "unpool() takes a value shaped like the pooling's "
                           "output (r, y, y0)" : "unpool0() routes to the maxima of the reference pass (deeplift only)");
                c->failed = 1;
                r.e = rules_ew_num(c, 0);
                return r;
            }
            ir_node node = *n;
            node.name = node.alias = NULL;
            node.op = OP_MAXPOOL_T;
            node.shape = c->net->nodes[in].shape;
            node.in_shape = node.shape;
            node.n_inputs = 2;
            node.inputs[0] = materialize(c, &v, &n->shape);
            node.inputs[1] = e->fn == F_UNPOOL ? rules_fwd(c, in) : c->fwd0[in];
            node.mult = 0;
            return leaf(c, LEVEL_IN, rules_node(c, &node));
        }
        if (e->fn == F_SHARE) break;
        lowered a = lower(c, i, e->args[0]);
        if (e->fn == F_WHERE || e->fn == F_MAX || e->fn == F_MIN) {
            lowered b = lower(c, i, e->args[1]);
            if (!join(c, e, &a, &b)) return a;
            if (e->fn == F_WHERE) {
                lowered d = lower(c, i, e->args[2]);
                if (!join(c, e, &a, &d)) return a;
                ir_ew *sel = rules_ew(c, EW_SELECT, a.e, b.e);
                sel->c = d.e;
                a.e = sel;
            } else {
                ir_ew *sel = rules_ew(c, EW_SELECT, rules_ew(c, e->fn == F_MAX ? EW_GT : EW_LT, a.e, b.e), a.e);
                sel->c = b.e;
                a.e = sel;
            }
            return a;
        }
        static const ir_ew_kind fk[] = {[F_POS] = EW_POS, [F_NEG] = EW_NEGPART, [F_ABS] = EW_ABS, [F_SIGN] = EW_SIGN,
                                        [F_STEP] = EW_STEP};
        a.e = rules_ew(c, fk[e->fn], a.e, NULL);
        return a;
    }
    default: break;
    }
    diag_error(c->d, e->loc, "a rule for %s layer '%s' is gradient, a share, or an expression of r, x, y with unpool",
               ir_op_name(n->op), n->name);
    c->failed = 1;
    r.e = rules_ew_num(c, 0);
    return r;
}

static void pool_expression(rules_ctx *c, int i, const rule_use *use)
{
    const ir_node *n = &c->net->nodes[i];
    lowered l = lower(c, i, use->body);
    if (c->failed) return;
    if (l.level != LEVEL_IN) {
        diag_error(c->d, use->body->loc, "the rule of %s layer '%s' must give a value shaped like its input: route "
                   "r with unpool(...)", ir_op_name(n->op), n->name);
        c->failed = 1;
        return;
    }
    rules_give(c, n->inputs[0], materialize(c, &l, &c->net->nodes[n->inputs[0]].shape));
}

static void apply_rule(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    const rule_use *use = &c->spec->rules[i];
    if (n->op == OP_FLATTEN) {   /* relevance keeps its values, takes the input's shape */
        ir_node node = {0};
        node.op = OP_FLATTEN;
        node.shape = c->net->nodes[n->inputs[0]].shape;
        node.n_inputs = 1;
        node.inputs[0] = c->R[i];
        rules_give(c, n->inputs[0], rules_node(c, &node));
        return;
    }
    if (!use->body) return;
    if (use->body->kind == RX_GRADIENT) { rules_gradient(c, i); return; }
    int elementwise = n->op == OP_RELU || n->op == OP_SIGMOID || n->op == OP_AFFINE;
    if (elementwise && rx_is_var(use->body, V_R)) {   /* pass: the same relevance, no kernel */
        rules_give(c, n->inputs[0], c->R[i]);
        return;
    }
    if (elementwise) {
        /* r -> $0, x -> $1, y -> $2, and in DeepLIFT's reference pass x0 -> $3, y0 -> $4 */
        int var_input[V_COUNT];
        for (int v = 0; v < V_COUNT; v++) var_input[v] = -1;
        var_input[V_R] = 0, var_input[V_X] = 1, var_input[V_Y] = 2;
        int inputs[5] = {c->R[i], rules_fwd(c, n->inputs[0]), rules_fwd(c, i)}, ni = 3;
        if (c->fwd0) {
            var_input[V_X0] = 3, var_input[V_Y0] = 4;
            inputs[3] = c->fwd0[n->inputs[0]], inputs[4] = c->fwd0[i], ni = 5;
        }
        ir_ew *e = rules_to_ew(c, use->body, var_input, &n->shape, n->name);
        rules_give(c, n->inputs[0], rules_eltwise(c, &n->shape, inputs, ni, e));
        return;
    }
    if ((n->op == OP_MAXPOOL || n->op == OP_AVGPOOL) && !is_share_form(use->body)) {
        pool_expression(c, i, use);
        return;
    }
    rule_form f;
    int in = n->inputs[0];
    if (!rules_linear_form(c->d, &c->pool, use->body, !c->fwd0 && n->op != OP_ADD && nonneg(c->net, in), n->name, &f)) {
        diag_note(c->d, use->where, "rule '%s' is applied to layer '%s' here", use->rule, n->name);
        c->failed = 1;
        return;
    }
    if (n->op == OP_ADD) rules_share_add(c, i, &f);
    else rules_share_linear(c, i, &f);
    rule_form_free(&f);
}

/* ---------------- methods ---------------- */

/* Captum's integration rules on [0, 1]: points alpha_k and weights w_k (sum_k w_k g(alpha_k) ~ integral). */
static void quadrature(ig_quadrature q, int n, double *alpha, double *weight)
{
    if (q == QUAD_GAUSSLEGENDRE) {   /* Legendre roots by Newton's method, ascending, mapped to [0, 1] */
        for (int i = 0; i < n; i++) {
            double x = cos(M_PI * (n - i - 0.25) / (n + 0.5)), dp = 1;
            for (int it = 0; it < 100; it++) {
                double p0 = 1, p1 = x;
                for (int k = 2; k <= n; k++) {
                    double pk = ((2.0 * k - 1) * x * p1 - (k - 1.0) * p0) / k;
                    p0 = p1, p1 = pk;
                }
                double pn = n == 1 ? x : p1, pm = n == 1 ? 1 : p0;
                dp = n * (x * pn - pm) / (x * x - 1);
                double dx = pn / dp;
                x -= dx;
                if (fabs(dx) < 1e-16) break;
            }
            alpha[i] = 0.5 * (1 + x);
            weight[i] = 0.5 * 2 / ((1 - x * x) * dp * dp);
        }
        return;
    }
    for (int k = 0; k < n; k++) {
        weight[k] = 1.0 / n;
        switch (q) {
        case QUAD_LEFT: alpha[k] = (double)k / n; break;
        case QUAD_RIGHT: alpha[k] = (double)(k + 1) / n; break;
        case QUAD_MIDDLE: alpha[k] = (k + 0.5) / n; break;
        default: alpha[k] = (double)k / (n - 1); break;   /* trapezoid: end points at half weight */
        }
    }
    if (q == QUAD_TRAPEZOID) weight[0] /= 2, weight[n - 1] /= 2;
}

static ir_const *vector_const(rules_ctx *c, const char *name, const double *v, int n)
{
    int64_t sh[1] = {n};
    ir_const *k = ir_graph_new_const(c->g, name, 1, sh);
    for (int i = 0; i < n; i++) k->data[i] = (float)v[i];
    return k;
}

/* A copy of the network's forward pass reading `input` instead of the network input, at `mult` samples. */
static int *forward_copy(rules_ctx *c, int input, int mult)
{
    const ir_graph *net = c->net;
    int *map = malloc(sizeof(int) * net->n_nodes);
    for (int i = 0; i < net->n_nodes; i++) {
        if (net->nodes[i].op == OP_INPUT) { map[i] = input; continue; }
        ir_node node = net->nodes[i];
        node.name = node.alias = NULL;
        for (int k = 0; k < node.n_inputs; k++) node.inputs[k] = map[node.inputs[k]];
        node.mult = mult;
        map[i] = ir_graph_add_node(c->g, &node);
    }
    return map;
}

static int reference_node(rules_ctx *c, const ir_shape *shape)
{
    ir_node ref = {0};
    ref.op = OP_REFERENCE;
    ref.shape = *shape;
    ref.ref_value = (float)c->spec->baseline;
    ref.mult = 1;
    c->g->has_options = 1;
    return ir_graph_add_node(c->g, &ref);
}

static int post_process(rules_ctx *c, int r, int x, const ir_shape *shape)
{
    switch (c->spec->post) {
    case POST_ABS: return rules_eltwise(c, shape, &r, 1, rules_ew(c, EW_ABS, rules_ew_in(c, 0), NULL));
    case POST_SQUARE: return rules_eltwise(c, shape, &r, 1, rules_ew(c, EW_MUL, rules_ew_in(c, 0), rules_ew_in(c, 0)));
    case POST_TIMES_INPUT: {
        int in[2] = {r, x};
        return rules_eltwise(c, shape, in, 2, rules_ew(c, EW_MUL, rules_ew_in(c, 0), rules_ew_in(c, 1)));
    }
    default: return r;
    }
}

/* ---------------- CAM family ---------------- */

/* PyTorch's bilinear F.interpolate: per output index its two source indices and the weight of the second
 * (align_corners = 0: half-pixel centres, sources clamped at 0; 1: corners aligned). */
static ir_const *sampling_table(rules_ctx *c, int in, int out, int align_corners, const char *name)
{
    int64_t shape[1] = {3 * (int64_t)out};
    ir_const *t = ir_graph_new_const(c->g, name, 1, shape);
    for (int d = 0; d < out; d++) {
        double s = align_corners ? (out > 1 ? (double)d * (in - 1) / (out - 1) : 0) : ((double)d + 0.5) * in / out - 0.5;
        if (s < 0) s = 0;
        int i0 = (int)s;
        if (i0 > in - 1) i0 = in - 1;
        t->data[3 * d] = (float)i0;
        t->data[3 * d + 1] = (float)(i0 < in - 1 ? i0 + 1 : i0);
        t->data[3 * d + 2] = (float)(s - i0);
    }
    return t;
}

/* [1, h, w] map -> the input's [H, W], bilinear, or the map itself as [h, w] */
static int cam_output(rules_ctx *c, int map, const ir_shape *map_shape)
{
    const ir_shape *in = &c->net->nodes[c->net->input].shape;
    ir_node node = {0};
    node.n_inputs = 1;
    node.inputs[0] = map;
    node.shape.rank = 2;
    if (!c->spec->upsample || in->rank != 3) {   /* the map at the layer's resolution */
        node.op = OP_FLATTEN;
        node.shape.dims[0] = map_shape->dims[1];
        node.shape.dims[1] = map_shape->dims[2];
        return rules_node(c, &node);
    }
    node.op = OP_UPSAMPLE;
    node.shape.dims[0] = in->dims[1];
    node.shape.dims[1] = in->dims[2];
    node.in_shape = *map_shape;
    node.global = c->spec->align_corners;
    node.weight = sampling_table(c, map_shape->dims[1], in->dims[1], node.global, "upsample_rows");
    node.bias = sampling_table(c, map_shape->dims[2], in->dims[2], node.global, "upsample_cols");
    return rules_node(c, &node);
}

static int channel_dot(rules_ctx *c, int v, int maps)
{
    const ir_shape *a = &c->net->nodes[c->spec->cam_layer].shape;
    ir_node node = {0};
    node.op = OP_CHANNEL_DOT;
    node.shape.rank = 3;
    node.shape.dims[0] = 1, node.shape.dims[1] = a->dims[1], node.shape.dims[2] = a->dims[2];
    node.in_shape = *a;
    node.n_inputs = 2;
    node.inputs[0] = v;
    node.inputs[1] = maps;
    return rules_node(c, &node);
}

/* CAM (seed 4.1): the class's weights of the dense layer after global average pooling weight the maps. */
static int cam(rules_ctx *c, int top)
{
    const ir_graph *net = c->net;
    int L = c->spec->cam_layer, gap = -1;
    for (int i = L + 1; i < net->n_nodes; i++)
        if (net->nodes[i].op == OP_GLOBAL_AVGPOOL && net->nodes[i].inputs[0] == L) gap = i;
    int dense = top;
    int fed = dense >= 0 && net->nodes[dense].op == OP_DENSE ? net->nodes[dense].inputs[0] : -1;
    if (fed >= 0 && net->nodes[fed].op == OP_FLATTEN) fed = net->nodes[fed].inputs[0];
    if (gap < 0 || fed != gap || ir_consumers(net, L) != 1) {
        diag_error(c->d, c->spec->loc, "cam needs layer '%s' -> global_avgpool -> dense, the dense being the output "
                   "(as the seed's CAM network); use gradcam for other networks", net->nodes[L].name);
        c->failed = 1;
        return c->R[top];
    }
    int v = rules_lin_t(c, dense, c->R[top], rules_plain_set(net->nodes[dense].weight));   /* W[c, :] */
    int map = channel_dot(c, v, L);
    ir_shape ms = {3, {1, net->nodes[L].shape.dims[1], net->nodes[L].shape.dims[2]}};
    return cam_output(c, map, &ms);
}

/* Grad-CAM (channel weights: the mean gradient over the map) and Grad-CAM++ (the closed form of
 * Chattopadhyay et al. with exp(score), whose factor exp(score) is dropped: it scales the map only). */
static int gradcam(rules_ctx *c)
{
    const ir_graph *net = c->net;
    int L = c->spec->cam_layer;
    if (c->R[L] < 0) {
        diag_error(c->d, c->spec->loc, "no gradient reaches layer '%s'", net->nodes[L].name);
        c->failed = 1;
        return 0;
    }
    const ir_shape *a = &net->nodes[L].shape;
    ir_node w = {0};
    w.shape.rank = 1;
    w.shape.dims[0] = a->dims[0];
    w.in_shape = *a;
    if (c->spec->method == METHOD_GRADCAM) {
        double scale = 1.0 / ((double)a->dims[1] * a->dims[2]);
        w.op = OP_SUMPOOL;
        w.global = 1;
        w.weight = vector_const(c, "gradcam_mean", &scale, 1);
        w.n_inputs = 1;
        w.inputs[0] = c->R[L];
    } else {
        w.op = OP_GRADCAMPP;
        w.n_inputs = 2;
        w.inputs[0] = c->R[L];
        w.inputs[1] = L;
    }
    int weights = rules_node(c, &w);
    int map = channel_dot(c, weights, L);
    ir_shape ms = {3, {1, a->dims[1], a->dims[2]}};
    map = rules_eltwise(c, &ms, &map, 1, rules_ew(c, EW_POS, rules_ew_in(c, 0), NULL));   /* ReLU, as the paper and the seed */
    return cam_output(c, map, &ms);
}

static ir_graph *build(rules_ctx *c)
{
    const ir_graph *net = c->net;
    const explain_spec *spec = c->spec;
    ir_graph *g = ir_graph_new(net->name);
    c->g = g;
    g->network = net;
    g->explain_name = strdup(spec->name);
    g->loc = spec->loc;
    g->has_range = net->has_range;
    g->range_low = net->range_low;
    g->range_high = net->range_high;
    for (int i = 0; i < net->n_nodes; i++) ir_graph_add_node(g, &net->nodes[i]);
    g->n_forward = net->n_nodes;
    g->input = net->input;
    c->R = malloc(sizeof(int) * net->n_nodes);
    for (int i = 0; i < net->n_nodes; i++) c->R[i] = -1;
    c->mult = 1;

    int top = net->output;
    if (net->nodes[top].op == OP_SOFTMAX) top = net->nodes[top].inputs[0];   /* explain the logits */
    if (net->nodes[top].shape.rank != 1) {
        diag_error(c->d, spec->loc, "explanation '%s': the output of network '%s' must be flat ([classes]) to seed "
                   "relevance at a class", spec->name, net->name);
        return g;
    }
    const ir_shape *in_shape = &net->nodes[net->input].shape;
    int x = net->input, ref = -1, samples = 1;
    double *alpha = NULL, *weight = NULL;

    /* the pass the backward reads: the forward itself, or a copy on the samples / the reference */
    c->fwd = malloc(sizeof(int) * net->n_nodes);
    for (int i = 0; i < net->n_nodes; i++) c->fwd[i] = i;
    if (spec->method == METHOD_IG || spec->method == METHOD_SMOOTHGRAD) {
        samples = spec->method == METHOD_IG ? spec->steps : spec->samples;
        ir_node ex = {0};
        ex.op = OP_EXPAND;
        ex.shape = *in_shape;
        ex.mult = ex.samples = samples;
        ex.inputs[ex.n_inputs++] = x;
        if (spec->method == METHOD_IG) {
            ref = reference_node(c, in_shape);
            alpha = malloc(sizeof(double) * samples);
            weight = malloc(sizeof(double) * samples);
            quadrature(spec->quadrature, samples, alpha, weight);
            ex.expand = EXPAND_PATH;
            ex.inputs[ex.n_inputs++] = ref;
            ex.weight = vector_const(c, "ig_alphas", alpha, samples);
        } else {
            ex.expand = EXPAND_NOISE;
            ex.sigma = (float)spec->sigma;
            ex.rng_seed = spec->rng_seed;
            g->has_options = 1;
        }
        int expanded = ir_graph_add_node(g, &ex);
        g->sample_first = expanded;
        g->samples = g->chunk = samples;
        free(c->fwd);
        c->fwd = forward_copy(c, expanded, samples);
    } else if (spec->method == METHOD_DEEPLIFT) {
        ref = reference_node(c, in_shape);
        c->fwd0 = forward_copy(c, ref, 1);
    }
    c->mult = samples;

    ir_node seed = {0};
    seed.op = OP_SEED;
    seed.seed = spec->seed;
    seed.shape = net->nodes[top].shape;
    seed.inputs[seed.n_inputs++] = rules_fwd(c, top);
    if (samples > 1) {   /* the samples of an input share its target: the arg-max of its clean logits */
        seed.inputs[seed.n_inputs++] = top;
        seed.argmax_from = 1;
    }
    c->R[top] = rules_node(c, &seed);
    g->has_target = 1;

    if (spec->method == METHOD_CAM) {
        g->output = cam(c, top);
        g->relevance_of = c->R;
        c->R = NULL;
        return g;
    }
    int stop = METHOD_IS_CAM(spec->method) ? spec->cam_layer : spec->at_node;
    for (int i = top; i >= 0 && !c->failed; i--) {
        if (i == stop) break;
        if (c->R[i] < 0 || net->nodes[i].op == OP_INPUT) continue;
        c->layer = i + 1;
        apply_rule(c, i);
        c->layer = 0;
    }
    if (METHOD_IS_CAM(spec->method)) {
        g->output = gradcam(c);
        g->relevance_of = c->R;
        c->R = NULL;
        return g;
    }
    int at = spec->at_node >= 0 ? spec->at_node : net->input;
    if (!c->failed && c->R[at] < 0)
        diag_error(c->d, spec->loc, "explanation '%s': no relevance reaches %s", spec->name,
                   at == net->input ? "the input" : net->nodes[at].name);
    int out = c->R[at] >= 0 ? c->R[at] : top;
    const ir_shape *out_shape = at == net->input ? in_shape : &net->nodes[at].shape;
    if (!c->failed && c->R[at] >= 0) {
        switch (spec->method) {
        case METHOD_GRADIENT: out = post_process(c, out, rules_fwd(c, at), out_shape); break;
        case METHOD_SMOOTHGRAD: {   /* post per noisy sample (as NoiseTunnel around Saliency), then the mean */
            out = post_process(c, out, rules_fwd(c, at), out_shape);
            ir_node red = {0};
            red.op = OP_REDUCE;
            red.reduce = spec->variant;
            red.shape = *out_shape;
            red.mult = 1;
            red.samples = samples;
            red.inputs[red.n_inputs++] = out;
            out = g->sample_last = ir_graph_add_node(g, &red);
            break;
        }
        case METHOD_IG: {
            ir_node red = {0};
            red.op = OP_REDUCE;
            red.reduce = REDUCE_PATH;
            red.shape = *in_shape;
            red.mult = 1;
            red.samples = samples;
            red.weight = vector_const(c, "ig_weights", weight, samples);
            red.inputs[red.n_inputs++] = out;
            red.inputs[red.n_inputs++] = x;
            red.inputs[red.n_inputs++] = ref;
            out = g->sample_last = ir_graph_add_node(g, &red);
            break;
        }
        case METHOD_DEEPLIFT: {   /* multipliers times (x - reference) */
            int in[3] = {out, x, ref};
            c->mult = 1;
            out = rules_eltwise(c, in_shape, in, 3, rules_ew(c, EW_MUL, rules_ew_in(c, 0), rules_ew(c, EW_SUB, rules_ew_in(c, 1), rules_ew_in(c, 2))));
            break;
        }
        default: break;
        }
    }
    g->output = out;
    g->relevance_of = c->R;
    c->R = NULL;
    free(alpha);
    free(weight);
    return g;
}

int rules_build(xai_diag *d, ir_module *m, const explain_set *s)
{
    int errors = d->errors;
    wcache *cache = NULL;
    int n_cache = 0;
    for (int e = 0; e < s->n_specs; e++) {
        const explain_spec *spec = &s->specs[e];
        ir_graph *net = m->graphs[spec->network], *composed = NULL;
        explain_spec local = *spec;
        rule_use *composed_rules = NULL;
        int image = net->input;
        if (spec->method == METHOD_ACTMAX && spec->generator >= 0) {   /* differentiate generator + classifier */
            composed = actmax_compose(m->graphs[spec->generator], net, spec->generator_rules, spec->rules,
                                      &composed_rules, &image);
            local.rules = composed_rules;
        }
        rules_ctx c = {.d = d, .spec = &local, .net = composed ? composed : net, .cache = cache, .n_cache = n_cache};
        ir_graph *g = build(&c);
        if (spec->method == METHOD_ACTMAX) {
            g->am = spec->am;
            g->am.enabled = 1;
            g->has_options = 1;   /* steps, centre, code output, progress */
            g->am.image = image;
            g->am.logits = c.net->nodes[c.net->output].op == OP_SOFTMAX ? c.net->nodes[c.net->output].inputs[0]
                                                                          : c.net->output;
        }
        if (composed) {
            g->network = net;
            actmax_adopt(g, composed);
            free(composed_rules);
        }
        cache = c.cache;
        n_cache = c.n_cache;
        free(c.R);
        free(c.fwd);
        free(c.fwd0);
        pool_free(&c.pool);
        m->explanations = realloc(m->explanations, sizeof *m->explanations * (m->n_explanations + 1));
        m->explanations[m->n_explanations++] = g;
    }
    for (int i = 0; i < n_cache; i++) free(cache[i].key);
    free(cache);
    return d->errors - errors;
}
