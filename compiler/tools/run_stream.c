/* xaic run over a data set (docs/scaling.md): the forward pass or explanations of every input, a chunk at a time,
 * into .npy outputs filled region by region (job.c), on one process or every rank of an MPI job. Every row
 * depends on its input only: generated code gives the same bits for a sample whatever the batch around it
 * (tests/unit/test_dataset_cli.c checks it), and SmoothGrad's noise is drawn here for each input's index in the
 * whole data set, exactly the numbers one call on all inputs would draw. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jit.h"
#include "job.h"
#include "run.h"
#include "stream.h"
#include "tool_program.h"

typedef int (*forward_fn)(const float *, float *, int32_t, void *);
typedef int (*explain_fn)(const float *, const int32_t *, float *, int32_t, void *);
typedef int (*explain_ex_fn)(const float *, const int32_t *, float *, int32_t, void *, const xai_options *);

typedef struct entry {
    const ir_graph *expl; /* NULL: the forward pass */
    void *fn;
    int64_t out_values;
    int64_t noise_samples; /* SmoothGrad: noise drawn per input (0: none) */
    float sigma;
    uint64_t seed;
} entry;

typedef struct stream_run {
    const run_request *r;
    const ir_graph *net;
    entry e[JOB_MAX_OUTPUTS];
    int n;
    int32_t batch;
    int64_t values;
    void *ws;
    size_t ws_bytes;
    int32_t *targets;
    float *noise;
    xai_array baseline;
    int baseline_per_sample;
} stream_run;

/* One batch of one entry; its status. */
static int call(stream_run *sr, const entry *e, int64_t first, int32_t n, const float *x, float *y)
{
    if (!e->expl) return ((forward_fn)e->fn)(x, y, n, sr->ws);
    const int32_t *t = sr->r->class_target >= 0 ? sr->targets : NULL;
    if (!e->expl->has_options) return ((explain_fn)e->fn)(x, t, y, n, sr->ws);
    xai_options opt = { .workspace_size = sr->ws_bytes };
    if (sr->baseline.data) {
        opt.baseline = sr->baseline.data + (sr->baseline_per_sample ? first * sr->values : 0);
        opt.baseline_per_sample = sr->baseline_per_sample;
    }
    if (e->noise_samples) { /* input b's sample k: numbers ((first + b) * samples + k) * count of the stream */
        int64_t per = e->noise_samples * sr->values;
        for (int32_t b = 0; b < n; b++)
            xai_normal_fill(sr->noise + b * per, per, e->seed, (uint64_t)((first + b) * per), e->sigma);
        opt.noise = sr->noise;
    }
    return ((explain_ex_fn)e->fn)(x, t, y, n, sr->ws, &opt);
}

static int process(void *ctx, int64_t first, int32_t n, const float *x, const unsigned char *bad, float *const *rows,
                   double *extra)
{
    stream_run *sr = ctx;
    (void)bad, (void)extra;
    for (int32_t b0 = 0; b0 < n; b0 += sr->batch) {
        int32_t bn = n - b0 < sr->batch ? n - b0 : sr->batch;
        for (int i = 0; i < sr->n; i++) {
            const entry *e = &sr->e[i];
            int st = call(sr, e, first + b0, bn, x + (int64_t)b0 * sr->values, rows[i] + (int64_t)b0 * e->out_values);
            if (st) {
                fprintf(stderr, "xaic: error: %s '%s'%s on inputs %lld .. %lld: %s\n",
                        e->expl ? "explanation" : "network", e->expl ? e->expl->explain_name : sr->net->name,
                        st == XAI_ENONFINITE ? " overflowed" : " failed", (long long)(first + b0),
                        (long long)(first + b0 + bn - 1), xai_status_string(st));
                return 1;
            }
        }
    }
    return 0;
}

int run_streams(const run_request *r)
{
    return r->output && run_ends_with(r->output, ".npy") && !r->stats && !r->noise;
}

