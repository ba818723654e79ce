/* Kernels of the forward ops: loop nests with compile-time trip counts (only the batch is a run-time bound)
 * so that LLVM can unroll and vectorise them for the target. */
#include <stdio.h>
#include <string.h>

#include "cg_dense.h"
#include "cg_tiles.h"
#include "cg_gemm.h"
#include "cg_ew.h"
#include "cg_kernels.h"
#include "cg_parallel.h"
#include "cg_vec.h"

/* Direct convolution (kernels too large for cg_emit_corr's tap masks): the (ky, kx) taps are unrolled at
 * compile time so that each tap's valid output range is a constant; the innermost loop is an axpy over an
 * output row. */
static void k_conv2d_naive(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    int64_t ci_n = a->in_shape.dims[0], H = a->in_shape.dims[1], W = a->in_shape.dims[2];
    int64_t co_n = n->units, OH = n->shape.dims[1], OW = n->shape.dims[2];
    int64_t G = n->groups > 1 ? n->groups : 1, icg = ci_n / G, ocg = co_n / G;
    int dh = n->dh > 1 ? n->dh : 1, dw = n->dw > 1 ? n->dw : 1;
    LLVMValueRef w = cg_const_ptr(c, n->weight), bias = n->bias ? cg_const_ptr(c, n->bias) : NULL;
    cg_loop lb, lco, lci, ly, lx;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef co = cg_loop_begin(c, &lco, cg_i64(c, 0), cg_i64(c, co_n), "co");
    LLVMValueRef plane = cg_gep(c, a->out, cg_mad(c, cg_mad(c, b, co_n, co), OH * OW, NULL));
    LLVMValueRef bv = bias ? cg_load(c, bias, co) : cg_f32(c, 0);
    LLVMValueRef p = cg_loop_begin(c, &ly, cg_i64(c, 0), cg_i64(c, OH * OW), "init");
    cg_store(c, bv, plane, p);
    cg_loop_end(c, &ly);
    /* the filter's group reads input channels g * icg .. (g + 1) * icg */
    LLVMValueRef first = G > 1 ? cg_mad(c, LLVMBuildSDiv(c->b, co, cg_i64(c, ocg), ""), icg, NULL) : cg_i64(c, 0);
    LLVMValueRef cl = cg_loop_begin(c, &lci, cg_i64(c, 0), cg_i64(c, icg), "ci");
    LLVMValueRef ci = LLVMBuildNSWAdd(c->b, first, cl, "");
    LLVMValueRef src = cg_gep(c, a->in[0], cg_mad(c, cg_mad(c, b, ci_n, ci), H * W, NULL));
    LLVMValueRef wbase = cg_mad(c, cg_mad(c, co, icg, cl), n->kh * n->kw, NULL);
    for (int ky = 0; ky < n->kh; ky++) {
        /* output rows whose input row oy*sh + ky*dh - pad_t lies inside [0, H) */
        int64_t y0 = 0, y1 = OH;
        while (y0 < OH && y0 * n->sh + ky * dh - n->pad_t < 0) y0++;
        while (y1 > y0 && (y1 - 1) * n->sh + ky * dh - n->pad_t >= H) y1--;
        for (int kx = 0; kx < n->kw; kx++) {
            int64_t x0 = 0, x1 = OW;
            while (x0 < OW && x0 * n->sw + kx * dw - n->pad_l < 0) x0++;
            while (x1 > x0 && (x1 - 1) * n->sw + kx * dw - n->pad_l >= W) x1--;
            if (y0 >= y1 || x0 >= x1) continue;
            LLVMValueRef wv =
                wmap(c, cg_load(c, w, LLVMBuildNSWAdd(c->b, wbase, cg_i64(c, ky * n->kw + kx), "")), n->weight_map);
            LLVMValueRef oy = cg_loop_begin(c, &ly, cg_i64(c, y0), cg_i64(c, y1), "oy");
            LLVMValueRef iy = LLVMBuildNSWAdd(c->b, cg_mad(c, oy, n->sh, NULL), cg_i64(c, ky * dh - n->pad_t), "");
            LLVMValueRef orow = cg_gep(c, plane, cg_mad(c, oy, OW, NULL));
            LLVMValueRef irow = cg_gep(c, src, cg_mad(c, iy, W, NULL));
            LLVMValueRef ox = cg_loop_begin(c, &lx, cg_i64(c, x0), cg_i64(c, x1), "ox");
            LLVMValueRef ix = LLVMBuildNSWAdd(c->b, cg_mad(c, ox, n->sw, NULL), cg_i64(c, kx * dw - n->pad_l), "");
            LLVMValueRef prod = cg_fmul_reassoc(c, wv, cg_load(c, irow, ix));
            cg_store(c, cg_fadd_reassoc(c, cg_load(c, orow, ox), prod), orow, ox);
            cg_loop_end(c, &lx);
            cg_loop_end(c, &ly);
        }
    }
    cg_loop_end(c, &lci);
    cg_loop_end(c, &lco);
    cg_loop_end(c, &lb);
}

