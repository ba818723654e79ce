/* Register-blocked GEMM tiles (see cg_tiles.h): the forward dense on tokens over packed panels of W^T, the products
 * of two activations (cg_matmul.c), and the tile loop the dense transpose (cg_dense.c) runs on W in place; vector
 * helpers in cg_vec.h. */
#include "cg_ew.h"
#include "cg_parallel.h"
#include "cg_tiles.h"
#include "cg_vec.h"

/* ---------------- GEMM tiles ---------------- */

/* One tile: samples b .. b+mr-1 x the nv vectors of columns (lanes m[v]), over the rows j of [j0, j1):
 * accumulators in registers, started from out (from the bias or 0 at the first row block), 4 weight loads and
 * 6 broadcasts per 24 multiply-adds at full size. out = fma(w[j], s[b, j], out) for j = 0, 1, ... in order:
 * the same order whatever the tile, row blocking or batch position. */
static void gemm_tile(cg *c, const cg_gemm_operands *g, LLVMValueRef b, int mr, int nv, const unsigned *m,
                      LLVMValueRef j0, LLVMValueRef j1, LLVMValueRef first)
{
    const int vw = g->vw;
    LLVMTypeRef vt = vec_n(c, vw);
    LLVMValueRef acc[6][CG_TILE_VECS], orow[6];
    for (int r = 0; r < mr; r++) {
        orow[r] = cg_mad(c, iadd(c, b, r), g->o_stride, g->o_col);
        for (int v = 0; v < nv; v++) {
            acc[r][v] = cg_local(c, vt, "acc");
            LLVMValueRef start = g->bias ? vload_n(c, g->bias, iadd(c, g->o_col, v * vw), m[v], vw) : LLVMConstNull(vt);
            LLVMValueRef at = iadd(c, orow[r], v * vw);
            LLVMBuildStore(c->b, LLVMBuildSelect(c->b, first, start, vload_n(c, g->out, at, m[v], vw), ""), acc[r][v]);
        }
    }
    cg_loop lj;
    LLVMValueRef j = cg_loop_begin(c, &lj, j0, j1, "j");
    LLVMValueRef jw = g->w_j0 ? LLVMBuildNSWSub(c->b, j, g->w_j0, "") : j;
    LLVMValueRef wrow = cg_mad(c, jw, g->w_stride, g->w_col), a[6][CG_TILE_VECS], wv[CG_TILE_VECS];
    for (int v = 0; v < nv; v++) wv[v] = wmap(c, vload_n(c, g->w, iadd(c, wrow, v * vw), m[v], vw), g->w_map);
    for (int r = 0; r < mr; r++) {
        LLVMValueRef sj = g->s_jstride ? cg_mad(c, j, g->s_jstride, NULL) : j;
        LLVMValueRef sv = splat_n(c, cg_load(c, g->s, cg_mad(c, iadd(c, b, r), g->s_stride, sj)), vw);
        for (int v = 0; v < nv; v++) a[r][v] = vfma_n(c, wv[v], sv, LLVMBuildLoad2(c->b, vt, acc[r][v], ""));
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) LLVMBuildStore(c->b, a[r][v], acc[r][v]);
    cg_loop_end(c, &lj);
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++)
            vstore_n(c, LLVMBuildLoad2(c->b, vt, acc[r][v], ""), g->out, iadd(c, orow[r], v * vw), m[v], vw);
}

/* tile bt's prefetches of g->pf's rows (cg_gemm_operands), into L2 */
static void prefetch_rows(cg *c, const cg_gemm_operands *g, LLVMValueRef bt)
{
    for (int rr = 0; rr < g->pf_per_tile; rr++) {
        LLVMValueRef row = smin(c, cg_mad(c, bt, g->pf_per_tile, cg_i64(c, rr)), g->pf_rows - 1);
        LLVMValueRef at = cg_mad(c, row, g->pf_stride, NULL);
        for (int l = 0; l < g->pf_lines; l++) {
            LLVMValueRef args[4] = { gep_any(c, g->pf, iadd(c, at, 16 * l)), LLVMConstInt(c->i32, 0, 0),
                                     LLVMConstInt(c->i32, 2, 0), LLVMConstInt(c->i32, 1, 0) };
            cg_intrinsic(c, "llvm.prefetch", c->ptr, args, 4);
        }
    }
}

/* gemm_tile over the whole batch: tiles of MR samples, then one tile of the rest (of its exact height: a row at a
 * time ran at a fifth of the speed) */
