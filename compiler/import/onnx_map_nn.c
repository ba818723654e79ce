/* Layers with parameters or windows: Conv, Gemm, MatMul, MaxPool, AveragePool, GlobalAveragePool,
 * ReduceMean over the spatial axes, BatchNormalization, LayerNormalization, and Pad (folded into the Conv or AveragePool
 * that reads it). Output sizes follow PyTorch (ceil_mode included), which is what the .xai means. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

ctensor *in_param(imp *im, int node, int k, const char *role, int rank, const int64_t *dims)
{
    ctensor *c = in_const(im, node, k);
    if (!c) return NULL;
    const char *name = node_in(im, node, k)->name;
    if (c->onnx_type != OT_FLOAT && c->onnx_type != OT_FLOAT16 && c->onnx_type != OT_DOUBLE) {
        node_fail(im, node, "the %s '%s' has type %s; xaic reads parameters of type FLOAT, FLOAT16 or DOUBLE", role,
                  name, onnx_type_name(c->onnx_type));
        return NULL;
    }
    int ok = c->rank == rank;
    for (int d = 0; ok && d < rank; d++) ok = dims[d] < 0 || c->dims[d] == dims[d];
    if (!ok) {
        char got[120], want[120] = "[";
        format_dims(got, sizeof got, c->dims, c->rank);
        for (int d = 0; d < rank; d++) {
            size_t at = strlen(want);
            if (dims[d] < 0)
                snprintf(want + at, sizeof want - at, "%s*", d ? ", " : "");
            else
                snprintf(want + at, sizeof want - at, "%s%lld", d ? ", " : "", (long long)dims[d]);
        }
        strcat(want, "]");
        node_fail(im, node, "the %s '%s' has shape %s, expected %s", role, name, got, want);
        return NULL;
    }
    for (int64_t j = 0; j < c->count; j++)
        if (!isfinite(c->f[j])) {
            node_fail(im, node, "the %s '%s' holds NaN or infinity", role, name);
            return NULL;
        }
    return c;
}

int parameter_layer(imp *im, int node, int k, int rank)
{
    ctensor *c = in_const(im, node, k);
    if (!c) return -1;
    int64_t dims[CT_MAX_RANK];
    int r = c->rank, lead = r > rank ? r - rank : 0;
    for (int d = 0; d < lead; d++)
        if (c->dims[d] != 1) {
            char got[120];
            format_dims(got, sizeof got, c->dims, c->rank);
            return node_fail(im, node, "the constant operand %s has more axes than a sample, and not of size 1", got);
        }
    for (int d = 0; d < rank; d++) dims[d] = d < rank - (r - lead) ? 1 : c->dims[lead + d - (rank - (r - lead))];
    if (!in_param(im, node, k, "constant operand", r, c->dims)) return -1;
    const char *name = ct_param_name(im, c, node_in(im, node, k)->name);
    if (!name) return -1;
    ctensor *p = c;
    if (r != rank) { /* the same values, per sample */
        if (!(p = ct_new(im, 1, OT_FLOAT, rank, dims, name))) return -1;
        for (int64_t j = 0; j < c->count; j++) p->f[j] = (float)ct_get(c, j);
        if (!(p->store_name = strdup(name))) return imp_fail(im, "out of memory");
    }
    int l = new_layer(im, L_PARAMETER, node, 0, NULL);
    if (l < 0) return -1;
    layer *L = &im->layers[l];
    L->rank = rank;
    memcpy(L->shape, dims, sizeof dims[0] * (size_t)rank);
    L->param[P_WEIGHT] = p;
    if (!(L->hint = strdup("param"))) return imp_fail(im, "out of memory");
    return l;
}

static int layer_shape_fail(imp *im, int node, int x, const char *want)
{
    char got[120];
    format_dims(got, sizeof got, im->layers[x].shape, im->layers[x].rank);
    return node_fail(im, node, "xaic supports %s inputs (per sample) here, not %s", want, got);
}