/* Register-blocked GEMV (batch 1) / GEMM (cg_gemm.c); tokens [T, D]: T rows per sample. */
void cg_kernel_dense(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    LLVMValueRef w = cg_const_ptr(c, n->weight), bias = n->bias ? cg_const_ptr(c, n->bias) : NULL;
    int64_t in_n = a->in_shape.dims[a->in_shape.rank - 1], rows = ir_shape_count(&a->in_shape) / in_n;
    LLVMValueRef batch = rows == 1 ? a->batch : LLVMBuildNSWMul(c->b, a->batch, cg_i64(c, rows), "rows");
    /* tokens: enough rows per sample for tiles of 6 */
    (rows >= 6 ? cg_emit_dense_tokens : cg_emit_dense)(c, a->out, a->in[0], batch, w, n->weight_map, bias, in_n,
                                                       n->units, n->epilogue_from ? n : NULL, a->in);
}

/* A register-blocked correlation (cg_emit_corr): vector loads along output rows (gathers for column
 * strides > 1), compile-time masks at the borders. */
void cg_kernel_conv2d(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    if (n->kh > 32 || n->kw > 64) {
        k_conv2d_naive(c, a);
        return;
    }
    int64_t tap[32 * 64];
    for (int t = 0; t < n->kh * n->kw; t++) tap[t] = t;
    int G = n->groups > 1 ? n->groups : 1;
    int64_t ci_n = a->in_shape.dims[0] / G; /* per group */
    const ir_const *winograd = cg_winograd_weights(c, n);
    cg_corr p = {
        .in = a->in[0],
        .out = a->out,
        .batch = a->batch,
        .ic_n = ci_n,
        .H = a->in_shape.dims[1],
        .W = a->in_shape.dims[2],
        .oc_n = n->units / G,
        .groups = G,
        .dh = n->dh,
        .dw = n->dw,
        .OH = n->shape.dims[1],
        .OW = n->shape.dims[2],
        .kh = n->kh,
        .kw = n->kw,
        .sh = n->sh,
        .sw = n->sw,
        .off_y = -n->pad_t,
        .off_x = -n->pad_l,
        .w = winograd ? NULL : cg_const_ptr(c, n->weight),
        .s_oc = ci_n * n->kh * n->kw,
        .s_ic = n->kh * n->kw,
        .tap = tap,
        .w_map = n->weight_map,
        .epi = n->epilogue_from ? n : NULL,
        .bias = n->bias ? cg_const_ptr(c, n->bias) : NULL,
    };
    for (int k = 0; k < a->n_in; k++) p.epi_in[k] = a->in[k];
    if (winograd)
        cg_emit_winograd(c, &p, winograd, 0, a->scratch);
    else
        cg_emit_corr(c, &p);
}

/* Whether max-pool takes v over the running maximum: greater, or NaN (which then stays), as PyTorch's
 * max_pool2d and cg_kernel_maxpool_t's routing do. */
static LLVMValueRef take_max(cg *c, LLVMValueRef v, LLVMValueRef cur)
{
    return LLVMBuildOr(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, v, cur, ""), LLVMBuildFCmp(c->b, LLVMRealUNO, v, v, ""),
                       "");
}

/* Max and average pooling. Cells outside the input are ignored by max; average divides by the window
 * size (PyTorch's count_include_pad) or, for `same`, by the number of valid cells (TensorFlow). */
