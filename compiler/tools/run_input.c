/* xaic run's input: a .npy batch or one .png image, checked against the network's input. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "outputs.h"
#include "policy.h"
#include "run.h"

int run_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

static void shape_text(const int64_t *dims, int rank, char *buf, size_t len)
{
    size_t used = snprintf(buf, len, "[");
    for (int i = 0; i < rank && used < len; i++)
        used += snprintf(buf + used, len - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (used < len) snprintf(buf + used, len - used, "]");
}

/* Reads the input and checks it against the network's input shape; returns the batch or -1. */
int run_may_read(const char *path)
{
    char why[512];
    if (!policy_check_read(path, why, sizeof why)) return 1;
    fprintf(stderr, "xaic: error: cannot read '%s': %s\n", path, why);
    return 0;
}

int run_check_finite(const char *path, const xai_array *a, int64_t per_sample)
{
    int64_t n = xai_array_count(a);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(a->data[i])) {
            fprintf(stderr, "xaic: error: %s holds %s at sample %lld, element %lld\n", path,
                    isnan(a->data[i]) ? "NaN" : "infinity", (long long)(per_sample ? i / per_sample : 0),
                    (long long)(per_sample ? i % per_sample : i));
            return 0;
        }
    return 1;
}

int run_read_input(const run_request *r, const ir_node *in, xai_array *x)
{
    char err[512], got[128], want[128];
    if (!run_may_read(r->input)) return -1;
    int64_t want_dims[IR_MAX_RANK + 1];
    for (int i = 0; i < in->shape.rank; i++) want_dims[i + 1] = in->shape.dims[i];
    int status;
    if (run_ends_with(r->input, ".png")) {
        int channels = in->shape.rank == 3 ? in->shape.dims[0] : 1;
        status = xai_png_read(r->input, channels == 3 ? 3 : 1, x, err, sizeof err);
        if (status == XAI_OK) { /* one image: batch of 1 */
            x->shape[3] = 0;
            for (int i = x->rank; i > 0; i--) x->shape[i] = x->shape[i - 1];
            x->shape[0] = 1;
            x->rank++;
            if (in->shape.rank == 1) {
                x->rank = 2;
                x->shape[1] = xai_array_count(x);
            } /* a flat network */
        }
    } else {
        status = xai_npy_read(r->input, x, 0, err, sizeof err);
    }
    if (status != XAI_OK) {
        fprintf(stderr, "xaic: error: %s\n", err);
        return -1;
    }
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
    if (!run_check_finite(r->input, x, ir_shape_count(&in->shape))) return -1;
    return (int)x->shape[0];
}

int run_output_allowed(const compilation *c, const run_request *r, const char *path)
{
    tool_inputs in;
    outputs_inputs_of(&in, c);
    outputs_add_input(&in, r->input, "the input");
    outputs_add_input(&in, r->baseline, "the baseline");
    outputs_add_input(&in, r->noise, "the noise");
    return !outputs_check(&in, path, "-o");
}