/* Input 0 of a windowed op: a network tensor, or a zero Pad of one (pads added to `pre`). */
static int window_input(imp *im, int node, int allow_pad, int64_t pre[4])
{
    value *v = node_in(im, node, 0);
    memset(pre, 0, 4 * sizeof *pre);
    if (v && v->kind == V_PADDED) {
        if (!allow_pad)
            return node_fail(im, node, "a zero Pad before MaxPool is not supported (it would pad with 0, not -inf)");
        memcpy(pre, v->pads, 4 * sizeof *pre);
        return v->layer;
    }
    int x = in_layer(im, node, 0);
    if (x >= 0 && im->layers[x].rank != 3) return layer_shape_fail(im, node, x, "[C, H, W]");
    return x;
}

/* kernel (given), strides, dilations, pads, auto_pad -> l's window and output shape [C', H', W']. */
static int window(imp *im, int node, layer *l, const int64_t in_hw[2], const int64_t pre[4], int ceil_mode)
{
    int64_t v[4];
    int n;
    l->stride[0] = l->stride[1] = l->dilation[0] = l->dilation[1] = 1;
    if (attr_ints(im, node, "strides", v, 2, &n)) return -1;
    if (n >= 0 && n != 2) return node_fail(im, node, "'strides' needs 2 values");
    if (n == 2) memcpy(l->stride, v, sizeof l->stride);
    if (attr_ints(im, node, "dilations", v, 2, &n)) return -1;
    if (n >= 0 && n != 2) return node_fail(im, node, "'dilations' needs 2 values");
    if (n == 2) memcpy(l->dilation, v, sizeof l->dilation);
    memset(l->pad, 0, sizeof l->pad);
    if (attr_ints(im, node, "pads", v, 4, &n)) return -1;
    if (n >= 0 && n != 4) return node_fail(im, node, "'pads' needs 4 values");
    if (n == 4) memcpy(l->pad, v, sizeof l->pad);
    char autopad[32];
    if (attr_string(im, node, "auto_pad", "NOTSET", autopad, sizeof autopad)) return -1;
    for (int i = 0; i < 2; i++) {
        if (l->kernel[i] < 1 || l->stride[i] < 1 || l->dilation[i] < 1 || l->kernel[i] > (1 << 20) ||
            l->stride[i] > (1 << 20) || l->dilation[i] > (1 << 20))
            return node_fail(im, node, "kernel, strides and dilations must be in [1, 2^20]");
        if (l->pad[i] < 0 || l->pad[i + 2] < 0 || l->pad[i] > (1 << 20) || l->pad[i + 2] > (1 << 20))
            return node_fail(im, node, "pads must be in [0, 2^20]");
        int64_t span = l->dilation[i] * (l->kernel[i] - 1) + 1, size = in_hw[i];
        int64_t padded = size + pre[i] + pre[i + 2]; /* what the op itself sees after a folded Pad */
        if (!strcmp(autopad, "SAME_UPPER") || !strcmp(autopad, "SAME_LOWER")) {
            int64_t out = (padded + l->stride[i] - 1) / l->stride[i];
            int64_t total = (out - 1) * l->stride[i] + span - padded;
            if (total < 0) total = 0;
            l->pad[i] = autopad[5] == 'U' ? total / 2 : total - total / 2;
            l->pad[i + 2] = total - l->pad[i];
        } else if (!strcmp(autopad, "VALID")) {
            l->pad[i] = l->pad[i + 2] = 0;
        } else if (strcmp(autopad, "NOTSET")) {
            return node_fail(im, node, "auto_pad '%s' is not a known value", autopad);
        }
        if (ceil_mode && (pre[i] || pre[i + 2])) return node_fail(im, node, "ceil_mode after a Pad is not supported");
        l->pad[i] += pre[i];
        l->pad[i + 2] += pre[i + 2];
        int64_t room = size + l->pad[i] + l->pad[i + 2] - span;
        if (room < 0)
            return node_fail(im, node, "the window (%lld) is larger than the padded input (%lld)", (long long)span,
                             (long long)(size + l->pad[i] + l->pad[i + 2]));
        int64_t out = (ceil_mode ? room + l->stride[i] - 1 : room) / l->stride[i] + 1;
        if (ceil_mode && (out - 1) * l->stride[i] >= size + l->pad[i]) out--; /* PyTorch: last window starts inside */
        l->shape[1 + i] = out;
    }
    l->rank = 3;
    return 0;
}