void cg_kernel_pool(cg *c, const kargs *a0)
{
    const ir_node *n = a0->n;
    int is_max = n->op == OP_MAXPOOL;
    int64_t C = a0->in_shape.dims[0], H = a0->in_shape.dims[1], W = a0->in_shape.dims[2];
    int64_t OH = n->shape.dims[1], OW = n->shape.dims[2];
    /* threads split the channels; each runs them for the whole batch */
    kargs q = *a0;
    const kargs *a = &q;
    cg_par par;
    LLVMValueRef clo, chi;
    cg_par_begin_args(c, &par, &q, C, OH * OW * n->kh * n->kw * 4, &clo, &chi);
    LLVMValueRef acc = cg_local(c, c->f32, "acc");
    cg_loop lb, lp, ly, lx;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef pl = cg_mad(c, b, C, cg_loop_begin(c, &lp, clo, chi, "ch"));
    LLVMValueRef src = cg_gep(c, a->in[0], cg_mad(c, pl, H * W, NULL));
    LLVMValueRef dst = cg_gep(c, a->out, cg_mad(c, pl, OH * OW, NULL));
    /* taps are unrolled; each is guarded by a bounds test (padding cells are skipped) */
    LLVMValueRef oy = cg_loop_begin(c, &ly, cg_i64(c, 0), cg_i64(c, OH), "oy");
    LLVMValueRef ox = cg_loop_begin(c, &lx, cg_i64(c, 0), cg_i64(c, OW), "ox");
    LLVMValueRef y0 = LLVMBuildNSWSub(c->b, cg_mad(c, oy, n->sh, NULL), cg_i64(c, n->pad_t), "");
    LLVMValueRef x0 = LLVMBuildNSWSub(c->b, cg_mad(c, ox, n->sw, NULL), cg_i64(c, n->pad_l), "");
    LLVMBuildStore(c->b, cg_f32(c, is_max ? -__builtin_inff() : 0.0), acc);
    LLVMValueRef count = cg_local(c, c->f32, "count");
    LLVMBuildStore(c->b, cg_f32(c, 0), count);
    for (int ky = 0; ky < n->kh; ky++)
        for (int kx = 0; kx < n->kw; kx++) {
            LLVMValueRef iy = LLVMBuildNSWAdd(c->b, y0, cg_i64(c, ky), "");
            LLVMValueRef ix = LLVMBuildNSWAdd(c->b, x0, cg_i64(c, kx), "");
            LLVMValueRef ok = LLVMBuildAnd(c->b,
                                           LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, iy, cg_i64(c, 0), ""),
                                                        LLVMBuildICmp(c->b, LLVMIntSLT, iy, cg_i64(c, H), ""), ""),
                                           LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, ix, cg_i64(c, 0), ""),
                                                        LLVMBuildICmp(c->b, LLVMIntSLT, ix, cg_i64(c, W), ""), ""),
                                           "");
            LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "tap");
            LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "next");
            LLVMBuildCondBr(c->b, ok, then, next);
            LLVMPositionBuilderAtEnd(c->b, then);
            LLVMValueRef v = cg_load(c, src, cg_mad(c, iy, W, ix));
            LLVMValueRef cur = LLVMBuildLoad2(c->b, c->f32, acc, "");
            LLVMValueRef upd =
                is_max ? LLVMBuildSelect(c->b, take_max(c, v, cur), v, cur, "") : LLVMBuildFAdd(c->b, cur, v, "");
            LLVMBuildStore(c->b, upd, acc);
            LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, c->f32, count, ""), cg_f32(c, 1), ""), count);
            LLVMBuildBr(c->b, next);
            LLVMPositionBuilderAtEnd(c->b, next);
        }
    LLVMValueRef r = LLVMBuildLoad2(c->b, c->f32, acc, "");
    if (!is_max) { /* PyTorch's divisor: the cells inside the input, or inside the padded input (a ceil_mode
                        window may run past its end), or the whole window */
        LLVMValueRef div;
        if (n->pad_same || n->exclude_pad) {
            div = LLVMBuildLoad2(c->b, c->f32, count, "");
        } else if (n->ceil_mode) {
            LLVMValueRef hy = smin(c, iadd(c, y0, n->kh), H + n->pad_b), hx = smin(c, iadd(c, x0, n->kw), W + n->pad_r);
            div = LLVMBuildSIToFP(
                c->b, LLVMBuildNSWMul(c->b, LLVMBuildNSWSub(c->b, hy, y0, ""), LLVMBuildNSWSub(c->b, hx, x0, ""), ""),
                c->f32, "");
        } else {
            div = cg_f32(c, n->kh * n->kw);
        }
        r = LLVMBuildFDiv(c->b, r, div, "");
    }
    cg_store(c, r, dst, cg_mad(c, oy, OW, ox));
    cg_loop_end(c, &lx);
    cg_loop_end(c, &ly);
    cg_loop_end(c, &lp);
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
}

