/* Kernels that move values: transpose, concat, slice and its transpose (slice_t), the sum over broadcast axes
 * (unbroadcast), binary ops whose operands broadcast, and a parameter's copy to every sample. Shapes are compile-time constants: every loop
 * bound and stride below is a constant, only the batch is a run-time bound. */
#include <string.h>

#include "cg_kernels.h"
#include "cg_parallel.h"

/* Row-major strides of a shape (per sample). */
static void strides_of(const ir_shape *s, int64_t *st)
{
    int64_t k = 1;
    for (int d = s->rank - 1; d >= 0; d--) {
        st[d] = k;
        k *= s->dims[d];
    }
}

/* A nest of loops over index space dims[0 .. rank) (one level per axis; the last one innermost) that keeps,
 * for each of n_ptr pointers, the offset sum_d index_d * strides[p][d]; body(ctx, offsets) emits the code for
 * one element. */
typedef void (*nest_body)(cg *c, void *ctx, LLVMValueRef *offsets);

static void nest(cg *c, int rank, const int64_t *dims, int n_ptr, int64_t strides[][IR_MAX_RANK], LLVMValueRef *base,
                 int d, nest_body body, void *ctx)
{
    if (d == rank) {
        body(c, ctx, base);
        return;
    }
    cg_loop l;
    LLVMValueRef i = cg_loop_begin(c, &l, cg_i64(c, 0), cg_i64(c, dims[d]), "ix");
    LLVMValueRef at[3];
    for (int p = 0; p < n_ptr; p++) at[p] = strides[p][d] ? cg_mad(c, i, strides[p][d], base[p]) : base[p];
    nest(c, rank, dims, n_ptr, strides, at, d + 1, body, ctx);
    cg_loop_end(c, &l);
}

typedef struct copy_ctx {
    LLVMValueRef out, in;
} copy_ctx;

static void copy_element(cg *c, void *ctx, LLVMValueRef *off)
{
    copy_ctx *x = ctx;
    cg_store(c, cg_load(c, x->in, off[1]), x->out, off[0]);
}

/* out[o] = in[perm applied], per sample; threads split the output's first axis */
void cg_kernel_transpose(cg *c, const kargs *a0)
{
    const ir_node *n = a0->n;
    int64_t count = ir_shape_count(&n->shape), in_st[IR_MAX_RANK], st[2][IR_MAX_RANK], dims[IR_MAX_RANK];
    if (count == 0) return;
    strides_of(&a0->in_shape, in_st);
    strides_of(&n->shape, st[0]);
    for (int k = 0; k < n->shape.rank; k++) st[1][k] = in_st[n->perm[k]], dims[k] = n->shape.dims[k];
    kargs q = *a0;
    cg_par par;
    LLVMValueRef lo, hi;
    int64_t outer = n->shape.rank ? dims[0] : 1;
    cg_par_begin_args(c, &par, &q, outer, count / outer * CG_PAR_ELEMENT_WORK, &lo, &hi);
    cg_loop lb, lo0;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), q.batch, "b");
    copy_ctx x = { cg_gep(c, q.out, cg_mad(c, b, count, NULL)), cg_gep(c, q.in[0], cg_mad(c, b, count, NULL)) };
    if (n->shape.rank) {
        LLVMValueRef i = cg_loop_begin(c, &lo0, lo, hi, "ix");
        LLVMValueRef base[2] = { cg_mad(c, i, st[0][0], NULL), cg_mad(c, i, st[1][0], NULL) };
        nest(c, n->shape.rank, dims, 2, st, base, 1, copy_element, &x);
        cg_loop_end(c, &lo0);
    } else
        copy_element(c, &x, (LLVMValueRef[]){ cg_i64(c, 0), cg_i64(c, 0) });
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
}

/* [outer, length along the axis, inner] of a shape */
static void around_axis(const ir_shape *s, int axis, int64_t *outer, int64_t *inner)
{
    *outer = *inner = 1;
    for (int d = 0; d < s->rank; d++) {
        if (d < axis) *outer *= s->dims[d];
        if (d > axis) *inner *= s->dims[d];
    }
}

static void copy_floats(cg *c, LLVMValueRef to, LLVMValueRef from, int64_t n)
{
    LLVMBuildMemCpy(c->b, to, 4, from, 4, cg_i64(c, n * 4));
}

