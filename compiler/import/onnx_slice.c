/* Slice: its parameters (shared by the folded and the network-tensor forms) and the folded form. */
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

int64_t slice_clamp(int64_t d, int64_t *start, int64_t *end, int64_t step)
{
    int64_t s = *start, e = *end;
    if (s < 0) s += d;
    if (e < 0) e += d;
    if (step > 0) {
        s = s < 0 ? 0 : s > d ? d : s;
        e = e < 0 ? 0 : e > d ? d : e;
    } else {
        s = s < 0 ? 0 : s > d - 1 ? d - 1 : s;
        e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
    }
    *start = s;
    *end = e;
    int64_t span = step > 0 ? e - s : s - e, st = step > 0 ? step : -step;
    return span <= 0 ? 0 : (span - 1) / st + 1;
}

int slice_params(imp *im, int node, int rank, int64_t *starts, int64_t *ends, int64_t *axes, int64_t *steps, int *n)
{
    ctensor *c;
    int ns, ne, na = -1, nst = -1;
    if (!(c = in_const(im, node, 1)) || ct_int_values(im, node, c, "starts", starts, CT_MAX_RANK, &ns)) return -1;
    if (!(c = in_const(im, node, 2)) || ct_int_values(im, node, c, "ends", ends, CT_MAX_RANK, &ne)) return -1;
    if (node_has_input(im, node, 3) &&
        (!(c = in_const(im, node, 3)) || ct_int_values(im, node, c, "axes", axes, CT_MAX_RANK, &na)))
        return -1;
    if (node_has_input(im, node, 4) &&
        (!(c = in_const(im, node, 4)) || ct_int_values(im, node, c, "steps", steps, CT_MAX_RANK, &nst)))
        return -1;
    if (ne != ns || (na >= 0 && na != ns) || (nst >= 0 && nst != ns))
        return node_fail(im, node, "starts, ends, axes and steps differ in length");
    uint8_t seen[CT_MAX_RANK] = { 0 };
    for (int k = 0; k < ns; k++) {
        if (na < 0) axes[k] = k;
        if (nst < 0) steps[k] = 1;
        if (axes[k] < -rank || axes[k] >= rank)
            return node_fail(im, node, "axis %lld out of range", (long long)axes[k]);
        if (axes[k] < 0) axes[k] += rank;
        if (seen[axes[k]]++) return node_fail(im, node, "axis %lld is sliced twice", (long long)axes[k]);
        if (steps[k] == 0) return node_fail(im, node, "a step of 0");
    }
    *n = ns;
    return 0;
}

int fold_slice(imp *im, int node, const ctensor *x)
{
    int64_t starts[CT_MAX_RANK], ends[CT_MAX_RANK], axes[CT_MAX_RANK], steps[CT_MAX_RANK];
    int64_t start[CT_MAX_RANK], step[CT_MAX_RANK], dims[CT_MAX_RANK], stride[CT_MAX_RANK];
    int n;
    if (slice_params(im, node, x->rank, starts, ends, axes, steps, &n)) return -1;
    for (int k = 0; k < x->rank; k++) {
        start[k] = 0;
        step[k] = 1;
        dims[k] = x->dims[k];
    }
    for (int k = 0; k < n; k++) {
        int a = (int)axes[k];
        start[a] = starts[k];
        step[a] = steps[k];
        dims[a] = slice_clamp(x->dims[a], &start[a], &ends[k], steps[k]);
    }
    int64_t s = 1;
    for (int k = x->rank - 1; k >= 0; k--) {
        stride[k] = s;
        s *= x->dims[k];
    }
    int64_t count;
    if (ct_checked_count(dims, x->rank, &count) || count > FOLD_MAX_ELEMS)
        return node_fail(im, node, "the slice is too large");
    ctensor *r = ct_new(im, x->is_float, x->onnx_type, x->rank, dims, node_label(im, node));
    if (!r) return -1;
    if (x->sym && !(r->sym = calloc(count ? (size_t)count : 1, 1))) return imp_fail(im, "out of memory");
    int64_t idx[CT_MAX_RANK] = { 0 };
    for (int64_t j = 0; j < count; j++) {
        int64_t src = 0;
        for (int k = 0; k < x->rank; k++) src += (start[k] + idx[k] * step[k]) * stride[k];
        if (r->is_float)
            r->f[j] = x->f[src];
        else
            r->i[j] = x->i[src];
        if (r->sym) r->sym[j] = x->sym[src];
        for (int k = x->rank - 1; k >= 0 && ++idx[k] == dims[k]; k--) idx[k] = 0;
    }
    return out_const(im, node, 0, r);
}
