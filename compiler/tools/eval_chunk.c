/* xaic eval's work per chunk (the job's process, on any rank) and its finish (rank 0): a chunk's predictions and
 * every explanation's metric into per_input.npy rows, through libxairt's xai_selectivity / xai_continuity; at
 * the end the first input's heatmap strips and the report. Row i of per_input.npy: target, predicted, then per
 * result its score (AOPC or continuity), f at each point and, for continuity, the four quadrant sums at each
 * shift (docs/evaluation.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"
#include "progress.h"

int64_t eval_result_values(const eval_args *a, const eval_result *r)
{
    return 1 + r->points + (a->is_selectivity ? 0 : 4 * r->points);
}

int eval_chunk_buffers(eval_setup *s, int32_t chunk)
{
    int64_t points = s->results[0].points;
    s->curves = malloc(sizeof(float) * (size_t)(chunk * points));
    s->quads = malloc(sizeof(float) * (size_t)(chunk * points * 4));
    s->score = malloc(sizeof(float) * (size_t)chunk);
    s->logits = malloc(sizeof(float) * (size_t)s->m.classes * (size_t)s->m.max_batch);
    s->targets = malloc(sizeof(int32_t) * (size_t)chunk);
    s->predicted = malloc(sizeof(int32_t) * (size_t)chunk);
    if (s->curves && s->quads && s->score && s->logits && s->targets && s->predicted) return 0;
    fprintf(stderr, "xaic: error: out of memory for a chunk of %d inputs (use a smaller --chunk)\n", (int)chunk);
    return 1;
}

/* arg-max predictions of the chunk; the targets: the labels, or those predictions */
static int predict(eval_setup *s, int64_t first, int32_t n, const float *x)
{
    for (int32_t b0 = 0; b0 < n; b0 += s->m.max_batch) {
        int32_t b = n - b0 < s->m.max_batch ? n - b0 : s->m.max_batch;
        int st = s->m.forward(x + (int64_t)b0 * s->in_count, s->logits, b, s->m.workspace);
        if (st) {
            fprintf(stderr, "xaic: error: inputs %lld .. %lld: %s\n", (long long)(first + b0),
                    (long long)(first + b0 + b - 1), xai_status_string(st));
            return 1;
        }
        for (int32_t i = 0; i < b; i++) {
            const float *l = s->logits + (int64_t)i * s->m.classes;
            int32_t best = 0;
            for (int32_t k = 1; k < s->m.classes; k++)
                if (l[k] > l[best]) best = k;
            s->predicted[b0 + i] = best;
            s->targets[b0 + i] = s->labels ? s->labels[first + b0 + i] : best;
        }
    }
    return 0;
}

static xai_eval_model model_of(const eval_setup *s, const eval_result *r)
{
    xai_eval_model m = s->m;
    m.explain = r->method->fn;
    m.relevance_channels = r->method->relevance_channels;
    return m;
}

int eval_process(void *ctx, int64_t first, int32_t n, const float *x, const unsigned char *bad, float *const *rows,
                 double *extra)
{
    eval_setup *s = ctx;
    const eval_args *a = s->args;
    float *row = rows[0];
    int64_t w = s->row_values;
    (void)bad; /* their rows become NaN (job.c) */
    if (predict(s, first, n, x)) return 1;
    for (int32_t i = 0; i < n; i++) row[i * w] = (float)s->targets[i], row[i * w + 1] = (float)s->predicted[i];
    char err[512];
    for (int k = 0; k < s->n_results; k++) {
        const eval_result *r = &s->results[k];
        xai_eval_model m = model_of(s, r);
        double start = progress_now();
        int st;
        if (a->is_selectivity) {
            xai_selectivity_options o = a->sel;
            o.order = r->order;
            st = xai_selectivity(&m, x, s->targets, n, &o, s->curves, s->score, NULL, NULL, err, sizeof err);
        } else {
            st = xai_continuity(&m, x, s->targets, n, &a->cont, s->curves, s->quads, s->score, NULL, err, sizeof err);
        }
        if (st) {
            fprintf(stderr, "xaic: error: %s (inputs %lld .. %lld): %s\n", r->method->name, (long long)first,
                    (long long)(first + n - 1), err);
            return 1;
        }
        extra[k] = progress_now() - start;
        for (int32_t i = 0; i < n; i++) {
            float *out = row + i * w + r->column;
            out[0] = s->score[i];
            memcpy(out + 1, s->curves + i * r->points, sizeof(float) * (size_t)r->points);
            if (!a->is_selectivity)
                memcpy(out + 1 + r->points, s->quads + i * r->points * 4, sizeof(float) * (size_t)(r->points * 4));
        }
    }
    return 0;
}

/* The first input evaluated, once more on its own, keeping its heatmaps (and removals) for the strips. */
static int strips(eval_setup *s, int32_t target)
{
    const eval_args *a = s->args;
    unsigned char bad;
    char reason[1][DATASET_REASON], err[512];
    s->image0 = malloc(sizeof(float) * (size_t)s->in_count);
    if (!s->image0 || dataset_read(&s->ds, s->image0_index, 1, s->image0, &bad, reason)) return 1;
    for (int k = 0; k < s->n_results; k++) {
        eval_result *r = &s->results[k];
        int64_t frames = a->is_selectivity ? a->sel.steps : r->points;
        int64_t map = (int64_t)r->method->relevance_channels * s->m.height * s->m.width;
        r->strip = malloc(sizeof(float) * (size_t)(frames * map));
        r->strip_removed = malloc(sizeof(int32_t) * (size_t)frames);
        float *curve = malloc(sizeof(float) * (size_t)r->points * 5), score;
        if (!r->strip || !r->strip_removed || !curve) {
            free(curve);
            fprintf(stderr, "xaic: error: out of memory\n");
            return 1;
        }
        xai_eval_model m = model_of(s, r);
        int st;
        if (a->is_selectivity) {
            xai_selectivity_options o = a->sel;
            o.order = r->order;
            st = xai_selectivity(&m, s->image0, &target, 1, &o, curve, &score, r->strip_removed, r->strip, err,
                                 sizeof err);
        } else {
            st = xai_continuity(&m, s->image0, &target, 1, &a->cont, curve, curve + r->points, &score, r->strip, err,
                                sizeof err);
        }
        free(curve);
        if (st) {
            fprintf(stderr, "xaic: error: %s: %s\n", r->method->name, err);
            return 1;
        }
    }
    return 0;
}

int eval_finish(void *ctx, job *j)
{
    eval_setup *s = ctx;
    for (int k = 0; k < s->n_results; k++) s->results[k].seconds = j->extra_total[k];
    s->seconds = progress_now() - s->started;
    if (eval_collect(s)) return 1;
    if (!s->evaluated) {
        fprintf(stderr, "xaic: error: every input was skipped (listed in %s); nothing to report\n", s->args->skip_bad);
        return 1;
    }
    return strips(s, s->image0_target) || eval_write_report(s->args, s);
}
