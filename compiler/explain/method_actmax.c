/* method activation_maximization(steps, lambda, lr, optimizer, generator, center, beta1, beta2, epsilon,
 * objective): class prototypes by gradient ascent on log p(class | x) (or the class's logit with
 * objective=logit) - lambda/2 ||x - c||^2, the whole loop (Adam or
 * plain ascent) in the generated entry (codegen/cg_actmax.c). With generator=G the search runs in G's code
 * space: G composed in front of the classifier, the gradient flowing through both. docs/activation_maximization.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "method.h"

enum { P_STEPS, P_LAMBDA, P_LR, P_OPTIMIZER, P_GENERATOR, P_CENTER, P_BETA1, P_BETA2, P_EPSILON, P_OBJECTIVE };

static const method_param params[] = {
    [P_STEPS] = { "steps", MP_INT, 1, 100000000 },
    [P_LAMBDA] = { "lambda", MP_NUMBER, 0 },
    [P_LR] = { "lr", MP_NUMBER, 0, .min_open = 1 },
    [P_OPTIMIZER] = { "optimizer", MP_CHOICE, .choices = "adam gradient_ascent" },
    [P_GENERATOR] = { "generator", MP_NETWORK },
    [P_CENTER] = { "center", MP_CHOICE, .choices = "start zero" },
    [P_BETA1] = { "beta1", MP_NUMBER, 0, 1, .max_open = 1 },
    [P_BETA2] = { "beta2", MP_NUMBER, 0, 1, .max_open = 1 },
    [P_EPSILON] = { "epsilon", MP_NUMBER, 0, .min_open = 1 },
    [P_OBJECTIVE] = { "objective", MP_CHOICE, .choices = "log_softmax logit" },
};

/* The generator: another network of the program whose output has as many values as the classifier's input;
 * each of its layers differentiates by its true gradient. */
static void bind_generator(sema_explain_ctx *c, const method_arg *arg, const ir_graph *g, explain_spec *spec)
{
    const ir_graph *gen = c->module->graphs[arg->network];
    xai_loc at = arg->given->value->loc;
    if (gen == g) {
        diag_error(c->d, at, "network '%s' cannot be its own generator", g->name);
        return;
    }
    const ir_shape *out = &gen->nodes[gen->output].shape, *in = &g->nodes[g->input].shape;
    if (ir_shape_count(out) != ir_shape_count(in)) {
        char so[64], si[64];
        diag_error(c->d, at,
                   "generator '%s' outputs %s (%lld values), but network '%s' takes %s %s "
                   "(%lld values): the generator's output must be the classifier's input",
                   gen->name, ir_shape_str(out, so, sizeof so), (long long)ir_shape_count(out), g->name,
                   g->nodes[g->input].name, ir_shape_str(in, si, sizeof si), (long long)ir_shape_count(in));
        return;
    }
    if (gen->nodes[gen->input].shape.rank < 1) return;
    const ast_rule *r = sx_find_rule(c, "gradient");
    if (!r) {
        diag_error(c->d, at, "the rule 'gradient' is missing from the prelude");
        return;
    }
    spec->generator_rules = sx_alloc(c->set, sizeof(rule_use) * (gen->n_nodes + 1));
    for (int i = 0; i < gen->n_nodes; i++) {
        if (!sx_takes_rule(gen, i)) continue;
        const ir_node *n = &gen->nodes[i];
        const char *op = sx_selector(n);
        if (!sx_rule_applies(r, op)) {
            diag_error(c->d, n->loc,
                       "layer '%s' of generator '%s' is a %s, which activation maximisation cannot "
                       "differentiate",
                       n->name, gen->name, op);
            return;
        }
        rx *body = sx_instantiate(c, r, NULL, NULL, r->loc);
        if (body) spec->generator_rules[i] = (rule_use){ r->name, body, r->loc };
    }
    spec->generator = arg->network;
    spec->am.generator = gen->name;
}

static void configure(sema_explain_ctx *c, const ast_expr *call, const ir_graph *net, const method_arg *args,
                      explain_spec *spec)
{
    ir_am *am = &spec->am;
    am->steps = method_has(&args[P_STEPS]) ? (int)args[P_STEPS].number : 5000; /* the seed's notebook 1.1 */
    am->lambda = method_has(&args[P_LAMBDA]) ? args[P_LAMBDA].number : 0.1;
    am->lr = method_has(&args[P_LR]) ? args[P_LR].number : 0.001;
    am->optimizer = method_has(&args[P_OPTIMIZER]) ? (am_optimizer)args[P_OPTIMIZER].choice : AM_ADAM;
    am->center = method_has(&args[P_CENTER]) ? (am_center)args[P_CENTER].choice : AM_CENTER_START;
    am->beta1 = method_has(&args[P_BETA1]) ? args[P_BETA1].number : 0.9;
    am->beta2 = method_has(&args[P_BETA2]) ? args[P_BETA2].number : 0.999;
    am->epsilon = method_has(&args[P_EPSILON]) ? args[P_EPSILON].number : 1e-8;
    am->objective_logit = method_has(&args[P_OBJECTIVE]) && args[P_OBJECTIVE].choice == 1;
    if (method_has(&args[P_GENERATOR])) bind_generator(c, &args[P_GENERATOR], net, spec);
    /* the code of a generator is regularised towards 0 (||z||^2), an image towards where it started */
    if (spec->generator >= 0 && !args[P_CENTER].given) am->center = AM_CENTER_ZERO;
    const int adam_only[] = { P_BETA1, P_BETA2, P_EPSILON };
    for (int i = 0; i < 3; i++)
        if (args[adam_only[i]].given && am->optimizer != AM_ADAM)
            diag_error(c->d, args[adam_only[i]].given->name_loc, "%s is a parameter of optimizer=adam",
                       params[adam_only[i]].name);
}