void cg_gemm_tiles(cg *c, const cg_gemm_operands *g, LLVMValueRef batch, int MR, int nv, const unsigned *m,
                   LLVMValueRef j0, LLVMValueRef j1, LLVMValueRef first)
{
    cg_loop lb;
    LLVMValueRef ntile = LLVMBuildSDiv(c->b, batch, cg_i64(c, MR), "");
    LLVMValueRef bt = cg_loop_begin(c, &lb, cg_i64(c, 0), ntile, "bt");
    gemm_tile(c, g, cg_mad(c, bt, MR, NULL), MR, nv, m, j0, j1, first);
    if (g->pf) prefetch_rows(c, g, bt);
    cg_loop_end(c, &lb);
    if (MR == 1) return;
    LLVMValueRef b = cg_mad(c, ntile, MR, NULL), rest = LLVMBuildNSWSub(c->b, batch, b, "");
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(c->b));
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, fn, "rest.done");
    LLVMValueRef sw = LLVMBuildSwitch(c->b, rest, done, (unsigned)MR - 1);
    for (int mr = 1; mr < MR; mr++) {
        LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(c->ctx, fn, "rest");
        LLVMAddCase(sw, cg_i64(c, mr), bb);
        LLVMPositionBuilderAtEnd(c->b, bb);
        gemm_tile(c, g, b, mr, nv, m, j0, j1, first);
        LLVMBuildBr(c->b, done);
    }
    LLVMPositionBuilderAtEnd(c->b, done);
}

cg_gemm_shape_t cg_gemm_shape(const cg *c)
{
    int wide = c->opt->vector_registers >= 32;
    cg_gemm_shape_t s = { wide ? 6 : 3, wide ? 4 : 2, wide && c->opt->vector_floats != CG_VW ? 16 : CG_VW, 0, 0 };
    s.strip = (int64_t)s.NV * s.vw;
    s.JB = (32 << 10) / (s.strip * 4);
    return s;
}

/* the masks of a strip of width columns */
int cg_gemm_masks(const cg_gemm_shape_t *s, int64_t width, unsigned *m)
{
    int nv = (int)((width + s->vw - 1) / s->vw);
    for (int v = 0; v < nv; v++) m[v] = lanes_n(width - (int64_t)v * s->vw, s->vw);
    return nv;
}

void cg_gemm_columns(cg *c, cg_gemm_operands g, LLVMValueRef c0, int64_t width, int64_t K, LLVMValueRef batch)
{
    cg_gemm_shape_t sh = cg_gemm_shape(c);
    int64_t nstrip = width / sh.strip, rest = width - nstrip * sh.strip;
    cg_loop lk, ls;
    int64_t nblk = (K + sh.JB - 1) / sh.JB;
    LLVMValueRef k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, nblk), "jblk");
    LLVMValueRef j0 = cg_mad(c, k, sh.JB, NULL), j1 = smin(c, iadd(c, j0, sh.JB), K);
    LLVMValueRef first = LLVMBuildICmp(c->b, LLVMIntEQ, k, cg_i64(c, 0), "");
    g.vw = sh.vw;
    for (int part = 0; part < 2; part++) {
        unsigned m[CG_TILE_VECS];
        int nv;
        if (part == 0) {
            if (!nstrip) continue;
            g.o_col = cg_mad(c, cg_loop_begin(c, &ls, cg_i64(c, 0), cg_i64(c, nstrip), "strip"), sh.strip, c0);
            nv = cg_gemm_masks(&sh, sh.strip, m);
        } else {
            if (!rest) continue;
            g.o_col = iadd(c, c0, nstrip * sh.strip);
            nv = cg_gemm_masks(&sh, rest, m);
        }
        g.w_col = g.o_col;
        /* next: this block's next strip, or the next block's first; 4 rows of the block per tile of 6 rows */
        LLVMValueRef next = iadd(c, g.o_col, sh.strip);
        LLVMValueRef wrap = LLVMBuildICmp(c->b, LLVMIntSGE, next, iadd(c, c0, width), "");
        LLVMValueRef nj = LLVMBuildSelect(c->b, wrap, j1, j0, "");
        if (g.w_j0) nj = LLVMBuildNSWSub(c->b, nj, g.w_j0, "");
        g.pf = gep_any(c, g.w, cg_mad(c, nj, g.w_stride, LLVMBuildSelect(c->b, wrap, c0, next, "")));
        g.pf_stride = g.w_stride, g.pf_rows = (int)sh.JB, g.pf_per_tile = 4;
        g.pf_lines = (int)((sh.strip * 4 + 63) / 64);
        cg_gemm_tiles(c, &g, batch, sh.MR, nv, m, j0, j1, first);
        if (part == 0) cg_loop_end(c, &ls);
    }
    cg_loop_end(c, &lk);
}

