/* Kernels: one LLVM function per computed node, loop nests with compile-time trip counts (only the
 * batch is a run-time bound) so that LLVM can unroll and vectorise them for the target. */
#include <llvm-c/DebugInfo.h>
#include <stdio.h>
#include <string.h>

#include "cg_gemm.h"
#include "cg_internal.h"
#include "cg_parallel.h"
#include "cg_vec.h"

/* ---------------- helpers ---------------- */

LLVMValueRef cg_i64(cg *c, int64_t v) { return LLVMConstInt(c->i64, (unsigned long long)v, 1); }
LLVMValueRef cg_f32(cg *c, double v) { return LLVMConstReal(c->f32, v); }

LLVMValueRef cg_gep(cg *c, LLVMValueRef base, LLVMValueRef index)
{
    return LLVMBuildInBoundsGEP2(c->b, c->f32, base, &index, 1, "");
}

LLVMValueRef cg_load(cg *c, LLVMValueRef base, LLVMValueRef index)
{
    LLVMValueRef v = LLVMBuildLoad2(c->b, c->f32, cg_gep(c, base, index), "");
    LLVMSetAlignment(v, 4);
    return v;
}

void cg_store(cg *c, LLVMValueRef value, LLVMValueRef base, LLVMValueRef index)
{
    LLVMValueRef s = LLVMBuildStore(c->b, value, cg_gep(c, base, index));
    LLVMSetAlignment(s, 4);
}

LLVMValueRef cg_mad(cg *c, LLVMValueRef a, int64_t b, LLVMValueRef add)
{
    LLVMValueRef m = LLVMBuildNSWMul(c->b, a, cg_i64(c, b), "");
    return add ? LLVMBuildNSWAdd(c->b, m, add, "") : m;
}

LLVMValueRef cg_fadd_reassoc(cg *c, LLVMValueRef a, LLVMValueRef b)
{
    LLVMValueRef v = LLVMBuildFAdd(c->b, a, b, "");
    LLVMSetFastMathFlags(v, LLVMFastMathAllowReassoc | LLVMFastMathAllowContract);
    return v;
}

LLVMValueRef cg_fmul_reassoc(cg *c, LLVMValueRef a, LLVMValueRef b)
{
    LLVMValueRef v = LLVMBuildFMul(c->b, a, b, "");
    LLVMSetFastMathFlags(v, LLVMFastMathAllowReassoc | LLVMFastMathAllowContract);
    return v;
}

LLVMValueRef cg_local(cg *c, LLVMTypeRef t, const char *name)
{
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(c->fn);
    LLVMBuilderRef eb = LLVMCreateBuilderInContext(c->ctx);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first) LLVMPositionBuilderBefore(eb, first);
    else LLVMPositionBuilderAtEnd(eb, entry);
    LLVMValueRef a = LLVMBuildAlloca(eb, t, name);
    LLVMDisposeBuilder(eb);
    return a;
}

LLVMValueRef cg_loop_begin(cg *c, cg_loop *l, LLVMValueRef start, LLVMValueRef end, const char *name)
{
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(c->b);
    l->header = LLVMAppendBasicBlockInContext(c->ctx, c->fn, name);
    l->body = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "body");
    l->exit = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "exit");
    LLVMBuildBr(c->b, l->header);
    LLVMPositionBuilderAtEnd(c->b, l->header);
    l->iv = LLVMBuildPhi(c->b, c->i64, name);
    LLVMAddIncoming(l->iv, &start, &pre, 1);
    LLVMValueRef more = LLVMBuildICmp(c->b, LLVMIntSLT, l->iv, end, "");
    LLVMBuildCondBr(c->b, more, l->body, l->exit);
    LLVMPositionBuilderAtEnd(c->b, l->body);
    return l->iv;
}

