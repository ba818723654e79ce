/* Register-blocked kernels for dense, conv2d and their transposes (see cg_gemm.h).
 *
 * Vectors are VW = 8 floats (one AVX2 register); a tile keeps up to 8 vector accumulators live over the
 * whole reduction loop and reads every operand once per tile. All geometry is known at compile time, so
 * the valid lanes of every border load are compile-time masks (llvm.masked.load) and interior tiles run
 * unmasked loops. */
#include <string.h>

#include "cg_gemm.h"

#define VW 8
#define FULL ((1u << VW) - 1)
#define MAXJ 8      /* output channels / rows per tile */
#define MAXV 4      /* vectors per tile along the contiguous axis */
#define MAXK 64     /* kernel widths handled by the blocked conv (cg_emit_corr callers check) */

static LLVMTypeRef vec_t(cg *c) { return LLVMVectorType(c->f32, VW); }

static LLVMValueRef vzero(cg *c) { return LLVMConstNull(vec_t(c)); }

static LLVMValueRef splat(cg *c, LLVMValueRef s)
{
    LLVMValueRef v = LLVMBuildInsertElement(c->b, LLVMGetPoison(vec_t(c)), s, LLVMConstInt(c->i32, 0, 0), "");
    LLVMValueRef zeros = LLVMConstNull(LLVMVectorType(c->i32, VW));
    return LLVMBuildShuffleVector(c->b, v, LLVMGetPoison(vec_t(c)), zeros, "");
}

static LLVMValueRef lane_mask(cg *c, unsigned m)
{
    LLVMValueRef bits[VW];
    for (int l = 0; l < VW; l++) bits[l] = LLVMConstInt(c->i1, (m >> l) & 1, 0);
    return LLVMConstVector(bits, VW);
}

static LLVMValueRef call2(cg *c, const char *name, LLVMTypeRef t0, LLVMTypeRef t1, LLVMValueRef *args, int n)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef ov[2] = {t0, t1};
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(c->mod, id, ov, 2);
    LLVMTypeRef ty = LLVMIntrinsicGetType(c->ctx, id, ov, 2);
    return LLVMBuildCall2(c->b, ty, fn, args, n, "");
}

/* &base[index] without the inbounds promise: masked border loads may start before the buffer. */
static LLVMValueRef gep_any(cg *c, LLVMValueRef base, LLVMValueRef index)
{
    return LLVMBuildGEP2(c->b, c->f32, base, &index, 1, "");
}

/* The VW floats at base[index], lanes outside mask read as 0 (never touched). */
static LLVMValueRef vload(cg *c, LLVMValueRef base, LLVMValueRef index, unsigned mask)
{
    if (mask == FULL) {
        LLVMValueRef v = LLVMBuildLoad2(c->b, vec_t(c), cg_gep(c, base, index), "");
        LLVMSetAlignment(v, 4);
        return v;
    }
    LLVMValueRef args[4] = {gep_any(c, base, index), LLVMConstInt(c->i32, 4, 0), lane_mask(c, mask), vzero(c)};
    return call2(c, "llvm.masked.load", vec_t(c), c->ptr, args, 4);
}

/* base[index + l * stride] for the lanes l in mask (0 elsewhere): a strided row, llvm.masked.gather */
static LLVMValueRef vgather(cg *c, LLVMValueRef base, LLVMValueRef index, int64_t stride, unsigned mask)
{
    LLVMValueRef offs[VW];
    for (int l = 0; l < VW; l++) offs[l] = cg_i64(c, l * stride);
    LLVMValueRef off = LLVMConstVector(offs, VW);
    LLVMValueRef row = gep_any(c, base, index);
    LLVMValueRef ptrs = LLVMBuildGEP2(c->b, c->f32, row, &off, 1, "");
    LLVMValueRef args[4] = {ptrs, LLVMConstInt(c->i32, 4, 0), lane_mask(c, mask), vzero(c)};
    return call2(c, "llvm.masked.gather", vec_t(c), LLVMVectorType(c->ptr, VW), args, 4);
}

static void vstore(cg *c, LLVMValueRef v, LLVMValueRef base, LLVMValueRef index, unsigned mask)
{
    if (mask == FULL) {
        LLVMValueRef s = LLVMBuildStore(c->b, v, cg_gep(c, base, index));
        LLVMSetAlignment(s, 4);
        return;
    }
    LLVMValueRef args[4] = {v, gep_any(c, base, index), LLVMConstInt(c->i32, 4, 0), lane_mask(c, mask)};
    call2(c, "llvm.masked.store", vec_t(c), c->ptr, args, 4);
}

