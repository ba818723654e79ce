/* Parts shared by the correlation kernels (cg_gemm.c: row tiles; cg_corr_flat.c: flattened small planes): storing a
 * tile's sums through the fused consumer and the per-block copy of mapped (pos / neg) weights. */
#include "cg_ew.h"
#include "cg_gemm.h"
#include "cg_vec.h"

/* acc of p->vw lanes stored at out[at + l * o_sx] for the lanes in mask, through the fused consumer: 16-float
 * vectors in two 8-float halves where there is a consumer (evaluated on 8 lanes) or a stride */
void cg_corr_store_acc(cg *c, const cg_corr *p, LLVMValueRef outb, LLVMValueRef at, LLVMValueRef val, unsigned mask,
                       LLVMValueRef ch)
{
    if (p->vw != CG_VW && !p->epi && p->o_sx == 1) {
        vstore_n(c, val, outb, at, mask, p->vw);
        return;
    }
    for (int h = 0; h < p->vw / CG_VW; h++) {
        unsigned m = (mask >> (h * CG_VW)) & CG_FULL_MASK;
        if (!m) continue;
        LLVMValueRef v = val, ah = iadd(c, at, (int64_t)h * CG_VW * p->o_sx);
        if (p->vw != CG_VW) {
            int idx[CG_VW];
            for (int l = 0; l < CG_VW; l++) idx[l] = h * CG_VW + l;
            LLVMValueRef sel[CG_VW];
            for (int l = 0; l < CG_VW; l++) sel[l] = LLVMConstInt(c->i32, (unsigned)idx[l], 0);
            v = LLVMBuildShuffleVector(c->b, val, LLVMGetPoison(LLVMTypeOf(val)), LLVMConstVector(sel, CG_VW), "");
        }
        if (p->epi) v = cg_epilogue(c, p->epi, p->epi_in, v, LLVMBuildNSWAdd(c->b, p->epi_base, ah, ""), ch, 1, m);
        if (p->o_sx == 1)
            vstore(c, v, outb, ah, m);
        else
            vscatter(c, v, outb, ah, p->o_sx, m);
    }
}

/* How a channel block's weights lie in memory: `runs` contiguous runs of `len` floats, run r at
 * first + r * run_stride, where first = co * s_oc (+ the run's own offset). A forward conv's block of
 * filters is one run ([oc][ic][taps]); a transposed conv reads [ic][oc][taps], one run per input channel.
 * 0: neither (the weights are mapped as they are loaded). */
int cg_corr_mapped_layout(const cg_corr *p, int cb, int64_t *runs, int64_t *len, int64_t *run_stride)
{
    int64_t span = 0;
    for (int t = 0; t < p->kh * p->kw; t++)
        if (p->tap[t] + 1 > span) span = p->tap[t] + 1;
    if (p->s_ic >= span && p->s_oc == p->ic_n * p->s_ic) {
        *runs = 1, *len = cb * p->s_oc, *run_stride = 0;
        return 1;
    }
    if (p->s_oc >= span && p->s_ic >= p->oc_n * p->s_oc) {
        *runs = p->ic_n, *len = cb * p->s_oc, *run_stride = p->s_ic;
        return 1;
    }
    return 0;
}

/* pos(w) / neg(w) of the cb filters from co copied into p->w_buf with vector loads, once per channel block
 * and band of rows rather than once per weight broadcast; *q reads them from there. */
const cg_corr *cg_corr_map_weights(cg *c, const cg_corr *p, LLVMValueRef co, int cb, cg_corr *q)
{
    int64_t runs, len, run_stride;
    cg_corr_mapped_layout(p, cb, &runs, &len, &run_stride);
    int64_t nvec = len / CG_VW;
    unsigned tail = lanes(0, len - nvec * CG_VW);
    cg_loop lr, lv;
    LLVMValueRef r = cg_loop_begin(c, &lr, cg_i64(c, 0), cg_i64(c, runs), "wrun");
    LLVMValueRef from = cg_mad(c, co, p->s_oc, cg_mad(c, r, run_stride, NULL)), to = cg_mad(c, r, len, NULL);
    if (nvec) {
        LLVMValueRef v = cg_mad(c, cg_loop_begin(c, &lv, cg_i64(c, 0), cg_i64(c, nvec), "wv"), CG_VW, NULL);
        vstore(c, wmap(c, vload(c, p->w, LLVMBuildNSWAdd(c->b, from, v, ""), CG_FULL_MASK), p->w_map), p->w_buf,
               LLVMBuildNSWAdd(c->b, to, v, ""), CG_FULL_MASK);
        cg_loop_end(c, &lv);
    }
    if (tail)
        vstore(c, wmap(c, vload(c, p->w, iadd(c, from, nvec * CG_VW), tail), p->w_map), p->w_buf,
               iadd(c, to, nvec * CG_VW), tail);
    cg_loop_end(c, &lr);
    *q = *p;
    q->w = p->w_buf, q->w_map = WMAP_NONE, q->w_buf = NULL, q->w_co0 = co;
    if (runs > 1) q->s_ic = len; /* [ic][cb * s_oc]; a single run keeps [cb][ic][taps] */
    return q;
}
