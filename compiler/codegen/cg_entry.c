/* Entry points: argument checks, buffers, kernel calls (cg_entry.h). Entries validate their arguments and
 * return XAI_E* codes; they never allocate, print or abort, and write no global: all scratch memory is the
 * caller's workspace. */
#include <stdio.h>
#include <stdlib.h>

#include "cg_entry.h"
#include "cg_kernels.h"
#include "xairt.h"

LLVMValueRef cg_add_function(cg *c, const char *suffix, LLVMTypeRef ret, LLVMTypeRef *params, int n)
{
    char name[300];
    snprintf(name, sizeof name, "%s_%s", c->g->name, suffix);
    LLVMValueRef fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(ret, params, n, 0));
    unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(c->ctx, nounwind, 0));
    c->fn = fn;
    LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
    return fn;
}

/* [bound weights' header and derived constants (external)][kernels' scratch][arena] */
static int64_t weights_header_bytes(const cg *c)
{
    return c->opt->weights_external ? XAIC_WS_HEADER + cg_derived_bytes(c) : 0;
}

int64_t cg_header_bytes(const cg *c) { return weights_header_bytes(c) + c->scratch_bytes; }

int64_t cg_max_batch(const cg *c, const graph_plan *plan)
{
    /* the workspace's bytes must fit the target's size_t (4 bytes on i686, armv7, wasm32) */
    int64_t limit = LLVMPointerSize(LLVMGetModuleDataLayout(c->mod)) < 8 ? (int64_t)UINT32_MAX : INT64_MAX / 2;
    int64_t per = plan->arena_floats * 4;
    int64_t m = per ? (limit - cg_header_bytes(c)) / per : INT32_MAX;
    return m > INT32_MAX ? INT32_MAX : m;
}

/* NET_forward(x, y, batch, ws) or, for an explanation, NET_E_ex(x, target, out, batch, ws, options)
 * (when the explanation takes options) and NET_E(x, target, out, batch, ws): the function, positioned after
 * the checks every entry makes (pointers, batch, alignment, targets, non-finite inputs, bound weights). */
