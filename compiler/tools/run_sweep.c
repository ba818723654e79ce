/* xaic run --explain NAME for a smoothgrad sweep (sema_explain.c: NAME_0 .. NAME_{rows*cols-1}, noise-major):
 * every member on the first input sample, written as one heatmap grid (rows: noise levels, columns: sample
 * counts) and as OUT.npy [rows, columns, ...the explanation's output shape]. docs/gradients.md. */
#include <stdlib.h>
#include <string.h>

#include "jit.h"
#include "run.h"
#include "xairt.h"

typedef int (*entry_ex_fn)(const float *, const int32_t *, float *, int32_t, void *, const xai_options *);

/* OUT.png -> OUT.npy (malloc'd) */
static char *npy_path(const char *png)
{
    size_t n = strlen(png);
    char *p = malloc(n + 1);
    memcpy(p, png, n + 1);
    memcpy(p + n - 4, ".npy", 4);
    return p;
}

int run_sweep(compilation *c, const run_request *r)
{
    int rows = 0, cols = 0, n = explain_sweep_members(c->explain, r->explain, NULL, 0, &rows, &cols);
    if (!r->input || !r->output) {
        fprintf(stderr, "xaic: error: run needs --input FILE and -o FILE\n");
        return 2;
    }
    if (r->forward || r->stats || r->noise || r->baseline || r->resume || r->chunk || r->skip_bad || r->batch) {
        fprintf(stderr,
                "xaic: error: '%s' is a smoothgrad sweep: it runs on one input sample and writes a .png grid "
                "(and .npy) or a .npy; --forward, --stats, --noise, --baseline, --batch, --chunk, --resume and "
                "--skip-bad are for single explanations\n",
                r->explain);
        return 2;
    }
    int png = run_ends_with(r->output, ".png");
    if (!png && !run_ends_with(r->output, ".npy")) {
        fprintf(stderr, "xaic: error: a sweep writes a .png grid (with a .npy beside it) or a .npy\n");
        return 2;
    }
    int *members = malloc(sizeof(int) * n);
    explain_sweep_members(c->explain, r->explain, members, n, NULL, NULL);
    const ir_graph **expl = calloc((size_t)n, sizeof *expl);
    for (int k = 0; k < n; k++) expl[k] = driver_explanation(c, c->explain->specs[members[k]].name, NULL);
    free(members);
    const ir_graph *g = expl[0]->network;
    char *npy = png ? npy_path(r->output) : NULL;
    if (!run_output_allowed(c, r, r->output) || (npy && !run_output_allowed(c, r, npy))) {
        free(npy);
        free(expl);
        return 1;
    }
    xai_array x = { 0 };
    int batch = run_read_input(r, g, &x);
    if (batch < 0 || (r->class_target >= 0 && !run_target_ok(expl[0], g->name, r->class_target))) {
        xai_array_free(&x);
        free(npy);
        free(expl);
        return 1;
    }
    if (batch > 1) fprintf(stderr, "xaic: note: %s holds %d samples; the sweep explains the first\n", r->input, batch);
    int32_t target = r->class_target;
    const ir_shape *os = &expl[0]->nodes[expl[0]->output].shape;
    int64_t out_count = ir_shape_count(os), in_count = ir_shape_count(&g->nodes[g->input].shape);
    char *err = NULL, sym[300];
    int rc = 1;
    xai_jit *jit = jit_create(c, r->opt_level, &err);
    float *y = malloc(sizeof(float) * (size_t)(out_count * n)), *inputs = NULL;
    void *ws = NULL;
    snprintf(sym, sizeof sym, "%s_workspace_size", g->name);
    size_t (*workspace_size)(int32_t) = jit ? (size_t(*)(int32_t))jit_lookup(jit, sym) : NULL;
    size_t ws_bytes = workspace_size ? workspace_size(1) : 0;
    if (!jit || !y || !workspace_size || (ws_bytes && posix_memalign(&ws, 64, ws_bytes))) {
        fprintf(stderr, "xaic: error: %s\n", err ? err : "cannot set up the run");
        goto done;
    }
    xai_options opt = { 0 };
    opt.workspace_size = ws_bytes;
    if (r->has_seed) opt.seed = r->seed, opt.has_seed = 1;
    for (int k = 0; k < n; k++) {
        snprintf(sym, sizeof sym, "%s_%s_ex", g->name, expl[k]->explain_name);
        entry_ex_fn fn = (entry_ex_fn)jit_lookup(jit, sym);
        int status = fn ? fn(x.data, target >= 0 ? &target : NULL, y + k * out_count, 1, ws, &opt) : XAI_EARG;
        if (status) {
            fprintf(stderr, "xaic: error: explanation %s: %s\n", expl[k]->explain_name, xai_status_string(status));
            goto done;
        }
    }
    if (png && os->rank != 3) { /* said before anything is written */
        fprintf(stderr, "xaic: error: a relevance of rank %d is not an image; write .npy\n", os->rank);
        goto done;
    }
    char werr[512];
    int64_t shape[IR_MAX_RANK + 2] = { rows, cols };
    for (int i = 0; i < os->rank; i++) shape[i + 2] = os->dims[i];
    if (xai_npy_write(npy ? npy : r->output, y, os->rank + 2, shape, werr, sizeof werr)) {
        fprintf(stderr, "xaic: error: %s\n", werr);
        goto done;
    }
    if (png) {
        xai_heatmap_options ho = { 0 };
        ho.overlay = r->overlay;
        ho.colormap = r->colormap;
        ho.columns = cols;
        if (r->overlay) { /* the input under every cell */
            if (out_count != in_count) {
                fprintf(stderr, "xaic: error: --overlay needs relevance shaped like the input\n");
                goto done;
            }
            inputs = malloc(sizeof(float) * (size_t)(in_count * n));
            for (int k = 0; inputs && k < n; k++) memcpy(inputs + k * in_count, x.data, sizeof(float) * in_count);
        }
        if (xai_heatmap_write_png(r->output, y, inputs, n, os->dims[0], os->dims[1], os->dims[2], &ho, werr,
                                  sizeof werr)) {
            fprintf(stderr, "xaic: error: %s\n", werr);
            goto done;
        }
    }
    rc = 0;
done:
    free(err);
    free(ws);
    free(y);
    free(inputs);
    free(npy);
    free(expl);
    xai_array_free(&x);
    if (jit) jit_free(jit);
    return rc;
}