void cg_loop_end(cg *c, cg_loop *l)
{
    LLVMValueRef next = LLVMBuildNSWAdd(c->b, l->iv, cg_i64(c, 1), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(c->b);
    LLVMBuildBr(c->b, l->header);
    LLVMAddIncoming(l->iv, &next, &latch, 1);
    LLVMPositionBuilderAtEnd(c->b, l->exit);
}

void cg_loop_end_rolled(cg *c, cg_loop *l)
{
    LLVMValueRef next = LLVMBuildNSWAdd(c->b, l->iv, cg_i64(c, 1), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(c->b);
    LLVMValueRef br = LLVMBuildBr(c->b, l->header);
    LLVMAddIncoming(l->iv, &next, &latch, 1);
    /* !llvm.loop !0, !0 = distinct !{!0, !{!"llvm.loop.unroll.disable"}} */
    LLVMMetadataRef disable = LLVMMDStringInContext2(c->ctx, "llvm.loop.unroll.disable", 24);
    LLVMMetadataRef hint = LLVMMDNodeInContext2(c->ctx, &disable, 1);
    LLVMMetadataRef self = LLVMTemporaryMDNode(c->ctx, NULL, 0);
    LLVMMetadataRef ops[2] = {self, hint};
    LLVMMetadataRef loop = LLVMMDNodeInContext2(c->ctx, ops, 2);
    LLVMMetadataReplaceAllUsesWith(self, loop);
    LLVMSetMetadata(br, LLVMGetMDKindIDInContext(c->ctx, "llvm.loop", 9), LLVMMetadataAsValue(c->ctx, loop));
    LLVMPositionBuilderAtEnd(c->b, l->exit);
}

LLVMValueRef cg_intrinsic(cg *c, const char *name, LLVMTypeRef overload, LLVMValueRef *args, int n)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(c->mod, id, &overload, 1);
    LLVMTypeRef ty = LLVMIntrinsicGetType(c->ctx, id, &overload, 1);
    return LLVMBuildCall2(c->b, ty, fn, args, n, "");
}

LLVMValueRef cg_const_ptr(cg *c, const ir_const *k)
{
    LLVMValueRef gv = cg_const_global(c, k);
    if (gv) return gv;
    /* external: base + byte offset of the tensor in the file */
    LLVMValueRef off = cg_i64(c, k->file_offset);
    return LLVMBuildInBoundsGEP2(c->b, c->i8, c->weights_base, &off, 1, "");
}

/* ---------------- kernels ---------------- */


/* Direct convolution (kernels too large for cg_emit_corr's tap masks): the (ky, kx) taps are unrolled at
 * compile time so that each tap's valid output range is a constant; the innermost loop is an axpy over an
 * output row. */
static void k_conv2d_naive(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    int64_t ci_n = a->in_shape.dims[0], H = a->in_shape.dims[1], W = a->in_shape.dims[2];
    int64_t co_n = n->units, OH = n->shape.dims[1], OW = n->shape.dims[2];
    LLVMValueRef w = cg_const_ptr(c, n->weight), bias = n->bias ? cg_const_ptr(c, n->bias) : NULL;
    cg_loop lb, lco, lci, ly, lx;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef co = cg_loop_begin(c, &lco, cg_i64(c, 0), cg_i64(c, co_n), "co");
    LLVMValueRef plane = cg_gep(c, a->out, cg_mad(c, cg_mad(c, b, co_n, co), OH * OW, NULL));
    LLVMValueRef bv = bias ? cg_load(c, bias, co) : cg_f32(c, 0);
    LLVMValueRef p = cg_loop_begin(c, &ly, cg_i64(c, 0), cg_i64(c, OH * OW), "init");
    cg_store(c, bv, plane, p);
    cg_loop_end(c, &ly);
    LLVMValueRef ci = cg_loop_begin(c, &lci, cg_i64(c, 0), cg_i64(c, ci_n), "ci");
    LLVMValueRef src = cg_gep(c, a->in[0], cg_mad(c, cg_mad(c, b, ci_n, ci), H * W, NULL));
    LLVMValueRef wbase = cg_mad(c, cg_mad(c, co, ci_n, ci), n->kh * n->kw, NULL);
    for (int ky = 0; ky < n->kh; ky++) {
        /* output rows whose input row oy*sh + ky - pad_t lies inside [0, H) */
        int64_t y0 = 0, y1 = OH;
        while (y0 < OH && y0 * n->sh + ky - n->pad_t < 0) y0++;
        while (y1 > y0 && (y1 - 1) * n->sh + ky - n->pad_t >= H) y1--;
        for (int kx = 0; kx < n->kw; kx++) {
            int64_t x0 = 0, x1 = OW;
            while (x0 < OW && x0 * n->sw + kx - n->pad_l < 0) x0++;
            while (x1 > x0 && (x1 - 1) * n->sw + kx - n->pad_l >= W) x1--;
            if (y0 >= y1 || x0 >= x1) continue;
            LLVMValueRef wv = wmap(c, cg_load(c, w, LLVMBuildNSWAdd(c->b, wbase, cg_i64(c, ky * n->kw + kx), "")),
                                   n->weight_map);
            LLVMValueRef oy = cg_loop_begin(c, &ly, cg_i64(c, y0), cg_i64(c, y1), "oy");
            LLVMValueRef iy = LLVMBuildNSWAdd(c->b, cg_mad(c, oy, n->sh, NULL), cg_i64(c, ky - n->pad_t), "");
            LLVMValueRef orow = cg_gep(c, plane, cg_mad(c, oy, OW, NULL));
            LLVMValueRef irow = cg_gep(c, src, cg_mad(c, iy, W, NULL));
            LLVMValueRef ox = cg_loop_begin(c, &lx, cg_i64(c, x0), cg_i64(c, x1), "ox");
            LLVMValueRef ix = LLVMBuildNSWAdd(c->b, cg_mad(c, ox, n->sw, NULL), cg_i64(c, kx - n->pad_l), "");
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

/* Register-blocked GEMV (batch 1) / GEMM (cg_gemm.c). */
static void k_dense(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    LLVMValueRef w = cg_const_ptr(c, n->weight), bias = n->bias ? cg_const_ptr(c, n->bias) : NULL;
    cg_emit_dense(c, a->out, a->in[0], a->batch, w, n->weight_map, bias, a->in_shape.dims[0], n->units,
                  n->epilogue_from ? n : NULL, a->in);
}

/* A register-blocked correlation (cg_emit_corr): vector loads along output rows (gathers for column
 * strides > 1), compile-time masks at the borders. */
static void k_conv2d(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    if (n->kh > 32 || n->kw > 64) { k_conv2d_naive(c, a); return; }
    int64_t tap[32 * 64];
    for (int t = 0; t < n->kh * n->kw; t++) tap[t] = t;
    int64_t ci_n = a->in_shape.dims[0];
    cg_corr p = {
        .in = a->in[0], .out = a->out, .batch = a->batch,
        .ic_n = ci_n, .H = a->in_shape.dims[1], .W = a->in_shape.dims[2],
        .oc_n = n->units, .OH = n->shape.dims[1], .OW = n->shape.dims[2],
        .kh = n->kh, .kw = n->kw, .sh = n->sh, .sw = n->sw, .off_y = -n->pad_t, .off_x = -n->pad_l,
        .w = cg_const_ptr(c, n->weight), .s_oc = ci_n * n->kh * n->kw, .s_ic = n->kh * n->kw, .tap = tap,
        .w_map = n->weight_map, .epi = n->epilogue_from ? n : NULL,
        .bias = n->bias ? cg_const_ptr(c, n->bias) : NULL,
    };
    for (int k = 0; k < a->n_in; k++) p.epi_in[k] = a->in[k];
    cg_emit_corr(c, &p);
}

/* Max and average pooling. Cells outside the input are ignored by max; average divides by the window
 * size (PyTorch's count_include_pad) or, for `same`, by the number of valid cells (TensorFlow). */
static void k_pool(cg *c, const kargs *a0)
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
                             LLVMBuildICmp(c->b, LLVMIntSLT, ix, cg_i64(c, W), ""), ""), "");
            LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "tap");
            LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "next");
            LLVMBuildCondBr(c->b, ok, then, next);
            LLVMPositionBuilderAtEnd(c->b, then);
            LLVMValueRef v = cg_load(c, src, cg_mad(c, iy, W, ix));
            LLVMValueRef cur = LLVMBuildLoad2(c->b, c->f32, acc, "");
            LLVMValueRef upd = is_max ? LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, v, cur, ""), v, cur, "")
                                      : LLVMBuildFAdd(c->b, cur, v, "");
            LLVMBuildStore(c->b, upd, acc);
            LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, c->f32, count, ""), cg_f32(c, 1), ""), count);
            LLVMBuildBr(c->b, next);
            LLVMPositionBuilderAtEnd(c->b, next);
        }
    LLVMValueRef r = LLVMBuildLoad2(c->b, c->f32, acc, "");
    if (!is_max) {
        LLVMValueRef div = n->pad_same ? LLVMBuildLoad2(c->b, c->f32, count, "") : cg_f32(c, n->kh * n->kw);
        r = LLVMBuildFDiv(c->b, r, div, "");
    }
    cg_store(c, r, dst, cg_mad(c, oy, OW, ox));
    cg_loop_end(c, &lx);
    cg_loop_end(c, &ly);
    cg_loop_end(c, &lp);
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
}

