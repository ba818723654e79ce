/* The skeleton every method's explanation graph shares: the network's forward nodes, copies of the forward
 * pass on other inputs (IG's path points, SmoothGrad's noisy copies, DeepLIFT's reference), the seed at the
 * output, and the propagation down the layers in reverse topological order, each layer by its rule
 * (backward_rules.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backward.h"

ir_graph *backward_begin(rules_ctx *c)
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
    c->top = net->output;
    if (ir_op_is(net->nodes[c->top].op, OPF_HEAD)) c->top = net->nodes[c->top].inputs[0]; /* explain the logits */
    if (spec->from_node >= 0) c->top = spec->from_node;                                   /* or a channel of a layer */
    c->fwd = malloc(sizeof(int) * net->n_nodes);
    for (int i = 0; i < net->n_nodes; i++) c->fwd[i] = i;
    if (spec->from_node < 0 && net->nodes[c->top].shape.rank != 1) {
        diag_error(c->d, spec->loc,
                   "explanation '%s': the output of network '%s' must be flat ([classes]) to seed "
                   "relevance at a class",
                   spec->name, net->name);
        c->failed = 1;
    }
    return g;
}

ir_const *backward_vector(rules_ctx *c, const char *name, const double *v, int n)
{
    int64_t sh[1] = { n };
    ir_const *k = ir_graph_new_const(c->g, name, 1, sh);
    for (int i = 0; i < n; i++) k->data[i] = (float)v[i];
    return k;
}

int *backward_forward_copy(rules_ctx *c, int input, int mult)
{
    const ir_graph *net = c->net;
    int *map = malloc(sizeof(int) * net->n_nodes);
    for (int i = 0; i < net->n_nodes; i++) {
        if (net->nodes[i].op == OP_INPUT) {
            map[i] = input;
            continue;
        }
        ir_node node = net->nodes[i];
        node.name = node.alias = NULL;
        for (int k = 0; k < node.n_inputs; k++) node.inputs[k] = map[node.inputs[k]];
        node.mult = mult;
        map[i] = ir_graph_add_node(c->g, &node);
    }
    return map;
}

int backward_reference(rules_ctx *c, const ir_shape *shape)
{
    ir_node ref = { 0 };
    ref.op = OP_REFERENCE;
    ref.shape = *shape;
    ref.ref_value = (float)c->spec->baseline;
    ref.mult = 1;
    c->g->has_options = 1;
    return ir_graph_add_node(c->g, &ref);
}

void backward_seed(rules_ctx *c)
{
    const ir_graph *net = c->net;
    ir_node seed = { 0 };
    seed.op = OP_SEED;
    seed.seed = c->spec->seed;
    seed.shape = net->nodes[c->top].shape;
    if (c->spec->from_node >= 0) /* a target names a channel: all its values (a unit of a flat layer: 1) */
        seed.seed_block = seed.shape.rank > 1 ? ir_shape_count(&seed.shape) / seed.shape.dims[0] : 1;
    seed.inputs[seed.n_inputs++] = rules_fwd(c, c->top);
    if (c->mult > 1) { /* the samples of an input share its target: the arg-max of its clean logits */
        seed.inputs[seed.n_inputs++] = c->top;
        seed.argmax_from = 1;
    }
    c->R[c->top] = rules_node(c, &seed);
    c->g->has_target = 1;
}

void backward_propagate(rules_ctx *c, int stop)
{
    const ir_graph *net = c->net;
    for (int i = c->top; i >= 0 && !c->failed; i--) {
        if (i == stop) break;
        if (c->R[i] < 0 || net->nodes[i].op == OP_INPUT) continue;
        c->layer = i + 1;
        rules_apply(c, i);
        c->layer = 0;
    }
}

int backward_result(rules_ctx *c, int at_node, int *at)
{
    const ir_graph *net = c->net;
    *at = at_node >= 0 ? at_node : net->input;
    if (!c->failed && c->R[*at] < 0)
        diag_error(c->d, c->spec->loc, "explanation '%s': no relevance reaches %s", c->spec->name,
                   *at == net->input ? "the input" : net->nodes[*at].name);
    if (c->R[*at] < 0) c->failed = 1;
    return c->R[*at] >= 0 ? c->R[*at] : c->top;
}

/* |in0|^n for an integer n >= 1 by repeated squaring (exact for n = 2: the square); a fresh tree per use */
static ir_ew *abs_power(rules_ctx *c, int n)
{
    if (n == 1) return rules_ew(c, EW_ABS, rules_ew_in(c, 0), NULL);
    ir_ew *half = rules_ew(c, EW_MUL, abs_power(c, n / 2), abs_power(c, n / 2));
    return n % 2 ? rules_ew(c, EW_MUL, half, abs_power(c, 1)) : half;
}

int backward_post(rules_ctx *c, int r, int x, const ir_shape *shape)
{
    double p = c->spec->post_power;
    switch (c->spec->post) {
    case POST_POWER:
        if (p == floor(p)) return rules_eltwise(c, shape, &r, 1, abs_power(c, (int)p));
        /* |g|^p = exp(p log|g|): log 0 = -inf gives exp(-inf) = 0 */
        return rules_eltwise(c, shape, &r, 1,
                             rules_ew(c, EW_EXP,
                                      rules_ew(c, EW_MUL, rules_ew_num(c, p),
                                               rules_ew(c, EW_LOG, rules_ew(c, EW_ABS, rules_ew_in(c, 0), NULL), NULL)),
                                      NULL));
    case POST_ABS: return rules_eltwise(c, shape, &r, 1, rules_ew(c, EW_ABS, rules_ew_in(c, 0), NULL));
    case POST_SQUARE: return rules_eltwise(c, shape, &r, 1, rules_ew(c, EW_MUL, rules_ew_in(c, 0), rules_ew_in(c, 0)));
    case POST_TIMES_INPUT: {
        int in[2] = { r, x };
        return rules_eltwise(c, shape, in, 2, rules_ew(c, EW_MUL, rules_ew_in(c, 0), rules_ew_in(c, 1)));
    }
    default: return r;
    }
}

ir_graph *backward_finish(rules_ctx *c, int out)
{
    ir_graph *g = c->g;
    g->output = out;
    g->relevance_of = c->R;
    c->R = NULL;
    return g;
}
