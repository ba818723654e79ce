/* Code generation for one network: weight constants, kernels, the entry points and NET_info.
 * Entry points validate their arguments and return XAI_E* codes; they never allocate, print or abort,
 * and write no global: all scratch memory is the caller's workspace. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Target.h>

#include "cg_internal.h"
#include "xairt.h"

#define WEIGHTS_MAGIC 0x78616963776569ULL   /* "xaicwei": marks a workspace whose weights are bound */

static void cg_init(cg *c, LLVMModuleRef mod, const ir_graph *g, const cg_options *opt)
{
    memset(c, 0, sizeof *c);
    c->mod = mod;
    c->ctx = LLVMGetModuleContext(mod);
    c->b = LLVMCreateBuilderInContext(c->ctx);
    c->f32 = LLVMFloatTypeInContext(c->ctx);
    c->i1 = LLVMInt1TypeInContext(c->ctx);
    c->i8 = LLVMInt8TypeInContext(c->ctx);
    c->i32 = LLVMInt32TypeInContext(c->ctx);
    c->i64 = LLVMInt64TypeInContext(c->ctx);
    c->ptr = LLVMPointerTypeInContext(c->ctx, 0);
    c->void_t = LLVMVoidTypeInContext(c->ctx);
    c->g = g;
    c->opt = opt;
}

LLVMValueRef cg_const_global(const cg *c, const ir_const *k)
{
    for (int i = 0; i < c->consts->n; i++)
        if (c->consts->keys[i] == k) return c->consts->globals[i];
    return NULL;
}

static int const_is_external(const cg *c, const ir_const *k)
{
    return c->opt->weights_external && k->file_offset >= 0 && k->file_offset % 4 == 0;
}

static void add_constant(cg *c, const ir_const *k)
{
    if (!k || const_is_external(c, k) || cg_const_global(c, k)) return;
    cg_const_map *m = c->consts;
    char name[600];
    snprintf(name, sizeof name, "%s.w%d.%s", c->g->name, m->n, k->name);
    size_t bytes = (size_t)k->count * sizeof(float);
    LLVMValueRef init = LLVMConstStringInContext(c->ctx, (const char *)k->data, (unsigned)bytes, 1);
    LLVMValueRef gv = LLVMAddGlobal(c->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
    LLVMSetAlignment(gv, 64);
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 32;
        m->keys = realloc(m->keys, sizeof *m->keys * m->cap);
        m->globals = realloc(m->globals, sizeof *m->globals * m->cap);
    }
    m->keys[m->n] = k;
    m->globals[m->n++] = gv;
}

static void collect_ew_constants(cg *c, const ir_ew *e)
{
    if (!e) return;
    if (e->kind == EW_CHANNEL) add_constant(c, e->channel);
    collect_ew_constants(c, e->a);
    collect_ew_constants(c, e->b);
    collect_ew_constants(c, e->c);
}

/* Embeds the constants that the emitted kernels read (once per network, shared by its explanations),
 * as 64-byte aligned read-only bytes. */
static void emit_constants(cg *c, const graph_plan *plan)
{
    for (int i = 0; i < c->g->n_nodes; i++) {
        if (!plan->emit[i]) continue;
        add_constant(c, c->g->nodes[i].weight);
        add_constant(c, c->g->nodes[i].bias);
        collect_ew_constants(c, c->g->nodes[i].expr);
    }
}

static LLVMValueRef add_function(cg *c, const char *suffix, LLVMTypeRef ret, LLVMTypeRef *params, int n)
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

/* if (cond) return code; */
void cg_return_if(cg *c, LLVMValueRef cond, int code)
{
    LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "fail");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "ok");
    LLVMBuildCondBr(c->b, cond, fail, ok);
    LLVMPositionBuilderAtEnd(c->b, fail);
    LLVMBuildRet(c->b, LLVMConstInt(c->i32, code, 0));
    LLVMPositionBuilderAtEnd(c->b, ok);
}

static LLVMValueRef is_null(cg *c, LLVMValueRef p) { return LLVMBuildIsNull(c->b, p, ""); }

