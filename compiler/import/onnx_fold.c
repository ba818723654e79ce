/* Constant folding: nodes whose inputs are all constants are evaluated at import. This is what makes
 * the shape arithmetic of exports disappear (`x.view(x.size(0), -1)`, ShuffleNet's channel shuffle,
 * the pads of an opset-11 Pad): Shape of a network tensor gives its dims with the batch marked
 * SYM_BATCH, and the marks travel through Gather / Unsqueeze / Concat / Slice / Cast and the integer
 * arithmetic (batch * 1 stays the batch, anything else derived from it becomes SYM_DYNAMIC). Every
 * result is bounded in size (FOLD_MAX_ELEMS, FOLD_BUDGET_ELEMS) and integer arithmetic is checked. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

static const char *const foldable[] = { "Add",       "Cast",      "Concat", "Constant", "ConstantOfShape", "Div",
                                        "Dropout",   "Equal",     "Expand", "Flatten",  "Gather",          "Identity",
                                        "Mul",       "Reshape",   "Shape",  "Slice",    "Squeeze",         "Sub",
                                        "Transpose", "Unsqueeze", "Where" };

int is_foldable_op(const char *op)
{
    for (size_t i = 0; i < sizeof foldable / sizeof foldable[0]; i++)
        if (!strcmp(foldable[i], op)) return 1;
    return 0;
}

/* A new folded constant shaped like `dims`, of the kind of `like` (or float), with a sym array if asked. */
static ctensor *fold_new(imp *im, int node, int is_float, int32_t type, int rank, const int64_t *dims, int with_sym)
{
    int64_t count;
    if (rank > CT_MAX_RANK) {
        node_fail(im, node, "a folded constant would have rank %d (> %d)", rank, CT_MAX_RANK);
        return NULL;
    }
    if (ct_checked_count(dims, rank, &count) || count > FOLD_MAX_ELEMS ||
        im->folded_elems + count > FOLD_BUDGET_ELEMS) {
        node_fail(im, node, "folding it would make a constant of more than %d elements", FOLD_MAX_ELEMS);
        return NULL;
    }
    im->folded_elems += count;
    ctensor *c = ct_new(im, is_float, type, rank, dims, node_label(im, node));
    if (c && with_sym && !(c->sym = calloc(count ? (size_t)count : 1, 1))) {
        imp_fail(im, "out of memory");
        return NULL;
    }
    return c;
}

static void copy_elem(ctensor *dst, int64_t j, const ctensor *src, int64_t k)
{
    if (dst->is_float)
        dst->f[j] = (float)ct_get(src, k);
    else
        dst->i[j] = src->is_float ? (int64_t)src->f[k] : src->i[k];
    if (dst->sym) dst->sym[j] = src->sym ? src->sym[k] : SYM_KNOWN;
}

