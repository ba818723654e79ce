/* xaic run: the same generated code as the object file, compiled in memory. */
#include "run.h"

#include <stdlib.h>
#include <string.h>

#include "jit.h"
#include "scheduler.h"
#include "tool_program.h"
#include "xairt.h"

/* the layer list for --stats: every forward node that relevance reached */
static void print_stats(const ir_graph *g, const graph_plan *plan, const float *ws_arena, const float *out, int batch)
{
    fprintf(stderr, "%-14s %-15s %-16s %s\n", "layer", "op", "shape",
            batch > 1 ? "relevance sum per sample" : "relevance sum");
    for (int i = g->n_forward - 1; i >= 0; i--) {
        int r = g->relevance_of[i];
        if (r < 0) continue;
        const plan_value *v = &plan->values[r];
        int64_t count = ir_shape_count(&g->nodes[r].shape);
        char sb[64];
        ir_op op = g->nodes[i].fused ? (ir_op)(g->nodes[i].fused - 1) : g->nodes[i].op;
        fprintf(stderr, "%-14s %-15s %-16s", g->nodes[i].name ? g->nodes[i].name : "", ir_op_name(op),
                ir_shape_str(&g->nodes[i].shape, sb, sizeof sb));
        if (g->nodes[r].mult > 1) { /* inside IG's / SmoothGrad's sample region: rows of path points, not inputs */
            fprintf(stderr, " (one value per path point or noisy copy, not per sample)\n");
            continue;
        }
        for (int b = 0; b < batch && b < 8; b++) {
            const float *p = v->kind == LOC_OUTPUT ? out + b * count : ws_arena + v->offset * batch + b * count;
            double sum = 0;
            for (int64_t k = 0; k < count; k++) sum += p[k];
            fprintf(stderr, " %12.6g", sum);
        }
        fprintf(stderr, "%s\n", batch > 8 ? " ..." : "");
    }
}

static int write_output(const run_request *r, const ir_shape *os, const float *y, const xai_array *x, int batch,
                        int is_explanation)
{
    char werr[512];
    int64_t shape[IR_MAX_RANK + 1] = { batch };
    for (int i = 0; i < os->rank; i++) shape[i + 1] = os->dims[i];
    if (!run_ends_with(r->output, ".png"))
        return xai_npy_write(r->output, y, os->rank + 1, shape, werr, sizeof werr)
            ? (fprintf(stderr, "xaic: error: %s\n", werr), 1)
            : 0;
    if (!is_explanation) {
        fprintf(stderr, "xaic: error: a forward output is not an image; write .npy\n");
        return 1;
    }
    int c = 1, h, w;
    if (os->rank == 3)
        c = os->dims[0], h = os->dims[1], w = os->dims[2];
    else {
        int64_t n = ir_shape_count(os);
        h = w = 1;
        while ((int64_t)(h + 1) * (h + 1) <= n) h++;
        w = h;
        if ((int64_t)h * w != n) {
            fprintf(stderr, "xaic: error: a relevance of shape [%lld] is not an image; write .npy\n", (long long)n);
            return 1;
        }
    }
    xai_heatmap_options opt = { 0 };
    opt.overlay = r->overlay;
    opt.colormap = r->colormap;
    int same_shape = xai_array_count(x) == (int64_t)batch * c * h * w;
    if (r->overlay && !same_shape) {
        fprintf(stderr, "xaic: error: --overlay needs relevance shaped like the input\n");
        return 1;
    }
    if (xai_heatmap_write_png(r->output, y, same_shape ? x->data : NULL, batch, c, h, w, &opt, werr, sizeof werr)) {
        fprintf(stderr, "xaic: error: %s\n", werr);
        return 1;
    }
    return 0;
}

