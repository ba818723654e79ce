/* method deeplift(reference): DeepLIFT's Rescale rule (the prelude's rescale rules on nonlinearities, true
 * gradients elsewhere) through a second forward pass on the reference; the multipliers times
 * (input - reference). docs/gradients.md. */
#include "method.h"

enum { P_REFERENCE };

static const method_param params[] = {
    [P_REFERENCE] = { "reference", MP_BASELINE },
};

static void configure(sema_explain_ctx *c, const ast_expr *call, const ir_graph *net, const method_arg *args,
                      explain_spec *spec)
{
    spec->baseline = args[P_REFERENCE].number;
}

static ir_graph *build(rules_ctx *c)
{
    ir_graph *g = backward_begin(c);
    if (c->failed) return g;
    const ir_graph *net = c->net;
    const ir_shape *in_shape = &net->nodes[net->input].shape;
    int x = net->input, ref = backward_reference(c, in_shape);
    c->fwd0 = backward_forward_copy(c, ref, 1);
    backward_seed(c);
    backward_propagate(c, -1);
    int at, out = backward_result(c, -1, &at);
    if (!c->failed) { /* multipliers times (x - reference) */
        int in[3] = { out, x, ref };
        c->mult = 1;
        out = rules_eltwise(
            c, in_shape, in, 3,
            rules_ew(c, EW_MUL, rules_ew_in(c, 0), rules_ew(c, EW_SUB, rules_ew_in(c, 1), rules_ew_in(c, 2))));
    }
    return backward_finish(c, out);
}

const method_def method_deeplift = {
    .name = "deeplift",
    .id = METHOD_DEEPLIFT,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .settings = SETTING_RULES,
    .seeds = (1u << SEED_LOGIT) | (1u << SEED_SOFTMAX),
    .seed_is_gradient = 1,
    .default_rule = method_deeplift_default_rule,
    .configure = configure,
    .build = build,
};
