/* Semantic analysis of rule definitions and presets, and instantiation of a rule call: parameters bound,
 * local names and parameters substituted into the body (an rx tree). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sema_explain.h"

/* -a, folded when a is a number */
static rx *negate(sema_explain_ctx *c, rx *a, xai_loc loc)
{
    if (!a) return NULL;
    if (a->kind == RX_NUM) return rx_number(c->set, -a->num, loc);
    rx *n = rx_new(c->set, RX_NEG, loc);
    n->args[0] = a;
    n->n_args = 1;
    return n;
}

/* ---- constant arguments: numbers, lists of numbers, arithmetic on them, environment names ---- */

static rx *fold_binary(sema_explain_ctx *c, int op, rx *l, rx *r, xai_loc loc)
{
    if (l->kind == RX_NUM && r->kind == RX_NUM) {
        double a = l->num, b = r->num, v;
        switch (op) {
        case '+': v = a + b; break;
        case '-': v = a - b; break;
        case '*': v = a * b; break;
        case '/':
            if (b == 0) {
                diag_error(c->d, loc, "division by zero in a constant");
                return NULL;
            }
            v = a / b;
            break;
        default: diag_error(c->d, loc, "a comparison is not a value here"); return NULL;
        }
        return rx_number(c->set, v, loc);
    }
    rx *e = rx_new(c->set, RX_BIN, loc);
    e->op = op;
    e->args[0] = l;
    e->args[1] = r;
    e->n_args = 2;
    return e;
}

rx *sx_eval_arg(sema_explain_ctx *c, const ast_expr *e, const sx_env *env)
{
    switch (e->kind) {
    case EX_NUMBER: return rx_number(c->set, e->number, e->loc);
    case EX_LIST: {
        rx *v = rx_new(c->set, RX_VEC, e->loc);
        v->vec = sx_alloc(c->set, sizeof(double) * (e->n_items + 1));
        v->n_vec = e->n_items;
        for (int i = 0; i < e->n_items; i++) {
            rx *item = sx_eval_arg(c, e->items[i], env);
            if (!item) return NULL;
            if (item->kind != RX_NUM) {
                diag_error(c->d, e->items[i]->loc, "a list argument holds numbers only (one per channel)");
                return NULL;
            }
            v->vec[i] = item->num;
        }
        return v;
    }
    case EX_UNARY: return negate(c, sx_eval_arg(c, e->lhs, env), e->loc);
    case EX_BINARY: {
        rx *l = sx_eval_arg(c, e->lhs, env), *r = l ? sx_eval_arg(c, e->rhs, env) : NULL;
        return r ? fold_binary(c, e->op, l, r, e->loc) : NULL;
    }
    case EX_IDENT:
        for (const sx_env *s = env; s; s = s->parent)
            for (int i = 0; i < s->n; i++)
                if (!strcmp(s->names[i], e->text)) return s->values[i];
        if (!strcmp(e->text, "low") || !strcmp(e->text, "high")) {
            rx *v = rx_new(c->set, RX_VAR, e->loc);
            v->var = e->text[0] == 'l' ? V_LOW : V_HIGH;
            return v;
        }
        diag_error(c->d, e->loc, "unknown name '%s'; an argument is a number, a list of numbers, low, high%s", e->text,
                   env && env->n ? " or a parameter of the enclosing preset" : "");
        return NULL;
    default: diag_error(c->d, e->loc, "an argument must be a number, a list of numbers, low or high"); return NULL;
    }
}

/* Binds call arguments to declared parameters; values are evaluated in `env`. Defaults are evaluated
 * without an environment (they may use low and high). Fills env_out. */
