/* Analysis of rule bodies for linear ops: linear combinations of shares, where(), and the separation of
 * each share's contributions C into input factors f(a), weight transforms g(w) and bias terms h(b).
 * C is expanded into a sum of monomials; every factor of a monomial must depend on one side only (a, w or
 * b); then monomials are grouped by their input factor, so that each distinct f(a) costs one forward-like
 * and one transposed kernel, whatever the number of weight terms multiplying it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backward.h"

enum { SIDE_A = 1, SIDE_W = 2, SIDE_B = 4, SIDE_OTHER = 8 };

rx *rx_pool_new(rx_pool *p, rx_kind kind)
{
    rx *e = calloc(1, sizeof *e);
    if (!e) {
        fputs("xaic: out of memory\n", stderr);
        exit(2);
    }
    e->kind = kind;
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->items = realloc(p->items, sizeof *p->items * p->cap);
    }
    p->items[p->n++] = e;
    return e;
}

void rx_pool_free(rx_pool *p)
{
    for (int i = 0; i < p->n; i++) free(p->items[i]);
    free(p->items);
    memset(p, 0, sizeof *p);
}

int rx_is_var(const rx *e, rx_var v) { return e && e->kind == RX_VAR && e->var == v; }

static int side_of(const rx *e)
{
    switch (e->kind) {
    case RX_NUM: return 0;
    case RX_VEC: return SIDE_A; /* a per-channel constant belongs to the input side */
    case RX_VAR:
        switch (e->var) {
        case V_A:
        case V_LOW:
        case V_HIGH: return SIDE_A;
        case V_W: return SIDE_W;
        case V_B: return SIDE_B;
        default: return SIDE_OTHER;
        }
    case RX_GRADIENT: return SIDE_OTHER;
    default: {
        int s = 0;
        for (int i = 0; i < e->n_args; i++) s |= side_of(e->args[i]);
        return s;
    }
    }
}

static const char *side_name(int s)
{
    return s == SIDE_A ? "the input a" : s == SIDE_W ? "the weights w" : "the bias b";
}

/* ---- monomials ---- */

#define MAX_ATOMS 12
typedef struct monomial {
    double coef;
    const rx *atoms[MAX_ATOMS];
    int n_atoms;
} monomial;

typedef struct mono_list {
    monomial *m;
    int n, cap;
} mono_list;

static void push(mono_list *l, const monomial *m)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->m = realloc(l->m, sizeof *l->m * l->cap);
    }
    l->m[l->n++] = *m;
}

typedef struct expand_ctx {
    xai_diag *d;
    rx_pool *pool;
    int input_nonneg;
    const char *layer;
    int failed;
} expand_ctx;

static int expand(expand_ctx *c, const rx *e, mono_list *out);

/* a reduction whose argument reads w or b (sum(w), std(b)): none exists, a reduction runs over a layer's values */
static const rx *reduction_of_parameters(const rx *e)
{
    if (!e) return NULL;
    if (rx_is_reduction(e) && (side_of(e->args[0]) & (SIDE_W | SIDE_B))) return e;
    for (int k = 0; k < e->n_args; k++) {
        const rx *r = reduction_of_parameters(e->args[k]);
        if (r) return r;
    }
    return NULL;
}

static int atom(expand_ctx *c, const rx *e, mono_list *out)
{
    const rx *red = reduction_of_parameters(e);
    if (red) {
        diag_error(c->d, red->loc,
                   "%s() reduces a layer's values (a in a share, z in its stabiliser); the weights w and bias b are "
                   "transformed one by one: write a function of w such as abs(w) or w * w",
                   rx_fn_name(red->fn));
        return 0;
    }
    int s = side_of(e);
    if (s & SIDE_OTHER) {
        diag_error(c->d, e->loc,
                   "a share of layer '%s' may use a, w, b, low, high and numbers; r, x, y, z and "
                   "gradient do not belong in share(...)",
                   c->layer);
        return 0;
    }
    if (s != 0 && s != SIDE_A && s != SIDE_W && s != SIDE_B) {
        int first = s & SIDE_A ? SIDE_A : SIDE_W, second = s & SIDE_B ? SIDE_B : SIDE_W;
        diag_error(c->d, e->loc,
                   "share is not separable: this factor mixes %s and %s, but each factor of a "
                   "contribution must depend on one of them, e.g. write pos(a) * pos(w) + neg(a) * neg(w) rather "
                   "than pos(a * w)",
                   side_name(first), side_name(second));
        return 0;
    }
    monomial m = { 1.0, { e }, 1 };
    push(out, &m);
    return 1;
}

