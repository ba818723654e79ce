/* Semantic analysis of explain blocks: settings, selectors and the rule each layer gets.
 * Precedence: layer name > first > op type (in the explain block) > the same in the preset > defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "method.h"

/* a smoothgrad sweep's member: its sweep and place in the grid (check_sweep) */
typedef struct sweep_cell {
    const char *name;
    int row, col, rows, cols;
} sweep_cell;

typedef struct assignment {
    const char *selector;
    xai_loc loc;
    const ast_expr *rule_call; /* EX_IDENT or EX_CALL */
    const sx_env *env;         /* preset parameters, or NULL */
    int from_preset;
    xai_loc site; /* where the user chose it: the assignment, or the `rules PRESET(...)` using it */
    rx *body;     /* instantiated on first use */
    const ast_rule *rule;
    int failed;
    int reported_misfit; /* "cannot apply" is said once per assignment */
} assignment;

enum {
    LEVEL_DEFAULT = 0,
    LEVEL_PRESET_TYPE = 1,
    LEVEL_PRESET_FIRST = 2,
    LEVEL_PRESET_NAME = 3,
    LEVEL_TYPE = 4,
    LEVEL_FIRST = 5,
    LEVEL_NAME = 6
};

/* baseline / reference: zero or a number */

static int node_named(const ir_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if ((g->nodes[i].name && !strcmp(g->nodes[i].name, name)) ||
            (g->nodes[i].alias && !strcmp(g->nodes[i].alias, name)))
            return i;
    return -1;
}

/* Marks the nodes a selector picks and returns its precedence level, or -1 after reporting. */
static int select_nodes(sema_explain_ctx *c, const ir_graph *g, const assignment *a, char *picked)
{
    memset(picked, 0, g->n_nodes);
    int by_name = node_named(g, a->selector);
    int by_type = ir_op_from_selector(a->selector) >= 0;
    if (by_name >= 0 && by_type) {
        diag_error(c->d, a->loc, "'%s' is both a layer of network '%s' and an op type; rename the layer", a->selector,
                   g->name);
        return -1;
    }
    if (by_name >= 0) {
        if (!sx_takes_rule(g, by_name)) {
            diag_error(c->d, a->loc, "layer '%s' is a %s, which takes no rule", a->selector,
                       ir_op_name(g->nodes[by_name].op));
            return -1;
        }
        picked[by_name] = 1;
        return a->from_preset ? LEVEL_PRESET_NAME : LEVEL_NAME;
    }
    if (!strcmp(a->selector, "first") || !strncmp(a->selector, "first_", 6)) {
        const char *op = a->selector[5] ? a->selector + 6 : NULL;
        if (op && ir_op_from_selector(op) < 0) {
            diag_error(c->d, a->loc, "'%s': after first_ comes an op type such as conv2d", a->selector);
            return -1;
        }
        for (int i = 0; i < g->n_nodes; i++)
            if (op ? !strcmp(sx_selector(&g->nodes[i]), op) : ir_op_is(g->nodes[i].op, OPF_WEIGHTED)) {
                picked[i] = 1;
                break;
            }
        return a->from_preset ? LEVEL_PRESET_FIRST : LEVEL_FIRST;
    }
    if (by_type) {
        for (int i = 0; i < g->n_nodes; i++) picked[i] = !strcmp(sx_selector(&g->nodes[i]), a->selector);
        return a->from_preset ? LEVEL_PRESET_TYPE : LEVEL_TYPE;
    }
    if (a->from_preset) return -2; /* a preset may name layers some networks do not have */
    char ops[256];
    sx_rule_ops(ops, sizeof ops);
    diag_error(c->d, a->loc, "'%s' is neither a layer of network '%s' nor an op type (%s), first or first_<op>",
               a->selector, g->name, ops);
    return -1;
}

static rx *assignment_body(sema_explain_ctx *c, assignment *a)
{
    if (a->body || a->failed) return a->body;
    const char *name = a->rule_call->kind == EX_CALL || a->rule_call->kind == EX_IDENT ? a->rule_call->text : NULL;
    if (!name) {
        diag_error(c->d, a->rule_call->loc, "expected a rule, such as epsilon(0.01) or zplus");
        a->failed = 1;
        return NULL;
    }
    a->rule = sx_find_rule(c, name);
    if (!a->rule) {
        diag_error(c->d, a->rule_call->loc, "unknown rule '%s'", name);
        a->failed = 1;
        return NULL;
    }
    a->body = sx_instantiate(c, a->rule, a->rule_call, a->env, a->site); /* an identifier: no arguments */
    if (!a->body) a->failed = 1;
    return a->body;
}

