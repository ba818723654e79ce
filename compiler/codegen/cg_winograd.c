/* Winograd F(2x2, 3x3) (opt/winograd.h) for a conv2d that takes it, or the transposed conv of its gradient (the
 * correlation with the filters flipped, conv2d_t_phase). Per 2x2 block of outputs (a tile) and pair of
 * channels, out = A^T [U (.) (B^T d B)] A with d the 4x4 block of inputs under the tile and U = G w G^T the
 * transformed filter (a derived constant, [16][K][C]; a transposed conv reads its layer's, permuted: products()):
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  A^T = [1 1 1 0; 0 1 -1 -1].
 * A unit is 16 consecutive tiles of one row of tiles (one vector, lane l the tile tx0 + l), or on a narrow plane P
 * rows of its TX tiles (lane p TX + tx the tile (P unit + p, tx)); the threads split the (sample, chunk of UC units)
 * pairs (opt/winograd.c's tiling) in WINOGRAD_SLOTS slots, and a slot runs its chunks of T = 16 UC tiles in its
 * scratch (the workspace's, before the arena):
 *   V[16][C][T] = B^T d B for each input channel (the 4x4 blocks read as even and odd lanes of row vectors),
 *   M[16][K][T] = U[xi] V[xi] for each xi: the register-blocked GEMM tiles of the products (cg_tiles.c),
 *   out = A^T M A + bias, through the fused consumer: two rows of 32 columns (outputs) per unit and channel, or
 *   on a narrow plane 2 P rows of 2 TX.
 * 2.25x fewer multiplies than the direct correlation; the transforms are additions only. The sums differ from
 * the direct ones by rounding (measured in docs/performance.md; tests/unit/test_winograd.c bounds it). */
#include "cg_ew.h"
#include "cg_gemm.h"
#include "cg_kernels.h"
#include "cg_parallel.h"
#include "cg_tiles.h"
#include "cg_vec.h"
#include "winograd.h"

#define WV 16 /* lanes per vector: tiles per unit */

typedef struct wino {
    cg_corr q;         /* the correlation (vw = 16), its epilogue and output layout */
    winograd_tiling t; /* channels, tiles, units and chunks */
    LLVMValueRef oc0;  /* the output transform's channels: n_oc from oc0 (all K from 0, or a block) */
    int64_t n_oc;
    LLVMValueRef u; /* the transformed filters, [16][K][C], or for a transposed conv its layer's [16][C][K] */
    int flipped;    /* a transposed conv: u is the transform of the filters it reads flipped */
} wino;

static LLVMValueRef shuffle16(cg *c, LLVMValueRef a, LLVMValueRef b, int first, int step)
{
    LLVMValueRef sel[WV];
    for (int l = 0; l < WV; l++) sel[l] = LLVMConstInt(c->i32, (unsigned)(first + l * step), 0);
    return LLVMBuildShuffleVector(c->b, a, b, LLVMConstVector(sel, WV), "");
}

/* lanes l + half * 8 of a and b interleaved: a[h], b[h], a[h + 1], b[h + 1], ... */
static LLVMValueRef interleave(cg *c, LLVMValueRef a, LLVMValueRef b, int half)
{
    LLVMValueRef sel[WV];
    for (int l = 0; l < WV; l++) sel[l] = LLVMConstInt(c->i32, (unsigned)(half * 8 + l / 2 + (l % 2) * WV), 0);
    return LLVMBuildShuffleVector(c->b, a, b, LLVMConstVector(sel, WV), "");
}

static LLVMValueRef splat_i64(cg *c, LLVMValueRef x)
{
    LLVMTypeRef vt = LLVMVectorType(c->i64, WV);
    LLVMValueRef v = LLVMBuildInsertElement(c->b, LLVMGetPoison(vt), x, LLVMConstInt(c->i32, 0, 0), "");
    return LLVMBuildShuffleVector(c->b, v, LLVMGetPoison(vt), LLVMConstNull(LLVMVectorType(c->i32, WV)), "");
}