void cg_entry_begin(cg *c, const graph_plan *plan, cg_entry *e)
{
    const ir_graph *g = c->g;
    int explain = g->network != NULL;
    LLVMValueRef fn, x, y, batch32, ws, target = NULL, options = NULL;
    if (explain && g->has_options) {
        /* NET_E forwards to NET_E_ex with no options */
        char ex_name[300];
        snprintf(ex_name, sizeof ex_name, "%s_ex", g->explain_name);
        LLVMTypeRef params[6] = { c->ptr, c->ptr, c->ptr, c->i32, c->ptr, c->ptr };
        LLVMTypeRef ex_type = LLVMFunctionType(c->i32, params, 6, 0);
        LLVMValueRef ex = cg_add_function(c, ex_name, c->i32, params, 6);
        LLVMValueRef plain = cg_add_function(c, g->explain_name, c->i32, params, 5);
        LLVMValueRef args[6];
        for (int k = 0; k < 5; k++) args[k] = LLVMGetParam(plain, k);
        args[5] = LLVMConstNull(c->ptr);
        LLVMValueRef call = LLVMBuildCall2(c->b, ex_type, ex, args, 6, "");
        LLVMSetTailCall(call, 1);
        LLVMBuildRet(c->b, call);
        c->fn = fn = ex;
        LLVMPositionBuilderAtEnd(c->b, LLVMGetEntryBasicBlock(ex));
        x = LLVMGetParam(fn, 0), target = LLVMGetParam(fn, 1), y = LLVMGetParam(fn, 2);
        batch32 = LLVMGetParam(fn, 3), ws = LLVMGetParam(fn, 4), options = LLVMGetParam(fn, 5);
    } else if (explain) {
        LLVMTypeRef params[5] = { c->ptr, c->ptr, c->ptr, c->i32, c->ptr };
        fn = cg_add_function(c, g->explain_name, c->i32, params, 5);
        x = LLVMGetParam(fn, 0), target = LLVMGetParam(fn, 1), y = LLVMGetParam(fn, 2);
        batch32 = LLVMGetParam(fn, 3), ws = LLVMGetParam(fn, 4);
    } else {
        LLVMTypeRef params[4] = { c->ptr, c->ptr, c->i32, c->ptr };
        fn = cg_add_function(c, "forward", c->i32, params, 4);
        x = LLVMGetParam(fn, 0), y = LLVMGetParam(fn, 1), batch32 = LLVMGetParam(fn, 2), ws = LLVMGetParam(fn, 3);
    }
    int needs_ws = plan->arena_floats > 0 || cg_header_bytes(c) > 0;
    LLVMValueRef nulls = LLVMBuildOr(c->b, cg_is_null(c, x), cg_is_null(c, y), "");
    if (needs_ws) nulls = LLVMBuildOr(c->b, nulls, cg_is_null(c, ws), "");
    cg_return_if(c, nulls, XAI_ENULL);
    cg_return_if(
        c,
        LLVMBuildOr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, batch32, LLVMConstInt(c->i32, 1, 0), ""),
                    LLVMBuildICmp(c->b, LLVMIntSGT, batch32, LLVMConstInt(c->i32, cg_max_batch(c, plan), 0), ""), ""),
        XAI_EBATCH);
    LLVMValueRef addr = LLVMBuildPtrToInt(c->b, ws, c->i64, "");
    cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntNE, LLVMBuildAnd(c->b, addr, cg_i64(c, 63), ""), cg_i64(c, 0), ""),
                 XAI_EALIGN);
    LLVMValueRef batch = LLVMBuildSExt(c->b, batch32, c->i64, "batch");
    if (explain && g->has_target) {
        /* every target class must be in [0, classes); checked before any work is done */
        int64_t classes = ir_explain_targets(g);
        LLVMBasicBlockRef check = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "check_target");
        LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "target_ok");
        LLVMBuildCondBr(c->b, cg_is_null(c, target), done, check);
        LLVMPositionBuilderAtEnd(c->b, check);
        cg_loop l;
        LLVMValueRef i = cg_loop_begin(c, &l, cg_i64(c, 0), batch, "t");
        LLVMValueRef t = LLVMBuildLoad2(c->b, c->i32, LLVMBuildInBoundsGEP2(c->b, c->i32, target, &i, 1, ""), "");
        cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntUGE, t, LLVMConstInt(c->i32, classes, 0), ""), XAI_ETARGET);
        cg_loop_end(c, &l);
        LLVMBuildBr(c->b, done);
        LLVMPositionBuilderAtEnd(c->b, done);
    }
    int64_t in_count = ir_shape_count(&g->nodes[g->input].shape); /* a generator's code for composed graphs */
    cg_return_if(c, cg_any_nonfinite(c, x, LLVMBuildNSWMul(c->b, batch, cg_i64(c, in_count), "")), XAI_ENAN);
    if (options) { /* a workspace size, when given, must cover what this entry uses */
        LLVMTypeRef size_t_ty = LLVMIntPtrTypeInContext(c->ctx, LLVMGetModuleDataLayout(c->mod));
        LLVMValueRef have = cg_options_size(c, options, CG_OPT_WORKSPACE_SIZE);
        LLVMValueRef need = LLVMBuildAdd(c->b,
                                         LLVMBuildMul(c->b, LLVMBuildZExt(c->b, batch32, size_t_ty, ""),
                                                      LLVMConstInt(size_t_ty, plan->arena_floats * 4, 0), ""),
                                         LLVMConstInt(size_t_ty, cg_header_bytes(c), 0), "");
        LLVMValueRef small = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntNE, have, LLVMConstInt(size_t_ty, 0, 0), ""),
                                          LLVMBuildICmp(c->b, LLVMIntULT, have, need, ""), "");
        cg_return_if(c, small, XAI_EWORKSPACE);
    }
    if (options) { /* a given baseline and noise must be finite too */
        LLVMValueRef base = cg_options_pointer(c, options, CG_OPT_BASELINE);
        LLVMBasicBlockRef check = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "check_baseline");
        LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "baseline_ok");
        LLVMBuildCondBr(c->b, cg_is_null(c, base), next, check);
        LLVMPositionBuilderAtEnd(c->b, check);
        LLVMValueRef per_sample = LLVMBuildLoad2(c->b, c->i32, cg_options_field(c, options, CG_OPT_PER_SAMPLE), "");
        LLVMValueRef rows = LLVMBuildSelect(
            c->b, LLVMBuildICmp(c->b, LLVMIntNE, per_sample, LLVMConstInt(c->i32, 0, 0), ""), batch, cg_i64(c, 1), "");
        cg_return_if(c, cg_any_nonfinite(c, base, LLVMBuildNSWMul(c->b, rows, cg_i64(c, in_count), "")), XAI_ENAN);
        LLVMBuildBr(c->b, next);
        LLVMPositionBuilderAtEnd(c->b, next);
        int samples = 0;
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == OP_EXPAND && g->nodes[i].expand == EXPAND_NOISE) /* all samples, not one chunk */
                samples = g->nodes[i].samples > 0 ? g->nodes[i].samples : g->nodes[i].mult;
        if (samples) {
            LLVMValueRef noise = cg_options_pointer(c, options, CG_OPT_NOISE);
            check = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "check_noise");
            next = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "noise_ok");
            LLVMBuildCondBr(c->b, cg_is_null(c, noise), next, check);
            LLVMPositionBuilderAtEnd(c->b, check);
            cg_return_if(c, cg_any_nonfinite(c, noise, LLVMBuildNSWMul(c->b, batch, cg_i64(c, in_count * samples), "")),
                         XAI_ENAN);
            LLVMBuildBr(c->b, next);
            LLVMPositionBuilderAtEnd(c->b, next);
        }
    }

    LLVMValueRef wbase = LLVMConstNull(c->ptr), arena = ws;
    if (c->opt->weights_external) {
        LLVMValueRef magic = LLVMBuildLoad2(
            c->b, c->i64, LLVMBuildInBoundsGEP2(c->b, c->i8, ws, (LLVMValueRef[]){ cg_i64(c, 8) }, 1, ""), "");
        cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntNE, magic, cg_i64(c, (int64_t)CG_WEIGHTS_MAGIC), ""), XAI_EWEIGHTS);
        wbase = ws; /* kernels find the file's pointer in its header, derived constants after it (cg_derive.c) */
    }
    if (cg_header_bytes(c))
        arena = LLVMBuildInBoundsGEP2(c->b, c->i8, ws, (LLVMValueRef[]){ cg_i64(c, cg_header_bytes(c)) }, 1, "arena");
    LLVMValueRef scratch = c->scratch_bytes
        ? LLVMBuildInBoundsGEP2(c->b, c->i8, ws, (LLVMValueRef[]){ cg_i64(c, weights_header_bytes(c)) }, 1, "scratch")
        : LLVMConstNull(c->ptr);
    *e = (cg_entry){ x, y, batch, ws, target, options, wbase, arena, scratch, XAI_ENONFINITE };
}