static int map_conv(imp *im, int node)
{
    int64_t pre[4];
    int x = window_input(im, node, 1, pre);
    if (x < 0) return -1;
    int64_t c = im->layers[x].shape[0], group, wd[4] = { -1, -1, -1, -1 };
    if (attr_int(im, node, "group", 1, &group)) return -1;
    if (group < 1 || c % group)
        return node_fail(im, node, "group %lld does not divide the %lld input channels", (long long)group,
                         (long long)c);
    wd[1] = c / group;
    ctensor *w = in_param(im, node, 1, "weight", 4, wd);
    if (!w) return -1;
    int64_t m = w->dims[0], bd[1] = { m };
    if (m < 1 || m % group)
        return node_fail(im, node, "group %lld does not divide the %lld filters", (long long)group, (long long)m);
    ctensor *b = node_has_input(im, node, 2) ? in_param(im, node, 2, "bias", 1, bd) : NULL;
    if (node_has_input(im, node, 2) && !b) return -1;
    int l = new_layer(im, L_CONV, node, 1, &x);
    if (l < 0) return -1;
    layer *L = &im->layers[l];
    L->kernel[0] = w->dims[2];
    L->kernel[1] = w->dims[3];
    int64_t ks[2];
    int n;
    if (attr_ints(im, node, "kernel_shape", ks, 2, &n)) return -1;
    if (n >= 0 && (n != 2 || ks[0] != L->kernel[0] || ks[1] != L->kernel[1]))
        return node_fail(im, node, "kernel_shape does not match the weight's shape");
    int64_t hw[2] = { im->layers[x].shape[1], im->layers[x].shape[2] };
    if (window(im, node, L, hw, pre, 0)) return -1;
    L->shape[0] = L->units = m;
    L->groups = group;
    L->param[P_WEIGHT] = w;
    L->param[P_BIAS] = b;
    value *v = node_in(im, node, 0);
    if (v->kind == V_PADDED) set_fate(im, v->producer, F_MERGED, l);
    return out_layer(im, node, 0, l);
}

static int map_pool(imp *im, int node, int is_max)
{
    int64_t pre[4], ceil_mode, cip = 0, ks[2];
    int x = window_input(im, node, !is_max, pre), n;
    if (x < 0 || attr_int(im, node, "ceil_mode", 0, &ceil_mode) || attr_ints(im, node, "kernel_shape", ks, 2, &n))
        return -1;
    if (n != 2) return node_fail(im, node, "kernel_shape needs 2 values");
    if (!is_max && attr_int(im, node, "count_include_pad", 0, &cip)) return -1;
    int l = new_layer(im, is_max ? L_MAXPOOL : L_AVGPOOL, node, 1, &x);
    if (l < 0) return -1;
    layer *L = &im->layers[l];
    memcpy(L->kernel, ks, sizeof ks);
    if (!is_max && node_attr(im, node, "dilations"))
        return node_fail(im, node, "AveragePool with dilations is not supported");
    int64_t hw[2] = { im->layers[x].shape[1], im->layers[x].shape[2] };
    if (window(im, node, L, hw, pre, ceil_mode != 0)) return -1;
    L->ceil_mode = ceil_mode != 0;
    int pre_any = pre[0] || pre[1] || pre[2] || pre[3];
    int own_any = L->pad[0] != pre[0] || L->pad[1] != pre[1] || L->pad[2] != pre[2] || L->pad[3] != pre[3];
    if (pre_any && own_any && !cip)
        return node_fail(im, node,
                         "a Pad (counted in the average) before an AveragePool with pads of its own that are "
                         "not counted (count_include_pad=0) cannot be written as one avgpool");
    L->count_include_pad = pre_any ? 1 : cip != 0;
    value *v = node_in(im, node, 0);
    if (v->kind == V_PADDED) set_fate(im, v->producer, F_MERGED, l);
    return out_layer(im, node, 0, l);
}