static int norm_axis(imp *im, int node, int64_t axis, int rank, int64_t *out)
{
    if (axis < -rank || axis >= rank)
        return node_fail(im, node, "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = axis < 0 ? axis + rank : axis;
    return 0;
}

/* ---- elementwise arithmetic with numpy broadcasting ---- */

static int int_op(imp *im, int node, char op, int64_t a, int64_t b, int64_t *r)
{
    int ovf = 0;
    switch (op) {
    case '+': ovf = __builtin_add_overflow(a, b, r); break;
    case '-': ovf = __builtin_sub_overflow(a, b, r); break;
    case '*': ovf = __builtin_mul_overflow(a, b, r); break;
    default:
        if (b == 0) return node_fail(im, node, "integer division by zero");
        if (a == INT64_MIN && b == -1)
            ovf = 1;
        else
            *r = a / b; /* truncation, as ONNX runtimes do */
    }
    if (ovf) return node_fail(im, node, "integer overflow in %lld %c %lld", (long long)a, op, (long long)b);
    return 0;
}

/* The batch multiple a mark stands for: 1 (SYM_BATCH), k (SYM_SCALED, k in the value), 0 (not a multiple) */
static int64_t batch_multiple(uint8_t mark, double value)
{
    return mark == SYM_BATCH ? 1 : mark == SYM_SCALED && value >= 2 && value < 9e15 ? (int64_t)value : 0;
}

/* The mark of a op b when a or b is not a known number, and in *k the multiple of a SYM_SCALED result: the
 * batch times or divided by a known whole number stays a multiple of the batch (N * H, (N * H) / H). */
static uint8_t sym_op(char op, uint8_t sa, uint8_t sb, double a, double b, int64_t *k)
{
    int64_t ka = batch_multiple(sa, a), kb = batch_multiple(sb, b), m = 0;
    if (!ka && kb && sa == SYM_KNOWN && op != '-' && op != '/') { /* commutative: the multiple first */
        ka = kb, kb = 0, b = a, sb = SYM_KNOWN;
    }
    if (ka && !kb && sb == SYM_KNOWN && fabs(b) < 9e15 && b == (double)(int64_t)b) {
        int64_t n = (int64_t)b;
        if ((op == '+' || op == '-') && n == 0) m = ka;
        if (op == '*' && n >= 1 && __builtin_mul_overflow(ka, n, &m)) m = 0;
        if (op == '/' && n >= 1 && ka % n == 0) m = ka / n;
    }
    *k = m;
    return m == 1 ? SYM_BATCH : m > 1 ? SYM_SCALED : SYM_DYNAMIC;
}

/* numpy broadcasting of n constants: the result's dims and each input's element strides */
static int broadcast(imp *im, int node, int n, const ctensor *const *in, int *rank, int64_t *dims,
                     int64_t strides[][CT_MAX_RANK])
{
    int r = 0;
    for (int q = 0; q < n; q++) r = in[q]->rank > r ? in[q]->rank : r;
    for (int k = r - 1; k >= 0; k--) {
        dims[k] = 1;
        for (int q = 0; q < n; q++) {
            int kq = k - (r - in[q]->rank);
            int64_t d = kq >= 0 ? in[q]->dims[kq] : 1;
            if (d != 1 && dims[k] != 1 && d != dims[k]) {
                char shapes[400] = "";
                for (int p = 0; p < n; p++) {
                    size_t at = strlen(shapes);
                    snprintf(shapes + at, sizeof shapes - at, "%s", p == 0 ? "" : p == n - 1 ? " and " : ", ");
                    at = strlen(shapes);
                    format_dims(shapes + at, sizeof shapes - at, in[p]->dims, in[p]->rank);
                }
                return node_fail(im, node, "the shapes %s do not broadcast", shapes);
            }
            if (d != 1) dims[k] = d;
        }
    }
    for (int q = 0; q < n; q++) {
        int64_t s = 1;
        for (int k = r - 1; k >= 0; k--) {
            int kq = k - (r - in[q]->rank);
            int64_t d = kq >= 0 ? in[q]->dims[kq] : 1;
            strides[q][k] = d == 1 ? 0 : s;
            /* past int64: an input of no elements (a 0 dim) or Expand's shape stand-in, whose strides go unused */
            if (__builtin_mul_overflow(s, d, &s)) s = 0;
        }
    }
    *rank = r;
    return 0;
}

static int64_t broadcast_at(const int64_t *idx, const int64_t *strides, int rank)
{
    int64_t at = 0;
    for (int k = 0; k < rank; k++) at += idx[k] * strides[k];
    return at;
}

static int fold_binary(imp *im, int node, char op, const ctensor *a, const ctensor *b)
{
    const ctensor *in[2] = { a, b };
    int64_t dims[CT_MAX_RANK], st[2][CT_MAX_RANK];
    int rank;
    if (broadcast(im, node, 2, in, &rank, dims, st)) return -1;
    int is_float = a->is_float || b->is_float;
    ctensor *r = fold_new(im, node, is_float, is_float ? OT_FLOAT : a->onnx_type, rank, dims, a->sym || b->sym);
    if (!r) return -1;
    int64_t idx[CT_MAX_RANK] = { 0 };
    for (int64_t j = 0; j < r->count; j++) {
        int64_t ia = broadcast_at(idx, st[0], rank), ib = broadcast_at(idx, st[1], rank);
        uint8_t ma = a->sym ? a->sym[ia] : SYM_KNOWN, mb = b->sym ? b->sym[ib] : SYM_KNOWN;
        if (ma || mb) {
            int64_t k;
            r->sym[j] = sym_op(op, ma, mb, ct_get(a, ia), ct_get(b, ib), &k);
            if (is_float)
                r->f[j] = (float)k;
            else
                r->i[j] = k;
        } else if (is_float) {
            double x = ct_get(a, ia), y = ct_get(b, ib);
            r->f[j] = (float)(op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : x / y);
        } else if (int_op(im, node, op, a->i[ia], b->i[ib], &r->i[j])) {
            return -1;
        }
        for (int k = rank - 1; k >= 0 && ++idx[k] == dims[k]; k--) idx[k] = 0;
    }
    return out_const(im, node, 0, r);
}

/* Equal on shape values; the batch (or a known multiple of it) is at least 1, so it differs from every number below 1
 * (torch's `expand(n, -1, -1)` compares the shape with -1) */
static int fold_equal(imp *im, int node, const ctensor *a, const ctensor *b)
{
    const ctensor *in[2] = { a, b };
    int64_t dims[CT_MAX_RANK], st[2][CT_MAX_RANK], idx[CT_MAX_RANK] = { 0 };
    int rank;
    if (broadcast(im, node, 2, in, &rank, dims, st)) return -1;
    ctensor *r = fold_new(im, node, 0, OT_BOOL, rank, dims, 0);
    if (!r) return -1;
    for (int64_t j = 0; j < r->count; j++) {
        int64_t ia = broadcast_at(idx, st[0], rank), ib = broadcast_at(idx, st[1], rank);
        uint8_t ma = a->sym ? a->sym[ia] : SYM_KNOWN, mb = b->sym ? b->sym[ib] : SYM_KNOWN;
        double x = ct_get(a, ia), y = ct_get(b, ib);
        if (ma && mb)
            return node_fail(im, node, "it compares two values that depend on the batch size");
        else if (ma == SYM_DYNAMIC || mb == SYM_DYNAMIC)
            return node_fail(im, node, "it compares a value computed from the batch size, which xaic cannot decide");
        else if (ma || mb) {
            if ((ma ? y : x) >= 1)
                return node_fail(im, node, "it compares the batch size with %g, which xaic cannot decide at import",
                                 ma ? y : x);
            r->i[j] = 0;
        } else
            r->i[j] = x == y;
        for (int k = rank - 1; k >= 0 && ++idx[k] == dims[k]; k--) idx[k] = 0;
    }
    return out_const(im, node, 0, r);
}

static int fold_where(imp *im, int node)
{
    const ctensor *in[3];
    for (int q = 0; q < 3; q++)
        if (!(in[q] = in_const(im, node, q))) return -1;
    if (ct_has_sym(in[0])) return node_fail(im, node, "its condition depends on the batch size");
    int64_t dims[CT_MAX_RANK], st[3][CT_MAX_RANK], idx[CT_MAX_RANK] = { 0 };
    int rank, is_float = in[1]->is_float || in[2]->is_float;
    if (broadcast(im, node, 3, in, &rank, dims, st)) return -1;
    ctensor *r =
        fold_new(im, node, is_float, is_float ? OT_FLOAT : in[1]->onnx_type, rank, dims, in[1]->sym || in[2]->sym);
    if (!r) return -1;
    for (int64_t j = 0; j < r->count; j++) {
        int pick = ct_get(in[0], broadcast_at(idx, st[0], rank)) != 0 ? 1 : 2;
        copy_elem(r, j, in[pick], broadcast_at(idx, st[pick], rank));
        for (int k = rank - 1; k >= 0 && ++idx[k] == dims[k]; k--) idx[k] = 0;
    }
    return out_const(im, node, 0, r);
}

/* Expand of a constant: to a known shape, folded; to [batch, ...] (a ViT's class token, `expand(n, -1, -1)`),
 * the constant per sample: a parameter layer. */
static int fold_expand(imp *im, int node, const ctensor *x, const ctensor *shape)
{
    if (shape->is_float || shape->rank != 1 || shape->count > CT_MAX_RANK)
        return node_fail(im, node, "the shape must be a list of at most %d integers", CT_MAX_RANK);
    int64_t known[CT_MAX_RANK];
    for (int64_t k = 0; k < shape->count; k++) known[k] = shape->sym && shape->sym[k] ? 1 : shape->i[k];
    ctensor target = { .rank = (int)shape->count, .count = 1 }; /* a shape-only stand-in for broadcasting */
    for (int k = 0; k < target.rank; k++) {
        if (known[k] < 0) return node_fail(im, node, "negative dimension %lld", (long long)known[k]);
        target.dims[k] = known[k];
    }
    const ctensor *in[2] = { x, &target };
    int64_t dims[CT_MAX_RANK], st[2][CT_MAX_RANK], idx[CT_MAX_RANK] = { 0 };
    int rank;
    if (broadcast(im, node, 2, in, &rank, dims, st)) return -1;
    if (ct_has_sym(shape)) {
        int lead = rank - target.rank;
        for (int k = 0; k < target.rank; k++)
            if (shape->sym[k] && (k + lead != 0 || shape->sym[k] != SYM_BATCH))
                return node_fail(im, node,
                                 "it expands to a shape whose axis %d depends on the batch size; xaic "
                                 "supports the batch as the first axis only",
                                 k);
        if (lead || (x->rank == rank && x->dims[0] != 1))
            return node_fail(im, node, "it expands a constant whose first axis is not of size 1 to the batch");
        for (int k = 1; k < rank; k++)
            if ((k - (rank - x->rank) < 0 ? 1 : x->dims[k - (rank - x->rank)]) != dims[k])
                return node_fail(im, node, "it expands a constant within a sample (only along the batch)");
        int l = parameter_layer(im, node, 0, rank - 1);
        return l < 0 ? -1 : out_layer(im, node, 0, l);
    }
    ctensor *r = fold_new(im, node, x->is_float, x->onnx_type, rank, dims, x->sym != NULL);
    if (!r) return -1;
    for (int64_t j = 0; j < r->count; j++) {
        copy_elem(r, j, x, broadcast_at(idx, st[0], rank));
        for (int k = rank - 1; k >= 0 && ++idx[k] == dims[k]; k--) idx[k] = 0;
    }
    return out_const(im, node, 0, r);
}

/* ---- Constant, ConstantOfShape, Cast ---- */

static int fold_constant(imp *im, int node)
{
    const Onnx__NodeProto *n = node_at(im, node);
    if (n->n_attribute != 1 || !n->attribute[0]->name)
        return node_fail(im, node, "a Constant needs exactly one attribute");
    const Onnx__AttributeProto *a = n->attribute[0];
    const char *k = a->name;
    ctensor *c = NULL;
    if (!strcmp(k, "value")) {
        if (!a->t) return node_fail(im, node, "attribute 'value' holds no tensor");
        c = decode_tensor(im, a->t, node_label(im, node));
    } else if (!strcmp(k, "value_float") || !strcmp(k, "value_int")) {
        int is_f = k[6] == 'f';
        if (!(c = ct_new(im, is_f, is_f ? OT_FLOAT : OT_INT64, 0, NULL, k))) return -1;
        if (is_f)
            c->f[0] = a->f;
        else
            c->i[0] = a->i;
    } else if (!strcmp(k, "value_floats") || !strcmp(k, "value_ints")) {
        int is_f = k[6] == 'f';
        int64_t len = is_f ? (int64_t)a->n_floats : (int64_t)a->n_ints;
        if (!(c = ct_new(im, is_f, is_f ? OT_FLOAT : OT_INT64, 1, &len, k))) return -1;
        for (int64_t j = 0; j < len; j++) {
            if (is_f)
                c->f[j] = a->floats[j];
            else
                c->i[j] = a->ints[j];
        }
    } else {
        return node_fail(im, node, "Constant with attribute '%s' is not supported", k);
    }
    return c ? out_const(im, node, 0, c) : -1;
}

static int fold_constant_of_shape(imp *im, int node)
{
    ctensor *shape = in_const(im, node, 0);
    int64_t dims[CT_MAX_RANK];
    int rank;
    if (!shape || ct_int_values(im, node, shape, "the shape", dims, CT_MAX_RANK, &rank)) return -1;
    const Onnx__AttributeProto *a = node_attr(im, node, "value");
    ctensor *v = NULL;
    if (a && (!a->t || !(v = decode_tensor(im, a->t, node_label(im, node)))))
        return im->failed ? -1 : node_fail(im, node, "bad 'value'");
    if (v && v->count != 1) return node_fail(im, node, "'value' must hold one element");
    for (int k = 0; k < rank; k++)
        if (dims[k] < 0) return node_fail(im, node, "negative dimension %lld", (long long)dims[k]);
    ctensor *r = fold_new(im, node, v ? v->is_float : 1, v ? v->onnx_type : OT_FLOAT, rank, dims, 0);
    if (!r) return -1;
    for (int64_t j = 0; j < r->count; j++) copy_elem(r, j, v ? v : r, 0);
    return out_const(im, node, 0, r);
}

static int fold_cast(imp *im, int node, const ctensor *x)
{
    int64_t to;
    if (attr_int(im, node, "to", 0, &to)) return -1;
    int to_float = to == OT_FLOAT || to == OT_DOUBLE || to == OT_FLOAT16 || to == OT_BFLOAT16;
    int to_int = to == OT_INT8 || to == OT_INT16 || to == OT_INT32 || to == OT_INT64 || to == OT_UINT8 ||
        to == OT_UINT16 || to == OT_UINT32 || to == OT_UINT64 || to == OT_BOOL;
    if (!to_float && !to_int) return node_fail(im, node, "Cast to %s is not supported", onnx_type_name((int32_t)to));
    ctensor *r = fold_new(im, node, to_float, (int32_t)to, x->rank, x->dims, x->sym != NULL);
    if (!r) return -1;
    for (int64_t j = 0; j < x->count; j++) {
        if (r->sym) r->sym[j] = x->sym ? x->sym[j] : SYM_KNOWN;
        if (to_float) {
            r->f[j] = (float)ct_get(x, j);
            continue;
        }
        if (x->is_float) {
            float f = x->f[j];
            if (!isfinite(f) || f >= 9.2e18f || f <= -9.2e18f)
                return node_fail(im, node, "Cast of %g to %s overflows", f, onnx_type_name((int32_t)to));
            r->i[j] = (int64_t)f;
        } else {
            r->i[j] = x->i[j];
        }
        if (to == OT_BOOL) r->i[j] = r->i[j] != 0;
    }
    return out_const(im, node, 0, r);
}

/* ---- shapes: Shape, Gather, Unsqueeze, Squeeze, Concat, Reshape, Transpose, Flatten ---- */

int fold_shape_of(imp *im, int node, int rank, const int64_t *dims, const uint8_t *sym)
{
    int64_t start, end;
    if (attr_int(im, node, "start", 0, &start) || attr_int(im, node, "end", rank, &end)) return -1;
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = start < 0 ? 0 : start > rank ? rank : start;
    end = end < start ? start : end > rank ? rank : end;
    int64_t len = end - start;
    ctensor *r = fold_new(im, node, 0, OT_INT64, 1, &len, sym != NULL);
    if (!r) return -1;
    for (int64_t j = 0; j < len; j++) {
        r->i[j] = dims[start + j];
        if (sym) r->sym[j] = sym[start + j];
    }
    return out_const(im, node, 0, r);
}

static int fold_gather(imp *im, int node, const ctensor *data, const ctensor *idx)
{
    int64_t axis;
    if (attr_int(im, node, "axis", 0, &axis) || data->rank < 1 || norm_axis(im, node, axis, data->rank, &axis))
        return im->failed ? -1 : node_fail(im, node, "Gather of a scalar");
    if (idx->is_float || ct_has_sym(idx)) return node_fail(im, node, "the indices must be known integers");
    int rank = data->rank - 1 + idx->rank;
    int64_t dims[CT_MAX_RANK * 2];
    int r_at = 0;
    for (int k = 0; k < axis; k++) dims[r_at++] = data->dims[k];
    for (int k = 0; k < idx->rank; k++) dims[r_at++] = idx->dims[k];
    for (int k = (int)axis + 1; k < data->rank; k++) dims[r_at++] = data->dims[k];
    ctensor *r = fold_new(im, node, data->is_float, data->onnx_type, rank, dims, data->sym != NULL);
    if (!r) return -1;
    int64_t outer = 1, inner = 1, d = data->dims[axis];
    for (int k = 0; k < axis; k++) outer *= data->dims[k];
    for (int k = (int)axis + 1; k < data->rank; k++) inner *= data->dims[k];
    int64_t j = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t q = 0; q < idx->count; q++) {
            int64_t at = idx->i[q] < 0 ? idx->i[q] + d : idx->i[q];
            if (at < 0 || at >= d)
                return node_fail(im, node, "index %lld is out of range [%lld, %lld)", (long long)idx->i[q],
                                 (long long)-d, (long long)d);
            for (int64_t in = 0; in < inner; in++) copy_elem(r, j++, data, (o * d + at) * inner + in);
        }
    return out_const(im, node, 0, r);
}