/* base[index + l * stride] = v[l] for the lanes l in mask */
static void vscatter(cg *c, LLVMValueRef v, LLVMValueRef base, LLVMValueRef index, int64_t stride, unsigned mask)
{
    LLVMValueRef offs[VW];
    for (int l = 0; l < VW; l++) offs[l] = cg_i64(c, l * stride);
    LLVMValueRef off = LLVMConstVector(offs, VW);
    LLVMValueRef ptrs = LLVMBuildGEP2(c->b, c->f32, gep_any(c, base, index), &off, 1, "");
    LLVMValueRef args[4] = {v, ptrs, LLVMConstInt(c->i32, 4, 0), lane_mask(c, mask)};
    call2(c, "llvm.masked.scatter", vec_t(c), LLVMVectorType(c->ptr, VW), args, 4);
}

static LLVMValueRef vfma(cg *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef acc)
{
    LLVMValueRef args[3] = {a, b, acc};
    return cg_intrinsic(c, "llvm.fmuladd", vec_t(c), args, 3);
}

static LLVMValueRef vadd(cg *c, LLVMValueRef a, LLVMValueRef b) { return cg_fadd_reassoc(c, a, b); }

/* horizontal sum of a vector */
static LLVMValueRef hsum(cg *c, LLVMValueRef v)
{
    LLVMValueRef args[2] = {cg_f32(c, -0.0), v};
    LLVMValueRef r = cg_intrinsic(c, "llvm.vector.reduce.fadd", vec_t(c), args, 2);
    LLVMSetFastMathFlags(r, LLVMFastMathAllowReassoc | LLVMFastMathAllowContract);
    return r;
}

static LLVMValueRef iadd(cg *c, LLVMValueRef a, int64_t k) { return k ? LLVMBuildNSWAdd(c->b, a, cg_i64(c, k), "") : a; }

static LLVMValueRef vlocal(cg *c) { return cg_local(c, vec_t(c), "acc"); }
static LLVMValueRef vget(cg *c, LLVMValueRef p) { return LLVMBuildLoad2(c->b, vec_t(c), p, ""); }
static void vset(cg *c, LLVMValueRef v, LLVMValueRef p) { LLVMBuildStore(c->b, v, p); }

/* mask of the lanes [lo, hi) of a vector (clamped) */
static unsigned lanes(int64_t lo, int64_t hi)
{
    unsigned m = 0;
    for (int64_t l = lo < 0 ? 0 : lo; l < hi && l < VW; l++) m |= 1u << l;
    return m;
}

/* ---------------- correlation ---------------- */

typedef struct corr_tile {
    int cb, nv;                         /* output channels x vectors */
    unsigned ymask;                     /* valid ky */
    unsigned in_mask[MAXK][MAXV];       /* per kx and vector: lanes whose input column is valid */
    unsigned out_mask[MAXV];            /* lanes inside the output row */
} corr_tile;

