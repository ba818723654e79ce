/* The register-blocked correlation shared by the conv2d kernel and its transpose (cg_gemm.c).
 * Everything is explicit LLVM vector code (<8 x float>, llvm.fmuladd): accumulators are held in
 * registers over the whole reduction, borders and remainders use compile-time lane masks. */
#ifndef XAIC_CG_GEMM_H
#define XAIC_CG_GEMM_H

#include "cg_builder.h"

/* A batched 2-D cross-correlation:
 *   out[b, oc, oy, ox] = bias[oc] + sum_{ic, ky, kx} in[b, ic, iy, ix] * weight(oc, ic, ky, kx)
 *   iy = oy * sh + ky + off_y, ix = ox * sw + kx + off_x, terms with (iy, ix) outside [0, H) x [0, W) omitted;
 *   weight(oc, ic, ky, kx) = w[oc * s_oc + ic * s_ic + tap[ky * kw + kx]].
 * The forward conv and the stride-1 conv transpose (flipped taps) are both this. Rows of input are read
 * with vector loads when sw == 1, with gathers otherwise. */
typedef struct cg_corr {
    LLVMValueRef in, out, batch;
    int64_t ic_n, H, W, oc_n, OH, OW; /* channels per group */
    int kh, kw, sh, sw;
    int dh, dw;      /* dilation: tap (ky, kx) reads row oy * sh + ky * dh + off_y (0: 1) */
    int groups;      /* groups of channels (0: 1): group g maps input channels g * ic_n .. to outputs g * oc_n .. */
    int64_t w_group; /* weights from one group to the next (0: oc_n * s_oc, the forward layout) */
    int64_t off_y, off_x;
    LLVMValueRef w;
    int64_t s_oc, s_ic;
    const int64_t *tap;        /* kh * kw offsets */
    int w_map;                 /* ir_weight_map: weights read as pos(w) / neg(w) */
    LLVMValueRef w_buf, w_co0; /* internal (cg_gemm.c): mapped weights of the current channel block */
    int vw;                    /* internal: floats per vector of the tiles (CG_VW, or 16 on AVX-512) */
    /* a fused elementwise consumer (ir_node.epilogue_from), or NULL; epi_in: the kernel's input pointers.
     * Outputs must be stored densely (o_sx == 1). epi_base: internal, the sample's first output element. */
    const ir_node *epi;
    LLVMValueRef epi_in[IR_MAX_INPUTS];
    LLVMValueRef epi_base;
    LLVMValueRef epi_co0; /* internal: the group's first output channel (for per-channel constants), or NULL */
    LLVMValueRef bias;    /* float [oc_n] or NULL (0) */
    /* Where out[b, oc, oy, ox] is stored: out + b * oc_n * o_plane + oc * o_plane
     * + (oy * o_sy + o_y0) * o_row + ox * o_sx + o_x0 (a strided sub-grid of a larger plane, scattered when
     * o_sx > 1). o_plane == 0: the dense [oc_n, OH, OW] layout. */
    int64_t o_plane, o_row, o_sy, o_y0, o_sx, o_x0;
} cg_corr;

/* The kernel rows ky (bit ky) whose input row lies inside the input for output row oy: rows with the same
 * mask share code (cg_gemm.c, cg_depthwise.c). */
static inline unsigned cg_corr_ymask(const cg_corr *p, int64_t oy)
{
    unsigned m = 0;
    for (int ky = 0; ky < p->kh; ky++) {
        int64_t iy = oy * p->sh + (int64_t)ky * p->dh + p->off_y;
        if (iy >= 0 && iy < p->H) m |= 1u << ky;
    }
    return m;
}

void cg_emit_corr(cg *c, const cg_corr *p);

/* Shared by the correlation kernels (cg_corr_parts.c). */
#define CG_CORR_MAX_MAPPED_FLOATS (32 << 10) /* a channel block's mapped weights live on the stack: at most 128 KB */
/* acc (p->vw lanes) stored at out[at + l * o_sx] for the lanes in mask, through the fused consumer (ch: the
 * output channel, for per-channel constants) */
void cg_corr_store_acc(cg *c, const cg_corr *p, LLVMValueRef outb, LLVMValueRef at, LLVMValueRef val, unsigned mask,
                       LLVMValueRef ch);
/* How a block of cb channels' weights lie in memory (runs of len floats, run_stride apart); 0: not as runs */
int cg_corr_mapped_layout(const cg_corr *p, int cb, int64_t *runs, int64_t *len, int64_t *run_stride);
/* pos(w) / neg(w) of the cb filters from co copied into p->w_buf; *q reads them from there (returns q) */
const cg_corr *cg_corr_map_weights(cg *c, const cg_corr *p, LLVMValueRef co, int cb, cg_corr *q);
/* Small planes (cg_corr_flat.c): the correlation with tiles along the flattened output plane. Returns 0 (nothing
 * emitted) if p (defaults filled in) does not qualify. */
int cg_emit_corr_flat(cg *c, const cg_corr *p);
/* A 3x3 stride-1 correlation by Winograd F(2x2, 3x3) (cg_winograd.c), u its transformed filters
 * (cg_winograd_weights; flipped: p is a transposed conv and u its layer's), scratch the kernel's (kargs.scratch); p->w
 * is not read. */
void cg_emit_winograd(cg *c, const cg_corr *p, const ir_const *u, int flipped, LLVMValueRef scratch);

#endif