/* lanes l with 0 <= x + l < W, and the row inside the input (ok, i1) */
static LLVMValueRef lanes_inside(cg *c, LLVMValueRef x, int64_t W, LLVMValueRef ok)
{
    LLVMValueRef iota[WV];
    for (int l = 0; l < WV; l++) iota[l] = cg_i64(c, l);
    LLVMValueRef idx = LLVMBuildAdd(c->b, splat_i64(c, x), LLVMConstVector(iota, WV), "");
    LLVMTypeRef vt = LLVMVectorType(c->i64, WV);
    LLVMValueRef m = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, idx, LLVMConstNull(vt), ""),
                                  LLVMBuildICmp(c->b, LLVMIntSLT, idx, splat_i64(c, cg_i64(c, W)), ""), "");
    LLVMValueRef okv =
        LLVMBuildICmp(c->b, LLVMIntNE, splat_i64(c, LLVMBuildZExt(c->b, ok, c->i64, "")), LLVMConstNull(vt), "");
    return LLVMBuildAnd(c->b, m, okv, "");
}

/* base[index + l] for the lanes in the (run-time) mask, 0 elsewhere; lanes outside it are never read */
static LLVMValueRef load_masked(cg *c, LLVMValueRef base, LLVMValueRef index, LLVMValueRef mask)
{
    LLVMValueRef args[4] = { gep_any(c, base, index), LLVMConstInt(c->i32, 4, 0), mask, LLVMConstNull(vec_n(c, WV)) };
    return call2(c, "llvm.masked.load", vec_n(c, WV), c->ptr, args, 4);
}

static LLVMValueRef fadd(cg *c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(c->b, a, b, ""); }
static LLVMValueRef fsub(cg *c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFSub(c->b, a, b, ""); }

/* B^T x B of the 4 x 4 values x[r][j]; the rows first */
static void input_transform(cg *c, LLVMValueRef x[4][4], LLVMValueRef v[4][4])
{
    LLVMValueRef t[4][4];
    for (int j = 0; j < 4; j++) {
        t[0][j] = fsub(c, x[0][j], x[2][j]);
        t[1][j] = fadd(c, x[1][j], x[2][j]);
        t[2][j] = fsub(c, x[2][j], x[1][j]);
        t[3][j] = fsub(c, x[1][j], x[3][j]);
    }
    for (int r = 0; r < 4; r++) {
        v[r][0] = fsub(c, t[r][0], t[r][2]);
        v[r][1] = fadd(c, t[r][1], t[r][2]);
        v[r][2] = fsub(c, t[r][2], t[r][1]);
        v[r][3] = fsub(c, t[r][1], t[r][3]);
    }
}

/* Lanes p TX + tx (p < P) of x[r][j]: column 2 tx + j of rows[2 p + r]; the other lanes 0 */
static LLVMValueRef rows_lanes(cg *c, const wino *w, LLVMValueRef *rows, int r, int j)
{
    int64_t TX = w->t.TX;
    LLVMValueRef acc = LLVMConstNull(vec_n(c, WV));
    for (int p = 0; p < w->t.P; p++) {
        LLVMValueRef sel[WV];
        for (int l = 0; l < WV; l++) {
            int mine = l >= p * TX && l < (p + 1) * TX;
            sel[l] = LLVMConstInt(c->i32, (unsigned)(mine ? WV + 2 * (l - p * TX) + j : l), 0);
        }
        acc = LLVMBuildShuffleVector(c->b, acc, rows[2 * p + r], LLVMConstVector(sel, WV), "");
    }
    return acc;
}