void cg_kernel_global_avgpool(cg *c, const kargs *a)
{
    int64_t C = a->in_shape.dims[0], HW = (int64_t)a->in_shape.dims[1] * a->in_shape.dims[2];
    LLVMValueRef acc = cg_local(c, c->f32, "acc");
    cg_loop lp, li;
    LLVMValueRef planes = LLVMBuildNSWMul(c->b, a->batch, cg_i64(c, C), "");
    LLVMValueRef pl = cg_loop_begin(c, &lp, cg_i64(c, 0), planes, "plane");
    LLVMValueRef src = cg_gep(c, a->in[0], cg_mad(c, pl, HW, NULL));
    LLVMBuildStore(c->b, cg_f32(c, 0), acc);
    LLVMValueRef i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, HW), "i");
    LLVMBuildStore(c->b, cg_fadd_reassoc(c, LLVMBuildLoad2(c->b, c->f32, acc, ""), cg_load(c, src, i)), acc);
    cg_loop_end(c, &li);
    cg_store(c, LLVMBuildFDiv(c->b, LLVMBuildLoad2(c->b, c->f32, acc, ""), cg_f32(c, (double)HW), ""), a->out, pl);
    cg_loop_end(c, &lp);
}

/* relu, sigmoid, affine, add: one flat loop over batch * features */
void cg_kernel_elementwise(cg *c, const kargs *a0)
{
    const ir_node *n = a0->n;
    int64_t count = ir_shape_count(&n->shape);
    int64_t inner = n->shape.rank == 3 ? (int64_t)n->shape.dims[1] * n->shape.dims[2] : 1;
    int64_t channels = n->shape.dims[0];
    /* threads split each sample's elements into blocks; each runs its blocks for the whole batch */
    enum { BLK = CG_PAR_ELEMENT_BLOCK };
    kargs q = *a0;
    const kargs *a = &q;
    cg_par par;
    LLVMValueRef lo, hi;
    cg_par_begin_args(c, &par, &q, (count + BLK - 1) / BLK, BLK * CG_PAR_ELEMENT_WORK, &lo, &hi);
    LLVMValueRef i0 = cg_mad(c, lo, BLK, NULL), i1 = cg_mad(c, hi, BLK, NULL);
    i1 = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, i1, cg_i64(c, count), ""), i1, cg_i64(c, count), "");
    cg_loop lb, li;
    LLVMValueRef scale = NULL, shift = NULL;
    if (n->op == OP_AFFINE) {
        scale = cg_const_ptr(c, n->weight);
        shift = cg_const_ptr(c, n->bias);
    }
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef base = cg_mad(c, b, count, NULL);
    LLVMValueRef i = cg_loop_begin(c, &li, i0, i1, "i");
    LLVMValueRef idx = LLVMBuildNSWAdd(c->b, base, i, "");
    LLVMValueRef x = cg_load(c, a->in[0], idx), y;
    switch (n->op) {
    case OP_RELU:
        /* unordered-or-greater: NaN passes on, as in PyTorch, so that the entries' finite-result check sees it */
        y = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealUGT, x, cg_f32(c, 0), ""), x, cg_f32(c, 0), "");
        break;
    case OP_SIGMOID: {
        LLVMValueRef neg = LLVMBuildFNeg(c->b, x, "");
        LLVMValueRef e = cg_exp(c, neg);
        y = LLVMBuildFDiv(c->b, cg_f32(c, 1), LLVMBuildFAdd(c->b, cg_f32(c, 1), e, ""), "");
        break;
    }
    case OP_AFFINE: {
        LLVMValueRef ch = LLVMBuildSRem(c->b, LLVMBuildSDiv(c->b, i, cg_i64(c, inner), ""), cg_i64(c, channels), "");
        y = LLVMBuildFAdd(c->b, LLVMBuildFMul(c->b, x, cg_load(c, scale, ch), ""), cg_load(c, shift, ch), "");
        break;
    }
    case OP_ADD: y = LLVMBuildFAdd(c->b, x, cg_load(c, a->in[1], idx), ""); break;
    default: y = x; break; /* copy */
    }
    cg_store(c, y, a->out, idx);
    cg_loop_end(c, &li);
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
}

