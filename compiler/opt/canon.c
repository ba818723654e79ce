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
