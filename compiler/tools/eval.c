/* xaic eval: JIT-compile the explanations named by --explain (as `xaic run` does: jit.c), read a set of
 * inputs (.npy or IDX) and labels, run libxairt's selectivity or continuity metric over them in batches
 * and write curves.csv, per_image.csv, results.json, SVG plots and heatmap strips (eval_report.c). */
#include "eval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eval_internal.h"
#include "jit.h"
#include "progress.h"
#include "run.h"
#include "stream.h"
#include "tool_program.h"

static void eval_usage(FILE *f)
{
    fprintf(
        f,
        "usage: xaic eval FILE.xai --explain E1,E2,... --data INPUTS --metric selectivity|continuity -o DIR\n"
        "                 [--labels FILE] [--network NET] [--limit N] [--batch N] [--tracked relu_logit|logit]\n"
        "                 [--patch P] [--steps L] [--order most|least|both] [--baseline V] [--windows grid|sliding]\n"
        "                 [--shifts MIN:MAX] [-O N] [--colormap bwr|hot|hot_r|viridis|gray]\n"
        "                 [--chunk N] [--resume] [--skip-bad LIST] [--progress N]\n"
        "  INPUTS   .npy (float32, batch first) or IDX (MNIST format, optionally gzipped; uint8 scaled to [0, 1])\n"
        "  --labels .npy (integers) or IDX: the class explained; default: each input's arg-max class\n"
        "  selectivity: pixel flipping by patches of P x P (default 4), L removals (default 20), most relevant\n"
        "               first (default), least relevant first or both; removed patches take V (default 0);\n"
        "               --windows grid: patches on a fixed grid (default); sliding: the seed's find_roi, a P x P\n"
        "               window at any position touching no removed one (L at most floor(H/P) * floor(W/P))\n"
        "  continuity:  horizontal shifts MIN..MAX (default -20:20), shifted-in columns take V (default 0)\n"
        "  --tracked    the value followed: ReLU of the target logit (default, as the seed) or the logit\n"
        "  --batch      inputs per call of the generated functions (default 64)\n"
        "  INPUTS may also be a directory of PNG / JPEG images or a list file of them (one path per line, optional\n"
        "  class), prepared as the network input's image(...) says. Inputs are streamed a chunk at a time\n"
        "  (--chunk N, default 4 batches); DIR/per_input.npy holds every input's results; a stopped run leaves\n"
        "  DIR/per_input.npy.xaic-journal and the same command with --resume finishes it; --skip-bad LIST skips\n"
        "  unreadable inputs and lists them; --progress N: a line per N chunks; under mpirun the chunks are\n"
        "  shared by the ranks (docs/scaling.md)\n"
        "  DIR gets curves.csv, per_image.csv, results.json, *.svg plots and strip_*.png heatmaps\n"
        "  (docs/evaluation.md)\n"
        "  E: an explain block of FILE, or else an LRP preset (epsilon_plus, ...) or a method (gradient, ...) with "
        "its\n"
        "  defaults; FILE may be MODEL.onnx, imported first (with --input-range LOW,HIGH, --input-shape C,H,W)\n");
}

static int parse_int(const char *opt, const char *text, long low, long high, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < low || v > high) {
        fprintf(stderr, "xaic: error: %s needs an integer in [%ld, %ld], not '%s'\n", opt, low, high, text);
        return 2;
    }
    *out = v;
    return 0;
}

