/* Shape ops on network tensors: Flatten, Reshape, Squeeze, Unsqueeze (all reshapes of a sample),
 * Transpose, Concat, Split, Slice, Gather of one position; Shape of a network tensor (its dims, the batch marked); Identity,
 * Dropout and float Casts (removed). The batch axis must stay where it is and whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

static int64_t sample_count(const layer *L)
{
    int64_t n = 1;
    for (int k = 0; k < L->rank; k++) n *= L->shape[k];
    return n;
}

static int no_batch_axis(imp *im, int node, int64_t axis)
{
    return axis == 0 ? node_fail(im, node, "it works on the batch axis, which xaic keeps whole") : 0;
}

/* A reshape of x to the per-sample shape dims: nothing, a flatten, global_avgpool's own flattening, or a reshape. */
static int reshape_to(imp *im, int node, int x, int rank, const int64_t *dims)
{
    const layer *X = &im->layers[x];
    int64_t count = 1;
    for (int k = 0; k < rank; k++) count *= dims[k];
    if (count != sample_count(X)) {
        char a[120], b[120];
        format_dims(a, sizeof a, X->shape, X->rank);
        format_dims(b, sizeof b, dims, rank);
        return node_fail(im, node, "cannot reshape a sample of shape %s to %s", a, b);
    }
    if (rank > XAI_IMPORT_MAX_RANK)
        return node_fail(im, node, "rank %d per sample exceeds %d", rank, XAI_IMPORT_MAX_RANK);
    if (rank == X->rank && !memcmp(dims, X->shape, (size_t)rank * sizeof *dims)) return out_alias(im, node, 0, x);
    value *in = node_in(im, node, 0);
    if (rank == 1 && X->op == L_GAP && X->keepdims && in->uses == 1 && in->producer == X->node) {
        layer *G = &im->layers[x]; /* global_avgpool(x) then flattens itself */
        G->keepdims = 0;
        G->rank = 1;
        out_alias(im, node, 0, x);
        set_fate(im, node, F_MERGED, x);
        return 0;
    }
    int l = new_layer(im, rank == 1 ? L_FLATTEN : L_RESHAPE, node, 1, &x);
    if (l < 0) return -1;
    layer *L = &im->layers[l];
    L->rank = rank;
    memcpy(L->shape, dims, (size_t)rank * sizeof *dims);
    memcpy(L->list, dims, (size_t)rank * sizeof *dims);
    return out_layer(im, node, 0, l);
}

static int map_flatten(imp *im, int node, int x)
{
    int64_t axis;
    if (attr_int(im, node, "axis", 1, &axis)) return -1;
    if (axis < 0) axis += im->layers[x].rank + 1;
    if (axis != 1)
        return node_fail(im, node, "Flatten with axis %lld would mix the batch with other axes", (long long)axis);
    int64_t n = sample_count(&im->layers[x]);
    return reshape_to(im, node, x, 1, &n);
}

