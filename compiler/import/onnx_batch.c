/* Where the batch axis is. Layers hold one sample, and most exports keep the batch as the first axis. Exports of
 * nn.MultiheadAttention move it: a Transpose makes the tokens sequence-first ([T, N, D]), Reshapes merge the
 * batch with the heads ([T, N*H, d], batch outer) or with the tokens ([T*N, D], batch inner), and the same
 * steps run backwards before the residual add. Whatever the ONNX shape, a network tensor's data is then
 * [P, N, Q] in row-major order with each sample's own values as [P, Q]: every op that does not mix samples
 * acts on each sample alone, so the importer follows the batch (value.place) and writes per-sample layers.
 * Reshape, Transpose, Shape, Slice, Softmax, MatMul, Gemm and the elementwise ops follow it; every other op
 * needs the batch first (check_batch_places), and so does the graph output. */
#include <stdio.h>
#include <string.h>

#include "onnx_internal.h"

static const char *const batch_aware[] = { "Add",    "Cast",    "Clip",        "Div",       "Dropout",  "Elu",
                                           "Erf",    "Gemm",    "HardSigmoid", "HardSwish", "Identity", "LeakyRelu",
                                           "MatMul", "Mul",     "Relu",        "Reshape",   "Shape",    "Sigmoid",
                                           "Slice",  "Softmax", "Sub",         "Tanh",      "Transpose" };

int place_is_first(batch_place p) { return p.axis == 0 && p.merge == B_ALONE; }

int onnx_rank(const layer *L, batch_place p) { return L->rank + (p.merge == B_ALONE); }

/* The ONNX dims of a network tensor (per-sample shape plus the batch where it is): the batch's own entry is 0
 * with mark SYM_BATCH, a merged one k with SYM_SCALED (k * N) - or SYM_BATCH when k is 1. */
int onnx_dims(const imp *im, const layer *L, batch_place p, int64_t *dims, uint8_t *sym)
{
    int r = 0;
    for (int k = 0; k <= L->rank; k++) {
        if (k == p.axis && p.merge == B_ALONE) {
            dims[r] = im->static_batch > 0 ? im->static_batch : 0;
            sym[r++] = SYM_BATCH;
        }
        if (k == L->rank) break;
        dims[r] = L->shape[k];
        sym[r] = k == p.axis && p.merge != B_ALONE ? (L->shape[k] == 1 ? SYM_BATCH : SYM_SCALED) : SYM_KNOWN;
        r++;
    }
    return r;
}

/* The elements of a sample before the batch in row-major order (the P of [P, N, Q]). */
static int64_t batch_prefix(const layer *L, batch_place p)
{
    int64_t n = 1;
    int end = p.merge == B_INNER ? p.axis + 1 : p.axis;
    for (int k = 0; k < end && k < L->rank; k++) n *= L->shape[k];
    return n;
}

static void describe(const imp *im, char *buf, size_t len, const layer *L, batch_place p)
{
    int64_t dims[XAI_IMPORT_MAX_RANK + 1];
    uint8_t sym[XAI_IMPORT_MAX_RANK + 1];
    int r = onnx_dims(im, L, p, dims, sym), at = 0;
    at += snprintf(buf + at, len - (size_t)at, "[");
    for (int k = 0; k < r && (size_t)at < len; k++) {
        const char *sep = k ? ", " : "";
        if (sym[k] == SYM_BATCH)
            at += snprintf(buf + at, len - (size_t)at, "%sN", sep);
        else if (sym[k] == SYM_SCALED)
            at += snprintf(buf + at, len - (size_t)at, p.merge == B_OUTER ? "%sN*%lld" : "%s%lld*N", sep,
                           (long long)dims[k]);
        else
            at += snprintf(buf + at, len - (size_t)at, "%s%lld", sep, (long long)dims[k]);
    }
    if ((size_t)at < len) snprintf(buf + at, len - (size_t)at, "]");
}

int check_batch_places(imp *im, int node)
{
    const Onnx__NodeProto *nd = node_at(im, node);
    batch_place p = { 0, B_ALONE };
    int first = -1;
    for (int k = 0; k < (int)nd->n_input; k++) {
        value *v = node_in(im, node, k);
        if (!v || (v->kind != V_LAYER && v->kind != V_PADDED)) continue;
        if (first < 0) {
            p = v->place;
            first = k;
        } else if (v->place.axis != p.axis || v->place.merge != p.merge) {
            char a[160], b[160];
            describe(im, a, sizeof a, &im->layers[node_in(im, node, first)->layer], p);
            describe(im, b, sizeof b, &im->layers[v->layer], v->place);
            return node_fail(im, node, "its inputs %s and %s hold the batch (N) at different places", a, b);
        }
    }
    im->in_place = p;
    im->out_place = p;
    if (place_is_first(p)) return 0;
    for (size_t i = 0; i < sizeof batch_aware / sizeof batch_aware[0]; i++)
        if (!strcmp(batch_aware[i], nd->op_type)) return 0;
    char a[160];
    describe(im, a, sizeof a, &im->layers[node_in(im, node, first)->layer], p);
    return node_fail(im, node,
                     "its input %s holds the batch (N) off the first axis (moved by an earlier Transpose or Reshape); "
                     "xaic follows the batch through Reshape, Transpose, MatMul, Gemm, Softmax, Slice and elementwise "
                     "ops only",
                     a);
}

