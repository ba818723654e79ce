/* A method call's named arguments bound to the method's parameters: types, bounds and names checked here,
 * once for every method, with the message at the argument. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "method.h"

/* a literal number, or minus one */
static int literal(const ast_expr *e, double *v, int *is_int)
{
    if (e->kind == EX_NUMBER) {
        *v = e->number;
        *is_int = e->is_int;
        return 1;
    }
    if (e->kind == EX_UNARY && e->op == '-' && e->lhs->kind == EX_NUMBER) {
        *v = -e->lhs->number;
        *is_int = e->lhs->is_int;
        return 1;
    }
    return 0;
}

static int node_named(const ir_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if ((g->nodes[i].name && !strcmp(g->nodes[i].name, name)) ||
            (g->nodes[i].alias && !strcmp(g->nodes[i].alias, name)))
            return i;
    return -1;
}

/* index of `name` among the space-separated choices, where "a|b" lists a and accepts b for it too */
static int choice_index(const char *choices, const char *name, char *list, size_t len)
{
    int index = 0, found = -1;
    size_t used = 0;
    list[0] = 0;
    for (const char *s = choices; *s;) {
        while (*s == ' ') s++;
        size_t n = strcspn(s, " ");
        if (!n) break;
        size_t shown = strcspn(s, " |");
        if (used < len) used += snprintf(list + used, len - used, "%s%.*s", index ? ", " : "", (int)shown, s);
        for (const char *a = s; a < s + n;) { /* the name and its aliases */
            size_t k = strcspn(a, " |");
            if (k == strlen(name) && !strncmp(a, name, k)) found = index;
            a += k + (a[k] == '|');
        }
        s += n;
        index++;
    }
    return found;
}

static int bind_number(sema_explain_ctx *c, const method_param *p, const ast_arg *arg, method_arg *out)
{
    double v;
    int is_int;
    if (!literal(arg->value, &v, &is_int)) {
        diag_error(c->d, arg->value->loc, "%s must be a number", p->name);
        return 0;
    }
    const char *what = p->kind == MP_INT ? "an integer" : "a number";
    double max = p->max ? p->max : p->kind == MP_INT ? 2147483647.0 : FLT_MAX;
    int bounded_above = p->max != 0;
    if ((p->kind == MP_INT && !is_int) || v < p->min || (p->min_open && v == p->min) ||
        (bounded_above && p->max_open && v >= max)) {
        if (bounded_above && p->kind == MP_NUMBER)
            diag_error(c->d, arg->value->loc, "%s must be in %c%g, %g%c", p->name, p->min_open ? '(' : '[', p->min, max,
                       p->max_open ? ')' : ']');
        else if (p->min_open)
            diag_error(c->d, arg->value->loc, "%s must be > %g", p->name, p->min);
        else
            diag_error(c->d, arg->value->loc, "%s must be %s >= %g", p->name, what, p->min);
        return 0;
    }
    if (v > max || !isfinite(v)) {
        if (max == FLT_MAX)
            diag_error(c->d, arg->value->loc, "%s is larger than the largest float (%g)", p->name, max);
        else
            diag_error(c->d, arg->value->loc, "%s is larger than %.17g", p->name, max);
        return 0;
    }
    out->number = v;
    return 1;
}

static int bind_one(sema_explain_ctx *c, const method_def *m, const method_param *p, const ast_arg *arg,
                    const ir_graph *net, method_arg *out)
{
    const ast_expr *v = arg->value;
    char list[256];
    switch (p->kind) {
    case MP_INT:
    case MP_NUMBER: return bind_number(c, p, arg, out);
    case MP_CHOICE:
        out->choice = v->kind == EX_IDENT ? choice_index(p->choices, v->text, list, sizeof list)
                                          : choice_index(p->choices, "", list, sizeof list);
        if (out->choice < 0) {
            diag_error(c->d, v->loc, "%s takes one of %s", p->name, list);
            return 0;
        }
        return 1;
    case MP_LAYER:
        out->node = v->kind == EX_IDENT ? node_named(net, v->text) : -1;
        if (out->node < 0) {
            diag_error(c->d, v->loc, "%s: no layer '%s' in network '%s'", m->name, v->kind == EX_IDENT ? v->text : "?",
                       net->name);
            return 0;
        }
        return 1;
    case MP_NETWORK:
        if (v->kind != EX_IDENT) {
            diag_error(c->d, v->loc, "%s takes the name of a network, e.g. %s=mnist_gen", p->name, p->name);
            return 0;
        }
        out->network = -1;
        for (int i = 0; i < c->module->n_graphs; i++)
            if (!strcmp(c->module->graphs[i]->name, v->text)) out->network = i;
        if (out->network < 0) {
            diag_error(c->d, v->loc, "no network '%s' (the %s is a network declared in this file or an imported one)",
                       v->text, p->name);
            return 0;
        }
        return 1;
    case MP_BASELINE:
        if (v->kind == EX_IDENT && !strcmp(v->text, "zero")) {
            out->number = 0;
            return 1;
        }
        if (v->kind == EX_NUMBER || (v->kind == EX_UNARY && v->lhs->kind == EX_NUMBER)) {
            method_param number = *p;
            number.kind = MP_NUMBER;
            number.min = -FLT_MAX;
            return bind_number(c, &number, arg, out);
        }
        diag_error(c->d, v->loc,
                   "%s is zero or a number; a tensor is given at run time (NET_E_ex, xaic run "
                   "--baseline FILE.npy)",
                   p->name);
        return 0;
    }
    return 0;
}

int method_bind(sema_explain_ctx *c, const method_def *m, const ast_expr *call, const ir_graph *net, method_arg *args)
{
    memset(args, 0, sizeof(method_arg) * METHOD_MAX_PARAMS);
    int ok = 1;
    for (int a = 0; call->kind == EX_CALL && a < call->n_args; a++) {
        const ast_arg *arg = &call->args[a];
        if (!arg->name) {
            diag_error(c->d, arg->value->loc, "method arguments are named, e.g. %s(%s=...)", m->name,
                       m->n_params ? m->params[0].name : "name");
            ok = 0;
            continue;
        }
        int k;
        for (k = 0; k < m->n_params && strcmp(m->params[k].name, arg->name); k++) {}
        if (k == m->n_params) {
            char list[256] = "";
            size_t used = 0;
            for (int i = 0; i < m->n_params; i++)
                used += snprintf(list + used, sizeof list - used, "%s%s",
                                 !i                         ? ""
                                     : i == m->n_params - 1 ? " and "
                                                            : ", ",
                                 m->params[i].name);
            diag_error(c->d, arg->name_loc, "method %s has no parameter '%s'; %s%s", m->name, arg->name,
                       m->n_params ? "it takes " : "it takes no parameters", list);
            ok = 0;
            continue;
        }
        if (args[k].given) {
            diag_error(c->d, arg->name_loc, "%s is given twice", arg->name);
            ok = 0;
            continue;
        }
        args[k].given = arg;
        if (!bind_one(c, m, &m->params[k], arg, net, &args[k])) args[k].bad = 1, ok = 0;
    }
    return ok;
}

/* a binary op with a number operand is part of an elementwise function: its relevance passes */
const char *method_lrp_default_rule(const ir_node *n)
{
    return ir_op_is(n->op, OPF_BINARY) && n->n_inputs == 1 ? "pass" : ir_ops[n->op].lrp_rule;
}

const char *method_deeplift_default_rule(const ir_node *n) { return ir_ops[n->op].deeplift_rule; }
const char *method_gradient_default_rule(const ir_node *n) { return "gradient"; }
