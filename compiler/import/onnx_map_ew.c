/* Elementwise layers: activations, Clip, Softmax and the arithmetic Add / Sub / Mul / Div between two
 * network tensors (numpy broadcasting of the per-sample shapes) or with a single number. Four
 * patterns of exports are recognised on the way: MatMul followed by Add of a bias vector (one dense
 * layer), x * Sigmoid(x) (silu), x * HardSigmoid(x) with PyTorch's constants (hardswish), and GELU as
 * torch.onnx exports nn.GELU (opsets 11 to 17): the erf form x (1 + Erf(x / 1.4142135)) * 0.5 and the tanh
 * form x (1 + Tanh(0.7978846 (x + 0.044715 x x x))) * 0.5, the product by 0.5 also first (x * 0.5 * (...),
 * as BERT-style code writes it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

static int unary(imp *im, int node, layer_op op)
{
    int x = in_layer(im, node, 0);
    if (x < 0) return -1;
    int l = new_layer(im, op, node, 1, &x);
    return l < 0 ? -1 : out_layer(im, node, 0, l);
}

static int map_activation(imp *im, int node, const char *op)
{
    if (!strcmp(op, "Relu")) return unary(im, node, L_RELU);
    if (!strcmp(op, "Sigmoid")) return unary(im, node, L_SIGMOID);
    if (!strcmp(op, "Tanh")) return unary(im, node, L_TANH);
    if (!strcmp(op, "HardSwish")) return unary(im, node, L_HARDSWISH);
    if (!strcmp(op, "Erf")) return unary(im, node, L_ERF);
    if (!strcmp(op, "Pow") || !strcmp(op, "Sqrt"))
        return node_fail(im, node,
                         "%s on network tensors is supported only within a LayerNorm exported before opset 17 "
                         "(ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div over the last axis)",
                         op);
    layer_op lop = !strcmp(op, "HardSigmoid") ? L_HARDSIGMOID : !strcmp(op, "Elu") ? L_ELU : L_LEAKY_RELU;
    if (unary(im, node, lop)) return -1;
    layer *L = &im->layers[im->n_layers - 1];
    if (lop == L_HARDSIGMOID)
        return attr_float(im, node, "alpha", 0.2, &L->alpha) || attr_float(im, node, "beta", 0.5, &L->beta);
    return attr_float(im, node, "alpha", lop == L_ELU ? 1.0 : 0.01, &L->alpha);
}

static int map_clip(imp *im, int node)
{
    if (unary(im, node, L_CLAMP)) return -1;
    int l = im->n_layers - 1;
    for (int k = 1; k <= 2; k++) {
        if (!node_has_input(im, node, k)) continue;
        ctensor *c = in_const(im, node, k);
        double v;
        if (!c) return -1;
        if (ct_scalar(c, &v) || isnan(v))
            return node_fail(im, node, "the %s must be one number", k == 1 ? "min" : "max");
        if (isinf(v)) continue; /* an infinite bound is no bound */
        layer *L = &im->layers[l];
        if (k == 1) {
            L->has_min = 1;
            L->min = v;
        } else {
            L->has_max = 1;
            L->max = v;
        }
    }
    return 0;
}

/* Softmax over one axis: .xai's softmax(x, axis=k), or its plain softmax (over every value of a sample) when the
 * other per-sample axes have size 1. Opsets before 13 mean "every axis from `axis` on": one axis when the others
 * among those have size 1. */
static int map_softmax(imp *im, int node)
{
    int x = in_layer(im, node, 0);
    if (x < 0) return -1;
    const layer *X = &im->layers[x];
    int64_t axis, others = 1, along = -1;
    if (attr_int(im, node, "axis", im->opset < 13 ? 1 : -1, &axis)) return -1;
    if (!place_is_first(im->in_place)) { /* sequence-first attention: the batch's axis is none of the sample's */
        int a = sample_axis(im, node, x, axis, "axis");
        if (a < 0) return -1;
        int r = onnx_rank(X, im->in_place);
        if (im->opset < 13 && im->in_place.axis > (axis < 0 ? axis + r : axis)) /* "every axis from axis on" */
            return node_fail(im, node, "Softmax (opset %d) over axes that hold the batch", (int)im->opset);
        axis = a + 1;
    }
    if (axis < 0) axis += X->rank + 1;
    if (axis < 1 || axis > X->rank) return node_fail(im, node, "Softmax over the batch axis (or out of range)");
    if (im->opset < 13 && axis == 1)
        along = 0, others = 0; /* every value of a sample */
    else if (im->opset < 13) {
        for (int k = (int)axis - 1; k < X->rank; k++)
            if (X->shape[k] != 1) {
                if (along >= 0)
                    return node_fail(im, node,
                                     "Softmax (opset %d) over several axes of a sample that are not all of its values",
                                     (int)im->opset);
                along = k;
            }
        if (along < 0) along = axis - 1;
    } else
        along = axis - 1;
    for (int k = 0; others && k < X->rank; k++)
        if (k != along) others *= X->shape[k];
    int l = new_layer(im, L_SOFTMAX, node, 1, &x);
    if (l < 0) return -1;
    im->layers[l].axis = others <= 1 ? -1 : along;
    return out_layer(im, node, 0, l);
}

