/* A layer's rule applied: relevance at its output -> relevance at its inputs. Elementwise layers take an
 * expression over r, x, y; pooling layers also one with unpool() (two shapes, joined by unpool); linear
 * layers and sums a share form (backward_linear.c); `gradient` is the op's own chain rule, the GRADIENT
 * column of ops.def (backward_gradient.c). */
#include <stdlib.h>
#include <string.h>

#include "backward.h"

#define NONE 0
#define OP(ID, NAME, SELECTOR, ARITY, FLAGS, PARAMS, REQUIRED, LRP, DEEPLIFT, SEMA, KERNEL, GRADIENT, RULE, RULE_VARS) \
    [OP_##ID] = GRADIENT,
static void (*const gradient_of_op[OP_COUNT])(rules_ctx *c, int i) = {
#include "ops.def"
};
#undef OP
#define OP(ID, NAME, SELECTOR, ARITY, FLAGS, PARAMS, REQUIRED, LRP, DEEPLIFT, SEMA, KERNEL, GRADIENT, RULE, RULE_VARS) \
    [OP_##ID] = RULE,
static void (*const rule_of_op[OP_COUNT])(rules_ctx *c, int i, const rule_use *use) = {
#include "ops.def"
};
#undef OP
#define OP(ID, NAME, SELECTOR, ARITY, FLAGS, PARAMS, REQUIRED, LRP, DEEPLIFT, SEMA, KERNEL, GRADIENT, RULE, RULE_VARS) \
    [OP_##ID] = RULE_VARS,
static void (*const rule_vars_of_op[OP_COUNT])(rules_ctx *c, int i, const int *used, ew_frame *f) = {
#include "ops.def"
};
#undef OP
#undef NONE

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
    ew_seen seen = { 0 };
    shift_walk(e, by, &seen);
    free(seen.nodes);
}

/* joins b's inputs into a's (renumbering b's tree); reports a level mismatch */
static int join(rules_ctx *c, const rx *at, lowered *a, lowered *b)
{
    if (a->level && b->level && a->level != b->level) {
        diag_error(c->d, at->loc,
                   "this combines a value shaped like the pooling's output (r, y, y0) with one shaped "
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
    lowered l = { level, rules_ew_in(c, 0), { node }, 1 };
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
    lowered r = { LEVEL_CONST, NULL, { 0 }, 0 };
    switch (e->kind) {
    case RX_NUM: r.e = rules_ew_num(c, e->num); return r;
    case RX_VAR:
        switch (e->var) {
        case V_R: return leaf(c, LEVEL_OUT, c->R[i]);
        case V_Y: return leaf(c, LEVEL_OUT, rules_fwd(c, i));
        case V_X: return leaf(c, LEVEL_IN, rules_fwd(c, in));
        case V_Y0:
            if (c->fwd0) return leaf(c, LEVEL_OUT, c->fwd0[i]);
            break;
        case V_X0:
            if (c->fwd0) return leaf(c, LEVEL_IN, c->fwd0[in]);
            break;
        default: break;
        }
        diag_error(c->d, e->loc, "'%s' cannot be used in the rule of %s layer '%s'%s", rx_var_name(e->var),
                   ir_op_name(n->op), n->name,
                   e->var == V_X0 || e->var == V_Y0 ? " (x0 and y0 exist in deeplift only)" : "");
        c->failed = 1;
        r.e = rules_ew_num(c, 0);
        return r;
    case RX_NEG:
        r = lower(c, i, e->args[0]);
        r.e = rules_ew(c, EW_NEG, r.e, NULL);
        return r;
    case RX_BIN: {
        static const ir_ew_kind kinds[128] = {
            ['+'] = EW_ADD, ['-'] = EW_SUB, ['*'] = EW_MUL, ['/'] = EW_SAFEDIV, ['>'] = EW_GT,
            ['<'] = EW_LT,  ['G'] = EW_GE,  ['L'] = EW_LE,  ['E'] = EW_EQ,      ['N'] = EW_NE
        };
        lowered a = lower(c, i, e->args[0]), b = lower(c, i, e->args[1]);
        if (!join(c, e, &a, &b)) return a;
        a.e = rules_ew(c, kinds[e->op & 127], a.e, b.e);
        return a;
    }
    case RX_CALL: {
        if (e->fn == F_UNPOOL || e->fn == F_UNPOOL0) {
            lowered v = lower(c, i, e->args[0]);
            if (n->op != OP_MAXPOOL || v.level != LEVEL_OUT || (e->fn == F_UNPOOL0 && !c->fwd0)) {
                diag_error(c->d, e->loc, "%s",
                           n->op != OP_MAXPOOL ? "unpool() routes to window maxima: it applies to "
                                                 "max pooling"
                               : v.level != LEVEL_OUT
                               ? "unpool() takes a value shaped like the pooling's "
                                 "output (r, y, y0)"
                               : "unpool0() routes to the maxima of the reference pass (deeplift only)");
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
        if (rx_is_reduction(e)) { /* the statistic, spread over the argument's shape */
            if (!a.level) {
                diag_error(c->d, e->loc, "%s() reduces a layer's values: give it an expression of r, x or y",
                           rx_fn_name(e->fn));
                c->failed = 1;
                return a;
            }
            if (e->per_axis) {
                diag_error(c->d, e->loc,
                           "%s(..., per = axis) runs along a softmax's or layernorm's axis, and layer '%s' is a %s",
                           rx_fn_name(e->fn), n->name, ir_op_name(n->op));
                c->failed = 1;
                return a;
            }
            const ir_shape *shape = a.level == LEVEL_OUT ? &n->shape : &c->net->nodes[in].shape;
            return leaf(c, a.level, rules_stat(c, e, materialize(c, &a, shape), shape, 0));
        }
        if (e->fn == F_WHERE || e->fn == F_MAX || e->fn == F_MIN) {
            lowered b = lower(c, i, e->args[1]);
            if (!join(c, e, &a, &b)) return a;
            if (e->fn == F_WHERE) {
                lowered d = lower(c, i, e->args[2]);
                if (!join(c, e, &a, &d)) return a;
                ir_ew *sel = rules_ew(c, EW_SELECT, a.e, b.e);
                sel->c = d.e;
                a.e = sel;
            } else
                a.e = rules_ew_call(c, e, a.e, b.e);
            return a;
        }
        a.e = rules_ew_call(c, e, a.e, NULL);
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
        diag_error(c->d, use->body->loc,
                   "the rule of %s layer '%s' must give a value shaped like its input: route "
                   "r with unpool(...)",
                   ir_op_name(n->op), n->name);
        c->failed = 1;
        return;
    }
    rules_give(c, n->inputs[0], materialize(c, &l, &c->net->nodes[n->inputs[0]].shape));
}

/* Which factor of product i is the gate (a sigmoid, hardsigmoid or softmax output): 0 or 1; -1 (reported) unless
 * exactly one is. */
static int gate_factor(rules_ctx *c, int i, const rule_use *use)
{
    const ir_node *n = &c->net->nodes[i];
    int g0 = ir_op_is(c->net->nodes[n->inputs[0]].op, OPF_GATE),
        g1 = ir_op_is(c->net->nodes[n->inputs[1]].op, OPF_GATE);
    if (g0 != g1) return g0 ? 0 : 1;
    diag_error(c->d, use->where,
               "%s '%s' multiplies %s; the gate rule needs exactly one factor that is a sigmoid, hardsigmoid or "
               "softmax output: use uniform or gradient for it",
               ir_op_name(n->op), n->name, g0 ? "two gates" : "two values that are not gates");
    c->failed = 1;
    return -1;
}

/* The gate rule of mul and div (signal-take-all, as in LRP for LSTMs and squeeze-excitation): a product
 * x * g with g a gate (a sigmoid, hardsigmoid or softmax output, in [0, 1]: CP-LRP's attention weights held
 * constant) gives all relevance to x; a quotient to its numerator. */
static void gate(rules_ctx *c, int i, const rule_use *use)
{
    const ir_node *n = &c->net->nodes[i];
    if (!rx_is_var(use->body, V_R)) {
        diag_error(c->d, use->where,
                   "rule '%s' cannot apply to %s layer '%s': a product of two values takes gate "
                   "or gradient",
                   use->rule, ir_op_name(n->op), n->name);
        c->failed = 1;
        return;
    }
    int signal = 0;
    if (n->op == OP_MUL) {
        int g = gate_factor(c, i, use);
        if (g < 0) return;
        signal = 1 - g;
    }
    int to = n->inputs[signal];
    if (memcmp(&c->net->nodes[to].shape, &n->shape, sizeof(int) * (1 + n->shape.rank)) == 0) {
        rules_give(c, to, c->R[i]);
        return;
    }
    ir_node node = { 0 }; /* the signal was broadcast: its relevance is the sum over the stretched axes */
    node.op = OP_UNBROADCAST;
    node.shape = c->net->nodes[to].shape;
    node.n_inputs = 1;
    node.inputs[0] = c->R[i];
    rules_give(c, to, rules_node(c, &node));
}

/* A rule body over r, y (and x when `x_node` >= 0) evaluated at node i's output shape: views and routes, whose
 * result then goes back the way values came; binary ops, once per input (x = that input). */
static int output_expression(rules_ctx *c, int i, const rule_use *use, int x_node)
{
    const ir_node *n = &c->net->nodes[i];
    ew_frame f;
    rules_frame_init(&f, &n->shape, n->name);
    rules_frame_var(&f, V_R, c->R[i]);
    rules_frame_var(&f, V_Y, rules_fwd(c, i));
    if (x_node >= 0) rules_frame_var(&f, V_X, x_node);
    ir_ew *e = rules_to_ew(c, use->body, &f);
    return rules_eltwise(c, &n->shape, f.inputs, f.n, e);
}

/* add, sub, mul, div of two values under an expression rule: input k gets the body with x = input k (the
 * uniform rule r / 2, the proportional rule r * x / y, ...) */
static void binary_expression(rules_ctx *c, int i, const rule_use *use)
{
    const ir_node *n = &c->net->nodes[i];
    for (int k = 0; k < n->n_inputs; k++) {
        const ir_shape *s = &c->net->nodes[n->inputs[k]].shape;
        if (s->rank != n->shape.rank || memcmp(s->dims, n->shape.dims, sizeof(int) * s->rank)) {
            diag_error(c->d, use->where,
                       "rule '%s' on %s layer '%s': its inputs have different shapes (one is broadcast), but an "
                       "expression rule reads x per element of the output; use gradient%s",
                       use->rule, ir_op_name(n->op), n->name, n->op == OP_MUL || n->op == OP_DIV ? " or gate" : "");
            c->failed = 1;
            return;
        }
    }
    for (int k = 0; k < n->n_inputs; k++) {
        int x = rules_fwd(c, n->inputs[k]);
        rules_give(c, n->inputs[k], output_expression(c, i, use, x));
    }
}

/* matmul under a rule other than gradient: the body gives each factor its part v of the output relevance (`r`:
 * the gate rule, all of it to the factor that is not a gate, as CP-LRP holds attention weights constant;
 * `r / 2`: AttnLRP's uniform rule), spread over that factor's entries in proportion to their contributions
 * a_mk b_kn to y_mn (the epsilon rule, stabiliser MATMUL_EPSILON, sign(0) = +1):
 *   R_a = a * ((v / stab(y)) b^T),   R_b = b * (a^T (v / stab(y))) */
#define MATMUL_EPSILON 1e-6
void backward_rule_matmul(rules_ctx *c, int i, const rule_use *use)
{
    const ir_node *n = &c->net->nodes[i];
    int gets[2] = { 1, 1 };
    int gate_rule = rx_is_var(use->body, V_R);
    if (gate_rule) {
        int g = gate_factor(c, i, use);
        if (g < 0) return;
        gets[g] = 0;
    }
    for (int k = 0; k < 2; k++) {
        if (!gets[k]) continue;
        int v = gate_rule ? c->R[i] : output_expression(c, i, use, -1);
        if (c->failed) return;
        int vy[2] = { v, rules_fwd(c, i) };
        ir_ew *den = rules_ew(c, EW_STAB, rules_ew_in(c, 1), NULL);
        den->num = MATMUL_EPSILON;
        int s = rules_eltwise(c, &n->shape, vy, 2, rules_ew(c, EW_SAFEDIV, rules_ew_in(c, 0), den));
        int a = rules_fwd(c, n->inputs[0]), b = rules_fwd(c, n->inputs[1]);
        const ir_shape *shape = &c->net->nodes[n->inputs[k]].shape;
        int t = k == 0 ? rules_matmul(c, s, b, 0, 1, shape) : rules_matmul(c, a, s, 1, 0, shape);
        int ft[2] = { k == 0 ? a : b, t };
        rules_give(c, n->inputs[k],
                   rules_eltwise(c, shape, ft, 2, rules_ew(c, EW_MUL, rules_ew_in(c, 0), rules_ew_in(c, 1))));
    }
}

void rules_apply(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    const rule_use *use = &c->spec->rules[i];
    int moves = ir_op_is(n->op, OPF_VIEW) || ir_op_is(n->op, OPF_ROUTE);
    if (moves && use->body && use->body->kind != RX_GRADIENT && !rx_is_var(use->body, V_R)) {
        /* the body at the output, then moved back like relevance (x: a view's input, whose values are the
         * output's in the same order) */
        int view_x = ir_op_is(n->op, OPF_VIEW) && n->n_inputs == 1 ? rules_fwd(c, n->inputs[0]) : -1;
        c->R[i] = output_expression(c, i, use, view_x);
        if (c->failed) return;
    }
    if (ir_op_is(n->op, OPF_VIEW)) { /* relevance keeps its values, takes the input's shape */
        ir_node node = { 0 };
        node.op = OP_FLATTEN;
        node.shape = c->net->nodes[n->inputs[0]].shape;
        node.n_inputs = 1;
        node.inputs[0] = c->R[i];
        rules_give(c, n->inputs[0], rules_node(c, &node));
        return;
    }
    if (ir_op_is(n->op, OPF_ROUTE)) { /* values moved: relevance goes back to where each came from */
        gradient_of_op[n->op](c, i);
        return;
    }
    if (!use->body) return;
    if (use->body->kind == RX_GRADIENT) {
        if (gradient_of_op[n->op])
            gradient_of_op[n->op](c, i);
        else {
            diag_error(c->d, use->where, "layer '%s' is a %s, which has no gradient", n->name, ir_op_name(n->op));
            c->failed = 1;
        }
        return;
    }
    if (rule_of_op[n->op]) { /* the op's own (ops.def's RULE) */
        rule_of_op[n->op](c, i, use);
        return;
    }
    /* one input: activations, softmax (whose reductions may run along its axis), and binary ops with a number
     * (part of an elementwise function) */
    int grouped = ir_op_is(n->op, OPF_GROUPED);
    int elementwise = grouped || ir_op_is(n->op, OPF_ELEMENTWISE) || (ir_op_is(n->op, OPF_BINARY) && n->n_inputs == 1);
    if (ir_op_is(n->op, OPF_BINARY) && !elementwise) {
        if ((n->op == OP_MUL || n->op == OP_DIV) && (rx_is_var(use->body, V_R) || is_share_form(use->body))) {
            gate(c, i, use); /* the gate rule (`r`); a share is reported there */
            return;
        }
        if (!is_share_form(use->body)) {
            binary_expression(c, i, use);
            return;
        }
    }
    if (elementwise && rx_is_var(use->body, V_R)) { /* pass: the same relevance, no kernel */
        rules_give(c, n->inputs[0], c->R[i]);
        return;
    }
    if (elementwise) {
        /* r, x, y, and in DeepLIFT's reference pass x0, y0 */
        ew_frame f;
        rules_frame_init(&f, &n->shape, n->name);
        f.op_args = n->arg;
        f.grouped = grouped;
        f.axis = n->axis;
        rules_frame_var(&f, V_R, c->R[i]);
        rules_frame_var(&f, V_X, rules_fwd(c, n->inputs[0]));
        rules_frame_var(&f, V_Y, rules_fwd(c, i));
        if (rule_vars_of_op[n->op]) { /* the op's own variables (layernorm's w and b), when read */
            int used[V_COUNT] = { 0 };
            rules_vars_used(use->body, used);
            rule_vars_of_op[n->op](c, i, used, &f);
        }
        if (c->fwd0) {
            rules_frame_var(&f, V_X0, c->fwd0[n->inputs[0]]);
            rules_frame_var(&f, V_Y0, c->fwd0[i]);
        }
        ir_ew *e = rules_to_ew(c, use->body, &f);
        rules_give(c, n->inputs[0], rules_eltwise(c, &n->shape, f.inputs, f.n, e));
        return;
    }
    if (ir_op_is(n->op, OPF_WINDOW) && !is_share_form(use->body)) {
        pool_expression(c, i, use);
        return;
    }
    rule_form f;
    int in = n->inputs[0];
    int sum = ir_op_is(n->op, OPF_SUM);
    if (!rules_linear_form(c->d, &c->pool, use->body, !c->fwd0 && !sum && rules_nonneg(c->net, in), n->name, &f)) {
        diag_note(c->d, use->where, "rule '%s' is applied to layer '%s' here", use->rule, n->name);
        c->failed = 1;
        return;
    }
    if (sum)
        rules_share_add(c, i, &f);
    else
        rules_share_linear(c, i, &f);
    rule_form_free(&f);
}