static void add_assignment(assignment **list, int *n, const ast_explain_stmt *s, const sx_env *env, int from_preset,
                           xai_loc site)
{
    *list = realloc(*list, sizeof **list * (*n + 1));
    (*list)[(*n)++] = (assignment){ s->key, s->key_loc, s->value, env, from_preset, site, NULL, NULL, 0, 0 };
}

/* rules PRESET(args); -> the preset's assignments, its parameters bound */
static void expand_preset(sema_explain_ctx *c, const ast_explain_stmt *s, assignment **list, int *n)
{
    const ast_expr *call = s->value;
    if (call->kind != EX_IDENT && call->kind != EX_CALL) {
        diag_error(c->d, call->loc, "`rules` takes a preset, such as epsilon_plus or epsilon_gamma_box(low=0, high=1)");
        return;
    }
    const ast_preset *p = sx_find_preset(c, call->text);
    if (!p) {
        diag_error(c->d, call->loc,
                   "unknown preset '%s'; built-in presets are epsilon_plus, epsilon_plus_flat, "
                   "epsilon_gamma_box, epsilon_alpha2_beta1, epsilon_alpha2_beta1_flat, excitation_backprop",
                   call->text);
        return;
    }
    sx_env *env = sx_alloc(c->set, sizeof *env);
    if (!sx_bind(c, "preset", p->name, p->params, p->n_params, call->kind == EX_CALL ? call : NULL, NULL, env)) return;
    for (int i = 0; i < p->n_stmts; i++) {
        if (p->stmts[i].kind != ES_ASSIGN) {
            diag_error(c->d, p->stmts[i].loc, "a preset holds only assignments such as `conv2d: zplus;`");
            continue;
        }
        add_assignment(list, n, &p->stmts[i], env, 1, call->loc);
    }
}

/* post power(p): the exponent, a number > 0 and at most 64 (the seed's sensitivity maps are g^2 and g^4) */
static double post_power(sema_explain_ctx *c, const ast_expr *call)
{
    const ast_expr *p = call->n_args == 1 && !call->args[0].name ? call->args[0].value : NULL;
    if (!p || p->kind != EX_NUMBER || !(p->number > 0.0 && p->number <= 64.0)) {
        diag_error(c->d, p ? p->loc : call->loc, "`post power(p)` takes one number p in (0, 64], e.g. power(4)");
        return 1.0;
    }
    return p->number;
}

static int setting_ident(sema_explain_ctx *c, const ast_explain_stmt *s, const char *const *allowed, int n)
{
    if (s->value->kind == EX_IDENT)
        for (int i = 0; i < n; i++)
            if (!strcmp(allowed[i], s->value->text)) return i;
    char list[256] = "";
    size_t used = 0;
    for (int i = 0; i < n; i++) used += snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", allowed[i]);
    diag_error(c->d, s->value->loc, "`%s` takes one of %s", s->key, list);
    return -1;
}

/* method NAME or NAME(key = value, ...): the method's arguments bound and configured into spec */
static void parse_method(sema_explain_ctx *c, const ast_expr *v, const ir_graph *g, explain_spec *spec)
{
    char names[512];
    method_names(0, names, sizeof names);
    if (v->kind != EX_IDENT && v->kind != EX_CALL) {
        diag_error(c->d, v->loc, "`method` takes one of %s, with its arguments in parentheses", names);
        return;
    }
    const method_def *m = method_find(v->text);
    if (!m) {
        diag_error(c->d, v->loc, "method '%s' is not available in this version of xaic; it generates %s", v->text,
                   names);
        return;
    }
    spec->method = m->id;
    method_arg args[METHOD_MAX_PARAMS];
    method_bind(c, m, v, g, args);
    if (m->configure) m->configure(c, v, g, args, spec);
}