/* transform_inputs on a narrow plane: the unit's P rows of tiles read 2 P + 2 input rows, one vector each */
static void transform_input_rows(cg *c, const wino *w, LLVMValueRef inb, LLVMValueRef V, LLVMValueRef unit,
                                 LLVMValueRef col0)
{
    const cg_corr *p = &w->q;
    int n_rows = 2 * (int)w->t.P + 2;
    LLVMValueRef y0 = cg_mad(c, unit, 2 * w->t.P, cg_i64(c, p->off_y)), x0 = cg_i64(c, p->off_x);
    LLVMValueRef mask[2 * WV + 2], at[2 * WV + 2];
    for (int i = 0; i < n_rows; i++) {
        LLVMValueRef iy = iadd(c, y0, i);
        LLVMValueRef ok = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, iy, cg_i64(c, 0), ""),
                                       LLVMBuildICmp(c->b, LLVMIntSLT, iy, cg_i64(c, p->H), ""), "");
        at[i] = cg_mad(c, iy, p->W, x0);
        mask[i] = lanes_inside(c, x0, p->W, ok);
    }
    cg_loop li;
    LLVMValueRef ic = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, w->t.C), "wic");
    LLVMValueRef plane = cg_mad(c, ic, p->H * p->W, NULL);
    LLVMValueRef rows[2 * WV + 2], x[4][4], v[4][4];
    for (int i = 0; i < n_rows; i++) rows[i] = load_masked(c, inb, LLVMBuildAdd(c->b, plane, at[i], ""), mask[i]);
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 4; j++) x[r][j] = rows_lanes(c, w, rows, r, j);
    input_transform(c, x, v);
    for (int xi = 0; xi < 16; xi++)
        vstore_n(c, v[xi / 4][xi % 4], V, cg_mad(c, ic, w->t.T, iadd(c, col0, (int64_t)xi * w->t.C * w->t.T)),
                 lanes_n(WV, WV), WV);
    cg_loop_end(c, &li);
}

/* V[xi][ic][col0 + l] for every input channel ic, from the 4x4 input blocks of unit `unit`'s 16 tiles */
static void transform_inputs(cg *c, const wino *w, LLVMValueRef inb, LLVMValueRef V, LLVMValueRef unit,
                             LLVMValueRef col0)
{
    if (w->t.P > 1) {
        transform_input_rows(c, w, inb, V, unit, col0);
        return;
    }
    const cg_corr *p = &w->q;
    LLVMValueRef ty = LLVMBuildUDiv(c->b, unit, cg_i64(c, w->t.GX), "");
    LLVMValueRef gx = LLVMBuildURem(c->b, unit, cg_i64(c, w->t.GX), "");
    LLVMValueRef y0 = cg_mad(c, ty, 2, cg_i64(c, p->off_y)), x0 = cg_mad(c, gx, 2 * WV, cg_i64(c, p->off_x));
    /* tile lane l reads columns x0 + 2 l + j: even and odd lanes of the rows at x0 (+ 16) and x0 + 2 (+ 16) */
    static const int offset[4] = { 0, WV, 2, WV + 2 };
    LLVMValueRef mask[4][4], at[4];
    for (int r = 0; r < 4; r++) {
        LLVMValueRef iy = iadd(c, y0, r);
        LLVMValueRef ok = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, iy, cg_i64(c, 0), ""),
                                       LLVMBuildICmp(c->b, LLVMIntSLT, iy, cg_i64(c, p->H), ""), "");
        at[r] = cg_mad(c, iy, p->W, x0);
        for (int k = 0; k < 4; k++) mask[r][k] = lanes_inside(c, iadd(c, x0, offset[k]), p->W, ok);
    }
    cg_loop li;
    LLVMValueRef ic = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, w->t.C), "wic");
    LLVMValueRef plane = cg_mad(c, ic, p->H * p->W, NULL);
    LLVMValueRef x[4][4], v[4][4];
    for (int r = 0; r < 4; r++) {
        LLVMValueRef row[4];
        for (int k = 0; k < 4; k++)
            row[k] = load_masked(c, inb, LLVMBuildAdd(c->b, plane, iadd(c, at[r], offset[k]), ""), mask[r][k]);
        x[r][0] = shuffle16(c, row[0], row[1], 0, 2);
        x[r][1] = shuffle16(c, row[0], row[1], 1, 2);
        x[r][2] = shuffle16(c, row[2], row[3], 0, 2);
        x[r][3] = shuffle16(c, row[2], row[3], 1, 2);
    }
    input_transform(c, x, v);
    for (int xi = 0; xi < 16; xi++)
        vstore_n(c, v[xi / 4][xi % 4], V, cg_mad(c, ic, w->t.T, iadd(c, col0, (int64_t)xi * w->t.C * w->t.T)),
                 lanes_n(WV, WV), WV);
    cg_loop_end(c, &li);
}

