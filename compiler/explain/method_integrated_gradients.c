/* method integrated_gradients(steps, baseline, quadrature): the gradient averaged along the straight path
 * from a baseline to the input, times (input - baseline), with Captum's quadratures; all path points go
 * through the network in one batch (in chunks when they need more workspace, plan.c). docs/gradients.md. */
#include <math.h>
#include <stdlib.h>

#include "method.h"

enum { P_STEPS, P_BASELINE, P_QUADRATURE };

static const method_param params[] = {
    [P_STEPS] = { "steps", MP_INT, 2, 100000 },
    [P_BASELINE] = { "baseline", MP_BASELINE },
    [P_QUADRATURE] = { "quadrature", MP_CHOICE,
                       .choices =
                           "gausslegendre riemann_left riemann_right riemann_middle riemann_trapezoid|trapezoid" },
};

static void configure(sema_explain_ctx *c, const ast_expr *call, const ir_graph *net, const method_arg *args,
                      explain_spec *spec)
{
    spec->steps = method_has(&args[P_STEPS]) ? (int)args[P_STEPS].number : 50;
    spec->baseline = args[P_BASELINE].number;
    spec->quadrature = method_has(&args[P_QUADRATURE]) ? (ig_quadrature)args[P_QUADRATURE].choice : QUAD_GAUSSLEGENDRE;
}

/* Captum's integration rules on [0, 1]: points alpha_k and weights w_k (sum_k w_k g(alpha_k) ~ integral). */
static void quadrature(ig_quadrature q, int n, double *alpha, double *weight)
{
    if (q == QUAD_GAUSSLEGENDRE) { /* Legendre roots by Newton's method, ascending, mapped to [0, 1] */
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
        default: alpha[k] = (double)k / (n - 1); break; /* trapezoid: end points at half weight */
        }
    }
    if (q == QUAD_TRAPEZOID) weight[0] /= 2, weight[n - 1] /= 2;
}

static ir_graph *build(rules_ctx *c)
{
    ir_graph *g = backward_begin(c);
    if (c->failed) return g;
    const ir_graph *net = c->net;
    const ir_shape *in_shape = &net->nodes[net->input].shape;
    int samples = c->spec->steps, x = net->input;
    ir_node ex = { 0 };
    ex.op = OP_EXPAND;
    ex.shape = *in_shape;
    ex.mult = ex.samples = samples;
    ex.inputs[ex.n_inputs++] = x;
    int ref = backward_reference(c, in_shape);
    double *alpha = malloc(sizeof(double) * samples), *weight = malloc(sizeof(double) * samples);
    quadrature(c->spec->quadrature, samples, alpha, weight);
    ex.expand = EXPAND_PATH;
    ex.inputs[ex.n_inputs++] = ref;
    ex.weight = backward_vector(c, "ig_alphas", alpha, samples);
    int expanded = ir_graph_add_node(g, &ex);
    g->sample_first = expanded;
    g->samples = g->chunk = samples;
    free(c->fwd);
    c->fwd = backward_forward_copy(c, expanded, samples);
    c->mult = samples;
    backward_seed(c);
    backward_propagate(c, -1);
    int at, out = backward_result(c, -1, &at);
    if (!c->failed) { /* the quadrature's weighted sum of the path's gradients, times (x - baseline) */
        ir_node red = { 0 };
        red.op = OP_REDUCE;
        red.reduce = REDUCE_PATH;
        red.shape = *in_shape;
        red.mult = 1;
        red.samples = samples;
        red.weight = backward_vector(c, "ig_weights", weight, samples);
        red.inputs[red.n_inputs++] = out;
        red.inputs[red.n_inputs++] = x;
        red.inputs[red.n_inputs++] = ref;
        out = g->sample_last = ir_graph_add_node(g, &red);
    }
    free(alpha);
    free(weight);
    return backward_finish(c, out);
}

const method_def method_integrated_gradients = {
    .name = "integrated_gradients",
    .id = METHOD_IG,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .settings = SETTING_RULES | SETTING_FROM,
    .seeds = (1u << SEED_LOGIT) | (1u << SEED_SOFTMAX) | (1u << SEED_RELU_LOGIT) | (1u << SEED_SUM),
    .seed_is_gradient = 1,
    .default_rule = method_gradient_default_rule,
    .configure = configure,
    .build = build,
};
