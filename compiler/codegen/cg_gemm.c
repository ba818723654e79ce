/* Register-blocked correlation (conv2d and the conv2d transpose; see cg_gemm.h); dense is in cg_dense.c.
 *
 * Vectors are p->vw floats: 16 (a zmm register) on AVX-512 targets for contiguous rows (sw == 1), whose two FMA
 * units do twice the work per instruction of 8-float ones, else CG_VW = 8; a tile keeps up to 24 vector
 * accumulators live over the whole reduction loop and reads every operand once per tile. All geometry is known at compile time, so
 * the valid lanes of every border load are compile-time masks (llvm.masked.load) and interior tiles run
 * unmasked loops. */
#include "cg_depthwise.h"
#include "cg_ew.h"
#include "cg_gemm.h"
#include "cg_parallel.h"
#include "cg_vec.h"

/* ---------------- correlation ---------------- */

#define MAX_TILE_ROWS 16         /* output channels per tile */
#define WIDE_MIN_MACS (64 << 20) /* a layer on narrow rows takes 16-float vectors from this many MACs */

typedef struct corr_tile {
    int cb, nv;                                /* output channels x vectors */
    unsigned ymask;                            /* valid ky */
    unsigned in_mask[CG_MAX_KW][CG_TILE_VECS]; /* per kx and vector: lanes whose input column is valid */
    unsigned out_mask[CG_TILE_VECS];           /* lanes inside the output row */
} corr_tile;