/* "the logit (seed logit), ... or max(logit, 0) (seed relu_logit)": what a method's seeds explain */
static void seed_choices(unsigned seeds, char *buf, size_t len)
{
    static const char *const what[] = { [SEED_LOGIT] = "the logit (seed logit)",
                                        [SEED_ONE] = "1 at the class (seed one)",
                                        [SEED_SOFTMAX] = "the softmax probability (seed softmax)",
                                        [SEED_RELU_LOGIT] = "max(logit, 0) (seed relu_logit)",
                                        [SEED_SUM] = "the sum of all logits (seed sum)" };
    int total = 0, n = 0;
    for (int s = SEED_LOGIT; s <= SEED_SUM; s++) total += (seeds >> s) & 1;
    size_t used = 0;
    buf[0] = 0;
    for (int s = SEED_LOGIT; s <= SEED_SUM && used < len; s++)
        if ((seeds >> s) & 1)
            used += snprintf(buf + used, len - used, "%s%s", !n++ ? "" : n == total ? " or " : ", ", what[s]);
}

/* `from L`: the layer whose channel (first axis) the target names; -1 (reported) when not one */
static int from_layer(sema_explain_ctx *c, const ast_expr *v, const ir_graph *g)
{
    if (v->kind != EX_IDENT) {
        diag_error(c->d, v->loc, "`from` takes a layer name");
        return -1;
    }
    int node = node_named(g, v->text);
    if (node < 0) {
        diag_error(c->d, v->loc, "`from`: no layer '%s' in network '%s'", v->text, g->name);
        return -1;
    }
    if (node == g->input) {
        diag_error(c->d, v->loc, "`from %s`: that is the input; the backward pass must start at a layer", v->text);
        return -1;
    }
    if (node == g->output && ir_op_is(g->nodes[node].op, OPF_HEAD)) {
        diag_error(c->d, v->loc, "`from %s`: explanations start at the logits, not at the %s that follows them",
                   v->text, ir_op_name(g->nodes[node].op));
        return -1;
    }
    return node;
}

