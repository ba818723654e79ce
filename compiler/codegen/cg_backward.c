/* Kernels of the explanation ops: elementwise expressions, sum pooling, transposed dense / conv2d /
 * pooling, max-pool gradient routing and the output seed.
 * Like the forward kernels, every loop nest has compile-time trip counts except the batch; window taps
 * are unrolled at compile time with their valid ranges computed here, so inner loops carry no bounds
 * tests and run contiguously over a row wherever the geometry allows. */
#include <math.h>
#include <string.h>

#include "cg_dense.h"
#include "cg_depthwise.h"
#include "cg_gemm.h"
#include "cg_ew.h"
#include "cg_kernels.h"
#include "cg_vec.h"
#include "cg_parallel.h"
#include "cg_tiles.h"

/* ---------------- helpers ---------------- */

static LLVMValueRef ld(cg *c, LLVMValueRef p) { return LLVMBuildLoad2(c->b, c->f32, p, ""); }

static LLVMValueRef add(cg *c, LLVMValueRef a, int64_t k) { return k ? LLVMBuildNSWAdd(c->b, a, cg_i64(c, k), "") : a; }

/* Zeroes `floats_per_sample * batch` floats at p. */
static void zero(cg *c, LLVMValueRef p, const kargs *a, int64_t floats_per_sample)
{
    LLVMValueRef bytes = LLVMBuildNSWMul(c->b, a->batch, cg_i64(c, floats_per_sample * 4), "");
    LLVMBuildMemSet(c->b, p, LLVMConstInt(c->i8, 0, 0), bytes, 4);
}

/* p[index] += v (reassociable, so that accumulation loops vectorise) */
static void acc_store(cg *c, LLVMValueRef p, LLVMValueRef index, LLVMValueRef v)
{
    cg_store(c, cg_fadd_reassoc(c, cg_load(c, p, index), v), p, index);
}

static LLVMValueRef fcmp(cg *c, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFCmp(c->b, p, a, b, "");
}

/* Output positions o in [0, out_n) whose input coordinate o*stride + off lies inside [0, in_n). */
static void tap_range(int64_t out_n, int stride, int64_t off, int64_t in_n, int64_t *lo, int64_t *hi)
{
    int64_t o0 = 0, o1 = out_n;
    while (o0 < out_n && o0 * stride + off < 0) o0++;
    while (o1 > o0 && (o1 - 1) * stride + off >= in_n) o1--;
    *lo = o0;
    *hi = o1;
}

/* Output size of the forward window op n along one axis (its ceil_mode included). */
static int64_t window_out(const ir_node *n, int64_t in, int64_t reach, int s, int lo, int hi)
{
    int64_t o = ir_window_out(in, reach, s, lo, hi, n->ceil_mode);
    return o < 0 ? 0 : o;
}

/* The [C, H, W] input geometry of a window op: in_shape when the rules stage set it. */
static ir_shape window_in_shape(const kargs *a, const ir_shape *fallback)
{
    return a->n->in_shape.rank == 3 ? a->n->in_shape : *fallback;
}

/* ---------------- OP_ELTWISE ---------------- */

/* The element at idx (vec 0), or the CG_VW elements from idx whose lanes are in mask (vec 1); every input is
 * read before the store, so that the output may be one of the inputs (in place). */
static void ew_element(cg *c, const kargs *a, LLVMValueRef idx, LLVMValueRef ch, int vec, unsigned mask)
{
    cg_ew_site s;
    memset(&s, 0, sizeof s);
    for (int k = 0; k < a->n_in; k++) s.ptr[k] = a->in[k];
    s.idx = idx, s.ch = ch, s.vec = vec, s.mask = mask;
    LLVMValueRef v = cg_ew_value(c, a->n->expr, &s);
    if (vec)
        vstore(c, v, a->out, idx, mask);
    else
        cg_store(c, v, a->out, idx);
}

/* Elements [i0, i1) from base (i0 a multiple of CG_VW): whole vectors, then the rest one by one. The vectors
 * are built here, not left to LLVM's loop vectoriser: a kernel that writes in place (the backward passes
 * mostly do) failed its run-time overlap check and ran the scalar loop (GELU's derivative on ViT-B/16: 8 ns
 * per element). ch is the channel (channel-invariant), or NULL. */
static void ew_range(cg *c, const kargs *a, LLVMValueRef base, LLVMValueRef i0, LLVMValueRef i1, LLVMValueRef ch)
{
    cg_loop lv, ls;
    LLVMValueRef v0 = LLVMBuildSDiv(c->b, i0, cg_i64(c, CG_VW), ""), v1 = LLVMBuildSDiv(c->b, i1, cg_i64(c, CG_VW), "");
    LLVMValueRef v = cg_loop_begin(c, &lv, v0, v1, "v");
    ew_element(c, a, LLVMBuildNSWAdd(c->b, base, cg_mad(c, v, CG_VW, NULL), ""), ch, 1, CG_FULL_MASK);
    cg_loop_end_rolled(c, &lv);
    LLVMValueRef i = cg_loop_begin(c, &ls, cg_mad(c, v1, CG_VW, NULL), i1, "i");
    ew_element(c, a, LLVMBuildNSWAdd(c->b, base, i, ""), ch, 0, 0);
    cg_loop_end_scalar(c, &ls);
}

/* out[b, i] = expr(in_0[b, i], ...). Without per-channel constants a loop over each sample's elements
 * (threads split them into blocks); with them a loop over channels (channel invariant; threads split the
 * channels) around a contiguous loop over the plane. */