/* ONNX Reshape's target (0 copies, one -1 infers) whose first entry must keep the batch. */
static int map_reshape(imp *im, int node, int x)
{
    ctensor *t = in_const(im, node, 1);
    int64_t allowzero;
    if (!t || attr_int(im, node, "allowzero", 0, &allowzero)) return -1;
    if (t->is_float || t->rank != 1 || t->count < 1 || t->count > XAI_IMPORT_MAX_RANK + 1)
        return node_fail(im, node, "the target shape must be 1 to %d integers", XAI_IMPORT_MAX_RANK + 1);
    const layer *X = &im->layers[x];
    int moves = !place_is_first(im->in_place) || (t->sym && t->sym[0] == SYM_SCALED);
    for (int k = 1; t->sym && k < t->count; k++) moves |= t->sym[k] == SYM_BATCH || t->sym[k] == SYM_SCALED;
    if (moves) { /* the batch moves or merges with another axis (attention) */
        int64_t to[XAI_IMPORT_MAX_RANK + 1];
        int r;
        if (reshape_placed(im, node, x, t, (int)allowzero, &r, to)) return -1;
        return reshape_to(im, node, x, r, to);
    }
    int rank = (int)t->count - 1, infer = -1;
    int64_t dims[XAI_IMPORT_MAX_RANK], known = 1;
    uint8_t s0 = t->sym ? t->sym[0] : SYM_KNOWN;
    int keeps_batch = s0 == SYM_BATCH ||
        (s0 == SYM_KNOWN &&
         ((t->i[0] == 0 && !allowzero) || (im->static_batch > 0 && t->i[0] == im->static_batch) || t->i[0] == -1));
    if (!keeps_batch) return node_fail(im, node, "the target shape does not keep the batch as its first dimension");
    for (int k = 0; k < rank; k++) {
        if (t->sym && t->sym[k + 1])
            return node_fail(im, node, "the target shape depends on the batch size off the batch axis");
        int64_t d = t->i[k + 1];
        if (d == 0 && !allowzero) {
            if (k >= X->rank) return node_fail(im, node, "0 copies a dimension the input does not have");
            d = X->shape[k];
        }
        if (d == -1) {
            if (infer >= 0) return node_fail(im, node, "more than one -1 in the target shape");
            infer = k;
        } else if (d < 1 || __builtin_mul_overflow(known, d, &known)) {
            return node_fail(im, node, "target dimension %lld is not supported", (long long)d);
        }
        dims[k] = d;
    }
    int64_t count = sample_count(X);
    if (s0 == SYM_KNOWN && t->i[0] == -1) { /* -1 for the batch: the rest must be exactly one sample */
        if (infer >= 0 || known != count) return node_fail(im, node, "the target shape does not keep the batch");
    } else if (infer >= 0) {
        if (count % known) return node_fail(im, node, "cannot infer the -1 of the target shape");
        dims[infer] = count / known;
    }
    return reshape_to(im, node, x, rank, dims);
}

static int map_squeeze(imp *im, int node, int x, int squeeze)
{
    const layer *X = &im->layers[x];
    int64_t axes[CT_MAX_RANK], dims[CT_MAX_RANK];
    int n, rank = 0;
    if (squeeze_axes(im, node, axes, &n)) return -1;
    if (!squeeze && n < 0) return node_fail(im, node, "Unsqueeze needs axes");
    int full = (squeeze ? X->rank : X->rank + n) + 1; /* with the batch */
    if (full > CT_MAX_RANK) return node_fail(im, node, "rank %d is too large", full);
    uint8_t mark[CT_MAX_RANK] = { 0 };
    for (int k = 0; k < n; k++) {
        int64_t a = axes[k] < 0 ? axes[k] + full : axes[k];
        if (a < 0 || a >= full || mark[a]++)
            return node_fail(im, node, "axis %lld is out of range or repeated", (long long)axes[k]);
        if (no_batch_axis(im, node, a)) return -1;
        if (squeeze && X->shape[a - 1] != 1)
            return node_fail(im, node, "cannot squeeze an axis of size %lld", (long long)X->shape[a - 1]);
    }
    for (int k = 1, src = 0; k < full; k++) {
        if (squeeze) {
            if (!(n < 0 ? X->shape[k - 1] == 1 : mark[k])) dims[rank++] = X->shape[k - 1];
        } else
            dims[rank++] = mark[k] ? 1 : X->shape[src++];
    }
    if (rank == 0) return node_fail(im, node, "it would leave a sample without dimensions");
    return reshape_to(im, node, x, rank, dims);
}

/* Transpose, the batch's axis moving too (sequence-first attention): the sample's own permutation */
static int map_transpose(imp *im, int node, int x)
{
    const layer *X = &im->layers[x];
    int64_t perm[CT_MAX_RANK], p[XAI_IMPORT_MAX_RANK], dims[XAI_IMPORT_MAX_RANK];
    int n, r = onnx_rank(X, im->in_place), identity = 1;
    if (attr_ints(im, node, "perm", perm, CT_MAX_RANK, &n)) return -1;
    if (n < 0) {
        n = r;
        for (int k = 0; k < n; k++) perm[k] = n - 1 - k;
    }
    if (transpose_placed(im, node, x, perm, n, p)) return -1;
    for (int k = 0; k < X->rank; k++) {
        dims[k] = X->shape[p[k]];
        identity &= p[k] == k;
    }
    if (identity) return out_alias(im, node, 0, x);
    int l = new_layer(im, L_TRANSPOSE, node, 1, &x);
    if (l < 0) return -1;
    memcpy(im->layers[l].list, p, sizeof p);
    memcpy(im->layers[l].shape, dims, sizeof dims);
    return out_layer(im, node, 0, l);
}

