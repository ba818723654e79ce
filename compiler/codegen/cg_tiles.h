/* Register-blocked GEMM tiles with the reduction outside the registers (cg_tiles.c): out[b, cols] accumulated over
 * rows j of a weight-like operand read as vectors along the columns, broadcasts of the other operand. They run the
 * dense transpose (W read in place), the forward dense on tokens (panels of W^T copied to the stack) and the products
 * of two activations; 16-float vectors on AVX-512. */
#ifndef XAIC_CG_TILES_H
#define XAIC_CG_TILES_H

#include "cg_builder.h"

/* a fused elementwise consumer of a dense layer or its transpose (ir_node.epilogue_from) */
typedef struct dense_epi {
    const ir_node *n;               /* NULL: none */
    LLVMValueRef in[IR_MAX_INPUTS]; /* the kernel's input pointers */
} dense_epi;

/* Operands of a register-blocked GEMM tile: out[b, o_col + i] += sum_j w[(j - w_j0) * w_stride + w_col + i] *
 * s[b * s_stride + j * s_jstride] (s_jstride 0: 1), i along vectors of vw floats. dense_t reads W in place; the
 * forward on tokens, a packed panel of W^T. */
typedef struct cg_gemm_operands {
    LLVMValueRef out, o_col;
    int64_t o_stride;
    LLVMValueRef s;
    int64_t s_stride, s_jstride;
    LLVMValueRef w, w_col, w_j0; /* w_j0: NULL for 0 */
    int64_t w_stride;
    int w_map;
    LLVMValueRef bias; /* the first row block starts from bias[o_col + i] (NULL: from 0) */
    int vw;            /* floats per vector */
    /* Software prefetch of the weight-like rows the caller reads next (NULL: none): tile t of MR rows fetches rows
     * pf_per_tile t .. pf_per_tile (t + 1) - 1 of pf_rows rows pf_stride floats apart from pf, pf_lines cache lines
     * each, so that the next block is read from L2 rather than from L3 or memory. */
    LLVMValueRef pf;
    int64_t pf_stride;
    int pf_rows, pf_lines, pf_per_tile;
} cg_gemm_operands;

/* Tile shape: with 32 vector registers (AVX-512) 6 samples x 4 vectors of 16 floats (24 accumulators), with 16
 * (AVX2) 3 x 2 of 8. The row block JB keeps a strip of W (JB x the tile's columns) within 32 KB of L1. */
typedef struct cg_gemm_shape_t {
    int MR, NV, vw;
    int64_t strip, JB;
} cg_gemm_shape_t;

cg_gemm_shape_t cg_gemm_shape(const cg *c);
/* the vectors of a strip of width columns and their lane masks; returns their number */
int cg_gemm_masks(const cg_gemm_shape_t *s, int64_t width, unsigned *m);
/* tiles of MR rows of batch (then one tile of the rest) over rows j of [j0, j1) of the weight-like operand;
 * first: the first block of rows (the tiles start from the bias or 0, not from out) */
void cg_gemm_tiles(cg *c, const cg_gemm_operands *g, LLVMValueRef batch, int MR, int nv, const unsigned *m,
                   LLVMValueRef j0, LLVMValueRef j1, LLVMValueRef first);
/* out[b, c0 + i] for i < width, every row of batch, over the whole reduction [0, K) of the weight-like operand
 * (g's o_col, w_col and vw are set here): row blocks of JB outside, strips of NV vectors inside (a block's strip
 * stays in L1 while every tile of rows reads it), tiles of rows innermost */
void cg_gemm_columns(cg *c, cg_gemm_operands g, LLVMValueRef c0, int64_t width, int64_t K, LLVMValueRef batch);
/* the fused consumer over columns [col, col + width) of every row, stride floats apart */
void cg_epilogue_cols(cg *c, const dense_epi *epi, LLVMValueRef out, LLVMValueRef batch, int64_t stride,
                      LLVMValueRef col, int64_t width);

/* cg_emit_dense (cg_dense.h) for many rows (tokens [T, D]: batch is samples x T): a GEMM over panels of W^T. */
void cg_emit_dense_tokens(cg *c, LLVMValueRef out, LLVMValueRef x, LLVMValueRef batch, LLVMValueRef w, int w_map,
                          LLVMValueRef bias, int64_t in_n, int64_t out_n, const ir_node *epi,
                          const LLVMValueRef *epi_in);

/* Products of two activations, in the current function (its caller splits the products across threads):
 * out [rows, N] = a [rows, K] b^T with b [N, K] (over panels of b^T, copied to `panel`, a scratch of
 * cg_gemm_panel_floats floats), or a b with b [K, N] (b read in place; a_t: a is stored [K, rows], as the
 * backward's a^T dout reads it). Call cg_gemm_begin once in a function that uses them (it may then use 512-bit
 * vectors). */
int64_t cg_gemm_panel_floats(const cg *c);
void cg_gemm_begin(cg *c);
void cg_emit_gemm_abt(cg *c, LLVMValueRef out, LLVMValueRef a, LLVMValueRef rows, LLVMValueRef b, int64_t K, int64_t N,
                      LLVMValueRef panel);
void cg_emit_gemm_ab(cg *c, LLVMValueRef out, LLVMValueRef a, int a_t, int64_t rows, LLVMValueRef b, int64_t K,
                     int64_t N);
/* The same with a[r][k] at a + r a_row + k a_k (a block of rows of a larger matrix, stored either way) */
void cg_emit_gemm_strided(cg *c, LLVMValueRef out, LLVMValueRef a, int64_t a_row, int64_t a_k, int64_t rows,
                          LLVMValueRef b, int64_t K, int64_t N);

#endif
