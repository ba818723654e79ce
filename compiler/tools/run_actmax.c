/* xaic run for activation maximisation: one prototype per class by default, written as an image grid
 * (.png) and an array (.npy), with a progress bar on a terminal and each prototype's class probability. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jit.h"
#include "run.h"

static void progress_bar(void *context, int64_t done, int64_t total)
{
    const struct timespec *start = context;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double elapsed = (double)(now.tv_sec - start->tv_sec) + 1e-9 * (double)(now.tv_nsec - start->tv_nsec);
    int filled = (int)(40 * done / (total ? total : 1));
    char bar[41];
    for (int i = 0; i < 40; i++) bar[i] = i < filled ? '#' : '.';
    bar[40] = 0;
    fprintf(stderr, "\r[%s] %3d%%  step %lld/%lld  %.1f s", bar, (int)(100 * done / (total ? total : 1)),
            (long long)done, (long long)total, elapsed);
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
}

/* OUT without its .png / .npy extension, plus `ext` */
static char *sibling(const char *out, const char *ext)
{
    size_t n = strlen(out);
    if (n > 4 && (!strcasecmp(out + n - 4, ".png") || !strcasecmp(out + n - 4, ".npy"))) n -= 4;
    char *s = malloc(n + strlen(ext) + 1);
    memcpy(s, out, n);
    strcpy(s + n, ext);
    return s;
}

/* [C, H, W] of an image shape; a flat [N] with N a square is one gray N^(1/2) x N^(1/2) image */
static int image_geometry(const ir_shape *s, int *ch, int *h, int *w)
{
    if (s->rank == 3) {
        *ch = s->dims[0], *h = s->dims[1], *w = s->dims[2];
        return *ch == 1 || *ch == 3;
    }
    int64_t n = ir_shape_count(s);
    int side = (int)llround(sqrt((double)n));
    *ch = 1, *h = *w = side;
    return (int64_t)side * side == n;
}

static int write_prototypes(const char *output, const ir_shape *shape, const float *images, int batch)
{
    char err[512];
    char *npy = sibling(output, ".npy"), *png = sibling(output, ".png");
    int64_t dims[IR_MAX_RANK + 1] = { batch };
    for (int i = 0; i < shape->rank; i++) dims[i + 1] = shape->dims[i];
    int rc = 0, ch, h, w;
    if (xai_npy_write(npy, images, shape->rank + 1, dims, err, sizeof err)) {
        fprintf(stderr, "xaic: error: %s\n", err);
        rc = 1;
    } else if (!image_geometry(shape, &ch, &h, &w)) {
        fprintf(stderr, "xaic: note: a synthesised input of shape [%lld] is not an image; wrote only %s\n",
                (long long)ir_shape_count(shape), npy);
    } else if (xai_image_grid_write_png(png, images, batch, ch, h, w, 0, 0, err, sizeof err)) {
        fprintf(stderr, "xaic: error: %s\n", err);
        rc = 1;
    } else {
        fprintf(stderr, "wrote %s and %s\n", png, npy);
    }
    free(npy);
    free(png);
    return rc;
}

/* The starting points: --input, or zeros (an image) / N(0, 1) numbers (a generator's code). */
static int starting_points(const run_request *r, const ir_graph *expl, int rows, xai_array *x)
{
    const ir_node *in = &expl->nodes[expl->input];
    if (r->input) return run_read_input(r, expl, x);
    int64_t n = ir_shape_count(&in->shape);
    x->rank = 2, x->shape[0] = rows, x->shape[1] = n;
    x->data = calloc((size_t)(rows * n), sizeof(float));
    if (!x->data) return -1;
    if (expl->am.generator) xai_normal_fill(x->data, rows * n, r->has_seed ? r->seed : 0, 0, 1.0f);
    return rows;
}