static void check_explain(sema_explain_ctx *c, const ast_explain *ex, const ir_module *m, int net_index)
{
    const ir_graph *g = m->graphs[net_index];
    c->net = g;
    explain_spec spec = { 0 };
    spec.name = sx_alloc(c->set, strlen(ex->name) + 1);
    strcpy(spec.name, ex->name);
    spec.loc = ex->loc;
    spec.network = net_index;
    spec.method = METHOD_LRP;
    spec.seed = SEED_LOGIT;
    spec.at_node = -1;
    spec.from_node = -1;
    spec.generator = -1;
    int errors = c->d->errors;
    assignment *list = NULL;
    int n = 0;
    const ast_explain_stmt *seen[6] = { 0 };
    static const char *const settings[] = { "method", "seed", "rules", "at", "post", "from" };
    for (int i = 0; i < ex->n_stmts; i++) {
        const ast_explain_stmt *s = &ex->stmts[i];
        if (s->kind == ES_ASSIGN) continue;
        int k;
        for (k = 0; k < 6 && strcmp(settings[k], s->key); k++) {}
        if (k == 6) {
            diag_error(c->d, s->key_loc,
                       "unknown setting '%s'; an explain block takes method, seed, rules, at, from, post "
                       "and rule assignments `selector: rule;`",
                       s->key);
            continue;
        }
        if (seen[k]) {
            diag_error(c->d, s->key_loc, "`%s` is given twice", s->key);
            diag_note(c->d, seen[k]->key_loc, "first given here");
            continue;
        }
        seen[k] = s;
        if (k == 0) {
            parse_method(c, s->value, g, &spec);
        } else if (k == 1) {
            static const char *const seeds[] = { "logit", "one", "softmax", "relu_logit", "sum" };
            int v = setting_ident(c, s, seeds, 5);
            if (v >= 0) spec.seed = (ir_seed)v;
        } else if (k == 2) {
            expand_preset(c, s, &list, &n);
        } else if (k == 3) {
            if (s->value->kind != EX_IDENT) {
                diag_error(c->d, s->value->loc, "`at` takes a layer name");
                continue;
            }
            int node = node_named(g, s->value->text);
            if (node < 0)
                diag_error(c->d, s->value->loc, "`at`: no layer '%s' in network '%s'", s->value->text, g->name);
            else
                spec.at_node = node == g->input ? -1 : node;
        } else if (k == 5) {
            spec.from_node = from_layer(c, s->value, g);
        } else if (s->value->kind == EX_CALL && !strcmp(s->value->text, "power")) {
            spec.post = POST_POWER;
            spec.post_power = post_power(c, s->value);
        } else if (s->value->kind == EX_IDENT && !strcmp(s->value->text, "power")) {
            diag_error(c->d, s->value->loc, "`post power` needs its exponent: power(p), e.g. power(4)");
        } else { /* power(p) last: it never matches an identifier, but the message lists it */
            static const char *const posts[] = { "none", "abs", "square", "times_input", "power(p)" };
            int v = setting_ident(c, s, posts, 5);
            if (v >= 0) spec.post = (explain_post)v;
        }
    }
    /* what the method accepts */
    const method_def *meth = method_of(spec.method);
    char msg[512];
    if (seen[1] && !((meth->seeds >> spec.seed) & 1)) {
        if (meth->seed_refusal)
            diag_error(c->d, meth->seeds ? seen[1]->value->loc : seen[1]->key_loc, "%s", meth->seed_refusal);
        else {
            seed_choices(meth->seeds, msg, sizeof msg);
            diag_error(c->d, seen[1]->value->loc, "method %s explains %s", meth->name, msg);
        }
    }
    if (!meth->seeds)
        spec.seed = meth->own_seed;
    else if (meth->seed_is_gradient) /* the gradient of the chosen output seeds the backward pass */
        spec.seed = spec.seed == SEED_SOFTMAX ? SEED_SOFTMAX_GRAD
            : spec.seed == SEED_RELU_LOGIT    ? SEED_RELU_GRAD
            : spec.seed == SEED_SUM           ? SEED_SUM_GRAD
                                              : SEED_ONE;
    if (!(meth->settings & SETTING_RULES))
        for (int i = 0; i < ex->n_stmts; i++)
            if (ex->stmts[i].kind == ES_ASSIGN || (seen[2] && &ex->stmts[i] == seen[2])) {
                diag_error(c->d, ex->stmts[i].key_loc,
                           "%s follows the true gradient of its objective; rules do not "
                           "apply to it",
                           meth->name);
                break;
            }
    if (seen[4] && !(meth->settings & SETTING_POST)) {
        method_names(SETTING_POST, msg, sizeof msg);
        diag_error(c->d, seen[4]->key_loc, "`post` applies to methods %s", msg);
    }
    if (seen[5] && !(meth->settings & SETTING_FROM)) {
        method_names(SETTING_FROM, msg, sizeof msg);
        diag_error(c->d, seen[5]->key_loc, "`from` applies to methods %s", msg);
    } else if (spec.from_node >= 0 && seen[1] && (spec.seed == SEED_SOFTMAX || spec.seed == SEED_SOFTMAX_GRAD)) {
        diag_error(c->d, seen[1]->value->loc,
                   "`seed softmax` needs the network's logits; from layer '%s' the seed is logit, one, "
                   "relu_logit or sum",
                   g->nodes[spec.from_node].name);
    }
    if (seen[3] && !(meth->settings & SETTING_AT)) {
        method_names(SETTING_AT, msg, sizeof msg);
        diag_error(c->d, seen[3]->key_loc, "`at` applies to methods %s", msg);
    } else if (seen[3] && spec.at_node >= spec.from_node && spec.from_node >= 0) {
        diag_error(c->d, seen[3]->value->loc, "`at %s`: not before layer '%s', where the backward pass starts (`from`)",
                   g->nodes[spec.at_node].name, g->nodes[spec.from_node].name);
    }
    for (int i = 0; i < ex->n_stmts; i++)
        if (ex->stmts[i].kind == ES_ASSIGN) add_assignment(&list, &n, &ex->stmts[i], NULL, 0, ex->stmts[i].value->loc);

    /* the best assignment for each node; later ones win at the same level */
    int *best = malloc(sizeof(int) * g->n_nodes), *level = malloc(sizeof(int) * g->n_nodes);
    char *picked = malloc(g->n_nodes + 1);
    for (int i = 0; i < g->n_nodes; i++) best[i] = -1, level[i] = LEVEL_DEFAULT;
    for (int a = 0; a < n; a++) {
        int lv = select_nodes(c, g, &list[a], picked);
        if (lv < 0) continue;
        int any = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            if (!picked[i] || !sx_takes_rule(g, i)) continue;
            any = 1;
            if (lv >= level[i]) {
                best[i] = a;
                level[i] = lv;
            }
        }
        if (!any && !list[a].from_preset)
            diag_warning(c->d, list[a].loc, "no layer of network '%s' is selected by '%s'", g->name, list[a].selector);
    }
    spec.rules = sx_alloc(c->set, sizeof(rule_use) * (g->n_nodes + 1));
    for (int i = 0; i < g->n_nodes; i++) {
        if (!sx_takes_rule(g, i)) continue;
        const ir_node *node = &g->nodes[i];
        const char *op = sx_selector(node);
        if (best[i] >= 0) {
            assignment *a = &list[best[i]];
            rx *body = assignment_body(c, a);
            if (!body) continue;
            if (!sx_rule_applies(a->rule, op)) {
                if (a->reported_misfit) continue;
                a->reported_misfit = 1;
                char ops[256] = "";
                size_t used = 0;
                for (int k = 0; k < a->rule->n_ops; k++)
                    used += snprintf(ops + used, sizeof ops - used, "%s%s", k ? ", " : "", a->rule->ops[k]);
                diag_error(c->d, a->loc, "rule '%s' cannot apply to layer '%s', a %s: it is declared on %s",
                           a->rule->name, node->name, op, ops);
                continue;
            }
            spec.rules[i] = (rule_use){ a->rule->name, body, a->loc };
        } else {
            const char *name = meth->default_rule(node);
            const ast_rule *r = name ? sx_find_rule(c, name) : NULL;
            if (!r) {
                diag_error(c->d, ex->loc, "the default rule '%s' for %s layers is missing from the prelude",
                           name ? name : "?", op);
                continue;
            }
            rx *body = sx_instantiate(c, r, NULL, NULL, r->loc);
            if (body) spec.rules[i] = (rule_use){ r->name, body, r->loc };
        }
    }
    free(best);
    free(level);
    free(picked);
    free(list);
    if (c->cell) {
        spec.sweep = c->cell->name;
        spec.sweep_row = c->cell->row, spec.sweep_col = c->cell->col;
        spec.sweep_rows = c->cell->rows, spec.sweep_cols = c->cell->cols;
    }
    for (int s = 0; s < c->set->n_specs; s++)
        if (!strcmp(c->set->specs[s].name, spec.name)) {
            diag_error(c->d, ex->loc, "explanation '%s' is defined twice (%s); rename one of them", spec.name,
                       spec.sweep || c->set->specs[s].sweep ? "as a member of a smoothgrad sweep" : "");
            diag_note(c->d, c->set->specs[s].loc, "first defined here");
        }
    if (c->d->errors > errors) return;
    c->set->specs = realloc(c->set->specs, sizeof *c->set->specs * (c->set->n_specs + 1));
    c->set->specs[c->set->n_specs++] = spec;
}