static int expand(expand_ctx *c, const rx *e, mono_list *out)
{
    switch (e->kind) {
    case RX_NUM: {
        monomial m = { e->num, { 0 }, 0 };
        if (e->num != 0) push(out, &m);
        return 1;
    }
    case RX_VEC:
    case RX_VAR: return atom(c, e, out);
    case RX_NEG: {
        int start = out->n;
        if (!expand(c, e->args[0], out)) return 0;
        for (int i = start; i < out->n; i++) out->m[i].coef = -out->m[i].coef;
        return 1;
    }
    case RX_CALL:
        if (e->fn == F_SHARE || e->fn == F_WHERE) {
            diag_error(c->d, e->loc, "%s cannot appear inside a share's contributions", rx_fn_name(e->fn));
            return 0;
        }
        if (c->input_nonneg && rx_is_var(e->args[0], V_A)) {
            /* the layer's input is never negative (it follows a relu, or the input range starts at 0) */
            if (e->fn == F_POS || e->fn == F_ABS) return atom(c, e->args[0], out);
            if (e->fn == F_NEG) return 1;
        }
        if (side_of(e->args[0]) == 0) { /* a function of a constant: fold it */
            monomial m = { rx_eval(e, 0, 0), { 0 }, 0 };
            if (m.coef != 0) push(out, &m);
            return 1;
        }
        return atom(c, e, out);
    case RX_BIN:
        if (e->op == '+' || e->op == '-') {
            int start = out->n;
            if (!expand(c, e->args[0], out)) return 0;
            int mid = out->n;
            if (!expand(c, e->args[1], out)) return 0;
            if (e->op == '-')
                for (int i = mid; i < out->n; i++) out->m[i].coef = -out->m[i].coef;
            (void)start;
            return 1;
        }
        if (e->op == '*') {
            mono_list l = { 0 }, r = { 0 };
            int ok = expand(c, e->args[0], &l) && expand(c, e->args[1], &r);
            for (int i = 0; ok && i < l.n; i++)
                for (int j = 0; ok && j < r.n; j++) {
                    monomial m = l.m[i];
                    m.coef *= r.m[j].coef;
                    if (m.n_atoms + r.m[j].n_atoms > MAX_ATOMS) {
                        diag_error(c->d, e->loc, "share term has too many factors");
                        ok = 0;
                        break;
                    }
                    for (int k = 0; k < r.m[j].n_atoms; k++) m.atoms[m.n_atoms++] = r.m[j].atoms[k];
                    push(out, &m);
                }
            free(l.m);
            free(r.m);
            return ok;
        }
        if (e->op == '/') {
            if (e->args[1]->kind == RX_NUM) {
                if (e->args[1]->num == 0) {
                    diag_error(c->d, e->args[1]->loc, "division by zero");
                    return 0;
                }
                int start = out->n;
                if (!expand(c, e->args[0], out)) return 0;
                for (int i = start; i < out->n; i++) out->m[i].coef /= e->args[1]->num;
                return 1;
            }
            return atom(c, e, out); /* w / something-of-w is one factor; a mix is reported there */
        }
        diag_error(c->d, e->loc, "a comparison belongs in where(z > 0, ...), not in a share");
        return 0;
    default: diag_error(c->d, e->loc, "gradient cannot appear inside a share"); return 0;
    }
}

