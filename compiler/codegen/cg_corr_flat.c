/* Correlation on small planes (7x7, 14x14: the last stages of VGG-16 and ResNet-50, the MNIST CNN's conv2 and conv3,
 * and their stride-1 transposes): tiles along the flattened output plane.
 *
 * The row tiles of cg_gemm.c put one output row in 1-2 vectors, so a 7-column row fills 7 of 16 lanes and a tile
 * holds 8-16 sums. When the input rows are as wide as the output rows (stride 1, W == OW: "same" padding and every
 * stride-1 transpose), output f = oy * W + ox reads input f + (ky dh + off_y) W + kx dw + off_x for every tap: one
 * contiguous vector load per tap across row boundaries, the lanes whose input lies outside the plane (left / right
 * columns, top / bottom rows) masked off (masks computed at compile time, read from a table of the taps as the tap loop
 * runs). A 7x7 plane is then 4 vectors of 16 (49 of 64 lanes), a
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

/* The tile's taps that read any input, in order, as a constant table of rows (shift, weight tap, lane mask of each
 * vector): the taps run as a rolled loop over it, one body for all of them, rather than one unrolled body per tap
 * (with the taps unrolled, models/mnist_cnn_lrp.xai took 1.35-1.45x the CPU time to compile, for kernels ~10 %
 * faster). */
static LLVMValueRef tap_table(cg *c, const cg_corr *p, const flat_tile *t, int64_t *n_taps)
{
    LLVMValueRef e[64 * (2 + FLAT_MAX_NV)];
    int64_t n = 0, row = 2 + t->nv;
    for (int ky = 0; ky < p->kh; ky++)
        for (int kx = 0; kx < p->kw; kx++) {
            unsigned m[FLAT_MAX_NV], any = 0;
            for (int v = 0; v < t->nv; v++) any |= m[v] = tap_mask(p, t->start + (int64_t)v * p->vw, ky, kx);
            if (!any) continue;
            int64_t shift = ((int64_t)ky * p->dh + p->off_y) * p->W + (int64_t)kx * p->dw + p->off_x;
            e[n * row] = LLVMConstInt(c->i64, (unsigned long long)shift, 1);
            e[n * row + 1] = LLVMConstInt(c->i64, (unsigned long long)p->tap[ky * p->kw + kx], 1);
            for (int v = 0; v < t->nv; v++) e[n * row + 2 + v] = LLVMConstInt(c->i64, m[v], 0);
            n++;
        }
    *n_taps = n;
    if (!n) return NULL;
    LLVMValueRef init = LLVMConstArray2(c->i64, e, (uint64_t)(n * row));
    LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMTypeOf(init), "flat_taps");
    LLVMSetInitializer(g, init);
    LLVMSetGlobalConstant(g, 1);
    LLVMSetLinkage(g, LLVMPrivateLinkage);
    LLVMSetUnnamedAddr(g, 1);
    return g;
}