void cg_kernel_eltwise(cg *c, const kargs *a0)
{
    const ir_node *n = a0->n;
    int64_t count = ir_shape_count(&n->shape);
    int64_t channels = n->shape.rank >= 1 ? n->shape.dims[0] : 1;
    int64_t inner = channels ? count / channels : 0;
    enum { BLK = CG_PAR_ELEMENT_BLOCK };
    int by_channel = cg_ew_uses_channel(n->expr) && inner > 1;
    kargs q = *a0;
    const kargs *a = &q;
    cg_par par;
    LLVMValueRef lo, hi;
    cg_par_begin_args(c, &par, &q, by_channel ? channels : (count + BLK - 1) / BLK,
                      (by_channel ? inner : BLK) * CG_PAR_ELEMENT_WORK, &lo, &hi);
    cg_loop lb, lp, li;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    if (!by_channel) { /* (rank 1 or [C, 1, 1] with channel constants: the channel is the element) */
        LLVMValueRef i0 = cg_mad(c, lo, BLK, NULL), i1 = cg_mad(c, hi, BLK, NULL);
        i1 = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, i1, cg_i64(c, count), ""), i1, cg_i64(c, count), "");
        LLVMValueRef base = cg_mad(c, b, count, NULL);
        if (cg_ew_uses_channel(n->expr)) { /* a channel per element: one at a time */
            LLVMValueRef i = cg_loop_begin(c, &li, i0, i1, "i");
            ew_element(c, a, LLVMBuildNSWAdd(c->b, base, i, ""), i, 0, 0);
            cg_loop_end(c, &li);
        } else
            ew_range(c, a, base, i0, i1, NULL);
    } else {
        LLVMValueRef ch = cg_loop_begin(c, &lp, lo, hi, "ch");
        LLVMValueRef base = cg_mad(c, cg_mad(c, b, channels, ch), inner, NULL);
        ew_range(c, a, base, cg_i64(c, 0), cg_i64(c, inner), ch);
        cg_loop_end(c, &lp);
    }
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
}

/* ---------------- sum pooling and its transpose ---------------- */

/* z[c, k] = scale[k] * sum of the valid cells of window k: each tap adds a shifted copy of the input
 * over the outputs it reaches (ranges fixed at compile time), then the plane is scaled. */
void cg_kernel_sumpool(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    ir_shape in = window_in_shape(a, &a->in_shape);
    int64_t C = in.dims[0], H = in.dims[1], W = in.dims[2];
    LLVMValueRef scale = cg_const_ptr(c, n->weight);
    LLVMValueRef planes = LLVMBuildNSWMul(c->b, a->batch, cg_i64(c, C), "");
    cg_loop lp, ly, lx;
    if (n->global) {
        LLVMValueRef acc = cg_local(c, c->f32, "acc");
        LLVMValueRef s0 = cg_load(c, scale, cg_i64(c, 0));
        LLVMValueRef pl = cg_loop_begin(c, &lp, cg_i64(c, 0), planes, "plane");
        LLVMValueRef src = cg_gep(c, a->in[0], cg_mad(c, pl, H * W, NULL));
        LLVMBuildStore(c->b, cg_f32(c, 0), acc);
        LLVMValueRef i = cg_loop_begin(c, &lx, cg_i64(c, 0), cg_i64(c, H * W), "i");
        LLVMBuildStore(c->b, cg_fadd_reassoc(c, ld(c, acc), cg_load(c, src, i)), acc);
        cg_loop_end(c, &lx);
        cg_store(c, LLVMBuildFMul(c->b, s0, ld(c, acc), ""), a->out, pl);
        cg_loop_end(c, &lp);
        return;
    }
    int64_t OH = n->shape.dims[1], OW = n->shape.dims[2];
    LLVMValueRef pl = cg_loop_begin(c, &lp, cg_i64(c, 0), planes, "plane");
    LLVMValueRef src = cg_gep(c, a->in[0], cg_mad(c, pl, H * W, NULL));
    LLVMValueRef dst = cg_gep(c, a->out, cg_mad(c, pl, OH * OW, NULL));
    LLVMValueRef p = cg_loop_begin(c, &ly, cg_i64(c, 0), cg_i64(c, OH * OW), "init");
    cg_store(c, cg_f32(c, 0), dst, p);
    cg_loop_end(c, &ly);
    for (int ky = 0; ky < n->kh; ky++) {
        int64_t y0, y1;
        tap_range(OH, n->sh, ky - n->pad_t, H, &y0, &y1);
        for (int kx = 0; kx < n->kw; kx++) {
            int64_t x0, x1;
            tap_range(OW, n->sw, kx - n->pad_l, W, &x0, &x1);
            if (y0 >= y1 || x0 >= x1) continue;
            LLVMValueRef oy = cg_loop_begin(c, &ly, cg_i64(c, y0), cg_i64(c, y1), "oy");
            LLVMValueRef iy = add(c, cg_mad(c, oy, n->sh, NULL), ky - n->pad_t);
            LLVMValueRef orow = cg_gep(c, dst, cg_mad(c, oy, OW, NULL));
            LLVMValueRef irow = cg_gep(c, src, cg_mad(c, iy, W, NULL));
            LLVMValueRef ox = cg_loop_begin(c, &lx, cg_i64(c, x0), cg_i64(c, x1), "ox");
            LLVMValueRef ix = add(c, cg_mad(c, ox, n->sw, NULL), kx - n->pad_l);
            acc_store(c, orow, ox, cg_load(c, irow, ix));
            cg_loop_end(c, &lx);
            cg_loop_end(c, &ly);
        }
    }
    p = cg_loop_begin(c, &ly, cg_i64(c, 0), cg_i64(c, OH * OW), "scale");
    cg_store(c, LLVMBuildFMul(c->b, cg_load(c, dst, p), cg_load(c, scale, p), ""), dst, p);
    cg_loop_end(c, &ly);
    cg_loop_end(c, &lp);
}