/* One tile: cb output channels from co, output row oy, columns ox0 + [0, nv * VW). */
static void corr_tile_emit(cg *c, const cg_corr *p, LLVMValueRef inb, LLVMValueRef outb, LLVMValueRef co,
                           LLVMValueRef oy, LLVMValueRef ox0, const corr_tile *t)
{
    LLVMValueRef acc[MAXJ][MAXV];
    for (int j = 0; j < t->cb; j++) {
        LLVMValueRef init = p->bias ? splat(c, cg_load(c, p->bias, iadd(c, co, j))) : vzero(c);
        for (int v = 0; v < t->nv; v++) {
            acc[j][v] = vlocal(c);
            vset(c, init, acc[j][v]);
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
        LLVMValueRef wb = cg_mad(c, co, p->s_oc, cg_mad(c, ci, p->s_ic, NULL));
        LLVMValueRef a[MAXJ][MAXV];
        for (int j = 0; j < t->cb; j++)
            for (int v = 0; v < t->nv; v++) a[j][v] = vget(c, acc[j][v]);
        for (int ky = 0; ky < p->kh; ky++) {
            if (!(t->ymask >> ky & 1)) continue;
            LLVMValueRef iy = iadd(c, cg_mad(c, oy, p->sh, NULL), ky + p->off_y);
            LLVMValueRef rowi = cg_mad(c, iy, p->W, cg_mad(c, ox0, p->sw, NULL));
            for (int kx = 0; kx < p->kw; kx++) {
                LLVMValueRef x[MAXV] = {0};
                int n = 0;
                for (int v = 0; v < t->nv; v++)
                    if (t->in_mask[kx][v]) {
                        LLVMValueRef at = iadd(c, rowi, v * VW * p->sw + kx + p->off_x);
                        x[v] = p->sw == 1 ? vload(c, in_c, at, t->in_mask[kx][v]) : vgather(c, in_c, at, p->sw, t->in_mask[kx][v]);
                        n++;
                    }
                if (!n) continue;
                for (int j = 0; j < t->cb; j++) {
                    LLVMValueRef wv = splat(c, cg_load(c, p->w, iadd(c, wb, j * p->s_oc + p->tap[ky * p->kw + kx])));
                    for (int v = 0; v < t->nv; v++)
                        if (x[v]) a[j][v] = vfma(c, wv, x[v], a[j][v]);
                }
            }
        }
        for (int j = 0; j < t->cb; j++)
            for (int v = 0; v < t->nv; v++) vset(c, a[j][v], acc[j][v]);
        cg_loop_end(c, &lci);
    }
    for (int j = 0; j < t->cb; j++) {
        LLVMValueRef oyy = iadd(c, cg_mad(c, oy, p->o_sy, NULL), p->o_y0);
        LLVMValueRef orow = cg_mad(c, iadd(c, co, j), p->o_plane, cg_mad(c, oyy, p->o_row, cg_mad(c, ox0, p->o_sx, NULL)));
        for (int v = 0; v < t->nv; v++) {
            if (!t->out_mask[v]) continue;
            LLVMValueRef at = iadd(c, orow, v * VW * p->o_sx + p->o_x0);
            if (p->o_sx == 1) vstore(c, vget(c, acc[j][v]), outb, at, t->out_mask[v]);
            else vscatter(c, vget(c, acc[j][v]), outb, at, p->o_sx, t->out_mask[v]);
        }
    }
}

/* tile geometry of column tile starting at ox0 (compile time) */
static void corr_tile_cols(const cg_corr *p, int64_t ox0, corr_tile *t)
{
    for (int v = 0; v < t->nv; v++) {
        int64_t base = ox0 + v * VW;
        t->out_mask[v] = lanes(0, p->OW - base);
        for (int kx = 0; kx < p->kw; kx++) {
            /* valid ox: 0 <= ox * sw + kx + off_x < W and ox < OW */
            unsigned m = 0;
            for (int l = 0; l < VW; l++) {
                int64_t ix = (base + l) * p->sw + kx + p->off_x;
                if (ix >= 0 && ix < p->W) m |= 1u << l;
            }
            t->in_mask[kx][v] = m & t->out_mask[v];
        }
    }
}

static int tile_full(const corr_tile *t, int kw)
{
    for (int v = 0; v < t->nv; v++) {
        if (t->out_mask[v] != FULL) return 0;
        for (int kx = 0; kx < kw; kx++)
            if (t->in_mask[kx][v] != FULL) return 0;
    }
    return 1;
}

/* all column tiles of output row oy for cb channels from co */
static void corr_row(cg *c, const cg_corr *p, LLVMValueRef inb, LLVMValueRef outb, LLVMValueRef co, int cb,
                     int nv, LLVMValueRef oy, unsigned ymask)
{
    int64_t TW = (int64_t)nv * VW, nt = (p->OW + TW - 1) / TW;
    corr_tile t;
    for (int64_t k = 0; k < nt;) {
        memset(&t, 0, sizeof t);
        t.cb = cb, t.nv = nv, t.ymask = ymask;
        corr_tile_cols(p, k * TW, &t);
        if (tile_full(&t, p->kw)) {
            int64_t k1 = k + 1;
            for (;; k1++) {
                corr_tile u;
                memset(&u, 0, sizeof u);
                u.nv = nv;
                if (k1 >= nt) break;
                corr_tile_cols(p, k1 * TW, &u);
                if (!tile_full(&u, p->kw)) break;
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

static unsigned corr_ymask(const cg_corr *p, int64_t oy)
{
    unsigned m = 0;
    for (int ky = 0; ky < p->kh; ky++) {
        int64_t iy = oy * p->sh + ky + p->off_y;
        if (iy >= 0 && iy < p->H) m |= 1u << ky;
    }
    return m;
}

/* Output rows [ya, yb) (sharing the valid-ky set m) of all output channels: blocks of cb channels outside,
 * rows inside, so that the input rows of the band are reused from cache by every channel block. */
static void corr_band(cg *c, const cg_corr *p, LLVMValueRef inb, LLVMValueRef outb, LLVMValueRef ya, LLVMValueRef yb,
                      int single, unsigned m, int CB, int nv)
{
    int64_t nblk = p->oc_n / CB, rem = p->oc_n % CB;
    for (int part = 0; part < 2; part++) {
        int cb = part == 0 ? CB : (int)rem;
        cg_loop lblk, ly;
        LLVMValueRef co;
        if (part == 0) {
            if (!nblk) continue;
            co = cg_mad(c, cg_loop_begin(c, &lblk, cg_i64(c, 0), cg_i64(c, nblk), "coblk"), CB, NULL);
        } else {
            if (!rem) continue;
            co = cg_i64(c, nblk * CB);
        }
        if (single) {
            corr_row(c, p, inb, outb, co, cb, nv, ya, m);
        } else {
            LLVMValueRef oy = cg_loop_begin(c, &ly, ya, yb, "oy");
            corr_row(c, p, inb, outb, co, cb, nv, oy, m);
            cg_loop_end(c, &ly);
        }
        if (part == 0) cg_loop_end(c, &lblk);
    }
}

void cg_emit_corr(cg *c, const cg_corr *pp)
{
    cg_corr q = *pp;
    const cg_corr *p = &q;
    if (!q.o_plane) {
        q.o_plane = q.OH * q.OW, q.o_row = q.OW, q.o_sy = 1, q.o_y0 = 0, q.o_sx = 1, q.o_x0 = 0;
    }
    if (p->oc_n <= 0 || p->OH <= 0 || p->OW <= 0) return;
    int nv = p->OW > VW ? 2 : 1;
    int CB = nv == 2 ? 4 : 8;
    /* rows per band: the input rows a band reads (all input channels) stay within ~256 KB of cache */
    int64_t row_bytes = p->ic_n * p->W * 4 * (p->sh > 0 ? p->sh : 1);
    int64_t R = row_bytes > 0 ? (256 << 10) / row_bytes : p->OH;
    if (R < 1) R = 1;
    cg_loop lb;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), p->batch, "b");
    LLVMValueRef inb = cg_gep(c, p->in, cg_mad(c, b, p->ic_n * p->H * p->W, NULL));
    LLVMValueRef outb = cg_gep(c, p->out, cg_mad(c, b, p->oc_n * p->o_plane, NULL));
    /* segments of consecutive rows with the same valid-ky set, each cut into bands of R rows */
    for (int64_t y = 0; y < p->OH;) {
        unsigned m = corr_ymask(p, y);
        int64_t y1 = y + 1;
        while (y1 < p->OH && corr_ymask(p, y1) == m) y1++;
        int64_t len = y1 - y;
        if (len == 1) {
            corr_band(c, p, inb, outb, cg_i64(c, y), NULL, 1, m, CB, nv);
        } else if (len <= R) {
            corr_band(c, p, inb, outb, cg_i64(c, y), cg_i64(c, y1), 0, m, CB, nv);
        } else {
            cg_loop lband;
            LLVMValueRef k = cg_loop_begin(c, &lband, cg_i64(c, 0), cg_i64(c, (len + R - 1) / R), "band");
            LLVMValueRef ya = cg_mad(c, k, R, cg_i64(c, y));
            LLVMValueRef ye = iadd(c, ya, R);
            LLVMValueRef yb = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, ye, cg_i64(c, y1), ""), ye,
                                              cg_i64(c, y1), "");
            corr_band(c, p, inb, outb, ya, yb, 0, m, CB, nv);
            cg_loop_end(c, &lband);
        }
        y = y1;
    }
    cg_loop_end(c, &lb);
}

/* ---------------- dense ---------------- */

/* rows o .. o+r-1 for samples b .. b+nb-1: nv vectors per step along i */
static void dense_tile(cg *c, LLVMValueRef out, LLVMValueRef x, LLVMValueRef w, LLVMValueRef bias, int64_t in_n,
                       int64_t out_n, LLVMValueRef o, int r, LLVMValueRef b, int nb, int nv)
{
    LLVMValueRef acc[8][2][MAXV];
    for (int ri = 0; ri < r; ri++)
        for (int bi = 0; bi < nb; bi++)
            for (int v = 0; v < nv; v++) {
                acc[ri][bi][v] = vlocal(c);
                vset(c, vzero(c), acc[ri][bi][v]);
            }
    LLVMValueRef wrow = cg_mad(c, o, in_n, NULL), xrow = cg_mad(c, b, in_n, NULL);
    int64_t step = (int64_t)nv * VW, nfull = in_n / step;
    /* one step at column i0 with masks m[v] */
    for (int pass = 0; pass < 2; pass++) {
        unsigned m[MAXV];
        LLVMValueRef i0;
        cg_loop lk;
        if (pass == 0) {
            if (!nfull) continue;
            LLVMValueRef k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, nfull), "k");
            i0 = cg_mad(c, k, step, NULL);
            for (int v = 0; v < nv; v++) m[v] = FULL;
        } else {
            int64_t base = nfull * step;
            if (base >= in_n) continue;
            i0 = cg_i64(c, base);
            for (int v = 0; v < nv; v++) m[v] = lanes(0, in_n - base - v * VW);
        }
        LLVMValueRef a[8][2][MAXV];
        for (int ri = 0; ri < r; ri++)
            for (int bi = 0; bi < nb; bi++)
                for (int v = 0; v < nv; v++) a[ri][bi][v] = vget(c, acc[ri][bi][v]);
        LLVMValueRef xv[2][MAXV];
        for (int bi = 0; bi < nb; bi++)
            for (int v = 0; v < nv; v++)
                xv[bi][v] = m[v] ? vload(c, x, LLVMBuildNSWAdd(c->b, xrow, iadd(c, i0, bi * in_n + v * VW), ""), m[v]) : NULL;
        for (int ri = 0; ri < r; ri++)
            for (int v = 0; v < nv; v++) {
                if (!m[v]) continue;
                LLVMValueRef wv = vload(c, w, LLVMBuildNSWAdd(c->b, wrow, iadd(c, i0, ri * in_n + v * VW), ""), m[v]);
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
            cg_store(c, y, out, cg_mad(c, iadd(c, b, bi), out_n, iadd(c, o, ri)));
        }
    }
}