static int64_t header_bytes(const cg *c) { return c->opt->weights_external ? XAIC_WS_HEADER : 0; }

static int64_t max_batch(const cg *c, const graph_plan *plan)
{
    int64_t per = plan->arena_floats * 4;
    int64_t m = per ? (INT64_MAX / 2 - header_bytes(c)) / per : INT32_MAX;
    return m > INT32_MAX ? INT32_MAX : m;
}

static void emit_workspace_size(cg *c, const graph_plan *plan)
{   /* plan: the largest arena of the network's entries */
    LLVMTypeRef size_t_ty = LLVMIntPtrTypeInContext(c->ctx, LLVMGetModuleDataLayout(c->mod));
    LLVMValueRef fn = add_function(c, "workspace_size", size_t_ty, &c->i32, 1);
    LLVMValueRef batch = LLVMGetParam(fn, 0);
    LLVMValueRef bad = LLVMBuildOr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, batch, LLVMConstInt(c->i32, 1, 0), ""),
                                   LLVMBuildICmp(c->b, LLVMIntSGT, batch, LLVMConstInt(c->i32, max_batch(c, plan), 0), ""), "");
    LLVMBasicBlockRef zero = LLVMAppendBasicBlockInContext(c->ctx, fn, "zero");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(c->ctx, fn, "ok");
    LLVMBuildCondBr(c->b, bad, zero, ok);
    LLVMPositionBuilderAtEnd(c->b, zero);
    LLVMBuildRet(c->b, LLVMConstInt(size_t_ty, 0, 0));
    LLVMPositionBuilderAtEnd(c->b, ok);
    LLVMValueRef b = LLVMBuildZExt(c->b, batch, size_t_ty, "");
    LLVMValueRef bytes = LLVMBuildMul(c->b, b, LLVMConstInt(size_t_ty, plan->arena_floats * 4, 0), "");
    LLVMBuildRet(c->b, LLVMBuildAdd(c->b, bytes, LLVMConstInt(size_t_ty, header_bytes(c), 0), ""));
}

/* NaN or infinity anywhere in x[0 .. n): x*0 is NaN exactly for those, and NaN survives the sum. */
LLVMValueRef cg_any_nonfinite(cg *c, LLVMValueRef x, LLVMValueRef n)
{
    LLVMValueRef acc = cg_local(c, c->f32, "nanacc");
    LLVMBuildStore(c->b, cg_f32(c, 0), acc);
    cg_loop l;
    LLVMValueRef i = cg_loop_begin(c, &l, cg_i64(c, 0), n, "scan");
    LLVMValueRef z = LLVMBuildFMul(c->b, cg_load(c, x, i), cg_f32(c, 0), "");
    LLVMBuildStore(c->b, cg_fadd_reassoc(c, LLVMBuildLoad2(c->b, c->f32, acc, ""), z), acc);
    cg_loop_end(c, &l);
    LLVMValueRef s = LLVMBuildLoad2(c->b, c->f32, acc, "");
    return LLVMBuildFCmp(c->b, LLVMRealUNO, s, s, "");
}

/* NET_forward(x, y, batch, ws) or, for an explanation, NET_E(x, target, out, batch, ws). */
/* The options fields (layout of xai_options in xairt.h). */
LLVMTypeRef cg_options_type(cg *c)
{
    LLVMTypeRef fields[9] = {c->ptr, c->i32, c->ptr, c->i64, c->i32, c->i32, c->ptr, c->ptr, c->ptr};
    return LLVMStructTypeInContext(c->ctx, fields, 9, 0);
}

LLVMValueRef cg_options_field(cg *c, LLVMValueRef options, int field)
{
    return LLVMBuildStructGEP2(c->b, cg_options_type(c), options, (unsigned)field, "");
}

