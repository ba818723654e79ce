/* The W / W+ basis of a linear layer's rule. Every weight transform the built-in rules use is a combination
 * alpha * w + beta * pos(w) (neg(w) = w - pos(w), w + g * pos(w), abs(w) = 2 pos(w) - w), so a rule's
 * pre-activations z_b and its transposed products can be rewritten over two weight sets only:
 *   z_b   = sum_f alpha_bf * LIN(f; W) + beta_bf * LIN(f; W+) + h_b,   LIN(a; W) = the forward's z - bias;
 *   R_in  = sum_f f * [LIN^T(sum_b alpha_bf s_b; W) + LIN^T(sum_b beta_bf s_b; W+)].
 * For sign-aware gamma this is 1 forward-like and 2 transposed kernels where the shares as written need
 * 2 and 2; rules.c uses the rewrite only when it needs fewer kernels, and only where it stays accurate
 * (below). */
#include <math.h>
#include <string.h>

#include "backward.h"

#define BASIS_MAX_GROWTH 4.0

/* g = alpha * w + beta * pos(w) exactly (structurally), g a sum of number * atom over w */
static int decompose(const rx *g, double coef, double *alpha, double *beta)
{
    switch (g->kind) {
    case RX_BIN:
        if (g->op == '+' || g->op == '-')
            return decompose(g->args[0], coef, alpha, beta) &&
                decompose(g->args[1], g->op == '-' ? -coef : coef, alpha, beta);
        if (g->op == '*' && g->args[0]->kind == RX_NUM)
            return decompose(g->args[1], coef * g->args[0]->num, alpha, beta);
        if (g->op == '*' && g->args[1]->kind == RX_NUM)
            return decompose(g->args[0], coef * g->args[1]->num, alpha, beta);
        return 0;
    case RX_NEG: return decompose(g->args[0], -coef, alpha, beta);
    case RX_VAR:
        if (g->var != V_W) return 0;
        *alpha += coef;
        return 1;
    case RX_CALL:
        if (g->n_args != 1 || !rx_is_var(g->args[0], V_W)) return 0;
        switch (g->fn) {
        case F_POS: *beta += coef; return 1;
        case F_NEG: *alpha += coef, *beta -= coef; return 1;
        case F_ABS: *alpha -= coef, *beta += 2 * coef; return 1;
        default: return 0;
        }
    default: return 0; /* a constant weight (flat), w * w, ...: not in the basis */
    }
}

/* index of the transposed product with this weight set and branch combination (normalised by its first
 * non-zero coefficient, returned in *scale), added if new; -1 when there are too many */
static int transposed(basis_form *bf, int pos, const double *coef, int n_branches, double *scale)
{
    int first = 0;
    while (first < n_branches && coef[first] == 0) first++;
    *scale = coef[first];
    double norm[MAX_BRANCHES] = { 0 };
    for (int b = 0; b < n_branches; b++) norm[b] = coef[b] / *scale;
    for (int t = 0; t < bf->n_t; t++)
        if (bf->t_pos[t] == pos && !memcmp(bf->t_coef[t], norm, sizeof norm)) return t;
    if (bf->n_t == BASIS_MAX_T) return -1;
    bf->t_pos[bf->n_t] = pos;
    memcpy(bf->t_coef[bf->n_t], norm, sizeof norm);
    return bf->n_t++;
}

int rules_weight_basis(const rx *g, double *alpha, double *beta)
{
    *alpha = *beta = 0;
    return decompose(g, 1, alpha, beta);
}

int rules_basis_form(const rule_form *f, basis_form *bf)
{
    memset(bf, 0, sizeof *bf);
    if (f->is_gradient || f->n_branches == 0) return 0;
    for (int b = 0; b < f->n_branches; b++) {
        const share_info *sh = &f->branches[b].share;
        for (int g = 0; g < sh->n_groups; g++) {
            const share_group *gr = &sh->groups[g];
            int k = 0;
            while (k < bf->n_factors && strcmp(bf->factor[k]->f_key, gr->f_key)) k++;
            if (k == bf->n_factors) {
                if (k == MAX_GROUPS) return 0;
                bf->factor[k] = gr;
                bf->is_input[k] = gr->f && rx_is_var(gr->f, V_A);
                bf->n_factors++;
            }
            if (!decompose(gr->g, 1, &bf->alpha[b][k], &bf->beta[b][k])) return 0;
        }
    }
    /* Where w > 0 the rewrite computes (alpha + beta) w as alpha w + beta w: rounding errors grow by
     * (|alpha| + |beta|) / |alpha + beta|. neg(w) = w - pos(w) would cancel completely (its share's z, and
     * R / z, may be 0 exactly where the rewrite leaves rounding noise), so such rules stay as written. */
    for (int b = 0; b < f->n_branches; b++)
        for (int k = 0; k < bf->n_factors; k++) {
            double a = bf->alpha[b][k], p = bf->beta[b][k];
            if (fabs(a) + fabs(p) > BASIS_MAX_GROWTH * fabs(a + p)) return 0;
        }
    for (int k = 0; k < bf->n_factors; k++) {
        for (int w = 0; w < 2; w++) {
            double coef[MAX_BRANCHES] = { 0 };
            int any = 0;
            for (int b = 0; b < f->n_branches; b++) {
                coef[b] = w ? bf->beta[b][k] : bf->alpha[b][k];
                any |= coef[b] != 0;
            }
            if (!any) continue;
            if (w)
                bf->need_pos[k] = 1;
            else
                bf->need_w[k] = 1;
            double scale;
            int t = transposed(bf, w, coef, f->n_branches, &scale);
            if (t < 0) return 0;
            bf->use[k][t] += scale;
        }
    }
    return 1;
}

int rules_basis_kernels(const basis_form *bf)
{
    int n = bf->n_t;
    for (int k = 0; k < bf->n_factors; k++) n += (bf->need_w[k] && !bf->is_input[k]) + bf->need_pos[k];
    return n;
}