/* Rows o .. o+r-1 (r <= 8) for the whole batch: pairs of samples in tiles of 4 rows x 2 samples, a last odd
 * sample in one tile of r rows. Every output is summed in the same order on both paths (one vector of
 * partial sums over i, then a horizontal sum), so a sample's result does not depend on its batch position. */
static void dense_rows(cg *c, LLVMValueRef out, LLVMValueRef x, LLVMValueRef batch, LLVMValueRef w, LLVMValueRef bias,
                       int64_t in_n, int64_t out_n, LLVMValueRef o, int r)
{
    enum { BB = 2 };
    cg_loop lb, lr;
    LLVMValueRef npair = LLVMBuildSDiv(c->b, batch, cg_i64(c, BB), "");
    LLVMValueRef pb = cg_loop_begin(c, &lb, cg_i64(c, 0), npair, "bb");
    for (int r0 = 0; r0 < r; r0 += 4)
        dense_tile(c, out, x, w, bias, in_n, out_n, iadd(c, o, r0), r - r0 < 4 ? r - r0 : 4, cg_mad(c, pb, BB, NULL), BB, 1);
    cg_loop_end(c, &lb);
    LLVMValueRef b = cg_loop_begin(c, &lr, cg_mad(c, npair, BB, NULL), batch, "b");
    dense_tile(c, out, x, w, bias, in_n, out_n, o, r, b, 1, 1);
    cg_loop_end(c, &lr);
}