int sx_bind(sema_explain_ctx *c, const char *what, const char *name, const ast_param *params, int n_params,
            const ast_expr *call, const sx_env *env, sx_env *out)
{
    out->n = n_params;
    out->names = sx_alloc(c->set, sizeof(char *) * (n_params + 1));
    out->values = sx_alloc(c->set, sizeof(rx *) * (n_params + 1));
    for (int i = 0; i < n_params; i++) out->names[i] = params[i].name;
    int ok = 1, positional = 0;
    for (int a = 0; call && call->kind == EX_CALL && a < call->n_args; a++) {
        const ast_arg *arg = &call->args[a];
        int slot = -1;
        if (!arg->name) {
            slot = positional++;
            if (slot >= n_params) {
                diag_error(c->d, arg->value->loc, "%s '%s' takes %d parameter%s", what, name, n_params,
                           n_params == 1 ? "" : "s");
                ok = 0;
                continue;
            }
        } else {
            for (int i = 0; i < n_params; i++)
                if (!strcmp(params[i].name, arg->name)) slot = i;
            if (slot < 0) {
                diag_error(c->d, arg->name_loc, "%s '%s' has no parameter '%s'", what, name, arg->name);
                ok = 0;
                continue;
            }
        }
        if (out->values[slot]) {
            diag_error(c->d, arg->value->loc, "parameter '%s' of %s '%s' is given twice", params[slot].name, what,
                       name);
            ok = 0;
            continue;
        }
        out->values[slot] = sx_eval_arg(c, arg->value, env);
        if (!out->values[slot]) ok = 0;
    }
    for (int i = 0; i < n_params && ok; i++) {
        if (out->values[i]) continue;
        if (!params[i].default_value) {
            diag_error(c->d, call ? call->loc : params[i].loc, "%s '%s' needs the parameter '%s'", what, name,
                       params[i].name);
            ok = 0;
            continue;
        }
        out->values[i] = sx_eval_arg(c, params[i].default_value, NULL);
        if (!out->values[i]) ok = 0;
    }
    return ok;
}

/* ---- rule bodies ---- */

typedef struct body_scope {
    const sx_env *params;
    const char **let_names;
    rx **let_values;
    int n_lets;
    const char *rule;
    const ast_rule *def;
} body_scope;

/* the index of `name` among the numbers (ir_node.arg) of every op the rule is on: -1 when it is none of theirs,
 * -2 (reported) when the ops disagree */
static int op_number(sema_explain_ctx *c, const body_scope *s, const char *name, xai_loc loc)
{
    int found = -1;
    const char *first_op = NULL;
    for (int k = 0; s->def && k < s->def->n_ops; k++) {
        int op = ir_op_from_selector(s->def->ops[k]);
        int at = -1;
        if (op >= 0 && ir_op_is(op, OPF_ELEMENTWISE)) {
            char params[128];
            snprintf(params, sizeof params, "%s", ir_ops[op].params);
            int idx = 0;
            for (char *t = strtok(params, " "); t; t = strtok(NULL, " "), idx++)
                if (!strcmp(t, name)) at = idx;
        }
        if (k > 0 && at != found) {
            if (found >= 0 || at >= 0) {
                diag_error(c->d, loc, "'%s' is a parameter of %s but not of %s, which rule '%s' is also on", name,
                           found >= 0 ? first_op : s->def->ops[k], found >= 0 ? s->def->ops[k] : first_op, s->rule);
                return -2;
            }
        }
        if (k == 0) first_op = s->def->ops[k];
        found = at;
    }
    return found > 1 ? -1 : found;
}