/* Applies `opt v`: 0, 2 after a message, or -1 if opt is not an option of eval. v NULL: the value is missing. */
static int parse_value(eval_args *a, const char *opt, const char *v)
{
    static const char *const options[] = { "-o",         "--explain",  "--data",        "--labels",      "--metric",
                                           "--network",  "--limit",    "--batch",       "--patch",       "--steps",
                                           "--baseline", "--order",    "--tracked",     "--shifts",      "--chunk",
                                           "--skip-bad", "--progress", "--input-range", "--input-shape", "--colormap",
                                           "--windows" };
    int known = 0;
    for (size_t i = 0; i < sizeof options / sizeof *options; i++) known |= !strcmp(opt, options[i]);
    if (!known) return -1;
    if (!v) {
        fprintf(stderr, "xaic: error: %s needs a value\n", opt);
        return 2;
    }
    long n;
    int rc = 0;
    if (!strcmp(opt, "-o"))
        a->out_dir = v;
    else if (!strcmp(opt, "--explain"))
        a->explain = v;
    else if (!strcmp(opt, "--data"))
        a->data = v;
    else if (!strcmp(opt, "--labels"))
        a->labels = v;
    else if (!strcmp(opt, "--metric"))
        a->metric = v;
    else if (!strcmp(opt, "--network"))
        a->network = v;
    else if (!strcmp(opt, "--input-range"))
        a->input_range = v;
    else if (!strcmp(opt, "--input-shape"))
        a->input_shape = v;
    else if (!strcmp(opt, "--limit")) {
        if (!(rc = parse_int(opt, v, 1, INT32_MAX, &n))) a->limit = n;
    } else if (!strcmp(opt, "--batch")) {
        if (!(rc = parse_int(opt, v, 1, 65536, &n))) a->batch = (int)n;
    } else if (!strcmp(opt, "--chunk")) {
        if (!(rc = parse_int(opt, v, 1, 1 << 24, &n))) a->chunk = (int)n;
    } else if (!strcmp(opt, "--progress")) {
        if (!(rc = parse_int(opt, v, 1, 1000000, &n))) a->progress_every = (int)n;
    } else if (!strcmp(opt, "--skip-bad")) {
        a->skip_bad = v;
    } else if (!strcmp(opt, "--colormap")) {
        if ((a->colormap = xai_colormap_from_name(v)) < 0) {
            fprintf(stderr, "xaic: error: --colormap takes bwr, hot, hot_r, viridis or gray, not '%s'\n", v);
            return 2;
        }
    } else if (!strcmp(opt, "--patch")) {
        if (!(rc = parse_int(opt, v, 1, 1 << 20, &n))) a->sel.patch = (int32_t)n;
    } else if (!strcmp(opt, "--steps")) {
        if (!(rc = parse_int(opt, v, 1, 1 << 20, &n))) a->sel.steps = (int32_t)n;
    } else if (!strcmp(opt, "--baseline")) {
        char *end;
        float f = strtof(v, &end);
        if (end == v || *end || !isfinite(f)) {
            fprintf(stderr, "xaic: error: --baseline needs a finite number, not '%s'\n", v);
            return 2;
        }
        a->sel.baseline = a->cont.fill = f;
    } else if (!strcmp(opt, "--order")) {
        if (!strcmp(v, "most"))
            a->orders = 1;
        else if (!strcmp(v, "least"))
            a->orders = 2;
        else if (!strcmp(v, "both"))
            a->orders = 3;
        else {
            fprintf(stderr, "xaic: error: --order takes most, least or both, not '%s'\n", v);
            return 2;
        }
    } else if (!strcmp(opt, "--windows")) {
        if (!strcmp(v, "grid"))
            a->sel.windows = XAI_WINDOWS_GRID;
        else if (!strcmp(v, "sliding"))
            a->sel.windows = XAI_WINDOWS_SLIDING;
        else {
            fprintf(stderr, "xaic: error: --windows takes grid or sliding, not '%s'\n", v);
            return 2;
        }
    } else if (!strcmp(opt, "--tracked")) {
        if (!strcmp(v, "relu_logit"))
            a->sel.tracked = a->cont.tracked = XAI_TRACK_RELU_LOGIT;
        else if (!strcmp(v, "logit"))
            a->sel.tracked = a->cont.tracked = XAI_TRACK_LOGIT;
        else {
            fprintf(stderr, "xaic: error: --tracked takes relu_logit or logit, not '%s'\n", v);
            return 2;
        }
    } else if (!strcmp(opt, "--shifts")) {
        int lo, hi, used = 0;
        if (sscanf(v, "%d:%d%n", &lo, &hi, &used) != 2 || v[used] || lo >= hi || lo < -100000 || hi > 100000) {
            fprintf(stderr, "xaic: error: --shifts takes MIN:MAX with MIN < MAX (pixels, e.g. -20:20), not '%s'\n", v);
            return 2;
        }
        a->cont.shift_min = lo, a->cont.shift_max = hi;
    }
    return rc;
}

