/* A kernel: the internal function of one node, with the body its op's KERNEL (ops.def) emits. */
#include <stdio.h>

#include "cg_kernels.h"

#define NONE 0
#define OP(ID, NAME, SELECTOR, ARITY, FLAGS, PARAMS, REQUIRED, LRP, DEEPLIFT, SEMA, KERNEL, GRADIENT, RULE, RULE_VARS) \
    [OP_##ID] = KERNEL,
static const cg_kernel_fn cg_kernel_of_op[OP_COUNT] = {
#include "ops.def"
};
#undef OP
#undef NONE

void cg_kernel_const_args(const cg *c, const ir_node *n, const ir_const *out[CG_CONST_ARGS])
{
    const ir_const *k[CG_CONST_ARGS] = { cg_kernel_weight(c, n), n->bias };
    int large = 0;
    for (int j = 0; j < CG_CONST_ARGS; j++) large |= k[j] && k[j]->count >= CG_CONST_ARG_MIN;
    for (int j = 0; j < CG_CONST_ARGS; j++) out[j] = large ? k[j] : NULL;
}

LLVMValueRef cg_kernel(cg *c, int index)
{
    const ir_node *n = &c->g->nodes[index];
    char name[256];
    snprintf(name, sizeof name, "%s.k%d.%s", c->g->name, index, ir_op_name(n->op));
    /* void kernel(out, in_0 .. in_{n-1}, weights_base, target, options, batch, sample0, weight, bias, scratch) */
    LLVMTypeRef params[IR_MAX_INPUTS + 7 + CG_CONST_ARGS];
    int np = 0;
    params[np++] = c->ptr;
    for (int k = 0; k < n->n_inputs; k++) params[np++] = c->ptr;
    params[np++] = c->ptr;
    params[np++] = c->ptr;
    params[np++] = c->ptr;
    params[np++] = c->i64;
    params[np++] = c->i64;
    for (int j = 0; j < CG_CONST_ARGS; j++) params[np++] = c->ptr;
    params[np++] = c->ptr;
    LLVMValueRef fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->void_t, params, np, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    /* kernels stay functions: inlining dozens of loop nests into one entry makes the optimiser's passes
     * superlinear (seconds per explanation) and gains nothing, each call running a whole loop nest */
    unsigned noinline = LLVMGetEnumAttributeKindForName("noinline", 8);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(c->ctx, noinline, 0));
    /* out never aliases an input (the plan gives distinct slots), except where the op allows the plan to run
     * it in place (OPF_IN_PLACE: the same property decides both) */
    unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
    unsigned nocapture = LLVMGetEnumAttributeKindForName("nocapture", 9);
    for (int p = 0; p < np; p++) /* the pointers */
        if (LLVMGetTypeKind(params[p]) == LLVMPointerTypeKind)
            LLVMAddAttributeAtIndex(fn, p + 1, LLVMCreateEnumAttribute(c->ctx, nocapture, 0));
    if (!ir_op_is(n->op, OPF_IN_PLACE)) LLVMAddAttributeAtIndex(fn, 1, LLVMCreateEnumAttribute(c->ctx, noalias, 0));
    c->fn = fn;
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(c->ctx, fn, "entry");
    LLVMPositionBuilderAtEnd(c->b, entry);
    kargs a = { 0 };
    a.n = n;
    a.out = LLVMGetParam(fn, 0);
    a.n_in = n->n_inputs;
    for (int k = 0; k < n->n_inputs; k++) a.in[k] = LLVMGetParam(fn, 1 + k);
    c->weights_base = LLVMGetParam(fn, 1 + n->n_inputs);
    a.target = LLVMGetParam(fn, 2 + n->n_inputs);
    a.options = LLVMGetParam(fn, 3 + n->n_inputs);
    a.batch = LLVMGetParam(fn, 4 + n->n_inputs);
    a.sample0 = LLVMGetParam(fn, 5 + n->n_inputs);
    cg_kernel_const_args(c, n, c->arg_const);
    for (int j = 0; j < CG_CONST_ARGS; j++)
        c->arg_ptr[j] = c->arg_const[j] ? LLVMGetParam(fn, 6 + n->n_inputs + j) : NULL;
    a.scratch = LLVMGetParam(fn, 6 + n->n_inputs + CG_CONST_ARGS);
    if (n->n_inputs > 0) a.in_shape = c->g->nodes[n->inputs[0]].shape;
    cg_kernel_of_op[n->op](c, &a);
    LLVMBuildRetVoid(c->b);
    for (int j = 0; j < CG_CONST_ARGS; j++) c->arg_const[j] = NULL, c->arg_ptr[j] = NULL;
    return fn;
}