#define SWEEP_MAX_MEMBERS 256

/* A smoothgrad sweep: `method smoothgrad(noise=[a, b, ...], samples=[m, n, ...])` (noise or sigma, samples,
 * either or both lists) is checked as one explain block per combination, noise-major, named NAME_0, NAME_1, ...
 * with each list replaced by one of its values; every other setting (seed included) is shared, so members with
 * the same noise draw the same noise numbers (the running-mean view, docs/gradients.md). Returns 0 when the
 * block holds no list (an ordinary block), else 1 (members checked, or the sweep reported). */
static int check_sweep(sema_explain_ctx *c, const ast_explain *ex, const ir_module *m, int net)
{
    int method = -1;
    for (int i = 0; i < ex->n_stmts; i++)
        if (ex->stmts[i].kind != ES_ASSIGN && !strcmp(ex->stmts[i].key, "method")) method = i;
    const ast_expr *call = method >= 0 ? ex->stmts[method].value : NULL;
    if (!call || call->kind != EX_CALL) return 0;
    int row = -1, col = -1, lists = 0, errors = c->d->errors;
    for (int a = 0; a < call->n_args; a++) {
        const ast_arg *arg = &call->args[a];
        if (arg->value->kind != EX_LIST || !arg->name) continue; /* unnamed: method_bind reports it */
        lists++;
        if (strcmp(call->text, "smoothgrad")) {
            diag_error(c->d, arg->value->loc,
                       "method %s takes single values; a list of values (a sweep) is for smoothgrad's noise, "
                       "sigma and samples",
                       call->text);
            return 1;
        }
        int is_row = arg->name && (!strcmp(arg->name, "noise") || !strcmp(arg->name, "sigma"));
        int is_col = arg->name && !strcmp(arg->name, "samples");
        if (!is_row && !is_col) {
            diag_error(c->d, arg->value->loc,
                       "%s takes one value; a smoothgrad sweep lists values of noise (or sigma) and samples only",
                       arg->name);
            continue;
        }
        if (!arg->value->n_items) {
            diag_error(c->d, arg->value->loc, "%s: an empty list; a sweep lists one or more values", arg->name);
            continue;
        }
        if (is_row && row >= 0) continue; /* noise and sigma both given: configure reports it */
        if (is_row)
            row = a;
        else
            col = a;
    }
    if (!lists) return 0;
    if (c->d->errors > errors) return 1;
    int rows = row >= 0 ? call->args[row].value->n_items : 1, cols = col >= 0 ? call->args[col].value->n_items : 1;
    if (rows * cols > SWEEP_MAX_MEMBERS) {
        diag_error(c->d, call->loc, "a sweep of %d x %d = %d explanations; at most %d", rows, cols, rows * cols,
                   SWEEP_MAX_MEMBERS);
        return 1;
    }
    char *sweep = sx_alloc(c->set, strlen(ex->name) + 1);
    strcpy(sweep, ex->name);
    for (int s = 0; s < c->set->n_specs; s++) /* an earlier block named like a member */
        for (int k = 0; k < rows * cols; k++) {
            char name[300];
            snprintf(name, sizeof name, "%s_%d", ex->name, k);
            if (!strcmp(c->set->specs[s].name, name) || !strcmp(c->set->specs[s].name, ex->name)) {
                diag_error(c->d, ex->loc, "sweep '%s' names its explanations %s_0 .. %s_%d, and '%s' is defined too",
                           ex->name, ex->name, ex->name, rows * cols - 1, c->set->specs[s].name);
                diag_note(c->d, c->set->specs[s].loc, "defined here");
                return 1;
            }
        }
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < cols; k++) {
            ast_expr *member_call = sx_alloc(c->set, sizeof *member_call);
            *member_call = *call;
            member_call->args = sx_alloc(c->set, sizeof(ast_arg) * call->n_args);
            memcpy(member_call->args, call->args, sizeof(ast_arg) * call->n_args);
            if (row >= 0) member_call->args[row].value = call->args[row].value->items[r];
            if (col >= 0) member_call->args[col].value = call->args[col].value->items[k];
            ast_explain member = *ex;
            member.stmts = sx_alloc(c->set, sizeof(ast_explain_stmt) * ex->n_stmts);
            memcpy(member.stmts, ex->stmts, sizeof(ast_explain_stmt) * ex->n_stmts);
            member.stmts[method].value = member_call;
            char *name = sx_alloc(c->set, strlen(ex->name) + 16);
            sprintf(name, "%s_%d", ex->name, r * cols + k);
            member.name = name;
            sweep_cell cell = { sweep, r, k, rows, cols };
            c->cell = &cell;
            check_explain(c, &member, m, net);
            c->cell = NULL;
            if (c->d->errors > errors) return 1; /* a bad value: said once, not once per member */
        }
    return 1;
}

