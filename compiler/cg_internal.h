/* Shared state and helpers of the code generator (codegen.c, cg_kernels.c). */
#ifndef XAIC_CG_INTERNAL_H
#define XAIC_CG_INTERNAL_H

#include <llvm-c/Core.h>

#include "codegen.h"

typedef struct cg {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMTypeRef f32, i1, i8, i32, i64, ptr, void_t;
    LLVMValueRef fn;             /* function being built */
    const ir_graph *g;
    const cg_options *opt;
    LLVMValueRef weights_base;   /* in a kernel: base pointer of the external weights file (or NULL) */
    LLVMValueRef *const_globals; /* per g->consts entry: its global, or NULL when external */
} cg;

/* A counted loop `for (iv = start; iv < end; iv++)` over i64; body code goes between begin and end. */
typedef struct cg_loop {
    LLVMBasicBlockRef header, body, exit;
    LLVMValueRef iv;
} cg_loop;

LLVMValueRef cg_loop_begin(cg *c, cg_loop *l, LLVMValueRef start, LLVMValueRef end, const char *name);
void cg_loop_end(cg *c, cg_loop *l);

LLVMValueRef cg_i64(cg *c, int64_t v);
LLVMValueRef cg_f32(cg *c, double v);
/* &base[index] for a float pointer */
LLVMValueRef cg_gep(cg *c, LLVMValueRef base, LLVMValueRef index);
LLVMValueRef cg_load(cg *c, LLVMValueRef base, LLVMValueRef index);
void cg_store(cg *c, LLVMValueRef value, LLVMValueRef base, LLVMValueRef index);
/* a*b + c on i64 values */
LLVMValueRef cg_mad(cg *c, LLVMValueRef a, int64_t b, LLVMValueRef add);
/* float add/mul that may be reassociated (lets LLVM vectorise reductions) */
LLVMValueRef cg_fadd_reassoc(cg *c, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_fmul_reassoc(cg *c, LLVMValueRef a, LLVMValueRef b);
/* an alloca in the function's entry block (mem2reg turns it into a register) */
LLVMValueRef cg_local(cg *c, LLVMTypeRef t, const char *name);
/* pointer to the data of constant k (a global, or an offset into the external weights file) */
LLVMValueRef cg_const_ptr(cg *c, const ir_const *k);
LLVMValueRef cg_intrinsic(cg *c, const char *name, LLVMTypeRef overload, LLVMValueRef *args, int n);

/* Emits the kernel for node i as an internal function and returns it. Its signature is
 * void (ptr out, ptr in0, ptr in1, ptr weights_base, i64 batch). */
LLVMValueRef cg_kernel(cg *c, int i);

#endif