void cg_emit_dense(cg *c, LLVMValueRef out, LLVMValueRef x, LLVMValueRef batch, LLVMValueRef w,
                   LLVMValueRef bias, int64_t in_n, int64_t out_n)
{
    enum { R = 8 };
    int64_t nblk = out_n / R, rem = out_n % R;
    if (nblk > 0) {
        cg_loop lo;
        LLVMValueRef blk = cg_loop_begin(c, &lo, cg_i64(c, 0), cg_i64(c, nblk), "oblk");
        dense_rows(c, out, x, batch, w, bias, in_n, out_n, cg_mad(c, blk, R, NULL), R);
        cg_loop_end(c, &lo);
    }
    if (rem) dense_rows(c, out, x, batch, w, bias, in_n, out_n, cg_i64(c, nblk * R), (int)rem);
}

/* ---------------- dense transpose ---------------- */

/* columns i0 + [0, nv * VW) (masks m) for samples b .. b+nb-1, reducing over all units */
static void dense_t_tile(cg *c, LLVMValueRef out, LLVMValueRef s, LLVMValueRef w, int64_t in_n, int64_t units,
                         LLVMValueRef i0, const unsigned *m, int nv, LLVMValueRef b, int nb)
{
    LLVMValueRef acc[4][MAXV];
    for (int bi = 0; bi < nb; bi++)
        for (int v = 0; v < nv; v++) {
            acc[bi][v] = vlocal(c);
            vset(c, vzero(c), acc[bi][v]);
        }
    if (units > 0) {
        cg_loop lj;
        LLVMValueRef j = cg_loop_begin(c, &lj, cg_i64(c, 0), cg_i64(c, units), "j");
        LLVMValueRef a[4][MAXV], sv[4];
        for (int bi = 0; bi < nb; bi++) {
            sv[bi] = splat(c, cg_load(c, s, cg_mad(c, iadd(c, b, bi), units, j)));
            for (int v = 0; v < nv; v++) a[bi][v] = vget(c, acc[bi][v]);
        }
        LLVMValueRef wrow = cg_mad(c, j, in_n, i0);
        for (int v = 0; v < nv; v++) {
            if (!m[v]) continue;
            LLVMValueRef wv = vload(c, w, iadd(c, wrow, v * VW), m[v]);
            for (int bi = 0; bi < nb; bi++) a[bi][v] = vfma(c, wv, sv[bi], a[bi][v]);
        }
        for (int bi = 0; bi < nb; bi++)
            for (int v = 0; v < nv; v++) vset(c, a[bi][v], acc[bi][v]);
        cg_loop_end(c, &lj);
    }
    for (int bi = 0; bi < nb; bi++) {
        LLVMValueRef orow = cg_mad(c, iadd(c, b, bi), in_n, i0);
        for (int v = 0; v < nv; v++)
            if (m[v]) vstore(c, vget(c, acc[bi][v]), out, iadd(c, orow, v * VW), m[v]);
    }
}