/* c[ch, cell] = sum over windows k holding cell of scale[k] * s[ch, k]: each tap scatters the scaled
 * window values back over the cells it covers (distinct cells within a tap, so the loop vectorises). */
void cg_kernel_sumpool_t(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    ir_shape in = window_in_shape(a, &n->shape);
    int64_t C = in.dims[0], H = in.dims[1], W = in.dims[2];
    LLVMValueRef scale = cg_const_ptr(c, n->weight);
    LLVMValueRef planes = LLVMBuildNSWMul(c->b, a->batch, cg_i64(c, C), "");
    cg_loop lp, ly, lx;
    if (n->global) {
        LLVMValueRef s0 = cg_load(c, scale, cg_i64(c, 0));
        LLVMValueRef pl = cg_loop_begin(c, &lp, cg_i64(c, 0), planes, "plane");
        LLVMValueRef dst = cg_gep(c, a->out, cg_mad(c, pl, H * W, NULL));
        LLVMValueRef v = LLVMBuildFMul(c->b, s0, cg_load(c, a->in[0], pl), "");
        LLVMValueRef i = cg_loop_begin(c, &lx, cg_i64(c, 0), cg_i64(c, H * W), "i");
        cg_store(c, v, dst, i);
        cg_loop_end(c, &lx);
        cg_loop_end(c, &lp);
        return;
    }
    int64_t OH = window_out(n, H, n->kh, n->sh, n->pad_t, n->pad_b),
            OW = window_out(n, W, n->kw, n->sw, n->pad_l, n->pad_r);
    LLVMValueRef pl = cg_loop_begin(c, &lp, cg_i64(c, 0), planes, "plane");
    LLVMValueRef src = cg_gep(c, a->in[0], cg_mad(c, pl, OH * OW, NULL));
    LLVMValueRef dst = cg_gep(c, a->out, cg_mad(c, pl, H * W, NULL));
    LLVMValueRef p = cg_loop_begin(c, &ly, cg_i64(c, 0), cg_i64(c, H * W), "init");
    cg_store(c, cg_f32(c, 0), dst, p);
    cg_loop_end(c, &ly);
    for (int ky = 0; ky < n->kh; ky++) {
        int64_t y0, y1;
        tap_range(OH, n->sh, ky - n->pad_t, H, &y0, &y1);
        for (int kx = 0; kx < n->kw; kx++) {
            int64_t x0, x1;
            tap_range(OW, n->sw, kx - n->pad_l, W, &x0, &x1);
            if (y0 >= y1 || x0 >= x1) continue;
            LLVMValueRef oy = cg_loop_begin(c, &ly, cg_i64(c, y0), cg_i64(c, y1), "oy");
            LLVMValueRef iy = add(c, cg_mad(c, oy, n->sh, NULL), ky - n->pad_t);
            LLVMValueRef k0 = cg_mad(c, oy, OW, NULL);
            LLVMValueRef srow = cg_gep(c, src, k0), krow = cg_gep(c, scale, k0);
            LLVMValueRef orow = cg_gep(c, dst, cg_mad(c, iy, W, NULL));
            LLVMValueRef ox = cg_loop_begin(c, &lx, cg_i64(c, x0), cg_i64(c, x1), "ox");
            LLVMValueRef ix = add(c, cg_mad(c, ox, n->sw, NULL), kx - n->pad_l);
            acc_store(c, orow, ix, cg_fmul_reassoc(c, cg_load(c, krow, ox), cg_load(c, srow, ox)));
            cg_loop_end(c, &lx);
            cg_loop_end(c, &ly);
        }
    }
    cg_loop_end(c, &lp);
}

/* ---------------- max-pool gradient routing ---------------- */

/* out = 0, then r[ch, k] is added to the cell of x holding the first maximum of window k (row-major
 * scan, strict >, NaN wins as in PyTorch's max_pool2d). Taps are unrolled and branch-free: an invalid
 * tap reads cell 0 and is never selected. */
