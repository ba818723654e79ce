/* Depthwise correlation (see cg_depthwise.h): each output plane reads one (or two) input planes.
 *
 * The general correlation (cg_gemm.c) blocks CB output channels per tile so that each input vector feeds
 * CB FMAs; a depthwise group has a single output channel, so that tile would run at 1/CB of its width
 * and its threads would split the rows of one small plane. Here a tile is one vector of CG_VW consecutive
 * output columns of one plane: per tap one input load (two loads and a shuffle at stride 2, vgather) and
 * one FMA with the tap's weight broadcast, which LLVM hoists out of the column loop. The layer is memory
 * bound (about 9 or 25 FMAs per output float), so what matters is reading each input row from cache and
 * writing each output once, with both cores busy: threads split planes x chunks of rows. */
#include "cg_depthwise.h"

#include <string.h>

#include "cg_ew.h"
#include "cg_parallel.h"
#include "cg_vec.h"

#define DW_MAX_IC     2    /* input channels per group summed by one plane (a transposed multiplier-2 conv) */
#define DW_MAX_OC     2    /* output channels per group (channel multiplier); more fill cg_gemm.c's blocks */
#define DW_MAX_K      8    /* kernel rows / columns (taps are unrolled) */
#define DW_CHUNK_ELEM 1024 /* output elements of one chunk of rows handed to a thread (at least one row) */

int cg_corr_is_depthwise(const cg_corr *p)
{
    return p->groups > 1 && p->ic_n >= 1 && p->ic_n <= DW_MAX_IC && p->oc_n >= 1 && p->oc_n <= DW_MAX_OC &&
        p->kh >= 1 && p->kh <= DW_MAX_K && p->kw >= 1 && p->kw <= DW_MAX_K;
}

/* Where one plane of the kernel reads and writes (values of the parallel body). */
typedef struct dw_plane {
    LLVMValueRef in;   /* the group's first input plane */
    LLVMValueRef w;    /* index of the plane's weight(0, 0, 0) in p->w */
    LLVMValueRef out;  /* index in p->out of out[b, plane, 0, 0] */
    LLVMValueRef ch;   /* the output channel (bias, the epilogue's per-channel constants) */
    LLVMValueRef bias; /* the bias broadcast, or NULL */
    LLVMValueRef oy;   /* output row */
} dw_plane;

/* Per kx: the lanes of the vector of output columns ox0 .. ox0 + CG_VW whose input column is inside the
 * row; out: lanes inside the output row. */
static void dw_masks(const cg_corr *p, int64_t ox0, unsigned in_mask[DW_MAX_K], unsigned *out)
{
    *out = lanes(0, p->OW - ox0);
    for (int kx = 0; kx < p->kw; kx++) {
        unsigned m = 0;
        for (int l = 0; l < CG_VW; l++) {
            int64_t ix = (ox0 + l) * p->sw + (int64_t)kx * p->dw + p->off_x;
            if (ix >= 0 && ix < p->W) m |= 1u << l;
        }
        in_mask[kx] = m & *out;
    }
}

static int dw_full(const cg_corr *p, const unsigned in_mask[DW_MAX_K], unsigned out)
{
    if (out != CG_FULL_MASK) return 0;
    for (int kx = 0; kx < p->kw; kx++)
        if (in_mask[kx] != CG_FULL_MASK) return 0;
    return 1;
}