explain_set *sema_explanations(xai_diag *d, const xai_program *p, const ir_module *m)
{
    explain_set *set = calloc(1, sizeof *set);
    sema_explain_ctx c = { d, set, NULL, 0, NULL, 0, m, NULL, NULL };
    sx_collect_definitions(&c, p);
    const ast_explain **seen = NULL;
    int n_seen = 0;
    for (int f = 0; f < p->n_files; f++)
        for (int i = 0; i < p->files[f]->n_items; i++) {
            if (p->files[f]->items[i].kind != TOP_EXPLAIN) continue;
            const ast_explain *ex = &p->files[f]->items[i].u.explain;
            int dup = -1;
            for (int k = 0; k < n_seen; k++)
                if (!strcmp(seen[k]->name, ex->name)) dup = k;
            if (dup >= 0) {
                diag_error(d, ex->loc, "explanation '%s' is defined twice; rename one of them", ex->name);
                diag_note(d, seen[dup]->loc, "first defined here");
                continue;
            }
            seen = realloc(seen, sizeof *seen * (n_seen + 1));
            seen[n_seen++] = ex;
            static const char *const reserved[] = { "forward", "workspace_size", "info", "bind_weights" };
            int clash = 0;
            for (int k = 0; k < 4; k++) clash |= !strcmp(ex->name, reserved[k]);
            if (clash) {
                diag_error(d, ex->loc,
                           "an explanation cannot be named '%s': %s_%s is already an entry point of "
                           "every network",
                           ex->name, ex->network, ex->name);
                continue;
            }
            int net = -1;
            for (int k = 0; k < m->n_graphs; k++)
                if (!strcmp(m->graphs[k]->name, ex->network)) net = k;
            if (net < 0) continue; /* unknown network: reported by sema_program; failed networks: already reported */
            if (!check_sweep(&c, ex, m, net)) check_explain(&c, ex, m, net);
        }
    free(seen);
    free(c.rules);
    free(c.presets);
    return set;
}