static int map_concat(imp *im, int node)
{
    const Onnx__NodeProto *nd = node_at(im, node);
    int n = (int)nd->n_input, x0 = in_layer(im, node, 0);
    if (x0 < 0) return -1;
    int rank = im->layers[x0].rank;
    int64_t axis, dims[XAI_IMPORT_MAX_RANK];
    if (attr_int(im, node, "axis", 0, &axis)) return -1;
    if (axis < 0) axis += rank + 1;
    if (axis < 0 || axis > rank) return node_fail(im, node, "axis out of range");
    if (no_batch_axis(im, node, axis)) return -1;
    int *in = malloc((size_t)n * sizeof *in);
    if (!in) return imp_fail(im, "out of memory");
    memcpy(dims, im->layers[x0].shape, sizeof dims);
    dims[axis - 1] = 0;
    for (int k = 0; k < n; k++) {
        if ((in[k] = in_layer(im, node, k)) < 0) {
            free(in);
            return -1;
        }
        const layer *L = &im->layers[in[k]];
        int ok = L->rank == rank;
        for (int d = 0; ok && d < rank; d++) ok = d == axis - 1 || L->shape[d] == im->layers[x0].shape[d];
        if (!ok) {
            char a[120], b[120];
            format_dims(a, sizeof a, im->layers[x0].shape, rank);
            format_dims(b, sizeof b, L->shape, L->rank);
            free(in);
            return node_fail(im, node, "inputs of shapes %s and %s differ off the concatenation axis", a, b);
        }
        dims[axis - 1] += L->shape[axis - 1];
    }
    int l = n == 1 ? x0 : new_layer(im, L_CONCAT, node, n, in);
    free(in);
    if (l < 0) return -1;
    if (n == 1) return out_alias(im, node, 0, x0);
    im->layers[l].axis = axis - 1;
    memcpy(im->layers[l].shape, dims, sizeof dims);
    return out_layer(im, node, 0, l);
}

/* One slice layer of x along per-sample axis a, for output k of the node; hint names a part. */
static int slice_layer(imp *im, int node, int x, int a, int64_t start, int64_t end, int64_t step, const char *hint)
{
    int l = new_layer(im, L_SLICE, node, 1, &x);
    if (l < 0) return -1;
    layer *L = &im->layers[l];
    L->axis = a;
    L->start = start;
    L->end = end;
    L->step = step;
    L->shape[a] = (end - start + step - 1) / step;
    if (hint && !(L->hint = strdup(hint))) return imp_fail(im, "out of memory");
    return l;
}

static int map_split(imp *im, int node, int x)
{
    const Onnx__NodeProto *nd = node_at(im, node);
    int n_out = (int)nd->n_output, n;
    int64_t axis, sizes[256];
    if (n_out < 1 || n_out > 256) return node_fail(im, node, "Split into %d parts is not supported", n_out);
    if (attr_int(im, node, "axis", 0, &axis)) return -1;
    if (axis < 0) axis += im->layers[x].rank + 1;
    if (axis < 0 || axis > im->layers[x].rank) return node_fail(im, node, "axis out of range");
    if (no_batch_axis(im, node, axis)) return -1;
    int64_t dim = im->layers[x].shape[axis - 1], sum = 0;
    if (node_has_input(im, node, 1)) {
        ctensor *c = in_const(im, node, 1);
        if (!c || ct_int_values(im, node, c, "split", sizes, 256, &n)) return -1;
    } else if (attr_ints(im, node, "split", sizes, 256, &n)) {
        return -1;
    }
    if (n < 0) {
        if (dim % n_out) return node_fail(im, node, "%lld does not split into %d equal parts", (long long)dim, n_out);
        for (int k = 0; k < n_out; k++) sizes[k] = dim / n_out;
        n = n_out;
    }
    if (n != n_out) return node_fail(im, node, "%d split sizes for %d outputs", n, n_out);
    for (int k = 0; k < n; k++) {
        if (sizes[k] < 0 || sizes[k] > dim) return node_fail(im, node, "split size %lld", (long long)sizes[k]);
        sum += sizes[k];
    }
    if (sum != dim) return node_fail(im, node, "split sizes add up to %lld, not %lld", (long long)sum, (long long)dim);
    if (n == 1) return out_alias(im, node, 0, x);
    for (int k = 0, at = 0; k < n; at += (int)sizes[k], k++) {
        if (!output_used(im, node, k)) continue;
        if (!sizes[k]) return node_fail(im, node, "output %d is empty", k);
        char hint[16];
        snprintf(hint, sizeof hint, "%d", k);
        int l = slice_layer(im, node, x, (int)axis - 1, at, at + sizes[k], 1, hint);
        if (l < 0 || out_layer(im, node, k, l)) return -1;
    }
    if (im->fates[node].kind == F_NONE) set_fate(im, node, F_LAYER, im->n_layers - 1);
    return 0;
}