static int parse_eval_args(int argc, char **argv, eval_args *a)
{
    memset(a, 0, sizeof *a);
    a->batch = 64; /* a workspace of ~25 MB for the bundled CNN: eval over any data set stays under 200 MB */
    a->opt_level = 3;
    a->orders = 1;
    a->cont.shift_min = -20, a->cont.shift_max = 20;
    a->sel.patch = 4, a->sel.steps = 20; /* libxairt's defaults, spelled out for the report */
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            eval_usage(stdout);
            exit(0);
        }
        if (!strcmp(opt, "--resume")) {
            a->resume = 1;
            continue;
        }
        if (opt[0] == '-' && opt[1] == 'O' && opt[2] >= '0' && opt[2] <= '3' && !opt[3]) {
            a->opt_level = opt[2] - '0';
            continue;
        }
        if (opt[0] != '-') {
            if (a->file) {
                fprintf(stderr, "xaic: error: more than one input file ('%s' and '%s')\n", a->file, opt);
                return 2;
            }
            a->file = opt;
            continue;
        }
        int rc = parse_value(a, opt, i + 1 < argc ? argv[i + 1] : NULL);
        if (rc == -1) {
            fprintf(stderr, "xaic: error: unknown option '%s' for eval\n", opt);
            eval_usage(stderr);
            return 2;
        }
        if (rc) return rc;
        i++;
    }
    const char *missing = !a->file ? "a FILE.xai"
        : !a->explain              ? "--explain E1,E2,..."
        : !a->data                 ? "--data INPUTS"
        : !a->metric               ? "--metric selectivity|continuity"
        : !a->out_dir              ? "-o DIR"
                                   : NULL;
    if (missing) {
        fprintf(stderr, "xaic: error: eval needs %s\n", missing);
        eval_usage(stderr);
        return 2;
    }
    if (!strcmp(a->metric, "selectivity"))
        a->is_selectivity = 1;
    else if (strcmp(a->metric, "continuity")) {
        fprintf(stderr, "xaic: error: unknown metric '%s'; --metric takes selectivity or continuity\n", a->metric);
        return 2;
    }
    return 0;
}

/* The explanations named in --explain, all of one network; fills a->method and sets the network. */
static int resolve_explanations(compilation *c, const eval_args *a, eval_setup *s)
{
    char *list = strdup(a->explain), *save = NULL;
    int rc = 0;
    for (char *name = strtok_r(list, ",", &save); name && !rc; name = strtok_r(NULL, ",", &save)) {
        const ir_graph *e = driver_explanation(c, name, NULL);
        if (!e) {
            tool_explain_unknown(c, name);
            rc = 1;
        } else if (s->n_methods == EVAL_MAX_METHODS) {
            fprintf(stderr, "xaic: error: at most %d explanations per run\n", EVAL_MAX_METHODS);
            rc = 2;
        } else if (a->network && strcmp(e->network->name, a->network)) {
            fprintf(stderr, "xaic: error: explanation '%s' is for network '%s', not '%s'\n", name, e->network->name,
                    a->network);
            rc = 1;
        } else if (s->net && e->network != s->net) {
            fprintf(stderr,
                    "xaic: error: explanations '%s' and '%s' are for different networks ('%s', '%s'); compare "
                    "explanations of one network per run\n",
                    s->methods[0].name, name, s->net->name, e->network->name);
            rc = 1;
        } else if (e->am.enabled || !e->has_target) {
            fprintf(stderr,
                    "xaic: error: '%s' does not explain a class (activation maximisation synthesises an input); "
                    "selectivity and continuity need a relevance map of a class\n",
                    name);
            rc = 1;
        } else {
            s->net = e->network;
            s->methods[s->n_methods].graph = e;
            s->methods[s->n_methods++].name = e->explain_name;
        }
    }
    free(list);
    if (!rc && !s->n_methods) {
        fprintf(stderr, "xaic: error: --explain names no explanation\n");
        rc = 2;
    }
    return rc;
}