/* the explanations of --explain A,B (or the forward pass), all of one network */
static int resolve(compilation *c, const run_request *r, stream_run *sr)
{
    if (r->forward) {
        sr->net = r->network ? driver_graph(c, r->network, NULL) : c->ir->n_graphs == 1 ? c->ir->graphs[0] : NULL;
        if (!sr->net) {
            fprintf(stderr,
                    r->network ? "xaic: error: no network named '%s' in the file\n"
                               : "xaic: error: the file defines several networks; choose one with --network NAME\n",
                    r->network);
            return r->network ? 1 : 2;
        }
        sr->e[sr->n++] = (entry){ .out_values = ir_shape_count(&sr->net->nodes[sr->net->output].shape) };
        return 0;
    }
    char *list = strdup(r->explain), *save = NULL;
    int rc = 0;
    for (char *name = strtok_r(list, ",", &save); name && !rc; name = strtok_r(NULL, ",", &save)) {
        const ir_graph *e = driver_explanation(c, name, NULL);
        if (!e) {
            tool_explain_unknown(c, name);
            rc = 1;
        } else if (e->am.enabled) {
            fprintf(stderr, "xaic: error: '%s' synthesises inputs (activation maximisation); it takes no data set\n",
                    name);
            rc = 1;
        } else if (sr->net && e->network != sr->net) {
            fprintf(stderr, "xaic: error: explanations of one network per run ('%s' is for '%s', not '%s')\n", name,
                    e->network->name, sr->net->name);
            rc = 1;
        } else if (sr->n == JOB_MAX_OUTPUTS) {
            fprintf(stderr, "xaic: error: at most %d explanations per run\n", JOB_MAX_OUTPUTS);
            rc = 2;
        } else {
            sr->net = e->network;
            entry *en = &sr->e[sr->n++];
            en->expl = e;
            en->out_values = ir_shape_count(&e->nodes[e->output].shape);
            for (int i = 0; i < e->n_nodes; i++)
                if (e->nodes[i].op == OP_EXPAND && e->nodes[i].expand == EXPAND_NOISE) {
                    en->noise_samples = e->nodes[i].samples > 0 ? e->nodes[i].samples : e->nodes[i].mult;
                    en->sigma = e->nodes[i].sigma;
                    en->seed = r->has_seed ? r->seed : e->nodes[i].rng_seed;
                }
        }
    }
    free(list);
    if (!rc && r->network && strcmp(r->network, sr->net->name)) {
        fprintf(stderr, "xaic: error: the explanations are for network '%s', not '%s'\n", sr->net->name, r->network);
        rc = 1;
    }
    return rc;
}

/* OUT.npy, or OUT.E.npy for each of several explanations */
static char *output_name(const char *out, const char *explanation)
{
    char *p = NULL;
    if (!explanation) return strdup(out);
    return asprintf(&p, "%.*s.%s.npy", (int)(strlen(out) - 4), out, explanation) < 0 ? NULL : p;
}

static int read_baseline(const run_request *r, stream_run *sr, int64_t records)
{
    int any_options = 0;
    for (int i = 0; i < sr->n; i++) any_options |= sr->e[i].expl && sr->e[i].expl->has_options;
    if ((r->baseline || r->has_seed) && !any_options) {
        fprintf(stderr,
                "xaic: error: these explanations take no baseline or seed (those are for integrated_gradients, "
                "deeplift and smoothgrad)\n");
        return 1;
    }
    if (!r->baseline) return 0;
    char err[600];
    if (!run_may_read(r->baseline)) return 1;
    if (xai_npy_read(r->baseline, &sr->baseline, 0, err, sizeof err)) {
        fprintf(stderr, "xaic: error: %s\n", err);
        return 1;
    }
    if (!run_check_finite(r->baseline, &sr->baseline, sr->values)) return 1;
    int64_t n = xai_array_count(&sr->baseline);
    if (n != sr->values && n != sr->values * records) {
        fprintf(stderr,
                "xaic: error: %s: the baseline holds %lld values; it must be one input sample (%lld values) or one per "
                "input (%lld)\n",
                r->baseline, (long long)n, (long long)sr->values, (long long)(sr->values * records));
        return 1;
    }
    sr->baseline_per_sample = records > 1 && n == sr->values * records;
    return 0;
}