/* Units [start, end) of dense layer x as a dense layer of their own (its weight rows and bias entries): the packed
 * in-projection of nn.MultiheadAttention, cut into q, k and v by Slices of its output, becomes three layers, as a
 * model written by hand has them (and rules that give q and k no relevance skip their backward). -1 (unreported)
 * when x's tensors are not plain floats of known names: the caller slices instead. */
static int dense_part(imp *im, int node, int x, int64_t start, int64_t end)
{
    const ctensor *w = im->layers[x].param[P_WEIGHT], *b = im->layers[x].param[P_BIAS];
    if (!w || !w->is_float || w->rank != 2 || !w->store_name || (b && (!b->is_float || !b->store_name))) return -1;
    int64_t len = end - start, k = w->dims[1], wd[2] = { len, k };
    char name[700];
    snprintf(name, sizeof name, "%s[%lld:%lld]", w->store_name, (long long)start, (long long)end);
    ctensor *wp = ct_new(im, 1, OT_FLOAT, 2, wd, name), *bp = NULL;
    if (!wp || !(wp->store_name = strdup(name))) return imp_fail(im, "out of memory");
    memcpy(wp->f, w->f + start * k, (size_t)(len * k) * sizeof *wp->f);
    if (b) {
        snprintf(name, sizeof name, "%s[%lld:%lld]", b->store_name, (long long)start, (long long)end);
        if (!(bp = ct_new(im, 1, OT_FLOAT, 1, &len, name)) || !(bp->store_name = strdup(name)))
            return imp_fail(im, "out of memory");
        memcpy(bp->f, b->f + start, (size_t)len * sizeof *bp->f);
    }
    int in = im->layers[x].in[0], l = new_layer(im, L_DENSE, node, 1, &in);
    if (l < 0) return -2;
    layer *L = &im->layers[l];
    L->rank = im->layers[x].rank;
    memcpy(L->shape, im->layers[x].shape, sizeof L->shape);
    L->units = L->shape[L->rank - 1] = len;
    L->param[P_WEIGHT] = wp;
    L->param[P_BIAS] = bp;
    L->split_from = x;
    return l;
}

static int map_slice(imp *im, int node, int x)
{
    int64_t starts[CT_MAX_RANK], ends[CT_MAX_RANK], axes[CT_MAX_RANK], steps[CT_MAX_RANK];
    int n, cur = x, made = 0;
    if (slice_params(im, node, onnx_rank(&im->layers[x], im->in_place), starts, ends, axes, steps, &n)) return -1;
    for (int k = 0; k < n; k++) {
        if (axes[k] == im->in_place.axis) { /* the batch: only the whole of it */
            if (starts[k] != 0 || ends[k] < INT32_MAX || steps[k] != 1)
                return node_fail(im, node, "it slices the batch axis, which xaic keeps whole");
            continue;
        }
        int a = sample_axis(im, node, x, axes[k], "axis");
        if (a < 0) return -1;
        int64_t d = im->layers[cur].shape[a];
        if (steps[k] < 0) return node_fail(im, node, "negative steps (reversing an axis) are not supported");
        int64_t len = slice_clamp(d, &starts[k], &ends[k], steps[k]);
        if (!len) return node_fail(im, node, "the slice of axis %d is empty", a + 1);
        if (len == d) continue; /* the whole axis */
        char hint[24];
        snprintf(hint, sizeof hint, "axis%d", a + 1);
        int part = cur == x && im->layers[x].op == L_DENSE && a == im->layers[x].rank - 1 && steps[k] == 1
            ? dense_part(im, node, x, starts[k], starts[k] + len)
            : -1;
        if (part < -1 || im->failed) return -1;
        cur = part >= 0
            ? part
            : slice_layer(im, node, cur, a, starts[k], starts[k] + (len - 1) * steps[k] + 1, steps[k], hint);
        if (cur < 0) return -1;
        made++;
    }
    if (!made) return out_alias(im, node, 0, x);
    if (made == 1) {
        free(im->layers[cur].hint);
        im->layers[cur].hint = NULL;
    }
    return out_layer(im, node, 0, cur);
}