void cg_kernel_maxpool_t(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    ir_shape in = window_in_shape(a, &n->shape);
    int64_t C = in.dims[0], H = in.dims[1], W = in.dims[2];
    int64_t OH = window_out(n, H, n->kh, n->sh, n->pad_t, n->pad_b),
            OW = window_out(n, W, n->kw, n->sw, n->pad_l, n->pad_r);
    if (n->global) { OH = OW = 1; }
    int kh = n->global ? (int)H : n->kh, kw = n->global ? (int)W : n->kw;
    int pt = n->global ? 0 : n->pad_t, pl_ = n->global ? 0 : n->pad_l;
    int sh = n->global ? 1 : n->sh, sw = n->global ? 1 : n->sw;
    if (!c->opt->pool_pairs_off && cg_emit_maxpool_t_pairs(c, a, C, H, W)) return;
    zero(c, a->out, a, C * H * W);
    kargs q = *a; /* threads split the channels; each runs them for the whole batch */
    a = &q;
    cg_par par;
    LLVMValueRef clo, chi;
    cg_par_begin_args(c, &par, &q, C, OH * OW * kh * kw * 4, &clo, &chi);
    cg_loop lb, lp, ly, lx;
    LLVMValueRef bi = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef pl = cg_mad(c, bi, C, cg_loop_begin(c, &lp, clo, chi, "ch"));
    LLVMValueRef rpl = cg_gep(c, a->in[0], cg_mad(c, pl, OH * OW, NULL));
    LLVMValueRef xpl = cg_gep(c, a->in[1], cg_mad(c, pl, H * W, NULL));
    LLVMValueRef opl = cg_gep(c, a->out, cg_mad(c, pl, H * W, NULL));
    LLVMValueRef oy = cg_loop_begin(c, &ly, cg_i64(c, 0), cg_i64(c, OH), "oy");
    LLVMValueRef ox = cg_loop_begin(c, &lx, cg_i64(c, 0), cg_i64(c, OW), "ox");
    LLVMValueRef y0 = add(c, cg_mad(c, oy, sh, NULL), -pt);
    LLVMValueRef x0 = add(c, cg_mad(c, ox, sw, NULL), -pl_);
    LLVMValueRef best = cg_f32(c, -INFINITY), bidx = cg_i64(c, -1), zero64 = cg_i64(c, 0);
    for (int ky = 0; ky < kh; ky++) {
        /* rows that no window reaches are skipped at compile time */
        int64_t r0, r1;
        tap_range(OH, sh, ky - pt, H, &r0, &r1);
        if (r0 >= r1) continue;
        LLVMValueRef iy = add(c, y0, ky);
        LLVMValueRef oky = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, iy, zero64, ""),
                                        LLVMBuildICmp(c->b, LLVMIntSLT, iy, cg_i64(c, H), ""), "");
        for (int kx = 0; kx < kw; kx++) {
            int64_t q0, q1;
            tap_range(OW, sw, kx - pl_, W, &q0, &q1);
            if (q0 >= q1) continue;
            LLVMValueRef ix = add(c, x0, kx);
            LLVMValueRef ok = LLVMBuildAnd(c->b, oky,
                                           LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, ix, zero64, ""),
                                                        LLVMBuildICmp(c->b, LLVMIntSLT, ix, cg_i64(c, W), ""), ""),
                                           "");
            LLVMValueRef idx = LLVMBuildSelect(c->b, ok, cg_mad(c, iy, W, ix), zero64, "");
            LLVMValueRef v = cg_load(c, xpl, idx);
            LLVMValueRef wins =
                LLVMBuildOr(c->b, LLVMBuildOr(c->b, fcmp(c, LLVMRealOGT, v, best), fcmp(c, LLVMRealUNO, v, v), ""),
                            LLVMBuildICmp(c->b, LLVMIntSLT, bidx, zero64, ""), "");
            wins = LLVMBuildAnd(c->b, ok, wins, "");
            best = LLVMBuildSelect(c->b, wins, v, best, "");
            bidx = LLVMBuildSelect(c->b, wins, idx, bidx, "");
        }
    }
    /* a window without a valid cell (impossible for the geometries sema accepts) routes nothing */
    LLVMValueRef found = LLVMBuildICmp(c->b, LLVMIntSGE, bidx, zero64, "");
    LLVMValueRef rv = cg_load(c, rpl, cg_mad(c, oy, OW, ox));
    acc_store(c, opl, LLVMBuildSelect(c->b, found, bidx, zero64, ""),
              LLVMBuildSelect(c->b, found, rv, cg_f32(c, 0), ""));
    cg_loop_end(c, &lx);
    cg_loop_end(c, &ly);
    cg_loop_end(c, &lp);
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
}

/* ---------------- transposed dense and conv2d ---------------- */

/* The gradient of conv2d w.r.t. its input for kernels too large for cg_emit_corr, mirroring
 * k_conv2d_naive: for each input plane ci and filter co,
 * the (ky, kx) taps are unrolled with compile-time valid output ranges, and the innermost loop is an
 * axpy of an s row into an input row (contiguous when the stride is 1). */
