/* Pipeline driver. */
#include "driver.h"

#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "fuse.h"
#include "rows.h"
#include "sema.h"
#include "winograd.h"

/* Row pruning (opt/rows.h) of each network, on the layers no explanation reads as a whole; the specs follow the
 * nodes it moves. */
static void prune_rows(compilation *c)
{
    for (int i = 0; i < c->ir->n_graphs; i++) {
        ir_graph *g = c->ir->graphs[i];
        unsigned char *keep = calloc((size_t)g->n_nodes + 1, 1);
        int *remap = malloc(sizeof(int) * ((size_t)g->n_nodes + 1));
        if (keep && remap && explain_nodes_read(c->explain, i, g->n_nodes, keep) && rows_prune(g, keep, remap))
            explain_remap_nodes(c->explain, i, remap, g->n_nodes);
        free(keep);
        free(remap);
    }
}

static int analyse(compilation *c, xai_diag *d, driver_extend_fn extend, void *ctx)
{
    if (!c->program) return 1;
    if (d->errors) return 1; /* syntax errors: meaning would only add noise */
    c->ir = sema_program(d, c->program);
    if (!c->ir || d->errors) return 1;
    canon_module(c->ir);
    if (extend && (extend(c, d, ctx) || d->errors)) return 1;
    c->explain = sema_explanations(d, c->program, c->ir);
    if (d->errors) return 1;
    prune_rows(c);
    if (explain_build(d, c->ir, c->explain)) return 1;
    for (int i = 0; i < c->ir->n_graphs; i++) fuse_epilogues(c->ir->graphs[i]);
    for (int i = 0; i < c->ir->n_explanations; i++) fuse_epilogues(c->ir->explanations[i]);
    winograd_prepare(c->ir); /* (the plans reserve the convs' scratch; codegen leaves it out under --conv=direct) */
    c->plans = calloc(c->ir->n_graphs + 1, sizeof *c->plans);
    for (int i = 0; i < c->ir->n_graphs; i++) c->plans[i] = plan_graph(c->ir->graphs[i]);
    c->explanation_plans = calloc(c->ir->n_explanations + 1, sizeof *c->explanation_plans);
    for (int i = 0; i < c->ir->n_explanations; i++) {
        plan_choose_chunk(c->ir->explanations[i], PLAN_SAMPLE_BUDGET);
        c->explanation_plans[i] = plan_graph(c->ir->explanations[i]);
    }
    return 0;
}

int driver_analyse(compilation *c, xai_diag *d, const char *path)
{
    memset(c, 0, sizeof *c);
    c->diag = d;
    c->program = load_program(d, path);
    return analyse(c, d, NULL, NULL);
}

int driver_analyse_extended(compilation *c, xai_diag *d, const char *path, driver_extend_fn extend, void *ctx)
{
    memset(c, 0, sizeof *c);
    c->diag = d;
    c->program = load_program(d, path);
    return analyse(c, d, extend, ctx);
}

int driver_analyse_text(compilation *c, xai_diag *d, const char *path, const char *text)
{
    memset(c, 0, sizeof *c);
    c->diag = d;
    c->program = load_program_text(d, path, text);
    return analyse(c, d, NULL, NULL);
}

void driver_phase(const compilation *c, const char *phase)
{
    if (!c->phase) return;
    int functions = 0;
    for (LLVMValueRef f = c->mod ? LLVMGetFirstFunction(c->mod) : NULL; f; f = LLVMGetNextFunction(f))
        functions += LLVMCountBasicBlocks(f) > 0;
    c->phase(c->phase_ctx, phase, functions);
}

int driver_generate(compilation *c, LLVMContextRef ctx, const target_options *t, const cg_options *opt, char **err)
{
    driver_phase(c, "generating code");
    if (c->tm) LLVMDisposeTargetMachine(c->tm); /* a second back-end run (tests, --stats) */
    c->tm = emit_target_machine(t, err);
    if (!c->tm) return 1;
    c->mod = LLVMModuleCreateWithNameInContext("xaic", ctx);
    emit_prepare_module(c->mod, c->tm);
    cg_options tuned = *opt;
    if (!tuned.vector_registers) tuned.vector_registers = emit_vector_registers(c->tm);
    free(c->workspace_headers);
    c->workspace_headers = calloc(c->ir->n_graphs + 1, sizeof *c->workspace_headers);
    ir_graph **expl = calloc(c->ir->n_explanations + 1, sizeof *expl);
    graph_plan **expl_plans = calloc(c->ir->n_explanations + 1, sizeof *expl_plans);
    for (int i = 0; i < c->ir->n_graphs; i++) {
        int n = 0;
        for (int e = 0; e < c->ir->n_explanations; e++)
            if (c->ir->explanations[e]->network == c->ir->graphs[i]) {
                expl[n] = c->ir->explanations[e];
                expl_plans[n++] = c->explanation_plans[e];
            }
        if (codegen_network(c->mod, c->ir->graphs[i], c->plans[i], expl, expl_plans, n, &tuned,
                            &c->workspace_headers[i])) {
            if (asprintf(err, "code generation failed for network '%s'", c->ir->graphs[i]->name) < 0) *err = NULL;
            free(expl);
            free(expl_plans);
            return 1;
        }
    }
    free(expl);
    free(expl_plans);
    return 0;
}

int driver_codegen(compilation *c, LLVMContextRef ctx, const target_options *t, const cg_options *opt, char **err)
{
    if (driver_generate(c, ctx, t, opt, err)) return 1;
    driver_phase(c, "optimising");
    return emit_optimize(c->mod, c->tm, t, err);
}

const ir_graph *driver_graph(const compilation *c, const char *name, int *index)
{
    if (!c->ir) return NULL;
    for (int i = 0; i < c->ir->n_graphs; i++)
        if (!strcmp(c->ir->graphs[i]->name, name)) {
            if (index) *index = i;
            return c->ir->graphs[i];
        }
    return NULL;
}

const ir_graph *driver_explanation(const compilation *c, const char *name, int *index)
{
    if (!c->ir) return NULL;
    for (int i = 0; i < c->ir->n_explanations; i++)
        if (!strcmp(c->ir->explanations[i]->explain_name, name)) {
            if (index) *index = i;
            return c->ir->explanations[i];
        }
    return NULL;
}

void driver_free(compilation *c)
{
    if (c->plans)
        for (int i = 0; c->ir && i < c->ir->n_graphs; i++) plan_free(c->plans[i]);
    free(c->plans);
    if (c->explanation_plans)
        for (int i = 0; c->ir && i < c->ir->n_explanations; i++) plan_free(c->explanation_plans[i]);
    free(c->explanation_plans);
    free(c->workspace_headers);
    explain_set_free(c->explain);
    ir_module_free(c->ir);
    if (c->program) program_free(c->program);
    if (c->mod) LLVMDisposeModule(c->mod);
    if (c->tm) LLVMDisposeTargetMachine(c->tm);
    memset(c, 0, sizeof *c);
}