/* A^T m A + bias of output channel oc's 16 tiles: y[r][k] lane l, output (2 ty + r, 2 tx + k) of tile l */
static void output_tiles(cg *c, const wino *w, LLVMValueRef M, LLVMValueRef col0, LLVMValueRef oc, LLVMValueRef y[2][2])
{
    const cg_corr *p = &w->q;
    LLVMValueRef m[4][4];
    for (int xi = 0; xi < 16; xi++)
        m[xi / 4][xi % 4] =
            vload_n(c, M, cg_mad(c, oc, w->t.T, iadd(c, col0, (int64_t)xi * w->t.K * w->t.T)), lanes_n(WV, WV), WV);
    LLVMValueRef s[2][4];
    for (int j = 0; j < 4; j++) {
        s[0][j] = fadd(c, fadd(c, m[0][j], m[1][j]), m[2][j]);
        s[1][j] = fsub(c, fsub(c, m[1][j], m[2][j]), m[3][j]);
    }
    for (int r = 0; r < 2; r++) {
        y[r][0] = fadd(c, fadd(c, s[r][0], s[r][1]), s[r][2]);
        y[r][1] = fsub(c, fsub(c, s[r][1], s[r][2]), s[r][3]);
    }
    if (p->bias) {
        LLVMValueRef b = splat_n(c, cg_load(c, p->bias, oc), WV);
        for (int r = 0; r < 2; r++)
            for (int k = 0; k < 2; k++) y[r][k] = fadd(c, y[r][k], b);
    }
}

/* A unit's outputs, stored as rows 2 ty (and 2 ty + 1 when row1) from column 32 gx: lo / hi are the masks of the
 * row's two vectors of outputs */
static void store_outputs(cg *c, const wino *w, LLVMValueRef outb, LLVMValueRef M, LLVMValueRef col0, LLVMValueRef at0,
                          unsigned lo, unsigned hi, int row1)
{
    const cg_corr *p = &w->q;
    cg_loop lo_loop;
    LLVMValueRef oc = cg_loop_begin(c, &lo_loop, w->oc0, iadd(c, w->oc0, w->n_oc), "woc");
    LLVMValueRef y[2][2];
    output_tiles(c, w, M, col0, oc, y);
    LLVMValueRef at = cg_mad(c, oc, p->OH * p->OW, at0);
    for (int r = 0; r < 1 + row1; r++) {
        LLVMValueRef row_at = iadd(c, at, r * p->OW);
        if (lo) cg_corr_store_acc(c, p, outb, row_at, interleave(c, y[r][0], y[r][1], 0), lo, oc);
        if (hi) cg_corr_store_acc(c, p, outb, iadd(c, row_at, WV), interleave(c, y[r][0], y[r][1], 1), hi, oc);
    }
    cg_loop_end(c, &lo_loop);
}

/* if (cond) { *then ... } else { *other ... } then *join: the builder is left in *then */
static void branch(cg *c, LLVMValueRef cond, LLVMBasicBlockRef *then, LLVMBasicBlockRef *other, LLVMBasicBlockRef *join)
{
    *then = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "wthen");
    *other = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "welse");
    *join = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "wjoin");
    LLVMBuildCondBr(c->b, cond, *then, *other);
    LLVMPositionBuilderAtEnd(c->b, *then);
}