/* ---- grouping ---- */

static char *atoms_key(const monomial *m, int side)
{
    /* canonical: the sorted texts of the atoms of that side joined by '*' */
    char *texts[MAX_ATOMS];
    int n = 0;
    for (int i = 0; i < m->n_atoms; i++)
        if (side_of(m->atoms[i]) == side) texts[n++] = rx_text(m->atoms[i]);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(texts[j - 1], texts[j]) > 0; j--) {
            char *t = texts[j];
            texts[j] = texts[j - 1];
            texts[j - 1] = t;
        }
    size_t len = 2;
    for (int i = 0; i < n; i++) len += strlen(texts[i]) + 1;
    char *key = calloc(1, len);
    if (!n) strcpy(key, "1");
    for (int i = 0; i < n; i++) {
        if (i) strcat(key, "*");
        strcat(key, texts[i]);
        free(texts[i]);
    }
    return key;
}

/* coef * product of the atoms of `side` */
static rx *product(rx_pool *p, const monomial *m, int side)
{
    rx *e = rx_pool_new(p, RX_NUM);
    e->num = m->coef;
    for (int i = 0; i < m->n_atoms; i++) {
        if (side_of(m->atoms[i]) != side) continue;
        rx *mul = rx_pool_new(p, RX_BIN);
        mul->op = '*';
        mul->args[0] = e;
        mul->args[1] = (rx *)m->atoms[i];
        mul->n_args = 2;
        e = mul;
    }
    return e;
}

static rx *plus(rx_pool *p, rx *a, rx *b)
{
    if (!a) return b;
    rx *e = rx_pool_new(p, RX_BIN);
    e->op = '+';
    e->args[0] = a;
    e->args[1] = b;
    e->n_args = 2;
    return e;
}

static const rx *input_factor(rx_pool *p, const monomial *m)
{
    rx *e = NULL;
    for (int i = 0; i < m->n_atoms; i++) {
        if (side_of(m->atoms[i]) != SIDE_A) continue;
        if (!e) {
            e = (rx *)m->atoms[i];
            continue;
        }
        rx *mul = rx_pool_new(p, RX_BIN);
        mul->op = '*';
        mul->args[0] = e;
        mul->args[1] = (rx *)m->atoms[i];
        mul->n_args = 2;
        e = mul;
    }
    return e;
}

static void share_free(share_info *s)
{
    for (int g = 0; g < s->n_groups; g++) {
        free(s->groups[g].f_key);
        free(s->groups[g].g_key);
    }
    free(s->h_key);
    if (s->den) {
        share_free(s->den);
        free(s->den);
    }
    memset(s, 0, sizeof *s);
}

/* C (or D) of a share split into groups f(a) * g(w) and bias terms h(b) */
static int analyse_contributions(expand_ctx *c, const rx *call, const rx *contributions, share_info *out)
{
    memset(out, 0, sizeof *out);
    mono_list l = { 0 };
    if (!expand(c, contributions, &l)) {
        free(l.m);
        return 0;
    }
    int ok = 1;
    for (int i = 0; i < l.n && ok; i++) {
        const monomial *m = &l.m[i];
        int sides = 0;
        for (int k = 0; k < m->n_atoms; k++) sides |= side_of(m->atoms[k]);
        if ((sides & SIDE_B) && (sides & (SIDE_A | SIDE_W))) {
            diag_error(c->d, contributions->loc,
                       "share is not separable: a contribution multiplies the bias b by %s; "
                       "bias terms stand alone, such as + b or + pos(b)",
                       sides & SIDE_A ? "the input a" : "the weights w");
            ok = 0;
            break;
        }
        if (sides & SIDE_B) {
            out->h = plus(c->pool, out->h, product(c->pool, m, SIDE_B));
            continue;
        }
        char *key = atoms_key(m, SIDE_A);
        int gi;
        for (gi = 0; gi < out->n_groups && strcmp(out->groups[gi].f_key, key); gi++) {}
        if (gi == out->n_groups) {
            if (gi == MAX_GROUPS) {
                diag_error(c->d, call->loc, "share has more than %d distinct input factors", MAX_GROUPS);
                free(key);
                ok = 0;
                break;
            }
            out->groups[gi].f_key = key;
            out->groups[gi].f = input_factor(c->pool, m);
            out->n_groups++;
        } else
            free(key);
        out->groups[gi].g = plus(c->pool, out->groups[gi].g, product(c->pool, m, SIDE_W));
    }
    free(l.m);
    if (ok && out->n_groups == 0) {
        diag_error(c->d, call->loc,
                   "share has no contribution that reaches the input (only bias terms, or every "
                   "term is zero)");
        ok = 0;
    }
    if (!ok) { /* the caller never sees a half-analysed share */
        for (int g = 0; g < out->n_groups; g++) free(out->groups[g].f_key);
        memset(out, 0, sizeof *out);
        return 0;
    }
    for (int g = 0; g < out->n_groups; g++) out->groups[g].g_key = rx_text(out->groups[g].g);
    if (out->h) out->h_key = rx_text(out->h);
    return 1;
}