/* The sums of one vector of output columns from ox0 (i64) of row pl->oy, its valid ky set ymask. */
static LLVMValueRef dw_sums(cg *c, const cg_corr *p, const dw_plane *pl, LLVMValueRef ox0, unsigned ymask,
                            const unsigned in_mask[DW_MAX_K])
{
    LLVMValueRef acc = pl->bias ? pl->bias : vzero(c);
    LLVMValueRef col = cg_mad(c, ox0, p->sw, NULL);
    for (int ci = 0; ci < p->ic_n; ci++) {
        LLVMValueRef in_c = cg_gep(c, pl->in, cg_i64(c, ci * p->H * p->W));
        for (int ky = 0; ky < p->kh; ky++) {
            if (!(ymask >> ky & 1)) continue;
            LLVMValueRef iy = iadd(c, cg_mad(c, pl->oy, p->sh, NULL), (int64_t)ky * p->dh + p->off_y);
            LLVMValueRef rowi = cg_mad(c, iy, p->W, col);
            for (int kx = 0; kx < p->kw; kx++) {
                if (!in_mask[kx]) continue;
                LLVMValueRef at = iadd(c, rowi, (int64_t)kx * p->dw + p->off_x);
                LLVMValueRef x =
                    p->sw == 1 ? vload(c, in_c, at, in_mask[kx]) : vgather(c, in_c, at, p->sw, in_mask[kx]);
                LLVMValueRef wi = iadd(c, pl->w, ci * p->s_ic + p->tap[ky * p->kw + kx]);
                acc = vfma(c, wmap(c, splat(c, cg_load(c, p->w, wi)), p->w_map), x, acc);
            }
        }
    }
    return acc;
}

/* The epilogue and the store of a vector of outputs at index `at` of p->out (lanes `mask`, every o_sx-th
 * element). */
static void dw_store(cg *c, const cg_corr *p, const dw_plane *pl, LLVMValueRef acc, LLVMValueRef at, int64_t o_sx,
                     unsigned mask)
{
    if (p->epi) acc = cg_epilogue(c, p->epi, p->epi_in, acc, at, pl->ch, 1, mask);
    if (o_sx == 1)
        vstore(c, acc, p->out, at, mask);
    else
        vscatter(c, acc, p->out, at, o_sx, mask);
}

/* index in p->out of output column ox (i64) of row pl->oy */
static LLVMValueRef dw_out_index(cg *c, const cg_corr *p, const dw_plane *pl, LLVMValueRef ox)
{
    LLVMValueRef oyy = iadd(c, cg_mad(c, pl->oy, p->o_sy, NULL), p->o_y0);
    return cg_mad(c, oyy, p->o_row, iadd(c, cg_mad(c, ox, p->o_sx, pl->out), p->o_x0));
}

/* One vector of outputs from column ox0 of row pl->oy of each of the n phases (1, or the two column phases
 * of a stride-2 transposed conv, interleaved in registers and stored as two contiguous vectors). */
static void dw_vector(cg *c, const cg_corr *ph, int n, const dw_plane *pl, LLVMValueRef ox0, unsigned ymask,
                      unsigned in_mask[][DW_MAX_K], const unsigned *out_mask)
{
    if (n == 1) {
        LLVMValueRef acc = dw_sums(c, ph, pl, ox0, ymask, in_mask[0]);
        dw_store(c, ph, pl, acc, dw_out_index(c, ph, pl, ox0), ph->o_sx, out_mask[0]);
        return;
    }
    static const int pair_lo[CG_VW] = { 0, 8, 1, 9, 2, 10, 3, 11 }, pair_hi[CG_VW] = { 4, 12, 5, 13, 6, 14, 7, 15 };
    LLVMValueRef even = dw_sums(c, &ph[0], pl, ox0, ymask, in_mask[0]);
    LLVMValueRef odd = out_mask[1] ? dw_sums(c, &ph[1], pl, ox0, ymask, in_mask[1]) : vzero(c);
    LLVMValueRef at = dw_out_index(c, &ph[0], pl, ox0); /* column 2 ox0 of the full-width row */
    for (int h = 0; h < 2; h++) {
        unsigned m = 0;
        for (int l = 0; l < CG_VW / 2; l++) {
            int src = h * CG_VW / 2 + l;
            m |= (out_mask[0] >> src & 1u) << (2 * l) | (out_mask[1] >> src & 1u) << (2 * l + 1);
        }
        if (m) dw_store(c, ph, pl, shuffle_const(c, even, odd, h ? pair_hi : pair_lo), iadd(c, at, h * CG_VW), 1, m);
    }
}

