/* Building backward graphs: nodes appended on the current samples and layer, relevance summed where paths
 * meet, rule expressions as elementwise expressions. */
#include <stdlib.h>

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
ir_ew *rules_to_ew(rules_ctx *c, const rx *e, const int *var_input, const ir_shape *shape, const char *layer)
{
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
        if (var_input[e->var] < 0) {
            diag_error(c->d, e->loc, "'%s' cannot be used in the rule of layer '%s' here", rx_var_name(e->var), layer);
            c->failed = 1;
            return rules_ew_num(c, 0);
        }
        return rules_ew_in(c, var_input[e->var]);
    case RX_NEG: return rules_ew(c, EW_NEG, rules_to_ew(c, e->args[0], var_input, shape, layer), NULL);
    case RX_CALL: {
        static const ir_ew_kind fk[] = {
            [F_POS] = EW_POS, [F_NEG] = EW_NEGPART, [F_ABS] = EW_ABS, [F_SIGN] = EW_SIGN, [F_STEP] = EW_STEP
        };
        if (e->fn == F_SHARE || e->fn == F_UNPOOL || e->fn == F_UNPOOL0) {
            diag_error(c->d, e->loc, "%s() belongs to rules for %s; layer '%s' takes an expression over r, x and y",
                       rx_fn_name(e->fn), e->fn == F_SHARE ? "linear layers" : "max pooling", layer);
            c->failed = 1;
            return rules_ew_num(c, 0);
        }
        if (e->fn == F_WHERE) { /* elementwise: pick per element */
            ir_ew *sel = rules_ew(c, EW_SELECT, rules_to_ew(c, e->args[0], var_input, shape, layer),
                                  rules_to_ew(c, e->args[1], var_input, shape, layer));
            sel->c = rules_to_ew(c, e->args[2], var_input, shape, layer);
            return sel;
        }
        if (e->fn == F_MAX || e->fn == F_MIN) { /* a > b ? a : b */
            ir_ew *x = rules_to_ew(c, e->args[0], var_input, shape, layer),
                  *y = rules_to_ew(c, e->args[1], var_input, shape, layer);
            ir_ew *sel = rules_ew(c, EW_SELECT, rules_ew(c, e->fn == F_MAX ? EW_GT : EW_LT, x, y), x);
            sel->c = y;
            return sel;
        }
        return rules_ew(c, fk[e->fn], rules_to_ew(c, e->args[0], var_input, shape, layer), NULL);
    }
    case RX_BIN: {
        ir_ew *a = rules_to_ew(c, e->args[0], var_input, shape, layer),
              *b = rules_to_ew(c, e->args[1], var_input, shape, layer);
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