/* NULL or the value of a pointer field of the options */
LLVMValueRef cg_options_pointer(cg *c, LLVMValueRef options, int field)
{
    LLVMBasicBlockRef from = LLVMGetInsertBlock(c->b);
    LLVMBasicBlockRef load = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "opt_load");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "opt_done");
    LLVMBuildCondBr(c->b, is_null(c, options), done, load);
    LLVMPositionBuilderAtEnd(c->b, load);
    LLVMValueRef v = LLVMBuildLoad2(c->b, c->ptr, cg_options_field(c, options, field), "");
    LLVMBuildBr(c->b, done);
    LLVMPositionBuilderAtEnd(c->b, done);
    LLVMValueRef phi = LLVMBuildPhi(c->b, c->ptr, "");
    LLVMValueRef vals[2] = {LLVMConstNull(c->ptr), v};
    LLVMBasicBlockRef blocks[2] = {from, load};
    LLVMAddIncoming(phi, vals, blocks, 2);
    return phi;
}

/* 0 or the value of an int32 field of the options */
LLVMValueRef cg_options_i32(cg *c, LLVMValueRef options, int field)
{
    LLVMBasicBlockRef from = LLVMGetInsertBlock(c->b);
    LLVMBasicBlockRef load = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "opt_i32_load");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "opt_i32_done");
    LLVMBuildCondBr(c->b, is_null(c, options), done, load);
    LLVMPositionBuilderAtEnd(c->b, load);
    LLVMValueRef v = LLVMBuildLoad2(c->b, c->i32, cg_options_field(c, options, field), "");
    LLVMBuildBr(c->b, done);
    LLVMPositionBuilderAtEnd(c->b, done);
    LLVMValueRef phi = LLVMBuildPhi(c->b, c->i32, "");
    LLVMValueRef vals[2] = {LLVMConstInt(c->i32, 0, 0), v};
    LLVMBasicBlockRef blocks[2] = {from, load};
    LLVMAddIncoming(phi, vals, blocks, 2);
    return phi;
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
        LLVMTypeRef params[6] = {c->ptr, c->ptr, c->ptr, c->i32, c->ptr, c->ptr};
        LLVMTypeRef ex_type = LLVMFunctionType(c->i32, params, 6, 0);
        LLVMValueRef ex = add_function(c, ex_name, c->i32, params, 6);
        LLVMValueRef plain = add_function(c, g->explain_name, c->i32, params, 5);
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
        LLVMTypeRef params[5] = {c->ptr, c->ptr, c->ptr, c->i32, c->ptr};
        fn = add_function(c, g->explain_name, c->i32, params, 5);
        x = LLVMGetParam(fn, 0), target = LLVMGetParam(fn, 1), y = LLVMGetParam(fn, 2);
        batch32 = LLVMGetParam(fn, 3), ws = LLVMGetParam(fn, 4);
    } else {
        LLVMTypeRef params[4] = {c->ptr, c->ptr, c->i32, c->ptr};
        fn = add_function(c, "forward", c->i32, params, 4);
        x = LLVMGetParam(fn, 0), y = LLVMGetParam(fn, 1), batch32 = LLVMGetParam(fn, 2), ws = LLVMGetParam(fn, 3);
    }
    int needs_ws = plan->arena_floats > 0 || c->opt->weights_external;
    LLVMValueRef nulls = LLVMBuildOr(c->b, is_null(c, x), is_null(c, y), "");
    if (needs_ws) nulls = LLVMBuildOr(c->b, nulls, is_null(c, ws), "");
    cg_return_if(c, nulls, XAI_ENULL);
    cg_return_if(c, LLVMBuildOr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, batch32, LLVMConstInt(c->i32, 1, 0), ""),
                             LLVMBuildICmp(c->b, LLVMIntSGT, batch32, LLVMConstInt(c->i32, max_batch(c, plan), 0), ""), ""),
              XAI_EBATCH);
    LLVMValueRef addr = LLVMBuildPtrToInt(c->b, ws, c->i64, "");
    cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntNE, LLVMBuildAnd(c->b, addr, cg_i64(c, 63), ""), cg_i64(c, 0), ""),
              XAI_EALIGN);
    LLVMValueRef batch = LLVMBuildSExt(c->b, batch32, c->i64, "batch");
    if (explain && g->has_target) {
        /* every target class must be in [0, classes); checked before any work is done */
        int64_t classes = 0;
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == OP_SEED) classes = ir_shape_count(&g->nodes[i].shape);
        LLVMBasicBlockRef check = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "check_target");
        LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "target_ok");
        LLVMBuildCondBr(c->b, is_null(c, target), done, check);
        LLVMPositionBuilderAtEnd(c->b, check);
        cg_loop l;
        LLVMValueRef i = cg_loop_begin(c, &l, cg_i64(c, 0), batch, "t");
        LLVMValueRef t = LLVMBuildLoad2(c->b, c->i32, LLVMBuildInBoundsGEP2(c->b, c->i32, target, &i, 1, ""), "");
        cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntUGE, t, LLVMConstInt(c->i32, classes, 0), ""), XAI_ETARGET);
        cg_loop_end(c, &l);
        LLVMBuildBr(c->b, done);
        LLVMPositionBuilderAtEnd(c->b, done);
    }
    int64_t in_count = ir_shape_count(&g->nodes[g->input].shape);   /* a generator's code for composed graphs */
    cg_return_if(c, cg_any_nonfinite(c, x, LLVMBuildNSWMul(c->b, batch, cg_i64(c, in_count), "")), XAI_ENAN);
    if (options) {   /* a given baseline and noise must be finite too */
        LLVMValueRef base = cg_options_pointer(c, options, 0);
        LLVMBasicBlockRef check = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "check_baseline");
        LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "baseline_ok");
        LLVMBuildCondBr(c->b, is_null(c, base), next, check);
        LLVMPositionBuilderAtEnd(c->b, check);
        LLVMValueRef per_sample = LLVMBuildLoad2(c->b, c->i32, cg_options_field(c, options, 1), "");
        LLVMValueRef rows = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntNE, per_sample, LLVMConstInt(c->i32, 0, 0), ""),
                                            batch, cg_i64(c, 1), "");
        cg_return_if(c, cg_any_nonfinite(c, base, LLVMBuildNSWMul(c->b, rows, cg_i64(c, in_count), "")), XAI_ENAN);
        LLVMBuildBr(c->b, next);
        LLVMPositionBuilderAtEnd(c->b, next);
        int samples = 0;
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == OP_EXPAND && g->nodes[i].expand == EXPAND_NOISE) samples = g->nodes[i].mult;
        if (samples) {
            LLVMValueRef noise = cg_options_pointer(c, options, 2);
            check = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "check_noise");
            next = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "noise_ok");
            LLVMBuildCondBr(c->b, is_null(c, noise), next, check);
            LLVMPositionBuilderAtEnd(c->b, check);
            cg_return_if(c, cg_any_nonfinite(c, noise, LLVMBuildNSWMul(c->b, batch, cg_i64(c, in_count * samples), "")), XAI_ENAN);
            LLVMBuildBr(c->b, next);
            LLVMPositionBuilderAtEnd(c->b, next);
        }
    }

    LLVMValueRef wbase = LLVMConstNull(c->ptr), arena = ws;
    if (c->opt->weights_external) {
        LLVMValueRef magic = LLVMBuildLoad2(c->b, c->i64, LLVMBuildInBoundsGEP2(c->b, c->i8, ws, (LLVMValueRef[]){cg_i64(c, 8)}, 1, ""), "");
        cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntNE, magic, cg_i64(c, (int64_t)WEIGHTS_MAGIC), ""), XAI_EWEIGHTS);
        wbase = LLVMBuildLoad2(c->b, c->ptr, ws, "weights");
        arena = LLVMBuildInBoundsGEP2(c->b, c->i8, ws, (LLVMValueRef[]){cg_i64(c, XAIC_WS_HEADER)}, 1, "arena");
    }
    *e = (cg_entry){x, y, batch, ws, target, options, wbase, arena};
}