static void dense_t_cols(cg *c, LLVMValueRef out, LLVMValueRef s, LLVMValueRef batch, LLVMValueRef w, int64_t in_n,
                         int64_t units, LLVMValueRef i0, const unsigned *m, int nv)
{
    enum { BB = 2 };
    cg_loop lb, lr;
    LLVMValueRef npair = LLVMBuildSDiv(c->b, batch, cg_i64(c, BB), "");
    LLVMValueRef pb = cg_loop_begin(c, &lb, cg_i64(c, 0), npair, "bb");
    dense_t_tile(c, out, s, w, in_n, units, i0, m, nv, cg_mad(c, pb, BB, NULL), BB);
    cg_loop_end(c, &lb);
    LLVMValueRef b = cg_loop_begin(c, &lr, cg_mad(c, npair, BB, NULL), batch, "b");
    dense_t_tile(c, out, s, w, in_n, units, i0, m, nv, b, 1);
    cg_loop_end(c, &lr);
}

void cg_emit_dense_t(cg *c, LLVMValueRef out, LLVMValueRef s, LLVMValueRef batch, LLVMValueRef w,
                     int64_t in_n, int64_t units)
{
    enum { NV = 4 };
    int64_t step = NV * VW, nfull = in_n / step, base = nfull * step;
    unsigned m[MAXV];
    if (nfull > 0) {
        cg_loop lk;
        for (int v = 0; v < NV; v++) m[v] = FULL;
        LLVMValueRef k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, nfull), "cols");
        dense_t_cols(c, out, s, batch, w, in_n, units, cg_mad(c, k, step, NULL), m, NV);
        cg_loop_end(c, &lk);
    }
    if (base < in_n) {
        int nv = (int)((in_n - base + VW - 1) / VW);
        for (int v = 0; v < nv; v++) m[v] = lanes(0, in_n - base - v * VW);
        dense_t_cols(c, out, s, batch, w, in_n, units, cg_i64(c, base), m, nv);
    }
}
