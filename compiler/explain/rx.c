/* Rule-body expressions (rx): allocation in the explain set, names, and the canonical text form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rx.h"

void *sx_alloc(explain_set *s, size_t size)
{
    void *p = calloc(1, size);
    if (!p) {
        fputs("xaic: out of memory\n", stderr);
        exit(2);
    }
    if (s->n_allocations == s->cap_allocations) {
        s->cap_allocations = s->cap_allocations ? 2 * s->cap_allocations : 256;
        s->allocations = realloc(s->allocations, sizeof *s->allocations * s->cap_allocations);
    }
    s->allocations[s->n_allocations++] = p;
    return p;
}

rx *rx_new(explain_set *s, rx_kind kind, xai_loc loc)
{
    rx *e = sx_alloc(s, sizeof *e);
    e->kind = kind;
    e->loc = loc;
    return e;
}

rx *rx_number(explain_set *s, double v, xai_loc loc)
{
    rx *e = rx_new(s, RX_NUM, loc);
    e->num = v;
    return e;
}

/* (the op's numbers are matched by their parameter names in sema_rules.c, never by these) */
static const char *const var_names[] = {
    "a", "w", "b", "low", "high", "r", "x", "y", "z", "x0", "y0", "$arg0", "$arg1"
};
_Static_assert(sizeof var_names / sizeof *var_names == V_COUNT, "a name for every rx_var");
static const char *const fn_names[] = { "pos",     "neg",      "abs",     "sign", "step", "share", "where",   "max",
                                        "min",     "unpool",   "unpool0", "exp",  "log",  "sqrt",  "pow",     "tanh",
                                        "sigmoid", "softplus", "erf",     "sum",  "mean", "std",   "quantile" };
_Static_assert(sizeof fn_names / sizeof *fn_names == RX_FN_COUNT, "a name for every rx_fn");

const char *rx_var_name(rx_var v) { return var_names[v]; }
const char *rx_fn_name(rx_fn f) { return fn_names[f]; }

int rx_var_from_name(const char *name)
{
    for (int i = 0; i < V_COUNT; i++)
        if (!strcmp(var_names[i], name)) return i;
    return -1;
}

int rx_fn_from_name(const char *name)
{
    for (int i = 0; i < RX_FN_COUNT; i++)
        if (!strcmp(fn_names[i], name)) return i;
    return -1;
}

void rx_print(const rx *e, FILE *out)
{
    switch (e->kind) {
    case RX_NUM: fprintf(out, "%.9g", e->num); break;
    case RX_VEC:
        fputc('[', out);
        for (int i = 0; i < e->n_vec; i++) fprintf(out, "%s%.9g", i ? ", " : "", e->vec[i]);
        fputc(']', out);
        break;
    case RX_VAR: fputs(var_names[e->var], out); break;
    case RX_GRADIENT: fputs("gradient", out); break;
    case RX_NEG:
        fputs("(-", out);
        rx_print(e->args[0], out);
        fputc(')', out);
        break;
    case RX_BIN: {
        const char *op = e->op == 'G' ? ">=" : e->op == 'L' ? "<=" : e->op == 'E' ? "==" : e->op == 'N' ? "!=" : NULL;
        fputc('(', out);
        rx_print(e->args[0], out);
        if (op)
            fprintf(out, " %s ", op);
        else
            fprintf(out, " %c ", e->op);
        rx_print(e->args[1], out);
        fputc(')', out);
        break;
    }
    case RX_CALL:
        fprintf(out, "%s(", fn_names[e->fn]);
        for (int i = 0; i < e->n_args; i++) {
            if (i) fputs(", ", out);
            rx_print(e->args[i], out);
        }
        if (e->per_channel) fputs(", per=channel", out);
        if (e->per_axis) fputs(", per=axis", out);
        if (e->denominator) {
            fputs(", denominator=", out);
            rx_print(e->denominator, out);
        }
        if (e->stabilize_expr) {
            fputs(", stabilize=", out);
            rx_print(e->stabilize_expr, out);
        } else if (e->has_stabilize)
            fprintf(out, ", stabilize=%.9g", e->stabilize);
        fputc(')', out);
        break;
    }
}

int rx_is_reduction(const rx *e)
{
    return e && e->kind == RX_CALL &&
        (e->fn == F_SUM || e->fn == F_MEAN || e->fn == F_STD || e->fn == F_QUANTILE ||
         ((e->fn == F_MAX || e->fn == F_MIN) && e->n_args == 1));
}

char *rx_text(const rx *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    rx_print(e, f);
    fclose(f);
    return buf;
}