int sample_axis(imp *im, int node, int x, int64_t axis, const char *what)
{
    const layer *X = &im->layers[x];
    batch_place p = im->in_place;
    int r = onnx_rank(X, p);
    if (axis < -r || axis >= r)
        return node_fail(im, node, "%s %lld is out of range for rank %d", what, (long long)axis, r);
    if (axis < 0) axis += r;
    if (axis == p.axis) {
        char a[160];
        describe(im, a, sizeof a, X, p);
        return node_fail(im, node, "its %s %lld is the one that holds the batch (N) in %s; xaic keeps the batch whole",
                         what, (long long)axis, a);
    }
    return (int)(p.merge == B_ALONE && axis > p.axis ? axis - 1 : axis);
}

int transpose_placed(imp *im, int node, int x, const int64_t *perm, int n, int64_t *sample_perm)
{
    const layer *X = &im->layers[x];
    batch_place p = im->in_place, q = p;
    if (n != onnx_rank(X, p)) return node_fail(im, node, "perm has %d entries for rank %d", n, onnx_rank(X, p));
    uint8_t seen[CT_MAX_RANK] = { 0 };
    int r = 0;
    for (int j = 0; j < n; j++) {
        if (perm[j] < 0 || perm[j] >= n || seen[perm[j]]++) return node_fail(im, node, "perm is not a permutation");
        if (perm[j] == p.axis) q.axis = j;
        if (perm[j] == p.axis && p.merge == B_ALONE) continue;
        sample_perm[r++] = p.merge == B_ALONE && perm[j] > p.axis ? perm[j] - 1 : perm[j];
    }
    im->out_place = q;
    return 0;
}

int reshape_placed(imp *im, int node, int x, const ctensor *t, int allowzero, int *rank, int64_t *dims)
{
    const layer *X = &im->layers[x];
    batch_place p = im->in_place;
    int64_t in_dims[XAI_IMPORT_MAX_RANK + 1], count = 1, known = 1;
    uint8_t in_sym[XAI_IMPORT_MAX_RANK + 1];
    int in_rank = onnx_dims(im, X, p, in_dims, in_sym), at = -1, infer = -1, n = (int)t->count;
    for (int k = 0; k < X->rank; k++) count *= X->shape[k];
    if (t->is_float || t->rank != 1 || n < 1 || n > XAI_IMPORT_MAX_RANK + 1)
        return node_fail(im, node, "the target shape must be 1 to %d integers", XAI_IMPORT_MAX_RANK + 1);
    int64_t k_batch = 0;
    for (int k = 0; k < n; k++) {
        uint8_t s = t->sym ? t->sym[k] : SYM_KNOWN;
        int64_t d = t->i[k];
        if (s == SYM_KNOWN && d == 0 && !allowzero) { /* 0 copies the input's dimension */
            if (k >= in_rank) return node_fail(im, node, "0 copies a dimension the input does not have");
            s = in_sym[k];
            d = in_dims[k];
        }
        if (s == SYM_DYNAMIC)
            return node_fail(im, node,
                             "the target shape's entry %d depends on the batch size in a way xaic cannot "
                             "follow (it follows N and N times a number)",
                             k);
        if (s != SYM_KNOWN) {
            if (at >= 0) return node_fail(im, node, "the target shape names the batch size twice");
            at = k;
            k_batch = s == SYM_BATCH ? 1 : d;
            d = k_batch;
        } else if (d == -1) {
            if (infer >= 0) return node_fail(im, node, "more than one -1 in the target shape");
            infer = k;
        } else if (d < 1 || __builtin_mul_overflow(known, d, &known)) {
            return node_fail(im, node, "target dimension %lld is not supported", (long long)d);
        }
        dims[k] = d;
    }
    if (at < 0)
        return node_fail(im, node,
                         "the target shape does not show where the batch goes (the batch is off the first axis "
                         "here); export with a dynamic batch axis (torch.onnx.export(..., dynamic_axes=...))");
    if (__builtin_mul_overflow(known, k_batch, &known) || (infer < 0 ? known != count : count % known))
        return node_fail(im, node, "the target shape does not hold one sample's %lld values", (long long)count);
    if (infer >= 0) dims[infer] = count / known;
    int64_t before = 1, P = batch_prefix(X, p);
    for (int k = 0; k < at; k++) before *= dims[k];
    batch_place q = { at, B_ALONE };
    if (k_batch == 1 && before == P)
        q.merge = B_ALONE;
    else if (before == P)
        q.merge = B_OUTER;
    else if (before * k_batch == P)
        q.merge = B_INNER;
    else {
        char a[160];
        describe(im, a, sizeof a, X, p);
        return node_fail(im, node, "the reshape of %s would mix samples (the batch would not stay one block)", a);
    }
    im->out_place = q;
    *rank = n;
    if (q.merge == B_ALONE) { /* the batch's own axis is not a sample's */
        memmove(dims + at, dims + at + 1, (size_t)(n - at - 1) * sizeof *dims);
        (*rank)--;
    }
    if (*rank < 1) return node_fail(im, node, "it would leave a sample without dimensions");
    return 0;
}

int check_output_place(imp *im, const value *v)
{
    if (place_is_first(v->place)) return 0;
    char a[160];
    describe(im, a, sizeof a, &im->layers[v->layer], v->place);
    return imp_fail(im,
                    "%s: the graph output '%s' is %s, with the batch (N) off the first axis; xaic writes one "
                    "sample after another",
                    im->label, v->name, a);
}