/* where[i]: the buffer of node i (the entry's x and out, or its slot in the arena) */
void cg_entry_buffers(cg *c, const graph_plan *plan, const cg_entry *e, LLVMValueRef *where)
{
    for (int i = 0; i < c->g->n_nodes; i++) {
        const plan_value *v = &plan->values[i];
        if (v->kind == LOC_INPUT) where[i] = e->x;
        else if (v->kind == LOC_OUTPUT) where[i] = e->y;
        else where[i] = cg_gep(c, e->arena, LLVMBuildNSWMul(c->b, e->batch, cg_i64(c, v->offset), ""));
    }
}

/* Calls the kernels of nodes [from, to) in order. */
void cg_call_kernels(cg *c, const graph_plan *plan, LLVMValueRef *kernels, const LLVMValueRef *where,
                     const cg_entry *e, LLVMValueRef target, LLVMValueRef sample0, int from, int to)
{
    const ir_graph *g = c->g;
    LLVMValueRef wbase = e->wbase, options = e->options, batch = e->batch;
    for (int i = from; i < to; i++) {
        if (!plan->emit[i]) continue;
        const ir_node *n = &g->nodes[i];
        LLVMValueRef args[IR_MAX_INPUTS + 6];
        LLVMTypeRef types[IR_MAX_INPUTS + 6];
        int na = 0;
        args[na++] = where[i];
        for (int k = 0; k < n->n_inputs; k++) args[na++] = where[n->inputs[k]];
        args[na++] = wbase;
        args[na++] = target ? target : LLVMConstNull(c->ptr);   /* (the entry's, or the AM loop's own) */
        args[na++] = options ? options : LLVMConstNull(c->ptr);
        args[na++] = n->mult > 1 ? LLVMBuildNSWMul(c->b, batch, cg_i64(c, n->mult), "") : batch;
        args[na++] = sample0 ? sample0 : cg_i64(c, 0);
        for (int k = 0; k < na - 2; k++) types[k] = c->ptr;
        types[na - 2] = types[na - 1] = c->i64;
        LLVMBuildCall2(c->b, LLVMFunctionType(c->void_t, types, na, 0), kernels[i], args, na, "");
    }
}

