/* A rule's `requires` clause checked with the values it is used with, so that epsilon(-1) or
 * alpha_beta(1, 1) is reported where the user wrote it, not deep in the prelude or never. Conditions are
 * evaluated per channel (a parameter may be a list, one value per input channel); `low` and `high` are the
 * network's input range. A condition over something not known here (a range the network lacks) is left
 * to the stage that needs the value, which reports it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sema_explain.h"

#define MAX_LANES 64

typedef struct value {
    int n; /* 1 (a number) or the lanes of a list */
    double v[MAX_LANES];
} value;

/* 1 when known, 0 when not (unknown name, range absent, list too long) */
static int eval(const sema_explain_ctx *c, const ast_expr *e, const sx_env *params, value *out);

static int from_rx(const sema_explain_ctx *c, const rx *r, value *out)
{
    if (r->kind == RX_NUM) {
        out->n = 1;
        out->v[0] = r->num;
        return 1;
    }
    if (r->kind == RX_VEC) {
        if (r->n_vec > MAX_LANES || r->n_vec < 1) return 0;
        out->n = r->n_vec;
        for (int i = 0; i < r->n_vec; i++) out->v[i] = r->vec[i];
        return 1;
    }
    if (r->kind == RX_VAR && (r->var == V_LOW || r->var == V_HIGH) && c->net && c->net->has_range) {
        out->n = 1;
        out->v[0] = r->var == V_LOW ? c->net->range_low : c->net->range_high;
        return 1;
    }
    return 0;
}

static double apply(int op, double a, double b)
{
    switch (op) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    case '/': return a / b;
    case '>': return a > b;
    case '<': return a < b;
    case 'G': return a >= b;
    case 'L': return a <= b;
    case 'E': return fabs(a - b) <= 1e-9 * fmax(1, fmax(fabs(a), fabs(b))); /* alpha - beta == 1 */
    default: return fabs(a - b) > 1e-9 * fmax(1, fmax(fabs(a), fabs(b)));
    }
}

static int eval(const sema_explain_ctx *c, const ast_expr *e, const sx_env *params, value *out)
{
    value a, b;
    switch (e->kind) {
    case EX_NUMBER:
        out->n = 1;
        out->v[0] = e->number;
        return 1;
    case EX_IDENT:
        for (int i = 0; i < params->n; i++)
            if (!strcmp(params->names[i], e->text)) return params->values[i] && from_rx(c, params->values[i], out);
        if ((!strcmp(e->text, "low") || !strcmp(e->text, "high")) && c->net && c->net->has_range) {
            out->n = 1;
            out->v[0] = e->text[0] == 'l' ? c->net->range_low : c->net->range_high;
            return 1;
        }
        return 0;
    case EX_UNARY:
        if (!eval(c, e->lhs, params, out)) return 0;
        for (int i = 0; i < out->n; i++) out->v[i] = -out->v[i];
        return 1;
    case EX_BINARY:
        if (!eval(c, e->lhs, params, &a) || !eval(c, e->rhs, params, &b)) return 0;
        if (a.n != b.n && a.n != 1 && b.n != 1) return 0; /* lists of different lengths: left to the rule */
        out->n = a.n > b.n ? a.n : b.n;
        for (int i = 0; i < out->n; i++) out->v[i] = apply(e->op, a.v[a.n == 1 ? 0 : i], b.v[b.n == 1 ? 0 : i]);
        return 1;
    default: return 0;
    }
}

/* "eps = -1, ..." for the parameters a condition names */
static void values_text(const ast_expr *e, const sx_env *params, char *buf, size_t len, size_t *used)
{
    if (!e) return;
    if (e->kind == EX_IDENT)
        for (int i = 0; i < params->n; i++)
            if (!strcmp(params->names[i], e->text) && params->values[i] && !strstr(buf, e->text)) {
                *used += snprintf(buf + *used, len > *used ? len - *used : 0, "%s%s = ", *used ? ", " : "", e->text);
                char *text = rx_text(params->values[i]);
                *used += snprintf(buf + *used, len > *used ? len - *used : 0, "%s", text ? text : "?");
                free(text);
            }
    values_text(e->lhs, params, buf, len, used);
    values_text(e->rhs, params, buf, len, used);
}

int sx_check_requires(sema_explain_ctx *c, const ast_rule *rule, const sx_env *params, xai_loc site)
{
    int ok = 1;
    for (int k = 0; k < rule->n_requires; k++) {
        const ast_expr *cond = rule->requires[k];
        value v;
        if (!eval(c, cond, params, &v)) continue;
        int holds = 1;
        for (int i = 0; i < v.n; i++) holds &= v.v[i] != 0;
        if (holds) continue;
        char *text = NULL, vals[256] = "";
        size_t len = 0, used = 0;
        FILE *f = open_memstream(&text, &len);
        if (f) {
            ast_dump_expr(cond, f);
            fclose(f);
        }
        values_text(cond, params, vals, sizeof vals, &used);
        diag_error(c->d, site, "rule '%s' requires %s, but here %s", rule->name, text ? text : "its condition", vals);
        diag_note(c->d, cond->loc, "the requirement is declared here");
        free(text);
        ok = 0;
    }
    return ok;
}