static void k_conv2d_t_naive(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    int64_t ci_n = n->shape.dims[0], H = n->shape.dims[1], W = n->shape.dims[2];
    int64_t co_n = n->units, G = n->groups > 1 ? n->groups : 1, icg = ci_n / G, ocg = co_n / G;
    int dh = n->dh > 1 ? n->dh : 1, dw = n->dw > 1 ? n->dw : 1;
    int64_t OH = window_out(n, H, dh * (n->kh - 1) + 1, n->sh, n->pad_t, n->pad_b);
    int64_t OW = window_out(n, W, dw * (n->kw - 1) + 1, n->sw, n->pad_l, n->pad_r);
    LLVMValueRef w = cg_const_ptr(c, n->weight);
    cg_loop lb, lci, lco, ly, lx;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef ci = cg_loop_begin(c, &lci, cg_i64(c, 0), cg_i64(c, ci_n), "ci");
    LLVMValueRef plane = cg_gep(c, a->out, cg_mad(c, cg_mad(c, b, ci_n, ci), H * W, NULL));
    LLVMValueRef p = cg_loop_begin(c, &ly, cg_i64(c, 0), cg_i64(c, H * W), "init");
    cg_store(c, cg_f32(c, 0), plane, p);
    cg_loop_end(c, &ly);
    /* input channel ci feeds the filters of its group, g * ocg .. (g + 1) * ocg, as weight ci mod icg */
    LLVMValueRef g = G > 1 ? LLVMBuildSDiv(c->b, ci, cg_i64(c, icg), "") : cg_i64(c, 0);
    LLVMValueRef local = G > 1 ? LLVMBuildNSWSub(c->b, ci, cg_mad(c, g, icg, NULL), "") : ci;
    LLVMValueRef cl = cg_loop_begin(c, &lco, cg_i64(c, 0), cg_i64(c, ocg), "co");
    LLVMValueRef co = G > 1 ? cg_mad(c, g, ocg, cl) : cl;
    LLVMValueRef src = cg_gep(c, a->in[0], cg_mad(c, cg_mad(c, b, co_n, co), OH * OW, NULL));
    LLVMValueRef wbase = cg_mad(c, cg_mad(c, co, icg, local), n->kh * n->kw, NULL);
    for (int ky = 0; ky < n->kh; ky++) {
        int64_t y0, y1;
        tap_range(OH, n->sh, (int64_t)ky * dh - n->pad_t, H, &y0, &y1);
        for (int kx = 0; kx < n->kw; kx++) {
            int64_t x0, x1;
            tap_range(OW, n->sw, (int64_t)kx * dw - n->pad_l, W, &x0, &x1);
            if (y0 >= y1 || x0 >= x1) continue;
            LLVMValueRef wv = wmap(c, cg_load(c, w, add(c, wbase, ky * n->kw + kx)), n->weight_map);
            LLVMValueRef oy = cg_loop_begin(c, &ly, cg_i64(c, y0), cg_i64(c, y1), "oy");
            LLVMValueRef iy = add(c, cg_mad(c, oy, n->sh, NULL), (int64_t)ky * dh - n->pad_t);
            LLVMValueRef srow = cg_gep(c, src, cg_mad(c, oy, OW, NULL));
            LLVMValueRef orow = cg_gep(c, plane, cg_mad(c, iy, W, NULL));
            LLVMValueRef ox = cg_loop_begin(c, &lx, cg_i64(c, x0), cg_i64(c, x1), "ox");
            LLVMValueRef ix = add(c, cg_mad(c, ox, n->sw, NULL), (int64_t)kx * dw - n->pad_l);
            acc_store(c, orow, ix, cg_fmul_reassoc(c, wv, cg_load(c, srow, ox)));
            cg_loop_end(c, &lx);
            cg_loop_end(c, &ly);
        }
    }
    cg_loop_end(c, &lco);
    cg_loop_end(c, &lci);
    cg_loop_end(c, &lb);
}

/* Register-blocked W^T s (cg_gemm.c): vectors along the input axis, the units reduced in registers; tokens
 * [T, D]: T rows per sample. */
void cg_kernel_dense_t(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    int64_t in_n = n->shape.dims[n->shape.rank - 1], rows = ir_shape_count(&n->shape) / in_n;
    LLVMValueRef batch = rows == 1 ? a->batch : LLVMBuildNSWMul(c->b, a->batch, cg_i64(c, rows), "rows");
    cg_emit_dense_t(c, a->out, a->in[0], batch, cg_const_ptr(c, n->weight), n->weight_map, in_n, n->units,
                    n->epilogue_from ? n : NULL, a->in);
}

static int64_t floordiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* The input gradient of a conv, gathered instead of scattered: output pixel (iy, ix) of phase
 * (py, px) = (iy mod sh, ix mod sw) receives s[oy, ox] through exactly the taps ky = ky_r + sh * q
 * (ky_r = (py + pad_t) mod sh), with oy = m + c_y - q for iy = py + sh * m, c_y = (py + pad_t - ky_r) / sh.
 * Per phase that is a unit-stride correlation of s with the flipped sub-kernel (tap q' = nq - 1 - q,
 * offset c_y - nq + 1) and the transposed channels, writing the strided sub-grid of the output:
 * cg_emit_corr, register-blocked. Every output element belongs to one phase and is written once (0 where
 * no tap reaches it). With stride 1 there is one phase: s correlated with the flipped kernel, padding
 * kh-1-pad_t on top and kw-1-pad_l on the left. */
