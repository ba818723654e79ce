/* Shared state and helpers of the code generator (codegen.c, cg_kernels.c). */
#ifndef XAIC_CG_INTERNAL_H
#define XAIC_CG_INTERNAL_H

#include <llvm-c/Core.h>

#include "codegen.h"

/* Constants already emitted as globals for the network being generated (shared by its explanations). */
typedef struct cg_const_map {
    const ir_const **keys;
    LLVMValueRef *globals;
    int n, cap;
} cg_const_map;

typedef struct cg {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMTypeRef f32, i1, i8, i32, i64, ptr, void_t;
    LLVMValueRef fn;             /* function being built */
    const ir_graph *g;
    const cg_options *opt;
    LLVMValueRef weights_base;   /* in a kernel: base pointer of the external weights file (or NULL) */
    cg_const_map *consts;        /* globals of the constants embedded so far */
    struct cg_kernel_cache *kernels;   /* kernels emitted so far for this network (cg_kernel_cache.c) */
} cg;

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
LLVMValueRef cg_const_global(const cg *c, const ir_const *k);   /* NULL if not embedded */
/* pointer to the data of constant k (a global, or an offset into the external weights file) */
LLVMValueRef cg_const_ptr(cg *c, const ir_const *k);
LLVMValueRef cg_intrinsic(cg *c, const char *name, LLVMTypeRef overload, LLVMValueRef *args, int n);

/* An entry point being built: its arguments (target / options NULL when it takes none), the batch as i64,
 * the external weights' base (or null) and the start of the workspace arena. */
typedef struct cg_entry {
    LLVMValueRef x, y, batch, ws, target, options, wbase, arena;
} cg_entry;
struct graph_plan;
void cg_entry_begin(cg *c, const struct graph_plan *plan, cg_entry *e);
void cg_entry_buffers(cg *c, const struct graph_plan *plan, const cg_entry *e, LLVMValueRef *where);
void cg_call_kernels(cg *c, const struct graph_plan *plan, LLVMValueRef *kernels, const LLVMValueRef *where,
                     const cg_entry *e, LLVMValueRef target, LLVMValueRef sample0, int from, int to);
/* activation maximisation: the optimisation loop around the gradient pass (cg_actmax.c) */
void cg_emit_actmax_entry(cg *c, const struct graph_plan *plan, LLVMValueRef *kernels);
/* if (cond) return code; */
void cg_return_if(cg *c, LLVMValueRef cond, int code);
/* NaN or infinity anywhere in x[0 .. n) (an i1) */
LLVMValueRef cg_any_nonfinite(cg *c, LLVMValueRef x, LLVMValueRef n);
/* NULL, or the pointer in field `field` of the xai_options */
LLVMValueRef cg_options_pointer(cg *c, LLVMValueRef options, int field);
/* 0, or the int32 in field `field` of the xai_options */
LLVMValueRef cg_options_i32(cg *c, LLVMValueRef options, int field);

/* Emits the kernel for node i as an internal function and returns it. Its signature is
 * void (ptr out, ptr in_0, ..., ptr in_{n-1}, ptr weights_base, ptr target, ptr options, i64 batch, i64 sample0),
 * n = node->n_inputs; target is the entry's int32 class array (NULL: arg-max), used by OP_SEED; options the
 * xai_options of NET_E_ex (NULL: as compiled); batch is the entry's batch times node->mult. */
LLVMValueRef cg_kernel(cg *c, int i);
/* cg_kernel, or the function of an identical node emitted before for the same network */
LLVMValueRef cg_kernel_shared(cg *c, int i);
void cg_kernel_cache_free(cg *c);

/* What a kernel body sees: its parameters as values. */
typedef struct kargs {
    LLVMValueRef out;
    LLVMValueRef in[IR_MAX_INPUTS];
    int n_in;
    LLVMValueRef target;        /* ptr to int32 [batch] or null */
    LLVMValueRef options;       /* ptr to xai_options or null */
    LLVMValueRef batch;         /* i64: the entry's batch times node->mult */
    LLVMValueRef sample0;       /* i64: IG / SmoothGrad in chunks: the first sample of this chunk (else 0) */
    const ir_node *n;
    ir_shape in_shape;          /* shape of input 0 */
} kargs;

/* Field addresses of an xai_options (layout of xairt.h): baseline, baseline_per_sample, noise, seed, has_seed */
LLVMValueRef cg_options_field(cg *c, LLVMValueRef options, int field);
LLVMTypeRef cg_options_type(cg *c);

/* Kernels of the explanation ops (OP_ELTWISE .. OP_SEED), in cg_backward.c; OP_EXPAND, OP_REDUCE and
 * OP_REFERENCE in cg_samples.c. */
void cg_samples_kernel(cg *c, const kargs *a);
/* OP_CHANNEL_DOT, OP_GRADCAMPP, OP_UPSAMPLE (cg_cam.c) */
void cg_cam_kernel(cg *c, const kargs *a);
void cg_backward_kernel(cg *c, const kargs *a);

#endif