/* The layer of operand `v` if v is the only use of the output of the node that made it (no alias). */
static int sole_layer(imp *im, const value *v, layer_op op)
{
    if (v->kind != V_LAYER || v->uses != 1 || v->layer <= 0) return -1;
    const layer *L = &im->layers[v->layer];
    return L->op == op && L->node == v->producer ? v->layer : -1;
}

/* The value that feeds layer l from layer `from` (an input of the node that made l), or NULL. */
static const value *value_into(imp *im, int l, int from)
{
    int node = im->layers[l].node;
    for (int k = 0; k < (int)node_at(im, node)->n_input; k++) {
        const value *v = node_in(im, node, k);
        if (v && v->kind == V_LAYER && v->layer == from) return v;
    }
    return NULL;
}

/* The value of layer l's first input, when it is the layer's only one. */
static const value *value_in(imp *im, int l)
{
    return im->layers[l].n_in == 1 ? value_into(im, l, im->layers[l].in[0]) : NULL;
}

/* sole_layer, and an op with a number that is `num` (to float precision); side 1: the number is the second
 * operand (x / num) */
static int sole_number(imp *im, const value *v, layer_op op, double num, int side)
{
    int l = v ? sole_layer(im, v, op) : -1;
    if (l < 0) return -1;
    const layer *L = &im->layers[l];
    if (!L->number_side || (side && L->number_side != side) || fabs(L->number - num) > 1e-6 * fabs(num)) return -1;
    return l;
}

/* sole_layer of a product or sum of two layers, one of them x (both for x * x); the other one's value in *other */
static int sole_pair(imp *im, const value *v, layer_op op, int x, const value **other)
{
    int l = v ? sole_layer(im, v, op) : -1;
    if (l < 0) return -1;
    const layer *L = &im->layers[l];
    if (L->n_in != 2 || (L->in[0] != x && L->in[1] != x)) return -1;
    *other = value_into(im, l, L->in[0] == x ? L->in[1] : L->in[0]);
    return *other ? l : -1;
}

/* g = 1 + erf(x / sqrt 2) or 1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)) as torch.onnx exports them, each step the
 * sole use of the one before: the layer that reads x and becomes the GELU (*tanh_form set), or -1. x is the
 * layer that the first step reads. */
static int gelu_factor(imp *im, const value *g, int *tanh_form, int *x)
{
    int one = sole_number(im, g, L_ADD, 1, 0);
    if (one < 0) return -1;
    const value *t = value_in(im, one);
    int e = t ? sole_layer(im, t, L_ERF) : -1;
    if (e >= 0) {
        const value *s = value_in(im, e);
        int d = sole_number(im, s, L_DIV, sqrt(2), 1);
        if (d < 0) d = sole_number(im, s, L_MUL, sqrt(0.5), 0);
        if (d < 0) return -1;
        *tanh_form = 0, *x = im->layers[d].in[0];
        return d;
    }
    int th = t ? sole_layer(im, t, L_TANH) : -1;
    int beta = th >= 0 ? sole_number(im, value_in(im, th), L_MUL, 0.79788456080286535588, 0) : -1;
    const value *inner = beta >= 0 ? value_in(im, beta) : NULL, *m2v, *m1v, *m0v;
    int sum = inner ? sole_layer(im, inner, L_ADD) : -1;
    if (sum < 0 || im->layers[sum].n_in != 2) return -1;
    for (int k = 0; k < 2; k++) { /* x + 0.044715 (x (x x)), x the sum's operand k */
        int xl = im->layers[sum].in[k];
        if (sole_pair(im, inner, L_ADD, xl, &m2v) < 0) continue;
        int m2 = sole_number(im, m2v, L_MUL, 0.044715, 0);
        int m1 = m2 >= 0 ? sole_pair(im, value_in(im, m2), L_MUL, xl, &m1v) : -1;
        int m0 = m1 >= 0 ? sole_pair(im, m1v, L_MUL, xl, &m0v) : -1;
        if (m0 < 0 || im->layers[m0].in[0] != xl || im->layers[m0].in[1] != xl) continue;
        *tanh_form = 1, *x = xl;
        return sum;
    }
    return -1;
}