/* One tile: cb output channels from co, output row oy, columns ox0 + [0, nv * vw). */
static void corr_tile_emit(cg *c, const cg_corr *p, LLVMValueRef inb, LLVMValueRef outb, LLVMValueRef co,
                           LLVMValueRef oy, LLVMValueRef ox0, const corr_tile *t)
{
    const int vw = p->vw;
    LLVMTypeRef vt = vec_n(c, vw);
    LLVMValueRef acc[MAX_TILE_ROWS][CG_TILE_VECS];
    for (int j = 0; j < t->cb; j++) {
        LLVMValueRef init = p->bias ? splat_n(c, cg_load(c, p->bias, iadd(c, co, j)), vw) : LLVMConstNull(vt);
        for (int v = 0; v < t->nv; v++) {
            acc[j][v] = cg_local(c, vt, "acc");
            LLVMBuildStore(c->b, init, acc[j][v]);
        }
    }
    int any = 0;
    for (int ky = 0; ky < p->kh; ky++)
        if (t->ymask >> ky & 1)
            for (int kx = 0; kx < p->kw; kx++)
                for (int v = 0; v < t->nv; v++) any |= t->in_mask[kx][v] != 0;
    if (any) {
        cg_loop lci;
        LLVMValueRef ci = cg_loop_begin(c, &lci, cg_i64(c, 0), cg_i64(c, p->ic_n), "ci");
        LLVMValueRef in_c = cg_gep(c, inb, cg_mad(c, ci, p->H * p->W, NULL));
        LLVMValueRef wco = p->w_co0 ? LLVMBuildNSWSub(c->b, co, p->w_co0, "") : co;
        LLVMValueRef wb = cg_mad(c, wco, p->s_oc, cg_mad(c, ci, p->s_ic, NULL));
        /* the kernel rows run as a loop when their taps are evenly spaced (tap = tap[kx] + ky * dtap): a third
         * of the code of unrolling them, for the same speed (each row is still CB x nv x kw FMAs) */
        int ky0 = 0, ky1 = 0;
        while (ky0 < p->kh && !(t->ymask >> ky0 & 1)) ky0++;
        ky1 = ky0;
        while (ky1 < p->kh && (t->ymask >> ky1 & 1)) ky1++;
        int64_t dtap = p->kh > 1 ? p->tap[p->kw] - p->tap[0] : 0;
        int rolled = ky1 - ky0 >= 2 && t->ymask == (((1u << ky1) - 1) & ~((1u << ky0) - 1));
        for (int ky = 0; rolled && ky < p->kh; ky++)
            for (int kx = 0; kx < p->kw; kx++) rolled &= p->tap[ky * p->kw + kx] == p->tap[kx] + ky * dtap;
        LLVMValueRef a[MAX_TILE_ROWS][CG_TILE_VECS];
        cg_loop lky;
        LLVMValueRef kyv = rolled ? cg_loop_begin(c, &lky, cg_i64(c, ky0), cg_i64(c, ky1), "ky") : NULL;
        for (int j = 0; j < t->cb; j++)
            for (int v = 0; v < t->nv; v++) a[j][v] = LLVMBuildLoad2(c->b, vt, acc[j][v], "");
        for (int ky = 0; ky < (rolled ? 1 : p->kh); ky++) {
            if (!rolled && !(t->ymask >> ky & 1)) continue;
            LLVMValueRef iy = rolled
                ? LLVMBuildNSWAdd(c->b, cg_mad(c, oy, p->sh, p->dh == 1 ? kyv : cg_mad(c, kyv, p->dh, NULL)),
                                  cg_i64(c, p->off_y), "")
                : iadd(c, cg_mad(c, oy, p->sh, NULL), (int64_t)ky * p->dh + p->off_y);
            LLVMValueRef rowi = cg_mad(c, iy, p->W, cg_mad(c, ox0, p->sw, NULL));
            LLVMValueRef wrow = rolled ? cg_mad(c, kyv, dtap, wb) : wb;
            for (int kx = 0; kx < p->kw; kx++) {
                LLVMValueRef x[CG_TILE_VECS] = { 0 };
                int n = 0;
                for (int v = 0; v < t->nv; v++)
                    if (t->in_mask[kx][v]) {
                        LLVMValueRef at = iadd(c, rowi, v * vw * p->sw + (int64_t)kx * p->dw + p->off_x);
                        x[v] = p->sw == 1 ? vload_n(c, in_c, at, t->in_mask[kx][v], vw)
                                          : vgather(c, in_c, at, p->sw, t->in_mask[kx][v]);
                        n++;
                    }
                if (!n) continue;
                for (int j = 0; j < t->cb; j++) {
                    int64_t tap = rolled ? p->tap[kx] : p->tap[ky * p->kw + kx];
                    LLVMValueRef wv =
                        wmap(c, splat_n(c, cg_load(c, p->w, iadd(c, wrow, j * p->s_oc + tap)), vw), p->w_map);
                    for (int v = 0; v < t->nv; v++)
                        if (x[v]) a[j][v] = vfma_n(c, wv, x[v], a[j][v]);
                }
            }
        }
        for (int j = 0; j < t->cb; j++)
            for (int v = 0; v < t->nv; v++) LLVMBuildStore(c->b, a[j][v], acc[j][v]);
        if (rolled) cg_loop_end_rolled(c, &lky);
        cg_loop_end(c, &lci);
    }
    for (int j = 0; j < t->cb; j++) {
        LLVMValueRef oyy = iadd(c, cg_mad(c, oy, p->o_sy, NULL), p->o_y0);
        LLVMValueRef orow =
            cg_mad(c, iadd(c, co, j), p->o_plane, cg_mad(c, oyy, p->o_row, cg_mad(c, ox0, p->o_sx, NULL)));
        for (int v = 0; v < t->nv; v++) {
            if (!t->out_mask[v]) continue;
            LLVMValueRef at = iadd(c, orow, v * vw * p->o_sx + p->o_x0);
            LLVMValueRef ch = NULL;
            if (p->epi) {
                ch = iadd(c, co, j);
                if (p->epi_co0) ch = LLVMBuildNSWAdd(c->b, ch, p->epi_co0, "");
            }
            cg_corr_store_acc(c, p, outb, at, LLVMBuildLoad2(c->b, vt, acc[j][v], ""), t->out_mask[v], ch);
        }
    }
}

/* tile geometry of column tile starting at ox0 (compile time) */
static void corr_tile_cols(const cg_corr *p, int64_t ox0, corr_tile *t)
{
    for (int v = 0; v < t->nv; v++) {
        int64_t base = ox0 + v * p->vw;
        t->out_mask[v] = lanes_n(p->OW - base, p->vw);
        for (int kx = 0; kx < p->kw; kx++) {
            /* valid ox: 0 <= ox * sw + kx + off_x < W and ox < OW */
            unsigned m = 0;
            for (int l = 0; l < p->vw; l++) {
                int64_t ix = (base + l) * p->sw + (int64_t)kx * p->dw + p->off_x;
                if (ix >= 0 && ix < p->W) m |= 1u << l;
            }
            t->in_mask[kx][v] = m & t->out_mask[v];
        }
    }
}

static int tile_full(const corr_tile *t, int kw, int vw)
{
    unsigned full = lanes_n(vw, vw);
    for (int v = 0; v < t->nv; v++) {
        if (t->out_mask[v] != full) return 0;
        for (int kx = 0; kx < kw; kx++)
            if (t->in_mask[kx][v] != full) return 0;
    }
    return 1;
}

