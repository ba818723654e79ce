/* xaic's command line (compile, check, run): options into a `cli`, with a message for every mistake.
 * Parsing has no side effects (no exit, no file access), so it can be tested and fuzzed on its own. */
#include "cli.h"
#include "xairt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void cli_usage(FILE *f)
{
    fprintf(
        f,
        "usage: xaic FILE.xai -o OUT [options]        compile to an object file (+ header)\n"
        "       xaic FILE.xai --emit shared -o OUT.so  compile and link with libxairt into a shared object\n"
        "       xaic check FILE.xai [--dump=WHAT]     check only\n"
        "       xaic run FILE.xai --forward --input IN -o OUT [--network NET] [-O N]\n"
        "       xaic run FILE.xai --explain NAME --input IN -o OUT [--target CLASS] [--stats] [--overlay]\n"
        "                [--colormap MAP] [--baseline B.npy] [--noise N.npy] [--seed S]\n"
        "       xaic run FILE.xai --explain E1,E2,.. --input DATA -o OUT.npy [--batch N] [--chunk N] [--resume]\n"
        "                [--skip-bad LIST] [--progress N]    a data set, streamed (also under mpirun; "
        "docs/scaling.md)\n"
        "       xaic run FILE.xai --explain AM -o OUT [--input START] [--target CLASS] [--steps N] [--baseline C.npy]\n"
        "                [--seed S]         activation maximisation: OUT.png (grid) and OUT.npy\n"
        "       xaic eval FILE.xai --explain E1,E2,... --data INPUTS --metric selectivity|continuity -o DIR\n"
        "                [--labels FILE] [--limit N] ...    explanation quality (xaic eval --help)\n"
        "       xaic import MODEL.onnx [-o NET.xai] [--name NAME] [--input-shape C,H,W] [--input-range LOW,HIGH]\n"
        "                ONNX -> NET.xai + NET.safetensors (xaic import --help)\n"
        "\n"
        "--explain NAME: an explain block of the file, or else an LRP preset (epsilon_plus, epsilon_gamma_box, ...:\n"
        "     LRP with that preset) or a method (gradient, integrated_gradients, smoothgrad, deeplift, gradcam on the\n"
        "     last spatial layer, ...) with its defaults, on the file's network (--network NET when it has several)\n"
        "FILE may be an ONNX model (MODEL.onnx): it is imported to a temporary directory first, with\n"
        "     --input-range LOW,HIGH and --input-shape C,H,W as xaic import takes them\n"
        "\n"
        "compile options:\n"
        "  -o FILE               output (with --emit obj, FILE's .h is written beside it)\n"
        "  --emit obj|asm|llvm|header|shared\n"
        "                        shared (also -shared): object + libxairt.a linked by the C compiler ($CC or cc)\n"
        "                        into one shared object that describes itself (xaic_describe, docs/python.md)\n"
        "  --runtime LIB         the libxairt.a to link with --emit shared (also XAIC_RUNTIME; default: beside\n"
        "                        xaic in a build tree, else ../lib/libxairt.a from it once installed)\n"
        "  --keep-values         every value keeps its own workspace slot, so relevance at every layer can be\n"
        "                        read after a call (a larger workspace; with --emit shared: where, in xaic_describe)\n"
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
        "  --conv=auto|direct    direct: every convolution as a direct correlation; auto (default) runs 3x3\n"
        "                        stride-1 ones with 16+ channels on planes 28+ or 7 to 14 wide by Winograd\n"
        "                        F(2x2, 3x3): 2.25x fewer multiplies, sums that differ by rounding\n"
        "                        (docs/performance.md)\n"
        "  -j N, --jobs=N        threads that optimise and compile a large module, in parts joined by ld -r\n"
        "                        (binutils; default: the CPUs, at most 8; one when ld or objcopy is missing)\n"
        "  --root DIR            read sources, imports, weights and data only inside DIR (also XAIC_ROOT)\n"
        "  --error-limit=N       show at most N errors (default 50; 0: all)\n"
        "  --allow-nonfinite-weights\n"
        "                        compile weights that hold NaN or infinity (refused by default)\n"
        "run: IN and OUT are .npy (float32, batch first) or, for one image, .png; an explanation written\n"
        "     as .png is a heatmap (a grid for a batch; --overlay blends it over the input; --colormap\n"
        "     bwr|hot|hot_r|viridis|gray, default bwr: docs/heatmaps.md); --stats prints\n"
        "     the relevance sum at every layer; --target picks the class (default: the arg-max)\n"
        "run over a data set: DATA is a .npy or IDX file of inputs, a directory of PNG / JPEG images or a list\n"
        "     file of them (one path per line, optional class), prepared as the input's image(...) says; OUT.npy\n"
        "     (OUT.E.npy per explanation) is filled a chunk at a time (--chunk, default 8 batches of --batch, default\n"
        "     32); a stopped run leaves OUT.npy.xaic-journal, and the same command with --resume finishes it;\n"
        "     --skip-bad LIST skips unreadable inputs (NaN rows) and lists them; --progress N: a line per N chunks "
        "when\n"
        "     standard error is not a terminal (on one: a line rewritten in place)\n"
        "run, activation_maximization: one prototype per class unless --target is given; START holds one\n"
        "     starting point or one per class (default: zeros, or N(0,1) codes drawn with --seed for a\n"
        "     generator); --baseline sets the regulariser's centre; --steps overrides the compiled steps\n");
}