/* the fused consumer over columns [col, col + width) of every row, while they are in cache */
void cg_epilogue_cols(cg *c, const dense_epi *epi, LLVMValueRef out, LLVMValueRef batch, int64_t stride,
                      LLVMValueRef col, int64_t width)
{
    int64_t nvec = width / CG_VW;
    unsigned tail = lanes(0, width - nvec * CG_VW);
    cg_loop lb, lv;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), batch, "b");
    LLVMValueRef orow = cg_mad(c, b, stride, col);
    for (int t = 0; t < 2; t++) {
        unsigned m = t == 0 ? CG_FULL_MASK : tail;
        if (t == 0 ? !nvec : !m) continue;
        LLVMValueRef i = t == 0 ? cg_mad(c, cg_loop_begin(c, &lv, cg_i64(c, 0), cg_i64(c, nvec), "v"), CG_VW, NULL)
                                : cg_i64(c, nvec * CG_VW);
        LLVMValueRef at = LLVMBuildNSWAdd(c->b, orow, i, "");
        vstore(c, cg_epilogue(c, epi->n, epi->in, vload(c, out, at, m), at, NULL, 1, m), out, at, m);
        if (t == 0) cg_loop_end(c, &lv);
    }
    cg_loop_end(c, &lb);
}

/* ---------------- dense on tokens ---------------- */

/* out[r, o] = bias[o] + sum_i W[o, i] x[r, i] over many rows r (tokens), as dense_t's GEMM on W^T: for each strip
 * of NV vectors of outputs and block of JB inputs, the strip's rows of W are transposed into a panel on the
 * stack (JB x NV x 32 bytes, W+ / W- applied as they are copied), which every tile of rows then reads in L1.
 * The copy costs one load and store per weight and row block, against batch / MR tiles reading it. */
/* An 8 x 8 block transposed in registers: v[q] holds row q, on return column q (unpack, then pairs, then halves). */
static void transpose8(cg *c, LLVMValueRef *v)
{
    static const int lo[8] = { 0, 8, 1, 9, 4, 12, 5, 13 }, hi[8] = { 2, 10, 3, 11, 6, 14, 7, 15 };
    static const int pa[8] = { 0, 1, 8, 9, 4, 5, 12, 13 }, pb[8] = { 2, 3, 10, 11, 6, 7, 14, 15 };
    static const int ha[8] = { 0, 1, 2, 3, 8, 9, 10, 11 }, hb[8] = { 4, 5, 6, 7, 12, 13, 14, 15 };
    LLVMValueRef t[8], u[8];
    for (int p = 0; p < 4; p++) {
        t[2 * p] = shuffle_const(c, v[2 * p], v[2 * p + 1], lo);
        t[2 * p + 1] = shuffle_const(c, v[2 * p], v[2 * p + 1], hi);
    }
    for (int h = 0; h < 8; h += 4) {
        u[h] = shuffle_const(c, t[h], t[h + 2], pa);
        u[h + 1] = shuffle_const(c, t[h], t[h + 2], pb);
        u[h + 2] = shuffle_const(c, t[h + 1], t[h + 3], pa);
        u[h + 3] = shuffle_const(c, t[h + 1], t[h + 3], pb);
    }
    for (int q = 0; q < 4; q++) {
        v[q] = shuffle_const(c, u[q], u[q + 4], ha);
        v[q + 4] = shuffle_const(c, u[q], u[q + 4], hb);
    }
}

/* panel[(j - j0) * stride + r] = wmap(W[col + r, j]) for r < ncols, j in [j0, j1): blocks of 8 x 8 transposed in
 * registers where the rows and inputs come in eights, else one weight at a time (not vectorised: LLVM would
 * turn the strided stores into scatters). */
