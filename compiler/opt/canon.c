/* Canonicalisation passes on the graph IR. */
#include "canon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-channel scale and shift of an eval-mode batchnorm, in double for accuracy. */
static void bn_coefficients(const ir_node *bn, int c, double *scale, double *shift)
{
    double s = bn->weight->data[c] / sqrt((double)bn->bn_var->data[c] + bn->eps);
    *scale = s;
    *shift = bn->bias->data[c] - bn->bn_mean->data[c] * s;
}

/* Pushes s = weight / sqrt(var + eps) for the row (bn_coefficients' scale, same operations). */
static int push_scale(ir_recipe *r, const ir_node *bn)
{
    int gamma = ir_recipe_source(r, bn->weight), var = ir_recipe_source(r, bn->bn_var);
    return gamma >= 0 && var >= 0 && ir_recipe_push(r, IR_T_ROW, gamma, 0) && ir_recipe_push(r, IR_T_ROW, var, 0) &&
        ir_recipe_push(r, IR_T_NUM, 0, bn->eps) && ir_recipe_push(r, IR_T_ADD, 0, 0) &&
        ir_recipe_push(r, IR_T_SQRT, 0, 0) && ir_recipe_push(r, IR_T_DIV0, 0, 0);
}

/* W' = W * s per output channel; b' = b * s + (beta - mean * s) (b = 0 without a bias). Recipes, so that
 * --weights=external can fold when the weights are bound (ir_recipe.c). */
static int fold_recipes(const ir_node *bn, const ir_node *p, ir_const *w, ir_const *b)
{
    ir_recipe *rw = calloc(1, sizeof *rw), *rb = calloc(1, sizeof *rb);
    if (!rw || !rb) {
        free(rw);
        free(rb);
        return 0;
    }
    rw->per_row = p->weight->count / p->units;
    int ok = ir_recipe_push(rw, IR_T_ELEM, ir_recipe_source(rw, p->weight), 0) && push_scale(rw, bn) &&
        ir_recipe_push(rw, IR_T_MUL, 0, 0);
    rb->per_row = 1;
    if (p->bias)
        ok &= ir_recipe_push(rb, IR_T_ROW, ir_recipe_source(rb, p->bias), 0);
    else
        ok &= ir_recipe_push(rb, IR_T_NUM, 0, 0.0);
    int beta = ir_recipe_source(rb, bn->bias), mean = ir_recipe_source(rb, bn->bn_mean);
    ok &= push_scale(rb, bn) && ir_recipe_push(rb, IR_T_MUL, 0, 0) && beta >= 0 && mean >= 0 &&
        ir_recipe_push(rb, IR_T_ROW, beta, 0) && ir_recipe_push(rb, IR_T_ROW, mean, 0) && push_scale(rb, bn) &&
        ir_recipe_push(rb, IR_T_MUL, 0, 0) && ir_recipe_push(rb, IR_T_SUB, 0, 0) && ir_recipe_push(rb, IR_T_ADD, 0, 0);
    if (!ok) {
        free(rw);
        free(rb);
        return 0;
    }
    return ir_recipe_apply(w, rw) & ir_recipe_apply(b, rb);
}

static void fold_into_producer(ir_graph *g, int bn_index)
{
    ir_node *bn = &g->nodes[bn_index];
    ir_node *p = &g->nodes[bn->inputs[0]];
    int channels = p->units;
    int64_t per_channel = p->weight->count / channels;
    char name[512];
    snprintf(name, sizeof name, "%s*%s", p->weight->name, bn->name);
    ir_const *w = ir_graph_new_const(g, name, p->weight->rank, p->weight->shape);
    snprintf(name, sizeof name, "%s.bias*%s", p->name, bn->name);
    int64_t bshape[1] = { channels };
    ir_const *b = ir_graph_new_const(g, name, 1, bshape);
    if (!fold_recipes(bn, p, w, b)) /* (recipes fit; should one not, the data is computed here and stored) */
        for (int c = 0; c < channels; c++) {
            double scale, shift;
            bn_coefficients(bn, c, &scale, &shift);
            for (int64_t k = 0; k < per_channel; k++)
                w->data[c * per_channel + k] = (float)(p->weight->data[c * per_channel + k] * scale);
            double old_bias = p->bias ? p->bias->data[c] : 0.0;
            b->data[c] = (float)(old_bias * scale + shift);
        }
    p->weight = w;
    p->bias = b;
    p->has_bias = 1;
    p->alias = bn->name; /* the layer name stays known (rules by name, NET_info) */
    bn->name = NULL;
    ir_graph_replace_node(g, bn_index, bn->inputs[0]);
}

static void to_affine(ir_graph *g, ir_node *bn)
{
    int channels = bn->shape.dims[0];
    char name[512];
    int64_t shape[1] = { channels };
    snprintf(name, sizeof name, "%s.scale", bn->name);
    ir_const *scale = ir_graph_new_const(g, name, 1, shape);
    snprintf(name, sizeof name, "%s.shift", bn->name);
    ir_const *shift = ir_graph_new_const(g, name, 1, shape);
    for (int c = 0; c < channels; c++) {
        double s, t;
        bn_coefficients(bn, c, &s, &t);
        scale->data[c] = (float)s;
        shift->data[c] = (float)t;
    }
    bn->op = OP_AFFINE;
    bn->weight = scale;
    bn->bias = shift;
    bn->bn_mean = bn->bn_var = NULL;
}

void canon_graph(ir_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        if (n->op != OP_BATCHNORM) continue;
        const ir_node *p = &g->nodes[n->inputs[0]];
        if (ir_op_is(p->op, OPF_WEIGHTED) && ir_consumers(g, n->inputs[0]) == 1 && n->inputs[0] != g->output) {
            fold_into_producer(g, i);
            i--;
        } else {
            to_affine(g, n);
        }
    }
}

void canon_module(ir_module *m)
{
    for (int i = 0; i < m->n_graphs; i++) canon_graph(m->graphs[i]);
}