int cli_parse(int argc, char **argv, cli *o, FILE *err)
{
    memset(o, 0, sizeof *o);
    o->opt_level = 3;
    o->emit = "obj";
    o->class_target = -1;
    o->error_limit = -1;
    int i = 1;
    if (i < argc && (!strcmp(argv[i], "run") || !strcmp(argv[i], "check") || !strcmp(argv[i], "compile")))
        o->command = argv[i++];
    else
        o->command = "compile";
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE()                                                                                                   \
    do {                                                                                                               \
        if (!next) {                                                                                                   \
            fprintf(err, "xaic: error: %s needs a value\n", a);                                                        \
            return 2;                                                                                                  \
        }                                                                                                              \
        i++;                                                                                                           \
    } while (0)
        if (!strcmp(a, "-o")) {
            NEED_VALUE();
            o->out = next;
        } else if (!strncmp(a, "--emit=", 7))
            o->emit = a + 7;
        else if (!strcmp(a, "--emit")) {
            NEED_VALUE();
            o->emit = next;
        } else if (!strcmp(a, "-shared"))
            o->emit = "shared";
        else if (!strcmp(a, "--keep-values"))
            o->keep_values = 1;
        else if (!strcmp(a, "--runtime")) {
            NEED_VALUE();
            o->runtime = next;
        } else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3])
            o->opt_level = a[2] - '0';
        else if (!strcmp(a, "--target")) {
            NEED_VALUE();
            if (!strcmp(o->command, "run")) {
                char *end;
                errno = 0;
                long v = strtol(next, &end, 10);
                if (errno || end == next || *end || v < 0 || v > 1 << 30) {
                    fprintf(err, "xaic: error: --target needs a class index\n");
                    return 2;
                }
                o->class_target = (int)v;
            } else
                o->triple = next;
        } else if (!strcmp(a, "--cpu")) {
            NEED_VALUE();
            o->cpu = next;
        } else if (!strcmp(a, "--weights=external"))
            o->external = 1;
        else if (!strcmp(a, "--sanitize=address"))
            o->sanitize_address = 1;
        else if (!strncmp(a, "-j", 2) || !strncmp(a, "--jobs=", 7)) { /* -j N, -jN, --jobs=N */
            const char *v = a[1] == 'j' ? (a[2] ? a + 2 : next) : a + 7;
            if (!strcmp(a, "-j")) NEED_VALUE();
            char *end;
            errno = 0;
            long n = strtol(v, &end, 10);
            if (errno || end == v || *end || n < 1 || n > 8) {
                fprintf(err, "xaic: error: %s needs a number of threads in [1, 8]\n", a[1] == 'j' ? "-j" : "--jobs");
                return 2;
            }
            o->jobs = (int)n;
        } else if (!strcmp(a, "--threads=off") || !strcmp(a, "--threads=on"))
            o->threads_off = a[11] == 'f';
        else if (!strcmp(a, "--conv=direct") || !strcmp(a, "--conv=auto"))
            o->conv_direct = a[7] == 'd';
        else if (!strcmp(a, "--weights=embedded"))
            o->external = 0;
        else if (!strncmp(a, "--dump=", 7))
            o->dump = a + 7;
        else if (!strcmp(a, "--input")) {
            NEED_VALUE();
            o->input = next;
        } else if (!strcmp(a, "--network")) {
            NEED_VALUE();
            o->network = next;
        } else if (!strcmp(a, "--forward"))
            o->forward = 1;
        else if (!strcmp(a, "--stats"))
            o->stats = 1;
        else if (!strcmp(a, "--baseline")) {
            NEED_VALUE();
            o->baseline = next;
        } else if (!strcmp(a, "--noise")) {
            NEED_VALUE();
            o->noise = next;
        } else if (!strcmp(a, "--seed")) {
            NEED_VALUE();
            char *end;
            errno = 0;
            unsigned long long v = strtoull(next, &end, 10);
            if (errno || end == next || *end || next[0] == '-' || next[0] == '+') {
                fprintf(err, "xaic: error: --seed needs an integer in [0, 18446744073709551615]\n");
                return 2;
            }
            o->seed = v;
            o->has_seed = 1;
        } else if (!strcmp(a, "--steps")) {
            NEED_VALUE();
            char *end;
            errno = 0;
            long v = strtol(next, &end, 10);
            if (errno || end == next || *end || v < 1 || v > 100000000) {
                fprintf(err, "xaic: error: --steps needs an integer in [1, 100000000]\n");
                return 2;
            }
            o->steps = (int)v;
        } else if (!strcmp(a, "--batch") || !strcmp(a, "--chunk") || !strcmp(a, "--progress")) {
            NEED_VALUE();
            char *end;
            errno = 0;
            long v = strtol(next, &end, 10);
            if (errno || end == next || *end || v < 1 || v > (a[2] == 'p' ? 1000000 : 65536)) {
                fprintf(err, "xaic: error: %s needs an integer in [1, %d]\n", a, a[2] == 'p' ? 1000000 : 65536);
                return 2;
            }
            if (a[2] == 'b')
                o->batch = (int)v;
            else if (a[2] == 'c')
                o->chunk = (int)v;
            else
                o->progress_every = (int)v;
        } else if (!strcmp(a, "--resume"))
            o->resume = 1;
        else if (!strcmp(a, "--skip-bad")) {
            NEED_VALUE();
            o->skip_bad = next;
        } else if (!strcmp(a, "--overlay"))
            o->overlay = 1;
        else if (!strcmp(a, "--colormap")) {
            NEED_VALUE();
            o->colormap = xai_colormap_from_name(next);
            if (o->colormap < 0) {
                fprintf(err, "xaic: error: --colormap takes bwr, hot, hot_r, viridis or gray, not '%s'\n", next);
                return 2;
            }
        } else if (!strcmp(a, "--explain")) {
            NEED_VALUE();
            o->explain = next;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            o->help = 1;
            return 0;
        } else if (!strcmp(a, "--version")) {
            o->version = 1;
            return 0;
        } else if (!strcmp(a, "--input-range") || !strcmp(a, "--input-shape")) {
            NEED_VALUE();
            *(a[8] == 'r' ? &o->input_range : &o->input_shape) = next;
        } else if (!strcmp(a, "--root")) {
            NEED_VALUE();
            o->root = next;
        } else if (!strcmp(a, "--allow-nonfinite-weights"))
            o->allow_nonfinite_weights = 1;
        else if (!strncmp(a, "--error-limit=", 14)) {
            char *end;
            errno = 0;
            long v = strtol(a + 14, &end, 10);
            if (errno || end == a + 14 || *end || v < 0 || v > 1000000) {
                fprintf(err, "xaic: error: --error-limit needs an integer in [0, 1000000] (0: no limit)\n");
                return 2;
            }
            o->error_limit = (int)v;
        } else if (a[0] == '-') {
            fprintf(err, "xaic: error: unknown option '%s'\n", a);
            cli_usage(err);
            return 2;
        } else if (!o->file)
            o->file = a;
        else {
            fprintf(err, "xaic: error: more than one input file ('%s' and '%s')\n", o->file, a);
            return 2;
        }
#undef NEED_VALUE
    }
    if (!o->file) {
        fprintf(err, "xaic: error: no input file\n");
        cli_usage(err);
        return 2;
    }
    if (o->dump && strcmp(o->dump, "ast") && strcmp(o->dump, "graph") && strcmp(o->dump, "backward") &&
        strcmp(o->dump, "plan")) {
        fprintf(err, "xaic: error: --dump takes ast, graph, backward or plan, not '%s'\n", o->dump);
        return 2;
    }
    return 0;
}
