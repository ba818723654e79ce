/* The gradient routing of 2x2 stride-2 max pooling whose windows tile the input exactly (VGG's and the MNIST CNN's
 * pools), as vectors: 8 windows at a time, the two input rows read as 16 contiguous floats each and split into their
 * even and odd columns, the winner of each window chosen lane by lane, and all four cells of every window written
 * (the routed value or 0) and interleaved back into rows. The general routing (cg_backward.c) zeroes the output and
 * adds one value per window with scalar code: on the MNIST CNN's SmoothGrad it was a fifth of the time.
 * The winner is the general routing's: the first maximum in row-major order, strict >, NaN wins. */
#include "cg_kernels.h"
#include "cg_parallel.h"
#include "cg_vec.h"

/* 16 floats from base[at] (the lanes below n valid) as two vectors, split into the even and the odd ones */
static void load_pairs(cg *c, LLVMValueRef base, LLVMValueRef at, int64_t n, LLVMValueRef *even, LLVMValueRef *odd)
{
    LLVMValueRef lo = vload(c, base, at, lanes(0, n < CG_VW ? n : CG_VW));
    LLVMValueRef hi = n > CG_VW ? vload(c, base, iadd(c, at, CG_VW), lanes(0, n - CG_VW)) : vzero(c);
    int ev[CG_VW], od[CG_VW];
    for (int l = 0; l < CG_VW; l++) ev[l] = 2 * l, od[l] = 2 * l + 1;
    *even = shuffle_const(c, lo, hi, ev);
    *odd = shuffle_const(c, lo, hi, od);
}

/* even and odd lanes interleaved into base[at .. at + n) */
static void store_pairs(cg *c, LLVMValueRef base, LLVMValueRef at, int64_t n, LLVMValueRef even, LLVMValueRef odd)
{
    int lo[CG_VW], hi[CG_VW];
    for (int l = 0; l < CG_VW; l++) lo[l] = (l % 2 ? CG_VW : 0) + l / 2, hi[l] = lo[l] + CG_VW / 2;
    vstore(c, shuffle_const(c, even, odd, lo), base, at, lanes(0, n < CG_VW ? n : CG_VW));
    if (n > CG_VW) vstore(c, shuffle_const(c, even, odd, hi), base, iadd(c, at, CG_VW), lanes(0, n - CG_VW));
}

static LLVMValueRef splat_i32(cg *c, int k)
{
    LLVMValueRef e[CG_VW];
    for (int l = 0; l < CG_VW; l++) e[l] = LLVMConstInt(c->i32, (unsigned)k, 0);
    return LLVMConstVector(e, CG_VW);
}

/* windows ox0 .. ox0 + n - 1 (n <= CG_VW) of output row oy */
static void route_windows(cg *c, LLVMValueRef rpl, LLVMValueRef xpl, LLVMValueRef opl, LLVMValueRef oy,
                          LLVMValueRef ox0, int64_t n, int64_t OW, int64_t W)
{
    LLVMValueRef row0 = cg_mad(c, oy, 2 * W, cg_mad(c, ox0, 2, NULL)), row1 = iadd(c, row0, W);
    LLVMValueRef cell[4]; /* (0,0), (0,1), (1,0), (1,1): row-major order */
    load_pairs(c, xpl, row0, 2 * n, &cell[0], &cell[1]);
    load_pairs(c, xpl, row1, 2 * n, &cell[2], &cell[3]);
    /* 0 + r, as the general routing adds r to a zeroed cell: -0 routes as +0 */
    LLVMValueRef r = LLVMBuildFAdd(c->b, vzero(c), vload(c, rpl, cg_mad(c, oy, OW, ox0), lanes(0, n)), "");
    LLVMValueRef best = cell[0], idx = splat_i32(c, 0);
    for (int k = 1; k < 4; k++) {
        LLVMValueRef wins = LLVMBuildOr(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, cell[k], best, ""),
                                        LLVMBuildFCmp(c->b, LLVMRealUNO, cell[k], cell[k], ""), "");
        best = LLVMBuildSelect(c->b, wins, cell[k], best, "");
        idx = LLVMBuildSelect(c->b, wins, splat_i32(c, k), idx, "");
    }
    LLVMValueRef out[4];
    for (int k = 0; k < 4; k++)
        out[k] = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntEQ, idx, splat_i32(c, k), ""), r, vzero(c), "");
    store_pairs(c, opl, row0, 2 * n, out[0], out[1]);
    store_pairs(c, opl, row1, 2 * n, out[2], out[3]);
}

int cg_emit_maxpool_t_pairs(cg *c, const kargs *a0, int64_t C, int64_t H, int64_t W)
{
    const ir_node *n = a0->n;
    if (n->global || n->kh != 2 || n->kw != 2 || n->sh != 2 || n->sw != 2 || n->pad_t || n->pad_l || n->pad_b ||
        n->pad_r || H % 2 || W % 2)
        return 0;
    int64_t OH = H / 2, OW = W / 2, full = OW / CG_VW, rest = OW % CG_VW;
    kargs q = *a0; /* threads split the channels; each runs them for the whole batch */
    const kargs *a = &q;
    cg_par par;
    LLVMValueRef clo, chi;
    cg_par_begin_args(c, &par, &q, C, OH * OW * 16, &clo, &chi);
    cg_loop lb, lp, ly, lx;
    LLVMValueRef bi = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef pl = cg_mad(c, bi, C, cg_loop_begin(c, &lp, clo, chi, "ch"));
    LLVMValueRef rpl = cg_gep(c, a->in[0], cg_mad(c, pl, OH * OW, NULL));
    LLVMValueRef xpl = cg_gep(c, a->in[1], cg_mad(c, pl, H * W, NULL));
    LLVMValueRef opl = cg_gep(c, a->out, cg_mad(c, pl, H * W, NULL));
    LLVMValueRef oy = cg_loop_begin(c, &ly, cg_i64(c, 0), cg_i64(c, OH), "oy");
    if (full) {
        LLVMValueRef ox0 = cg_mad(c, cg_loop_begin(c, &lx, cg_i64(c, 0), cg_i64(c, full), "ox"), CG_VW, NULL);
        route_windows(c, rpl, xpl, opl, oy, ox0, CG_VW, OW, W);
        cg_loop_end(c, &lx);
    }
    if (rest) route_windows(c, rpl, xpl, opl, oy, cg_i64(c, full * CG_VW), rest, OW, W);
    cg_loop_end(c, &ly);
    cg_loop_end(c, &lp);
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
    return 1;
}