static int set_up_entries(compilation *c, const run_request *r, stream_run *sr, xai_jit **jit)
{
    char *err = NULL, sym[300];
    if (!(*jit = jit_create(c, r->opt_level, &err))) {
        fprintf(stderr, "xaic: error: %s\n", err ? err : "JIT failed");
        free(err);
        return 1;
    }
    snprintf(sym, sizeof sym, "%s_workspace_size", sr->net->name);
    size_t (*workspace_size)(int32_t) = (size_t(*)(int32_t))jit_lookup(*jit, sym);
    int64_t noise = 0;
    for (int i = 0; i < sr->n; i++) {
        entry *e = &sr->e[i];
        if (!e->expl)
            snprintf(sym, sizeof sym, "%s_forward", sr->net->name);
        else
            snprintf(sym, sizeof sym, "%s_%s%s", sr->net->name, e->expl->explain_name,
                     e->expl->has_options ? "_ex" : "");
        if (!(e->fn = jit_lookup(*jit, sym)) || !workspace_size) {
            fprintf(stderr, "xaic: error: missing entry point %s\n", sym);
            return 1;
        }
        if (e->noise_samples * sr->values > noise) noise = e->noise_samples * sr->values;
    }
    sr->ws_bytes = workspace_size(sr->batch);
    sr->targets = malloc(sizeof(int32_t) * (size_t)sr->batch);
    sr->noise = noise ? malloc(sizeof(float) * (size_t)(noise * sr->batch)) : NULL;
    /* a network without workspace still needs an aligned pointer */
    if (!sr->targets || (noise && !sr->noise) || posix_memalign(&sr->ws, 64, sr->ws_bytes ? sr->ws_bytes : 64)) {
        fprintf(stderr, "xaic: error: out of memory for a batch of %d (use a smaller --batch)\n", (int)sr->batch);
        return 1;
    }
    for (int32_t b = 0; b < sr->batch; b++) sr->targets[b] = r->class_target;
    return 0;
}

int run_stream(compilation *c, const run_request *r)
{
    if (!r->input) {
        fprintf(stderr, "xaic: error: run needs --input FILE and -o FILE\n");
        return 2;
    }
    stream_run sr = { .r = r, .batch = r->batch ? r->batch : 32 };
    int rc = resolve(c, r, &sr);
    if (rc) return rc;
    sched *s = sched_start();
    if (!s) return 1;
    sched_quiet(s, 1);
    dataset ds = { 0 };
    xai_jit *jit = NULL;
    job j = { .what = "xaic run",
              .ds = &ds,
              .resume = r->resume,
              .skip_list = r->skip_bad,
              .progress_every = r->progress_every,
              .process = process,
              .ctx = &sr };
    tool_inputs in;
    outputs_inputs_of(&in, c);
    outputs_add_input(&in, r->input, "the input");
    outputs_add_input(&in, r->baseline, "the baseline");
    j.inputs = &in;
    sr.values = ir_shape_count(&sr.net->nodes[sr.net->input].shape);
    if (r->class_target >= 0)
        for (int i = 0; i < sr.n && !rc; i++) {
            if (sr.e[i].expl && !run_target_ok(sr.e[i].expl, sr.net->name, r->class_target)) rc = 1;
        }
    if (!rc) rc = dataset_open(&ds, r->input, sr.net, 0, r->skip_bad != NULL);
    if (!rc) rc = read_baseline(r, &sr, ds.count);
    for (int i = 0; i < sr.n && !rc; i++) {
        job_output *o = &j.out[j.n_out++];
        const ir_graph *g = sr.e[i].expl ? sr.e[i].expl : sr.net;
        const ir_shape *os = &g->nodes[g->output].shape;
        o->target = output_name(r->output, sr.n > 1 ? sr.e[i].expl->explain_name : NULL);
        o->rank = os->rank + 1;
        for (int k = 0; k < os->rank; k++) o->shape[k + 1] = os->dims[k];
    }
    if (!rc) {
        j.records = ds.count;
        j.chunk = r->chunk ? r->chunk : 8 * sr.batch;
        j.journal_path = output_name(r->output, NULL);
        char *jp = NULL;
        rc = asprintf(&jp, "%s.xaic-journal", r->output) < 0;
        free(j.journal_path);
        j.journal_path = jp;
        char data[4200], base[4200] = "none";
        dataset_identity(&ds, data, sizeof data);
        if (r->baseline) stream_file_identity(r->baseline, base, sizeof base);
        char *d = NULL;
        rc = rc ||
            asprintf(&d, "run sources=%08x %s -O%d explain=%s target=%d seed=%s%llu baseline=%s data=%s",
                     stream_sources_crc(c), sr.net->name, r->opt_level, r->forward ? "(forward)" : r->explain,
                     r->class_target, r->has_seed ? "" : "compiled:", (unsigned long long)r->seed, base, data) < 0;
        j.description = d;
    }
    if (!rc) rc = set_up_entries(c, r, &sr, &jit);
    rc = stream_agree(s, rc);
    if (!rc) rc = job_run(&j, s);
    for (int o = 0; o < j.n_out; o++) free(j.out[o].target);
    free(j.journal_path);
    free((char *)j.description);
    free(sr.ws);
    free(sr.targets);
    free(sr.noise);
    xai_array_free(&sr.baseline);
    dataset_close(&ds);
    jit_free(jit);
    sched_end(s);
    return rc;
}