/* The axes of Squeeze / Unsqueeze: input 1 (opset 13) or the attribute (before); *n = -1 if absent. */
int squeeze_axes(imp *im, int node, int64_t *axes, int *n)
{
    if (node_has_input(im, node, 1)) {
        ctensor *c = in_const(im, node, 1);
        return c ? ct_int_values(im, node, c, "the axes", axes, CT_MAX_RANK, n) : -1;
    }
    return attr_ints(im, node, "axes", axes, CT_MAX_RANK, n);
}

static int fold_reshaped(imp *im, int node, const ctensor *x, int rank, const int64_t *dims)
{
    ctensor *r = fold_new(im, node, x->is_float, x->onnx_type, rank, dims, x->sym != NULL);
    if (!r) return -1;
    if (r->count != x->count)
        return node_fail(im, node, "cannot reshape %lld elements to %lld", (long long)x->count, (long long)r->count);
    for (int64_t j = 0; j < x->count; j++) copy_elem(r, j, x, j);
    return out_const(im, node, 0, r);
}

static int fold_unsqueeze(imp *im, int node, const ctensor *x, int squeeze)
{
    int64_t axes[CT_MAX_RANK], dims[CT_MAX_RANK];
    int n, rank = 0;
    if (squeeze_axes(im, node, axes, &n)) return -1;
    int out_rank = squeeze ? x->rank : x->rank + (n < 0 ? 0 : n);
    if (out_rank > CT_MAX_RANK) return node_fail(im, node, "rank %d is too large", out_rank);
    uint8_t mark[CT_MAX_RANK] = { 0 };
    for (int k = 0; k < n; k++) {
        int64_t a = 0;
        if (norm_axis(im, node, axes[k], out_rank, &a)) return -1;
        if (mark[a]++) return node_fail(im, node, "axis %lld is repeated", (long long)axes[k]);
        if (squeeze && x->dims[a] != 1)
            return node_fail(im, node, "cannot squeeze axis %lld of size %lld", (long long)a, (long long)x->dims[a]);
    }
    if (!squeeze && n < 0) return node_fail(im, node, "Unsqueeze needs axes");
    for (int k = 0, src = 0; k < out_rank; k++) {
        if (squeeze) {
            if (!(n < 0 ? x->dims[k] == 1 : mark[k])) dims[rank++] = x->dims[k];
        } else
            dims[rank++] = mark[k] ? 1 : x->dims[src++];
    }
    return fold_reshaped(im, node, x, rank, dims);
}