/* cb output channels from co over the tile's outputs of one sample */
static void flat_tile_emit(cg *c, const cg_corr *p, LLVMValueRef inb, LLVMValueRef outb, LLVMValueRef co, int cb,
                           const flat_tile *t)
{
    const int vw = p->vw;
    LLVMTypeRef vt = vec_n(c, vw), mt = LLVMIntTypeInContext(c->ctx, (unsigned)vw);
    LLVMValueRef acc[FLAT_MAX_CB][FLAT_MAX_NV];
    for (int j = 0; j < cb; j++) {
        LLVMValueRef init = p->bias ? splat_n(c, cg_load(c, p->bias, iadd(c, co, j)), vw) : LLVMConstNull(vt);
        for (int v = 0; v < t->nv; v++) {
            acc[j][v] = cg_local(c, vt, "acc");
            LLVMBuildStore(c->b, init, acc[j][v]);
        }
    }
    int64_t n_taps;
    LLVMValueRef table = tap_table(c, p, t, &n_taps);
    if (table) {
        cg_loop lci, lt;
        LLVMValueRef ci = cg_loop_begin(c, &lci, cg_i64(c, 0), cg_i64(c, p->ic_n), "ci");
        LLVMValueRef in_c = cg_gep(c, inb, cg_mad(c, ci, p->H * p->W, NULL));
        LLVMValueRef wco = p->w_co0 ? LLVMBuildNSWSub(c->b, co, p->w_co0, "") : co;
        LLVMValueRef wb = cg_mad(c, wco, p->s_oc, cg_mad(c, ci, p->s_ic, NULL));
        LLVMValueRef row = cg_mad(c, cg_loop_begin(c, &lt, cg_i64(c, 0), cg_i64(c, n_taps), "tap"), 2 + t->nv, NULL);
        LLVMValueRef entry[2 + FLAT_MAX_NV];
        for (int k = 0; k < 2 + t->nv; k++) {
            LLVMValueRef at = iadd(c, row, k);
            entry[k] = LLVMBuildLoad2(c->b, c->i64, LLVMBuildInBoundsGEP2(c->b, c->i64, table, &at, 1, ""), "");
        }
        LLVMValueRef x[FLAT_MAX_NV];
        for (int v = 0; v < t->nv; v++) {
            LLVMValueRef mask = LLVMBuildBitCast(c->b, LLVMBuildTrunc(c->b, entry[2 + v], mt, ""),
                                                 LLVMVectorType(c->i1, (unsigned)vw), "");
            LLVMValueRef at = LLVMBuildNSWAdd(c->b, entry[0], cg_i64(c, t->start + (int64_t)v * vw), "");
            LLVMValueRef args[4] = { gep_any(c, in_c, at), LLVMConstInt(c->i32, 4, 0), mask, LLVMConstNull(vt) };
            x[v] = call2(c, "llvm.masked.load", vt, c->ptr, args, 4);
        }
        LLVMValueRef wt = LLVMBuildNSWAdd(c->b, wb, entry[1], "");
        for (int j = 0; j < cb; j++) {
            LLVMValueRef wv = wmap(c, splat_n(c, cg_load(c, p->w, iadd(c, wt, j * p->s_oc)), vw), p->w_map);
            for (int v = 0; v < t->nv; v++)
                LLVMBuildStore(c->b, vfma_n(c, wv, x[v], LLVMBuildLoad2(c->b, vt, acc[j][v], "")), acc[j][v]);
        }
        cg_loop_end_rolled(c, &lt);
        cg_loop_end(c, &lci);
    }
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

/* The fused consumer over the cb planes from co, in place, as rolled loops: evaluated as the tiles store their sums,
 * its code would be copied into every vector of every unrolled tile (models/mnist_cnn_lrp.xai took 1.26x the CPU
 * time of the row tiles to compile; 1.03x with this pass).
 * The same values: the consumer reads the stored sum, which is the float the tile held; the output aliases no
 * input of the kernel. */
static void flat_epilogue(cg *c, const cg_corr *p, LLVMValueRef outb, LLVMValueRef co, int cb)
{
    cg_corr q8 = *p; /* the consumer is evaluated on 8-float vectors */
    q8.vw = CG_VW;
    int64_t plane = p->OH * p->OW, full = plane / CG_VW, rest = plane % CG_VW;
    cg_loop lj, lv;
    LLVMValueRef ch = LLVMBuildNSWAdd(c->b, co, cg_loop_begin(c, &lj, cg_i64(c, 0), cg_i64(c, cb), "ch"), "");
    LLVMValueRef base = cg_mad(c, ch, p->o_plane, NULL);
    if (full) {
        LLVMValueRef at = cg_mad(c, cg_loop_begin(c, &lv, cg_i64(c, 0), cg_i64(c, full), "v"), CG_VW, base);
        cg_corr_store_acc(c, &q8, outb, at, vload(c, outb, at, CG_FULL_MASK), CG_FULL_MASK, ch);
        cg_loop_end_rolled(c, &lv);
    }
    if (rest) {
        LLVMValueRef at = iadd(c, base, full * CG_VW);
        cg_corr_store_acc(c, &q8, outb, at, vload(c, outb, at, lanes(0, rest)), lanes(0, rest), ch);
    }
    cg_loop_end_rolled(c, &lj);
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
        cg_corr raw = *w; /* the tiles store the sums; the fused consumer runs on them afterwards */
        raw.epi = NULL;
        for (int64_t t = 0; t < nt; t++) flat_tile_emit(c, &raw, inb, outb, co, cb, &tiles[t]);
        if (q.epi) flat_epilogue(c, &q, outb, co, cb);
        if (part == 0) cg_loop_end(c, &lblk);
        if (skip) end_if(c, skip);
    }
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
    return 1;
}