/* [C, H, W] of the network input; a flat [D] input is shown as a square image when D is a square. */
static int resolve_shapes(eval_setup *s)
{
    const ir_shape *in = &s->net->nodes[s->net->input].shape;
    s->m.channels = 1, s->m.height = 1;
    if (in->rank == 3)
        s->m.channels = in->dims[0], s->m.height = in->dims[1], s->m.width = in->dims[2];
    else if (in->rank == 2)
        s->m.height = in->dims[0], s->m.width = in->dims[1];
    else {
        int d = in->dims[0], side = (int)lround(sqrt(d));
        if (side * side == d)
            s->m.height = s->m.width = side;
        else
            s->m.width = d;
    }
    s->in_count = (int64_t)s->m.channels * s->m.height * s->m.width;
    s->m.classes = (int32_t)ir_shape_count(&s->net->nodes[s->net->output].shape);
    for (int i = 0; i < s->n_methods; i++) {
        const ir_graph *e = s->methods[i].graph;
        int64_t n = ir_shape_count(&e->nodes[e->output].shape), hw = (int64_t)s->m.height * s->m.width;
        if (n != s->in_count && n != hw) {
            fprintf(stderr,
                    "xaic: error: explanation '%s' gives %lld values per input, not a map over the %lld input "
                    "pixels (an `at` layer?); selectivity and continuity need relevance of the input\n",
                    s->methods[i].name, (long long)n, (long long)hw);
            return 1;
        }
        s->methods[i].relevance_channels = n == s->in_count ? s->m.channels : 1;
    }
    return 0;
}

/* The labels: a .npy of integers, an IDX file, a text file (the last field of each line: a list file's
 * classes, or one class per line), or the classes of the list file given as the data. */
static int read_labels(const eval_args *a, eval_setup *s)
{
    s->labels = malloc(sizeof(int32_t) * (size_t)s->n);
    if (!s->labels) return fprintf(stderr, "xaic: error: out of memory\n"), 1;
    const xai_image_list *l = &s->ds.list;
    if (!a->labels && s->ds.is_images && l->labels) { /* the list file's classes */
        for (int64_t i = 0; i < s->n; i++)
            if (l->labels[i] >= s->m.classes) {
                fprintf(stderr,
                        "xaic: error: %s: the class %d of image %lld is not a class of network '%s' (0 .. %d)\n",
                        a->data, (int)l->labels[i], (long long)i, s->net->name, (int)s->m.classes - 1);
                return 1;
            }
        memcpy(s->labels, l->labels, sizeof(int32_t) * (size_t)s->n);
        s->has_labels = 1;
        return 0;
    }
    if (!a->labels) {
        free(s->labels);
        s->labels = NULL;
        return 0;
    }
    char err[600];
    xai_array lab = { 0 };
    int st;
    if (!run_may_read(a->labels)) return 1;
    if (run_ends_with(a->labels, ".txt")) {
        xai_image_list text;
        st = xai_image_list_open(a->labels, &text, err, sizeof err);
        if (!st && !text.labels) { /* one class per line: the "names" are the classes */
            lab.rank = 1, lab.shape[0] = text.count;
            lab.data = malloc(sizeof(float) * (size_t)text.count + 1);
            for (int64_t i = 0; lab.data && i < text.count; i++) {
                char *end;
                long v = strtol(text.text + text.offset[i], &end, 10);
                lab.data[i] = *end || v < 0 ? NAN : (float)v;
            }
        } else if (!st) {
            lab.rank = 1, lab.shape[0] = text.count;
            lab.data = malloc(sizeof(float) * (size_t)text.count + 1);
            for (int64_t i = 0; lab.data && i < text.count; i++) lab.data[i] = (float)text.labels[i];
        }
        xai_image_list_free(&text);
    } else {
        st = run_ends_with(a->labels, ".npy") ? xai_npy_read(a->labels, &lab, 1, err, sizeof err)
                                              : xai_idx_read(a->labels, 1.0f, &lab, err, sizeof err);
    }
    if (st) {
        fprintf(stderr, "xaic: error: %s\n", err);
        return 1;
    }
    int64_t count = xai_array_count(&lab);
    int rc = 0;
    if (count != s->ds.count) {
        fprintf(stderr, "xaic: error: %s holds %lld labels but %s holds %lld inputs; give one label per input\n",
                a->labels, (long long)count, a->data, (long long)s->ds.count);
        rc = 1;
    }
    for (int64_t i = 0; i < s->n && !rc; i++) {
        float v = lab.data[i];
        if (!(v >= 0 && v < s->m.classes && v == floorf(v))) {
            fprintf(stderr, "xaic: error: %s: label %g of input %lld is not a class of network '%s' (0 .. %d)\n",
                    a->labels, (double)v, (long long)i, s->net->name, (int)s->m.classes - 1);
            rc = 1;
        } else
            s->labels[i] = (int32_t)v;
    }
    s->has_labels = !rc;
    xai_array_free(&lab);
    return rc;
}