static int fold_concat(imp *im, int node)
{
    const Onnx__NodeProto *n = node_at(im, node);
    int64_t axis;
    ctensor *first = in_const(im, node, 0);
    if (!first || attr_int(im, node, "axis", 0, &axis) || norm_axis(im, node, axis, first->rank, &axis)) return -1;
    int64_t dims[CT_MAX_RANK];
    memcpy(dims, first->dims, sizeof dims);
    dims[axis] = 0;
    int is_float = 0, sym = 0;
    for (int k = 0; k < (int)n->n_input; k++) {
        ctensor *c = in_const(im, node, k);
        if (!c) return -1;
        if (c->rank != first->rank) return node_fail(im, node, "inputs of ranks %d and %d", first->rank, c->rank);
        for (int d = 0; d < c->rank; d++)
            if (d != axis && c->dims[d] != first->dims[d])
                return node_fail(im, node, "input shapes differ off the axis");
        if (__builtin_add_overflow(dims[axis], c->dims[axis], &dims[axis])) return node_fail(im, node, "too large");
        is_float |= c->is_float;
        sym |= c->sym != NULL;
    }
    ctensor *r = fold_new(im, node, is_float, is_float ? OT_FLOAT : first->onnx_type, first->rank, dims, sym);
    if (!r) return -1;
    int64_t outer = 1, inner = 1, j = 0;
    for (int d = 0; d < axis; d++) outer *= dims[d];
    for (int d = (int)axis + 1; d < first->rank; d++) inner *= dims[d];
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < (int)n->n_input; k++) {
            const ctensor *c = node_in(im, node, k)->c;
            int64_t block = c->dims[axis] * inner;
            for (int64_t e = 0; e < block; e++) copy_elem(r, j++, c, o * block + e);
        }
    return out_const(im, node, 0, r);
}

