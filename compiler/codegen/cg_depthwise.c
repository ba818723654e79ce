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
    LLVMValueRef in;    /* the group's first input plane */
    LLVMValueRef w;     /* index of the plane's weight(0, 0, 0) in p->w */
    LLVMValueRef out;   /* index in p->out of out[b, plane, 0, 0] */
    LLVMValueRef ch;    /* the output channel (bias, the epilogue's per-channel constants) */
    LLVMValueRef bias;  /* the bias broadcast, or NULL */
    LLVMValueRef oy;    /* output row */
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

/* One vector of output columns from ox0 (i64) of row pl->oy, its valid ky set ymask. */
static void dw_vector(cg *c, const cg_corr *p, const dw_plane *pl, LLVMValueRef ox0, unsigned ymask,
                      const unsigned in_mask[DW_MAX_K], unsigned out_mask)
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
                LLVMValueRef x = p->sw == 1 ? vload(c, in_c, at, in_mask[kx]) : vgather(c, in_c, at, p->sw, in_mask[kx]);
                LLVMValueRef wi = iadd(c, pl->w, ci * p->s_ic + p->tap[ky * p->kw + kx]);
                acc = vfma(c, wmap(c, splat(c, cg_load(c, p->w, wi)), p->w_map), x, acc);
            }
        }
    }
    LLVMValueRef oyy = iadd(c, cg_mad(c, pl->oy, p->o_sy, NULL), p->o_y0);
    LLVMValueRef at = cg_mad(c, oyy, p->o_row, iadd(c, cg_mad(c, ox0, p->o_sx, pl->out), p->o_x0));
    if (p->epi) acc = cg_epilogue(c, p->epi, p->epi_in, acc, at, pl->ch, 1, out_mask);
    if (p->o_sx == 1)
        vstore(c, acc, p->out, at, out_mask);
    else
        vscatter(c, acc, p->out, at, p->o_sx, out_mask);
}

/* All vectors of output row pl->oy: runs of interior vectors (every lane and tap inside) as a loop, the
 * border vectors with their compile-time masks. */
static void dw_row(cg *c, const cg_corr *p, const dw_plane *pl, unsigned ymask)
{
    int64_t nvec = (p->OW + CG_VW - 1) / CG_VW;
    unsigned in_mask[DW_MAX_K], out_mask;
    for (int64_t v = 0; v < nvec;) {
        dw_masks(p, v * CG_VW, in_mask, &out_mask);
        int64_t v1 = v + 1;
        if (dw_full(p, in_mask, out_mask))
            for (unsigned m2[DW_MAX_K], o2; v1 < nvec; v1++) {
                dw_masks(p, v1 * CG_VW, m2, &o2);
                if (!dw_full(p, m2, o2)) break;
            }
        if (v1 - v > 1) {
            cg_loop lv;
            LLVMValueRef vi = cg_loop_begin(c, &lv, cg_i64(c, v), cg_i64(c, v1), "dwvec");
            dw_vector(c, p, pl, cg_mad(c, vi, CG_VW, NULL), ymask, in_mask, out_mask);
            cg_loop_end(c, &lv);
        } else {
            dw_vector(c, p, pl, cg_i64(c, v * CG_VW), ymask, in_mask, out_mask);
        }
        v = v1;
    }
}

static unsigned dw_ymask(const cg_corr *p, int64_t oy)
{
    unsigned m = 0;
    for (int ky = 0; ky < p->kh; ky++) {
        int64_t iy = oy * p->sh + (int64_t)ky * p->dh + p->off_y;
        if (iy >= 0 && iy < p->H) m |= 1u << ky;
    }
    return m;
}

static LLVMValueRef smax(cg *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, a, b, ""), a, b, "");
}

void cg_emit_depthwise(cg *c, const cg_corr *pp)
{
    cg_corr q = *pp;
    const cg_corr *p = &q;
    int64_t G = p->groups, planes = G * p->oc_n, taps = (int64_t)p->ic_n * p->kh * p->kw;
    /* Threads split planes x chunks of rows: batch 1 of a layer with few large planes (MobileNet's first,
     * 32 x 112 x 112) still has many chunks, and a chunk is enough work to amortise its hand-over. */
    int64_t rows = (DW_CHUNK_ELEM + p->OW - 1) / p->OW;
    if (rows > p->OH) rows = p->OH;
    int64_t chunks = (p->OH + rows - 1) / rows;
    int64_t per_elem = taps > CG_PAR_ELEMENT_WORK ? taps : CG_PAR_ELEMENT_WORK; /* loads and stores dominate */
    cg_par par;
    LLVMValueRef lo, hi;
    LLVMValueRef *slots[5 + IR_MAX_INPUTS] = { &q.out, &q.in, &q.w, &q.batch, &q.bias };
    int n_slots = cg_epilogue_slots(q.epi, q.epi_in, q.epi_in, slots, 5);
    cg_par_begin(c, &par, planes * chunks, rows * p->OW * per_elem, q.batch, slots, n_slots, 1u, &lo, &hi);
    cg_loop lb, li;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), q.batch, "b");
    LLVMValueRef i = cg_loop_begin(c, &li, lo, hi, "dwchunk");
    LLVMValueRef plane = LLVMBuildSDiv(c->b, i, cg_i64(c, chunks), "plane");
    LLVMValueRef chunk = LLVMBuildSRem(c->b, i, cg_i64(c, chunks), "chunk");
    LLVMValueRef g = p->oc_n == 1 ? plane : LLVMBuildSDiv(c->b, plane, cg_i64(c, p->oc_n), "group");
    LLVMValueRef j = p->oc_n == 1 ? cg_i64(c, 0) : LLVMBuildSRem(c->b, plane, cg_i64(c, p->oc_n), "");
    dw_plane pl = { 0 };
    pl.in = cg_gep(c, q.in, cg_mad(c, cg_mad(c, b, G, g), p->ic_n * p->H * p->W, NULL));
    pl.w = cg_mad(c, g, p->w_group ? p->w_group : p->oc_n * p->s_oc, cg_mad(c, j, p->s_oc, NULL));
    pl.out = cg_mad(c, cg_mad(c, b, planes, plane), p->o_plane, NULL);
    pl.ch = plane;
    pl.bias = q.bias ? splat(c, cg_load(c, q.bias, plane)) : NULL;
    LLVMValueRef y0 = cg_mad(c, chunk, rows, NULL), y1 = smin(c, iadd(c, y0, rows), p->OH);
    /* segments of rows with the same valid-ky set (compile-time masks), each clipped to the chunk */
    for (int64_t y = 0; y < p->OH;) {
        unsigned m = dw_ymask(p, y);
        int64_t ye = y + 1;
        while (ye < p->OH && dw_ymask(p, ye) == m) ye++;
        cg_loop ly;
        pl.oy = cg_loop_begin(c, &ly, smax(c, y0, cg_i64(c, y)), smin(c, y1, ye), "oy");
        dw_row(c, p, &pl, m);
        cg_loop_end_rolled(c, &ly);
        y = ye;
    }
    cg_loop_end(c, &li);
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
}