static int map_global_pool(imp *im, int node, int reduce_mean)
{
    int x = in_layer(im, node, 0);
    if (x < 0) return -1;
    if (im->layers[x].rank != 3) return layer_shape_fail(im, node, x, "[C, H, W]");
    int64_t keepdims = 1;
    if (reduce_mean) {
        int64_t axes[CT_MAX_RANK];
        int n;
        if (attr_int(im, node, "keepdims", 1, &keepdims) || attr_ints(im, node, "axes", axes, CT_MAX_RANK, &n))
            return -1;
        int ok = n == 2;
        for (int k = 0; ok && k < 2; k++) ok = axes[k] == 2 || axes[k] == 3 || axes[k] == -2 || axes[k] == -1;
        if (!ok || (axes[0] % 4 + 4) % 4 == (axes[1] % 4 + 4) % 4)
            return node_fail(im, node, "ReduceMean is supported over the two spatial axes [2, 3] only");
    }
    int l = new_layer(im, L_GAP, node, 1, &x);
    if (l < 0) return -1;
    layer *L = &im->layers[l];
    L->keepdims = keepdims != 0;
    L->rank = L->keepdims ? 3 : 1;
    L->shape[1] = L->shape[2] = 1;
    return out_layer(im, node, 0, l);
}

static int map_batchnorm(imp *im, int node)
{
    int x = in_layer(im, node, 0);
    if (x < 0) return -1;
    int64_t training, c[1] = { im->layers[x].shape[0] };
    if (attr_int(im, node, "training_mode", 0, &training)) return -1;
    if (training)
        return node_fail(im, node, "BatchNormalization in training mode is not supported (export in eval mode)");
    int l = new_layer(im, L_BATCHNORM, node, 1, &x);
    if (l < 0) return -1;
    static const char *roles[] = { "scale", "bias", "running mean", "running variance" };
    for (int k = 0; k < N_PARAMS; k++)
        if (!(im->layers[l].param[k] = in_param(im, node, k + 1, roles[k], 1, c))) return -1;
    for (int64_t j = 0; j < c[0]; j++)
        if (im->layers[l].param[P_VAR]->f[j] < 0) return node_fail(im, node, "the running variance is negative");
    return attr_float(im, node, "epsilon", 1e-5, &im->layers[l].eps) || out_layer(im, node, 0, l);
}

/* LayerNormalization (opset 17) over the last axis of a sample: PyTorch's nn.LayerNorm of one dimension. axis may
 * name an earlier axis when every axis between it and the last has size 1 (the same values). Scale, and B when
 * given, are constants of the normalised size (an empty Scale: neither, as PyTorch exports elementwise_affine=False); the optional Mean and InvStdDev outputs must be unused. */
static int map_layernorm(imp *im, int node)
{
    int x = in_layer(im, node, 0);
    if (x < 0) return -1;
    const layer *X = &im->layers[x];
    int64_t axis, stash;
    if (attr_int(im, node, "axis", -1, &axis) || attr_int(im, node, "stash_type", 1, &stash)) return -1;
    if (axis < 0) axis += X->rank + 1;
    if (axis < 1 || axis > X->rank)
        return node_fail(im, node, "LayerNormalization over the batch axis (or out of range: axis %lld)",
                         (long long)axis);
    for (int k = (int)axis - 1; k < X->rank - 1; k++)
        if (X->shape[k] != 1)
            return node_fail(im, node,
                             "LayerNormalization over several axes of a sample is not supported: xaic's layernorm "
                             "normalises over the last axis (PyTorch's nn.LayerNorm with one normalized dimension)");
    for (int k = 1; k < 3; k++)
        if (output_used(im, node, k))
            return node_fail(im, node, "the %s output of LayerNormalization is not supported",
                             k == 1 ? "Mean" : "InvStdDev");
    int64_t d[1] = { X->shape[X->rank - 1] };
    int l = new_layer(im, L_LAYERNORM, node, 1, &x);
    if (l < 0) return -1;
    layer *L = &im->layers[l];
    /* PyTorch exports elementwise_affine=False with an empty Scale: no weight, no bias */
    if (node_has_input(im, node, 1) && !(L->param[P_WEIGHT] = in_param(im, node, 1, "scale", 1, d))) return -1;
    if (node_has_input(im, node, 2) && !(L->param[P_BIAS] = in_param(im, node, 2, "bias", 1, d))) return -1;
    if (!L->param[P_WEIGHT] && L->param[P_BIAS])
        return node_fail(im, node, "a LayerNormalization with a bias but no scale is not supported");
    if (attr_float(im, node, "epsilon", 1e-5, &L->eps)) return -1;
    if (!(L->eps > 0)) return node_fail(im, node, "epsilon must be positive");
    return out_layer(im, node, 0, l);
}

/* y = alpha * A B' + beta * C with A [batch, K] a network tensor (MatMul: also tokens [batch, T, K]), B constant:
 * a dense layer. */
