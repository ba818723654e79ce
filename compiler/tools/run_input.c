/* xaic run's input when it is held in memory (heatmaps, --stats, --noise): any data set (dataset.c), read whole. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "outputs.h"
#include "policy.h"
#include "dataset.h"
#include "run.h"

int run_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
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

int run_read_input(const run_request *r, const ir_graph *net, xai_array *x)
{
    dataset ds;
    int64_t values = ir_shape_count(&net->nodes[net->input].shape);
    if (dataset_open(&ds, r->input, net, 0, 0)) {
        dataset_close(&ds);
        return -1;
    }
    int batch = -1;
    if (ds.count > INT32_MAX || ds.count * values > (1ll << 31)) {
        fprintf(stderr, "xaic: error: %s: %lld inputs are too many to hold at once; write .npy to stream them\n",
                r->input, (long long)ds.count);
    } else {
        unsigned char *bad = malloc((size_t)ds.count);
        char(*reasons)[DATASET_REASON] = malloc(sizeof *reasons * (size_t)ds.count);
        memset(x, 0, sizeof *x);
        x->data = malloc(sizeof(float) * (size_t)(ds.count * values) + 1);
        if (!bad || !reasons || !x->data)
            fprintf(stderr, "xaic: error: out of memory for %lld inputs\n", (long long)ds.count);
        else if (!dataset_read(&ds, 0, (int32_t)ds.count, x->data, bad, reasons)) {
            const ir_shape *in = &net->nodes[net->input].shape;
            x->rank = in->rank + 1;
            x->shape[0] = ds.count;
            for (int i = 0; i < in->rank; i++) x->shape[i + 1] = in->dims[i];
            batch = (int)ds.count;
        }
        free(bad);
        free(reasons);
    }
    dataset_close(&ds);
    return batch;
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

int run_target_ok(const ir_graph *expl, const char *net, int t)
{
    int64_t targets = ir_explain_targets(expl);
    if (t < targets) return 1;
    const char *layer = ir_explain_from_layer(expl);
    if (layer)
        fprintf(stderr,
                "xaic: error: --target %d is not a channel of layer '%s' (0 .. %lld), the `from` of the explanation\n",
                t, layer, (long long)targets - 1);
    else
        fprintf(stderr, "xaic: error: --target %d is not a class of network '%s' (0 .. %lld)\n", t, net,
                (long long)targets - 1);
    return 0;
}