/* The nodes of the pattern's layers from `from` back to x are merged into the GELU `into` (their layers die),
 * so that the node map accounts for each. */
static void absorb_chain(imp *im, int from, int x, int into)
{
    if (from == x || from <= 0) return;
    const layer *L = &im->layers[from];
    if (from != into && L->node >= 0) set_fate(im, L->node, F_MERGED, into);
    for (int k = 0; k < L->n_in; k++) absorb_chain(im, L->in[k], x, into);
}

/* x * g with g = 1 + erf(...) (gelu_factor): 2 gelu(x), or gelu(x) when the other factor is x * 0.5 */
static int fuse_gelu(imp *im, int node, const value *xv, const value *g)
{
    int tanh_form, x, l = gelu_factor(im, g, &tanh_form, &x);
    if (l < 0) return 0;
    int half = -1;
    if (xv->layer != x) {
        half = sole_number(im, xv, L_MUL, 0.5, 0);
        if (half < 0 || im->layers[half].in[0] != x) return 0;
    }
    absorb_chain(im, g->layer, x, l);
    if (half >= 0) absorb_chain(im, half, x, l);
    layer *L = &im->layers[l];
    L->op = half >= 0 ? L_GELU : L_GELU2;
    L->approximate = tanh_form;
    L->n_in = 1, L->in[0] = x;
    L->number_side = 0;
    out_alias(im, node, 0, l);
    set_fate(im, node, F_MERGED, l);
    return 1;
}

/* 0.5 * (x (1 + erf(...))): the GELU (v aliases the layer fuse_gelu made, whose node is another) */
static int fuse_half(imp *im, int node, const value *v, int const_k)
{
    int l = v->kind == V_LAYER && v->uses == 1 && v->layer > 0 && im->layers[v->layer].op == L_GELU2 ? v->layer : -1;
    ctensor *c = l >= 0 ? value_const(im, node_in(im, node, const_k)) : NULL;
    double h;
    if (!c || ct_scalar(c, &h) || h != 0.5) return 0;
    im->layers[l].op = L_GELU;
    out_alias(im, node, 0, l);
    set_fate(im, node, F_MERGED, l);
    return 1;
}

static int fuse_mul(imp *im, int node, const value *a, const value *b)
{
    for (int order = 0; order < 2; order++) {
        const value *x = order ? b : a, *g = order ? a : b;
        if (fuse_gelu(im, node, x, g)) return 1;
    }
    for (int order = 0; order < 2; order++) {
        const value *x = order ? b : a, *g = order ? a : b;
        int s = sole_layer(im, g, L_SIGMOID), h = sole_layer(im, g, L_HARDSIGMOID);
        int l = s >= 0 ? s : h;
        if (l < 0 || im->layers[l].in[0] != x->layer) continue;
        layer *L = &im->layers[l];
        if (h >= 0 && (fabs(L->alpha - 1.0 / 6) > 1e-6 || L->beta != 0.5)) continue;
        L->op = s >= 0 ? L_SILU : L_HARDSWISH;
        out_alias(im, node, 0, l);
        set_fate(im, node, F_MERGED, l);
        return 1;
    }
    return 0;
}

/* Add of a bias vector [units] or [1, units] to the sole output of a MatMul: the dense layer's bias. */
static int fuse_bias(imp *im, int node, const value *x, int const_k)
{
    int l = sole_layer(im, x, L_DENSE);
    if (l < 0 || im->layers[l].param[P_BIAS] || strcmp(node_at(im, im->layers[l].node)->op_type, "MatMul")) return 0;
    ctensor *c = value_const(im, node_in(im, node, const_k));
    int64_t units = im->layers[l].units;
    if (!c || !(c->rank == 1 || (c->rank == 2 && c->dims[0] == 1)) || c->dims[c->rank - 1] != units) return 0;
    int64_t any[2] = { -1, -1 };
    if (!(c = in_param(im, node, const_k, "bias", c->rank, any))) return -1;
    if (c->rank == 2) {
        char name[600];
        snprintf(name, sizeof name, "%s.flat", c->store_name);
        int64_t len = units;
        ctensor *flat = ct_new(im, 1, OT_FLOAT, 1, &len, name);
        if (!flat || !(flat->store_name = strdup(name))) return imp_fail(im, "out of memory");
        memcpy(flat->f, c->f, (size_t)units * sizeof *flat->f);
        c = flat;
    }
    im->layers[l].param[P_BIAS] = c;
    out_alias(im, node, 0, l);
    set_fate(im, node, F_MERGED, l);
    return 1;
}