/* ---- the generator in front of the classifier: one network to differentiate ---- */

/* A copy of a generator's constant, owned by the composed graph and always embedded: the generator's
 * weights live in its own file, not in the one the classifier binds with --weights=external. */
static ir_const *embedded_copy(ir_graph *g, const ir_const *k)
{
    if (!k) return NULL;
    ir_const *copy = ir_graph_new_const(g, k->name, k->rank, k->shape);
    memcpy(copy->data, k->data, sizeof(float) * k->count);
    copy->file_offset = -1;
    return copy;
}

static ir_graph *compose(const ir_graph *gen, const ir_graph *cls, const rule_use *gen_rules, const rule_use *cls_rules,
                         rule_use **rules_out, int *image)
{
    ir_graph *g = ir_graph_new(cls->name);
    int *map = malloc(sizeof(int) * (gen->n_nodes + cls->n_nodes));
    rule_use *rules = calloc(gen->n_nodes + cls->n_nodes + 2, sizeof *rules);
    for (int i = 0; i < gen->n_nodes; i++) {
        ir_node n = gen->nodes[i];
        char name[512];
        snprintf(name, sizeof name, "%s.%s", gen->name, n.name ? n.name : "?"); /* no clash with the classifier */
        n.name = name;
        n.alias = NULL;
        for (int k = 0; k < n.n_inputs; k++) n.inputs[k] = map[n.inputs[k]];
        n.weight = embedded_copy(g, n.weight);
        n.bias = embedded_copy(g, n.bias);
        map[i] = ir_graph_add_node(g, &n);
        rules[map[i]] = gen_rules[i];
    }
    g->input = map[gen->input];
    int out = map[gen->output];
    const ir_shape *in_shape = &cls->nodes[cls->input].shape;
    if (memcmp(&g->nodes[out].shape, in_shape, sizeof *in_shape)) { /* same count (checked): a view */
        ir_node view = { 0 };
        view.op = OP_FLATTEN;
        view.name = cls->nodes[cls->input].name;
        view.shape = *in_shape;
        view.inputs[view.n_inputs++] = out;
        out = ir_graph_add_node(g, &view);
    }
    *image = out;
    int *cmap = map + gen->n_nodes;
    for (int i = 0; i < cls->n_nodes; i++) {
        if (i == cls->input) {
            cmap[i] = out;
            continue;
        }
        ir_node n = cls->nodes[i];
        for (int k = 0; k < n.n_inputs; k++) n.inputs[k] = cmap[n.inputs[k]];
        cmap[i] = ir_graph_add_node(g, &n);
        rules[cmap[i]] = cls_rules[i];
    }
    g->output = cmap[cls->output];
    g->output_name = strdup(cls->output_name ? cls->output_name : "");
    free(map);
    *rules_out = rules;
    return g;
}

static void adopt(ir_graph *expl, ir_graph *composed)
{
    for (int i = 0; i < composed->n_consts; i++) {
        if (expl->n_consts == expl->cap_consts) {
            expl->cap_consts = expl->cap_consts ? 2 * expl->cap_consts : 16;
            expl->consts = realloc(expl->consts, sizeof *expl->consts * expl->cap_consts);
        }
        expl->consts[expl->n_consts++] = composed->consts[i];
    }
    composed->n_consts = 0;
    ir_graph_free(composed);
}

static ir_graph *build(rules_ctx *c)
{
    const ir_graph *net = c->net;
    const explain_spec *spec = c->spec;
    ir_graph *composed = NULL;
    rule_use *composed_rules = NULL;
    explain_spec local = *spec;
    if (spec->am.objective_logit) local.seed = SEED_ONE; /* d logit_t / d logits = onehot(t) */
    c->spec = &local;
    int image = net->input;
    if (spec->generator >= 0) { /* differentiate generator + classifier */
        composed = compose(c->module->graphs[spec->generator], net, spec->generator_rules, spec->rules, &composed_rules,
                           &image);
        local.rules = composed_rules;
        c->net = composed;
    }
    ir_graph *g = backward_begin(c);
    if (!c->failed) {
        backward_seed(c);
        backward_propagate(c, -1);
        int at, out = backward_result(c, -1, &at);
        g = backward_finish(c, out);
    }
    g->am = spec->am;
    g->am.enabled = 1;
    g->has_options = 1; /* steps, centre, code output, progress */
    g->am.image = image;
    g->am.logits = c->top;
    if (composed) {
        g->network = net;
        adopt(g, composed);
        free(composed_rules);
        c->net = net;
    }
    c->spec = spec;
    return g;
}

const method_def method_activation_maximization = {
    .name = "activation_maximization",
    .id = METHOD_ACTMAX,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .seed_refusal = "activation_maximization maximises log p(class | x), or the logit with objective=logit; it takes "
                    "no seed",
    .own_seed = SEED_LOG_SOFTMAX_GRAD,
    .default_rule = method_gradient_default_rule,
    .configure = configure,
    .build = build,
};