void explain_set_free(explain_set *s)
{
    if (!s) return;
    for (int i = 0; i < s->n_allocations; i++) free(s->allocations[i]);
    free(s->allocations);
    free(s->specs);
    free(s);
}

int explain_sweep_members(const explain_set *s, const char *name, int *members, int max, int *rows, int *cols)
{
    int n = 0;
    for (int e = 0; e < s->n_specs; e++) {
        const explain_spec *sp = &s->specs[e];
        if (!sp->sweep || strcmp(sp->sweep, name)) continue;
        int k = sp->sweep_row * sp->sweep_cols + sp->sweep_col;
        if (k < max) members[k] = e;
        if (rows) *rows = sp->sweep_rows;
        if (cols) *cols = sp->sweep_cols;
        n++;
    }
    return n;
}

void explain_smoothgrad_text(const explain_spec *sp, char *buf, size_t len)
{
    if (sp->noise >= 0)
        snprintf(buf, len, "noise %g (sigma %g), samples %d", sp->noise, sp->sigma, sp->samples);
    else
        snprintf(buf, len, "sigma %g, samples %d", sp->sigma, sp->samples);
}

void explain_dump(const explain_set *s, const ir_module *m, FILE *out)
{
    for (int e = 0; e < s->n_specs; e++) {
        const explain_spec *sp = &s->specs[e];
        const ir_graph *g = m->graphs[sp->network];
        static const char *const seeds[] = { "logit",
                                             "one",
                                             "softmax",
                                             "relu_logit",
                                             "sum",
                                             "softmax gradient",
                                             "log-softmax gradient",
                                             "relu gradient",
                                             "gradient of the sum" };
        fprintf(out, "explain %s for %s: %s, seed %s%s%s, relevance at %s\n", sp->name, g->name,
                method_of(sp->method)->name, seeds[sp->seed], sp->from_node >= 0 ? " per channel of " : "",
                sp->from_node >= 0 ? g->nodes[sp->from_node].name : "",
                sp->at_node < 0 ? "the input" : g->nodes[sp->at_node].name);
        if (sp->sweep) {
            char params[160];
            explain_smoothgrad_text(sp, params, sizeof params);
            fprintf(out, "  sweep %s, row %d of %d, column %d of %d: %s\n", sp->sweep, sp->sweep_row + 1,
                    sp->sweep_rows, sp->sweep_col + 1, sp->sweep_cols, params);
        }
        for (int i = 0; i < g->n_nodes; i++) {
            if (!sp->rules[i].body || (sp->from_node >= 0 && i > sp->from_node)) continue;  /* past `from` */
            ir_op op = g->nodes[i].fused ? (ir_op)(g->nodes[i].fused - 1) : g->nodes[i].op; /* as written */
            fprintf(out, "  %-10s %-10s %s: ", g->nodes[i].name, ir_ops[op].selector, sp->rules[i].rule);
            rx_print(sp->rules[i].body, out);
            fputc('\n', out);
        }
    }
}
