/* IG and SmoothGrad in chunks of samples (plan_choose_chunk): when one input's samples need more workspace
 * than a budget, the entry runs them a chunk at a time and accumulates. The result must not change (the
 * same path points, the same noise numbers, the same quadrature) and the workspace must shrink. */
#include <criterion/criterion.h>

#include "explain_util.h"

/* one explanation per compilation, so that NET_workspace_size is that explanation's */
static const char *source(const char *name)
{
    static const char *const blocks[][2] = {
        { "ig", "integrated_gradients(steps=20, baseline=zero)" },
        { "ig_riemann", "integrated_gradients(steps=12, quadrature=riemann_trapezoid)" },
        { "sg", "smoothgrad(samples=20, noise=0.2, seed=7)" },
        { "sg_sq", "smoothgrad(samples=10, sigma=0.1, variant=smoothgrad_sq)" },
        { "vg", "smoothgrad(samples=10, sigma=0.1, variant=vargrad)" },
    };
    static char text[512];
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++)
        if (!strcmp(blocks[i][0], name)) {
            snprintf(text, sizeof text, "import \"mnist_cnn.xai\";\nexplain %s for mnist_cnn { method %s; }\n", name,
                     blocks[i][1]);
            return text;
        }
    cr_assert_fail("no explanation %s", name);
    return NULL;
}

typedef struct result {
    float *out;
    size_t ws_bytes;
} result;

/* Runs explanation `name` on the bundled digits; chunk_budget > 0 re-plans it with that budget first. */
static result run(const char *name, int64_t chunk_budget, int *chunk)
{
    eu_program p;
    memset(&p, 0, sizeof p);
    p.diag_out = open_memstream(&p.diag_text, &p.diag_len);
    diag_init(&p.diag, p.diag_out);
    cr_assert_eq(driver_analyse_text(&p.c, &p.diag, "models/chunks.xai", source(name)), 0, "%s", eu_messages(&p));
    int idx = -1;
    ir_graph *g = (ir_graph *)driver_explanation(&p.c, name, &idx);
    cr_assert_not_null(g);
    if (chunk_budget > 0) {
        plan_choose_chunk(g, chunk_budget);
        plan_free(p.c.explanation_plans[idx]);
        p.c.explanation_plans[idx] = plan_graph(g);
    }
    *chunk = g->chunk;
    char *err = NULL;
    p.jit = jit_create(&p.c, 1, &err); /* -O1: these tests compare, they do not time */
    cr_assert_not_null(p.jit, "%s", err ? err : "");
    p.ok = 1;
    xai_array x = { 0 };
    char msg[256];
    cr_assert_eq(xai_npy_read("models/samples/digits.npy", &x, 0, msg, sizeof msg), XAI_OK, "%s", msg);
    int batch = (int)x.shape[0];
    eu_run r = eu_explain(&p, "mnist_cnn", name, x.data, NULL, batch);
    cr_assert_eq(r.status, XAI_OK, "%s: %s", name, xai_status_string(r.status));
    char sym[128];
    snprintf(sym, sizeof sym, "mnist_cnn_workspace_size");
    result res = { r.out, ((eu_wsize_fn)jit_lookup(p.jit, sym))(1) };
    r.out = NULL;
    eu_run_free(&r);
    xai_array_free(&x);
    eu_close(&p);
    return res;
}

static void same_in_chunks(const char *name, int64_t budget, int expect_chunked)
{
    int chunk_all, chunk_part;
    result whole = run(name, 0, &chunk_all);
    result parts = run(name, budget, &chunk_part);
    if (expect_chunked) {
        cr_assert_lt(chunk_part, chunk_all, "%s: not chunked (chunk %d of %d)", name, chunk_part, chunk_all);
        cr_expect_lt(parts.ws_bytes, whole.ws_bytes, "%s: workspace %zu, unchunked %zu", name, parts.ws_bytes,
                     whole.ws_bytes);
    } else {
        cr_assert_eq(chunk_part, chunk_all, "%s: chunked", name);
    }
    double err = 0, mag = 0;
    for (int i = 0; i < 10 * 784; i++) {
        err = fmax(err, fabs((double)parts.out[i] - whole.out[i]));
        mag = fmax(mag, fabs((double)whole.out[i]));
    }
    cr_expect(mag > 0, "%s: all zero", name);
    cr_expect(err <= 1e-5 * mag, "%s (chunk %d of %d): max difference %g of %g", name, chunk_part, chunk_all, err, mag);
    free(whole.out);
    free(parts.out);
}

Test(sample_chunks, integrated_gradients_in_chunks_equal_all_at_once)
{
    same_in_chunks("ig", 1 << 20, 1);
    same_in_chunks("ig_riemann", 1 << 20, 1);
}

Test(sample_chunks, smoothgrad_in_chunks_equals_all_at_once)
{
    same_in_chunks("sg", 1 << 20, 1);
    same_in_chunks("sg_sq", 1 << 20, 1);
}

Test(sample_chunks, vargrad_is_never_chunked) { same_in_chunks("vg", 1 << 20, 0); }

/* A caller's noise covers every sample of every input, not one chunk: a NaN in the last sample of the last
 * input is refused when the entry runs its samples in chunks too (it checked one chunk's worth before). */
Test(sample_chunks, noise_is_checked_over_all_samples_when_chunked)
{
    eu_program p;
    memset(&p, 0, sizeof p);
    p.diag_out = open_memstream(&p.diag_text, &p.diag_len);
    diag_init(&p.diag, p.diag_out);
    cr_assert_eq(driver_analyse_text(&p.c, &p.diag, "models/chunks.xai", source("sg")), 0, "%s", eu_messages(&p));
    int idx = -1;
    ir_graph *g = (ir_graph *)driver_explanation(&p.c, "sg", &idx);
    cr_assert_not_null(g);
    plan_choose_chunk(g, 1 << 20);
    plan_free(p.c.explanation_plans[idx]);
    p.c.explanation_plans[idx] = plan_graph(g);
    cr_assert_lt(g->chunk, g->samples, "not chunked: chunk %d of %d samples", g->chunk, g->samples);
    char *err = NULL;
    p.jit = jit_create(&p.c, 1, &err);
    cr_assert_not_null(p.jit, "%s", err ? err : "");
    p.ok = 1;
    typedef int (*ex_fn)(const float *, const int32_t *, float *, int32_t, void *, const xai_options *);
    ex_fn fn = (ex_fn)jit_lookup(p.jit, "mnist_cnn_sg_ex");
    cr_assert_not_null(fn);
    const int batch = 2, count = 28 * 28;
    size_t n_noise = (size_t)batch * g->samples * count;
    float *x = calloc((size_t)batch * count, sizeof *x), *noise = calloc(n_noise, sizeof *noise);
    float *out = calloc((size_t)batch * count, sizeof *out);
    size_t ws_bytes = ((eu_wsize_fn)jit_lookup(p.jit, "mnist_cnn_workspace_size"))(batch);
    void *ws = aligned_alloc(64, (ws_bytes + 63) / 64 * 64);
    xai_options opt = { 0 };
    opt.noise = noise;
    int status = fn(x, NULL, out, batch, ws, &opt);
    cr_expect_eq(status, XAI_OK, "finite noise: %s", xai_status_string(status));
    noise[n_noise - 1] = NAN;
    status = fn(x, NULL, out, batch, ws, &opt);
    cr_expect_eq(status, XAI_ENAN, "NaN in the last sample's noise: %s", xai_status_string(status));
    free(x), free(noise), free(out), free(ws);
    eu_close(&p);
}
