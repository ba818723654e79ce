/* Register-blocked dense (batch-paired GEMV / GEMM) and its transpose W^T s (see cg_dense.h); vector
 * helpers in cg_vec.h. */
#include "cg_ew.h"
#include "cg_dense.h"
#include "cg_tiles.h"
#include "cg_parallel.h"
#include "cg_vec.h"

/* ---------------- dense ---------------- */

/* rows o .. o+r-1 for samples b .. b+nb-1: nv vectors per step along i */
static void dense_tile(cg *c, LLVMValueRef out, LLVMValueRef x, LLVMValueRef w, int w_map, LLVMValueRef bias,
                       int64_t in_n, int64_t out_n, LLVMValueRef o, int r, LLVMValueRef b, int nb, int nv,
                       const dense_epi *epi)
{
    LLVMValueRef acc[8][4][CG_TILE_VECS];
    for (int ri = 0; ri < r; ri++)
        for (int bi = 0; bi < nb; bi++)
            for (int v = 0; v < nv; v++) {
                acc[ri][bi][v] = vlocal(c);
                vset(c, vzero(c), acc[ri][bi][v]);
            }
    LLVMValueRef wrow = cg_mad(c, o, in_n, NULL), xrow = cg_mad(c, b, in_n, NULL);
    int64_t step = (int64_t)nv * CG_VW, nfull = in_n / step;
    /* one step at column i0 with masks m[v] */
    for (int pass = 0; pass < 2; pass++) {
        unsigned m[CG_TILE_VECS];
        LLVMValueRef i0;
        cg_loop lk;
        if (pass == 0) {
            if (!nfull) continue;
            LLVMValueRef k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, nfull), "k");
            i0 = cg_mad(c, k, step, NULL);
            for (int v = 0; v < nv; v++) m[v] = CG_FULL_MASK;
        } else {
            int64_t base = nfull * step;
            if (base >= in_n) continue;
            i0 = cg_i64(c, base);
            for (int v = 0; v < nv; v++) m[v] = lanes(0, in_n - base - v * CG_VW);
        }
        LLVMValueRef a[8][4][CG_TILE_VECS];
        for (int ri = 0; ri < r; ri++)
            for (int bi = 0; bi < nb; bi++)
                for (int v = 0; v < nv; v++) a[ri][bi][v] = vget(c, acc[ri][bi][v]);
        LLVMValueRef xv[4][CG_TILE_VECS];
        for (int bi = 0; bi < nb; bi++)
            for (int v = 0; v < nv; v++)
                xv[bi][v] = m[v]
                    ? vload(c, x, LLVMBuildNSWAdd(c->b, xrow, iadd(c, i0, bi * in_n + v * CG_VW), ""), m[v])
                    : NULL;
        for (int ri = 0; ri < r; ri++)
            for (int v = 0; v < nv; v++) {
                if (!m[v]) continue;
                LLVMValueRef wv = wmap(
                    c, vload(c, w, LLVMBuildNSWAdd(c->b, wrow, iadd(c, i0, ri * in_n + v * CG_VW), ""), m[v]), w_map);
                for (int bi = 0; bi < nb; bi++) a[ri][bi][v] = vfma(c, wv, xv[bi][v], a[ri][bi][v]);
            }
        for (int ri = 0; ri < r; ri++)
            for (int bi = 0; bi < nb; bi++)
                for (int v = 0; v < nv; v++) vset(c, a[ri][bi][v], acc[ri][bi][v]);
        if (pass == 0) cg_loop_end(c, &lk);
    }
    for (int ri = 0; ri < r; ri++) {
        LLVMValueRef bv = bias ? cg_load(c, bias, iadd(c, o, ri)) : cg_f32(c, 0);
        for (int bi = 0; bi < nb; bi++) {
            LLVMValueRef s = vget(c, acc[ri][bi][0]);
            for (int v = 1; v < nv; v++) s = vadd(c, s, vget(c, acc[ri][bi][v]));
            LLVMValueRef y = LLVMBuildFAdd(c->b, hsum(c, s), bv, "");
            LLVMValueRef at = cg_mad(c, iadd(c, b, bi), out_n, iadd(c, o, ri));
            if (epi->n) y = cg_epilogue(c, epi->n, epi->in, y, at, iadd(c, o, ri), 0, 0);
            cg_store(c, y, out, at);
        }
    }
}

/* Rows o .. o+r-1 (r <= 8) for the whole batch: quads of samples in tiles of 4 rows x 4 samples (16
 * accumulators, 8 loads per 16 multiply-adds: tokens make large batches), then a pair in tiles of 4 x 2, a last
 * odd sample in one tile of r rows. Every output is summed in the same order on every path (one vector of
 * partial sums over i, then a horizontal sum), so a sample's result does not depend on its batch position. */