/* All vectors of output row pl->oy: runs of interior vectors (every lane and tap inside, in every phase)
 * as a loop, the border vectors with their compile-time masks. */
static void dw_row(cg *c, const cg_corr *ph, int n, const dw_plane *pl, unsigned ymask)
{
    int64_t nvec = (ph[0].OW + CG_VW - 1) / CG_VW; /* phase 0 is the widest */
    unsigned in_mask[2][DW_MAX_K], out_mask[2], m2[DW_MAX_K], o2;
    for (int64_t v = 0; v < nvec;) {
        int full = 1;
        for (int k = 0; k < n; k++) {
            dw_masks(&ph[k], v * CG_VW, in_mask[k], &out_mask[k]);
            full &= dw_full(&ph[k], in_mask[k], out_mask[k]);
        }
        int64_t v1 = v + 1;
        for (; full && v1 < nvec; v1++) {
            int next_full = 1;
            for (int k = 0; k < n; k++) {
                dw_masks(&ph[k], v1 * CG_VW, m2, &o2);
                next_full &= dw_full(&ph[k], m2, o2);
            }
            if (!next_full) break;
        }
        if (v1 - v > 1) {
            cg_loop lv;
            LLVMValueRef vi = cg_loop_begin(c, &lv, cg_i64(c, v), cg_i64(c, v1), "dwvec");
            dw_vector(c, ph, n, pl, cg_mad(c, vi, CG_VW, NULL), ymask, in_mask, out_mask);
            cg_loop_end(c, &lv);
        } else {
            dw_vector(c, ph, n, pl, cg_i64(c, v * CG_VW), ymask, in_mask, out_mask);
        }
        v = v1;
    }
}

static LLVMValueRef smax(cg *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, a, b, ""), a, b, "");
}

/* The kernel of n phases (1, or 2: see cg_emit_depthwise_pair) that share rows, planes and pointers. */
static void dw_emit(cg *c, cg_corr *ph, int n)
{
    cg_corr *p = &ph[0];
    int64_t G = p->groups, planes = G * p->oc_n, taps = (int64_t)p->ic_n * p->kh * p->kw;
    /* Threads split planes x chunks of rows: batch 1 of a layer with few large planes (MobileNet's first,
     * 32 x 112 x 112) still has many chunks, and a chunk is enough work to amortise its hand-over. */
    int64_t row_elems = n * p->OW, rows = (DW_CHUNK_ELEM + row_elems - 1) / row_elems;
    if (rows > p->OH) rows = p->OH;
    int64_t chunks = (p->OH + rows - 1) / rows;
    int64_t per_elem = taps > CG_PAR_ELEMENT_WORK ? taps : CG_PAR_ELEMENT_WORK; /* loads and stores dominate */
    cg_par par;
    LLVMValueRef lo, hi;
    LLVMValueRef *slots[5 + IR_MAX_INPUTS] = { &p->out, &p->in, &p->w, &p->batch, &p->bias };
    int n_slots = cg_epilogue_slots(p->epi, p->epi_in, p->epi_in, slots, 5);
    cg_par_begin(c, &par, planes * chunks, rows * row_elems * per_elem, p->batch, slots, n_slots, 1u, &lo, &hi);
    for (int k = 1; k < n; k++) { /* the other phase reads the same buffers: the body's copies */
        ph[k].out = p->out, ph[k].in = p->in, ph[k].w = p->w, ph[k].batch = p->batch, ph[k].bias = p->bias;
        memcpy(ph[k].epi_in, p->epi_in, sizeof p->epi_in);
    }
    cg_loop lb, li;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), p->batch, "b");
    LLVMValueRef i = cg_loop_begin(c, &li, lo, hi, "dwchunk");
    LLVMValueRef plane = LLVMBuildSDiv(c->b, i, cg_i64(c, chunks), "plane");
    LLVMValueRef chunk = LLVMBuildSRem(c->b, i, cg_i64(c, chunks), "chunk");
    LLVMValueRef g = p->oc_n == 1 ? plane : LLVMBuildSDiv(c->b, plane, cg_i64(c, p->oc_n), "group");
    LLVMValueRef j = p->oc_n == 1 ? cg_i64(c, 0) : LLVMBuildSRem(c->b, plane, cg_i64(c, p->oc_n), "");
    dw_plane pl = { 0 };
    pl.in = cg_gep(c, p->in, cg_mad(c, cg_mad(c, b, G, g), p->ic_n * p->H * p->W, NULL));
    pl.w = cg_mad(c, g, p->w_group ? p->w_group : p->oc_n * p->s_oc, cg_mad(c, j, p->s_oc, NULL));
    pl.out = cg_mad(c, cg_mad(c, b, planes, plane), p->o_plane, NULL);
    pl.ch = plane;
    pl.bias = p->bias ? splat(c, cg_load(c, p->bias, plane)) : NULL;
    LLVMValueRef y0 = cg_mad(c, chunk, rows, NULL), y1 = smin(c, iadd(c, y0, rows), p->OH);
    /* segments of rows with the same valid-ky set (compile-time masks), each clipped to the chunk */
    for (int64_t y = 0; y < p->OH;) {
        unsigned m = cg_corr_ymask(p, y);
        int64_t ye = y + 1;
        while (ye < p->OH && cg_corr_ymask(p, ye) == m) ye++;
        cg_loop ly;
        pl.oy = cg_loop_begin(c, &ly, smax(c, y0, cg_i64(c, y)), smin(c, y1, ye), "oy");
        dw_row(c, ph, n, &pl, m);
        cg_loop_end_rolled(c, &ly);
        y = ye;
    }
    cg_loop_end(c, &li);
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
}