/* store_outputs for the row of tiles ty: without its second row of outputs where that is past an odd height */
static void rows_case(cg *c, const wino *w, LLVMValueRef outb, LLVMValueRef M, LLVMValueRef col0, LLVMValueRef at0,
                      LLVMValueRef ty, unsigned lo, unsigned hi)
{
    if (w->q.OH % 2 == 0) {
        store_outputs(c, w, outb, M, col0, at0, lo, hi, 1);
        return;
    }
    LLVMBasicBlockRef last, other, join;
    branch(c, LLVMBuildICmp(c->b, LLVMIntEQ, ty, cg_i64(c, w->t.TY - 1), ""), &last, &other, &join);
    store_outputs(c, w, outb, M, col0, at0, lo, hi, 0);
    LLVMBuildBr(c->b, join);
    LLVMPositionBuilderAtEnd(c->b, other);
    store_outputs(c, w, outb, M, col0, at0, lo, hi, 1);
    LLVMBuildBr(c->b, join);
    LLVMPositionBuilderAtEnd(c->b, join);
}

/* A narrow plane's unit: its first n_rows rows of outputs from row at0 / OW, row 2 p + r from lanes p TX to
 * p TX + TX - 1 */
static void store_output_rows(cg *c, const wino *w, LLVMValueRef outb, LLVMValueRef M, LLVMValueRef col0,
                              LLVMValueRef at0, int64_t n_rows)
{
    const cg_corr *p = &w->q;
    int64_t TX = w->t.TX, cols = 2 * TX < p->OW ? 2 * TX : p->OW;
    cg_loop lo_loop;
    LLVMValueRef oc = cg_loop_begin(c, &lo_loop, w->oc0, iadd(c, w->oc0, w->n_oc), "woc");
    LLVMValueRef y[2][2];
    output_tiles(c, w, M, col0, oc, y);
    LLVMValueRef at = cg_mad(c, oc, p->OH * p->OW, at0);
    for (int64_t q = 0; q < n_rows; q++) {
        int64_t tp = q / 2, r = q % 2;
        LLVMValueRef sel[WV];
        for (int m = 0; m < WV; m++)
            sel[m] = LLVMConstInt(c->i32, m < 2 * TX ? (unsigned)((m % 2) * WV + tp * TX + m / 2) : 0, 0);
        LLVMValueRef row = LLVMBuildShuffleVector(c->b, y[r][0], y[r][1], LLVMConstVector(sel, WV), "");
        cg_corr_store_acc(c, p, outb, iadd(c, at, q * p->OW), row, lanes_n(cols, WV), oc);
    }
    cg_loop_end(c, &lo_loop);
}

/* The outputs of a narrow plane's unit: the last unit may hold fewer rows (of tiles, and an odd height's last) */
static void transform_output_rows(cg *c, const wino *w, LLVMValueRef outb, LLVMValueRef M, LLVMValueRef unit,
                                  LLVMValueRef col0)
{
    const cg_corr *p = &w->q;
    int64_t full = 2 * w->t.P, last = p->OH - (w->t.units - 1) * full;
    LLVMValueRef at0 = cg_mad(c, unit, full * p->OW, NULL);
    if (last == full) {
        store_output_rows(c, w, outb, M, col0, at0, full);
        return;
    }
    LLVMBasicBlockRef then, other, join;
    branch(c, LLVMBuildICmp(c->b, LLVMIntEQ, unit, cg_i64(c, w->t.units - 1), ""), &then, &other, &join);
    store_output_rows(c, w, outb, M, col0, at0, last);
    LLVMBuildBr(c->b, join);
    LLVMPositionBuilderAtEnd(c->b, other);
    store_output_rows(c, w, outb, M, col0, at0, full);
    LLVMBuildBr(c->b, join);
    LLVMPositionBuilderAtEnd(c->b, join);
}

