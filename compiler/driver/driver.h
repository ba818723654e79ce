/* The pipeline as one call chain, shared by the command line, the JIT and the tests:
 * load (parse + imports) -> sema -> canon -> rules (explanations) -> plan -> codegen -> optimise. */
#ifndef XAIC_DRIVER_H
#define XAIC_DRIVER_H

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include "codegen.h"
#include "explain.h"
#include "emit.h"
#include "ir.h"
#include "load.h"
#include "plan.h"

typedef struct compilation {
    xai_diag *diag;
    xai_program *program;
    ir_module *ir;
    explain_set *explain;           /* checked explain blocks (input of the rules stage) */
    graph_plan **plans;             /* per network graph */
    graph_plan **explanation_plans; /* per explanation graph */
    LLVMModuleRef mod;
    LLVMTargetMachineRef tm;
    int64_t *workspace_headers; /* per network, after code generation: workspace bytes before the arena */
    /* Progress of the back end (set by a tool after the analysis; NULL: none): called as each phase starts
     * ("generating code", "optimising", "compiling machine code") with the module's functions so far, and with
     * phase NULL when the code is ready. A large network takes a minute. */
    void (*phase)(void *ctx, const char *phase, int functions);
    void *phase_ctx;
} compilation;

/* Reports a phase to c->phase, if set (functions: those of c->mod with a body). */
void driver_phase(const compilation *c, const char *phase);

/* Front and middle: parse, check, canonicalise and plan `path`. Returns non-zero if there were errors
 * (all of them reported to d). */
int driver_analyse(compilation *c, xai_diag *d, const char *path);
/* Called once the networks are checked and canonicalised (c->ir), before the explain blocks are: it may add
 * files to c->program (explain blocks the command line asks for); non-zero stops the analysis. */
typedef int (*driver_extend_fn)(compilation *c, xai_diag *d, void *ctx);
/* driver_analyse with such a step (NULL: none). */
int driver_analyse_extended(compilation *c, xai_diag *d, const char *path, driver_extend_fn extend, void *ctx);
/* Same for a source held in memory (tests). */
int driver_analyse_text(compilation *c, xai_diag *d, const char *path, const char *text);
/* Back end: generates the module in ctx for the given target (c->mod, unoptimised; c->tm). */
int driver_generate(compilation *c, LLVMContextRef ctx, const target_options *t, const cg_options *opt, char **err);
/* driver_generate, then the optimisation pipeline. */
int driver_codegen(compilation *c, LLVMContextRef ctx, const target_options *t, const cg_options *opt, char **err);
void driver_free(compilation *c);
/* The explanation graph named `name`, or NULL. */
const ir_graph *driver_explanation(const compilation *c, const char *name, int *index);
/* The graph named `name`, or NULL. */
const ir_graph *driver_graph(const compilation *c, const char *name, int *index);
#endif
