/* Target machine, optimisation pipeline, object/assembly/IR files and the generated header. */
#include "emit.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>

static void init_targets(void)
{
    static int done;
    if (done) return;
    LLVMInitializeAllTargetInfos();
    LLVMInitializeAllTargets();
    LLVMInitializeAllTargetMCs();
    LLVMInitializeAllAsmPrinters();
    LLVMInitializeAllAsmParsers();
    done = 1;
}

LLVMTargetMachineRef emit_target_machine(const target_options *t, char **err)
{
    init_targets();
    char *host = LLVMGetDefaultTargetTriple();
    const char *triple = t->triple ? t->triple : host;
    char *normalized = LLVMNormalizeTargetTriple(triple);
    int is_host = t->triple == NULL || strcmp(normalized, host) == 0;
    LLVMTargetRef target;
    char *msg = NULL;
    if (LLVMGetTargetFromTriple(normalized, &target, &msg)) {
        if (asprintf(err, "unknown target '%s': %s", triple, msg) < 0) *err = NULL;
        LLVMDisposeMessage(msg);
        LLVMDisposeMessage(host);
        LLVMDisposeMessage(normalized);
        return NULL;
    }
    if (t->cpu && strcmp(t->cpu, "native") && strcmp(t->cpu, "generic") && !driver_cpu_is_known(normalized, t->cpu)) {
        if (asprintf(err,
                     "unknown CPU '%s' for target '%s' (--cpu takes an LLVM CPU name such as x86-64-v3, "
                     "znver4, generic or native)",
                     t->cpu, normalized) < 0)
            *err = NULL;
        LLVMDisposeMessage(host);
        LLVMDisposeMessage(normalized);
        return NULL;
    }
    char *host_cpu = LLVMGetHostCPUName(), *host_features = LLVMGetHostCPUFeatures();
    const char *cpu = t->cpu ? t->cpu : is_host ? host_cpu : "generic";
    const char *features = t->features ? t->features : (is_host && !t->cpu) ? host_features : "";
    if (t->cpu && !strcmp(t->cpu, "native")) {
        cpu = host_cpu;
        features = host_features;
    }
    LLVMCodeGenOptLevel level = t->opt_level <= 0 ? LLVMCodeGenLevelNone
        : t->opt_level == 1                       ? LLVMCodeGenLevelLess
        : t->opt_level == 2                       ? LLVMCodeGenLevelDefault
                                                  : LLVMCodeGenLevelAggressive;
    LLVMTargetMachineRef tm =
        LLVMCreateTargetMachine(target, normalized, cpu, features, level, LLVMRelocPIC, LLVMCodeModelDefault);
    LLVMDisposeMessage(host_cpu);
    LLVMDisposeMessage(host_features);
    LLVMDisposeMessage(host);
    LLVMDisposeMessage(normalized);
    if (!tm && asprintf(err, "cannot create a target machine for '%s'", triple) < 0) *err = NULL;
    return tm;
}

int emit_vector_registers(LLVMTargetMachineRef tm)
{
    char *features = LLVMGetTargetMachineFeatureString(tm);
    int wide = features && strstr(features, "+avx512f") && strstr(features, "+avx512vl");
    LLVMDisposeMessage(features);
    return wide ? 32 : 16;
}

void emit_prepare_module(LLVMModuleRef mod, LLVMTargetMachineRef tm)
{
    char *triple = LLVMGetTargetMachineTriple(tm);
    LLVMSetTarget(mod, triple);
    LLVMDisposeMessage(triple);
    LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(mod, dl);
    LLVMDisposeTargetData(dl);
}

int emit_verify(LLVMModuleRef mod, char **err)
{
    char *msg = NULL;
    if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
        if (asprintf(err, "internal error: generated module is invalid: %s", msg) < 0) *err = NULL;
        LLVMDisposeMessage(msg);
        return 1;
    }
    LLVMDisposeMessage(msg);
    return 0;
}

