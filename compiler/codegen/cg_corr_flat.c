/* Correlation on small planes (7x7, 14x14: the last stages of VGG-16 and ResNet-50, the MNIST CNN's conv2 and conv3,
 * and their stride-1 transposes): tiles along the flattened output plane.
 *
 * The row tiles of cg_gemm.c put one output row in 1-2 vectors, so a 7-column row fills 7 of 16 lanes and a tile
 * holds 8-16 sums. When the input rows are as wide as the output rows (stride 1, W == OW: "same" padding and every
 * stride-1 transpose), output f = oy * W + ox reads input f + (ky dh + off_y) W + kx dw + off_x for every tap: one
 * contiguous vector load per tap across row boundaries, the lanes whose input lies outside the plane (left / right
 * columns, top / bottom rows) masked off at compile time. A 7x7 plane is then 4 vectors of 16 (49 of 64 lanes), a
 * 14x14 one 13 (196 of 208), and a tile keeps 6 channels x 4 vectors of sums like the wide-row tiles.
 *
 * Each output is still summed input channel by input channel, taps in order, from the bias: a masked lane adds
 * w * 0, so the sums are the row tiles' bit for bit (cg_options.flat_off; test_flat_conv). */
#include "cg_ew.h"
#include "cg_gemm.h"
#include "cg_parallel.h"
#include "cg_vec.h"

#define FLAT_MAX_PLANE 256 /* outputs per plane: every tile is unrolled, so the code grows with the plane */
#define FLAT_MAX_WIDTH 16  /* wider rows fill the row tiles' vectors well enough */
#define FLAT_MAX_TILES 16
#define FLAT_MAX_CB    8
#define FLAT_MAX_NV    4

typedef struct flat_tile {
    int64_t start; /* first output of the tile in the flattened plane */
    int nv;
} flat_tile;

/* lanes of the vector at flattened output s whose input for tap (ky, kx) lies inside the input plane */
static unsigned tap_mask(const cg_corr *p, int64_t s, int ky, int kx)
{
    unsigned m = 0;
    for (int l = 0; l < p->vw; l++) {
        int64_t f = s + l, oy = f / p->OW, ox = f % p->OW;
        int64_t iy = oy + (int64_t)ky * p->dh + p->off_y, ix = ox + (int64_t)kx * p->dw + p->off_x;
        if (f < p->OH * p->OW && iy >= 0 && iy < p->H && ix >= 0 && ix < p->W) m |= 1u << l;
    }
    return m;
}

/* cb output channels from co over the tile's outputs of one sample */
static void flat_tile_emit(cg *c, const cg_corr *p, LLVMValueRef inb, LLVMValueRef outb, LLVMValueRef co, int cb,
                           const flat_tile *t)
{
    const int vw = p->vw;
    LLVMTypeRef vt = vec_n(c, vw);
    LLVMValueRef acc[FLAT_MAX_CB][FLAT_MAX_NV];
    for (int j = 0; j < cb; j++) {
        LLVMValueRef init = p->bias ? splat_n(c, cg_load(c, p->bias, iadd(c, co, j)), vw) : LLVMConstNull(vt);
        for (int v = 0; v < t->nv; v++) {
            acc[j][v] = cg_local(c, vt, "acc");
            LLVMBuildStore(c->b, init, acc[j][v]);
        }
    }
    cg_loop lci;
    LLVMValueRef ci = cg_loop_begin(c, &lci, cg_i64(c, 0), cg_i64(c, p->ic_n), "ci");
    LLVMValueRef in_c = cg_gep(c, inb, cg_mad(c, ci, p->H * p->W, NULL));
    LLVMValueRef wco = p->w_co0 ? LLVMBuildNSWSub(c->b, co, p->w_co0, "") : co;
    LLVMValueRef wb = cg_mad(c, wco, p->s_oc, cg_mad(c, ci, p->s_ic, NULL));
    LLVMValueRef a[FLAT_MAX_CB][FLAT_MAX_NV];
    for (int j = 0; j < cb; j++)
        for (int v = 0; v < t->nv; v++) a[j][v] = LLVMBuildLoad2(c->b, vt, acc[j][v], "");
    for (int ky = 0; ky < p->kh; ky++)
        for (int kx = 0; kx < p->kw; kx++) {
            int64_t shift = ((int64_t)ky * p->dh + p->off_y) * p->W + (int64_t)kx * p->dw + p->off_x;
            LLVMValueRef x[FLAT_MAX_NV] = { 0 };
            int n = 0;
            for (int v = 0; v < t->nv; v++) {
                int64_t s = t->start + (int64_t)v * vw;
                unsigned m = tap_mask(p, s, ky, kx);
                if (m) x[v] = vload_n(c, in_c, cg_i64(c, s + shift), m, vw), n++;
            }
            if (!n) continue;
            for (int j = 0; j < cb; j++) {
                LLVMValueRef wv = wmap(
                    c, splat_n(c, cg_load(c, p->w, iadd(c, wb, j * p->s_oc + p->tap[ky * p->kw + kx])), vw), p->w_map);
                for (int v = 0; v < t->nv; v++)
                    if (x[v]) a[j][v] = vfma_n(c, wv, x[v], a[j][v]);
            }
        }
    for (int j = 0; j < cb; j++)
        for (int v = 0; v < t->nv; v++) LLVMBuildStore(c->b, a[j][v], acc[j][v]);
    cg_loop_end(c, &lci);
    for (int j = 0; j < cb; j++) {
        LLVMValueRef ch = NULL;
        if (p->epi) ch = iadd(c, co, j);
        for (int v = 0; v < t->nv; v++) {
            int64_t s = t->start + (int64_t)v * vw;
            LLVMValueRef at = cg_mad(c, iadd(c, co, j), p->o_plane, cg_i64(c, s));
            cg_corr_store_acc(c, p, outb, at, LLVMBuildLoad2(c->b, vt, acc[j][v], ""), lanes_n(p->OH * p->OW - s, vw),
                              ch);
        }
    }
}