static void k_global_avgpool(cg *c, const kargs *a)
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
static void k_elementwise(cg *c, const kargs *a0)
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
    if (n->op == OP_AFFINE) { scale = cg_const_ptr(c, n->weight); shift = cg_const_ptr(c, n->bias); }
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef base = cg_mad(c, b, count, NULL);
    LLVMValueRef i = cg_loop_begin(c, &li, i0, i1, "i");
    LLVMValueRef idx = LLVMBuildNSWAdd(c->b, base, i, "");
    LLVMValueRef x = cg_load(c, a->in[0], idx), y;
    switch (n->op) {
    case OP_RELU:
        y = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, x, cg_f32(c, 0), ""), x, cg_f32(c, 0), "");
        break;
    case OP_SIGMOID: {
        LLVMValueRef neg = LLVMBuildFNeg(c->b, x, "");
        LLVMValueRef e = cg_intrinsic(c, "llvm.exp", c->f32, &neg, 1);
        y = LLVMBuildFDiv(c->b, cg_f32(c, 1), LLVMBuildFAdd(c->b, cg_f32(c, 1), e, ""), "");
        break;
    }
    case OP_AFFINE: {
        LLVMValueRef ch = LLVMBuildSRem(c->b, LLVMBuildSDiv(c->b, i, cg_i64(c, inner), ""), cg_i64(c, channels), "");
        y = LLVMBuildFAdd(c->b, LLVMBuildFMul(c->b, x, cg_load(c, scale, ch), ""), cg_load(c, shift, ch), "");
        break;
    }
    case OP_ADD: y = LLVMBuildFAdd(c->b, x, cg_load(c, a->in[1], idx), ""); break;
    default: y = x; break;   /* copy */
    }
    cg_store(c, y, a->out, idx);
    cg_loop_end(c, &li);
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
}