/* op of layers a and b, of one per-sample rank, with numpy broadcasting */
static int two_layers(imp *im, int node, layer_op op, int a, int b)
{
    const layer *A = &im->layers[a], *B = &im->layers[b];
    char x[120], y[120];
    format_dims(x, sizeof x, A->shape, A->rank);
    format_dims(y, sizeof y, B->shape, B->rank);
    if (A->rank != B->rank)
        return node_fail(im, node,
                         "operands of per-sample shapes %s and %s: broadcasting them would mix the batch axis with "
                         "another",
                         x, y);
    int64_t shape[XAI_IMPORT_MAX_RANK];
    for (int k = 0; k < A->rank; k++) {
        if (A->shape[k] != B->shape[k] && A->shape[k] != 1 && B->shape[k] != 1)
            return node_fail(im, node, "the shapes %s and %s do not broadcast", x, y);
        shape[k] = A->shape[k] == 1 ? B->shape[k] : A->shape[k];
    }
    int in[2] = { a, b };
    int l = new_layer(im, op, node, 2, in);
    if (l < 0) return -1;
    memcpy(im->layers[l].shape, shape, sizeof shape[0] * (size_t)A->rank);
    return out_layer(im, node, 0, l);
}

static int map_binary(imp *im, int node, layer_op op)
{
    value *a = node_in(im, node, 0), *b = node_in(im, node, 1);
    if (!a || !b) return node_fail(im, node, "needs two inputs");
    int la = a->kind == V_LAYER, lb = b->kind == V_LAYER;
    if (la && lb) {
        int f = op == L_MUL ? fuse_mul(im, node, a, b) : 0;
        if (f) return f < 0 ? -1 : 0;
        return two_layers(im, node, op, a->layer, b->layer);
    }
    if (!la && !lb) return in_layer(im, node, a->kind == V_PADDED ? 0 : 1); /* reports what is wrong */
    int xk = la ? 0 : 1;
    if (op == L_ADD) {
        int f = fuse_bias(im, node, la ? a : b, 1 - xk);
        if (f) return f < 0 ? -1 : 0;
    }
    if (op == L_MUL && fuse_half(im, node, la ? a : b, 1 - xk)) return 0;
    int x = in_layer(im, node, xk);
    ctensor *c = in_const(im, node, 1 - xk);
    if (x < 0 || !c) return -1;
    double v;
    if (!place_is_first(im->in_place) && c->count > 1) { /* a constant over the axes after the batch's only */
        int r = onnx_rank(&im->layers[x], im->in_place);
        for (int k = 0; k < c->rank; k++)
            if (k - c->rank + r <= im->in_place.axis && c->dims[k] != 1) {
                char got[120];
                format_dims(got, sizeof got, c->dims, c->rank);
                return node_fail(im, node,
                                 "its constant operand %s has values along or before ONNX axis %d, which holds the "
                                 "batch here; xaic takes constants over the axes after it",
                                 got, im->in_place.axis);
            }
    }
    if (ct_scalar(c, &v) && c->count > 1 && c->rank <= im->layers[x].rank + 1) {
        /* a constant tensor (positional embeddings): a parameter layer, then the op of two layers */
        int p = parameter_layer(im, node, 1 - xk, im->layers[x].rank);
        if (p < 0) return -1;
        return la ? two_layers(im, node, op, x, p) : two_layers(im, node, op, p, x);
    }
    if (ct_scalar(c, &v) || c->rank > im->layers[x].rank + 1) {
        char got[120];
        format_dims(got, sizeof got, c->dims, c->rank);
        return node_fail(im, node,
                         "a constant operand of shape %s is not supported: the .xai arithmetic ops take "
                         "network tensors or single numbers",
                         got);
    }
    if (!isfinite(v)) return node_fail(im, node, "the constant operand is NaN or infinite");
    int l = new_layer(im, op, node, 1, &x);
    if (l < 0) return -1;
    im->layers[l].number_side = la ? 1 : 2;
    im->layers[l].number = v;
    return out_layer(im, node, 0, l);
}

int map_ew(imp *im, int node, const char *op)
{
    if (!strcmp(op, "Add")) return map_binary(im, node, L_ADD);
    if (!strcmp(op, "Sub")) return map_binary(im, node, L_SUB);
    if (!strcmp(op, "Mul")) return map_binary(im, node, L_MUL);
    if (!strcmp(op, "Div")) return map_binary(im, node, L_DIV);
    if (!strcmp(op, "Clip")) return map_clip(im, node);
    if (!strcmp(op, "Softmax")) return map_softmax(im, node);
    return map_activation(im, node, op);
}