static int map_gemm(imp *im, int node, int matmul)
{
    int x = in_layer(im, node, 0);
    if (x < 0) return -1;
    int rank = im->layers[x].rank, placed = !place_is_first(im->in_place);
    if (placed && im->in_place.axis == onnx_rank(&im->layers[x], im->in_place) - 1)
        return node_fail(im, node, "it would sum over the axis that holds the batch");
    if (rank != 1 && !((matmul || placed) && rank == 2)) /* Gemm of [T*N, K]: tokens, the batch merged */
        return layer_shape_fail(im, node, x, matmul ? "flat [K] or tokens [T, K]" : "flat [K]");
    int64_t k = im->layers[x].shape[rank - 1], trans_a = 0, trans_b = 0;
    double alpha = 1, beta = 1;
    if (!matmul &&
        (attr_int(im, node, "transA", 0, &trans_a) || attr_int(im, node, "transB", 0, &trans_b) ||
         attr_float(im, node, "alpha", 1, &alpha) || attr_float(im, node, "beta", 1, &beta)))
        return -1;
    if (trans_a) return node_fail(im, node, "transA=1 would transpose the batch axis");
    int64_t bd[2] = { trans_b ? -1 : k, trans_b ? k : -1 };
    ctensor *b = in_param(im, node, 1, "weight", 2, bd);
    if (!b) return -1;
    int64_t units = b->dims[trans_b ? 0 : 1];
    if (units < 1) return node_fail(im, node, "the weight has no output units");
    const char *bname = node_in(im, node, 1)->name;
    char name[600];
    ctensor *w = b;
    if (!trans_b) {
        snprintf(name, sizeof name, "%s.T", b->store_name ? b->store_name : bname);
        if (!(w = ct_transpose2d(im, b, name))) return -1;
    }
    if (alpha != 1) { /* alpha is folded into the weight, under a name that says so */
        snprintf(name, sizeof name, "%s*%.9g", w->store_name ? w->store_name : bname, alpha);
        ctensor *s = ct_float_copy(im, w, name);
        if (!s) return -1;
        for (int64_t j = 0; j < s->count; j++) s->f[j] = (float)(alpha * s->f[j]);
        w = s;
    }
    int l = new_layer(im, L_DENSE, node, 1, &x);
    if (l < 0) return -1;
    layer *L = &im->layers[l];
    L->units = L->shape[rank - 1] = units;
    L->param[P_WEIGHT] = w;
    if (!matmul && node_has_input(im, node, 2) && beta != 0) {
        ctensor *c = in_const(im, node, 2);
        if (!c) return -1;
        int ok = c->rank <= 2 && (c->rank == 0 || c->dims[c->rank - 1] == units || c->dims[c->rank - 1] == 1) &&
            (c->rank < 2 || c->dims[0] == 1);
        int64_t any[2] = { -1, -1 };
        if (!ok || !in_param(im, node, 2, "bias", c->rank, any)) {
            char got[120];
            format_dims(got, sizeof got, c->dims, c->rank);
            return im->failed
                ? -1
                : node_fail(im, node, "the bias has shape %s; xaic needs it broadcast along the batch only", got);
        }
        ctensor *bias = c;
        if (beta != 1 || c->rank != 1 || c->count != units) {
            int64_t len = units;
            snprintf(name, sizeof name, "%s%s", c->store_name,
                     c->count != units  ? ".expand"
                         : c->rank != 1 ? ".flat"
                                        : "");
            if (beta != 1) snprintf(name + strlen(name), sizeof name - strlen(name), "*%.9g", beta);
            if (!(bias = ct_new(im, 1, OT_FLOAT, 1, &len, name)) || !(bias->store_name = strdup(name)))
                return imp_fail(im, "out of memory");
            for (int64_t j = 0; j < units; j++) bias->f[j] = (float)(beta * c->f[c->count == units ? j : 0]);
        }
        L->param[P_BIAS] = bias;
    }
    return out_layer(im, node, 0, l);
}