/* softmax over all features of each sample, shifted by the maximum so exp cannot overflow */
static void k_softmax(cg *c, const kargs *a)
{
    int64_t count = ir_shape_count(&a->n->shape);
    LLVMValueRef mx = cg_local(c, c->f32, "max"), sum = cg_local(c, c->f32, "sum");
    cg_loop lb, li;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef src = cg_gep(c, a->in[0], cg_mad(c, b, count, NULL));
    LLVMValueRef dst = cg_gep(c, a->out, cg_mad(c, b, count, NULL));
    LLVMBuildStore(c->b, cg_f32(c, -__builtin_inff()), mx);
    LLVMValueRef i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, count), "i");
    LLVMValueRef v = cg_load(c, src, i), m = LLVMBuildLoad2(c->b, c->f32, mx, "");
    LLVMBuildStore(c->b, LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, v, m, ""), v, m, ""), mx);
    cg_loop_end(c, &li);
    LLVMBuildStore(c->b, cg_f32(c, 0), sum);
    LLVMValueRef m2 = LLVMBuildLoad2(c->b, c->f32, mx, "");
    i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, count), "i");
    LLVMValueRef d = LLVMBuildFSub(c->b, cg_load(c, src, i), m2, "");
    LLVMValueRef e = cg_intrinsic(c, "llvm.exp", c->f32, &d, 1);
    cg_store(c, e, dst, i);
    LLVMBuildStore(c->b, cg_fadd_reassoc(c, LLVMBuildLoad2(c->b, c->f32, sum, ""), e), sum);
    cg_loop_end(c, &li);
    LLVMValueRef inv = LLVMBuildFDiv(c->b, cg_f32(c, 1), LLVMBuildLoad2(c->b, c->f32, sum, ""), "");
    i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, count), "i");
    cg_store(c, LLVMBuildFMul(c->b, cg_load(c, dst, i), inv, ""), dst, i);
    cg_loop_end(c, &li);
    cg_loop_end(c, &lb);
}

