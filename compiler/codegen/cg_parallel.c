/* Outlining of parallel loops and the call to libxairt's xai_parallel_for (see cg_parallel.h). */
#include <stdio.h>
#include <string.h>

#include "cg_parallel.h"

static void add_fn_attr(cg *c, LLVMValueRef fn, const char *name)
{
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(c->ctx, kind, 0));
}

static void add_param_attr(cg *c, LLVMValueRef fn, unsigned index, const char *name)
{
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    LLVMAddAttributeAtIndex(fn, index, LLVMCreateEnumAttribute(c->ctx, kind, 0));
}

/* void xai_parallel_for(void (*body)(void *, int64_t, int64_t), void *ctx, int64_t n, int64_t grain) */
static LLVMTypeRef parallel_for_type(cg *c)
{
    LLVMTypeRef params[4] = { c->ptr, c->ptr, c->i64, c->i64 };
    return LLVMFunctionType(c->void_t, params, 4, 0);
}

static LLVMValueRef parallel_for_fn(cg *c)
{
    LLVMValueRef f = LLVMGetNamedFunction(c->mod, "xai_parallel_for");
    if (!f) {
        f = LLVMAddFunction(c->mod, "xai_parallel_for", parallel_for_type(c));
        add_fn_attr(c, f, "nounwind");
    }
    return f;
}

static void record(cg_par *p, LLVMValueRef *slot, int noalias, unsigned *mask)
{
    LLVMValueRef v = *slot;
    if (!v || LLVMIsConstant(v) || p->n_values == CG_PAR_MAX_VALUES) return;
    if (noalias) *mask |= 1u << p->n_values;
    p->slots[p->n_values] = slot;
    p->values[p->n_values++] = v;
}

void cg_par_begin(cg *c, cg_par *p, int64_t n, int64_t work, LLVMValueRef batch, LLVMValueRef **slots, int n_slots,
                  unsigned noalias_slots, LLVMValueRef *lo, LLVMValueRef *hi)
{
    memset(p, 0, sizeof *p);
    if (c->opt->threads_off || n < 2) {
        *lo = cg_i64(c, 0);
        *hi = cg_i64(c, n);
        return;
    }
    p->active = 1;
    p->kernel = c->fn;
    p->kernel_block = LLVMGetInsertBlock(c->b);
    p->kernel_weights_base = c->weights_base;
    p->n = n;
    p->work = work > 0 ? work : 1;
    p->batch = batch;
    unsigned mask = 0;
    for (int k = 0; k < n_slots; k++) record(p, slots[k], (noalias_slots >> k) & 1, &mask);
    if (c->weights_base) record(p, &c->weights_base, 0, &mask);
    for (int k = 0; k < CG_CONST_ARGS; k++) {
        p->kernel_arg_ptr[k] = c->arg_ptr[k];
        if (c->arg_ptr[k]) record(p, &c->arg_ptr[k], 0, &mask);
    }
    /* a value passed twice (an in-place output) cannot be noalias */
    for (int k = 0; k < p->n_values; k++)
        for (int j = 0; j < p->n_values; j++)
            if (j != k && p->values[j] == p->values[k]) mask &= ~(1u << k);

    LLVMTypeRef params[CG_PAR_MAX_VALUES + 2];
    params[0] = params[1] = c->i64;
    for (int k = 0; k < p->n_values; k++) params[k + 2] = LLVMTypeOf(p->values[k]);
    char name[300];
    snprintf(name, sizeof name, "%s.par", LLVMGetValueName(c->fn));
    LLVMValueRef body = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->void_t, params, p->n_values + 2, 0));
    LLVMSetLinkage(body, LLVMInternalLinkage);
    add_fn_attr(c, body, "nounwind");
    add_fn_attr(c, body, "noinline");
    for (int k = 0; k < p->n_values; k++) {
        if (LLVMGetTypeKind(params[k + 2]) != LLVMPointerTypeKind) continue;
        add_param_attr(c, body, k + 3, "nocapture");
        if (mask >> k & 1) add_param_attr(c, body, k + 3, "noalias");
    }
    p->body = body;
    c->fn = body;
    LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, body, "entry"));
    for (int k = 0; k < p->n_values; k++) *p->slots[k] = LLVMGetParam(body, k + 2);
    *lo = LLVMGetParam(body, 0);
    *hi = LLVMGetParam(body, 1);
}