/* The outputs of unit `unit`'s tiles: a row's last unit may be cut at the right border and the last row of tiles
 * at the bottom (an odd height); each case is a loop of its own with compile-time masks. */
static void transform_outputs(cg *c, const wino *w, LLVMValueRef outb, LLVMValueRef M, LLVMValueRef unit,
                              LLVMValueRef col0)
{
    if (w->t.P > 1) {
        transform_output_rows(c, w, outb, M, unit, col0);
        return;
    }
    const cg_corr *p = &w->q;
    LLVMValueRef ty = LLVMBuildUDiv(c->b, unit, cg_i64(c, w->t.GX), "");
    LLVMValueRef gx = LLVMBuildURem(c->b, unit, cg_i64(c, w->t.GX), "");
    LLVMValueRef at0 = cg_mad(c, ty, 2 * p->OW, cg_mad(c, gx, 2 * WV, NULL));
    int64_t last_cols = p->OW - (w->t.GX - 1) * 2 * WV; /* output columns of a row's last unit */
    unsigned full = lanes_n(WV, WV);
    if (last_cols == 2 * WV) {
        rows_case(c, w, outb, M, col0, at0, ty, full, full);
        return;
    }
    LLVMBasicBlockRef last, other, join;
    branch(c, LLVMBuildICmp(c->b, LLVMIntEQ, gx, cg_i64(c, w->t.GX - 1), ""), &last, &other, &join);
    rows_case(c, w, outb, M, col0, at0, ty, lanes_n(last_cols, WV), last_cols > WV ? lanes_n(last_cols - WV, WV) : 0);
    LLVMBuildBr(c->b, join);
    LLVMPositionBuilderAtEnd(c->b, other);
    rows_case(c, w, outb, M, col0, at0, ty, full, full);
    LLVMBuildBr(c->b, join);
    LLVMPositionBuilderAtEnd(c->b, join);
}

/* 0 <-> 3 of a row or column index of the 4 x 4 transforms */
static LLVMValueRef swap03(cg *c, LLVMValueRef a)
{
    LLVMValueRef three = cg_i64(c, 3);
    LLVMValueRef other = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntEQ, a, three, ""), cg_i64(c, 0), a, "");
    return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntEQ, a, cg_i64(c, 0), ""), three, other, "");
}

/* M[xi] rows [k0, k0 + rows) = U[xi] V[xi]. A transposed conv correlates with its layer's filters flipped, J w J (J the
 * 3 x 3 reversal): as G J = S G, S swapping rows 0 and 3, their transform is S U S^T, transposed (the layer's outputs
 * are its inputs): U[s(xi)]^T, read in place. */
static void products(cg *c, const wino *w, LLVMValueRef M, LLVMValueRef V, LLVMValueRef xi, LLVMValueRef k0,
                     int64_t rows)
{
    winograd_tiling t = w->t;
    LLVMValueRef out = cg_gep(c, M, cg_mad(c, xi, t.K * t.T, cg_mad(c, k0, t.T, NULL)));
    LLVMValueRef v = cg_gep(c, V, cg_mad(c, xi, t.C * t.T, NULL));
    if (!w->flipped) {
        LLVMValueRef a = cg_gep(c, w->u, cg_mad(c, xi, t.K * t.C, cg_mad(c, k0, t.C, NULL)));
        cg_emit_gemm_strided(c, out, a, t.C, 1, rows, v, t.C, t.T);
        return;
    }
    LLVMValueRef four = cg_i64(c, 4);
    LLVMValueRef sx =
        cg_mad(c, swap03(c, LLVMBuildUDiv(c->b, xi, four, "")), 4, swap03(c, LLVMBuildURem(c->b, xi, four, "")));
    LLVMValueRef a = cg_gep(c, w->u, cg_mad(c, sx, t.K * t.C, k0));
    cg_emit_gemm_strided(c, out, a, 1, t.K, rows, v, t.C, t.T);
}

