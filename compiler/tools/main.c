/* xaic command line: compile (default), check, run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "cli.h"
#include "describe.h"
#include "driver.h"
#include "emit_parallel.h"
#include "eval.h"
#include "import.h"
#include "jit.h"
#include "outputs.h"
#include "run.h"
#include "scheduler.h"
#include "shared.h"
#include "policy.h"
#include "tool_program.h"

static void dump(const cli *o, const compilation *c)
{
    if (!strcmp(o->dump, "ast")) {
        for (int i = 1; i < c->program->n_files; i++) ast_dump(c->program->files[i], stdout); /* [0]: prelude */
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

/* Every value of every explanation keeps its own slot (--keep-values), as `xaic run --stats` plans them. */
static void keep_values(compilation *c)
{
    for (int i = 0; i < c->ir->n_explanations; i++) {
        plan_free(c->explanation_plans[i]);
        c->explanation_plans[i] = plan_graph_keep_all(c->ir->explanations[i]);
    }
}

/* The module optimised and compiled, in parts on -j threads when it is large (emit_parallel.h), written to f as
 * one object (straight from LLVM's buffer: an object with embedded weights can be hundreds of MB). */
static int compile_object(const cli *o, compilation *c, const target_options *t, FILE *f, char **err)
{
    int jobs = emit_parallel_jobs(o->jobs);
    /* the parts are joined by the host's binutils: for another target, or without them, one part */
    if (jobs > 1 && (o->triple || !shared_can_link_parts())) jobs = 1;
    emit_object_set set;
    driver_phase(c, "optimising and compiling machine code");
    if (emit_objects(c->mod, c->tm, t, jobs, &set, err)) return 1;
    int failed = 0;
    if (set.n == 1) {
        fwrite(LLVMGetBufferStart(set.objects[0]), 1, LLVMGetBufferSize(set.objects[0]), f); /* errors: at the commit */
    } else {
        shared_object parts[SHARED_MAX_PARTS];
        for (int p = 0; p < set.n; p++)
            parts[p] = (shared_object){ LLVMGetBufferStart(set.objects[p]), LLVMGetBufferSize(set.objects[p]) };
        unsigned char *joined = NULL;
        size_t size = 0;
        failed = shared_link_parts(parts, set.n, &joined, &size); /* it said what went wrong */
        if (!failed) fwrite(joined, 1, size, f);
        free(joined);
    }
    emit_objects_free(&set);
    return failed;
}

/* --emit shared: the module with its description, compiled, linked with the runtime. */
static int link_shared(const cli *o, compilation *c, const target_options *t, const char *runtime, FILE *out,
                       char **err)
{
    describe_settings ds = { .opt_level = o->opt_level,
                             .keep_values = o->keep_values,
                             .threads_off = o->threads_off,
                             .weights_external = o->external,
                             .runtime = runtime };
    char *json = describe_module(c, &ds);
    if (!json) {
        *err = strdup("out of memory describing the module");
        return 1;
    }
    emit_string_global(c->mod, "xaic_describe", json);
    free(json);
    char *object = NULL;
    unsigned char *so = NULL;
    size_t size = 0, so_size = 0;
    FILE *mem = open_memstream(&object, &size);
    if (!mem) {
        *err = strdup("out of memory for the object");
        return 1;
    }
    int failed = compile_object(o, c, t, mem, err);
    failed |= fclose(mem) != 0;
    if (!failed) failed = shared_link(runtime, object, size, &so, &so_size);
    if (!failed) fwrite(so, 1, so_size, out); /* write errors: at the commit */
    free(object);
    free(so);
    return failed;
}

/* The object (or assembly, IR, header, shared object) and, for an object, its header beside it: written whole or
 * not at all, the pair together (runtime/outfile.c), never over one of the compilation's inputs. */