static void pack_panel(cg *c, LLVMValueRef panel, int64_t stride, LLVMValueRef w, int w_map, int64_t in_n,
                       LLVMValueRef col, int ncols, LLVMValueRef j0, LLVMValueRef j1)
{
    cg_loop lr, lj;
    if (ncols % CG_VW == 0 && in_n % CG_VW == 0) { /* then j0 and j1 are multiples of 8 too */
        LLVMValueRef rb = cg_mad(c, cg_loop_begin(c, &lr, cg_i64(c, 0), cg_i64(c, ncols / CG_VW), "prb"), CG_VW, NULL);
        LLVMValueRef nj = LLVMBuildSDiv(c->b, LLVMBuildNSWSub(c->b, j1, j0, ""), cg_i64(c, CG_VW), "");
        LLVMValueRef jb = cg_mad(c, cg_loop_begin(c, &lj, cg_i64(c, 0), nj, "pjb"), CG_VW, NULL);
        LLVMValueRef at = cg_mad(c, LLVMBuildNSWAdd(c->b, col, rb, ""), in_n, LLVMBuildNSWAdd(c->b, j0, jb, ""));
        LLVMValueRef v[CG_VW];
        for (int q = 0; q < CG_VW; q++) v[q] = wmap(c, vload(c, w, iadd(c, at, q * in_n), CG_FULL_MASK), w_map);
        transpose8(c, v);
        LLVMValueRef to = cg_mad(c, jb, stride, rb);
        for (int q = 0; q < CG_VW; q++) vstore(c, v[q], panel, iadd(c, to, q * stride), CG_FULL_MASK);
        cg_loop_end(c, &lj);
        cg_loop_end(c, &lr);
        return;
    }
    LLVMValueRef r = cg_loop_begin(c, &lr, cg_i64(c, 0), cg_i64(c, ncols), "prow");
    LLVMValueRef wrow = cg_mad(c, LLVMBuildNSWAdd(c->b, col, r, ""), in_n, NULL);
    LLVMValueRef j = cg_loop_begin(c, &lj, j0, j1, "pj");
    LLVMValueRef v = wmap(c, cg_load(c, w, LLVMBuildNSWAdd(c->b, wrow, j, "")), w_map);
    cg_store(c, v, panel, cg_mad(c, LLVMBuildNSWSub(c->b, j, j0, ""), stride, r));
    cg_loop_end_scalar(c, &lj);
    cg_loop_end(c, &lr);
}

static void dense_tokens_strip(cg *c, LLVMValueRef out, LLVMValueRef x, LLVMValueRef batch, LLVMValueRef w, int w_map,
                               LLVMValueRef bias, int64_t in_n, int64_t out_n, LLVMValueRef col, int ncols,
                               LLVMValueRef panel, const dense_epi *epi)
{
    cg_gemm_shape_t sh = cg_gemm_shape(c);
    unsigned m[CG_TILE_VECS];
    int nv = cg_gemm_masks(&sh, ncols, m);
    cg_loop lk;
    int64_t nblk = (in_n + sh.JB - 1) / sh.JB;
    LLVMValueRef k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, nblk), "iblk");
    LLVMValueRef j0 = cg_mad(c, k, sh.JB, NULL), j1 = smin(c, iadd(c, j0, sh.JB), in_n);
    pack_panel(c, panel, sh.strip, w, w_map, in_n, col, ncols, j0, j1);
    cg_gemm_operands g = { .out = out,
                           .o_col = col,
                           .o_stride = out_n,
                           .s = x,
                           .s_stride = in_n,
                           .w = panel,
                           .w_col = cg_i64(c, 0),
                           .w_j0 = j0,
                           .w_stride = sh.strip,
                           .w_map = WMAP_NONE,
                           .bias = bias,
                           .vw = sh.vw };
    /* the next panel's rows of W: the next block of this strip, or the first of the next strip */
    LLVMValueRef last = LLVMBuildICmp(c->b, LLVMIntSGE, j1, cg_i64(c, in_n), "");
    LLVMValueRef nrow = LLVMBuildSelect(c->b, last, iadd(c, col, sh.strip), col, "");
    LLVMValueRef ncol = LLVMBuildSelect(c->b, last, cg_i64(c, 0), j1, "");
    g.pf = gep_any(c, w, cg_mad(c, nrow, in_n, ncol));
    g.pf_stride = in_n, g.pf_rows = ncols, g.pf_lines = (int)((sh.JB * 4 + 63) / 64), g.pf_per_tile = 2;
    cg_gemm_tiles(c, &g, batch, sh.MR, nv, m, j0, j1, LLVMBuildICmp(c->b, LLVMIntEQ, k, cg_i64(c, 0), ""));
    cg_loop_end(c, &lk);
    if (epi->n) cg_epilogue_cols(c, epi, out, batch, out_n, col, ncols);
}