/* all column tiles of output row oy for cb channels from co */
static void corr_row(cg *c, const cg_corr *p, LLVMValueRef inb, LLVMValueRef outb, LLVMValueRef co, int cb, int nv,
                     LLVMValueRef oy, unsigned ymask)
{
    int64_t TW = (int64_t)nv * p->vw, nt = (p->OW + TW - 1) / TW;
    corr_tile t;
    for (int64_t k = 0; k < nt;) {
        memset(&t, 0, sizeof t);
        t.cb = cb, t.nv = nv, t.ymask = ymask;
        corr_tile_cols(p, k * TW, &t);
        if (tile_full(&t, p->kw, p->vw)) {
            int64_t k1 = k + 1;
            for (;; k1++) {
                corr_tile u;
                memset(&u, 0, sizeof u);
                u.nv = nv;
                if (k1 >= nt) break;
                corr_tile_cols(p, k1 * TW, &u);
                if (!tile_full(&u, p->kw, p->vw)) break;
            }
            if (k1 - k > 1) {
                cg_loop lt;
                LLVMValueRef ti = cg_loop_begin(c, &lt, cg_i64(c, k), cg_i64(c, k1), "tile");
                corr_tile_emit(c, p, inb, outb, co, oy, cg_mad(c, ti, TW, NULL), &t);
                cg_loop_end(c, &lt);
            } else {
                corr_tile_emit(c, p, inb, outb, co, oy, cg_i64(c, k * TW), &t);
            }
            k = k1;
        } else {
            corr_tile_emit(c, p, inb, outb, co, oy, cg_i64(c, k * TW), &t);
            k++;
        }
    }
}

/* Output rows [ya, yb) (sharing the valid-ky set m) of the channel blocks [blo, bhi) (NULL: all; block
 * oc_n / CB is the remainder): blocks of cb channels outside, rows inside, so that the input rows of the
 * band are reused from cache by every channel block. */
static void corr_band(cg *c, const cg_corr *p, LLVMValueRef inb, LLVMValueRef outb, LLVMValueRef ya, LLVMValueRef yb,
                      int single, unsigned m, int CB, int nv, LLVMValueRef blo, LLVMValueRef bhi)
{
    int64_t nblk = p->oc_n / CB, rem = p->oc_n % CB;
    for (int part = 0; part < 2; part++) {
        int cb = part == 0 ? CB : (int)rem;
        cg_loop lblk, ly;
        LLVMValueRef co;
        LLVMBasicBlockRef skip = NULL;
        if (part == 0) {
            if (!nblk) continue;
            co = cg_mad(
                c,
                cg_loop_begin(c, &lblk, blo ? blo : cg_i64(c, 0), bhi ? smin(c, bhi, nblk) : cg_i64(c, nblk), "coblk"),
                CB, NULL);
        } else {
            if (!rem) continue;
            if (bhi) skip = begin_if_gt(c, bhi, nblk);
            co = cg_i64(c, nblk * CB);
        }
        cg_corr mapped;
        const cg_corr *rows = p->w_buf ? cg_corr_map_weights(c, p, co, cb, &mapped) : p;
        if (single) {
            corr_row(c, rows, inb, outb, co, cb, nv, ya, m);
        } else {
            LLVMValueRef oy = cg_loop_begin(c, &ly, ya, yb, "oy");
            corr_row(c, rows, inb, outb, co, cb, nv, oy, m);
            cg_loop_end(c, &ly);
        }
        if (part == 0) cg_loop_end(c, &lblk);
        if (skip) end_if(c, skip);
    }
}

/* Output rows [lo, hi) of every channel: each segment of rows sharing a valid-ky set, clipped to the range
 * at run time, in bands of R rows. A row is computed by the same code whatever range it falls in. */
static void corr_rows(cg *c, const cg_corr *p, LLVMValueRef inb, LLVMValueRef outb, LLVMValueRef lo, LLVMValueRef hi,
                      int CB, int nv, int64_t R)
{
    for (int64_t y = 0; y < p->OH;) {
        unsigned m = cg_corr_ymask(p, y);
        int64_t y1 = y + 1;
        while (y1 < p->OH && cg_corr_ymask(p, y1) == m) y1++;
        LLVMValueRef ya =
            LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, lo, cg_i64(c, y), ""), lo, cg_i64(c, y), "");
        LLVMValueRef yb = smin(c, hi, y1);
        LLVMValueRef bands = LLVMBuildSDiv(c->b, iadd(c, LLVMBuildNSWSub(c->b, yb, ya, ""), R - 1), cg_i64(c, R), "");
        cg_loop lband;
        LLVMValueRef k = cg_loop_begin(c, &lband, cg_i64(c, 0), bands, "band");
        LLVMValueRef a = cg_mad(c, k, R, ya);
        LLVMValueRef e = iadd(c, a, R);
        e = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, e, yb, ""), e, yb, "");
        corr_band(c, p, inb, outb, a, e, 0, m, CB, nv, NULL, NULL);
        cg_loop_end(c, &lband);
        y = y1;
    }
}

