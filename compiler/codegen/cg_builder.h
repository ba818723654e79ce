/* The code generator's state and its LLVM builder helpers: the bottom of codegen, used by every kernel and
 * entry point (cg_builder.c). */
#ifndef XAIC_CG_BUILDER_H
#define XAIC_CG_BUILDER_H

#include <llvm-c/Core.h>

#include "codegen.h"

/* Constants already emitted as globals for the network being generated (shared by its explanations). */
typedef struct cg_const_map {
    const ir_const **keys;
    LLVMValueRef *globals;
    int n, cap;
} cg_const_map;

#define CG_CONST_ARGS 2

typedef struct cg {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMTypeRef f32, f64, i1, i8, i32, i64, ptr, void_t;
    LLVMValueRef fn; /* function being built */
    const ir_graph *g;
    const cg_options *opt;
    LLVMValueRef weights_base;       /* in a kernel with --weights=external: the workspace (cg_derive.c), else NULL */
    struct cg_derived *derived;      /* --weights=external: constants bind_weights computes (cg_derive.c) */
    cg_const_map *consts;            /* globals of the constants embedded so far */
    int64_t scratch_bytes;           /* the kernels' scratch (plans' scratch_floats), just before the arena */
    struct cg_kernel_cache *kernels; /* kernels emitted so far for this network (cg_kernel_cache.c) */
    /* in a kernel: the node's large constants (weights, bias) it receives as arguments, and those arguments
     * (cg_kernel.c), so that layers of equal shapes share one kernel; NULL elsewhere */
    const ir_const *arg_const[CG_CONST_ARGS];
    LLVMValueRef arg_ptr[CG_CONST_ARGS];
} cg;

/* Sets up c for graph g of module mod (a builder of its own; cg_dispose frees it). */
void cg_init(cg *c, LLVMModuleRef mod, const ir_graph *g, const cg_options *opt);
void cg_dispose(cg *c);

/* A counted loop `for (iv = start; iv < end; iv++)` over i64; body code goes between begin and end. */
typedef struct cg_loop {
    LLVMBasicBlockRef header, body, exit;
    LLVMValueRef iv;
} cg_loop;

LLVMValueRef cg_loop_begin(cg *c, cg_loop *l, LLVMValueRef start, LLVMValueRef end, const char *name);
void cg_loop_end(cg *c, cg_loop *l);
/* cg_loop_end for a loop LLVM must not unroll: a constant trip count around a large vectorised body would
 * otherwise be copied out whole (code size and compile time, no speed) */
void cg_loop_end_rolled(cg *c, cg_loop *l);
/* cg_loop_end for a loop LLVM must not vectorise (strided stores it would turn into scatters) */
void cg_loop_end_scalar(cg *c, cg_loop *l);

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
LLVMValueRef cg_const_global(const cg *c, const ir_const *k); /* NULL if not embedded */
/* pointer to the data of constant k (a global, an offset into the external weights file, or a derived constant
 * in the workspace: cg_derive.c) */
LLVMValueRef cg_const_ptr(cg *c, const ir_const *k);
LLVMValueRef cg_intrinsic(cg *c, const char *name, LLVMTypeRef overload, LLVMValueRef *args, int n);
LLVMValueRef cg_is_null(cg *c, LLVMValueRef p);
/* if (cond) return code; */
void cg_return_if(cg *c, LLVMValueRef cond, int code);
/* NaN or infinity anywhere in x[0 .. n) (an i1) */
LLVMValueRef cg_any_nonfinite(cg *c, LLVMValueRef x, LLVMValueRef n);

/* Fields of an xai_options (layout of xairt.h) */
enum {
    CG_OPT_BASELINE = 0,
    CG_OPT_PER_SAMPLE = 1,
    CG_OPT_NOISE = 2,
    CG_OPT_SEED = 3,
    CG_OPT_HAS_SEED = 4,
    CG_OPT_STEPS = 5,
    CG_OPT_CODE = 6,
    CG_OPT_PROGRESS = 7,
    CG_OPT_PROGRESS_CTX = 8,
    CG_OPT_WORKSPACE_SIZE = 9
};
/* Field addresses of an xai_options */
LLVMValueRef cg_options_field(cg *c, LLVMValueRef options, int field);
LLVMTypeRef cg_options_type(cg *c);
/* NULL, or the pointer in field `field` of the xai_options */
LLVMValueRef cg_options_pointer(cg *c, LLVMValueRef options, int field);
/* 0, or the int32 in field `field` of the xai_options */
LLVMValueRef cg_options_i32(cg *c, LLVMValueRef options, int field);
/* 0, or the size_t in field `field` of the xai_options */
LLVMValueRef cg_options_size(cg *c, LLVMValueRef options, int field);

#endif
