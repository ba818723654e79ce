/* method lrp: layer-wise relevance propagation, each layer by its rule (docs/lrp.md). Relevance at the input
 * or at the `at` layer; the rules come from the prelude's rules and presets and the explain block. */
#include "method.h"

static ir_graph *build(rules_ctx *c)
{
    ir_graph *g = backward_begin(c);
    if (c->failed) return g;
    backward_seed(c);
    backward_propagate(c, c->spec->at_node);
    int at, out = backward_result(c, c->spec->at_node, &at);
    return backward_finish(c, out);
}

const method_def method_lrp = {
    .name = "lrp",
    .id = METHOD_LRP,
    .settings = SETTING_RULES | SETTING_AT | SETTING_FROM,
    .seeds = SEEDS_OUTPUTS,
    .default_rule = method_lrp_default_rule,
    .build = build,
};
