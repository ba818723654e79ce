/* Sema of the linear and pooling ops (the SEMA column of ops.def): argument values, output shape, parameters.
 * l->slots holds the op's PARAMS in their ops.def order. Semantics follow PyTorch. */
#include <string.h>

#include "sema_ops.h"

/* bias=true | false | "tensor name" (a name implies true) */
static int bias_argument(sema_layer_ctx *l, const ast_expr *e, int *has_bias)
{
    *has_bias = 1;
    if (!e || e->kind == EX_STRING) return 1;
    return sema_boolean(l->d, e, "bias", has_bias);
}

/* dense(in, units, bias, weight) */
int sema_dense(sema_layer_ctx *l)
{
    ir_node *n = l->n;
    const ast_expr *call = l->call;
    char sa[64];
    int rank = l->in[0].rank;
    if (rank != 1 && rank != 2) {
        diag_error(l->d, call->args[0].value->loc,
                   "dense '%s' needs a flat input [D] or tokens [T, D], but '%s' has shape %s; "
                   "insert flatten(%s)",
                   n->name, call->args[0].value->text, ir_shape_str(&l->in[0], sa, sizeof sa),
                   call->args[0].value->text);
        return 0;
    }
    if (!sema_positive_int(l->d, l->slots[0], "units", &n->units)) return 0;
    if (!bias_argument(l, l->slots[1], &n->has_bias)) return 0;
    n->shape = l->in[0]; /* tokens [T, D] -> [T, units]: each row through the layer, as PyTorch's Linear */
    n->shape.dims[rank - 1] = n->units;
    int64_t ws[2] = { n->units, l->in[0].dims[rank - 1] }, bs[1] = { n->units };
    int ok = sema_param(l, "weight", l->slots[2], 2, ws, &n->weight);
    if (n->has_bias) ok &= sema_param(l, "bias", l->slots[1], 1, bs, &n->bias);
    return ok;
}

/* conv2d(in, filters, kernel, stride, pad, bias, groups, dilation, weight) */
int sema_conv2d(sema_layer_ctx *l)
{
    ir_node *n = l->n;
    if (!sema_spatial_input(l, &l->in[0])) return 0;
    if (!sema_positive_int(l->d, l->slots[0], "filters", &n->units)) return 0;
    if (!bias_argument(l, l->slots[4], &n->has_bias)) return 0;
    n->groups = 1;
    if (l->slots[5] && !sema_positive_int(l->d, l->slots[5], "groups", &n->groups)) return 0;
    int channels = l->in[0].dims[0];
    if (channels % n->groups || n->units % n->groups) {
        diag_error(l->d, l->slots[5]->loc, "groups=%d must divide the %d input channels and the %d filters", n->groups,
                   channels, n->units);
        return 0;
    }
    n->dh = n->dw = 1;
    if (l->slots[6] && !sema_pair(l->d, l->slots[6], "dilation", &n->dh, &n->dw)) return 0;
    if (!sema_window(l, l->slots[1], l->slots[2], l->slots[3], 1)) return 0;
    n->shape.dims[0] = n->units;
    int64_t ws[4] = { n->units, channels / n->groups, n->kh, n->kw }, bs[1] = { n->units };
    int ok = sema_param(l, "weight", l->slots[7], 4, ws, &n->weight);
    if (n->has_bias) ok &= sema_param(l, "bias", l->slots[4], 1, bs, &n->bias);
    return ok;
}

/* maxpool(in, size, stride, pad, ceil_mode, dilation) / avgpool(in, size, stride, pad, ceil_mode, count_include_pad) */
int sema_pool(sema_layer_ctx *l)
{
    ir_node *n = l->n;
    if (!sema_spatial_input(l, &l->in[0])) return 0;
    if (l->slots[3] && !sema_boolean(l->d, l->slots[3], "ceil_mode", &n->ceil_mode)) return 0;
    if (n->op == OP_MAXPOOL && l->slots[4]) {
        int dh, dw;
        if (!sema_pair(l->d, l->slots[4], "dilation", &dh, &dw)) return 0;
        if (dh != 1 || dw != 1) {
            diag_error(l->d, l->slots[4]->loc, "maxpool supports dilation 1 only");
            return 0;
        }
    }
    if (n->op == OP_AVGPOOL && l->slots[4]) {
        int include;
        if (!sema_boolean(l->d, l->slots[4], "count_include_pad", &include)) return 0;
        n->exclude_pad = !include;
    }
    if (!sema_window(l, l->slots[0], l->slots[1], l->slots[2], 0)) return 0;
    n->shape.dims[0] = l->in[0].dims[0];
    return 1;
}

