/* method smoothgrad(samples, noise | sigma, seed, variant): the gradient (after `post`) averaged over noisy
 * copies of the input (SmoothGrad), its square (SmoothGrad^2) or its variance (VarGrad), as Captum's
 * NoiseTunnel around Saliency. The noise is reproducible (Philox, libxairt) and can be given at run time.
 * docs/gradients.md. */
#include <stdlib.h>

#include "method.h"

enum { P_SAMPLES, P_NOISE, P_SIGMA, P_SEED, P_VARIANT };

static const method_param params[] = {
    [P_SAMPLES] = { "samples", MP_INT, 1, 100000 },
    [P_NOISE] = { "noise", MP_NUMBER, 0 },
    [P_SIGMA] = { "sigma", MP_NUMBER, 0 },
    [P_SEED] = { "seed", MP_INT, 0, 9007199254740992.0 }, /* 2^53: every integer up to it is exact */
    [P_VARIANT] = { "variant", MP_CHOICE, .choices = "smoothgrad smoothgrad_sq vargrad" },
};

static void configure(sema_explain_ctx *c, const ast_expr *call, const ir_graph *net, const method_arg *args,
                      explain_spec *spec)
{
    static const ir_reduce reduces[] = { REDUCE_MEAN, REDUCE_MEAN_SQ, REDUCE_VAR };
    spec->samples = method_has(&args[P_SAMPLES]) ? (int)args[P_SAMPLES].number : 50;
    spec->rng_seed = method_has(&args[P_SEED]) ? (uint64_t)args[P_SEED].number : 1;
    spec->variant = reduces[method_has(&args[P_VARIANT]) ? args[P_VARIANT].choice : 0];
    if (args[P_SIGMA].given && args[P_NOISE].given)
        diag_error(c->d, call->loc, "give either noise (a fraction of the input range) or sigma (absolute), not both");
    spec->noise = -1;
    if (args[P_SIGMA].given) {
        spec->sigma = args[P_SIGMA].number;
        return;
    }
    double noise = method_has(&args[P_NOISE]) ? args[P_NOISE].number : 0.15;
    if (!net->has_range)
        diag_error(c->d, call->loc,
                   "smoothgrad's noise is a fraction of the input range, and network '%s' has none: "
                   "give `range [low, high]` on its input, or sigma = an absolute standard deviation",
                   net->name);
    spec->noise = noise;
    spec->sigma = noise * (net->range_high - net->range_low);
}

static ir_graph *build(rules_ctx *c)
{
    ir_graph *g = backward_begin(c);
    if (c->failed) return g;
    const ir_graph *net = c->net;
    const ir_shape *in_shape = &net->nodes[net->input].shape;
    int samples = c->spec->samples;
    ir_node ex = { 0 };
    ex.op = OP_EXPAND;
    ex.shape = *in_shape;
    ex.mult = ex.samples = samples;
    ex.inputs[ex.n_inputs++] = net->input;
    ex.expand = EXPAND_NOISE;
    ex.sigma = (float)c->spec->sigma;
    ex.rng_seed = c->spec->rng_seed;
    g->has_options = 1;
    int expanded = ir_graph_add_node(g, &ex);
    g->sample_first = expanded;
    g->samples = g->chunk = samples;
    free(c->fwd);
    c->fwd = backward_forward_copy(c, expanded, samples);
    c->mult = samples;
    backward_seed(c);
    backward_propagate(c, -1);
    int at, out = backward_result(c, -1, &at);
    if (!c->failed) { /* post per noisy sample (as NoiseTunnel around Saliency), then the mean */
        const ir_shape *shape = &net->nodes[at].shape;
        out = backward_post(c, out, rules_fwd(c, at), shape);
        ir_node red = { 0 };
        red.op = OP_REDUCE;
        red.reduce = c->spec->variant;
        red.shape = *shape;
        red.mult = 1;
        red.samples = samples;
        red.inputs[red.n_inputs++] = out;
        out = g->sample_last = ir_graph_add_node(g, &red);
    }
    return backward_finish(c, out);
}

const method_def method_smoothgrad = {
    .name = "smoothgrad",
    .id = METHOD_SMOOTHGRAD,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .settings = SETTING_RULES | SETTING_POST | SETTING_FROM,
    .seeds = (1u << SEED_LOGIT) | (1u << SEED_SOFTMAX) | (1u << SEED_RELU_LOGIT) | (1u << SEED_SUM),
    .seed_is_gradient = 1,
    .default_rule = method_gradient_default_rule,
    .configure = configure,
    .build = build,
};