static int fold_reshape(imp *im, int node, const ctensor *x, const ctensor *shape)
{
    int64_t dims[CT_MAX_RANK], allowzero, known = 1;
    int rank, infer = -1;
    if (ct_int_values(im, node, shape, "the target shape", dims, CT_MAX_RANK, &rank) ||
        attr_int(im, node, "allowzero", 0, &allowzero))
        return -1;
    for (int k = 0; k < rank; k++) {
        if (dims[k] == 0 && !allowzero) {
            if (k >= x->rank) return node_fail(im, node, "0 copies a dimension the input does not have");
            dims[k] = x->dims[k];
        }
        if (dims[k] == -1) {
            if (infer >= 0) return node_fail(im, node, "more than one -1 in the target shape");
            infer = k;
        } else if (dims[k] < 0)
            return node_fail(im, node, "target dimension %lld", (long long)dims[k]);
        else if (__builtin_mul_overflow(known, dims[k], &known))
            return node_fail(im, node, "target too large");
    }
    if (infer >= 0) {
        if (!known || x->count % known) return node_fail(im, node, "cannot infer the -1 of the target shape");
        dims[infer] = x->count / known;
    }
    return fold_reshaped(im, node, x, rank, dims);
}

static int fold_transpose(imp *im, int node, const ctensor *x)
{
    int64_t perm[CT_MAX_RANK], dims[CT_MAX_RANK], stride[CT_MAX_RANK];
    int n;
    if (attr_ints(im, node, "perm", perm, CT_MAX_RANK, &n)) return -1;
    if (n < 0) {
        n = x->rank;
        for (int k = 0; k < n; k++) perm[k] = n - 1 - k;
    }
    if (n != x->rank) return node_fail(im, node, "perm has %d entries for rank %d", n, x->rank);
    uint8_t seen[CT_MAX_RANK] = { 0 };
    for (int k = 0; k < n; k++) {
        if (perm[k] < 0 || perm[k] >= n || seen[perm[k]]++) return node_fail(im, node, "perm is not a permutation");
        dims[k] = x->dims[perm[k]];
    }
    int64_t s = 1;
    for (int k = n - 1; k >= 0; k--) {
        stride[k] = s;
        s *= x->dims[k];
    }
    ctensor *r = fold_new(im, node, x->is_float, x->onnx_type, n, dims, x->sym != NULL);
    if (!r) return -1;
    int64_t idx[CT_MAX_RANK] = { 0 };
    for (int64_t j = 0; j < r->count; j++) {
        int64_t src = 0;
        for (int k = 0; k < n; k++) src += idx[k] * stride[perm[k]];
        copy_elem(r, j, x, src);
        for (int k = n - 1; k >= 0 && ++idx[k] == dims[k]; k--) idx[k] = 0;
    }
    return out_const(im, node, 0, r);
}