/* Accumulators per tile: with 32 vector registers (AVX-512) a tile of 6 channels x 4 vectors keeps 24 sums live and
 * reads 4 input vectors + 6 broadcasts per 24 FMAs; on 16-float vectors, narrower rows take more channels x fewer
 * vectors (16 x 1 on 14-pixel rows: one input vector, 16 broadcasts folded into the FMAs). With 16 registers
 * (AVX2) 4 x 2. Narrow rows take fewer vectors, so that masked-off lanes stay few. */
static void corr_tile_shape(const cg *c, const cg_corr *p, int *CB, int *nv)
{
    int wide = c->opt->vector_registers >= 32, vw = p->vw;
    if (vw > CG_VW) {
        if (p->OW > 3 * vw)
            *nv = 4, *CB = 6;
        else if (p->OW > 2 * vw)
            *nv = 3, *CB = 8;
        else if (p->OW > vw)
            *nv = 2, *CB = 12;
        else
            *nv = 1, *CB = 16;
    } else if (wide && p->OW > 3 * CG_VW)
        *nv = 4, *CB = 6;
    else if (p->OW > CG_VW)
        *nv = 2, *CB = 4;
    else
        *nv = 1, *CB = 8;
}

void cg_emit_corr(cg *c, const cg_corr *pp)
{
    cg_corr q = *pp;
    const cg_corr *p = &q;
    if (!q.dh) q.dh = 1;
    if (!q.dw) q.dw = 1;
    if (!q.groups) q.groups = 1;
    /* A 1x1, stride-1, unpadded correlation maps each pixel to itself: its narrow rows (ResNet's 14x14 and 7x7
     * planes) are merged into rows of f of them, the plane's memory unchanged, so that a tile holds 4 vectors
     * rather than 1-2 (7 columns: 7 loads + broadcasts per 6 FMAs, 49: 10 per 24). Sums are unchanged. */
    int dense = !q.o_plane ||
        (q.o_plane == q.OH * q.OW && q.o_row == q.OW && q.o_sy == 1 && q.o_y0 == 0 && q.o_sx == 1 &&
         q.o_x0 == 0); /* a transposed conv's single phase */
    if (q.kh == 1 && q.kw == 1 && q.sh == 1 && q.sw == 1 && q.off_y == 0 && q.off_x == 0 && q.H == q.OH &&
        q.W == q.OW && dense && q.OW <= 3 * CG_VW) {
        int64_t f = 1;
        while (f < q.H && (q.H % f || q.W * f <= 3 * CG_VW)) f++;
        q.H /= f, q.OH = q.H, q.W *= f, q.OW = q.W, q.o_plane = 0;
    }
    if (!q.o_plane) { q.o_plane = q.OH * q.OW, q.o_row = q.OW, q.o_sy = 1, q.o_y0 = 0, q.o_sx = 1, q.o_x0 = 0; }
    /* 16-float vectors on AVX-512 for contiguous input rows, in large layers (VGG-16's: a 1.3x faster forward);
     * small ones (the MNIST CNN's) gained nothing and their narrow rows' tiles took twice the compile time;
     * strided rows keep the 8-float gathers */
    int64_t macs = q.ic_n * q.kh * q.kw * q.oc_n * q.OH * q.OW * (q.groups ? q.groups : 1);
    int want = c->opt->vector_floats ? c->opt->vector_floats == 16 : q.OW > 3 * 16 || macs >= WIDE_MIN_MACS;
    q.vw = c->opt->vector_registers >= 32 && q.sw == 1 && want ? 16 : CG_VW;
    if (p->oc_n <= 0 || p->OH <= 0 || p->OW <= 0) return;
    if (!c->opt->depthwise_off && cg_corr_is_depthwise(p)) { /* a block of CB channels would be 1/CB used */
        cg_emit_depthwise(c, p);
        return;
    }
    if (cg_emit_corr_flat(c, p)) return;
    int nv, CB;
    corr_tile_shape(c, p, &CB, &nv);
    /* rows per band: the input rows a band reads (all input channels) stay within ~256 KB of cache */
    int64_t row_bytes = p->ic_n * p->W * 4 * (p->sh > 0 ? p->sh : 1);
    int64_t R = row_bytes > 0 ? (256 << 10) / row_bytes : p->OH;
    if (R < 1) R = 1;
    /* Threads split the output rows when the input is the larger operand (early layers: each thread reads
     * its rows and all of the small weights), else the channel blocks (each reads its share of the weights). */
    int64_t nblk = (p->oc_n + CB - 1) / CB, taps = p->ic_n * p->kh * p->kw, G = p->groups;
    int by_rows = p->OH >= 2 && (p->ic_n * p->H * p->W > p->oc_n * taps || nblk < 2);
    cg_par par;
    LLVMValueRef lo, hi;
    LLVMValueRef *slots[5 + IR_MAX_INPUTS] = { &q.out, &q.in, &q.w, &q.batch, &q.bias };
    int n_slots = cg_epilogue_slots(q.epi, q.epi_in, q.epi_in, slots, 5);
    cg_par_begin(c, &par, by_rows ? p->OH : nblk, (by_rows ? p->oc_n * p->OW : CB * p->OH * p->OW) * taps * G, q.batch,
                 slots, n_slots, 1u, &lo, &hi);
    if (q.vw > CG_VW) cg_wide_vectors(c);
    int64_t runs, len, run_stride;
    if (q.w_map != WMAP_NONE && cg_corr_mapped_layout(p, CB, &runs, &len, &run_stride) &&
        runs * len <= CG_CORR_MAX_MAPPED_FLOATS)
        q.w_buf = cg_local(c, LLVMArrayType(c->f32, (unsigned)(runs * len)), "mapped_weights");
    cg_loop lb, lg;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), p->batch, "b");
    LLVMValueRef inb = cg_gep(c, p->in, cg_mad(c, b, G * p->ic_n * p->H * p->W, NULL));
    LLVMValueRef outb = cg_gep(c, p->out, cg_mad(c, b, G * p->oc_n * p->o_plane, NULL));
    q.epi_base = cg_mad(c, b, G * p->oc_n * p->o_plane, NULL);
    cg_corr whole = q; /* with groups, each group a correlation of its own channels, one after the other */
    if (G > 1) {
        LLVMValueRef g = cg_loop_begin(c, &lg, cg_i64(c, 0), cg_i64(c, G), "group");
        inb = cg_gep(c, inb, cg_mad(c, g, p->ic_n * p->H * p->W, NULL));
        outb = cg_gep(c, outb, cg_mad(c, g, p->oc_n * p->o_plane, NULL));
        q.epi_base = cg_mad(c, g, p->oc_n * p->o_plane, q.epi_base);
        q.epi_co0 = cg_mad(c, g, p->oc_n, NULL);
        q.w = cg_gep(c, whole.w, cg_mad(c, g, q.w_group ? q.w_group : p->oc_n * p->s_oc, NULL));
        if (q.bias) q.bias = cg_gep(c, whole.bias, cg_mad(c, g, p->oc_n, NULL));
    }
    /* segments of consecutive rows with the same valid-ky set, each cut into bands of R rows */
    for (int64_t y = 0; y < p->OH && !by_rows;) {
        unsigned m = cg_corr_ymask(p, y);
        int64_t y1 = y + 1;
        while (y1 < p->OH && cg_corr_ymask(p, y1) == m) y1++;
        int64_t len = y1 - y;
        if (len == 1) {
            corr_band(c, p, inb, outb, cg_i64(c, y), NULL, 1, m, CB, nv, lo, hi);
        } else if (len <= R) {
            corr_band(c, p, inb, outb, cg_i64(c, y), cg_i64(c, y1), 0, m, CB, nv, lo, hi);
        } else {
            cg_loop lband;
            LLVMValueRef k = cg_loop_begin(c, &lband, cg_i64(c, 0), cg_i64(c, (len + R - 1) / R), "band");
            LLVMValueRef ya = cg_mad(c, k, R, cg_i64(c, y));
            LLVMValueRef ye = iadd(c, ya, R);
            LLVMValueRef yb =
                LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, ye, cg_i64(c, y1), ""), ye, cg_i64(c, y1), "");
            corr_band(c, p, inb, outb, ya, yb, 0, m, CB, nv, lo, hi);
            cg_loop_end(c, &lband);
        }
        y = y1;
    }
    if (by_rows) corr_rows(c, p, inb, outb, lo, hi, CB, nv, R);
    if (G > 1) cg_loop_end(c, &lg);
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
}