/* The correlation of phase (py, px) of cg_kernel_conv2d_t; tap: room for its kh * kw taps. */
static cg_corr conv2d_t_phase(cg *c, const kargs *a, int py, int px, int64_t *tap)
{
    const ir_node *n = a->n;
    int G = n->groups > 1 ? n->groups : 1;
    int64_t ci_n = n->shape.dims[0] / G, H = n->shape.dims[1], W = n->shape.dims[2],
            co_n = n->units / G; /* per group */
    int kh = n->kh, kw = n->kw, sh = n->sh, sw = n->sw;
    int64_t OH = window_out(n, H, kh, sh, n->pad_t, n->pad_b), OW = window_out(n, W, kw, sw, n->pad_l, n->pad_r);
    int64_t ry = ((py + n->pad_t) % sh + sh) % sh, rx = ((px + n->pad_l) % sw + sw) % sw;
    int nqy = ry < kh ? (int)((kh - ry + sh - 1) / sh) : 0, nqx = rx < kw ? (int)((kw - rx + sw - 1) / sw) : 0;
    int64_t cy = floordiv(py + n->pad_t - ry, sh), cx = floordiv(px + n->pad_l - rx, sw);
    for (int qy = 0; qy < nqy; qy++)
        for (int qx = 0; qx < nqx; qx++)
            tap[qy * nqx + qx] = (ry + (int64_t)sh * (nqy - 1 - qy)) * kw + rx + (int64_t)sw * (nqx - 1 - qx);
    cg_corr p = {
        .in = a->in[0],
        .out = a->out,
        .batch = a->batch,
        .ic_n = co_n,
        .H = OH,
        .W = OW,
        .oc_n = ci_n,
        .groups = G,
        .w_group = co_n * ci_n * kh * kw,
        .OH = (H - py + sh - 1) / sh,
        .OW = (W - px + sw - 1) / sw,
        .kh = nqy,
        .kw = nqx,
        .sh = 1,
        .sw = 1,
        .off_y = cy - nqy + 1,
        .off_x = cx - nqx + 1,
        .w = cg_winograd_weights(c, n) ? NULL : cg_const_ptr(c, n->weight), /* (cg_emit_winograd reads its own) */
        .s_oc = kh * kw,
        .s_ic = ci_n * kh * kw,
        .tap = tap,
        .bias = NULL,
        .w_map = n->weight_map,
        .epi = n->epilogue_from ? n : NULL,
        .o_plane = H * W,
        .o_row = W,
        .o_sy = sh,
        .o_y0 = py,
        .o_sx = sw,
        .o_x0 = px,
    };
    for (int k = 0; k < a->n_in; k++) p.epi_in[k] = a->in[k];
    return p;
}

/* A conv whose windows tile the input exactly (patch embeddings: kernel = stride, no padding or dilation, one
 * group, the input a whole number of windows), for which the phases below are kh x kw correlations of one tap. */
static int is_patch_conv(const ir_node *n)
{
    int64_t H = n->shape.dims[1], W = n->shape.dims[2];
    return n->groups <= 1 && n->kh == n->sh && n->kw == n->sw && n->dh <= 1 && n->dw <= 1 &&
        !(n->pad_t | n->pad_b | n->pad_l | n->pad_r) && H % n->kh == 0 && W % n->kw == 0;
}

/* The transpose of a patch conv: row ky of channel ci of the windows (oy, ox) for every ox,
 * out[ci, oy kh + ky, ox kw + kx] = sum_co s[co, oy, ox] w[co, ci, ky, kx], is a GEMM tile loop (cg_gemm_columns):
 * rows ox, kw columns kx, the reduction over co with s read down its channels (ViT-B/16's 16 x 16 patches:
 * 256 one-tap phases took 33 ms, 4 % of the gradient). Threads split the (ci, ky, oy) rows. */
static void conv2d_t_patches(cg *c, const kargs *a0)
{
    const ir_node *n = a0->n;
    int64_t ci_n = n->shape.dims[0], H = n->shape.dims[1], W = n->shape.dims[2], co_n = n->units;
    int64_t kh = n->kh, kw = n->kw, OH = H / kh, OW = W / kw, P = OH * OW;
    kargs q = *a0;
    cg_par par;
    LLVMValueRef lo, hi;
    cg_par_begin_args(c, &par, &q, ci_n * kh * OH, OW * kw * co_n, &lo, &hi);
    cg_gemm_begin(c);
    cg_loop lr, lb;
    LLVMValueRef r = cg_loop_begin(c, &lr, lo, hi, "row"); /* r = (ci kh + ky) OH + oy */
    LLVMValueRef oy = LLVMBuildSRem(c->b, r, cg_i64(c, OH), ""), cky = LLVMBuildSDiv(c->b, r, cg_i64(c, OH), "");
    LLVMValueRef ci = LLVMBuildSDiv(c->b, cky, cg_i64(c, kh), ""), ky = LLVMBuildSRem(c->b, cky, cg_i64(c, kh), "");
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), q.batch, "b");
    LLVMValueRef orow = cg_mad(c, b, ci_n * H * W, cg_mad(c, ci, H * W, cg_mad(c, cg_mad(c, oy, kh, ky), W, NULL)));
    cg_gemm_operands g = { .out = cg_gep(c, q.out, orow),
                           .o_stride = kw,
                           .s = cg_gep(c, q.in[0], cg_mad(c, b, co_n * P, cg_mad(c, oy, OW, NULL))),
                           .s_stride = 1,
                           .s_jstride = P,
                           .w = cg_gep(c, cg_const_ptr(c, n->weight), cg_mad(c, ci, kh * kw, cg_mad(c, ky, kw, NULL))),
                           .w_stride = ci_n * kh * kw,
                           .w_map = n->weight_map };
    cg_gemm_columns(c, g, cg_i64(c, 0), kw, co_n, cg_i64(c, OW));
    if (n->epilogue_from) {
        dense_epi epi = { n, { 0 } };
        for (int k = 0; k < q.n_in; k++) epi.in[k] = q.in[k];
        cg_epilogue_cols(c, &epi, q.out, cg_i64(c, 1), 0, orow, W);
    }
    cg_loop_end(c, &lb);
    cg_loop_end(c, &lr);
    cg_par_end(c, &par);
}