/* global_avgpool(in, keepdims): [C, H, W] -> [C] (or [C, 1, 1]); the values are the same either way */
int sema_global_avgpool(sema_layer_ctx *l)
{
    if (!sema_spatial_input(l, &l->in[0])) return 0;
    int keep = 0;
    if (l->slots[0] && !sema_boolean(l->d, l->slots[0], "keepdims", &keep)) return 0;
    l->n->shape.rank = keep ? 3 : 1;
    l->n->shape.dims[0] = l->in[0].dims[0];
    l->n->shape.dims[1] = l->n->shape.dims[2] = keep ? 1 : 0;
    return 1;
}

/* batchnorm(in, eps, weight, bias, running_mean, running_var): the tensors by name, or <prefix>.<name> */
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
    for (int k = 1; k <= 4; k++)
        if (l->slots[k] && l->slots[k]->kind != EX_STRING) {
            diag_error(l->d, l->slots[k]->loc,
                       "a batchnorm tensor is named by a string, e.g. running_mean=\"bn1.mean\"");
            return 0;
        }
    n->shape = l->in[0];
    int64_t cs[1] = { l->in[0].dims[0] };
    int ok = sema_param(l, "weight", l->slots[1], 1, cs, &n->weight);
    ok &= sema_param(l, "bias", l->slots[2], 1, cs, &n->bias);
    ok &= sema_param(l, "running_mean", l->slots[3], 1, cs, &n->bn_mean);
    ok &= sema_param(l, "running_var", l->slots[4], 1, cs, &n->bn_var);
    /* PyTorch's BatchNorm owns num_batches_tracked (a training counter): a state_dict has it, inference ignores it. */
    char counter[512];
    const char *mean = l->slots[3] ? l->slots[3]->text : NULL, *dot = mean ? strrchr(mean, '.') : NULL;
    if (dot) {
        snprintf(counter, sizeof counter, "%.*s.num_batches_tracked", (int)(dot - mean), mean);
        weights_mark_used(l->wf, counter);
    }
    snprintf(counter, sizeof counter, "%s.num_batches_tracked", l->st->from ? l->st->from : l->st->name);
    weights_mark_used(l->wf, counter);
    return ok;
}

/* layernorm(in, axis, eps, weight, bias): PyTorch's nn.LayerNorm over the last axis (a normalized_shape of one
 * dimension): y = (x - mean) / sqrt(var + eps) * weight + bias, var biased. weight=false: neither weight nor bias
 * (elementwise_affine=False); bias=false: no bias (bias=False); a string names the tensor. */
int sema_layernorm(sema_layer_ctx *l)
{
    ir_node *n = l->n;
    int rank = l->in[0].rank;
    char sa[64];
    n->shape = l->in[0];
    n->eps = 1e-5f;
    if (rank < 1) {
        diag_error(l->d, l->call->loc, "layernorm '%s' needs an input with at least one axis", n->name);
        return 0;
    }
    n->axis = rank - 1;
    if (l->slots[0]) {
        double v;
        if (!sema_number(l->d, l->slots[0], "axis", &v)) return 0;
        if (v != -1 && v != rank - 1) {
            diag_error(l->d, l->slots[0]->loc,
                       "layernorm '%s' normalises over the last axis only (PyTorch's nn.LayerNorm with a "
                       "normalized_shape of one dimension): axis must be -1 or %d for its input %s, not %g",
                       n->name, rank - 1, ir_shape_str(&l->in[0], sa, sizeof sa), v);
            return 0;
        }
    }
    if (l->slots[1]) {
        if (l->slots[1]->kind != EX_NUMBER || l->slots[1]->number <= 0) {
            diag_error(l->d, l->slots[1]->loc, "eps must be a positive number");
            return 0;
        }
        n->eps = (float)l->slots[1]->number;
    }
    int has_weight = 1;
    n->has_bias = 1;
    if (l->slots[2] && l->slots[2]->kind != EX_STRING && !sema_boolean(l->d, l->slots[2], "weight", &has_weight))
        return 0;
    if (l->slots[3] && l->slots[3]->kind != EX_STRING && !sema_boolean(l->d, l->slots[3], "bias", &n->has_bias))
        return 0;
    if (!has_weight && l->slots[3] && n->has_bias) {
        diag_error(l->d, l->slots[3]->loc,
                   "layernorm '%s' has weight=false (PyTorch's elementwise_affine=False), which has no bias either",
                   n->name);
        return 0;
    }
    if (!has_weight) n->has_bias = 0;
    int64_t ds[1] = { l->in[0].dims[rank - 1] };
    int ok = 1;
    if (has_weight) ok &= sema_param(l, "weight", l->slots[2], 1, ds, &n->weight);
    if (n->has_bias) ok &= sema_param(l, "bias", l->slots[3], 1, ds, &n->bias);
    return ok;
}