static int jit_entries(compilation *c, const eval_args *a, eval_setup *s)
{
    char *err = NULL, sym[300];
    s->jit = jit_create(c, a->opt_level, &err);
    if (!s->jit) {
        fprintf(stderr, "xaic: error: %s\n", err ? err : "JIT failed");
        free(err);
        return 1;
    }
    snprintf(sym, sizeof sym, "%s_workspace_size", s->net->name);
    size_t (*workspace_size)(int32_t) = (size_t(*)(int32_t))jit_lookup(s->jit, sym);
    snprintf(sym, sizeof sym, "%s_forward", s->net->name);
    s->m.forward = (xai_forward_fn)jit_lookup(s->jit, sym);
    for (int i = 0; i < s->n_methods; i++) {
        snprintf(sym, sizeof sym, "%s_%s", s->net->name, s->methods[i].name);
        if (!(s->methods[i].fn = (xai_explain_fn)jit_lookup(s->jit, sym))) break;
    }
    /* selectivity batches inputs, continuity batches (input, shift) pairs: only the former is bounded by n */
    s->m.max_batch = (int32_t)(a->is_selectivity && s->n < a->batch ? s->n : a->batch);
    size_t bytes = workspace_size ? workspace_size(s->m.max_batch) : 0;
    if (!workspace_size || !s->m.forward || (bytes && posix_memalign(&s->workspace, 64, bytes))) {
        fprintf(stderr, "xaic: error: cannot set up the run (%s)\n",
                workspace_size && s->m.forward ? "out of memory" : "missing entry point");
        return 1;
    }
    for (int i = 0; i < s->n_methods; i++)
        if (!s->methods[i].fn) {
            fprintf(stderr, "xaic: error: missing entry point %s_%s\n", s->net->name, s->methods[i].name);
            return 1;
        }
    s->m.workspace =
        s->workspace ? s->workspace : (void *)&s->m; /* a network without workspace still needs a pointer */
    return 0;
}

static void free_setup(eval_setup *s)
{
    for (int i = 0; i < s->n_results; i++) {
        eval_result *r = &s->results[i];
        free(r->curve), free(r->quadrants), free(r->strip), free(r->strip_removed);
    }
    free(s->workspace);
    free(s->labels);
    free(s->per_input);
    free(s->image0);
    free(s->curves), free(s->quads), free(s->score), free(s->logits), free(s->targets), free(s->predicted);
    dataset_close(&s->ds);
    jit_free(s->jit);
}

/* The results (explanation x order), their columns in per_input.npy */
static void plan_results(const eval_args *a, eval_setup *s)
{
    int64_t column = 2;
    for (int i = 0; i < s->n_methods; i++)
        for (int order = 0; order < 2; order++) {
            if (!(a->orders & (1 << order)) || (order && !a->is_selectivity)) continue;
            eval_result *r = &s->results[s->n_results++];
            r->method = &s->methods[i];
            r->order = order;
            r->points = a->is_selectivity ? a->sel.steps + 1 : (int64_t)a->cont.shift_max - a->cont.shift_min + 1;
            r->column = column;
            column += eval_result_values(a, r);
        }
    s->row_values = column;
}

static char *describe(compilation *c, const eval_args *a, const eval_setup *s)
{
    char data[4200], labels[4200] = "none", *d = NULL;
    dataset_identity(&s->ds, data, sizeof data);
    if (a->labels) stream_file_identity(a->labels, labels, sizeof labels);
    int n = asprintf(&d,
                     "eval sources=%08x %s -O%d explain=%s metric=%s patch=%d steps=%d orders=%d baseline=%a "
                     "tracked=%d shifts=%d:%d batch=%d labels=%s data=%s%s",
                     stream_sources_crc(c), s->net->name, a->opt_level, a->explain, a->metric, a->sel.patch,
                     a->sel.steps, a->orders, (double)a->sel.baseline, a->sel.tracked, a->cont.shift_min,
                     a->cont.shift_max, s->m.max_batch, labels, data,
                     /* only when sliding: a grid run's description, and its journals, stay as before */
                     a->sel.windows == XAI_WINDOWS_SLIDING ? " windows=sliding" : "");
    return n < 0 ? NULL : d;
}

