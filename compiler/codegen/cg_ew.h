/* Elementwise expressions (ir_ew) as LLVM values (cg_ew.c): the body of OP_ELTWISE kernels, and the
 * epilogues fused into the kernels that produce one of their operands (fuse.c). */
#ifndef XAIC_CG_EW_H
#define XAIC_CG_EW_H

#include "cg_builder.h"

/* Where an expression is evaluated: one element, or one vector of CG_VW consecutive elements. */
typedef struct cg_ew_site {
    LLVMValueRef ptr[IR_MAX_INPUTS];   /* each input's buffer (float *), read at idx; unused where value[] is set */
    LLVMValueRef value[IR_MAX_INPUTS]; /* inputs already at hand (a fused kernel's result), or NULL */
    LLVMValueRef idx;                  /* element index into every input buffer (of the first lane) */
    LLVMValueRef ch;                   /* the element's channel (i64) for EW_CHANNEL, or NULL */
    int vec;                           /* 1: <CG_VW x float> values, lanes outside mask read as 0 */
    unsigned mask;
} cg_ew_site;

int cg_ew_uses_channel(const ir_ew *e);
/* exp(a), a float or a vector of them, inline and branch-free (no libm call) */
LLVMValueRef cg_exp(cg *c, LLVMValueRef a);
LLVMValueRef cg_ew_value(cg *c, const ir_ew *e, const cg_ew_site *s);

/* A kernel with a fused elementwise consumer (node->expr, see ir_node.epilogue_from): the consumer's value
 * at idx given the kernel's own result there (scalar or vector); in = the kernel's input pointers. */
LLVMValueRef cg_epilogue(cg *c, const ir_node *n, const LLVMValueRef *in, LLVMValueRef result, LLVMValueRef idx,
                         LLVMValueRef ch, int vec, unsigned mask);

/* A parallel loop's body reads the fused consumer's input pointers (cg_par_begin): copies
 * in[0 .. epi->n_inputs) into copy (which may be in) and appends the copies' addresses to slots. Returns the
 * new slot count (n_slots when epi is NULL). */
int cg_epilogue_slots(const ir_node *epi, const LLVMValueRef *in, LLVMValueRef *copy, LLVMValueRef **slots,
                      int n_slots);

#endif
