/* Parallel loops in generated kernels (cg_parallel.c).
 *
 * A kernel that splits a loop over [0, n) of independent iterations (each writes its own outputs, no
 * reduction across iterations) brackets the loop's code with cg_par_begin / cg_par_end. The code between
 * them is emitted into an internal function body(lo, hi, values...) that runs iterations [lo, hi); the
 * kernel then calls, at run time,
 *     if (batch * work >= threshold) xai_parallel_for(trampoline, &ctx, n, grain);  else body(0, n, ...);
 * where ctx is a stack struct of the values the body reads and the trampoline unpacks it. Nothing is
 * shared between calls but read-only constants, so the kernel stays reentrant; since each iteration runs
 * the same code whatever range it falls in, results do not depend on how [0, n) is cut.
 * With cg_options.threads_off the bracket emits nothing: the loop runs [0, n) in the kernel itself. */
#ifndef XAIC_CG_PARALLEL_H
#define XAIC_CG_PARALLEL_H

#include "cg_kernels.h"

/* Default minimum multiply-adds (all iterations, whole batch) of a call for it to be split: about 20 us
 * on one core, several times the cost of handing a loop to the pool's other threads. */
#define CG_PARALLEL_MIN_WORK (1 << 19)
/* Minimum multiply-adds of one chunk of a split loop (the grain passed to xai_parallel_for). */
#define CG_PARALLEL_CHUNK_WORK (1 << 16)
#define CG_PAR_MAX_VALUES      (IR_MAX_INPUTS + 8) /* out, inputs, batch, weights base, constant arguments */

typedef struct cg_par {
    int active;                     /* 0: threads off or n < 2; the loop stays in the kernel */
    LLVMValueRef kernel;            /* the function the loop was in */
    LLVMBasicBlockRef kernel_block; /* where the kernel continues */
    LLVMValueRef kernel_weights_base;
    LLVMValueRef kernel_arg_ptr[CG_CONST_ARGS];
    LLVMValueRef body;
    LLVMValueRef *slots[CG_PAR_MAX_VALUES]; /* the caller's variables, rewritten to the body's copies */
    LLVMValueRef values[CG_PAR_MAX_VALUES]; /* their values in the kernel */
    int n_values;
    int64_t n, work;
    LLVMValueRef batch;
} cg_par;

/* Starts a parallel loop over [0, n). work: multiply-adds (or element operations) of one iteration for
 * one sample; batch: the kernel's batch (i64). slots: the variables holding the values the loop reads
 * (pointers or i64, in the kernel); they are set to the body's copies until cg_par_end. Non-NULL
 * constants need no slot, but may have one. noalias_slots: bit k set if *slots[k] is a pointer that no
 * other value aliases (the kernel's noalias output). c->weights_base and c->arg_ptr are carried over too. Returns, in *lo
 * and *hi, the range the body runs (i64 values in the function now being built). */
void cg_par_begin(cg *c, cg_par *p, int64_t n, int64_t work, LLVMValueRef batch, LLVMValueRef **slots, int n_slots,
                  unsigned noalias_slots, LLVMValueRef *lo, LLVMValueRef *hi);
/* Ends the loop's body and emits the dispatch in the kernel; the builder is back in the kernel. */
void cg_par_end(cg *c, cg_par *p);

/* Memory-bound loops (elementwise, pooling): the work of one element in multiply-add units (a load and
 * a store cost about as much as 16 vector multiply-adds), and elements per iteration of a split loop. */
#define CG_PAR_ELEMENT_WORK  16
#define CG_PAR_ELEMENT_BLOCK 2048
/* cg_par_begin for a kernel body that reads a's buffers: the copy *q of a (q = *a first) gets the body's
 * out, in[] and batch. */
void cg_par_begin_args(cg *c, cg_par *p, kargs *q, int64_t n, int64_t work, LLVMValueRef *lo, LLVMValueRef *hi);

#endif