int emit_optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, const target_options *t, char **err)
{
    int opt_level = t->opt_level;
    if (emit_verify(mod, err)) return 1;
    char pipeline[48];
    snprintf(pipeline, sizeof pipeline, "%sdefault<O%d>", t->sanitize_address ? "asan," : "",
             opt_level < 0       ? 0
                 : opt_level > 3 ? 3
                                 : opt_level);
    if (t->sanitize_address) {
        /* the asan pass instruments only functions that carry this attribute */
        unsigned kind = LLVMGetEnumAttributeKindForName("sanitize_address", 16);
        LLVMContextRef ctx = LLVMGetModuleContext(mod);
        for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f))
            if (LLVMCountBasicBlocks(f))
                LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(ctx, kind, 0));
    }
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(po, opt_level >= 2);
    LLVMPassBuilderOptionsSetSLPVectorization(po, opt_level >= 2);
    /* No loop unrolling: the kernels are unrolled where it pays as they are generated (register tiles, vector
     * steps), and LLVM's unrollers only copied loop bodies of thousands of instructions: a quarter of the
     * compile time (VGG-16's LRP object: 17 -> 13 s of CPU), for run times within this machine's noise
     * (docs/performance.md, "Compile time"). */
    LLVMPassBuilderOptionsSetLoopUnrolling(po, 0);
    LLVMErrorRef e = LLVMRunPasses(mod, pipeline, tm, po);
    LLVMDisposePassBuilderOptions(po);
    if (e) {
        char *m = LLVMGetErrorMessage(e);
        if (asprintf(err, "optimisation failed: %s", m) < 0) *err = NULL;
        LLVMDisposeErrorMessage(m);
        return 1;
    }
    return 0;
}

int emit_code(LLVMModuleRef mod, LLVMTargetMachineRef tm, emit_kind kind, FILE *f, char **err)
{
    if (kind == EMIT_LLVM) {
        char *text = LLVMPrintModuleToString(mod);
        fputs(text, f);
        LLVMDisposeMessage(text);
        return 0;
    }
    char *msg = NULL;
    LLVMMemoryBufferRef buf = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, kind == EMIT_ASM ? LLVMAssemblyFile : LLVMObjectFile, &msg,
                                            &buf)) {
        if (asprintf(err, "code generation failed: %s", msg ? msg : "unknown error") < 0) *err = NULL;
        LLVMDisposeMessage(msg);
        return 1;
    }
    fwrite(LLVMGetBufferStart(buf), 1, LLVMGetBufferSize(buf), f); /* write errors: at the commit */
    LLVMDisposeMemoryBuffer(buf);
    return 0;
}

