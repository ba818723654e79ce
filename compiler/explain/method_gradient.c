/* method gradient: the gradient of the seeded output at the input or at the `at` layer (saliency), with
 * `post` abs / square / times_input (gradient x input); rules such as `relu: guided` change a layer's
 * backward step (guided backpropagation, deconvnet). docs/gradients.md. */
#include "method.h"

static ir_graph *build(rules_ctx *c)
{
    ir_graph *g = backward_begin(c);
    if (c->failed) return g;
    backward_seed(c);
    backward_propagate(c, c->spec->at_node);
    int at, out = backward_result(c, c->spec->at_node, &at);
    if (!c->failed) {
        const ir_shape *shape = &c->net->nodes[at].shape;
        out = backward_post(c, out, rules_fwd(c, at), shape);
    }
    return backward_finish(c, out);
}

const method_def method_gradient = {
    .name = "gradient",
    .id = METHOD_GRADIENT,
    .settings = SETTING_RULES | SETTING_AT | SETTING_POST | SETTING_FROM,
    .seeds = (1u << SEED_LOGIT) | (1u << SEED_SOFTMAX) | (1u << SEED_RELU_LOGIT) | (1u << SEED_SUM),
    .seed_is_gradient = 1,
    .default_rule = method_gradient_default_rule,
    .build = build,
};