/* The lines a softmax (or a statistic along an axis) runs over: `lines` per sample of `len` values each, value l
 * of line g at (g / inner) * len * inner + g % inner + l * inner. axis < 0: one line of every value. */
void cg_axis_lines(const ir_shape *s, int axis, int64_t *lines, int64_t *len, int64_t *inner)
{
    int64_t outer = 1;
    *len = ir_shape_count(s);
    *inner = 1;
    if (axis >= 0 && axis < s->rank) {
        *len = s->dims[axis];
        for (int k = 0; k < axis; k++) outer *= s->dims[k];
        for (int k = axis + 1; k < s->rank; k++) *inner *= s->dims[k];
    }
    *lines = outer * *inner;
}

/* the first value of line g (of any sample: g counts lines from sample 0's first) */
LLVMValueRef cg_line_start(cg *c, LLVMValueRef g, int64_t len, int64_t inner)
{
    if (inner == 1) return cg_mad(c, g, len, NULL);
    LLVMValueRef o = LLVMBuildUDiv(c->b, g, cg_i64(c, inner), ""), i = LLVMBuildURem(c->b, g, cg_i64(c, inner), "");
    return cg_mad(c, o, len * inner, i);
}

/* v[l] > m[l] ? v[l] : m[l] per lane (a NaN never wins, as in the scalar loop) */
static LLVMValueRef vmax_keep(cg *c, LLVMValueRef v, LLVMValueRef m)
{
    return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, v, m, ""), v, m, "");
}

/* softmax of one contiguous line of len values, src -> dst, in vectors of CG_VW (the last one masked): the
 * scalar loops' maximum and exp, the sum of the exps in CG_VW partial sums (the max loop did not vectorise) */
static void softmax_line_vec(cg *c, LLVMValueRef src, LLVMValueRef dst, int64_t len)
{
    int64_t nv = len / CG_VW, rest = len - nv * CG_VW;
    unsigned tail = lanes(0, rest);
    LLVMValueRef ninf = splat(c, cg_f32(c, -__builtin_inff())), macc = vlocal(c), sacc = vlocal(c);
    cg_loop lv;
    vset(c, ninf, macc);
    if (nv) {
        LLVMValueRef i = cg_mad(c, cg_loop_begin(c, &lv, cg_i64(c, 0), cg_i64(c, nv), "v"), CG_VW, NULL);
        vset(c, vmax_keep(c, vload(c, src, i, CG_FULL_MASK), vget(c, macc)), macc);
        cg_loop_end(c, &lv);
    }
    LLVMValueRef mv = vget(c, macc);
    if (rest) { /* lanes past the line stay -inf */
        LLVMValueRef t =
            LLVMBuildSelect(c->b, lane_mask(c, tail), vload(c, src, cg_i64(c, nv * CG_VW), tail), ninf, "");
        mv = vmax_keep(c, t, mv);
    }
    LLVMValueRef m = cg_f32(c, -__builtin_inff());
    for (int l = 0; l < CG_VW; l++) {
        LLVMValueRef x = LLVMBuildExtractElement(c->b, mv, LLVMConstInt(c->i32, (unsigned)l, 0), "");
        m = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, x, m, ""), x, m, "");
    }
    LLVMValueRef ms = splat(c, m);
    vset(c, vzero(c), sacc);
    for (int t = 0; t < 2; t++) {
        unsigned mask = t == 0 ? CG_FULL_MASK : tail;
        if (t == 0 ? !nv : !rest) continue;
        LLVMValueRef i = t == 0 ? cg_mad(c, cg_loop_begin(c, &lv, cg_i64(c, 0), cg_i64(c, nv), "v"), CG_VW, NULL)
                                : cg_i64(c, nv * CG_VW);
        LLVMValueRef e = cg_exp(c, LLVMBuildFSub(c->b, vload(c, src, i, mask), ms, ""));
        vstore(c, e, dst, i, mask);
        if (t == 1) e = LLVMBuildSelect(c->b, lane_mask(c, mask), e, vzero(c), "");
        vset(c, vadd(c, vget(c, sacc), e), sacc);
        if (t == 0) cg_loop_end(c, &lv);
    }
    LLVMValueRef inv = splat(c, LLVMBuildFDiv(c->b, cg_f32(c, 1), hsum(c, vget(c, sacc)), ""));
    for (int t = 0; t < 2; t++) {
        unsigned mask = t == 0 ? CG_FULL_MASK : tail;
        if (t == 0 ? !nv : !rest) continue;
        LLVMValueRef i = t == 0 ? cg_mad(c, cg_loop_begin(c, &lv, cg_i64(c, 0), cg_i64(c, nv), "v"), CG_VW, NULL)
                                : cg_i64(c, nv * CG_VW);
        vstore(c, LLVMBuildFMul(c->b, vload(c, dst, i, mask), inv, ""), dst, i, mask);
        if (t == 0) cg_loop_end(c, &lv);
    }
}