int cg_emit_corr_flat(cg *c, const cg_corr *pp)
{
    const cg_options *o = c->opt;
    int64_t plane = pp->OH * pp->OW;
    int dense_out =
        pp->o_plane == plane && pp->o_row == pp->OW && pp->o_sy == 1 && pp->o_y0 == 0 && pp->o_sx == 1 && pp->o_x0 == 0;
    if (o->flat_off || pp->groups != 1 || pp->sh != 1 || pp->sw != 1 || pp->W != pp->OW || !dense_out ||
        pp->OW > FLAT_MAX_WIDTH || plane > FLAT_MAX_PLANE || pp->kh * pp->kw > 64)
        return 0;
    cg_corr q = *pp;
    int wide = o->vector_registers >= 32;
    q.vw = wide && o->vector_floats != 8 ? 16 : CG_VW;
    int CB = wide ? 6 : 4, NVMAX = wide ? 4 : 2;
    if (q.oc_n < 2 * CB) return 0; /* the threads split the channel blocks */
    int64_t NV = (plane + q.vw - 1) / q.vw, nt = (NV + NVMAX - 1) / NVMAX;
    if (nt > FLAT_MAX_TILES) return 0;
    flat_tile tiles[FLAT_MAX_TILES];
    for (int64_t t = 0, s = 0; t < nt; t++) { /* NV vectors over nt tiles, as even as they go */
        tiles[t].nv = (int)(NV / nt + (t < NV % nt));
        tiles[t].start = s;
        s += (int64_t)tiles[t].nv * q.vw;
    }
    const cg_corr *p = &q;
    int64_t nblk = q.oc_n / CB, rem = q.oc_n % CB, taps = q.ic_n * q.kh * q.kw;
    cg_par par;
    LLVMValueRef lo, hi;
    LLVMValueRef *slots[5 + IR_MAX_INPUTS] = { &q.out, &q.in, &q.w, &q.batch, &q.bias };
    int n_slots = cg_epilogue_slots(q.epi, q.epi_in, q.epi_in, slots, 5);
    cg_par_begin(c, &par, nblk + (rem > 0), CB * plane * taps, q.batch, slots, n_slots, 1u, &lo, &hi);
    if (q.vw > CG_VW) cg_wide_vectors(c);
    int64_t runs, len, run_stride;
    if (q.w_map != WMAP_NONE && cg_corr_mapped_layout(p, CB, &runs, &len, &run_stride) &&
        runs * len <= CG_CORR_MAX_MAPPED_FLOATS)
        q.w_buf = cg_local(c, LLVMArrayType(c->f32, (unsigned)(runs * len)), "mapped_weights");
    cg_loop lb;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), q.batch, "b");
    LLVMValueRef inb = cg_gep(c, q.in, cg_mad(c, b, q.ic_n * q.H * q.W, NULL));
    LLVMValueRef outb = cg_gep(c, q.out, cg_mad(c, b, q.oc_n * plane, NULL));
    q.epi_base = cg_mad(c, b, q.oc_n * plane, NULL);
    for (int part = 0; part < 2; part++) { /* the blocks of CB channels, then the rest */
        int cb = part == 0 ? CB : (int)rem;
        cg_loop lblk;
        LLVMValueRef co;
        LLVMBasicBlockRef skip = NULL;
        if (part == 0) {
            if (!nblk) continue;
            co = cg_mad(c, cg_loop_begin(c, &lblk, lo, smin(c, hi, nblk), "coblk"), CB, NULL);
        } else {
            if (!rem) continue;
            skip = begin_if_gt(c, hi, nblk);
            co = cg_i64(c, nblk * CB);
        }
        cg_corr mapped;
        const cg_corr *w = q.w_buf ? cg_corr_map_weights(c, p, co, cb, &mapped) : p;
        for (int64_t t = 0; t < nt; t++) flat_tile_emit(c, w, inb, outb, co, cb, &tiles[t]);
        if (part == 0) cg_loop_end(c, &lblk);
        if (skip) end_if(c, skip);
    }
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
    return 1;
}
