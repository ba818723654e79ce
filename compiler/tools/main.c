/* xaic command line: compile (default), check, run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "cli.h"
#include "driver.h"
#include "eval.h"
#include "import.h"
#include "jit.h"
#include "run.h"
#include "policy.h"

static void dump(const cli *o, const compilation *c)
{
    if (!strcmp(o->dump, "ast")) {
        for (int i = 1; i < c->program->n_files; i++) ast_dump(c->program->files[i], stdout);  /* [0]: prelude */
    } else if (!strcmp(o->dump, "graph") && c->ir) {
        ir_dump_module(c->ir, stdout);
    } else if (!strcmp(o->dump, "backward") && c->ir) {
        if (c->explain) explain_dump(c->explain, c->ir, stdout);
        for (int i = 0; i < c->ir->n_explanations; i++) {
            printf("explanation %s_%s:\n", c->ir->explanations[i]->name, c->ir->explanations[i]->explain_name);
            ir_dump_graph(c->ir->explanations[i], stdout);
        }
    } else if (!strcmp(o->dump, "plan") && c->ir) {
        for (int i = 0; i < c->ir->n_graphs; i++) plan_dump(c->ir->graphs[i], c->plans[i], stdout);
        for (int i = 0; c->explanation_plans && i < c->ir->n_explanations; i++)
            plan_dump(c->ir->explanations[i], c->explanation_plans[i], stdout);
    }
}

static char *replace_extension(const char *path, const char *ext)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    size_t stem = (dot && (!slash || dot > slash)) ? (size_t)(dot - path) : strlen(path);
    char *out = malloc(stem + strlen(ext) + 1);
    memcpy(out, path, stem);
    strcpy(out + stem, ext);
    return out;
}

static int compile(const cli *o, compilation *c)
{
    emit_kind kind;
    if (!strcmp(o->emit, "obj")) kind = EMIT_OBJ;
    else if (!strcmp(o->emit, "asm")) kind = EMIT_ASM;
    else if (!strcmp(o->emit, "llvm")) kind = EMIT_LLVM;
    else if (!strcmp(o->emit, "header")) kind = EMIT_HEADER;
    else { fprintf(stderr, "xaic: error: --emit takes obj, asm, llvm or header, not '%s'\n", o->emit); return 2; }
    if (!o->out) { fprintf(stderr, "xaic: error: no output file; give -o FILE\n"); return 2; }
    cg_options cgo = {.weights_external = o->external, .threads_off = o->threads_off};
    char *err = NULL;
    if (kind == EMIT_HEADER) {
        if (emit_header(c->ir, &cgo, o->out, &err)) goto fail;
        return 0;
    }
    target_options t = {.triple = o->triple, .cpu = o->cpu, .opt_level = o->opt_level,
                        .sanitize_address = o->sanitize_address};
    LLVMContextRef ctx = LLVMContextCreate();
    int status = 0;
    if (driver_codegen(c, ctx, &t, &cgo, &err) || emit_file(c->mod, c->tm, o->out, kind, &err)) status = 1;
    if (!status && kind == EMIT_OBJ) {
        char *h = replace_extension(o->out, ".h");
        status = emit_header(c->ir, &cgo, h, &err);
        free(h);
    }
    LLVMDisposeModule(c->mod);
    c->mod = NULL;
    LLVMContextDispose(ctx);
    if (!status) return 0;
fail:
    fprintf(stderr, "xaic: error: %s\n", err ? err : "out of memory");
    free(err);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "eval")) return eval_main(argc - 1, argv + 1);   /* its own options */
    if (argc > 1 && !strcmp(argv[1], "import")) return import_main(argc - 1, argv + 1);
    cli o;
    int rc = cli_parse(argc, argv, &o, stderr);
    if (rc) return rc;
    if (o.help) {
        cli_usage(stdout);
        return 0;
    }
    if (o.version) {
        unsigned maj, min, patch;
        LLVMGetVersion(&maj, &min, &patch);
        printf("xaic %s (LLVM %u.%u.%u)\n", XAIC_VERSION, maj, min, patch);
        return 0;
    }
    char err[600];
    if (policy_set_root(o.root ? o.root : getenv("XAIC_ROOT"), err, sizeof err)) {
        fprintf(stderr, "xaic: error: %s\n", err);
        return 2;
    }
    policy_set_nonfinite_weights(o.allow_nonfinite_weights);
    xai_diag d;
    diag_init(&d, stderr);
    if (o.error_limit >= 0) d.limit = o.error_limit;
    compilation c;
    int failed = driver_analyse(&c, &d, o.file);
    if (o.dump && c.program) dump(&o, &c);
    if (failed || d.errors) {
        if (d.errors) fprintf(stderr, "%d error%s\n", d.errors, d.errors == 1 ? "" : "s");
        driver_free(&c);
        diag_free(&d);
        return 1;
    }
    if (!strcmp(o.command, "check")) rc = 0;
    else if (!strcmp(o.command, "run")) rc = run_command(&c, &(run_request){.input = o.input, .output = o.out,
                                         .network = o.network, .explain = o.explain, .forward = o.forward,
                                         .class_target = o.class_target, .opt_level = o.opt_level,
                                         .stats = o.stats, .overlay = o.overlay, .baseline = o.baseline,
                                         .noise = o.noise, .seed = o.seed, .has_seed = o.has_seed,
                                         .steps = o.steps});
    else rc = compile(&o, &c);
    driver_free(&c);
    diag_free(&d);
    return rc;
}