void cg_emit_dense_tokens(cg *c, LLVMValueRef out, LLVMValueRef x, LLVMValueRef batch, LLVMValueRef w, int w_map,
                          LLVMValueRef bias, int64_t in_n, int64_t out_n, const ir_node *epi_node,
                          const LLVMValueRef *epi_in)
{
    dense_epi epi = { epi_node, { 0 } };
    cg_gemm_shape_t sh = cg_gemm_shape(c);
    int64_t nfull = out_n / sh.strip, rest = out_n - nfull * sh.strip;
    cg_par par; /* threads split the strips of outputs (the last one: the remainder) */
    LLVMValueRef lo, hi;
    LLVMValueRef *slots[5 + IR_MAX_INPUTS] = { &out, &x, &w, &batch, &bias };
    int n_slots = cg_epilogue_slots(epi_node, epi_in, epi.in, slots, 5);
    cg_par_begin(c, &par, nfull + (rest > 0), sh.strip * in_n, batch, slots, n_slots, 1u, &lo, &hi);
    if (sh.vw > CG_VW) cg_wide_vectors(c);
    LLVMValueRef panel = cg_local(c, LLVMArrayType(c->f32, (unsigned)(sh.JB * sh.strip)), "panel");
    if (nfull > 0) {
        cg_loop ls;
        LLVMValueRef k = cg_loop_begin(c, &ls, lo, smin(c, hi, nfull), "ostrip");
        dense_tokens_strip(c, out, x, batch, w, w_map, bias, in_n, out_n, cg_mad(c, k, sh.strip, NULL), (int)sh.strip,
                           panel, &epi);
        cg_loop_end(c, &ls);
    }
    if (rest) {
        LLVMBasicBlockRef skip = begin_if_gt(c, hi, nfull);
        dense_tokens_strip(c, out, x, batch, w, w_map, bias, in_n, out_n, cg_i64(c, nfull * sh.strip), (int)rest, panel,
                           &epi);
        end_if(c, skip);
    }
    cg_par_end(c, &par);
}

/* ---------------- products of two activations (cg_matmul.c) ---------------- */

int64_t cg_gemm_panel_floats(const cg *c)
{
    cg_gemm_shape_t sh = cg_gemm_shape(c);
    return sh.JB * sh.strip;
}

void cg_gemm_begin(cg *c)
{
    if (cg_gemm_shape(c).vw > CG_VW) cg_wide_vectors(c);
}

void cg_emit_gemm_abt(cg *c, LLVMValueRef out, LLVMValueRef a, LLVMValueRef rows, LLVMValueRef b, int64_t K, int64_t N,
                      LLVMValueRef panel)
{
    cg_gemm_shape_t sh = cg_gemm_shape(c);
    dense_epi none = { NULL, { 0 } };
    int64_t nfull = N / sh.strip, rest = N - nfull * sh.strip;
    if (nfull > 0) {
        cg_loop ls;
        LLVMValueRef k = cg_loop_begin(c, &ls, cg_i64(c, 0), cg_i64(c, nfull), "nstrip");
        dense_tokens_strip(c, out, a, rows, b, WMAP_NONE, NULL, K, N, cg_mad(c, k, sh.strip, NULL), (int)sh.strip,
                           panel, &none);
        cg_loop_end(c, &ls);
    }
    if (rest)
        dense_tokens_strip(c, out, a, rows, b, WMAP_NONE, NULL, K, N, cg_i64(c, nfull * sh.strip), (int)rest, panel,
                           &none);
}

void cg_emit_gemm_ab(cg *c, LLVMValueRef out, LLVMValueRef a, int a_t, int64_t rows, LLVMValueRef b, int64_t K,
                     int64_t N)
{
    cg_emit_gemm_strided(c, out, a, a_t ? 1 : K, a_t ? rows : 1, rows, b, K, N);
}

void cg_emit_gemm_strided(cg *c, LLVMValueRef out, LLVMValueRef a, int64_t a_row, int64_t a_k, int64_t rows,
                          LLVMValueRef b, int64_t K, int64_t N)
{
    cg_gemm_operands g = { .out = out,
                           .o_stride = N,
                           .s = a,
                           .s_stride = a_row,
                           .s_jstride = a_k,
                           .w = b,
                           .w_stride = N,
                           .w_map = WMAP_NONE };
    cg_gemm_columns(c, g, cg_i64(c, 0), N, K, cg_i64(c, rows));
}
