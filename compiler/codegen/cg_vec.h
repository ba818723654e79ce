/* Vector helpers of the register-blocked kernels (cg_gemm.c: correlation; cg_dense.c: dense and its
 * transpose): <CG_VW x float> values, compile-time lane masks, masked loads / stores, small control flow. */
#ifndef XAIC_CG_VEC_H
#define XAIC_CG_VEC_H

#include <string.h>

#include "cg_builder.h"

#define CG_VW        8
#define CG_FULL_MASK ((1u << CG_VW) - 1)
#define CG_TILE_ROWS 8  /* output channels / rows per tile */
#define CG_TILE_VECS 4  /* vectors per tile along the contiguous axis */
#define CG_MAX_KW    64 /* kernel widths handled by the blocked conv (cg_emit_corr callers check) */

static inline LLVMTypeRef vec_t(cg *c) { return LLVMVectorType(c->f32, CG_VW); }

static inline LLVMValueRef vzero(cg *c) { return LLVMConstNull(vec_t(c)); }

static inline LLVMValueRef splat(cg *c, LLVMValueRef s)
{
    LLVMValueRef v = LLVMBuildInsertElement(c->b, LLVMGetPoison(vec_t(c)), s, LLVMConstInt(c->i32, 0, 0), "");
    LLVMValueRef zeros = LLVMConstNull(LLVMVectorType(c->i32, CG_VW));
    return LLVMBuildShuffleVector(c->b, v, LLVMGetPoison(vec_t(c)), zeros, "");
}

static inline LLVMValueRef lane_mask(cg *c, unsigned m)
{
    LLVMValueRef bits[CG_VW];
    for (int l = 0; l < CG_VW; l++) bits[l] = LLVMConstInt(c->i1, (m >> l) & 1, 0);
    return LLVMConstVector(bits, CG_VW);
}

static inline LLVMValueRef call2(cg *c, const char *name, LLVMTypeRef t0, LLVMTypeRef t1, LLVMValueRef *args, int n)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef ov[2] = { t0, t1 };
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(c->mod, id, ov, 2);
    LLVMTypeRef ty = LLVMIntrinsicGetType(c->ctx, id, ov, 2);
    return LLVMBuildCall2(c->b, ty, fn, args, n, "");
}

/* &base[index] without the inbounds promise: masked border loads may start before the buffer. */
static inline LLVMValueRef gep_any(cg *c, LLVMValueRef base, LLVMValueRef index)
{
    return LLVMBuildGEP2(c->b, c->f32, base, &index, 1, "");
}

/* The CG_VW floats at base[index], lanes outside mask read as 0 (never touched). */
static inline LLVMValueRef vload(cg *c, LLVMValueRef base, LLVMValueRef index, unsigned mask)
{
    if (mask == CG_FULL_MASK) {
        LLVMValueRef v = LLVMBuildLoad2(c->b, vec_t(c), cg_gep(c, base, index), "");
        LLVMSetAlignment(v, 4);
        return v;
    }
    LLVMValueRef args[4] = { gep_any(c, base, index), LLVMConstInt(c->i32, 4, 0), lane_mask(c, mask), vzero(c) };
    return call2(c, "llvm.masked.load", vec_t(c), c->ptr, args, 4);
}

/* the lanes of a stride-2 row that fall into the first (half 0) or second (half 1) contiguous vector:
 * lane l of the row is element 2 l of the pair of vectors */
static inline unsigned stride2_mask(unsigned mask, int half)
{
    unsigned m = 0;
    for (int l = half * CG_VW / 2; l < (half + 1) * CG_VW / 2; l++)
        if (mask >> l & 1) m |= 1u << (2 * l - half * CG_VW);
    return m;
}

static inline LLVMValueRef shuffle_const(cg *c, LLVMValueRef a, LLVMValueRef b, const int *idx)
{
    LLVMValueRef m[CG_VW];
    for (int l = 0; l < CG_VW; l++) m[l] = LLVMConstInt(c->i32, (unsigned)idx[l], 0);
    return LLVMBuildShuffleVector(c->b, a, b, LLVMConstVector(m, CG_VW), "");
}

/* base[index + l * stride] for the lanes l in mask (0 elsewhere): a strided row. Stride 2 (the stride-2
 * convs of ResNets) is two contiguous loads that touch only the wanted elements (a plain load for the first
 * when every lane is wanted: its elements lie between two wanted ones) and one shuffle: gathers were most of
 * those convs' time. Other strides: llvm.masked.gather. */