/* A whole layer at once (winograd_tiling.whole), sample by sample: the input transform of every unit (threads split
 * the units), then per block of output channels (threads split the blocks) the 16 products and the output
 * transform. The filters are read once per sample, the transformed inputs (in L3) once per block. */
static void emit_whole(cg *c, wino *w, LLVMValueRef scratch)
{
    cg_corr *q = &w->q;
    winograd_tiling t = w->t;
    cg_loop lb, lu, lk, lx, lv;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), q->batch, "b");
    LLVMValueRef inb = cg_gep(c, q->in, cg_mad(c, b, t.C * q->H * q->W, NULL));
    LLVMValueRef outb = cg_gep(c, q->out, cg_mad(c, b, t.K * q->o_plane, NULL));
    q->epi_base = cg_mad(c, b, t.K * q->o_plane, NULL);
    LLVMValueRef one = cg_i64(c, 1), lo, hi;
    cg_par par;
    { /* the input transform */
        LLVMValueRef *vals[2] = { &scratch, &inb };
        cg_par_begin(c, &par, t.units, 16 * t.C * WV * CG_PAR_ELEMENT_WORK, one, vals, 2, 0u, &lo, &hi);
        cg_wide_vectors(c);
        LLVMValueRef unit = cg_loop_begin(c, &lu, lo, hi, "wunit");
        transform_inputs(c, w, inb, scratch, unit, cg_mad(c, unit, WV, NULL));
        cg_loop_end(c, &lu);
        cg_par_end(c, &par);
    }
    int64_t blocks = t.K / WINOGRAD_WHOLE_BLOCK;
    LLVMValueRef *vals[7 + IR_MAX_INPUTS] = { &outb, &scratch, &q->w, &q->bias, &q->epi_base, &inb, &q->batch };
    int n_vals = cg_epilogue_slots(q->epi, q->epi_in, q->epi_in, vals, 7);
    cg_par_begin(c, &par, blocks, WINOGRAD_WHOLE_BLOCK * t.T * 16 * t.C, one, vals, n_vals, 1u, &lo, &hi);
    cg_gemm_begin(c);
    cg_wide_vectors(c);
    LLVMValueRef V = scratch, M = cg_gep(c, scratch, cg_i64(c, 16 * t.C * t.T));
    LLVMValueRef k = cg_loop_begin(c, &lk, lo, hi, "wblock");
    LLVMValueRef k0 = cg_mad(c, k, WINOGRAD_WHOLE_BLOCK, NULL);
    LLVMValueRef xi = cg_loop_begin(c, &lx, cg_i64(c, 0), cg_i64(c, 16), "wxi");
    w->u = q->w;
    products(c, w, M, V, xi, k0, WINOGRAD_WHOLE_BLOCK);
    cg_loop_end_rolled(c, &lx);
    w->oc0 = k0, w->n_oc = WINOGRAD_WHOLE_BLOCK;
    LLVMValueRef unit = cg_loop_begin(c, &lv, cg_i64(c, 0), cg_i64(c, t.units), "wout");
    transform_outputs(c, w, outb, M, unit, cg_mad(c, unit, WV, NULL));
    cg_loop_end(c, &lv);
    cg_loop_end(c, &lk);
    cg_par_end(c, &par);
    cg_loop_end(c, &lb);
}