/* --baseline / --noise: read and check against the input shape; fills opt. Returns 0 or 1 after a message. */
static int read_options(const run_request *r, const ir_graph *expl, const ir_node *in, int batch, xai_options *opt,
                        xai_array *baseline, xai_array *noise)
{
    char err[512];
    int64_t count = ir_shape_count(&in->shape);
    if ((r->baseline || r->noise || r->has_seed) && !expl->has_options) {
        fprintf(stderr,
                "xaic: error: explanation '%s' takes no baseline, noise or seed (those are for "
                "integrated_gradients, deeplift and smoothgrad)\n",
                expl->explain_name);
        return 1;
    }
    if (r->baseline) {
        if (!run_may_read(r->baseline)) return 1;
        if (xai_npy_read(r->baseline, baseline, 0, err, sizeof err)) {
            fprintf(stderr, "xaic: error: %s\n", err);
            return 1;
        }
        if (!run_check_finite(r->baseline, baseline, count)) return 1;
        int64_t n = xai_array_count(baseline);
        if (n != count && n != count * batch) {
            fprintf(stderr,
                    "xaic: error: %s: the baseline holds %lld values; it must be one input sample (%lld values) "
                    "or one per input sample (%lld)\n",
                    r->baseline, (long long)n, (long long)count, (long long)(count * batch));
            return 1;
        }
        opt->baseline = baseline->data;
        opt->baseline_per_sample = batch > 1 && n == count * batch; /* else one sample for all */
    }
    if (r->noise) {
        int64_t samples = 0;
        for (int i = 0; i < expl->n_nodes; i++) /* all the samples, not one chunk's (mult): the entry reads them all */
            if (expl->nodes[i].op == OP_EXPAND && expl->nodes[i].expand == EXPAND_NOISE)
                samples = expl->nodes[i].samples;
        if (!samples) {
            fprintf(stderr, "xaic: error: --noise is for smoothgrad explanations\n");
            return 1;
        }
        if (!run_may_read(r->noise)) return 1;
        if (xai_npy_read(r->noise, noise, 0, err, sizeof err)) {
            fprintf(stderr, "xaic: error: %s\n", err);
            return 1;
        }
        if (!run_check_finite(r->noise, noise, count * samples)) return 1;
        if (xai_array_count(noise) != count * samples * batch) {
            fprintf(stderr,
                    "xaic: error: %s: the noise holds %lld values; it must be [batch %d, samples %lld, input "
                    "%lld values]\n",
                    r->noise, (long long)xai_array_count(noise), batch, (long long)samples, (long long)count);
            return 1;
        }
        opt->noise = noise->data;
    }
    if (r->has_seed) {
        opt->seed = r->seed;
        opt->has_seed = 1;
    }
    return 0;
}

