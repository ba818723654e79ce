/* Building backward graphs: nodes appended on the current samples and layer, relevance summed where paths
 * meet, rule expressions as elementwise expressions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backward.h"

int rules_node(rules_ctx *c, const ir_node *n)
{
    ir_node copy = *n;
    if (!copy.mult) copy.mult = c->mult; /* backward nodes work on the current samples */
    copy.layer = c->layer;
    return ir_graph_add_node(c->g, &copy);
}

int rules_eltwise(rules_ctx *c, const ir_shape *shape, const int *inputs, int n, ir_ew *expr)
{
    ir_node node = { 0 };
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
    if (c->R[i] < 0) {
        c->R[i] = r;
        return;
    }
    int in[2] = { c->R[i], r };
    c->R[i] =
        rules_eltwise(c, &c->net->nodes[i].shape, in, 2, rules_ew(c, EW_ADD, rules_ew_in(c, 0), rules_ew_in(c, 1)));
}

/* sum_k inputs' products: terms[k] = (factor node or -1 for 1, c node); split so no node reads > 16 */
int rules_sum_of_products(rules_ctx *c, const ir_shape *shape, const int *factors, const int *cs, int n)
{
    int result = -1;
    int k = 0;
    while (k < n) {
        int inputs[IR_MAX_INPUTS], ni = 0;
        ir_ew *sum = NULL;
        if (result >= 0) {
            inputs[ni++] = result;
            sum = rules_ew_in(c, 0);
        }
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

/* node i of the network is never negative (what pos(a) / neg(a) may rely on). One pass over the nodes up to i
 * (inputs come before their consumers) rather than a recursion: a concat's inputs can share producers, and
 * concats of concats would make the recursion exponential. */
int rules_nonneg(const ir_graph *g, int i)
{
    unsigned char *nonneg = malloc((size_t)i + 1);
    if (!nonneg) return 0; /* unknown: the rule keeps both signs, which is always right */
    for (int j = 0; j <= i; j++) {
        const ir_node *n = &g->nodes[j];
        int v = n->op == OP_INPUT && g->has_range && g->range_low >= 0;
        if (ir_op_is(n->op, OPF_NONNEG))
            v = 1;
        else if (ir_op_is(n->op, OPF_KEEPS_NONNEG)) { /* every input (a concat has several) */
            v = n->n_inputs > 0;
            for (int k = 0; k < n->n_inputs && v; k++) v = n->inputs[k] < j && nonneg[n->inputs[k]];
        }
        nonneg[j] = (unsigned char)v;
    }
    int v = nonneg[i];
    free(nonneg);
    return v;
}

static int channels_of(const ir_shape *s) { return s->rank ? s->dims[0] : 1; }

/* rx -> elementwise expression; var_input maps a variable to an input slot (-1: not allowed here). */
void rules_frame_init(ew_frame *f, const ir_shape *shape, const char *layer)
{
    memset(f, 0, sizeof *f);
    for (int v = 0; v < V_COUNT; v++) f->var_input[v] = f->var_node[v] = -1;
    f->shape = shape;
    f->layer = layer;
}

int rules_frame_var(ew_frame *f, rx_var v, int node)
{
    f->var_node[v] = node;
    f->inputs[f->n] = node;
    return f->var_input[v] = f->n++;
}

ir_ew *rules_ew_call(rules_ctx *c, const rx *call, ir_ew *a, ir_ew *b)
{
    switch (call->fn) {
    case F_POS: return rules_ew(c, EW_POS, a, NULL);
    case F_NEG: return rules_ew(c, EW_NEGPART, a, NULL);
    case F_ABS: return rules_ew(c, EW_ABS, a, NULL);
    case F_SIGN: return rules_ew(c, EW_SIGN, a, NULL);
    case F_STEP: return rules_ew(c, EW_STEP, a, NULL);
    case F_EXP: return rules_ew(c, EW_EXP, a, NULL);
    case F_LOG: return rules_ew(c, EW_LOG, a, NULL);
    case F_SQRT: return rules_ew(c, EW_SQRT, a, NULL);
    case F_ERF: return rules_ew(c, EW_ERF, a, NULL);
    case F_TANH: return rules_ew(c, EW_TANH, a, NULL);
    case F_SIGMOID: return rules_ew(c, EW_SIGMOID, a, NULL);
    case F_SOFTPLUS: /* log(1 + exp(x)) = pos(x) + log(1 + exp(-|x|)): no overflow for large x */
        return rules_ew(
            c, EW_ADD, rules_ew(c, EW_POS, a, NULL),
            rules_ew(c, EW_LOG,
                     rules_ew(c, EW_ADD, rules_ew_num(c, 1),
                              rules_ew(c, EW_EXP, rules_ew(c, EW_NEG, rules_ew(c, EW_ABS, a, NULL), NULL), NULL)),
                     NULL));
    case F_POW: {
        double p = call->args[1]->num;
        if (p == 0) return rules_ew_num(c, 1);
        if (p == floor(p)) { /* whole powers by repeated squaring (|p| <= 1024, sema): right for negative x */
            ir_ew *result = NULL, *sq = a;
            for (long k = (long)fabs(p); k; k >>= 1) {
                if (k & 1) result = result ? rules_ew(c, EW_MUL, result, sq) : sq;
                if (k > 1) sq = rules_ew(c, EW_MUL, sq, sq);
            }
            return p > 0 ? result : rules_ew(c, EW_SAFEDIV, rules_ew_num(c, 1), result);
        }
        /* exp(p log x): NaN for x < 0, as a real power is undefined there (ir_pow) */
        return rules_ew(c, EW_EXP, rules_ew(c, EW_MUL, rules_ew_num(c, p), rules_ew(c, EW_LOG, a, NULL)), NULL);
    }
    case F_MAX:
    case F_MIN: { /* a > b ? a : b */
        ir_ew *sel = rules_ew(c, EW_SELECT, rules_ew(c, call->fn == F_MAX ? EW_GT : EW_LT, a, b), a);
        sel->c = b;
        return sel;
    }
    default: return NULL;
    }
}

int rules_stat(rules_ctx *c, const rx *call, int v, const ir_shape *out_shape, int along)
{
    ir_node node = { 0 };
    node.op = OP_LAYER_STAT;
    node.shape = *out_shape;
    node.in_shape = c->g->nodes[v].shape;
    node.stat = call->fn == F_SUM ? STAT_SUM
        : call->fn == F_MEAN      ? STAT_MEAN
        : call->fn == F_STD       ? STAT_STD
        : call->fn == F_MAX       ? STAT_MAX
        : call->fn == F_MIN       ? STAT_MIN
                                  : STAT_QUANTILE;
    if (node.stat == STAT_QUANTILE) node.stat_q = call->args[1]->num;
    node.stat_per_channel = call->per_channel;
    node.stat_along = along;
    node.n_inputs = 1;
    node.inputs[0] = v;
    return rules_node(c, &node);
}

void rules_vars_used(const rx *e, int *used)
{
    if (!e) return;
    if (e->kind == RX_VAR) used[e->var] = 1;
    for (int k = 0; k < e->n_args; k++) rules_vars_used(e->args[k], used);
}

/* a reduction: its argument computed over the variables it reads (one shape), then the statistic */
static ir_ew *reduction(rules_ctx *c, const rx *e, ew_frame *f)
{
    int used[V_COUNT] = { 0 };
    rules_vars_used(e->args[0], used);
    ew_frame sub;
    const ir_shape *shape = NULL;
    for (int v = 0; v < V_COUNT; v++) {
        if (!used[v] || v == V_LOW || v == V_HIGH || ((v == V_W || v == V_B) && f->var_node[v] < 0)) continue;
        if (f->var_node[v] < 0) {
            char readable[64] = "";
            for (int k = 0; k < V_COUNT; k++)
                if (f->var_node[k] >= 0)
                    snprintf(readable + strlen(readable), sizeof readable - strlen(readable), "%s%s",
                             readable[0] ? ", " : "", rx_var_name(k));
            diag_error(c->d, e->loc, "%s() cannot read '%s' in the rule of layer '%s'; here it reads %s",
                       rx_fn_name(e->fn), rx_var_name(v), f->layer, readable);
            c->failed = 1;
            return rules_ew_num(c, 0);
        }
        const ir_shape *s = &c->g->nodes[f->var_node[v]].shape;
        if (shape && (s->rank != shape->rank || memcmp(s->dims, shape->dims, sizeof(int) * s->rank))) {
            diag_error(c->d, e->loc,
                       "%s() reads values of two shapes (the layer's input and its output); a reduction runs "
                       "over one of them",
                       rx_fn_name(e->fn));
            c->failed = 1;
            return rules_ew_num(c, 0);
        }
        if (!shape) {
            shape = s;
            rules_frame_init(&sub, s, f->layer);
        }
        rules_frame_var(&sub, v, f->var_node[v]);
    }
    if (!shape) {
        diag_error(c->d, e->loc, "%s() reduces a layer's values: give it an expression of z, a, r, x or y",
                   rx_fn_name(e->fn));
        c->failed = 1;
        return rules_ew_num(c, 0);
    }
    for (int v = 0; v < V_COUNT; v++) sub.var_node[v] = f->var_node[v];
    if (e->per_channel && (shape->rank < 1 || f->shape->rank < 1 || shape->dims[0] != f->shape->dims[0])) {
        diag_error(c->d, e->loc, "%s(..., per = channel) needs the same channels where it reads and where it is used",
                   rx_fn_name(e->fn));
        c->failed = 1;
        return rules_ew_num(c, 0);
    }
    if (e->per_axis && !f->grouped) {
        diag_error(c->d, e->loc,
                   "%s(..., per = axis) runs along a softmax's or layernorm's axis, and layer '%s' is neither; use "
                   "per = sample or per = channel",
                   rx_fn_name(e->fn), f->layer);
        c->failed = 1;
        return rules_ew_num(c, 0);
    }
    ir_ew *arg = rules_to_ew(c, e->args[0], &sub);
    int v = arg->kind == EW_INPUT ? sub.inputs[arg->input] : rules_eltwise(c, shape, sub.inputs, sub.n, arg);
    if (f->n == IR_MAX_INPUTS) {
        diag_error(c->d, e->loc, "expression reads too many values");
        c->failed = 1;
        return rules_ew_num(c, 0);
    }
    f->inputs[f->n] = rules_stat(c, e, v, f->shape, e->per_axis && f->axis >= 0 ? f->axis + 1 : 0);
    return rules_ew_in(c, f->n++);
}

ir_ew *rules_to_ew(rules_ctx *c, const rx *e, ew_frame *f)
{
    const ir_shape *shape = f->shape;
    const char *layer = f->layer;
    switch (e->kind) {
    case RX_NUM: return rules_ew_num(c, e->num);
    case RX_VEC: {
        int ch = channels_of(shape);
        if (e->n_vec == 1) return rules_ew_num(c, e->vec[0]);
        if (e->n_vec != ch) {
            if (c->failed) return rules_ew_num(c, 0); /* one message per rule is enough */
            diag_error(c->d, e->loc, "this list has %d values, but layer '%s' has %d channels at its input", e->n_vec,
                       layer, ch);
            c->failed = 1;
            return rules_ew_num(c, 0);
        }
        int64_t sh[1] = { ch };
        ir_const *k = ir_graph_new_const(c->g, "channel_constant", 1, sh);
        for (int i = 0; i < ch; i++) k->data[i] = (float)e->vec[i];
        ir_ew *x = rules_ew(c, EW_CHANNEL, NULL, NULL);
        x->channel = k;
        return x;
    }
    case RX_VAR:
        if (e->var == V_LOW || e->var == V_HIGH) {
            if (!c->net->has_range) {
                diag_error(c->d, e->loc,
                           "%s is the input range of network '%s', which has none: give `range [low, "
                           "high]` on its input, or pass the bounds to the rule",
                           rx_var_name(e->var), c->net->name);
                c->failed = 1;
                return rules_ew_num(c, 0);
            }
            return rules_ew_num(c, e->var == V_LOW ? c->net->range_low : c->net->range_high);
        }
        if ((e->var == V_ARG0 || e->var == V_ARG1) && f->op_args) return rules_ew_num(c, f->op_args[e->var - V_ARG0]);
        if (f->var_input[e->var] < 0) {
            diag_error(c->d, e->loc, "'%s' cannot be used in the rule of layer '%s' here%s", rx_var_name(e->var), layer,
                       f->var_node[e->var] >= 0 ? " (only inside a reduction such as std(...))" : "");
            c->failed = 1;
            return rules_ew_num(c, 0);
        }
        return rules_ew_in(c, f->var_input[e->var]);
    case RX_NEG: return rules_ew(c, EW_NEG, rules_to_ew(c, e->args[0], f), NULL);
    case RX_CALL: {
        if (e->fn == F_SHARE || e->fn == F_UNPOOL || e->fn == F_UNPOOL0) {
            diag_error(c->d, e->loc, "%s() belongs to rules for %s; layer '%s' takes an expression over r, x and y",
                       rx_fn_name(e->fn), e->fn == F_SHARE ? "linear layers" : "max pooling", layer);
            c->failed = 1;
            return rules_ew_num(c, 0);
        }
        if (rx_is_reduction(e)) return reduction(c, e, f);
        if (e->fn == F_WHERE) { /* elementwise: pick per element */
            ir_ew *sel = rules_ew(c, EW_SELECT, rules_to_ew(c, e->args[0], f), rules_to_ew(c, e->args[1], f));
            sel->c = rules_to_ew(c, e->args[2], f);
            return sel;
        }
        ir_ew *a = rules_to_ew(c, e->args[0], f);
        ir_ew *b = (e->fn == F_MAX || e->fn == F_MIN) ? rules_to_ew(c, e->args[1], f) : NULL;
        return rules_ew_call(c, e, a, b);
    }
    case RX_BIN: {
        ir_ew *a = rules_to_ew(c, e->args[0], f), *b = rules_to_ew(c, e->args[1], f);
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
