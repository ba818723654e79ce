/* Kernels: one internal LLVM function per computed node (cg_kernel.c dispatches on the KERNEL column of
 * ops.def). Their signature is
 *   void (ptr out, ptr in_0, ..., ptr in_{n-1}, ptr weights_base, ptr target, ptr options, i64 batch, i64 sample0)
 * n = node->n_inputs; target is the entry's int32 class array (NULL: arg-max), used by OP_SEED; options the
 * xai_options of NET_E_ex (NULL: as compiled); batch is the entry's batch times node->mult; sample0 the first
 * sample of a chunk of IG / SmoothGrad samples (else 0). */
#ifndef XAIC_CG_KERNELS_H
#define XAIC_CG_KERNELS_H

#include "cg_builder.h"

/* What a kernel body sees: its parameters as values. */
typedef struct kargs {
    LLVMValueRef out;
    LLVMValueRef in[IR_MAX_INPUTS];
    int n_in;
    LLVMValueRef target;  /* ptr to int32 [batch] or null */
    LLVMValueRef options; /* ptr to xai_options or null */
    LLVMValueRef batch;   /* i64: the entry's batch times node->mult */
    LLVMValueRef sample0; /* i64: IG / SmoothGrad in chunks: the first sample of this chunk (else 0) */
    LLVMValueRef scratch; /* the workspace's scratch (cg.scratch_bytes; Winograd convs), or null */
    const ir_node *n;
    ir_shape in_shape; /* shape of input 0 */
} kargs;

typedef void (*cg_kernel_fn)(cg *c, const kargs *a);

/* Forward ops (cg_forward.c) */
void cg_kernel_dense(cg *c, const kargs *a);
void cg_kernel_conv2d(cg *c, const kargs *a);
void cg_kernel_pool(cg *c, const kargs *a); /* maxpool, avgpool */
void cg_kernel_global_avgpool(cg *c, const kargs *a);
void cg_kernel_elementwise(cg *c, const kargs *a); /* relu, sigmoid, affine, add */
void cg_kernel_softmax(cg *c, const kargs *a);
void cg_kernel_layernorm(cg *c, const kargs *a);
/* lines along an axis (softmax, OP_LAYER_STAT along): lines per sample, values per line, their stride */
void cg_axis_lines(const ir_shape *s, int axis, int64_t *lines, int64_t *len, int64_t *inner);
LLVMValueRef cg_line_start(cg *c, LLVMValueRef g, int64_t len, int64_t inner);
/* Moving values, broadcasting binary ops (cg_move.c) */
void cg_kernel_transpose(cg *c, const kargs *a);
void cg_kernel_concat(cg *c, const kargs *a);
void cg_kernel_slice(cg *c, const kargs *a);
void cg_kernel_slice_t(cg *c, const kargs *a);
void cg_kernel_unbroadcast(cg *c, const kargs *a);
void cg_kernel_binary(cg *c, const kargs *a);
void cg_kernel_matmul(cg *c, const kargs *a); /* cg_matmul.c */
void cg_kernel_parameter(cg *c, const kargs *a);
void cg_kernel_add(cg *c, const kargs *a);
/* Explanation ops (cg_backward.c) */
void cg_kernel_eltwise(cg *c, const kargs *a);
void cg_kernel_sumpool(cg *c, const kargs *a);
void cg_kernel_sumpool_t(cg *c, const kargs *a);
void cg_kernel_maxpool_t(cg *c, const kargs *a);
/* cg_kernel_maxpool_t for 2x2 stride-2 windows that tile the C x H x W input exactly, as vectors
 * (cg_maxpool_pairs.c); returns 0 (nothing emitted) for other geometries */
int cg_emit_maxpool_t_pairs(cg *c, const kargs *a, int64_t C, int64_t H, int64_t W);
void cg_kernel_dense_t(cg *c, const kargs *a);
void cg_kernel_conv2d_t(cg *c, const kargs *a);
void cg_kernel_seed(cg *c, const kargs *a);
/* Samples of IG and SmoothGrad, the reference input (cg_samples.c) */
void cg_kernel_expand(cg *c, const kargs *a);
void cg_kernel_reduce(cg *c, const kargs *a);
void cg_kernel_reference(cg *c, const kargs *a);
/* The CAM family (cg_cam.c) */
void cg_kernel_channel_dot(cg *c, const kargs *a);
void cg_kernel_gradcampp(cg *c, const kargs *a);
void cg_kernel_upsample(cg *c, const kargs *a);
/* Statistics of a value for rule bodies (cg_stat.c) */
void cg_kernel_layer_stat(cg *c, const kargs *a);

/* The node's constants a kernel receives as arguments after sample0 (weight, bias; a null pointer where the node
 * has none or keeps them embedded): both when one of them has at least CG_CONST_ARG_MIN floats. A small layer's
 * stay globals the kernel reads directly (and that LLVM can fold). */
#define CG_CONST_ARG_MIN 1024
void cg_kernel_const_args(const cg *c, const ir_node *n, const ir_const *out[CG_CONST_ARGS]);
/* The weights node n's kernel reads: a conv's Winograd-transformed filters where it takes the transform
 * (cg_winograd_weights), else n->weight. */
const ir_const *cg_kernel_weight(const cg *c, const ir_node *n);
/* The transformed filters of a conv2d that runs as Winograd F(2x2, 3x3) (cg_winograd.c), or NULL: it does not
 * apply, the options turn it off, or the target has no 16-float vectors. */
const ir_const *cg_winograd_weights(const cg *c, const ir_node *n);
/* Whether the options and the target let any conv run by Winograd (else no scratch is reserved) */
int cg_winograd_on(const cg *c);
/* Emits the kernel for node i of c->g as an internal function and returns it. */
LLVMValueRef cg_kernel(cg *c, int i);
/* cg_kernel, or the function of an identical node emitted before for the same network (cg_kernel_cache.c) */
LLVMValueRef cg_kernel_shared(cg *c, int i);
void cg_kernel_cache_free(cg *c);

#endif
