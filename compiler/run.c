/* xaic run: the same generated code as the object file, compiled in memory. */
#include "run.h"

#include <stdlib.h>
#include <string.h>

#include "jit.h"
#include "xairt.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

static void shape_text(const int64_t *dims, int rank, char *buf, size_t len)
{
    size_t used = snprintf(buf, len, "[");
    for (int i = 0; i < rank && used < len; i++) used += snprintf(buf + used, len - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (used < len) snprintf(buf + used, len - used, "]");
}

/* Reads the input and checks it against the network's input shape; returns the batch or -1. */
static int read_input(const run_request *r, const ir_node *in, xai_array *x)
{
    char err[512], got[128], want[128];
    int64_t want_dims[IR_MAX_RANK + 1];
    for (int i = 0; i < in->shape.rank; i++) want_dims[i + 1] = in->shape.dims[i];
    int status;
    if (ends_with(r->input, ".png")) {
        int channels = in->shape.rank == 3 ? in->shape.dims[0] : 1;
        status = xai_png_read(r->input, channels == 3 ? 3 : 1, x, err, sizeof err);
        if (status == XAI_OK) {   /* one image: batch of 1 */
            x->shape[3] = 0;
            for (int i = x->rank; i > 0; i--) x->shape[i] = x->shape[i - 1];
            x->shape[0] = 1;
            x->rank++;
            if (in->shape.rank == 1) { x->rank = 2; x->shape[1] = xai_array_count(x); }  /* a flat network */
        }
    } else {
        status = xai_npy_read(r->input, x, 0, err, sizeof err);
    }
    if (status != XAI_OK) { fprintf(stderr, "xaic: error: %s\n", err); return -1; }
    /* [B, ...shape] or exactly the shape (batch 1) */
    int matches_batched = x->rank == in->shape.rank + 1, matches_single = x->rank == in->shape.rank;
    for (int i = 0; i < in->shape.rank && matches_batched; i++) matches_batched = x->shape[i + 1] == in->shape.dims[i];
    for (int i = 0; i < in->shape.rank && matches_single; i++) matches_single = x->shape[i] == in->shape.dims[i];
    if (matches_single && !matches_batched) {
        for (int i = x->rank; i > 0; i--) x->shape[i] = x->shape[i - 1];
        x->shape[0] = 1;
        x->rank++;
    } else if (!matches_batched || x->shape[0] < 1 || x->shape[0] > INT32_MAX) {
        shape_text(x->shape, x->rank, got, sizeof got);
        want_dims[0] = 0;
        shape_text(want_dims + 1, in->shape.rank, want, sizeof want);
        fprintf(stderr, "xaic: error: %s: input has shape %s, but network input '%s' needs [batch] + %s\n", r->input,
                got, in->name, want);
        return -1;
    }
    return (int)x->shape[0];
}

int run_command(compilation *c, const run_request *r)
{
    if (!r->input || !r->output) {
        fprintf(stderr, "xaic: error: run needs --input FILE and -o FILE\n");
        return 2;
    }
    if (!r->forward && !r->explain) {
        fprintf(stderr, "xaic: error: run needs --forward or --explain NAME\n");
        return 2;
    }
    const ir_graph *g = NULL;
    if (r->network) {
        g = driver_graph(c, r->network, NULL);
        if (!g) { fprintf(stderr, "xaic: error: no network named '%s' in the file\n", r->network); return 1; }
    } else if (c->ir->n_graphs == 1) {
        g = c->ir->graphs[0];
    } else {
        fprintf(stderr, "xaic: error: the file defines %d networks; choose one with --network NAME\n", c->ir->n_graphs);
        return 2;
    }
    if (r->explain) {
        fprintf(stderr, "xaic: error: no explanation named '%s' for network '%s'\n", r->explain, g->name);
        return 1;
    }
    xai_array x = {0};
    int batch = read_input(r, &g->nodes[g->input], &x);
    if (batch < 0) {
        xai_array_free(&x);
        return 1;
    }

    char *err = NULL;
    xai_jit *jit = jit_create(c, r->opt_level, &err);
    if (!jit) {
        fprintf(stderr, "xaic: error: %s\n", err ? err : "JIT failed");
        free(err);
        xai_array_free(&x);
        return 1;
    }
    char sym[300];
    snprintf(sym, sizeof sym, "%s_workspace_size", g->name);
    size_t (*workspace_size)(int32_t) = (size_t (*)(int32_t))jit_lookup(jit, sym);
    snprintf(sym, sizeof sym, "%s_forward", g->name);
    int (*forward)(const float *, float *, int32_t, void *) = (int (*)(const float *, float *, int32_t, void *))jit_lookup(jit, sym);
    int rc = 1;
    int64_t out_count = ir_shape_count(&g->nodes[g->output].shape);
    size_t ws_bytes = workspace_size ? workspace_size(batch) : 0;
    float *y = malloc(sizeof(float) * out_count * batch);
    void *ws = NULL;
    if (!forward || !workspace_size || !y || (ws_bytes && posix_memalign(&ws, 64, ws_bytes))) {
        fprintf(stderr, "xaic: error: cannot set up the run (%s)\n", y ? "missing entry point" : "out of memory");
        goto done;
    }
    int status = forward(x.data, y, batch, ws);
    if (status) {
        fprintf(stderr, "xaic: error: %s: %s\n", r->input, xai_status_string(status));
        goto done;
    }
    int64_t shape[IR_MAX_RANK + 1] = {batch};
    const ir_shape *os = &g->nodes[g->output].shape;
    for (int i = 0; i < os->rank; i++) shape[i + 1] = os->dims[i];
    char werr[512];
    if (ends_with(r->output, ".png")) {
        fprintf(stderr, "xaic: error: a forward output is not an image; write .npy\n");
        goto done;
    }
    if (xai_npy_write(r->output, y, os->rank + 1, shape, werr, sizeof werr)) {
        fprintf(stderr, "xaic: error: %s\n", werr);
        goto done;
    }
    rc = 0;
done:
    free(ws);
    free(y);
    xai_array_free(&x);
    jit_free(jit);
    return rc;
}