LLVMValueRef cg_kernel(cg *c, int index)
{
    const ir_node *n = &c->g->nodes[index];
    char name[256];
    snprintf(name, sizeof name, "%s.k%d.%s", c->g->name, index, ir_op_name(n->op));
    /* void kernel(out, in_0 .. in_{n-1}, weights_base, target, options, batch, sample0) */
    LLVMTypeRef params[IR_MAX_INPUTS + 6];
    int np = 0;
    params[np++] = c->ptr;
    for (int k = 0; k < n->n_inputs; k++) params[np++] = c->ptr;
    params[np++] = c->ptr;
    params[np++] = c->ptr;
    params[np++] = c->ptr;
    params[np++] = c->i64;
    params[np++] = c->i64;
    LLVMValueRef fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->void_t, params, np, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    /* kernels stay functions: inlining dozens of loop nests into one entry makes the optimiser's passes
     * superlinear (seconds per explanation) and gains nothing, each call running a whole loop nest */
    unsigned noinline = LLVMGetEnumAttributeKindForName("noinline", 8);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(c->ctx, noinline, 0));
    /* out never aliases an input (the plan gives distinct slots), except for in-place elementwise ops */
    unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
    unsigned nocapture = LLVMGetEnumAttributeKindForName("nocapture", 9);
    for (int p = 0; p < np - 2; p++)   /* the pointers */
        LLVMAddAttributeAtIndex(fn, p + 1, LLVMCreateEnumAttribute(c->ctx, nocapture, 0));
    int in_place = n->op == OP_RELU || n->op == OP_SIGMOID || n->op == OP_AFFINE || n->op == OP_ELTWISE;
    if (!in_place) LLVMAddAttributeAtIndex(fn, 1, LLVMCreateEnumAttribute(c->ctx, noalias, 0));
    c->fn = fn;
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(c->ctx, fn, "entry");
    LLVMPositionBuilderAtEnd(c->b, entry);
    kargs a = {0};
    a.n = n;
    a.out = LLVMGetParam(fn, 0);
    a.n_in = n->n_inputs;
    for (int k = 0; k < n->n_inputs; k++) a.in[k] = LLVMGetParam(fn, 1 + k);
    c->weights_base = LLVMGetParam(fn, 1 + n->n_inputs);
    a.target = LLVMGetParam(fn, 2 + n->n_inputs);
    a.options = LLVMGetParam(fn, 3 + n->n_inputs);
    a.batch = LLVMGetParam(fn, 4 + n->n_inputs);
    a.sample0 = LLVMGetParam(fn, 5 + n->n_inputs);
    if (n->n_inputs > 0) a.in_shape = c->g->nodes[n->inputs[0]].shape;
    switch (n->op) {
    case OP_DENSE: k_dense(c, &a); break;
    case OP_CONV2D: k_conv2d(c, &a); break;
    case OP_MAXPOOL: case OP_AVGPOOL: k_pool(c, &a); break;
    case OP_GLOBAL_AVGPOOL: k_global_avgpool(c, &a); break;
    case OP_SOFTMAX: k_softmax(c, &a); break;
    case OP_RELU: case OP_SIGMOID: case OP_AFFINE: case OP_ADD: k_elementwise(c, &a); break;
    case OP_EXPAND: case OP_REDUCE: case OP_REFERENCE: cg_samples_kernel(c, &a); break;
    case OP_CHANNEL_DOT: case OP_GRADCAMPP: case OP_UPSAMPLE: cg_cam_kernel(c, &a); break;
    default: cg_backward_kernel(c, &a); break;   /* the other ops of explanation graphs: cg_backward.c */
    }
    LLVMBuildRetVoid(c->b);
    return fn;
}