static rx *convert(sema_explain_ctx *c, const ast_expr *e, const body_scope *s)
{
    switch (e->kind) {
    case EX_NUMBER: return rx_number(c->set, e->number, e->loc);
    case EX_IDENT: {
        for (int i = s->n_lets - 1; i >= 0; i--)
            if (!strcmp(s->let_names[i], e->text)) return s->let_values[i];
        for (int i = 0; i < s->params->n; i++)
            if (!strcmp(s->params->names[i], e->text)) return s->params->values[i];
        int v = rx_var_from_name(e->text);
        if (v >= 0) {
            rx *x = rx_new(c->set, RX_VAR, e->loc);
            x->var = v;
            return x;
        }
        if (!strcmp(e->text, "gradient")) return rx_new(c->set, RX_GRADIENT, e->loc);
        int k = op_number(c, s, e->text, e->loc);
        if (k == -2) return NULL;
        if (k >= 0) {
            rx *x = rx_new(c->set, RX_VAR, e->loc);
            x->var = k ? V_ARG1 : V_ARG0;
            return x;
        }
        diag_error(c->d, e->loc,
                   "unknown name '%s' in rule '%s'; a body may use a, w, b, z, low, high (linear ops), "
                   "r, x, y, x0, y0 (elementwise and pooling ops), gradient, the rule's parameters, its local names "
                   "and the op's own parameters (leaky_relu's slope, clamp's min and max, elu's alpha, hardsigmoid's "
                   "alpha and beta)",
                   e->text, s->rule);
        return NULL;
    }
    case EX_UNARY: return negate(c, convert(c, e->lhs, s), e->loc);
    case EX_BINARY: {
        rx *l = convert(c, e->lhs, s), *r = l ? convert(c, e->rhs, s) : NULL;
        if (!r) return NULL;
        if (l->kind == RX_NUM && r->kind == RX_NUM && strchr("+-*", e->op)) return fold_binary(c, e->op, l, r, e->loc);
        rx *b = rx_new(c->set, RX_BIN, e->loc);
        b->op = e->op;
        b->args[0] = l;
        b->args[1] = r;
        b->n_args = 2;
        return b;
    }
    case EX_CALL: {
        int f = rx_fn_from_name(e->text);
        if (f < 0) {
            diag_error(
                c->d, e->loc,
                "unknown function '%s' in rule '%s'; known: pos, neg, abs, sign, step, max, min, exp, log, "
                "sqrt, pow, tanh, sigmoid, softplus, erf, sum, mean, std, quantile, share, where, unpool, unpool0",
                e->text, s->rule);
            return NULL;
        }
        int reduction = f == F_SUM || f == F_MEAN || f == F_STD || f == F_QUANTILE;
        int positional = 0, n_positional = 0;
        for (int a = 0; a < e->n_args; a++) n_positional += !e->args[a].name;
        if ((f == F_MAX || f == F_MIN) && n_positional == 1) reduction = 1; /* max(z): over the layer */
        int want = f == F_WHERE                        ? 3
            : (f == F_MAX || f == F_MIN) && !reduction ? 2
            : f == F_POW || f == F_QUANTILE            ? 2
                                                       : 1;
        rx *call = rx_new(c->set, RX_CALL, e->loc);
        call->fn = f;
        for (int a = 0; a < e->n_args; a++) {
            const ast_arg *arg = &e->args[a];
            if (arg->name) {
                if (reduction && !strcmp(arg->name, "per")) {
                    const ast_expr *v = arg->value;
                    if (v->kind != EX_IDENT ||
                        (strcmp(v->text, "channel") && strcmp(v->text, "sample") && strcmp(v->text, "axis"))) {
                        diag_error(c->d, v->loc,
                                   "per = channel, per = axis or per = sample (the default): a reduction runs "
                                   "over each sample's values, each channel's, or each line along a softmax's axis");
                        return NULL;
                    }
                    call->per_channel = !strcmp(v->text, "channel");
                    call->per_axis = !strcmp(v->text, "axis");
                    continue;
                }
                int is_share_arg =
                    f == F_SHARE && (!strcmp(arg->name, "stabilize") || !strcmp(arg->name, "denominator"));
                if (!is_share_arg) {
                    diag_error(c->d, arg->name_loc, "%s has no parameter '%s'%s", e->text, arg->name,
                               f == F_SHARE    ? "; share takes stabilize = e and denominator = D"
                                   : reduction ? "; a reduction takes per = channel, per = axis or per = sample"
                                               : "");
                    return NULL;
                }
                rx *v = convert(c, arg->value, s);
                if (!v) return NULL;
                if (arg->name[0] == 'd') {
                    call->denominator = v;
                    continue;
                }
                if (v->kind == RX_NUM && v->num < 0) {
                    diag_error(c->d, arg->value->loc,
                               "stabilize must not be negative: the denominator is z + e * sign(z), which a "
                               "negative e pushes towards 0");
                    return NULL;
                }
                if (v->kind == RX_NUM)
                    call->stabilize = v->num;
                else
                    call->stabilize_expr = v;
                call->has_stabilize = 1;
                continue;
            }
            if (positional >= want) {
                diag_error(c->d, arg->value->loc, "%s takes %d argument%s", e->text, want, want == 1 ? "" : "s");
                return NULL;
            }
            call->args[positional] = convert(c, arg->value, s);
            if (!call->args[positional++]) return NULL;
        }
        if (positional != want) {
            diag_error(c->d, e->loc, "%s takes %d argument%s", e->text, want, want == 1 ? "" : "s");
            return NULL;
        }
        if (f == F_QUANTILE &&
            (call->args[1]->kind != RX_NUM || !(call->args[1]->num >= 0 && call->args[1]->num <= 1))) {
            diag_error(c->d, call->args[1]->loc,
                       "quantile(v, q) takes a number q between 0 and 1 (0.98: the 98th percentile)");
            return NULL;
        }
        if (f == F_POW &&
            (call->args[1]->kind != RX_NUM ||
             (call->args[1]->num == floor(call->args[1]->num) && fabs(call->args[1]->num) > 1024))) {
            diag_error(c->d, call->args[1]->loc,
                       "pow(x, p) takes a number as its exponent p (whole ones up to 1024 in size)");
            return NULL;
        }
        call->n_args = want;
        return call;
    }
    default: diag_error(c->d, e->loc, "a list or string cannot appear in a rule body"); return NULL;
    }
}

