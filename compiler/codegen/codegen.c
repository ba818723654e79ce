/* Code generation for one network: weight constants, kernels, the entry points and NET_info.
 * Entry points validate their arguments and return XAI_E* codes; they never allocate, print or abort,
 * and write no global: all scratch memory is the caller's workspace. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Target.h>

#include "cg_entry.h"
#include "cg_kernels.h"
#include "xairt.h"

static void map_constant(cg_const_map *m, const ir_const *k, LLVMValueRef gv)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 32;
        m->keys = realloc(m->keys, sizeof *m->keys * m->cap);
        m->globals = realloc(m->globals, sizeof *m->globals * m->cap);
    }
    m->keys[m->n] = k;
    m->globals[m->n++] = gv;
}

/* The global of an embedded constant with the same values: explanations derive their own copies (a rule's
 * bias, a pooling scale), and one global for equal copies lets their kernels be shared (cg_kernel_cache.c). */
static LLVMValueRef same_values(const cg_const_map *m, const ir_const *k)
{
    for (int i = 0; i < m->n; i++)
        if (m->keys[i]->count == k->count && !memcmp(m->keys[i]->data, k->data, (size_t)k->count * sizeof(float)))
            return m->globals[i];
    return NULL;
}

static void add_constant(cg *c, const ir_const *k)
{
    if (!k || cg_const_is_external(c, k) || cg_derived_offset(c, k) >= 0 || cg_const_global(c, k)) return;
    cg_const_map *m = c->consts;
    LLVMValueRef same = same_values(m, k);
    if (same) {
        map_constant(m, k, same);
        return;
    }
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
    map_constant(m, k, gv);
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
        add_constant(c, cg_kernel_weight(c, &c->g->nodes[i]));
        add_constant(c, c->g->nodes[i].bias);
        collect_ew_constants(c, c->g->nodes[i].expr);
    }
}

static void emit_workspace_size(cg *c, const graph_plan *plan)
{ /* plan: the largest arena of the network's entries */
    LLVMTypeRef size_t_ty = LLVMIntPtrTypeInContext(c->ctx, LLVMGetModuleDataLayout(c->mod));
    LLVMValueRef fn = cg_add_function(c, "workspace_size", size_t_ty, &c->i32, 1);
    LLVMValueRef batch = LLVMGetParam(fn, 0);
    LLVMValueRef bad =
        LLVMBuildOr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, batch, LLVMConstInt(c->i32, 1, 0), ""),
                    LLVMBuildICmp(c->b, LLVMIntSGT, batch, LLVMConstInt(c->i32, cg_max_batch(c, plan), 0), ""), "");
    LLVMBasicBlockRef zero = LLVMAppendBasicBlockInContext(c->ctx, fn, "zero");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(c->ctx, fn, "ok");
    LLVMBuildCondBr(c->b, bad, zero, ok);
    LLVMPositionBuilderAtEnd(c->b, zero);
    LLVMBuildRet(c->b, LLVMConstInt(size_t_ty, 0, 0));
    LLVMPositionBuilderAtEnd(c->b, ok);
    LLVMValueRef b = LLVMBuildZExt(c->b, batch, size_t_ty, "");
    LLVMValueRef bytes = LLVMBuildMul(c->b, b, LLVMConstInt(size_t_ty, plan->arena_floats * 4, 0), "");
    LLVMBuildRet(c->b, LLVMBuildAdd(c->b, bytes, LLVMConstInt(size_t_ty, cg_header_bytes(c), 0), ""));
}

/* NET_forward(x, y, batch, ws) or, for an explanation, NET_E(x, target, out, batch, ws). */
static void emit_entry(cg *c, const graph_plan *plan, LLVMValueRef *kernels)
{
    cg_entry e;
    cg_entry_begin(c, plan, &e);
    LLVMValueRef *where = calloc(c->g->n_nodes, sizeof *where);
    cg_entry_buffers(c, plan, &e, where);
    const ir_graph *g = c->g;
    if (g->chunk > 0 && g->chunk < g->samples) { /* the sample region once per chunk of samples */
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
    int64_t out_count = ir_shape_count(&c->g->nodes[c->g->output].shape);
    if (plan->copy_input_to_output) {
        LLVMValueRef bytes = LLVMBuildNSWMul(c->b, e.batch, cg_i64(c, out_count * 4), "");
        LLVMBuildMemCpy(c->b, e.y, 4, e.x, 4, bytes);
    }
    /* finite inputs (checked on entry) gave NaN or infinity: overflow somewhere; say so, never return it quietly */
    cg_return_if(c, cg_any_nonfinite(c, e.y, LLVMBuildNSWMul(c->b, e.batch, cg_i64(c, out_count), "")), XAI_ENONFINITE);
    free(where);
    LLVMBuildRet(c->b, LLVMConstInt(c->i32, XAI_OK, 0));
}

/* NET_bind_weights(workspace, file bytes, size): checks the file is the one compiled against, computes the
 * derived constants into the workspace (cg_derive.c) and marks the workspace bound. */
static void emit_bind_weights(cg *c)
{
    LLVMTypeRef size_t_ty = LLVMIntPtrTypeInContext(c->ctx, LLVMGetModuleDataLayout(c->mod));
    LLVMTypeRef params[3] = { c->ptr, c->ptr, size_t_ty };
    LLVMValueRef fn = cg_add_function(c, "bind_weights", c->i32, params, 3);
    LLVMValueRef ws = LLVMGetParam(fn, 0), data = LLVMGetParam(fn, 1), size = LLVMGetParam(fn, 2);
    cg_return_if(c, LLVMBuildOr(c->b, cg_is_null(c, ws), cg_is_null(c, data), ""), XAI_ENULL);
    LLVMValueRef addr = LLVMBuildPtrToInt(c->b, ws, c->i64, "");
    cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntNE, LLVMBuildAnd(c->b, addr, cg_i64(c, 63), ""), cg_i64(c, 0), ""),
                 XAI_EALIGN);
    cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntNE, size, LLVMConstInt(size_t_ty, c->g->weights_size, 0), ""),
                 XAI_EWEIGHTS);
    LLVMTypeRef crc_params[2] = { c->ptr, size_t_ty };
    LLVMTypeRef crc_ty = LLVMFunctionType(c->i32, crc_params, 2, 0);
    LLVMValueRef crc_fn = LLVMGetNamedFunction(c->mod, "xai_crc32");
    if (!crc_fn) crc_fn = LLVMAddFunction(c->mod, "xai_crc32", crc_ty);
    LLVMValueRef crc = LLVMBuildCall2(c->b, crc_ty, crc_fn, (LLVMValueRef[]){ data, size }, 2, "");
    cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntNE, crc, LLVMConstInt(c->i32, c->g->weights_crc32, 0), ""),
                 XAI_EWEIGHTS);
    cg_derive_emit(c, ws, data); /* folded and transformed weights, before the workspace is marked bound */
    LLVMBuildStore(c->b, data, ws);
    LLVMBuildStore(c->b, cg_i64(c, (int64_t)CG_WEIGHTS_MAGIC),
                   LLVMBuildInBoundsGEP2(c->b, c->i8, ws, (LLVMValueRef[]){ cg_i64(c, 8) }, 1, ""));
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
    LLVMTypeRef fields[3] = { c->ptr, c->i32, LLVMArrayType2(c->i32, XAI_MAX_RANK) };
    return LLVMStructTypeInContext(c->ctx, fields, 3, 0);
}