/* out = the inputs side by side along the axis: each input's rows copied into their place */
void cg_kernel_concat(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    int64_t outer, inner, total = n->shape.dims[n->axis], count = ir_shape_count(&n->shape), at = 0;
    around_axis(&n->shape, n->axis, &outer, &inner);
    cg_loop lb, lo;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    for (int k = 0; k < a->n_in; k++) {
        const ir_shape *s = &c->g->nodes[n->inputs[k]].shape;
        int64_t len = s->dims[n->axis], in_count = ir_shape_count(s);
        LLVMValueRef o = cg_loop_begin(c, &lo, cg_i64(c, 0), cg_i64(c, outer), "outer");
        LLVMValueRef to = cg_gep(c, a->out, cg_mad(c, b, count, cg_mad(c, o, total * inner, cg_i64(c, at * inner))));
        LLVMValueRef from = cg_gep(c, a->in[k], cg_mad(c, b, in_count, cg_mad(c, o, len * inner, NULL)));
        copy_floats(c, to, from, len * inner);
        cg_loop_end(c, &lo);
        at += len;
    }
    cg_loop_end(c, &lb);
}

/* Between the input shape `full` and the sliced shape: slice copies full -> part, slice_t part -> full (0
 * elsewhere). Elements start + j * step of the axis. */
static void slice_copy(cg *c, const kargs *a, const ir_shape *full, const ir_shape *part, int to_full)
{
    const ir_node *n = a->n;
    int64_t outer, inner, dim = full->dims[n->axis], len = part->dims[n->axis];
    int64_t full_count = ir_shape_count(full), part_count = ir_shape_count(part);
    around_axis(full, n->axis, &outer, &inner);
    cg_loop lb, lo, lj;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef fb = cg_mad(c, b, full_count, NULL), pb = cg_mad(c, b, part_count, NULL);
    if (to_full) LLVMBuildMemSet(c->b, cg_gep(c, a->out, fb), LLVMConstInt(c->i8, 0, 0), cg_i64(c, full_count * 4), 4);
    LLVMValueRef o = cg_loop_begin(c, &lo, cg_i64(c, 0), cg_i64(c, outer), "outer");
    LLVMValueRef frow = cg_mad(c, o, dim * inner, cg_i64(c, n->start * inner)), prow = cg_mad(c, o, len * inner, NULL);
    if (n->step == 1) {
        LLVMValueRef f = cg_gep(c, to_full ? a->out : a->in[0], LLVMBuildNSWAdd(c->b, fb, frow, ""));
        LLVMValueRef p = cg_gep(c, to_full ? a->in[0] : a->out, LLVMBuildNSWAdd(c->b, pb, prow, ""));
        copy_floats(c, to_full ? f : p, to_full ? p : f, len * inner);
    } else {
        LLVMValueRef j = cg_loop_begin(c, &lj, cg_i64(c, 0), cg_i64(c, len), "j");
        LLVMValueRef f =
            cg_gep(c, to_full ? a->out : a->in[0], LLVMBuildNSWAdd(c->b, fb, cg_mad(c, j, n->step * inner, frow), ""));
        LLVMValueRef p =
            cg_gep(c, to_full ? a->in[0] : a->out, LLVMBuildNSWAdd(c->b, pb, cg_mad(c, j, inner, prow), ""));
        copy_floats(c, to_full ? f : p, to_full ? p : f, inner);
        cg_loop_end(c, &lj);
    }
    cg_loop_end(c, &lo);
    cg_loop_end(c, &lb);
}

void cg_kernel_slice(cg *c, const kargs *a) { slice_copy(c, a, &a->in_shape, &a->n->shape, 0); }
void cg_kernel_slice_t(cg *c, const kargs *a) { slice_copy(c, a, &a->n->shape, &a->in_shape, 1); }

/* Strides of `s` seen from the index space of `full` (right-aligned): 0 along axes s broadcasts over. */
static void broadcast_strides(const ir_shape *s, const ir_shape *full, int64_t *st)
{
    int64_t own[IR_MAX_RANK];
    strides_of(s, own);
    for (int d = 0; d < full->rank; d++) {
        int k = d - (full->rank - s->rank);
        st[d] = k >= 0 && s->dims[k] == full->dims[d] ? own[k] : 0;
    }
}

typedef struct sum_ctx {
    LLVMValueRef out, in;
} sum_ctx;

static void accumulate(cg *c, void *ctx, LLVMValueRef *off)
{
    sum_ctx *x = ctx;
    cg_store(c, LLVMBuildFAdd(c->b, cg_load(c, x->out, off[0]), cg_load(c, x->in, off[1]), ""), x->out, off[0]);
}