static int analyse_share(expand_ctx *c, const rx *call, share_info *out)
{
    if (!analyse_contributions(c, call, call->args[0], out)) return 0;
    out->stabilize = call->has_stabilize ? call->stabilize : 0;
    out->stabilize_expr = call->stabilize_expr;
    if (!call->denominator) return 1;
    if (out->h) {
        diag_error(c->d, call->args[0]->loc,
                   "a share with its own denominator gives no relevance to bias terms: write the bias in "
                   "denominator = ..., not in the contributions");
        share_free(out);
        return 0;
    }
    out->den = calloc(1, sizeof *out->den);
    if (!out->den || !analyse_contributions(c, call, call->denominator, out->den)) {
        share_free(out);
        return 0;
    }
    return 1;
}

/* ---- the rule's form: coef * [masks] * share, summed ---- */

static int is_z_test(const rx *e)
{
    if (e->kind != RX_BIN || !strchr("><GLEN", e->op)) return 0;
    return (rx_is_var(e->args[0], V_Z) && e->args[1]->kind == RX_NUM) ||
        (rx_is_var(e->args[1], V_Z) && e->args[0]->kind == RX_NUM);
}

static int form(expand_ctx *c, const rx *e, double coef, branch *ctx, rule_form *out)
{
    switch (e->kind) {
    case RX_NUM:
        if (e->num == 0) return 1; /* no relevance */
        break;
    case RX_NEG: return form(c, e->args[0], -coef, ctx, out);
    case RX_BIN:
        if (e->op == '+' || e->op == '-')
            return form(c, e->args[0], coef, ctx, out) && form(c, e->args[1], e->op == '-' ? -coef : coef, ctx, out);
        if (e->op == '*' && e->args[0]->kind == RX_NUM) return form(c, e->args[1], coef * e->args[0]->num, ctx, out);
        if (e->op == '*' && e->args[1]->kind == RX_NUM) return form(c, e->args[0], coef * e->args[1]->num, ctx, out);
        if (e->op == '/' && e->args[1]->kind == RX_NUM && e->args[1]->num != 0)
            return form(c, e->args[0], coef / e->args[1]->num, ctx, out);
        break;
    case RX_CALL:
        if (e->fn == F_SHARE) {
            if (coef == 0) return 1; /* e.g. beta = 0: the share contributes nothing */
            if (out->n_branches == MAX_BRANCHES) {
                diag_error(c->d, e->loc, "a rule may combine at most %d shares", MAX_BRANCHES);
                return 0;
            }
            branch *b = &out->branches[out->n_branches];
            *b = *ctx;
            b->coef = coef;
            if (!analyse_share(c, e, &b->share)) return 0;
            out->n_branches++;
            return 1;
        }
        if (e->fn == F_WHERE) {
            if (!is_z_test(e->args[0])) {
                diag_error(c->d, e->args[0]->loc,
                           "where() in a rule for a linear layer compares z, the layer's plain pre-activation, "
                           "with a number (any threshold): write where(z > t, X, Y) with t a number or parameter");
                return 0;
            }
            if (ctx->n_masks == MAX_MASKS) {
                diag_error(c->d, e->loc, "where() is nested too deeply");
                return 0;
            }
            branch yes = *ctx, no = *ctx;
            yes.masks[yes.n_masks] = e->args[0];
            yes.mask_negated[yes.n_masks++] = 0;
            no.masks[no.n_masks] = e->args[0];
            no.mask_negated[no.n_masks++] = 1;
            return form(c, e->args[1], coef, &yes, out) && form(c, e->args[2], coef, &no, out);
        }
        break;
    case RX_GRADIENT:
        diag_error(c->d, e->loc, "gradient stands alone as a rule body; it cannot be combined with shares");
        return 0;
    default: break;
    }
    diag_error(c->d, e->loc,
               "a rule for layer '%s' must be gradient, a share(...), a linear combination of shares "
               "or where(z > 0, X, Y) of those",
               c->layer);
    return 0;
}