static void dense_rows(cg *c, LLVMValueRef out, LLVMValueRef x, LLVMValueRef batch, LLVMValueRef w, int w_map,
                       LLVMValueRef bias, int64_t in_n, int64_t out_n, LLVMValueRef o, int r, const dense_epi *epi)
{
    cg_loop lq, lb, lr;
    LLVMValueRef nquad = LLVMBuildSDiv(c->b, batch, cg_i64(c, 4), "");
    LLVMValueRef qb = cg_loop_begin(c, &lq, cg_i64(c, 0), nquad, "bq");
    for (int r0 = 0; r0 < r; r0 += 4)
        dense_tile(c, out, x, w, w_map, bias, in_n, out_n, iadd(c, o, r0), r - r0 < 4 ? r - r0 : 4,
                   cg_mad(c, qb, 4, NULL), 4, 1, epi);
    cg_loop_end(c, &lq);
    LLVMValueRef npair = LLVMBuildSDiv(c->b, batch, cg_i64(c, 2), "");
    LLVMValueRef pb = cg_loop_begin(c, &lb, LLVMBuildMul(c->b, nquad, cg_i64(c, 2), ""), npair, "bb");
    for (int r0 = 0; r0 < r; r0 += 4)
        dense_tile(c, out, x, w, w_map, bias, in_n, out_n, iadd(c, o, r0), r - r0 < 4 ? r - r0 : 4,
                   cg_mad(c, pb, 2, NULL), 2, 1, epi);
    cg_loop_end(c, &lb);
    LLVMValueRef b = cg_loop_begin(c, &lr, cg_mad(c, npair, 2, NULL), batch, "b");
    dense_tile(c, out, x, w, w_map, bias, in_n, out_n, o, r, b, 1, 1, epi);
    cg_loop_end(c, &lr);
}

void cg_emit_dense(cg *c, LLVMValueRef out, LLVMValueRef x, LLVMValueRef batch, LLVMValueRef w, int w_map,
                   LLVMValueRef bias, int64_t in_n, int64_t out_n, const ir_node *epi_node, const LLVMValueRef *epi_in)
{
    dense_epi epi = { epi_node, { 0 } };
    enum { R = 8 };
    int64_t nblk = out_n / R, rem = out_n % R;
    cg_par par; /* threads split the blocks of R output rows (the last one: rem rows) */
    LLVMValueRef lo, hi;
    LLVMValueRef *slots[5 + IR_MAX_INPUTS] = { &out, &x, &w, &batch, &bias };
    int n_slots = cg_epilogue_slots(epi_node, epi_in, epi.in, slots, 5);
    cg_par_begin(c, &par, nblk + (rem > 0), R * in_n, batch, slots, n_slots, 1u, &lo, &hi);
    if (nblk > 0) {
        cg_loop lo_;
        LLVMValueRef blk = cg_loop_begin(c, &lo_, lo, smin(c, hi, nblk), "oblk");
        dense_rows(c, out, x, batch, w, w_map, bias, in_n, out_n, cg_mad(c, blk, R, NULL), R, &epi);
        cg_loop_end(c, &lo_);
    }
    if (rem) {
        LLVMBasicBlockRef skip = begin_if_gt(c, hi, nblk);
        dense_rows(c, out, x, batch, w, w_map, bias, in_n, out_n, cg_i64(c, nblk * R), (int)rem, &epi);
        end_if(c, skip);
    }
    cg_par_end(c, &par);
}

/* ---------------- dense transpose ---------------- */

/* out[b, c0 + i] for i < width, every sample, on W in place (cg_gemm_columns), then the fused consumer */
static void dense_t_band(cg *c, LLVMValueRef out, LLVMValueRef s, LLVMValueRef batch, LLVMValueRef w, int w_map,
                         int64_t in_n, int64_t units, LLVMValueRef c0, int64_t width, const dense_epi *epi)
{
    cg_gemm_operands g = {
        .out = out, .o_stride = in_n, .s = s, .s_stride = units, .w = w, .w_stride = in_n, .w_map = w_map
    };
    cg_gemm_columns(c, g, c0, width, units, batch);
    if (epi->n) cg_epilogue_cols(c, epi, out, batch, in_n, c0, width);
}

void cg_emit_dense_t(cg *c, LLVMValueRef out, LLVMValueRef s, LLVMValueRef batch, LLVMValueRef w, int w_map,
                     int64_t in_n, int64_t units, const ir_node *epi_node, const LLVMValueRef *epi_in)
{
    dense_epi epi = { epi_node, { 0 } };
    /* columns per parallel chunk: one 4 KB page of each row of W, or fewer (a multiple of 64) so that a layer
     * of fewer than 4096 inputs still makes 4 chunks for the threads (ViT-B's 768 inputs: 4 of 192) */
    int64_t BAND = 1024;
    if (in_n < 4 * BAND) BAND = ((in_n + 3) / 4 + 63) / 64 * 64;
    int64_t nfull = in_n / BAND, rest = in_n - nfull * BAND;
    cg_par par; /* threads split the bands of columns (the last one: the remainder) */
    LLVMValueRef lo, hi;
    LLVMValueRef *slots[4 + IR_MAX_INPUTS] = { &out, &s, &w, &batch };
    int n_slots = cg_epilogue_slots(epi_node, epi_in, epi.in, slots, 4);
    cg_par_begin(c, &par, nfull + (rest > 0), BAND * units, batch, slots, n_slots, 1u, &lo, &hi);
    if (cg_gemm_shape(c).vw > CG_VW) cg_wide_vectors(c);
    if (nfull > 0) {
        cg_loop lk;
        LLVMValueRef k = cg_loop_begin(c, &lk, lo, smin(c, hi, nfull), "band");
        dense_t_band(c, out, s, batch, w, w_map, in_n, units, cg_mad(c, k, BAND, NULL), BAND, &epi);
        cg_loop_end(c, &lk);
    }
    if (rest) {
        LLVMBasicBlockRef skip = begin_if_gt(c, hi, nfull);
        dense_t_band(c, out, s, batch, w, w_map, in_n, units, cg_i64(c, nfull * BAND), rest, &epi);
        end_if(c, skip);
    }
    cg_par_end(c, &par);
}
