/* Sema of the ops that move values (the SEMA column of ops.def): flatten, reshape, transpose, concat, slice.
 * Axes count the per-sample axes (axis 0 of [C, H, W] is the channel axis, PyTorch's dim 1). */
#include <string.h>

#include "sema_ops.h"

int sema_flatten(sema_layer_ctx *l)
{
    l->n->shape.rank = 1;
    l->n->shape.dims[0] = (int)ir_shape_count(&l->in[0]);
    return 1;
}

/* reshape(in, [d0, d1, ...]): the same values in row-major order; one -1 takes what is left */
int sema_reshape(sema_layer_ctx *l)
{
    ir_node *n = l->n;
    int dims[IR_MAX_RANK], rank, infer = -1;
    if (!sema_int_list(l->d, l->slots[0], "shape", -1, dims, IR_MAX_RANK, &rank)) return 0;
    int64_t known = 1, total = ir_shape_count(&l->in[0]);
    for (int k = 0; k < rank; k++) {
        if (dims[k] == -1) {
            if (infer >= 0) {
                diag_error(l->d, l->slots[0]->items[k]->loc, "reshape takes at most one -1");
                return 0;
            }
            infer = k;
        } else if (dims[k] < 1) {
            diag_error(l->d, l->slots[0]->items[k]->loc, "a reshape dimension is a positive integer or -1");
            return 0;
        } else {
            known *= dims[k];
        }
    }
    if (infer >= 0 && total % known == 0) dims[infer] = (int)(total / known), known *= dims[infer];
    char sa[64];
    if (known != total) {
        diag_error(l->d, l->slots[0]->loc, "reshape '%s': %s holds %lld values, which this shape does not", n->name,
                   ir_shape_str(&l->in[0], sa, sizeof sa), (long long)total);
        return 0;
    }
    n->shape.rank = rank;
    memcpy(n->shape.dims, dims, sizeof(int) * rank);
    return 1;
}

/* transpose(in, [p0, p1, ...]): output axis k is input axis p_k */
int sema_transpose(sema_layer_ctx *l)
{
    ir_node *n = l->n;
    int rank, seen[IR_MAX_RANK] = { 0 };
    if (!sema_int_list(l->d, l->slots[0], "perm", 0, n->perm, IR_MAX_RANK, &rank)) return 0;
    int ok = rank == l->in[0].rank;
    for (int k = 0; ok && k < rank; k++) ok = n->perm[k] < rank && !seen[n->perm[k]]++;
    if (!ok) {
        char sa[64];
        diag_error(l->d, l->slots[0]->loc, "perm must order the %d axes of %s, each once (e.g. [1, 0, 2])",
                   l->in[0].rank, ir_shape_str(&l->in[0], sa, sizeof sa));
        return 0;
    }
    n->shape.rank = rank;
    for (int k = 0; k < rank; k++) n->shape.dims[k] = l->in[0].dims[n->perm[k]];
    return 1;
}

static int axis_argument(sema_layer_ctx *l, const ast_expr *e, int rank, int *axis)
{
    *axis = 0;
    if (!e) return 1;
    if (!sema_nonneg_int(l->d, e, "axis", axis)) return 0;
    if (*axis >= rank) {
        diag_error(l->d, e->loc, "axis %d: the input has %d axes (per sample, 0 first)", *axis, rank);
        return 0;
    }
    return 1;
}

/* concat([a, b, ...], axis): shapes equal but along the axis */
int sema_concat(sema_layer_ctx *l)
{
    ir_node *n = l->n;
    if (!axis_argument(l, l->slots[0], l->in[0].rank, &n->axis)) return 0;
    n->shape = l->in[0];
    int64_t along = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        const ir_shape *s = &l->in[k];
        int ok = s->rank == l->in[0].rank;
        for (int d = 0; ok && d < s->rank; d++) ok = d == n->axis || s->dims[d] == l->in[0].dims[d];
        if (!ok) {
            char sa[64], sb[64];
            diag_error(l->d, l->call->args[0].value->items[k]->loc,
                       "concat '%s': %s differs from the first input's %s off axis %d", n->name,
                       ir_shape_str(s, sa, sizeof sa), ir_shape_str(&l->in[0], sb, sizeof sb), n->axis);
            return 0;
        }
        along += s->dims[n->axis];
    }
    if (along > 1 << 24) {
        diag_error(l->d, l->call->loc, "concat '%s' is too long along axis %d", n->name, n->axis);
        return 0;
    }
    n->shape.dims[n->axis] = (int)along;
    return 1;
}

/* slice(in, axis, start, end, step): elements start, start + step, ... below end (end exclusive) */
int sema_slice(sema_layer_ctx *l)
{
    ir_node *n = l->n;
    if (!axis_argument(l, l->slots[0], l->in[0].rank, &n->axis)) return 0;
    int dim = l->in[0].dims[n->axis], start = 0, end = dim, step = 1;
    if (l->slots[1] && !sema_nonneg_int(l->d, l->slots[1], "start", &start)) return 0;
    if (l->slots[2] && !sema_nonneg_int(l->d, l->slots[2], "end", &end)) return 0;
    if (l->slots[3] && !sema_positive_int(l->d, l->slots[3], "step", &step)) return 0;
    if (end > dim) end = dim; /* as Python slices */
    if (start >= end) {
        diag_error(l->d, l->call->loc, "slice '%s': [%d, %d) along axis %d (of %d) is empty", n->name, start, end,
                   n->axis, dim);
        return 0;
    }
    n->start = start;
    n->step = step;
    n->shape = l->in[0];
    n->shape.dims[n->axis] = (end - start + step - 1) / step;
    return 1;
}

/* parameter(shape=[d0, ...], weight): the tensor `weight` (default <name>.weight) of exactly that shape, the
 * same for every sample */
int sema_parameter(sema_layer_ctx *l)
{
    ir_node *n = l->n;
    int dims[IR_MAX_RANK], rank;
    if (!sema_int_list(l->d, l->slots[0], "parameter's shape", 1, dims, IR_MAX_RANK, &rank)) return 0;
    n->shape.rank = rank;
    int64_t shape[IR_MAX_RANK];
    for (int k = 0; k < rank; k++) n->shape.dims[k] = dims[k], shape[k] = dims[k];
    return sema_param(l, "weight", l->slots[1], rank, shape, &n->weight);
}