static void emit_entry(cg *c, const graph_plan *plan, LLVMValueRef *kernels)
{
    cg_entry e;
    cg_entry_begin(c, plan, &e);
    LLVMValueRef *where = calloc(c->g->n_nodes, sizeof *where);
    cg_entry_buffers(c, plan, &e, where);
    const ir_graph *g = c->g;
    if (g->chunk > 0 && g->chunk < g->samples) {   /* the sample region once per chunk of samples */
        cg_call_kernels(c, plan, kernels, where, &e, e.target, NULL, 0, g->sample_first);
        cg_loop l;
        LLVMValueRef k = cg_loop_begin(c, &l, cg_i64(c, 0), cg_i64(c, g->samples / g->chunk), "chunk");
        cg_call_kernels(c, plan, kernels, where, &e, e.target, cg_mad(c, k, g->chunk, NULL), g->sample_first,
                        g->sample_last + 1);
        cg_loop_end(c, &l);
        cg_call_kernels(c, plan, kernels, where, &e, e.target, NULL, g->sample_last + 1, g->n_nodes);
    } else {
        cg_call_kernels(c, plan, kernels, where, &e, e.target, NULL, 0, g->n_nodes);
    }
    if (plan->copy_input_to_output) {
        int64_t out_count = ir_shape_count(&c->g->nodes[c->g->output].shape);
        LLVMValueRef bytes = LLVMBuildNSWMul(c->b, e.batch, cg_i64(c, out_count * 4), "");
        LLVMBuildMemCpy(c->b, e.y, 4, e.x, 4, bytes);
    }
    free(where);
    LLVMBuildRet(c->b, LLVMConstInt(c->i32, XAI_OK, 0));
}