void emit_string_global(LLVMModuleRef mod, const char *name, const char *text)
{
    LLVMValueRef init = LLVMConstStringInContext(LLVMGetModuleContext(mod), text, (unsigned)strlen(text), 0);
    LLVMValueRef g = LLVMAddGlobal(mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(g, init);
    LLVMSetGlobalConstant(g, 1);
    LLVMSetLinkage(g, LLVMExternalLinkage);
}

static void shape_comment(FILE *f, const ir_shape *s)
{
    fputc('[', f);
    for (int i = 0; i < s->rank; i++) fprintf(f, "%s%d", i ? ", " : "", s->dims[i]);
    fputc(']', f);
}

static void upper(char *dst, const char *src, size_t len)
{
    size_t i = 0;
    for (; src[i] && i + 1 < len; i++) dst[i] = isalnum((unsigned char)src[i]) ? toupper((unsigned char)src[i]) : '_';
    dst[i] = 0;
}

void emit_header(const ir_module *m, const cg_options *opt, const char *path, FILE *f)
{
    const char *base = strrchr(path, '/');
    char guard[256];
    upper(guard, base ? base + 1 : path, sizeof guard);
    fprintf(f,
            "/* Generated by xaic. Link the object with -lxairt. The API is described in xaic's README, \"Using the "
            "generated code\".\n"
            " * Every entry returns 0 or an XAI_E* code (xai_status_string explains it); entries are reentrant\n"
            " * and thread-safe with one workspace per thread; the workspace must be 64-byte aligned and hold\n"
            " * NET_workspace_size(batch) bytes (_ex entries check it when xai_options.workspace_size is set).\n"
            " * Finite inputs that give NaN or infinity return XAI_ENONFINITE. */\n");
    fprintf(
        f,
        "#ifndef XAIC_GEN_%s\n#define XAIC_GEN_%s\n\n#include <stddef.h>\n#include <stdint.h>\n#include <xairt.h>\n\n",
        guard, guard);
    fprintf(f, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    for (int i = 0; i < m->n_graphs; i++) {
        const ir_graph *g = m->graphs[i];
        char up[256];
        upper(up, g->name, sizeof up);
        const ir_node *in = &g->nodes[g->input], *out = &g->nodes[g->output];
        fprintf(f, "/* network %s: input %s ", g->name, in->name);
        shape_comment(f, &in->shape);
        fprintf(f, " -> output %s ", g->output_name);
        shape_comment(f, &out->shape);
        fprintf(f, ", per sample, batch first */\n");
        fprintf(f, "#define %s_INPUT_SIZE %lld\n#define %s_OUTPUT_SIZE %lld\n", up,
                (long long)ir_shape_count(&in->shape), up, (long long)ir_shape_count(&out->shape));
        fprintf(f, "size_t %s_workspace_size(int32_t batch);   /* bytes; 0 if batch is invalid */\n", g->name);
        fprintf(f, "int %s_forward(const float *x, float *y, int32_t batch, void *workspace);\n", g->name);
        if (opt->weights_external)
            fprintf(f,
                    "/* --weights=external: call once per workspace with the bytes of the safetensors file\n"
                    " * compiled against (%llu bytes); XAI_EWEIGHTS if it is another file. The workspace keeps a\n"
                    " * pointer to those bytes: they must stay valid and unchanged while any call uses it. Weights\n"
                    " * derived from them (folded BatchNorms, rules' transforms) are computed into the workspace. */\n"
                    "int %s_bind_weights(void *workspace, const void *safetensors, size_t size);\n",
                    (unsigned long long)g->weights_size, g->name);
        for (int e = 0; e < m->n_explanations; e++) {
            const ir_graph *x = m->explanations[e];
            if (x->network != g) continue;
            const ir_node *o = &x->nodes[x->am.enabled ? x->am.image : x->output];
            if (x->am.enabled) {
                fprintf(f, "/* explanation %s: activation maximisation; x: the starting %s ", x->explain_name,
                        x->am.generator ? "code" : "input");
                shape_comment(f, &x->nodes[x->input].shape);
                fprintf(f, ", out: the synthesised input ");
                shape_comment(f, &o->shape);
                fprintf(f, " per sample;\n * target: a class per sample, or NULL for the arg-max at the start */\n");
            } else {
                fprintf(f, "/* explanation %s: out ", x->explain_name);
                shape_comment(f, &o->shape);
                const char *from = ir_explain_from_layer(x);
                if (from)
                    fprintf(f,
                            " per sample; target: a channel of layer %s per sample (0 .. %lld), or NULL for the\n"
                            " * channel of largest sum */\n",
                            from, (long long)ir_explain_targets(x) - 1);
                else
                    fprintf(f, " per sample; target: a class per sample, or NULL for the arg-max */\n");
            }
            if (x->explain_note) fprintf(f, "/* %s: %s */\n", x->explain_name, x->explain_note);
            fprintf(f,
                    "int %s_%s(const float *x, const int32_t *target, float *out, int32_t batch, void *workspace);\n",
                    g->name, x->explain_name);
            if (x->has_options)
                fprintf(
                    f,
                    "int %s_%s_ex(const float *x, const int32_t *target, float *out, int32_t batch, void *workspace,\n"
                    "        const xai_options *options);   /* %s */\n",
                    g->name, x->explain_name,
                    x->am.enabled ? "steps, regulariser centre (baseline), codes, progress at run time"
                                  : "baseline / reference / noise / seed at run time");
        }
        fprintf(f, "extern const xai_model_info %s_info;\n\n", g->name);
    }
    fprintf(f, "#ifdef __cplusplus\n}\n#endif\n#endif\n");
}