void cg_kernel_conv2d_t(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    if (is_patch_conv(n) && n->kh > 1 && !c->opt->patches_off) {
        conv2d_t_patches(c, a);
        return;
    }
    if (n->kh > 32 || n->kw > 64 || n->dh > 1 || n->dw > 1) { /* the phases below assume undilated taps */
        k_conv2d_t_naive(c, a);
        return;
    }
    int64_t H = n->shape.dims[1], W = n->shape.dims[2];
    int64_t tap[2][32 * 64];
    const ir_const *winograd = cg_winograd_weights(c, n); /* stride 1: one phase, the flipped filters' correlation */
    if (winograd) {
        cg_corr p = conv2d_t_phase(c, a, 0, 0, tap[0]);
        cg_emit_winograd(c, &p, winograd, 1, a->scratch);
        return;
    }
    for (int py = 0; py < n->sh && py < H; py++) {
        /* a depthwise conv's two column phases as one kernel (full-vector stores, one pass over the rows) */
        if (n->sw == 2 && W >= 2 && !c->opt->depthwise_off) {
            cg_corr even = conv2d_t_phase(c, a, py, 0, tap[0]), odd = conv2d_t_phase(c, a, py, 1, tap[1]);
            if (cg_emit_depthwise_pair(c, &even, &odd)) continue;
        }
        for (int px = 0; px < n->sw && px < W; px++) {
            cg_corr p = conv2d_t_phase(c, a, py, px, tap[0]);
            cg_emit_corr(c, &p);
        }
    }
}

/* ---------------- output seed ---------------- */

/* The target of row b (input `owner`): target[owner] or, with a null target array, the first of the K / S
 * blocks of S values of arg_row with the largest sum (S = 1: the arg-max). Leaves the builder after it. */
static LLVMValueRef seed_target(cg *c, const kargs *a, LLVMValueRef owner, LLVMValueRef arg_row, int64_t K, int64_t S)
{
    LLVMValueRef tvar = cg_local(c, c->i64, "t");
    LLVMValueRef best = cg_local(c, c->f32, "best"), sum = cg_local(c, c->f32, "sum");
    LLVMBasicBlockRef given = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "given");
    LLVMBasicBlockRef argmax = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "argmax");
    LLVMBasicBlockRef have_t = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "have_t");
    LLVMBuildCondBr(c->b, LLVMBuildIsNull(c->b, a->target, ""), argmax, given);
    LLVMPositionBuilderAtEnd(c->b, given);
    LLVMValueRef tp = LLVMBuildInBoundsGEP2(c->b, c->i32, a->target, &owner, 1, "");
    LLVMBuildStore(c->b, LLVMBuildSExt(c->b, LLVMBuildLoad2(c->b, c->i32, tp, ""), c->i64, ""), tvar);
    LLVMBuildBr(c->b, have_t);
    LLVMPositionBuilderAtEnd(c->b, argmax);
    LLVMBuildStore(c->b, cg_f32(c, -INFINITY), best);
    LLVMBuildStore(c->b, cg_i64(c, 0), tvar);
    cg_loop lk, ls;
    LLVMValueRef k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, K / S), "k"), total;
    if (S == 1) {
        total = cg_load(c, arg_row, k);
    } else {
        LLVMBuildStore(c->b, cg_f32(c, 0), sum);
        LLVMValueRef s = cg_loop_begin(c, &ls, cg_i64(c, 0), cg_i64(c, S), "s");
        LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, ld(c, sum), cg_load(c, arg_row, cg_mad(c, k, S, s)), ""), sum);
        cg_loop_end(c, &ls);
        total = ld(c, sum);
    }
    LLVMValueRef gt = fcmp(c, LLVMRealOGT, total, ld(c, best));
    LLVMBuildStore(c->b, LLVMBuildSelect(c->b, gt, total, ld(c, best), ""), best);
    LLVMBuildStore(c->b, LLVMBuildSelect(c->b, gt, k, LLVMBuildLoad2(c->b, c->i64, tvar, ""), ""), tvar);
    cg_loop_end(c, &lk);
    LLVMBuildBr(c->b, have_t);
    LLVMPositionBuilderAtEnd(c->b, have_t);
    return LLVMBuildLoad2(c->b, c->i64, tvar, "t");
}

/* A seed over a layer's channel (`from L`, node->seed_block = S values per channel): out[b] is zero but for
 * channel t's S values, each the seed's value of the layer's value there (logit: itself, one: 1, relu_logit:
 * max(v, 0), relu_gradient: [v > 0]). t as seed_target's, the blocks being the channels. */
static void seed_channel(cg *c, const kargs *a, int64_t K, int64_t S, int64_t mult)
{
    const ir_node *n = a->n;
    zero(c, a->out, a, K);
    cg_loop lb, ls;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef row = cg_gep(c, a->in[0], cg_mad(c, b, K, NULL));
    LLVMValueRef owner = mult > 1 ? LLVMBuildSDiv(c->b, b, cg_i64(c, mult), "") : b;
    LLVMValueRef arg_row = n->argmax_from > 0 ? cg_gep(c, a->in[n->argmax_from], cg_mad(c, owner, K, NULL)) : row;
    LLVMValueRef first = cg_mad(c, seed_target(c, a, owner, arg_row, K, S), S, NULL);
    LLVMValueRef s = cg_loop_begin(c, &ls, cg_i64(c, 0), cg_i64(c, S), "s");
    LLVMValueRef at = LLVMBuildAdd(c->b, first, s, ""), v = cg_load(c, row, at), value;
    LLVMValueRef positive = fcmp(c, LLVMRealOGT, v, cg_f32(c, 0));
    switch (n->seed) {
    case SEED_ONE: value = cg_f32(c, 1); break;
    case SEED_RELU_LOGIT: value = LLVMBuildSelect(c->b, positive, v, cg_f32(c, 0), ""); break;
    case SEED_RELU_GRAD: value = LLVMBuildSelect(c->b, positive, cg_f32(c, 1), cg_f32(c, 0), ""); break;
    default: value = v; break; /* SEED_LOGIT (sema allows no softmax seed here) */
    }
    cg_store(c, value, a->out, cg_mad(c, b, K, at));
    cg_loop_end(c, &ls);
    cg_loop_end(c, &lb);
}

