/* Helpers for tests of explanations: compile a .xai text in-process (driver + JIT), call NET_E, and read
 * the relevance every layer received (plans that keep every value). Header-only: include it once. */
#ifndef XAIC_EXPLAIN_UTIL_H
#define XAIC_EXPLAIN_UTIL_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "jit.h"
#include "xairt.h"

typedef int (*eu_explain_fn)(const float *x, const int32_t *target, float *out, int32_t batch, void *ws);
typedef size_t (*eu_wsize_fn)(int32_t batch);

typedef struct eu_program {
    xai_diag diag;
    char *diag_text;
    size_t diag_len;
    FILE *diag_out;
    compilation c;
    xai_jit *jit;
    int ok;
} eu_program;

/* Compiles `text` as if it were the file `path` (imports resolve relative to it). keep_all: plan the
 * explanations without buffer reuse so that eu_layer_sum can read intermediate relevance. */
static __attribute__((unused)) void eu_open(eu_program *p, const char *path, const char *text, int opt_level,
                                            int keep_all)
{
    memset(p, 0, sizeof *p);
    p->diag_out = open_memstream(&p->diag_text, &p->diag_len);
    diag_init(&p->diag, p->diag_out);
    if (driver_analyse_text(&p->c, &p->diag, path, text)) {
        fflush(p->diag_out);
        return;
    }
    if (keep_all)
        for (int i = 0; i < p->c.ir->n_explanations; i++) {
            plan_free(p->c.explanation_plans[i]);
            p->c.explanation_plans[i] = plan_graph_keep_all(p->c.ir->explanations[i]);
        }
    char *err = NULL;
    p->jit = jit_create(&p->c, opt_level, &err);
    if (!p->jit) fprintf(p->diag_out, "jit: %s\n", err ? err : "?");
    free(err);
    fflush(p->diag_out);
    p->ok = p->jit != NULL;
}

static __attribute__((unused)) void eu_close(eu_program *p)
{
    if (p->jit) jit_free(p->jit);
    driver_free(&p->c);
    diag_free(&p->diag);
    fclose(p->diag_out);
    free(p->diag_text);
}

static __attribute__((unused)) const char *eu_messages(eu_program *p)
{
    fflush(p->diag_out);
    return p->diag_text ? p->diag_text : "";
}

typedef struct eu_run {
    float *out;
    void *ws;
    int64_t out_count; /* per sample */
    int batch;
    const ir_graph *g;
    const graph_plan *plan;
    int64_t header; /* bytes before the arena (external weights' header, kernels' scratch) */
    int status;
} eu_run;

/* Runs explanation `name` of network `net` on x; target may be NULL. */
static __attribute__((unused)) eu_run eu_explain(eu_program *p, const char *net, const char *name, const float *x,
                                                 const int32_t *target, int batch)
{
    eu_run r = { 0 };
    int idx = -1;
    r.g = driver_explanation(&p->c, name, &idx);
    cr_assert_not_null(r.g, "no explanation %s", name);
    r.plan = p->c.explanation_plans[idx];
    for (int i = 0; i < p->c.ir->n_graphs; i++)
        if (p->c.ir->graphs[i] == r.g->network && p->c.workspace_headers) r.header = p->c.workspace_headers[i];
    char sym[256];
    snprintf(sym, sizeof sym, "%s_%s", net, name);
    eu_explain_fn fn = (eu_explain_fn)jit_lookup(p->jit, sym);
    snprintf(sym, sizeof sym, "%s_workspace_size", net);
    eu_wsize_fn ws = (eu_wsize_fn)jit_lookup(p->jit, sym);
    cr_assert(fn && ws, "entry points of %s_%s missing", net, name);
    r.out_count = ir_shape_count(&r.g->nodes[r.g->output].shape);
    r.batch = batch;
    r.out = calloc((size_t)(r.out_count * batch), sizeof(float));
    size_t bytes = ws(batch);
    r.ws = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    r.status = fn(x, target, r.out, batch, r.ws);
    return r;
}

static __attribute__((unused)) void eu_run_free(eu_run *r)
{
    free(r->out);
    free(r->ws);
}

/* Sum of the relevance at the output of forward node `layer` (by name) for sample b; needs keep_all.
 * Returns NAN if no relevance reached that layer. */
static __attribute__((unused)) double eu_layer_sum(const eu_run *r, const char *layer, int b)
{
    const ir_graph *g = r->g;
    for (int i = 0; i < g->n_forward; i++) {
        if (!g->nodes[i].name || strcmp(g->nodes[i].name, layer)) continue;
        int rel = g->relevance_of[i];
        if (rel < 0) return NAN;
        const plan_value *v = &r->plan->values[rel];
        int64_t count = ir_shape_count(&g->nodes[rel].shape);
        const float *p = v->kind == LOC_OUTPUT
            ? r->out + b * count
            : (const float *)((const char *)r->ws + r->header) + v->offset * r->batch + b * count;
        double s = 0;
        for (int64_t k = 0; k < count; k++) s += p[k];
        return s;
    }
    cr_assert_fail("no layer %s", layer);
    return NAN;
}

/* max |got - ref| / max |ref| over n values */
static __attribute__((unused)) double eu_rel_error(const float *got, const float *ref, int64_t n)
{
    double err = 0, mag = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (d > err || isnan(d)) err = isnan(d) ? INFINITY : d;
        if (fabs(ref[i]) > mag) mag = fabs(ref[i]);
    }
    return mag > 0 ? err / mag : err;
}

static __attribute__((unused)) xai_array eu_load_npy(const char *path)
{
    xai_array a = { 0 };
    char err[256];
    cr_assert_eq(xai_npy_read(path, &a, 1, err, sizeof err), 0, "%s", err);
    return a;
}
#endif