int run_actmax(compilation *c, const run_request *r, const ir_graph *expl)
{
    const ir_graph *net = expl->network;
    if (!r->output) {
        fprintf(stderr, "xaic: error: run needs -o FILE (the prototypes are written as FILE.png and FILE.npy)\n");
        return 2;
    }
    if (r->stats || r->overlay || r->noise) {
        fprintf(stderr, "xaic: error: --stats, --overlay and --noise do not apply to activation maximisation\n");
        return 2;
    }
    char *npy = sibling(r->output, ".npy"), *png = sibling(r->output, ".png");
    int allowed = run_output_allowed(c, r, npy) && run_output_allowed(c, r, png);
    free(npy);
    free(png);
    if (!allowed) return 1;
    int classes = (int)ir_shape_count(&expl->nodes[expl->am.logits].shape);
    int64_t n_in = ir_shape_count(&expl->nodes[expl->input].shape);
    if (r->class_target >= classes) {
        fprintf(stderr, "xaic: error: --target %d is not a class of network '%s' (0 .. %d)\n", r->class_target,
                net->name, classes - 1);
        return 1;
    }
    xai_array x = { 0 }, baseline = { 0 };
    int batch = starting_points(r, expl, r->class_target >= 0 ? 1 : classes, &x);
    if (batch < 0) return 1;
    /* the class of each row: --target for all rows, else one row per class (one start shared, or one each) */
    if (r->class_target < 0 && batch != classes) {
        if (batch != 1) {
            fprintf(stderr,
                    "xaic: error: %s holds %d starting points; give one (shared by every class), one per class "
                    "(%d), or --target CLASS\n",
                    r->input, batch, classes);
            xai_array_free(&x);
            return 1;
        }
        float *rows = malloc(sizeof(float) * n_in * classes);
        for (int b = 0; b < classes; b++) memcpy(rows + b * n_in, x.data, sizeof(float) * n_in);
        free(x.data);
        x.data = rows;
        batch = classes;
    }
    int32_t *targets = malloc(sizeof(int32_t) * batch);
    for (int b = 0; b < batch; b++) targets[b] = r->class_target >= 0 ? r->class_target : b;
    xai_options opt = { 0 };
    opt.steps = r->steps;
    int rc = 1;
    char err[512];
    if (r->baseline) { /* the regulariser's centre */
        if (!run_may_read(r->baseline)) goto out;
        if (xai_npy_read(r->baseline, &baseline, 0, err, sizeof err)) {
            fprintf(stderr, "xaic: error: %s\n", err);
            goto out;
        }
        int64_t n = xai_array_count(&baseline);
        if (n != n_in && n != n_in * batch) {
            fprintf(stderr,
                    "xaic: error: %s: the centre holds %lld values; it must be one %s (%lld values) or one per "
                    "row (%lld)\n",
                    r->baseline, (long long)n, expl->am.generator ? "code" : "input", (long long)n_in,
                    (long long)(n_in * batch));
            goto out;
        }
        opt.baseline = baseline.data;
        opt.baseline_per_sample = n == n_in * batch && batch > 1;
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    if (isatty(2)) opt.progress = progress_bar, opt.progress_context = &start;

    char *jerr = NULL;
    xai_jit *jit = jit_create(c, r->opt_level, &jerr);
    if (!jit) {
        fprintf(stderr, "xaic: error: %s\n", jerr ? jerr : "JIT failed");
        free(jerr);
        goto out;
    }
    char sym[300];
    snprintf(sym, sizeof sym, "%s_workspace_size", net->name);
    size_t (*workspace_size)(int32_t) = (size_t(*)(int32_t))jit_lookup(jit, sym);
    snprintf(sym, sizeof sym, "%s_%s_ex", net->name, expl->explain_name);
    int (*entry)(const float *, const int32_t *, float *, int32_t, void *, const xai_options *) =
        (int (*)(const float *, const int32_t *, float *, int32_t, void *, const xai_options *))jit_lookup(jit, sym);
    snprintf(sym, sizeof sym, "%s_forward", net->name);
    int (*forward)(const float *, float *, int32_t, void *) =
        (int (*)(const float *, float *, int32_t, void *))jit_lookup(jit, sym);
    const ir_shape *image_shape = &expl->nodes[expl->am.image].shape;
    int64_t image_count = ir_shape_count(image_shape);
    size_t ws_bytes = workspace_size ? workspace_size(batch) : 0;
    float *images = malloc(sizeof(float) * image_count * batch), *logits = malloc(sizeof(float) * classes * batch);
    void *ws = NULL;
    if (!entry || !forward || !ws_bytes || !images || !logits || posix_memalign(&ws, 64, ws_bytes)) {
        fprintf(stderr, "xaic: error: cannot set up the run (missing entry point or out of memory)\n");
        ws = NULL;
    } else {
        int status = entry(x.data, targets, images, batch, ws, &opt);
        if (status) {
            fprintf(stderr, "xaic: error: activation maximisation failed: %s\n", xai_status_string(status));
        } else if ((status = forward(images, logits, batch, ws))) {
            fprintf(stderr, "xaic: error: classifying the prototypes: %s\n", xai_status_string(status));
        } else { /* how sure the classifier is of each prototype */
            fprintf(stderr, "row  class  p(class)\n");
            for (int b = 0; b < batch; b++) {
                const float *l = logits + (int64_t)b * classes;
                double mx = l[0], sum = 0;
                for (int k = 1; k < classes; k++) mx = fmax(mx, l[k]);
                for (int k = 0; k < classes; k++) sum += exp(l[k] - mx);
                fprintf(stderr, "%3d  %5d  %.6f\n", b, targets[b], exp(l[targets[b]] - mx) / sum);
            }
            rc = write_prototypes(r->output, image_shape, images, batch);
        }
    }
    free(ws);
    free(images);
    free(logits);
    jit_free(jit);
out:
    free(targets);
    xai_array_free(&x);
    xai_array_free(&baseline);
    return rc;
}