static LLVMValueRef tensor_info(cg *c, const char *name, const ir_shape *s, const char *label)
{
    LLVMValueRef dims[XAI_MAX_RANK];
    for (int k = 0; k < XAI_MAX_RANK; k++) dims[k] = LLVMConstInt(c->i32, k < s->rank ? s->dims[k] : 0, 0);
    LLVMValueRef fields[3] = { const_string(c, name, label), LLVMConstInt(c->i32, s->rank, 0),
                               LLVMConstArray2(c->i32, dims, XAI_MAX_RANK) };
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
        if (g->nodes[i].alias) { /* a batchnorm folded into this layer */
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

    LLVMTypeRef fields_t[11] = { c->ptr, ti, ti, c->f32, c->f32, c->i32, c->i32, c->ptr, c->i32, c->ptr, c->i32 };
    LLVMTypeRef info_t = LLVMStructTypeInContext(c->ctx, fields_t, 11, 0);
    LLVMValueRef fields[11] = { const_string(c, g->name, "name"),
                                tensor_info(c, g->nodes[g->input].name, &g->nodes[g->input].shape, "input"),
                                tensor_info(c, g->output_name, &g->nodes[g->output].shape, "output"),
                                cg_f32(c, g->has_range ? g->range_low : 0),
                                cg_f32(c, g->has_range ? g->range_high : 0),
                                LLVMConstInt(c->i32, g->has_range, 0),
                                LLVMConstInt(c->i32, n_layers, 0),
                                lgv,
                                LLVMConstInt(c->i32, n_explanations, 0),
                                egv,
                                LLVMConstInt(c->i32, g->weights_crc32, 0) };
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
    if (c->g->am.enabled)
        cg_emit_actmax_entry(c, plan, kernels);
    else
        emit_entry(c, plan, kernels);
    free(kernels);
}

int codegen_network(LLVMModuleRef mod, const ir_graph *net, const graph_plan *plan, ir_graph *const *explanations,
                    graph_plan *const *explanation_plans, int n_explanations, const cg_options *opt,
                    int64_t *workspace_header)
{
    cg_const_map consts = { 0 };
    cg c;
    cg_init(&c, mod, net, opt);
    c.consts = &consts;
    const ir_graph **graphs = calloc(n_explanations + 1, sizeof *graphs);
    const graph_plan **plans = calloc(n_explanations + 1, sizeof *plans);
    graphs[0] = net, plans[0] = plan;
    for (int e = 0; e < n_explanations; e++) graphs[e + 1] = explanations[e], plans[e + 1] = explanation_plans[e];
    for (int k = 0; cg_winograd_on(&c) && k < n_explanations + 1; k++) /* before anything asks which convs take it */
        if (plans[k]->scratch_floats * 4 > c.scratch_bytes) c.scratch_bytes = plans[k]->scratch_floats * 4;
    cg_derive_layout(&c, graphs, plans, n_explanations + 1); /* before any entry: the arena starts after them */
    free(graphs);
    free(plans);
    *workspace_header = cg_header_bytes(&c);
    emit_graph(&c, plan);
    graph_plan largest = *plan; /* NET_workspace_size covers every entry of the network */
    const char **names = calloc(n_explanations + 1, sizeof *names);
    for (int e = 0; e < n_explanations; e++) {
        c.g = explanations[e];
        emit_graph(&c, explanation_plans[e]);
        if (explanation_plans[e]->arena_floats > largest.arena_floats)
            largest.arena_floats = explanation_plans[e]->arena_floats;
        names[e] = explanations[e]->explain_name;
    }
    c.g = net;
    emit_workspace_size(&c, &largest);
    if (opt->weights_external) emit_bind_weights(&c);
    emit_info(&c, names, n_explanations);
    free(names);
    cg_kernel_cache_free(&c);
    cg_derive_free(&c);
    free(consts.keys);
    free(consts.globals);
    cg_dispose(&c);
    return 0;
}