static int evaluate(compilation *c, const eval_args *a)
{
    eval_setup s = { .args = a };
    outputs_inputs_of(&s.inputs, c);
    outputs_add_input(&s.inputs, a->data, "the data");
    outputs_add_input(&s.inputs, a->labels, "the labels");
    int rc = resolve_explanations(c, a, &s);
    if (!rc) rc = resolve_shapes(&s);
    if (!rc && a->is_selectivity) {
        int32_t patch = a->sel.patch, steps = a->sel.steps,
                most = xai_selectivity_max_steps(s.m.height, s.m.width, patch, a->sel.windows);
        if (steps > most) { /* before the data is read and the JIT runs */
            fprintf(stderr,
                    "xaic: error: --steps %d: a %dx%d input has only %d %s of %dx%d; use --steps %d or "
                    "less, or a smaller --patch\n",
                    steps, s.m.height, s.m.width, most,
                    a->sel.windows == XAI_WINDOWS_GRID ? "patches" : "disjoint sliding windows", patch, patch, most);
            rc = 1;
        }
    }
    if (rc) return rc;
    sched *sc = sched_start();
    if (!sc) return 1;
    sched_quiet(sc, 1);
    job j = { .what = "xaic eval",
              .ds = &s.ds,
              .resume = a->resume,
              .skip_list = a->skip_bad,
              .progress_every = a->progress_every,
              .inputs = &s.inputs,
              .process = eval_process,
              .finish = eval_finish,
              .ctx = &s };
    if (sched_rank(sc) == 0) rc = eval_make_output_dir(a->out_dir);
    if (!rc) rc = dataset_open(&s.ds, a->data, s.net, 0, a->skip_bad != NULL);
    if (!rc) {
        s.n = a->limit && a->limit < s.ds.count ? a->limit : s.ds.count;
        rc = read_labels(a, &s);
    }
    if (!rc) rc = jit_entries(c, a, &s);
    char *description = NULL;
    if (!rc) {
        plan_results(a, &s);
        j.records = s.n;
        j.chunk = a->chunk ? a->chunk : 4 * s.m.max_batch;
        j.n_extra = s.n_results;
        j.n_out = 1;
        j.out[0] = (job_output){ .rank = 2, .shape = { s.n, s.row_values } };
        rc = asprintf(&s.per_input, "%s/per_input.npy", a->out_dir) < 0 ||
            asprintf(&j.journal_path, "%s/per_input.npy.xaic-journal", a->out_dir) < 0 ||
            !(description = describe(c, a, &s)) || !(j.out[0].target = strdup(s.per_input));
        j.description = description;
        if (!rc) rc = eval_chunk_buffers(&s, j.chunk);
    }
    rc = stream_agree(sc, rc);
    s.started = progress_now();
    if (!rc) rc = job_run(&j, sc); /* the report: eval_finish, on rank 0 */
    free(description);
    free(j.journal_path);
    free(j.out[0].target);
    free_setup(&s);
    sched_end(sc);
    return rc;
}

int eval_main(int argc, char **argv)
{
    eval_args a;
    int rc = parse_eval_args(argc, argv, &a);
    if (rc) return rc;
    xai_diag d;
    diag_init(&d, stderr);
    tool_program tp = { .file = a.file, .explain = a.explain, .network = a.network };
    if ((a.input_range && (rc = tool_parse_input_range(&tp, a.input_range))) ||
        (a.input_shape && (rc = tool_parse_input_shape(&tp, a.input_shape)))) {
        diag_free(&d);
        return rc;
    }
    compilation c;
    int failed = tool_analyse(&c, &d, &tp);
    if (failed || d.errors) {
        if (d.errors) fprintf(stderr, "%d error%s\n", d.errors, d.errors == 1 ? "" : "s");
        rc = failed == 2 ? 2 : 1;
    } else
        rc = evaluate(&c, &a);
    driver_free(&c);
    diag_free(&d);
    tool_program_cleanup(&tp);
    return rc;
}