/* Gather of a network tensor with one constant index on a per-sample axis (a ViT's head reading the class token,
 * x[:, 0]): a slice of that position, then a reshape without the axis when the index is a scalar. */
static int map_gather(imp *im, int node, int x)
{
    int64_t axis, index[2];
    int n;
    const layer *X = &im->layers[x];
    if (attr_int(im, node, "axis", 0, &axis)) return -1;
    if (axis < 0) axis += X->rank + 1;
    if (axis < 0 || axis > X->rank) return node_fail(im, node, "axis out of range");
    if (no_batch_axis(im, node, axis)) return -1;
    ctensor *c = in_const(im, node, 1);
    if (!c) return -1;
    int scalar = c->rank == 0;
    if (c->rank > 1 || ct_int_values(im, node, c, "Gather's indices", index, 2, &n))
        return im->failed ? -1 : node_fail(im, node, "Gather's indices must be one constant integer");
    if (n != 1) return node_fail(im, node, "Gather of %d positions of a network tensor is not supported (one only)", n);
    int a = (int)axis - 1;
    int64_t d = X->shape[a], i = index[0] < 0 ? index[0] + d : index[0];
    if (i < 0 || i >= d)
        return node_fail(im, node, "index %lld is outside axis %d of size %lld", (long long)index[0], a + 1,
                         (long long)d);
    int l = slice_layer(im, node, x, a, i, i + 1, 1, scalar ? "slice" : NULL);
    if (l < 0) return -1;
    if (!scalar) return out_layer(im, node, 0, l);
    const layer *S = &im->layers[l];
    int64_t dims[XAI_IMPORT_MAX_RANK];
    int rank = 0;
    for (int k = 0; k < S->rank; k++)
        if (k != a) dims[rank++] = S->shape[k];
    if (rank == 0) return node_fail(im, node, "Gather would leave a sample without values");
    return reshape_to(im, node, l, rank, dims);
}

int map_shape(imp *im, int node, const char *op)
{
    if (!strcmp(op, "Concat")) return map_concat(im, node);
    int x = in_layer(im, node, 0);
    if (x < 0) return -1;
    if (!strcmp(op, "Identity")) return out_alias(im, node, 0, x);
    if (!strcmp(op, "Dropout")) {
        double on;
        ctensor *t = node_has_input(im, node, 2) ? in_const(im, node, 2) : NULL;
        if (t && !ct_scalar(t, &on) && on != 0) return node_fail(im, node, "Dropout in training mode is not supported");
        return im->failed ? -1 : out_alias(im, node, 0, x);
    }
    if (!strcmp(op, "Cast")) {
        int64_t to;
        if (attr_int(im, node, "to", 0, &to)) return -1;
        if (to != OT_FLOAT && to != OT_FLOAT16 && to != OT_DOUBLE && to != OT_BFLOAT16)
            return node_fail(im, node, "Cast of a network tensor to %s is not supported", onnx_type_name((int32_t)to));
        return out_alias(im, node, 0, x);
    }
    if (!strcmp(op, "Shape")) {
        int64_t dims[XAI_IMPORT_MAX_RANK + 1];
        uint8_t sym[XAI_IMPORT_MAX_RANK + 1];
        int r = onnx_dims(im, &im->layers[x], im->in_place, dims, sym);
        return fold_shape_of(im, node, r, dims, sym);
    }
    if (!strcmp(op, "Flatten")) return map_flatten(im, node, x);
    if (!strcmp(op, "Reshape")) return map_reshape(im, node, x);
    if (!strcmp(op, "Squeeze")) return map_squeeze(im, node, x, 1);
    if (!strcmp(op, "Unsqueeze")) return map_squeeze(im, node, x, 0);
    if (!strcmp(op, "Transpose")) return map_transpose(im, node, x);
    if (!strcmp(op, "Split")) return map_split(im, node, x);
    if (!strcmp(op, "Slice")) return map_slice(im, node, x);
    if (!strcmp(op, "Gather")) return map_gather(im, node, x);
    return node_fail(im, node, "%s on network tensors is not supported", op);
}