/* NET_bind_weights(workspace, file bytes, size): checks the file is the one compiled against. */
static void emit_bind_weights(cg *c)
{
    LLVMTypeRef size_t_ty = LLVMIntPtrTypeInContext(c->ctx, LLVMGetModuleDataLayout(c->mod));
    LLVMTypeRef params[3] = {c->ptr, c->ptr, size_t_ty};
    LLVMValueRef fn = add_function(c, "bind_weights", c->i32, params, 3);
    LLVMValueRef ws = LLVMGetParam(fn, 0), data = LLVMGetParam(fn, 1), size = LLVMGetParam(fn, 2);
    cg_return_if(c, LLVMBuildOr(c->b, is_null(c, ws), is_null(c, data), ""), XAI_ENULL);
    LLVMValueRef addr = LLVMBuildPtrToInt(c->b, ws, c->i64, "");
    cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntNE, LLVMBuildAnd(c->b, addr, cg_i64(c, 63), ""), cg_i64(c, 0), ""),
              XAI_EALIGN);
    cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntNE, size, LLVMConstInt(size_t_ty, c->g->weights_size, 0), ""),
              XAI_EWEIGHTS);
    LLVMTypeRef crc_params[2] = {c->ptr, size_t_ty};
    LLVMTypeRef crc_ty = LLVMFunctionType(c->i32, crc_params, 2, 0);
    LLVMValueRef crc_fn = LLVMGetNamedFunction(c->mod, "xai_crc32");
    if (!crc_fn) crc_fn = LLVMAddFunction(c->mod, "xai_crc32", crc_ty);
    LLVMValueRef crc = LLVMBuildCall2(c->b, crc_ty, crc_fn, (LLVMValueRef[]){data, size}, 2, "");
    cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntNE, crc, LLVMConstInt(c->i32, c->g->weights_crc32, 0), ""), XAI_EWEIGHTS);
    LLVMBuildStore(c->b, data, ws);
    LLVMBuildStore(c->b, cg_i64(c, (int64_t)WEIGHTS_MAGIC),
                   LLVMBuildInBoundsGEP2(c->b, c->i8, ws, (LLVMValueRef[]){cg_i64(c, 8)}, 1, ""));
    LLVMBuildRet(c->b, LLVMConstInt(c->i32, XAI_OK, 0));
}

/* ---- NET_info: must match xai_model_info / xai_tensor_info in xairt.h ---- */

static LLVMValueRef const_string(cg *c, const char *s, const char *label)
{
    char name[300];
    snprintf(name, sizeof name, "%s.str.%s", c->g->name, label);
    LLVMValueRef init = LLVMConstStringInContext(c->ctx, s, strlen(s), 0);
    LLVMValueRef gv = LLVMAddGlobal(c->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
    return gv;
}

static LLVMTypeRef tensor_info_type(cg *c)
{
    LLVMTypeRef fields[3] = {c->ptr, c->i32, LLVMArrayType2(c->i32, XAI_MAX_RANK)};
    return LLVMStructTypeInContext(c->ctx, fields, 3, 0);
}

static LLVMValueRef tensor_info(cg *c, const char *name, const ir_shape *s, const char *label)
{
    LLVMValueRef dims[XAI_MAX_RANK];
    for (int k = 0; k < XAI_MAX_RANK; k++) dims[k] = LLVMConstInt(c->i32, k < s->rank ? s->dims[k] : 0, 0);
    LLVMValueRef fields[3] = {const_string(c, name, label), LLVMConstInt(c->i32, s->rank, 0),
                              LLVMConstArray2(c->i32, dims, XAI_MAX_RANK)};
    return LLVMConstNamedStruct(tensor_info_type(c), fields, 3);
}

static void emit_info(cg *c, const char *const *explanations, int n_explanations)
{
    const ir_graph *g = c->g;
    LLVMTypeRef ti = tensor_info_type(c);
    int n_layers = 0;
    LLVMValueRef *layers = calloc(2 * g->n_nodes, sizeof *layers);
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].op == OP_INPUT) continue;
        char label[32];
        snprintf(label, sizeof label, "layer%d", i);
        layers[n_layers++] = tensor_info(c, g->nodes[i].name, &g->nodes[i].shape, label);
        if (g->nodes[i].alias) {   /* a batchnorm folded into this layer */
            snprintf(label, sizeof label, "alias%d", i);
            layers[n_layers++] = tensor_info(c, g->nodes[i].alias, &g->nodes[i].shape, label);
        }
    }
    char name[300];
    snprintf(name, sizeof name, "%s.layers", g->name);
    LLVMValueRef larr = LLVMConstArray2(ti, layers, n_layers);
    LLVMValueRef lgv = LLVMAddGlobal(c->mod, LLVMTypeOf(larr), name);
    LLVMSetInitializer(lgv, larr);
    LLVMSetGlobalConstant(lgv, 1);
    LLVMSetLinkage(lgv, LLVMPrivateLinkage);
    free(layers);

    LLVMValueRef *names = calloc(n_explanations + 1, sizeof *names);
    for (int i = 0; i < n_explanations; i++) {
        char label[32];
        snprintf(label, sizeof label, "expl%d", i);
        names[i] = const_string(c, explanations[i], label);
    }
    snprintf(name, sizeof name, "%s.explanations", g->name);
    LLVMValueRef earr = LLVMConstArray2(c->ptr, names, n_explanations);
    LLVMValueRef egv = LLVMAddGlobal(c->mod, LLVMTypeOf(earr), name);
    LLVMSetInitializer(egv, earr);
    LLVMSetGlobalConstant(egv, 1);
    LLVMSetLinkage(egv, LLVMPrivateLinkage);
    free(names);

    LLVMTypeRef fields_t[11] = {c->ptr, ti, ti, c->f32, c->f32, c->i32, c->i32, c->ptr, c->i32, c->ptr, c->i32};
    LLVMTypeRef info_t = LLVMStructTypeInContext(c->ctx, fields_t, 11, 0);
    LLVMValueRef fields[11] = {
        const_string(c, g->name, "name"),
        tensor_info(c, g->nodes[g->input].name, &g->nodes[g->input].shape, "input"),
        tensor_info(c, g->output_name, &g->nodes[g->output].shape, "output"),
        cg_f32(c, g->has_range ? g->range_low : 0), cg_f32(c, g->has_range ? g->range_high : 0),
        LLVMConstInt(c->i32, g->has_range, 0), LLVMConstInt(c->i32, n_layers, 0), lgv,
        LLVMConstInt(c->i32, n_explanations, 0), egv, LLVMConstInt(c->i32, g->weights_crc32, 0)};
    LLVMValueRef info = LLVMConstStructInContext(c->ctx, fields, 11, 0);
    snprintf(name, sizeof name, "%s_info", g->name);
    LLVMValueRef gv = LLVMAddGlobal(c->mod, info_t, name);
    LLVMSetInitializer(gv, info);
    LLVMSetGlobalConstant(gv, 1);
}

