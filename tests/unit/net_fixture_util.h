/* Tests of small hand-written networks against a fixture directory (NET.xai, input.npy, targets.npy and
 * reference .npy files made by a script of tests/reference/): compile a program there, run the forward pass
 * and explanations, compare each with its reference; analyse a program for its diagnostics. Header-only,
 * over explain_util.h: include it once. */
#ifndef XAIC_NET_FIXTURE_UTIL_H
#define XAIC_NET_FIXTURE_UTIL_H

#include "explain_util.h"

#define NF_MAX_BATCH 16

typedef int (*nf_forward_fn)(const float *x, float *y, int32_t batch, void *ws);
typedef size_t (*nf_wsize_fn)(int32_t batch);

typedef struct nf_ctx {
    const char *dir; /* ends in '/' */
    eu_program p;
    xai_array x;
    int32_t target[NF_MAX_BATCH];
    int batch; /* the targets' count */
} nf_ctx;

static char *nf_path(const char *dir, const char *file)
{
    char *p = NULL;
    cr_assert(asprintf(&p, "%s%s", dir, file) > 0);
    return p;
}

/* Compiles `program` as if it were DIR/fixture_test.xai (its imports resolve there) and loads the inputs and
 * targets. */
static __attribute__((unused)) void nf_open(nf_ctx *c, const char *dir, const char *program, int opt_level)
{
    memset(c, 0, sizeof *c);
    c->dir = dir;
    char *path = nf_path(dir, "fixture_test.xai"), *x = nf_path(dir, "input.npy"), *t = nf_path(dir, "targets.npy");
    eu_open(&c->p, path, program, opt_level, 0);
    cr_assert(c->p.ok, "does not compile:\n%s", eu_messages(&c->p));
    c->x = eu_load_npy(x);
    xai_array targets = eu_load_npy(t);
    c->batch = (int)xai_array_count(&targets);
    cr_assert(c->batch >= 1 && c->batch <= NF_MAX_BATCH);
    for (int i = 0; i < c->batch; i++) c->target[i] = (int32_t)targets.data[i];
    xai_array_free(&targets);
    free(path);
    free(x);
    free(t);
}

static __attribute__((unused)) void nf_close(nf_ctx *c)
{
    xai_array_free(&c->x);
    eu_close(&c->p);
}

/* max |got - DIR/FIXTURE.npy| / max |reference| <= tol, an expectation that reports the measured value */
static void nf_check(const nf_ctx *c, const float *got, int64_t n, const char *fixture, double tol, int opt_level)
{
    char file[128];
    snprintf(file, sizeof file, "%s.npy", fixture);
    char *path = nf_path(c->dir, file);
    xai_array ref = eu_load_npy(path);
    free(path);
    cr_assert_eq(xai_array_count(&ref), n, "%s: %lld values, the reference has %lld", fixture, (long long)n,
                 (long long)xai_array_count(&ref));
    double err = eu_rel_error(got, ref.data, n);
    cr_log_info("%s%s -O%d: max |ours - ref| / max |ref| = %.3g", c->dir, fixture, opt_level, err);
    cr_expect(err <= tol, "%s -O%d: max |ours - ref| / max |ref| = %.3g (tolerance %.0e)", fixture, opt_level, err,
              tol);
    xai_array_free(&ref);
}

/* NET_forward of the inputs, compared with DIR/logits.npy within tol_logits; then explanation names[k] with
 * DIR/fixtures[k].npy within tol each. */
static __attribute__((unused)) void nf_check_all(const char *dir, const char *program, const char *net, int n_out,
                                                 const char *const *names, const char *const *fixtures, int n,
                                                 double tol_logits, double tol, int opt_level)
{
    nf_ctx c;
    nf_open(&c, dir, program, opt_level);
    char sym[128];
    snprintf(sym, sizeof sym, "%s_forward", net);
    nf_forward_fn forward = (nf_forward_fn)jit_lookup(c.p.jit, sym);
    snprintf(sym, sizeof sym, "%s_workspace_size", net);
    nf_wsize_fn wsize = (nf_wsize_fn)jit_lookup(c.p.jit, sym);
    cr_assert(forward && wsize);
    float *logits = calloc((size_t)(c.batch * n_out), sizeof(float));
    void *ws = aligned_alloc(64, (wsize(c.batch) + 63) / 64 * 64 + 64);
    cr_assert_eq(forward(c.x.data, logits, c.batch, ws), 0);
    free(ws);
    nf_check(&c, logits, (int64_t)c.batch * n_out, "logits", tol_logits, opt_level);
    free(logits);
    for (int k = 0; k < n; k++) {
        eu_run r = eu_explain(&c.p, net, names[k], c.x.data, c.target, c.batch);
        cr_assert_eq(r.status, 0, "%s: status %d", names[k], r.status);
        nf_check(&c, r.out, r.out_count * c.batch, fixtures[k], tol, opt_level);
        eu_run_free(&r);
    }
    nf_close(&c);
}

/* The diagnostics of analysing `text` as the file `path` (sema, explain blocks, rules); *errors gets their count. */
static char *nf_analyse(const char *path, const char *text, int *errors)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    xai_diag d;
    diag_init(&d, f);
    compilation c;
    driver_analyse_text(&c, &d, path, text);
    *errors = d.errors;
    driver_free(&c);
    diag_free(&d);
    fclose(f);
    return out;
}

/* at least one error, and a message holding `words` */
static __attribute__((unused)) void nf_expect_error(const char *path, const char *text, const char *words)
{
    int errors;
    char *out = nf_analyse(path, text, &errors);
    cr_expect_gt(errors, 0, "no error for:\n%s", text);
    cr_expect(strstr(out, words) != NULL, "message lacks '%s':\n%s", words, out);
    free(out);
}

#endif