static inline LLVMValueRef vgather(cg *c, LLVMValueRef base, LLVMValueRef index, int64_t stride, unsigned mask)
{
    if (stride == 2) {
        static const int even[CG_VW] = { 0, 2, 4, 6, 8, 10, 12, 14 };
        unsigned m0 = stride2_mask(mask, 0), m1 = stride2_mask(mask, 1);
        LLVMValueRef lo = mask == CG_FULL_MASK ? vload(c, base, index, CG_FULL_MASK)
            : m0                               ? vload(c, base, index, m0)
                                               : vzero(c);
        LLVMValueRef hi = m1 ? vload(c, base, LLVMBuildAdd(c->b, index, cg_i64(c, CG_VW), ""), m1) : vzero(c);
        return shuffle_const(c, lo, hi, even);
    }
    LLVMValueRef offs[CG_VW];
    for (int l = 0; l < CG_VW; l++) offs[l] = cg_i64(c, l * stride);
    LLVMValueRef off = LLVMConstVector(offs, CG_VW);
    LLVMValueRef row = gep_any(c, base, index);
    LLVMValueRef ptrs = LLVMBuildGEP2(c->b, c->f32, row, &off, 1, "");
    LLVMValueRef args[4] = { ptrs, LLVMConstInt(c->i32, 4, 0), lane_mask(c, mask), vzero(c) };
    return call2(c, "llvm.masked.gather", vec_t(c), LLVMVectorType(c->ptr, CG_VW), args, 4);
}

static inline void vstore(cg *c, LLVMValueRef v, LLVMValueRef base, LLVMValueRef index, unsigned mask)
{
    if (mask == CG_FULL_MASK) {
        LLVMValueRef s = LLVMBuildStore(c->b, v, cg_gep(c, base, index));
        LLVMSetAlignment(s, 4);
        return;
    }
    LLVMValueRef args[4] = { v, gep_any(c, base, index), LLVMConstInt(c->i32, 4, 0), lane_mask(c, mask) };
    call2(c, "llvm.masked.store", vec_t(c), c->ptr, args, 4);
}

/* base[index + l * stride] = v[l] for the lanes l in mask. Stride 2: two shuffles and two masked stores,
 * which write only the wanted elements (the elements between them belong to another phase of a transposed
 * conv, possibly another thread's). Other strides: llvm.masked.scatter. */
static inline void vscatter(cg *c, LLVMValueRef v, LLVMValueRef base, LLVMValueRef index, int64_t stride, unsigned mask)
{
    if (stride == 2) {
        static const int spread[2][CG_VW] = { { 0, 0, 1, 1, 2, 2, 3, 3 }, { 4, 4, 5, 5, 6, 6, 7, 7 } };
        for (int h = 0; h < 2; h++) {
            unsigned m = stride2_mask(mask, h);
            if (!m) continue;
            LLVMValueRef at = h ? LLVMBuildAdd(c->b, index, cg_i64(c, CG_VW), "") : index;
            LLVMValueRef args[4] = { shuffle_const(c, v, v, spread[h]), gep_any(c, base, at),
                                     LLVMConstInt(c->i32, 4, 0), lane_mask(c, m) };
            call2(c, "llvm.masked.store", vec_t(c), c->ptr, args, 4);
        }
        return;
    }
    LLVMValueRef offs[CG_VW];
    for (int l = 0; l < CG_VW; l++) offs[l] = cg_i64(c, l * stride);
    LLVMValueRef off = LLVMConstVector(offs, CG_VW);
    LLVMValueRef ptrs = LLVMBuildGEP2(c->b, c->f32, gep_any(c, base, index), &off, 1, "");
    LLVMValueRef args[4] = { v, ptrs, LLVMConstInt(c->i32, 4, 0), lane_mask(c, mask) };
    call2(c, "llvm.masked.scatter", vec_t(c), LLVMVectorType(c->ptr, CG_VW), args, 4);
}

static inline LLVMValueRef vfma(cg *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef acc)
{
    LLVMValueRef args[3] = { a, b, acc };
    return cg_intrinsic(c, "llvm.fmuladd", vec_t(c), args, 3);
}

static inline LLVMValueRef vadd(cg *c, LLVMValueRef a, LLVMValueRef b) { return cg_fadd_reassoc(c, a, b); }

/* horizontal sum of a vector */
static inline LLVMValueRef hsum(cg *c, LLVMValueRef v)
{
    LLVMValueRef args[2] = { cg_f32(c, -0.0), v };
    LLVMValueRef r = cg_intrinsic(c, "llvm.vector.reduce.fadd", vec_t(c), args, 2);
    LLVMSetFastMathFlags(r, LLVMFastMathAllowReassoc | LLVMFastMathAllowContract);
    return r;
}

/* a weight as the kernel reads it (ir_weight_map): pos(w) or neg(w) of a scalar or a vector */
static inline LLVMValueRef wmap(cg *c, LLVMValueRef w, int map)
{
    if (map == WMAP_NONE) return w;
    LLVMValueRef zero = LLVMConstNull(LLVMTypeOf(w));
    LLVMValueRef keep = LLVMBuildFCmp(c->b, map == WMAP_POS ? LLVMRealOGT : LLVMRealOLT, w, zero, "");
    return LLVMBuildSelect(c->b, keep, w, zero, "");
}