void cg_emit_depthwise(cg *c, const cg_corr *p)
{
    cg_corr q = *p;
    dw_emit(c, &q, 1);
}

/* cg_emit_corr's defaults, for a phase that does not pass through it */
static void dw_defaults(cg_corr *q)
{
    if (!q->dh) q->dh = 1;
    if (!q->dw) q->dw = 1;
    if (!q->groups) q->groups = 1;
    if (!q->o_plane) q->o_plane = q->OH * q->OW, q->o_row = q->OW, q->o_sy = 1, q->o_y0 = 0, q->o_sx = 1, q->o_x0 = 0;
}

int cg_emit_depthwise_pair(cg *c, const cg_corr *even, const cg_corr *odd)
{
    cg_corr ph[2] = { *even, *odd };
    dw_defaults(&ph[0]);
    dw_defaults(&ph[1]);
    const cg_corr *a = &ph[0], *b = &ph[1];
    if (!cg_corr_is_depthwise(a) || !cg_corr_is_depthwise(b) || a->o_sx != 2 || b->o_sx != 2 || a->o_x0 != 0 ||
        b->o_x0 != 1 || a->OW < b->OW || a->OW > b->OW + 1 || a->OH != b->OH || a->OW <= 0 || b->OW <= 0 ||
        a->OH <= 0 || a->kh != b->kh || a->off_y != b->off_y || a->sh != b->sh || a->dh != b->dh ||
        a->o_sy != b->o_sy || a->o_y0 != b->o_y0 || a->o_plane != b->o_plane || a->o_row != b->o_row ||
        a->groups != b->groups || a->ic_n != b->ic_n || a->oc_n != b->oc_n || a->H != b->H || a->W != b->W ||
        a->s_oc != b->s_oc || a->s_ic != b->s_ic || a->w_group != b->w_group || a->w_map != b->w_map ||
        a->epi != b->epi || (a->bias != NULL) != (b->bias != NULL))
        return 0; /* (the phases of one kernel: the same buffers) */
    dw_emit(c, ph, 2);
    return 1;
}