int run_command(compilation *c, const run_request *r)
{
    const ir_graph *am = r->explain ? driver_explanation(c, r->explain, NULL) : NULL;
    if (am && am->am.enabled) return run_actmax(c, r, am); /* run_actmax.c */
    if (r->explain && !am && c->explain && explain_sweep_members(c->explain, r->explain, NULL, 0, NULL, NULL))
        return run_sweep(c, r); /* run_sweep.c */
    if (r->steps) {
        fprintf(stderr, "xaic: error: --steps is for activation_maximization explanations\n");
        return 2;
    }
    if (!r->input || !r->output) {
        fprintf(stderr, "xaic: error: run needs --input FILE and -o FILE\n");
        return 2;
    }
    if (!r->forward == !r->explain) {
        fprintf(stderr, "xaic: error: run needs one of --forward and --explain NAME\n");
        return 2;
    }
    if (run_streams(r)) return run_stream(c, r); /* run_stream.c */
    if (r->resume || r->chunk || r->skip_bad || sched_launched()) {
        fprintf(stderr,
                "xaic: error: --resume, --chunk, --skip-bad and mpirun are for runs that write .npy (not with "
                "--stats or --noise)\n");
        return 2;
    }
    if (!run_output_allowed(c, r, r->output)) return 1;
    const ir_graph *g = NULL, *expl = NULL;
    int expl_index = -1;
    if (r->explain) {
        expl = driver_explanation(c, r->explain, &expl_index);
        if (!expl) {
            tool_explain_unknown(c, r->explain);
            return 1;
        }
        g = expl->network;
    } else if (r->network) {
        g = driver_graph(c, r->network, NULL);
        if (!g) {
            fprintf(stderr, "xaic: error: no network named '%s' in the file\n", r->network);
            return 1;
        }
    } else if (c->ir->n_graphs == 1) {
        g = c->ir->graphs[0];
    } else {
        fprintf(stderr, "xaic: error: the file defines %d networks; choose one with --network NAME\n", c->ir->n_graphs);
        return 2;
    }
    if (r->stats && !expl) {
        fprintf(stderr, "xaic: error: --stats reports relevance per layer; it needs --explain NAME\n");
        return 2;
    }
    xai_array x = { 0 };
    int batch = run_read_input(r, g, &x);
    if (batch < 0) {
        xai_array_free(&x);
        return 1;
    }
    int32_t *targets = NULL;
    if (expl && r->class_target >= 0) {
        if (!run_target_ok(expl, g->name, r->class_target)) {
            xai_array_free(&x);
            return 1;
        }
        targets = malloc(sizeof(int32_t) * batch);
        for (int b = 0; b < batch; b++) targets[b] = r->class_target;
    }
    if (r->stats) { /* keep every intermediate result so it can be read after the call */
        plan_free(c->explanation_plans[expl_index]);
        c->explanation_plans[expl_index] = plan_graph_keep_all(expl);
    }

    char *err = NULL;
    xai_jit *jit = jit_create(c, r->opt_level, &err);
    if (!jit) {
        fprintf(stderr, "xaic: error: %s\n", err ? err : "JIT failed");
        free(err);
        free(targets);
        xai_array_free(&x);
        return 1;
    }
    char sym[300];
    snprintf(sym, sizeof sym, "%s_workspace_size", g->name);
    size_t (*workspace_size)(int32_t) = (size_t(*)(int32_t))jit_lookup(jit, sym);
    if (expl)
        snprintf(sym, sizeof sym, "%s_%s", g->name, expl->explain_name);
    else
        snprintf(sym, sizeof sym, "%s_forward", g->name);
    void *entry = jit_lookup(jit, sym);
    int rc = 1;
    const ir_shape *os = expl ? &expl->nodes[expl->output].shape : &g->nodes[g->output].shape;
    int64_t out_count = ir_shape_count(os);
    size_t ws_bytes = workspace_size ? workspace_size(batch) : 0;
    float *y = malloc(sizeof(float) * out_count * batch);
    void *ws = NULL;
    if (!entry || !workspace_size || !y || (ws_bytes && posix_memalign(&ws, 64, ws_bytes))) {
        fprintf(stderr, "xaic: error: cannot set up the run (%s)\n", y ? "missing entry point" : "out of memory");
        goto done;
    }
    xai_options opt = { 0 };
    xai_array baseline = { 0 }, noise = { 0 };
    int status;
    if (expl && read_options(r, expl, &g->nodes[g->input], batch, &opt, &baseline, &noise)) {
        xai_array_free(&baseline);
        xai_array_free(&noise);
        goto done;
    }
    opt.workspace_size = ws_bytes;
    if (expl && expl->has_options) {
        snprintf(sym, sizeof sym, "%s_%s_ex", g->name, expl->explain_name);
        int (*ex)(const float *, const int32_t *, float *, int32_t, void *, const xai_options *) =
            (int (*)(const float *, const int32_t *, float *, int32_t, void *, const xai_options *))jit_lookup(jit,
                                                                                                               sym);
        status = ex ? ex(x.data, targets, y, batch, ws, &opt) : XAI_EARG;
    } else if (expl) {
        status =
            ((int (*)(const float *, const int32_t *, float *, int32_t, void *))entry)(x.data, targets, y, batch, ws);
    } else {
        status = ((int (*)(const float *, float *, int32_t, void *))entry)(x.data, y, batch, ws);
    }
    xai_array_free(&baseline);
    xai_array_free(&noise);
    if (status) { /* the inputs were checked: the status is about the computation */
        fprintf(stderr, "xaic: error: %s%s%s: %s\n", expl ? "explanation " : "network ",
                expl ? expl->explain_name : g->name, status == XAI_ENONFINITE ? " overflowed on these inputs" : "",
                xai_status_string(status));
        goto done;
    }
    if (r->stats) { /* the arena starts after the workspace's header (bound weights, kernels' scratch) */
        int64_t header = 0;
        for (int i = 0; i < c->ir->n_graphs; i++)
            if (c->ir->graphs[i] == g) header = c->workspace_headers[i];
        print_stats(expl, c->explanation_plans[expl_index], (const float *)((const char *)ws + header), y, batch);
    }
    rc = write_output(r, os, y, &x, batch, expl != NULL);
done:
    free(ws);
    free(y);
    free(targets);
    xai_array_free(&x);
    jit_free(jit);
    return rc;
}