static int compile(const cli *o, compilation *c)
{
    emit_kind kind;
    int shared = !strcmp(o->emit, "shared");
    if (!strcmp(o->emit, "obj") || shared)
        kind = EMIT_OBJ;
    else if (!strcmp(o->emit, "asm"))
        kind = EMIT_ASM;
    else if (!strcmp(o->emit, "llvm"))
        kind = EMIT_LLVM;
    else if (!strcmp(o->emit, "header"))
        kind = EMIT_HEADER;
    else {
        fprintf(stderr, "xaic: error: --emit takes obj, asm, llvm, header or shared, not '%s'\n", o->emit);
        return 2;
    }
    if (!o->out) {
        fprintf(stderr, "xaic: error: no output file; give -o FILE\n");
        return 2;
    }
    if (o->runtime && !shared) {
        fprintf(stderr, "xaic: error: --runtime is for --emit shared\n");
        return 2;
    }
    char *header = kind == EMIT_OBJ && !shared ? replace_extension(o->out, ".h") : NULL;
    if (header && !strcmp(header, o->out)) {
        fprintf(stderr,
                "xaic: error: -o %s: the header goes beside the object as %s, which is the object itself; "
                "name the object NAME.o\n",
                o->out, header);
        free(header);
        return 2;
    }
    char *runtime = shared ? shared_find_runtime(o->runtime) : NULL;
    if (shared && !runtime) return 1;
    tool_inputs inputs;
    outputs_inputs_of(&inputs, c);
    outputs_add_input(&inputs, runtime, "the runtime library");
    if (outputs_check(&inputs, o->out, "-o") || (header && outputs_check(&inputs, header, "the header"))) {
        free(header);
        free(runtime);
        return 1;
    }
    if (o->keep_values) keep_values(c);
    cg_options cgo = { .weights_external = o->external, .threads_off = o->threads_off, .winograd_off = o->conv_direct };
    char *err = NULL, msg[1024] = "";
    xai_outfile *out = NULL, *hdr = NULL;
    int status = 1;
    if (xai_outfile_open(&out, o->out, kind == EMIT_OBJ ? 0 : XAI_FILE_DASH, msg, sizeof msg) ||
        (header && xai_outfile_open(&hdr, header, 0, msg, sizeof msg)))
        goto done;
    if (kind == EMIT_HEADER) {
        emit_header(c->ir, &cgo, o->out, xai_outfile_stream(out));
    } else {
        target_options t = {
            .triple = o->triple, .cpu = o->cpu, .opt_level = o->opt_level, .sanitize_address = o->sanitize_address
        };
        LLVMContextRef ctx = LLVMContextCreate();
        int failed;
        if (shared) {
            failed = driver_generate(c, ctx, &t, &cgo, &err) ||
                link_shared(o, c, &t, runtime, xai_outfile_stream(out), &err);
        } else if (kind == EMIT_OBJ) {
            failed = driver_generate(c, ctx, &t, &cgo, &err) || compile_object(o, c, &t, xai_outfile_stream(out), &err);
        } else {
            failed = driver_codegen(c, ctx, &t, &cgo, &err);
            if (!failed) driver_phase(c, "compiling machine code");
            failed = failed || emit_code(c->mod, c->tm, kind, xai_outfile_stream(out), &err);
        }
        driver_phase(c, NULL);
        if (!failed && hdr) emit_header(c->ir, &cgo, header, xai_outfile_stream(hdr));
        if (c->mod) LLVMDisposeModule(c->mod);
        c->mod = NULL;
        LLVMContextDispose(ctx);
        if (failed) {
            if (kind == EMIT_OBJ && !err) msg[0] = 0, status = -1; /* the linker step said what went wrong */
            goto done;
        }
    }
    status = hdr ? xai_outfile_commit_pair(out, hdr, msg, sizeof msg) : xai_outfile_commit(out, msg, sizeof msg);
    out = hdr = NULL; /* freed by the commit */
    status = status != XAI_OK;
done:
    xai_outfile_abort(out);
    xai_outfile_abort(hdr);
    if (status > 0) fprintf(stderr, "xaic: error: %s\n", err ? err : msg[0] ? msg : "out of memory");
    status = status != 0;
    free(err);
    free(header);
    free(runtime);
    return status;
}

/* What went to standard output (dumps, --help, reports) must have arrived: a full disk or a closed pipe is
 * an error, not a silent success. */
static int stdout_status(int rc)
{
    if (fflush(stdout) == 0 && !ferror(stdout)) return rc;
    fprintf(stderr, "xaic: error: cannot write standard output: %s\n", strerror(errno));
    return rc ? rc : 1;
}

static int run_main(int argc, char **argv);

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "eval")) return stdout_status(eval_main(argc - 1, argv + 1)); /* its own options */
    if (argc > 1 && !strcmp(argv[1], "import")) return stdout_status(import_main(argc - 1, argv + 1));
    return stdout_status(run_main(argc, argv));
}

/* compile, check and run */
static int run_main(int argc, char **argv)
{
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
        printf("xaic %s (LLVM %u.%u.%u%s)\n", XAIC_VERSION, maj, min, patch, sched_mpi_available() ? ", Open MPI" : "");
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
    tool_program tp = { .file = o.file, .explain = o.explain, .network = o.network };
    if ((o.input_range && (rc = tool_parse_input_range(&tp, o.input_range))) ||
        (o.input_shape && (rc = tool_parse_input_shape(&tp, o.input_shape)))) {
        diag_free(&d);
        return rc;
    }
    compilation c;
    int failed = tool_analyse(&c, &d, &tp);
    if (o.dump && c.program) dump(&o, &c);
    if (failed || d.errors) {
        if (d.errors) fprintf(stderr, "%d error%s\n", d.errors, d.errors == 1 ? "" : "s");
        driver_free(&c);
        diag_free(&d);
        tool_program_cleanup(&tp);
        return failed == 2 ? 2 : 1;
    }
    if (strcmp(o.command, "run") && tool_check_explain_names(&c, o.explain)) /* run says it in its own words */
        rc = 1;
    else if (!strcmp(o.command, "check"))
        rc = 0;
    else if (!strcmp(o.command, "run"))
        rc = run_command(&c,
                         &(run_request){ .input = o.input,
                                         .output = o.out,
                                         .network = o.network,
                                         .explain = o.explain,
                                         .forward = o.forward,
                                         .class_target = o.class_target,
                                         .opt_level = o.opt_level,
                                         .stats = o.stats,
                                         .overlay = o.overlay,
                                         .colormap = o.colormap,
                                         .baseline = o.baseline,
                                         .noise = o.noise,
                                         .seed = o.seed,
                                         .has_seed = o.has_seed,
                                         .steps = o.steps,
                                         .batch = o.batch,
                                         .chunk = o.chunk,
                                         .resume = o.resume,
                                         .progress_every = o.progress_every,
                                         .skip_bad = o.skip_bad });
    else
        rc = compile(&o, &c);
    driver_free(&c);
    diag_free(&d);
    tool_program_cleanup(&tp);
    return rc;
}