void cg_par_end(cg *c, cg_par *p)
{
    if (!p->active) return;
    LLVMBuildRetVoid(c->b);
    int nv = p->n_values;
    for (int k = 0; k < nv; k++) *p->slots[k] = p->values[k]; /* the kernel's values again */
    c->weights_base = p->kernel_weights_base;
    for (int k = 0; k < CG_CONST_ARGS; k++) c->arg_ptr[k] = p->kernel_arg_ptr[k];

    /* trampoline: void task(ptr ctx, i64 lo, i64 hi) { body(lo, hi, ctx->v0, ctx->v1, ...); } */
    LLVMTypeRef fields[CG_PAR_MAX_VALUES];
    for (int k = 0; k < nv; k++) fields[k] = LLVMTypeOf(p->values[k]);
    LLVMTypeRef ctx_t = LLVMStructTypeInContext(c->ctx, fields, nv, 0);
    LLVMTypeRef task_params[3] = { c->ptr, c->i64, c->i64 };
    char name[300];
    snprintf(name, sizeof name, "%s.task", LLVMGetValueName(p->body));
    LLVMValueRef task = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->void_t, task_params, 3, 0));
    LLVMSetLinkage(task, LLVMInternalLinkage);
    add_fn_attr(c, task, "nounwind");
    LLVMTypeRef body_t = LLVMGlobalGetValueType(p->body);
    LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, task, "entry"));
    LLVMValueRef args[CG_PAR_MAX_VALUES + 2];
    args[0] = LLVMGetParam(task, 1);
    args[1] = LLVMGetParam(task, 2);
    for (int k = 0; k < nv; k++)
        args[k + 2] =
            LLVMBuildLoad2(c->b, fields[k], LLVMBuildStructGEP2(c->b, ctx_t, LLVMGetParam(task, 0), k, ""), "");
    LLVMBuildCall2(c->b, body_t, p->body, args, nv + 2, "");
    LLVMBuildRetVoid(c->b);

    /* the dispatch, in the kernel */
    c->fn = p->kernel;
    LLVMPositionBuilderAtEnd(c->b, p->kernel_block);
    int64_t min_work = c->opt->parallel_min_work > 0 ? c->opt->parallel_min_work : CG_PARALLEL_MIN_WORK;
    int64_t per_sample = p->n * p->work;
    int64_t min_batch = per_sample >= min_work ? 1 : (min_work + per_sample - 1) / per_sample;
    LLVMBasicBlockRef par = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "parallel");
    LLVMBasicBlockRef ser = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "serial");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "joined");
    LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, p->batch, cg_i64(c, min_batch), ""), par, ser);

    LLVMPositionBuilderAtEnd(c->b, par);
    LLVMValueRef ctx = cg_local(c, ctx_t, "par.ctx");
    for (int k = 0; k < nv; k++) LLVMBuildStore(c->b, p->values[k], LLVMBuildStructGEP2(c->b, ctx_t, ctx, k, ""));
    /* grain: iterations per chunk so that a chunk holds at least CG_PARALLEL_CHUNK_WORK (or min_work) */
    LLVMValueRef per_iter = LLVMBuildNSWMul(c->b, p->batch, cg_i64(c, p->work), "");
    int64_t chunk_work = min_work < CG_PARALLEL_CHUNK_WORK ? min_work : CG_PARALLEL_CHUNK_WORK;
    LLVMValueRef grain =
        LLVMBuildNSWAdd(c->b, LLVMBuildSDiv(c->b, cg_i64(c, chunk_work), per_iter, ""), cg_i64(c, 1), "grain");
    LLVMValueRef pargs[4] = { task, ctx, cg_i64(c, p->n), grain };
    LLVMBuildCall2(c->b, parallel_for_type(c), parallel_for_fn(c), pargs, 4, "");
    LLVMBuildBr(c->b, done);

    LLVMPositionBuilderAtEnd(c->b, ser);
    args[0] = cg_i64(c, 0);
    args[1] = cg_i64(c, p->n);
    for (int k = 0; k < nv; k++) args[k + 2] = p->values[k];
    LLVMBuildCall2(c->b, body_t, p->body, args, nv + 2, "");
    LLVMBuildBr(c->b, done);
    LLVMPositionBuilderAtEnd(c->b, done);
}

void cg_par_begin_args(cg *c, cg_par *p, kargs *q, int64_t n, int64_t work, LLVMValueRef *lo, LLVMValueRef *hi)
{
    LLVMValueRef *slots[IR_MAX_INPUTS + 2];
    int k = 0;
    slots[k++] = &q->out;
    for (int i = 0; i < q->n_in && i < IR_MAX_INPUTS; i++) slots[k++] = &q->in[i];
    slots[k++] = &q->batch;
    cg_par_begin(c, p, n, work, q->batch, slots, k, 0, lo, hi);
}