/* softmax over each line along node.axis (all of a sample's values without one), shifted by the line's maximum
 * so exp cannot overflow */
void cg_kernel_softmax(cg *c, const kargs *a0)
{
    int64_t lines, len, inner;
    cg_axis_lines(&a0->n->shape, a0->n->axis, &lines, &len, &inner);
    if (len == 0 || lines == 0) return;
    kargs q = *a0;
    const kargs *a = &q;
    cg_par par; /* threads split each sample's lines (a ViT's 12 x 197 rows of attention per layer) */
    LLVMValueRef lo, hi;
    cg_par_begin_args(c, &par, &q, lines, len * 3 * CG_PAR_ELEMENT_WORK, &lo, &hi);
    cg_loop lb, lg, li;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef g = cg_mad(c, b, lines, cg_loop_begin(c, &lg, lo, hi, "g"));
    LLVMValueRef at = cg_line_start(c, g, len, inner);
    LLVMValueRef src = cg_gep(c, a->in[0], at), dst = cg_gep(c, a->out, at);
    if (inner == 1) {
        softmax_line_vec(c, src, dst, len);
        cg_loop_end(c, &lg);
        cg_loop_end(c, &lb);
        cg_par_end(c, &par);
        return;
    }
    LLVMValueRef mx = cg_local(c, c->f32, "max"), sum = cg_local(c, c->f32, "sum");
    LLVMBuildStore(c->b, cg_f32(c, -__builtin_inff()), mx);
    LLVMValueRef l = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, len), "l");
    LLVMValueRef i = cg_mad(c, l, inner, NULL);
    LLVMValueRef v = cg_load(c, src, i), m = LLVMBuildLoad2(c->b, c->f32, mx, "");
    LLVMBuildStore(c->b, LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, v, m, ""), v, m, ""), mx);
    cg_loop_end(c, &li);
    LLVMBuildStore(c->b, cg_f32(c, 0), sum);
    LLVMValueRef m2 = LLVMBuildLoad2(c->b, c->f32, mx, "");
    l = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, len), "l");
    i = cg_mad(c, l, inner, NULL);
    LLVMValueRef d = LLVMBuildFSub(c->b, cg_load(c, src, i), m2, "");
    LLVMValueRef e = cg_exp(c, d);
    cg_store(c, e, dst, i);
    LLVMBuildStore(c->b, cg_fadd_reassoc(c, LLVMBuildLoad2(c->b, c->f32, sum, ""), e), sum);
    cg_loop_end(c, &li);
    LLVMValueRef inv = LLVMBuildFDiv(c->b, cg_f32(c, 1), LLVMBuildLoad2(c->b, c->f32, sum, ""), "");
    l = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, len), "l");
    i = cg_mad(c, l, inner, NULL);
    cg_store(c, LLVMBuildFMul(c->b, cg_load(c, dst, i), inv, ""), dst, i);
    cg_loop_end(c, &li);
    cg_loop_end(c, &lg);
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
}

