/* Register-blocked dense (batch-paired GEMV / GEMM) and its transpose (cg_dense.c): explicit LLVM vector
 * code, accumulators in registers over the whole reduction, compile-time lane masks at the remainders. */
#ifndef XAIC_CG_DENSE_H
#define XAIC_CG_DENSE_H

#include "cg_builder.h"

/* out[b, o] = bias[o] + sum_i W[o, i] x[b, i]; W [out_n, in_n] row-major. */
void cg_emit_dense(cg *c, LLVMValueRef out, LLVMValueRef x, LLVMValueRef batch, LLVMValueRef w, int w_map,
                   LLVMValueRef bias, int64_t in_n, int64_t out_n, const ir_node *epi, const LLVMValueRef *epi_in);

/* out[b, i] = sum_j W[j, i] s[b, j]; W [units, in_n] row-major. */
void cg_emit_dense_t(cg *c, LLVMValueRef out, LLVMValueRef s, LLVMValueRef batch, LLVMValueRef w, int w_map,
                     int64_t in_n, int64_t units, const ir_node *epi, const LLVMValueRef *epi_in);

#endif
