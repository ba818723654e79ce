/* xaic command line: compile (default), check, run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "driver.h"
#include "eval.h"
#include "import.h"
#include "jit.h"
#include "run.h"

#define XAIC_VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: xaic FILE.xai -o OUT [options]        compile to an object file (+ header)\n"
        "       xaic check FILE.xai [--dump=WHAT]     check only\n"
        "       xaic run FILE.xai --forward --input IN -o OUT [--network NET] [-O N]\n"
        "       xaic run FILE.xai --explain NAME --input IN -o OUT [--target CLASS] [--stats] [--overlay]\n"
        "                [--baseline B.npy] [--noise N.npy] [--seed S]\n"
        "       xaic run FILE.xai --explain AM -o OUT [--input START] [--target CLASS] [--steps N] [--baseline C.npy]\n"
        "                [--seed S]         activation maximisation: OUT.png (grid) and OUT.npy\n"
        "       xaic eval FILE.xai --explain E1,E2,... --data INPUTS --metric selectivity|continuity -o DIR\n"
        "                [--labels FILE] [--limit N] ...    explanation quality (xaic eval --help)\n"
        "       xaic import MODEL.onnx [-o NET.xai] [--name NAME] [--input-shape C,H,W] [--input-range LOW,HIGH]\n"
        "                ONNX -> NET.xai + NET.safetensors (xaic import --help)\n"
        "\n"
        "compile options:\n"
        "  -o FILE               output (with --emit obj, FILE's .h is written beside it)\n"
        "  --emit obj|asm|llvm|header\n"
        "  -O0 .. -O3            optimisation level (default -O3)\n"
        "  --target TRIPLE       target triple (default: this machine)\n"
        "  --cpu NAME            CPU to tune for (default: this machine's, or generic for another target)\n"
        "  --weights=embedded|external\n"
        "                        external leaves the weights in the safetensors file; bind them at run time\n"
        "                        with NET_bind_weights\n"
        "  --dump=ast|graph|backward|plan\n"
        "                        print a stage's output to standard output\n"
        "  --sanitize=address    instrument the generated code with AddressSanitizer\n"
        "  --threads=on|off      off: single-threaded kernels that never call xai_parallel_for (default on)\n"
        "run: IN and OUT are .npy (float32, batch first) or, for one image, .png; an explanation written\n"
        "     as .png is a heatmap (a grid for a batch; --overlay blends it over the input); --stats prints\n"
        "     the relevance sum at every layer; --target picks the class (default: the arg-max)\n"
        "run, activation_maximization: one prototype per class unless --target is given; START holds one\n"
        "     starting point or one per class (default: zeros, or N(0,1) codes drawn with --seed for a\n"
        "     generator); --baseline sets the regulariser's centre; --steps overrides the compiled steps\n");
}

typedef struct cli {
    const char *command, *file, *out, *emit, *triple, *cpu, *dump, *input, *network, *explain, *baseline, *noise;
    long long seed;
    int steps;
    int opt_level, external, forward, class_target, sanitize_address, stats, overlay;
    int threads_off;
} cli;

static int parse_args(int argc, char **argv, cli *o)
{
    memset(o, 0, sizeof *o);
    o->opt_level = 3;
    o->emit = "obj";
    o->class_target = -1;
    o->seed = -1;
    int i = 1;
    if (i < argc && (!strcmp(argv[i], "run") || !strcmp(argv[i], "check") || !strcmp(argv[i], "compile")))
        o->command = argv[i++];
    else o->command = "compile";
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE() do { if (!next) { fprintf(stderr, "xaic: error: %s needs a value\n", a); return 2; } i++; } while (0)
        if (!strcmp(a, "-o")) { NEED_VALUE(); o->out = next; }
        else if (!strncmp(a, "--emit=", 7)) o->emit = a + 7;
        else if (!strcmp(a, "--emit")) { NEED_VALUE(); o->emit = next; }
        else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3]) o->opt_level = a[2] - '0';
        else if (!strcmp(a, "--target")) {
            NEED_VALUE();
            if (!strcmp(o->command, "run")) {
                char *end;
                long v = strtol(next, &end, 10);
                if (*end || v < 0 || v > 1 << 30) { fprintf(stderr, "xaic: error: --target needs a class index\n"); return 2; }
                o->class_target = (int)v;
            } else o->triple = next;
        }
        else if (!strcmp(a, "--cpu")) { NEED_VALUE(); o->cpu = next; }
        else if (!strcmp(a, "--weights=external")) o->external = 1;
        else if (!strcmp(a, "--sanitize=address")) o->sanitize_address = 1;
        else if (!strcmp(a, "--threads=off") || !strcmp(a, "--threads=on")) o->threads_off = a[11] == 'f';
        else if (!strcmp(a, "--weights=embedded")) o->external = 0;
        else if (!strncmp(a, "--dump=", 7)) o->dump = a + 7;
        else if (!strcmp(a, "--input")) { NEED_VALUE(); o->input = next; }
        else if (!strcmp(a, "--network")) { NEED_VALUE(); o->network = next; }
        else if (!strcmp(a, "--forward")) o->forward = 1;
        else if (!strcmp(a, "--stats")) o->stats = 1;
        else if (!strcmp(a, "--baseline")) { NEED_VALUE(); o->baseline = next; }
        else if (!strcmp(a, "--noise")) { NEED_VALUE(); o->noise = next; }
        else if (!strcmp(a, "--seed")) {
            NEED_VALUE();
            char *end;
            long long v = strtoll(next, &end, 10);
            if (*end || v < 0) { fprintf(stderr, "xaic: error: --seed needs a non-negative integer\n"); return 2; }
            o->seed = v;
        }
        else if (!strcmp(a, "--steps")) {
            NEED_VALUE();
            char *end;
            long v = strtol(next, &end, 10);
            if (*end || v < 1 || v > 100000000) { fprintf(stderr, "xaic: error: --steps needs an integer in [1, 100000000]\n"); return 2; }
            o->steps = (int)v;
        }
        else if (!strcmp(a, "--overlay")) o->overlay = 1;
        else if (!strcmp(a, "--explain")) { NEED_VALUE(); o->explain = next; }
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); exit(0); }
        else if (!strcmp(a, "--version")) {
            unsigned maj, min, patch;
            LLVMGetVersion(&maj, &min, &patch);
            printf("xaic %s (LLVM %u.%u.%u)\n", XAIC_VERSION, maj, min, patch);
            exit(0);
        }
        else if (a[0] == '-') { fprintf(stderr, "xaic: error: unknown option '%s'\n", a); usage(stderr); return 2; }
        else if (!o->file) o->file = a;
        else { fprintf(stderr, "xaic: error: more than one input file ('%s' and '%s')\n", o->file, a); return 2; }
#undef NEED_VALUE
    }
    if (!o->file) { fprintf(stderr, "xaic: error: no input file\n"); usage(stderr); return 2; }
    if (o->dump && strcmp(o->dump, "ast") && strcmp(o->dump, "graph") && strcmp(o->dump, "backward") &&
        strcmp(o->dump, "plan")) {
        fprintf(stderr, "xaic: error: --dump takes ast, graph, backward or plan, not '%s'\n", o->dump);
        return 2;
    }
    return 0;
}

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
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc;
    xai_diag d;
    diag_init(&d, stderr);
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
                                         .noise = o.noise, .seed = o.seed, .steps = o.steps});
    else rc = compile(&o, &c);
    driver_free(&c);
    diag_free(&d);
    return rc;
}