/* Pad of a network tensor: zero, constant mode, spatial axes only; folded into its Conv / AveragePool. */
static int map_pad(imp *im, int node)
{
    int x = in_layer(im, node, 0);
    if (x < 0) return -1;
    char mode[32];
    if (attr_string(im, node, "mode", "constant", mode, sizeof mode)) return -1;
    if (strcmp(mode, "constant"))
        return node_fail(im, node, "Pad mode '%s' is not supported (only zero padding)", mode);
    int r = im->layers[x].rank + 1, n;
    int64_t pads[2 * (XAI_IMPORT_MAX_RANK + 1)];
    ctensor *p = in_const(im, node, 1);
    if (!p || ct_int_values(im, node, p, "pads", pads, 2 * (XAI_IMPORT_MAX_RANK + 1), &n)) return -1;
    if (n != 2 * r) return node_fail(im, node, "pads has %d values for a tensor of rank %d", n, r);
    if (node_has_input(im, node, 2)) {
        ctensor *cv = in_const(im, node, 2);
        double v;
        if (!cv || ct_scalar(cv, &v) || v != 0)
            return im->failed ? -1 : node_fail(im, node, "only padding with 0 is supported");
    }
    int any = 0;
    for (int k = 0; k < 2 * r; k++) {
        if (pads[k] < 0 || pads[k] > (1 << 20)) return node_fail(im, node, "pads must be in [0, 2^20]");
        if (pads[k] && (r != 4 || k % r < 2))
            return node_fail(im, node, "only the two spatial axes of [N, C, H, W] may be padded");
        any |= pads[k] != 0;
    }
    if (!any) return out_alias(im, node, 0, x);
    value *v = node_out_value(im, node, 0);
    if (v) {
        v->kind = V_PADDED;
        v->layer = x;
        int64_t tlbr[4] = { pads[2], pads[3], pads[6], pads[7] };
        memcpy(v->pads, tlbr, sizeof tlbr);
    }
    set_fate(im, node, F_MERGED, x);
    return 0;
}

/* MatMul of two network tensors [.., M, K] x [.., K, N] with the same leading axes: .xai's matmul; with a
 * constant second operand, a dense layer. */
static int map_matmul(imp *im, int node)
{
    const value *b = node_in(im, node, 1);
    if (!b || b->kind != V_LAYER) return map_gemm(im, node, 1);
    int in[2] = { in_layer(im, node, 0), in_layer(im, node, 1) };
    if (in[0] < 0 || in[1] < 0) return -1;
    const layer *A = &im->layers[in[0]], *B = &im->layers[in[1]];
    if (im->in_place.axis >= onnx_rank(A, im->in_place) - 2)
        return node_fail(im, node, "the batch is on a matrix axis of its operands (xaic needs it on a leading axis)");
    int r = A->rank, ok = r >= 2 && B->rank == r && A->shape[r - 1] == B->shape[r - 2];
    for (int k = 0; ok && k < r - 2; k++) ok = A->shape[k] == B->shape[k];
    if (!ok) {
        char sa[120], sb[120];
        format_dims(sa, sizeof sa, A->shape, A->rank);
        format_dims(sb, sizeof sb, B->shape, B->rank);
        return node_fail(im, node,
                         "MatMul of %s by %s (per sample); xaic multiplies [.., M, K] by [.., K, N] with the same "
                         "leading axes",
                         sa, sb);
    }
    int l = new_layer(im, L_MATMUL, node, 2, in);
    if (l < 0) return -1;
    im->layers[l].shape[r - 1] = im->layers[in[1]].shape[r - 1];
    return out_layer(im, node, 0, l);
}

int map_nn(imp *im, int node, const char *op)
{
    if (!strcmp(op, "Conv")) return map_conv(im, node);
    if (!strcmp(op, "Gemm")) return map_gemm(im, node, 0);
    if (!strcmp(op, "MatMul")) return map_matmul(im, node);
    if (!strcmp(op, "MaxPool")) return map_pool(im, node, 1);
    if (!strcmp(op, "AveragePool")) return map_pool(im, node, 0);
    if (!strcmp(op, "GlobalAveragePool")) return map_global_pool(im, node, 0);
    if (!strcmp(op, "ReduceMean")) return map_global_pool(im, node, 1);
    if (!strcmp(op, "BatchNormalization")) return map_batchnorm(im, node);
    if (!strcmp(op, "Pad")) return map_pad(im, node);
    if (!strcmp(op, "LayerNormalization")) return map_layernorm(im, node);
    return node_fail(im, node, "internal: no handler");
}