static inline LLVMValueRef iadd(cg *c, LLVMValueRef a, int64_t k)
{
    return k ? LLVMBuildNSWAdd(c->b, a, cg_i64(c, k), "") : a;
}

static inline LLVMValueRef vlocal(cg *c) { return cg_local(c, vec_t(c), "acc"); }
static inline LLVMValueRef vget(cg *c, LLVMValueRef p) { return LLVMBuildLoad2(c->b, vec_t(c), p, ""); }
static inline void vset(cg *c, LLVMValueRef v, LLVMValueRef p) { LLVMBuildStore(c->b, v, p); }

/* mask of the lanes [lo, hi) of a vector (clamped) */
static inline unsigned lanes(int64_t lo, int64_t hi)
{
    unsigned m = 0;
    for (int64_t l = lo < 0 ? 0 : lo; l < hi && l < CG_VW; l++) m |= 1u << l;
    return m;
}

/* Vectors of n floats (the GEMM tiles of cg_dense.c use 16 on AVX-512, whose two FMA units do twice the work per
 * instruction of 8-float ones): the helpers above, for any width. A function using 16-float vectors must be
 * marked with cg_wide_vectors, else the back end splits them into halves. */
#define CG_MAX_VW 16
static inline LLVMTypeRef vec_n(cg *c, int n) { return LLVMVectorType(c->f32, (unsigned)n); }

static inline unsigned lanes_n(int64_t hi, int n)
{
    unsigned m = 0;
    for (int64_t l = 0; l < hi && l < n; l++) m |= 1u << l;
    return m;
}

static inline LLVMValueRef mask_n(cg *c, unsigned m, int n)
{
    LLVMValueRef bits[CG_MAX_VW];
    for (int l = 0; l < n; l++) bits[l] = LLVMConstInt(c->i1, (m >> l) & 1, 0);
    return LLVMConstVector(bits, (unsigned)n);
}

static inline LLVMValueRef vload_n(cg *c, LLVMValueRef base, LLVMValueRef index, unsigned mask, int n)
{
    if (mask == lanes_n(n, n)) {
        LLVMValueRef v = LLVMBuildLoad2(c->b, vec_n(c, n), cg_gep(c, base, index), "");
        LLVMSetAlignment(v, 4);
        return v;
    }
    LLVMValueRef args[4] = { gep_any(c, base, index), LLVMConstInt(c->i32, 4, 0), mask_n(c, mask, n),
                             LLVMConstNull(vec_n(c, n)) };
    return call2(c, "llvm.masked.load", vec_n(c, n), c->ptr, args, 4);
}

static inline void vstore_n(cg *c, LLVMValueRef v, LLVMValueRef base, LLVMValueRef index, unsigned mask, int n)
{
    if (mask == lanes_n(n, n)) {
        LLVMSetAlignment(LLVMBuildStore(c->b, v, cg_gep(c, base, index)), 4);
        return;
    }
    LLVMValueRef args[4] = { v, gep_any(c, base, index), LLVMConstInt(c->i32, 4, 0), mask_n(c, mask, n) };
    call2(c, "llvm.masked.store", vec_n(c, n), c->ptr, args, 4);
}

static inline LLVMValueRef splat_n(cg *c, LLVMValueRef s, int n)
{
    LLVMValueRef v = LLVMBuildInsertElement(c->b, LLVMGetPoison(vec_n(c, n)), s, LLVMConstInt(c->i32, 0, 0), "");
    return LLVMBuildShuffleVector(c->b, v, LLVMGetPoison(vec_n(c, n)),
                                  LLVMConstNull(LLVMVectorType(c->i32, (unsigned)n)), "");
}

static inline LLVMValueRef vfma_n(cg *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef acc)
{
    LLVMValueRef args[3] = { a, b, acc };
    return cg_intrinsic(c, "llvm.fmuladd", LLVMTypeOf(a), args, 3);
}

/* c->fn may use 512-bit vectors as such */
static inline void cg_wide_vectors(cg *c)
{
    LLVMAddTargetDependentFunctionAttr(c->fn, "min-legal-vector-width", "512");
    LLVMAddTargetDependentFunctionAttr(c->fn, "prefer-vector-width", "512");
}

static inline LLVMValueRef smin(cg *c, LLVMValueRef a, int64_t k)
{
    return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, a, cg_i64(c, k), ""), a, cg_i64(c, k), "");
}

/* if (a > k) { ...; then end_if } (k a constant) */
static inline LLVMBasicBlockRef begin_if_gt(cg *c, LLVMValueRef a, int64_t k)
{
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "then");
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "endif");
    LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, a, cg_i64(c, k), ""), then, next);
    LLVMPositionBuilderAtEnd(c->b, then);
    return next;
}

static inline void end_if(cg *c, LLVMBasicBlockRef next)
{
    LLVMBuildBr(c->b, next);
    LLVMPositionBuilderAtEnd(c->b, next);
}

#endif
