/* ORC LLJIT through the LLVM C API. The module is built in the JIT's thread-safe context and handed
 * over; symbols the generated code calls (expf, memcpy) resolve from the xaic process. */
#include "jit.h"

#include <stdio.h>
#include <stdlib.h>

#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>

#include "xairt.h"

struct xai_jit {
    LLVMOrcLLJITRef jit;
};

static int take_error(LLVMErrorRef e, const char *what, char **err)
{
    if (!e) return 0;
    char *m = LLVMGetErrorMessage(e);
    if (asprintf(err, "%s: %s", what, m) < 0) *err = NULL;
    LLVMDisposeErrorMessage(m);
    return 1;
}

xai_jit *jit_create(compilation *c, int opt_level, char **err)
{
    cg_options cgo = { 0 };
    return jit_create_opts(c, opt_level, &cgo, err);
}

xai_jit *jit_create_opts(compilation *c, int opt_level, const cg_options *cgo, char **err)
{
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    target_options host = { .opt_level = opt_level };
    if (driver_codegen(c, LLVMOrcThreadSafeContextGetContext(tsc), &host, cgo, err)) {
        driver_phase(c, NULL);
        LLVMDisposeModule(c->mod);
        c->mod = NULL;
        LLVMOrcDisposeThreadSafeContext(tsc);
        return NULL;
    }
    xai_jit *j = calloc(1, sizeof *j);
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcJITTargetMachineBuilderRef jtmb;
    if (take_error(LLVMOrcJITTargetMachineBuilderDetectHost(&jtmb), "cannot detect the host", err)) goto fail;
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);
    if (take_error(LLVMOrcCreateLLJIT(&j->jit, builder), "cannot create the JIT", err)) goto fail;
    LLVMOrcDefinitionGeneratorRef gen;
    if (take_error(
            LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(j->jit), NULL, NULL),
            "cannot search the process for symbols", err))
        goto fail;
    LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(j->jit), gen);
    /* libxairt functions that generated code calls, bound to this process's copies (the executable need
     * not export them) */
    {
        const char *names[3] = { "xai_normal_fill", "xai_crc32", "xai_parallel_for" };
        void *addresses[3] = { (void *)xai_normal_fill, (void *)xai_crc32, (void *)xai_parallel_for };
        LLVMOrcCSymbolMapPair pairs[3];
        for (int k = 0; k < 3; k++) {
            pairs[k].Name = LLVMOrcLLJITMangleAndIntern(j->jit, names[k]);
            pairs[k].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)addresses[k];
            pairs[k].Sym.Flags.GenericFlags = LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable;
            pairs[k].Sym.Flags.TargetFlags = 0;
        }
        LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(pairs, 3);
        if (take_error(LLVMOrcJITDylibDefine(LLVMOrcLLJITGetMainJITDylib(j->jit), mu), "cannot define runtime symbols",
                       err))
            goto fail;
    }
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(c->mod, tsc);
    c->mod = NULL; /* owned by the JIT now */
    if (take_error(LLVMOrcLLJITAddLLVMIRModule(j->jit, LLVMOrcLLJITGetMainJITDylib(j->jit), tsm),
                   "cannot add the module to the JIT", err)) {
        LLVMOrcDisposeThreadSafeModule(tsm);
        goto fail;
    }
    LLVMOrcDisposeThreadSafeContext(tsc); /* the module keeps the context alive */
    if (c->phase && c->ir->n_graphs) {    /* the first lookup compiles the whole module: do it here, in the phase */
        driver_phase(c, "compiling machine code");
        char sym[300];
        snprintf(sym, sizeof sym, "%s_workspace_size", c->ir->graphs[0]->name);
        jit_lookup(j, sym);
    }
    driver_phase(c, NULL);
    return j;
fail:
    driver_phase(c, NULL);
    if (c->mod) {
        LLVMDisposeModule(c->mod);
        c->mod = NULL;
    }
    LLVMOrcDisposeThreadSafeContext(tsc);
    jit_free(j);
    return NULL;
}

void *jit_lookup(xai_jit *j, const char *symbol)
{
    LLVMOrcExecutorAddress addr = 0;
    LLVMErrorRef e = LLVMOrcLLJITLookup(j->jit, &addr, symbol);
    if (e) {
        LLVMConsumeError(e);
        return NULL;
    }
    return (void *)(uintptr_t)addr;
}

void jit_free(xai_jit *j)
{
    if (!j) return;
    if (j->jit) LLVMOrcDisposeLLJIT(j->jit);
    free(j);
}