void cg_emit_winograd(cg *c, const cg_corr *p0, const ir_const *u, int flipped, LLVMValueRef scratch)
{
    wino w = { .q = *p0, .flipped = flipped };
    cg_corr *q = &w.q;
    q->vw = WV, q->o_sx = 1, q->o_plane = q->OH * q->OW, q->o_row = q->OW, q->o_sy = 1, q->o_y0 = 0, q->o_x0 = 0;
    winograd_tiling t = w.t = winograd_tile(q->ic_n, q->oc_n, q->OH, q->OW);
    q->w = cg_const_ptr(c, u);
    if (t.whole) {
        emit_whole(c, &w, scratch);
        return;
    }
    w.oc0 = cg_i64(c, 0), w.n_oc = t.K;
    cg_par par;
    LLVMValueRef lo, hi;
    LLVMValueRef *vals[6 + IR_MAX_INPUTS] = { &q->out, &q->in, &q->w, &q->batch, &q->bias, &scratch };
    int n_vals = cg_epilogue_slots(q->epi, q->epi_in, q->epi_in, vals, 6);
    /* the (sample, chunk) pairs, WINOGRAD_SLOTS ranges of them: a batch of small layers (one chunk each) splits by
     * samples, a large layer by chunks */
    cg_par_begin(c, &par, WINOGRAD_SLOTS, (t.chunks * t.T * 16 * t.C * t.K + WINOGRAD_SLOTS - 1) / WINOGRAD_SLOTS,
                 q->batch, vals, n_vals, 1u, &lo, &hi);
    cg_gemm_begin(c);
    cg_wide_vectors(c);
    cg_loop ls, lc, lu, lx, lv;
    /* slot s: its own scratch, pairs [s pairs / slots, (s + 1) pairs / slots) */
    LLVMValueRef s = cg_loop_begin(c, &ls, lo, hi, "wslot");
    LLVMValueRef V = cg_gep(c, scratch, cg_mad(c, s, t.slot_floats, NULL));
    LLVMValueRef M = cg_gep(c, V, cg_i64(c, 16 * t.C * t.T));
    LLVMValueRef pairs = LLVMBuildMul(c->b, q->batch, cg_i64(c, t.chunks), "");
    LLVMValueRef i0 = LLVMBuildUDiv(c->b, LLVMBuildMul(c->b, s, pairs, ""), cg_i64(c, WINOGRAD_SLOTS), "");
    LLVMValueRef i1 = LLVMBuildUDiv(c->b, LLVMBuildMul(c->b, iadd(c, s, 1), pairs, ""), cg_i64(c, WINOGRAD_SLOTS), "");
    LLVMValueRef i = cg_loop_begin(c, &lc, i0, i1, "wpair");
    LLVMValueRef b = LLVMBuildUDiv(c->b, i, cg_i64(c, t.chunks), ""),
                 chunk = LLVMBuildURem(c->b, i, cg_i64(c, t.chunks), "");
    LLVMValueRef inb = cg_gep(c, q->in, cg_mad(c, b, t.C * q->H * q->W, NULL));
    LLVMValueRef outb = cg_gep(c, q->out, cg_mad(c, b, t.K * q->o_plane, NULL));
    q->epi_base = cg_mad(c, b, t.K * q->o_plane, NULL);
    /* a chunk past the last unit transforms the last unit again (its products are not stored) */
    LLVMValueRef k = cg_loop_begin(c, &lu, cg_i64(c, 0), cg_i64(c, t.UC), "wunit");
    transform_inputs(c, &w, inb, V, smin(c, cg_mad(c, chunk, t.UC, k), t.units - 1), cg_mad(c, k, WV, NULL));
    cg_loop_end(c, &lu);
    LLVMValueRef xi = cg_loop_begin(c, &lx, cg_i64(c, 0), cg_i64(c, 16), "wxi");
    w.u = q->w;
    products(c, &w, M, V, xi, cg_i64(c, 0), t.K);
    cg_loop_end_rolled(c, &lx);
    LLVMValueRef k2 = cg_loop_begin(c, &lv, cg_i64(c, 0), cg_i64(c, t.UC), "wout");
    LLVMValueRef unit = cg_mad(c, chunk, t.UC, k2);
    LLVMBasicBlockRef next = begin_if_gt(c, LLVMBuildSub(c->b, cg_i64(c, t.units), unit, ""), 0);
    transform_outputs(c, &w, outb, M, unit, cg_mad(c, k2, WV, NULL));
    end_if(c, next);
    cg_loop_end(c, &lv);
    cg_loop_end(c, &lc);
    cg_loop_end(c, &ls);
    cg_par_end(c, &par);
}
