/* Recipes of derived constants (ir.h): a folded BatchNorm's weights, a rule's transformed weights. The
 * compiler computes the data from the recipe here; with --weights=external codegen emits the same program
 * into NET_bind_weights (codegen/cg_derive.c), so that the object holds no weight-sized derived data. Both
 * evaluate in double with one rounding to float at the end, hence the same floats. */
#include <math.h>
#include <stdlib.h>

#include "ir.h"

int ir_recipe_push(ir_recipe *r, ir_tape_op op, int src, double num)
{
    if (r->n_steps == IR_RECIPE_MAX_STEPS) return 0;
    r->steps[r->n_steps++] = (ir_tape_step){ op, src, num };
    return 1;
}

int ir_recipe_source(ir_recipe *r, const ir_const *k)
{
    for (int i = 0; i < r->n_src; i++)
        if (r->src[i] == k) return i;
    if (r->n_src == IR_RECIPE_MAX_SRC) return -1;
    r->src[r->n_src] = k;
    return r->n_src++;
}

/* how many values a step takes off the stack and puts back */
static void arity(ir_tape_op op, int *pops, int *pushes)
{
    *pushes = 1;
    switch (op) {
    case IR_T_ELEM:
    case IR_T_ROW:
    case IR_T_NUM:
    case IR_T_WINOGRAD: *pops = 0; break;
    case IR_T_NEG:
    case IR_T_SQRT:
    case IR_T_POS:
    case IR_T_NEGPART:
    case IR_T_ABS:
    case IR_T_SIGN:
    case IR_T_STEP:
    case IR_T_EXP:
    case IR_T_LOG:
    case IR_T_POW: *pops = 1; break;
    default: *pops = 2; break;
    }
}

static int valid(const ir_const *k, const ir_recipe *r)
{
    int depth = 0;
    if (r->per_row < 1 || k->count % r->per_row) return 0;
    for (int s = 0; s < r->n_steps; s++) {
        const ir_tape_step *t = &r->steps[s];
        int pops, pushes;
        arity(t->op, &pops, &pushes);
        if (depth < pops) return 0;
        depth += pushes - pops;
        if (depth > IR_RECIPE_MAX_STACK) return 0;
        if (t->op == IR_T_ELEM || t->op == IR_T_ROW) {
            if (t->src < 0 || t->src >= r->n_src) return 0;
            int64_t want = t->op == IR_T_ELEM ? k->count : k->count / r->per_row;
            if (r->src[t->src]->count != want) return 0;
        }
        if (t->op == IR_T_WINOGRAD) {
            if (t->src < 0 || t->src >= r->n_src) return 0;
            const ir_const *w = r->src[t->src];
            if (w->rank != 4 || w->shape[2] != 3 || w->shape[3] != 3 || w->count / 9 * 16 != k->count) return 0;
        }
    }
    return depth == 1;
}

double ir_pow(double x, double p)
{
    if (p != floor(p)) return exp(p * log(x));
    return x == 0 && p < 0 ? 0 : pow(x, p); /* 1 / 0 is 0, as a rule body's division */
}

const double ir_winograd_g[4][3] = { { 1, 0, 0 }, { 0.5, 0.5, 0.5 }, { 0.5, -0.5, 0.5 }, { 0, 0, 1 } };

int64_t ir_winograd_filter(const ir_const *w, int64_t i, int *xi)
{
    int64_t filters = w->count / 9;
    *xi = (int)(i / filters);
    return i % filters * 9;
}

double ir_winograd_element(const float *w, int map, int a, int b)
{
    double u = 0;
    int first_y = 1;
    for (int y = 0; y < 3; y++) {
        if (ir_winograd_g[a][y] == 0) continue;
        double row = 0;
        int first_x = 1;
        for (int x = 0; x < 3; x++) {
            if (ir_winograd_g[b][x] == 0) continue;
            double v = w[y * 3 + x];
            v = map == WMAP_POS ? (v > 0 ? v : 0) : map == WMAP_NEG ? (v < 0 ? v : 0) : v;
            double t = v * ir_winograd_g[b][x];
            row = first_x ? t : row + t;
            first_x = 0;
        }
        double t = row * ir_winograd_g[a][y];
        u = first_y ? t : u + t;
        first_y = 0;
    }
    return u;
}

double ir_recipe_eval(const ir_recipe *r, int64_t i)
{
    double st[IR_RECIPE_MAX_STACK];
    int d = 0;
    for (int s = 0; s < r->n_steps; s++) {
        const ir_tape_step *t = &r->steps[s];
        int pops, pushes;
        arity(t->op, &pops, &pushes);
        double x = pops == 2 ? st[d - 2] : pops ? st[d - 1] : 0, y = pops == 2 ? st[d - 1] : 0; /* x op y */
        switch (t->op) {
        case IR_T_ELEM: st[d++] = r->src[t->src]->data[i]; continue;
        case IR_T_ROW: st[d++] = r->src[t->src]->data[i / r->per_row]; continue;
        case IR_T_NUM: st[d++] = t->num; continue;
        case IR_T_WINOGRAD: {
            int xi;
            int64_t at = ir_winograd_filter(r->src[t->src], i, &xi);
            st[d++] = ir_winograd_element(r->src[t->src]->data + at, (int)t->num, xi / 4, xi % 4);
            continue;
        }
        case IR_T_NEG: st[d - 1] = -x; continue;
        case IR_T_SQRT: st[d - 1] = sqrt(x); continue;
        case IR_T_POS: st[d - 1] = x > 0 ? x : 0; continue;
        case IR_T_NEGPART: st[d - 1] = x < 0 ? x : 0; continue;
        case IR_T_ABS: st[d - 1] = fabs(x); continue;
        case IR_T_SIGN: st[d - 1] = x < 0 ? -1 : 1; continue; /* sign(0) = +1, as Zennit */
        case IR_T_STEP: st[d - 1] = x > 0; continue;
        case IR_T_EXP: st[d - 1] = exp(x); continue;
        case IR_T_LOG: st[d - 1] = log(x); continue;
        case IR_T_POW: st[d - 1] = ir_pow(x, t->num); continue;
        default: break;
        }
        double v;
        switch (t->op) {
        case IR_T_ADD: v = x + y; break;
        case IR_T_SUB: v = x - y; break;
        case IR_T_MUL: v = x * y; break;
        case IR_T_DIV0: v = y == 0 ? 0 : x / y; break;
        case IR_T_GT: v = x > y; break;
        case IR_T_LT: v = x < y; break;
        case IR_T_GE: v = x >= y; break;
        case IR_T_LE: v = x <= y; break;
        case IR_T_EQ: v = x == y; break;
        case IR_T_NE: v = x != y; break;
        case IR_T_MAX: v = x > y ? x : y; break;
        default: v = x < y ? x : y; break; /* IR_T_MIN */
        }
        st[--d - 1] = v;
    }
    return st[0];
}

int ir_recipe_apply(ir_const *k, ir_recipe *r)
{
    if (!valid(k, r)) {
        free(r);
        return 0;
    }
    for (int64_t i = 0; i < k->count; i++) k->data[i] = (float)ir_recipe_eval(r, i);
    free(k->recipe);
    k->recipe = r;
    return 1;
}