int rules_linear_form(xai_diag *d, rx_pool *p, const rx *body, int input_nonneg, const char *layer, rule_form *out)
{
    memset(out, 0, sizeof *out);
    if (body->kind == RX_GRADIENT) {
        out->is_gradient = 1;
        return 1;
    }
    expand_ctx c = { d, p, input_nonneg, layer, 0 };
    branch top = { 0 };
    top.coef = 1;
    if (!form(&c, body, 1.0, &top, out)) {
        rule_form_free(out);
        return 0;
    }
    return 1;
}

void rule_form_free(rule_form *f)
{
    for (int b = 0; b < f->n_branches; b++) share_free(&f->branches[b].share);
    memset(f, 0, sizeof *f);
}

double rx_eval(const rx *e, double w, double b)
{
    switch (e->kind) {
    case RX_NUM: return e->num;
    case RX_VAR: return e->var == V_W ? w : e->var == V_B ? b : 0;
    case RX_NEG: return -rx_eval(e->args[0], w, b);
    case RX_BIN: {
        double x = rx_eval(e->args[0], w, b), y = rx_eval(e->args[1], w, b);
        switch (e->op) {
        case '+': return x + y;
        case '-': return x - y;
        case '*': return x * y;
        case '/': return y == 0 ? 0 : x / y;
        case '>': return x > y;
        case '<': return x < y;
        case 'G': return x >= y;
        case 'L': return x <= y;
        case 'E': return x == y;
        default: return x != y;
        }
    }
    case RX_CALL: {
        double x = rx_eval(e->args[0], w, b);
        if ((e->fn == F_MAX || e->fn == F_MIN) && e->n_args == 2) {
            double y = rx_eval(e->args[1], w, b);
            return e->fn == F_MAX ? (x > y ? x : y) : (x < y ? x : y);
        }
        switch (e->fn) {
        case F_POS: return x > 0 ? x : 0;
        case F_NEG: return x < 0 ? x : 0;
        case F_ABS: return fabs(x);
        case F_SIGN: return x < 0 ? -1 : 1; /* Zennit's convention: sign(0) = +1 */
        case F_STEP: return x > 0;
        case F_EXP: return exp(x);
        case F_LOG: return log(x);
        case F_SQRT: return sqrt(x);
        case F_POW: return ir_pow(x, e->args[1]->num);
        case F_TANH: return tanh(x);
        case F_SIGMOID: return 1 / (1 + exp(-x));
        case F_SOFTPLUS: return (x > 0 ? x : 0) + log1p(exp(-fabs(x)));
        case F_ERF: return erf(x);
        default: return 0;
        }
    }
    default: return 0;
    }
}