/* where[i]: the buffer of node i (the entry's x and out, or its slot in the arena) */
void cg_entry_buffers(cg *c, const graph_plan *plan, const cg_entry *e, LLVMValueRef *where)
{
    for (int i = 0; i < c->g->n_nodes; i++) {
        const plan_value *v = &plan->values[i];
        if (v->kind == LOC_INPUT)
            where[i] = e->x;
        else if (v->kind == LOC_OUTPUT)
            where[i] = e->y;
        else
            where[i] = cg_gep(c, e->arena, LLVMBuildNSWMul(c->b, e->batch, cg_i64(c, v->offset), ""));
    }
}

/* Calls the kernels of nodes [from, to) in order. */
void cg_call_kernels(cg *c, const graph_plan *plan, LLVMValueRef *kernels, const LLVMValueRef *where, const cg_entry *e,
                     LLVMValueRef target, LLVMValueRef sample0, int from, int to)
{
    const ir_graph *g = c->g;
    LLVMValueRef wbase = e->wbase, options = e->options, batch = e->batch, kernel_wbase = c->weights_base;
    c->weights_base = wbase; /* the constants passed to kernels, as the entry finds them */
    for (int i = from; i < to; i++) {
        if (!plan->emit[i]) continue;
        const ir_node *n = &g->nodes[i];
        LLVMValueRef args[IR_MAX_INPUTS + 7 + CG_CONST_ARGS];
        LLVMTypeRef types[IR_MAX_INPUTS + 7 + CG_CONST_ARGS];
        int na = 0;
        args[na++] = where[i];
        for (int k = 0; k < n->n_inputs; k++) args[na++] = where[n->inputs[k]];
        args[na++] = wbase;
        args[na++] = target ? target : LLVMConstNull(c->ptr); /* (the entry's, or the AM loop's own) */
        args[na++] = options ? options : LLVMConstNull(c->ptr);
        args[na++] = n->mult > 1 ? LLVMBuildNSWMul(c->b, batch, cg_i64(c, n->mult), "") : batch;
        args[na++] = sample0 ? sample0 : cg_i64(c, 0);
        const ir_const *passed[CG_CONST_ARGS];
        cg_kernel_const_args(c, n, passed);
        for (int j = 0; j < CG_CONST_ARGS; j++)
            args[na++] = passed[j] ? cg_const_ptr(c, passed[j]) : LLVMConstNull(c->ptr);
        args[na++] = e->scratch;
        for (int k = 0; k < na; k++) types[k] = c->ptr;
        types[na - 3 - CG_CONST_ARGS] = types[na - 2 - CG_CONST_ARGS] = c->i64;
        LLVMBuildCall2(c->b, LLVMFunctionType(c->void_t, types, na, 0), kernels[i], args, na, "");
        if (n->op == OP_SEED) { /* the logits an explanation starts from: an overflow in the forward pass may not
                                   reach its result (a gradient does not read the values), so look here */
            int64_t logits = ir_shape_count(&g->nodes[n->inputs[0]].shape) * (n->mult > 1 ? n->mult : 1);
            cg_return_if(c,
                         cg_any_nonfinite(c, where[n->inputs[0]], LLVMBuildNSWMul(c->b, batch, cg_i64(c, logits), "")),
                         e->nonfinite_logits);
        }
    }
    c->weights_base = kernel_wbase;
}