int fold_node(imp *im, int node)
{
    const char *op = node_at(im, node)->op_type;
    if (!strcmp(op, "Constant")) return fold_constant(im, node);
    if (!strcmp(op, "ConstantOfShape")) return fold_constant_of_shape(im, node);
    if (!strcmp(op, "Concat")) return fold_concat(im, node);
    ctensor *x = in_const(im, node, 0);
    if (!x) return -1;
    if (!strcmp(op, "Identity") || !strcmp(op, "Dropout")) return out_const(im, node, 0, x);
    if (!strcmp(op, "Cast")) return fold_cast(im, node, x);
    if (!strcmp(op, "Shape")) return fold_shape_of(im, node, x->rank, x->dims, NULL);
    if (!strcmp(op, "Unsqueeze")) return fold_unsqueeze(im, node, x, 0);
    if (!strcmp(op, "Squeeze")) return fold_unsqueeze(im, node, x, 1);
    if (!strcmp(op, "Transpose")) return fold_transpose(im, node, x);
    if (!strcmp(op, "Slice")) return fold_slice(im, node, x);
    if (!strcmp(op, "Flatten")) {
        int64_t axis, dims[2] = { 1, 1 };
        if (attr_int(im, node, "axis", 1, &axis)) return -1;
        if (axis < 0) axis += x->rank;
        if (axis < 0 || axis > x->rank) return node_fail(im, node, "axis out of range");
        for (int k = 0; k < x->rank; k++) dims[k >= axis] *= x->dims[k];
        return fold_reshaped(im, node, x, 2, dims);
    }
    if (!strcmp(op, "Where")) return fold_where(im, node);
    ctensor *y = in_const(im, node, 1);
    if (!y) return -1;
    if (!strcmp(op, "Gather")) return fold_gather(im, node, x, y);
    if (!strcmp(op, "Equal")) return fold_equal(im, node, x, y);
    if (!strcmp(op, "Expand")) return fold_expand(im, node, x, y);
    if (!strcmp(op, "Reshape")) return fold_reshape(im, node, x, y);
    char sym = !strcmp(op, "Add") ? '+' : !strcmp(op, "Sub") ? '-' : !strcmp(op, "Mul") ? '*' : '/';
    return fold_binary(im, node, sym, x, y);
}
