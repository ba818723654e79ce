/* Sema of each network op (the SEMA column of ops.def): argument values, output shape, parameters.
 * l->slots holds the op's PARAMS in their ops.def order. */
#include <string.h>

#include "sema_ops.h"

int sema_dense(sema_layer_ctx *l)
{
    ir_node *n = l->n;
    const ast_expr *call = l->call;
    char sa[64];
    if (l->in[0].rank != 1) {
        diag_error(l->d, call->args[0].value->loc,
                   "dense '%s' needs a flat input, but '%s' has shape %s; "
                   "insert flatten(%s)",
                   n->name, call->args[0].value->text, ir_shape_str(&l->in[0], sa, sizeof sa),
                   call->args[0].value->text);
        return 0;
    }
    n->has_bias = 1;
    if (!sema_positive_int(l->d, l->slots[0], "units", &n->units)) return 0;
    if (l->slots[1] && !sema_boolean(l->d, l->slots[1], "bias", &n->has_bias)) return 0;
    n->shape.rank = 1;
    n->shape.dims[0] = n->units;
    int64_t ws[2] = { n->units, l->in[0].dims[0] }, bs[1] = { n->units };
    int ok = sema_param(l, "weight", 2, ws, &n->weight);
    if (n->has_bias) ok &= sema_param(l, "bias", 1, bs, &n->bias);
    return ok;
}

/* conv2d(in, filters, kernel, stride, pad, bias) */
int sema_conv2d(sema_layer_ctx *l)
{
    ir_node *n = l->n;
    if (!sema_spatial_input(l, &l->in[0])) return 0;
    n->has_bias = 1;
    if (!sema_positive_int(l->d, l->slots[0], "filters", &n->units)) return 0;
    if (l->slots[4] && !sema_boolean(l->d, l->slots[4], "bias", &n->has_bias)) return 0;
    if (!sema_window(l, l->slots[1], l->slots[2], l->slots[3], 1)) return 0;
    n->shape.dims[0] = n->units;
    int64_t ws[4] = { n->units, l->in[0].dims[0], n->kh, n->kw }, bs[1] = { n->units };
    int ok = sema_param(l, "weight", 4, ws, &n->weight);
    if (n->has_bias) ok &= sema_param(l, "bias", 1, bs, &n->bias);
    return ok;
}

/* maxpool / avgpool(in, size, stride, pad) */
int sema_pool(sema_layer_ctx *l)
{
    if (!sema_spatial_input(l, &l->in[0]) || !sema_window(l, l->slots[0], l->slots[1], l->slots[2], 0)) return 0;
    l->n->shape.dims[0] = l->in[0].dims[0];
    return 1;
}

int sema_global_avgpool(sema_layer_ctx *l)
{
    if (!sema_spatial_input(l, &l->in[0])) return 0;
    l->n->shape.rank = 1;
    l->n->shape.dims[0] = l->in[0].dims[0];
    return 1;
}

/* relu, sigmoid, softmax: the input's shape */
int sema_same_shape(sema_layer_ctx *l)
{
    l->n->shape = l->in[0];
    return 1;
}

int sema_flatten(sema_layer_ctx *l)
{
    l->n->shape.rank = 1;
    l->n->shape.dims[0] = (int)ir_shape_count(&l->in[0]);
    return 1;
}

int sema_add(sema_layer_ctx *l)
{
    const ir_shape *in = l->in;
    char sa[64], sb[64];
    if (in[0].rank != in[1].rank || memcmp(in[0].dims, in[1].dims, sizeof(int) * in[0].rank) != 0) {
        diag_error(l->d, l->call->loc, "add '%s': shapes %s ('%s') and %s ('%s') differ", l->n->name,
                   ir_shape_str(&in[0], sa, sizeof sa), l->call->args[0].value->text,
                   ir_shape_str(&in[1], sb, sizeof sb), l->call->args[1].value->text);
        return 0;
    }
    l->n->shape = in[0];
    return 1;
}

int sema_batchnorm(sema_layer_ctx *l)
{
    ir_node *n = l->n;
    char sa[64];
    n->eps = 1e-5f;
    if (l->slots[0]) {
        if (l->slots[0]->kind != EX_NUMBER || l->slots[0]->number <= 0) {
            diag_error(l->d, l->slots[0]->loc, "eps must be a positive number");
            return 0;
        }
        n->eps = (float)l->slots[0]->number;
    }
    if (l->in[0].rank != 1 && l->in[0].rank != 3) {
        diag_error(l->d, l->call->loc, "batchnorm '%s' needs a [C, H, W] or [D] input, got %s", n->name,
                   ir_shape_str(&l->in[0], sa, sizeof sa));
        return 0;
    }
    n->shape = l->in[0];
    int64_t cs[1] = { l->in[0].dims[0] };
    int ok = sema_param(l, "weight", 1, cs, &n->weight);
    ok &= sema_param(l, "bias", 1, cs, &n->bias);
    ok &= sema_param(l, "running_mean", 1, cs, &n->bn_mean);
    ok &= sema_param(l, "running_var", 1, cs, &n->bn_var);
    return ok;
}
