/* method activation_maximization(steps, lambda, lr, optimizer, generator, ...): its settings, and the
 * generator network whose code space it searches (composed in front of the classifier by the rules stage). */
#include <stdlib.h>
#include <string.h>

#include "sema_explain.h"

static const char *const actmax_params[] = {"steps", "lambda", "lr", "optimizer", "generator", "center", "beta1",
                                            "beta2", "epsilon"};
enum { P_STEPS, P_LAMBDA, P_LR, P_OPTIMIZER, P_GENERATOR, P_CENTER, P_BETA1, P_BETA2, P_EPSILON, P_COUNT };

static int network_index(const ir_module *m, const char *name)
{
    for (int i = 0; i < m->n_graphs; i++)
        if (!strcmp(m->graphs[i]->name, name)) return i;
    return -1;
}

/* The generator: a network of the program whose output has as many values as the classifier's input. */
static void bind_generator(sema_explain_ctx *c, const ast_arg *arg, const ir_graph *g, explain_spec *spec)
{
    if (arg->value->kind != EX_IDENT) {
        diag_error(c->d, arg->value->loc, "generator takes the name of a network, e.g. generator=mnist_gen");
        return;
    }
    int k = network_index(c->module, arg->value->text);
    if (k < 0) {
        diag_error(c->d, arg->value->loc, "no network '%s' (the generator is a network declared in this file or an "
                   "imported one)", arg->value->text);
        return;
    }
    const ir_graph *gen = c->module->graphs[k];
    if (gen == g) {
        diag_error(c->d, arg->value->loc, "network '%s' cannot be its own generator", g->name);
        return;
    }
    const ir_shape *out = &gen->nodes[gen->output].shape, *in = &g->nodes[g->input].shape;
    if (ir_shape_count(out) != ir_shape_count(in)) {
        char so[64], si[64];
        diag_error(c->d, arg->value->loc, "generator '%s' outputs %s (%lld values), but network '%s' takes %s %s "
                   "(%lld values): the generator's output must be the classifier's input", gen->name,
                   ir_shape_str(out, so, sizeof so), (long long)ir_shape_count(out), g->name,
                   g->nodes[g->input].name, ir_shape_str(in, si, sizeof si), (long long)ir_shape_count(in));
        return;
    }
    if (gen->nodes[gen->input].shape.rank < 1) return;
    /* every layer of the generator differentiates by its true gradient */
    const ast_rule *r = sx_find_rule(c, "gradient");
    if (!r) {
        diag_error(c->d, arg->value->loc, "the rule 'gradient' is missing from the prelude");
        return;
    }
    spec->generator_rules = sx_alloc(c->set, sizeof(rule_use) * (gen->n_nodes + 1));
    for (int i = 0; i < gen->n_nodes; i++) {
        if (!sx_takes_rule(gen, i)) continue;
        const ir_node *n = &gen->nodes[i];
        const char *op = n->op == OP_AFFINE ? "batchnorm" : ir_op_name(n->op);
        if (!sx_rule_applies(r, op)) {
            diag_error(c->d, n->loc, "layer '%s' of generator '%s' is a %s, which activation maximisation cannot "
                       "differentiate", n->name, gen->name, op);
            return;
        }
        rx *body = sx_instantiate(c, r, NULL, NULL);
        if (body) spec->generator_rules[i] = (rule_use){r->name, body, r->loc};
    }
    spec->generator = k;
    spec->am.generator = gen->name;
}

void sx_actmax_method(sema_explain_ctx *c, const ast_expr *v, const ir_graph *g, explain_spec *spec)
{
    ir_am *am = &spec->am;
    am->steps = 5000;     /* the seed's notebook 1.1 */
    am->lambda = 0.1;
    am->lr = 0.001;
    am->beta1 = 0.9, am->beta2 = 0.999, am->epsilon = 1e-8;
    am->optimizer = AM_ADAM;
    am->center = AM_CENTER_START;
    int have_center = 0;
    const ast_arg *seen[P_COUNT] = {0};
    for (int a = 0; v->kind == EX_CALL && a < v->n_args; a++) {
        const ast_arg *arg = &v->args[a];
        if (!arg->name) {
            diag_error(c->d, arg->value->loc, "method arguments are named, e.g. activation_maximization(steps=1000)");
            continue;
        }
        int p;
        for (p = 0; p < P_COUNT && strcmp(actmax_params[p], arg->name); p++) {}
        if (p == P_COUNT) {
            diag_error(c->d, arg->name_loc, "method activation_maximization has no parameter '%s'; it takes steps, "
                       "lambda, lr, optimizer, generator, center, beta1, beta2 and epsilon", arg->name);
            continue;
        }
        if (seen[p]) {
            diag_error(c->d, arg->name_loc, "%s is given twice", arg->name);
            continue;
        }
        seen[p] = arg;
        double x;
        int k;
        switch (p) {
        case P_STEPS:
            if (sx_method_number(c, arg, 1, 1, &x)) {
                if (x > 1e8) diag_error(c->d, arg->value->loc, "steps is larger than 100000000");
                else am->steps = (int)x;
            }
            break;
        case P_LAMBDA: if (sx_method_number(c, arg, 0, 0, &x)) am->lambda = x; break;
        case P_LR:
            if (sx_method_number(c, arg, 0, 0, &x)) {
                if (x <= 0) diag_error(c->d, arg->value->loc, "lr must be > 0");
                else am->lr = x;
            }
            break;
        case P_OPTIMIZER: {
            static const char *const names[] = {"adam", "gradient_ascent"};
            if ((k = sx_method_choice(c, arg, names, 2)) >= 0) am->optimizer = (am_optimizer)k;
            break;
        }
        case P_GENERATOR: bind_generator(c, arg, g, spec); break;
        case P_CENTER: {
            static const char *const names[] = {"start", "zero"};
            if ((k = sx_method_choice(c, arg, names, 2)) >= 0) am->center = (am_center)k, have_center = 1;
            break;
        }
        case P_BETA1: case P_BETA2:
            if (sx_method_number(c, arg, 0, 0, &x)) {
                if (x >= 1) diag_error(c->d, arg->value->loc, "%s must be in [0, 1)", arg->name);
                else if (p == P_BETA1) am->beta1 = x;
                else am->beta2 = x;
            }
            break;
        case P_EPSILON:
            if (sx_method_number(c, arg, 0, 0, &x)) {
                if (x <= 0) diag_error(c->d, arg->value->loc, "epsilon must be > 0");
                else am->epsilon = x;
            }
            break;
        }
    }
    /* the code of a generator is regularised towards 0 (||z||^2), an image towards where it started */
    if (spec->generator >= 0 && !have_center) am->center = AM_CENTER_ZERO;
    int adam_only[] = {P_BETA1, P_BETA2, P_EPSILON};
    for (int i = 0; i < 3; i++)
        if (seen[adam_only[i]] && am->optimizer != AM_ADAM)
            diag_error(c->d, seen[adam_only[i]]->name_loc, "%s is a parameter of optimizer=adam", actmax_params[adam_only[i]]);
}