/* layernorm over each line along node.axis (the last): y = (x - mean) / sqrt(var + eps) * weight + bias with the
 * biased variance, as PyTorch's nn.LayerNorm; mean and variance in double (two passes), weight and bias indexed
 * by the position along the line. Threads split each sample's lines. */
void cg_kernel_layernorm(cg *c, const kargs *a0)
{
    const ir_node *n = a0->n;
    int64_t lines, len, inner;
    cg_axis_lines(&n->shape, n->axis, &lines, &len, &inner);
    if (len == 0 || lines == 0) return;
    kargs q = *a0;
    const kargs *a = &q;
    cg_par par;
    LLVMValueRef lo, hi;
    cg_par_begin_args(c, &par, &q, lines, len * 3 * CG_PAR_ELEMENT_WORK, &lo, &hi);
    LLVMValueRef acc = cg_local(c, c->f64, "acc");
    LLVMValueRef w = n->weight ? cg_const_ptr(c, n->weight) : NULL, bias = n->bias ? cg_const_ptr(c, n->bias) : NULL;
    cg_loop lb, lg, li;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef g = cg_loop_begin(c, &lg, lo, hi, "g");
    LLVMValueRef at = cg_line_start(c, cg_mad(c, b, lines, g), len, inner);
    LLVMValueRef src = cg_gep(c, a->in[0], at), dst = cg_gep(c, a->out, at);
    LLVMValueRef dlen = LLVMConstReal(c->f64, (double)len);
    /* the mean */
    LLVMBuildStore(c->b, LLVMConstReal(c->f64, 0), acc);
    LLVMValueRef l = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, len), "l");
    LLVMValueRef v = LLVMBuildFPExt(c->b, cg_load(c, src, cg_mad(c, l, inner, NULL)), c->f64, "");
    LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, c->f64, acc, ""), v, ""), acc);
    cg_loop_end(c, &li);
    LLVMValueRef mean = LLVMBuildFDiv(c->b, LLVMBuildLoad2(c->b, c->f64, acc, ""), dlen, "mean");
    /* the biased variance: the mean squared deviation */
    LLVMBuildStore(c->b, LLVMConstReal(c->f64, 0), acc);
    l = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, len), "l");
    v = LLVMBuildFSub(c->b, LLVMBuildFPExt(c->b, cg_load(c, src, cg_mad(c, l, inner, NULL)), c->f64, ""), mean, "");
    LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, c->f64, acc, ""), LLVMBuildFMul(c->b, v, v, ""), ""),
                   acc);
    cg_loop_end(c, &li);
    LLVMValueRef var = LLVMBuildFAdd(c->b, LLVMBuildFDiv(c->b, LLVMBuildLoad2(c->b, c->f64, acc, ""), dlen, ""),
                                     LLVMConstReal(c->f64, (double)n->eps), "");
    LLVMValueRef inv = LLVMBuildFDiv(c->b, LLVMConstReal(c->f64, 1), cg_intrinsic(c, "llvm.sqrt", c->f64, &var, 1), "");
    /* the normalised values, scaled and shifted */
    l = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, len), "l");
    LLVMValueRef i = cg_mad(c, l, inner, NULL);
    v = LLVMBuildFMul(c->b, LLVMBuildFSub(c->b, LLVMBuildFPExt(c->b, cg_load(c, src, i), c->f64, ""), mean, ""), inv,
                      "");
    if (w) v = LLVMBuildFMul(c->b, v, LLVMBuildFPExt(c->b, cg_load(c, w, l), c->f64, ""), "");
    if (bias) v = LLVMBuildFAdd(c->b, v, LLVMBuildFPExt(c->b, cg_load(c, bias, l), c->f64, ""), "");
    cg_store(c, LLVMBuildFPTrunc(c->b, v, c->f32, ""), dst, i);
    cg_loop_end(c, &li);
    cg_loop_end(c, &lg);
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
}