/* out[b] = one-hot(t) * value, t = target[b] or, with a null target array, the first arg-max of the
 * logits (targets were range-checked by the entry point). With samples per input (node->mult > 1, IG and
 * SmoothGrad) row b belongs to input b / mult, whose target is target[b / mult] or the arg-max of the
 * clean logits in input 1. SEED_SOFTMAX_GRAD writes the whole gradient of p_t: p_t * (onehot(t) - p), and
 * SEED_LOG_SOFTMAX_GRAD that of log p_t: onehot(t) - p. */
void cg_kernel_seed(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    int64_t K = ir_shape_count(&n->shape);
    int64_t mult = n->mult > 1 ? n->mult : 1;
    if (n->seed == SEED_SUM || n->seed == SEED_SUM_GRAD) { /* every output, whatever the target */
        cg_loop lb, lk;
        LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
        LLVMValueRef k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, K), "k"), at = cg_mad(c, b, K, k);
        cg_store(c, n->seed == SEED_SUM ? cg_load(c, a->in[0], at) : cg_f32(c, 1), a->out, at);
        cg_loop_end(c, &lk);
        cg_loop_end(c, &lb);
        return;
    }
    if (n->seed_block > 1) {
        seed_channel(c, a, K, n->seed_block, mult);
        return;
    }
    zero(c, a->out, a, K);
    cg_loop lb;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef row = cg_gep(c, a->in[0], cg_mad(c, b, K, NULL));
    LLVMValueRef owner = mult > 1 ? LLVMBuildSDiv(c->b, b, cg_i64(c, mult), "") : b;
    LLVMValueRef arg_row = n->argmax_from > 0 ? cg_gep(c, a->in[n->argmax_from], cg_mad(c, owner, K, NULL)) : row;
    LLVMValueRef t = seed_target(c, a, owner, arg_row, K, 1);
    LLVMValueRef lt = cg_load(c, row, t), value;
    switch (n->seed) {
    case SEED_LOGIT: value = lt; break;
    case SEED_ONE: value = cg_f32(c, 1); break;
    case SEED_RELU_LOGIT:
        value = LLVMBuildSelect(c->b, fcmp(c, LLVMRealOGT, lt, cg_f32(c, 0)), lt, cg_f32(c, 0), "");
        break;
    case SEED_RELU_GRAD:
        value = LLVMBuildSelect(c->b, fcmp(c, LLVMRealOGT, lt, cg_f32(c, 0)), cg_f32(c, 1), cg_f32(c, 0), "");
        break;
    case SEED_SOFTMAX:
    case SEED_SOFTMAX_GRAD:
    default: { /* exp(l_t - max) / sum_k exp(l_k - max) */
        LLVMValueRef best = cg_local(c, c->f32, "best"), sum = cg_local(c, c->f32, "sum");
        cg_loop lk;
        LLVMBuildStore(c->b, cg_f32(c, -INFINITY), best);
        LLVMValueRef k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, K), "k");
        LLVMValueRef v = cg_load(c, row, k), m = ld(c, best);
        LLVMBuildStore(c->b, LLVMBuildSelect(c->b, fcmp(c, LLVMRealOGT, v, m), v, m, ""), best);
        cg_loop_end(c, &lk);
        LLVMValueRef mx = ld(c, best);
        LLVMBuildStore(c->b, cg_f32(c, 0), sum);
        k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, K), "k");
        LLVMValueRef d = LLVMBuildFSub(c->b, cg_load(c, row, k), mx, "");
        LLVMBuildStore(c->b, cg_fadd_reassoc(c, ld(c, sum), cg_exp(c, d)), sum);
        cg_loop_end(c, &lk);
        LLVMValueRef dt = LLVMBuildFSub(c->b, lt, mx, "");
        value = LLVMBuildFDiv(c->b, cg_exp(c, dt), ld(c, sum), "");
        if (n->seed == SEED_SOFTMAX_GRAD || n->seed == SEED_LOG_SOFTMAX_GRAD) {
            /* d p_t / d l_k = p_t * ([k == t] - p_k); d log p_t / d l_k = [k == t] - p_k */
            LLVMValueRef total = ld(c, sum), pt = n->seed == SEED_SOFTMAX_GRAD ? value : cg_f32(c, 1);
            k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, K), "k");
            LLVMValueRef dk = LLVMBuildFSub(c->b, cg_load(c, row, k), mx, "");
            LLVMValueRef pk = LLVMBuildFDiv(c->b, cg_exp(c, dk), total, "");
            LLVMValueRef is_t = LLVMBuildUIToFP(c->b, LLVMBuildICmp(c->b, LLVMIntEQ, k, t, ""), c->f32, "");
            cg_store(c, LLVMBuildFMul(c->b, pt, LLVMBuildFSub(c->b, is_t, pk, ""), ""), a->out, cg_mad(c, b, K, k));
            cg_loop_end(c, &lk);
            cg_loop_end(c, &lb);
            return;
        }
        break;
    }
    }
    cg_store(c, value, a->out, cg_mad(c, b, K, t));
    cg_loop_end(c, &lb);
}