/* out (node.shape) = the input summed over the axes where node.shape broadcasts, in index order */
void cg_kernel_unbroadcast(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    const ir_shape *full = &a->in_shape;
    int64_t st[2][IR_MAX_RANK], dims[IR_MAX_RANK], out_count = ir_shape_count(&n->shape),
                                                   in_count = ir_shape_count(full);
    broadcast_strides(&n->shape, full, st[0]);
    strides_of(full, st[1]);
    for (int d = 0; d < full->rank; d++) dims[d] = full->dims[d];
    cg_loop lb;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    sum_ctx x = { cg_gep(c, a->out, cg_mad(c, b, out_count, NULL)), cg_gep(c, a->in[0], cg_mad(c, b, in_count, NULL)) };
    LLVMBuildMemSet(c->b, x.out, LLVMConstInt(c->i8, 0, 0), cg_i64(c, out_count * 4), 4);
    LLVMValueRef base[2] = { cg_i64(c, 0), cg_i64(c, 0) };
    nest(c, full->rank, dims, 2, st, base, 0, accumulate, &x);
    cg_loop_end(c, &lb);
}

typedef struct binary_ctx {
    LLVMValueRef out, a, b;
    ir_op op;
} binary_ctx;

static void binary_element(cg *c, void *ctx, LLVMValueRef *off)
{
    binary_ctx *x = ctx;
    LLVMValueRef u = cg_load(c, x->a, off[1]), v = cg_load(c, x->b, off[2]), r;
    switch (x->op) {
    case OP_ADD: r = LLVMBuildFAdd(c->b, u, v, ""); break;
    case OP_SUB: r = LLVMBuildFSub(c->b, u, v, ""); break;
    case OP_MUL: r = LLVMBuildFMul(c->b, u, v, ""); break;
    default: r = LLVMBuildFDiv(c->b, u, v, ""); break;
    }
    cg_store(c, r, x->out, off[0]);
}

/* add / sub / mul / div: with a number or equal shapes an elementwise expression (node.expr), else numpy
 * broadcasting over the output's index space */
void cg_kernel_binary(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    if (n->expr) {
        cg_kernel_eltwise(c, a);
        return;
    }
    const ir_shape *sa = &c->g->nodes[n->inputs[0]].shape, *sb = &c->g->nodes[n->inputs[1]].shape;
    int64_t st[3][IR_MAX_RANK], dims[IR_MAX_RANK], count = ir_shape_count(&n->shape);
    strides_of(&n->shape, st[0]);
    broadcast_strides(sa, &n->shape, st[1]);
    broadcast_strides(sb, &n->shape, st[2]);
    for (int d = 0; d < n->shape.rank; d++) dims[d] = n->shape.dims[d];
    cg_loop lb;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    binary_ctx x = { cg_gep(c, a->out, cg_mad(c, b, count, NULL)),
                     cg_gep(c, a->in[0], cg_mad(c, b, ir_shape_count(sa), NULL)),
                     cg_gep(c, a->in[1], cg_mad(c, b, ir_shape_count(sb), NULL)), n->op };
    LLVMValueRef base[3] = { cg_i64(c, 0), cg_i64(c, 0), cg_i64(c, 0) };
    nest(c, n->shape.rank, dims, 3, st, base, 0, binary_element, &x);
    cg_loop_end(c, &lb);
}

static int same_shape(const ir_shape *a, const ir_shape *b)
{
    return a->rank == b->rank && !memcmp(a->dims, b->dims, sizeof(int) * a->rank);
}

/* add: two layers of one shape as before (cg_kernel_elementwise), anything else as the other binary ops */
void cg_kernel_add(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    if (n->n_inputs == 2 && !n->expr && same_shape(&c->g->nodes[n->inputs[0]].shape, &c->g->nodes[n->inputs[1]].shape))
        cg_kernel_elementwise(c, a);
    else
        cg_kernel_binary(c, a);
}

/* parameter: its tensor copied to every sample */
void cg_kernel_parameter(cg *c, const kargs *a)
{
    int64_t count = ir_shape_count(&a->n->shape);
    LLVMValueRef w = cg_const_ptr(c, a->n->weight);
    cg_loop lb, li;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef dst = cg_gep(c, a->out, cg_mad(c, b, count, NULL));
    LLVMValueRef i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, count), "i");
    cg_store(c, cg_load(c, w, i), dst, i);
    cg_loop_end(c, &li);
    cg_loop_end(c, &lb);
}