rx *sx_instantiate(sema_explain_ctx *c, const ast_rule *rule, const ast_expr *call, const sx_env *env, xai_loc site)
{
    sx_env params = { 0 };
    if (!sx_bind(c, "rule", rule->name, rule->params, rule->n_params, call, env, &params)) return NULL;
    if (!sx_check_requires(c, rule, &params, site.src ? site : call ? call->loc : rule->loc)) return NULL;
    body_scope s = { &params, NULL, NULL, 0, rule->name, rule };
    s.let_names = sx_alloc(c->set, sizeof(char *) * (rule->n_lets + 1));
    s.let_values = sx_alloc(c->set, sizeof(rx *) * (rule->n_lets + 1));
    for (int i = 0; i < rule->n_lets; i++) {
        rx *v = convert(c, rule->lets[i].value, &s);
        if (!v) return NULL;
        s.let_names[s.n_lets] = rule->lets[i].name;
        s.let_values[s.n_lets++] = v;
    }
    return convert(c, rule->body, &s);
}

/* ---- definitions: every rule and preset of the program, names unique, op lists valid ---- */

void sx_collect_definitions(sema_explain_ctx *c, const xai_program *p)
{
    for (int f = 0; f < p->n_files; f++)
        for (int i = 0; i < p->files[f]->n_items; i++) {
            const ast_top *t = &p->files[f]->items[i];
            if (t->kind == TOP_RULE) {
                const ast_rule *r = &t->u.rule;
                const ast_rule *prev = sx_find_rule(c, r->name);
                if (prev) {
                    diag_error(c->d, r->loc, "rule '%s' is already defined%s; choose another name", r->name,
                               prev->loc.src && !strcmp(prev->loc.src->path, "<prelude>") ? " (it is built in)" : "");
                    diag_note(c->d, prev->loc, "defined here");
                    continue;
                }
                for (int k = 0; k < r->n_ops; k++)
                    if (ir_op_from_selector(r->ops[k]) < 0) {
                        char ops[256];
                        sx_rule_ops(ops, sizeof ops);
                        diag_error(c->d, r->op_locs[k],
                                   "rule '%s' is declared on '%s', which is not an op a rule can "
                                   "apply to (%s)",
                                   r->name, r->ops[k], ops);
                    }
                c->rules = realloc(c->rules, sizeof *c->rules * (c->n_rules + 1));
                c->rules[c->n_rules++] = r;
            } else if (t->kind == TOP_PRESET) {
                const ast_preset *pr = &t->u.preset;
                const ast_preset *prev = sx_find_preset(c, pr->name);
                if (prev) {
                    diag_error(c->d, pr->loc, "preset '%s' is already defined; choose another name", pr->name);
                    diag_note(c->d, prev->loc, "defined here");
                    continue;
                }
                c->presets = realloc(c->presets, sizeof *c->presets * (c->n_presets + 1));
                c->presets[c->n_presets++] = pr;
            }
        }
}

const ast_rule *sx_find_rule(const sema_explain_ctx *c, const char *name)
{
    for (int i = 0; i < c->n_rules; i++)
        if (!strcmp(c->rules[i]->name, name)) return c->rules[i];
    return NULL;
}

const ast_preset *sx_find_preset(const sema_explain_ctx *c, const char *name)
{
    for (int i = 0; i < c->n_presets; i++)
        if (!strcmp(c->presets[i]->name, name)) return c->presets[i];
    return NULL;
}

void sx_rule_ops(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (int op = 0; op < OP_COUNT && used < len; op++)
        if (ir_op_is(op, OPF_RULE) && ir_op_from_selector(ir_ops[op].selector) == op)
            used += snprintf(buf + used, len - used, "%s%s", used ? ", " : "", ir_ops[op].selector);
}

int sx_rule_applies(const ast_rule *r, const char *op)
{
    for (int k = 0; k < r->n_ops; k++)
        if (!strcmp(r->ops[k], op)) return 1;
    return 0;
}