/* Kernels of one graph (the network's forward pass or one explanation) and its entry point. */
static void emit_graph(cg *c, const graph_plan *plan)
{
    emit_constants(c, plan);
    LLVMValueRef *kernels = calloc(c->g->n_nodes, sizeof *kernels);
    for (int i = 0; i < c->g->n_nodes; i++)
        if (plan->emit[i]) kernels[i] = cg_kernel_shared(c, i);
    if (c->g->am.enabled) cg_emit_actmax_entry(c, plan, kernels);
    else emit_entry(c, plan, kernels);
    free(kernels);
}

int codegen_network(LLVMModuleRef mod, const ir_graph *net, const graph_plan *plan, ir_graph *const *explanations,
                    graph_plan *const *explanation_plans, int n_explanations, const cg_options *opt)
{
    cg_const_map consts = {0};
    cg c;
    cg_init(&c, mod, net, opt);
    c.consts = &consts;
    emit_graph(&c, plan);
    graph_plan largest = *plan;   /* NET_workspace_size covers every entry of the network */
    const char **names = calloc(n_explanations + 1, sizeof *names);
    for (int e = 0; e < n_explanations; e++) {
        c.g = explanations[e];
        emit_graph(&c, explanation_plans[e]);
        if (explanation_plans[e]->arena_floats > largest.arena_floats) largest.arena_floats = explanation_plans[e]->arena_floats;
        names[e] = explanations[e]->explain_name;
    }
    c.g = net;
    emit_workspace_size(&c, &largest);
    if (opt->weights_external) emit_bind_weights(&c);
    emit_info(&c, names, n_explanations);
    free(names);
    cg_kernel_cache_free(&c);
    free(consts.keys);
    free(consts.globals);
    LLVMDisposeBuilder(c.b);
    return 0;
}
