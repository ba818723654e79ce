/* Softmax inside a network: tests/fixtures/softmax/attn_net.xai softmaxes over the channels (gating a product as
 * attention weights do), along the height, along the last axis and over a flat layer. Against references made
 * by tests/reference/make_softmax_fixtures.py in float64, independent of xaic: the forward pass and the input
 * gradient (PyTorch autograd), and LRP with AttnLRP's softmax rule (Proposition 3.1, R_in = x (R - s sum R)),
 * epsilon on the linear layers and the gate or the uniform rule on the product (a transcription of the
 * equations; manifest.json). float32 rounding alone moves those references <= 3.4e-6 of their max. */
#include "explain_util.h"
#include "testutil.h"

#define DIR   "tests/fixtures/softmax/"
#define BATCH 4

typedef int (*forward_fn)(const float *x, float *y, int32_t batch, void *ws);
typedef size_t (*wsize_fn)(int32_t batch);

static const char *program = "import \"attn_net.xai\";\n"
                             "explain grad for attn_net { method gradient; }\n"
                             "explain lrp_gate for attn_net { seed one; }\n"
                             "explain lrp_uniform for attn_net { seed one; mul: uniform; }\n";

typedef struct ctx {
    eu_program p;
    xai_array x;
    int32_t target[BATCH];
} ctx;

static void ctx_open(ctx *c, int opt_level)
{
    memset(c, 0, sizeof *c);
    eu_open(&c->p, DIR "softmax_test.xai", program, opt_level, 0);
    cr_assert(c->p.ok, "does not compile:\n%s", eu_messages(&c->p));
    c->x = eu_load_npy(DIR "input.npy");
    cr_assert_eq(xai_array_count(&c->x), BATCH * 3 * 6 * 6);
    xai_array t = eu_load_npy(DIR "targets.npy");
    for (int i = 0; i < BATCH; i++) c->target[i] = (int32_t)t.data[i];
    xai_array_free(&t);
}

static void ctx_close(ctx *c)
{
    xai_array_free(&c->x);
    eu_close(&c->p);
}

static void check_against(const float *got, int64_t n, const char *fixture, double tol, int opt_level)
{
    char path[256];
    snprintf(path, sizeof path, DIR "%s.npy", fixture);
    xai_array ref = eu_load_npy(path);
    cr_assert_eq(xai_array_count(&ref), n, "%s: %lld values, the reference has %lld", fixture, (long long)n,
                 (long long)xai_array_count(&ref));
    double err = eu_rel_error(got, ref.data, n);
    cr_expect(err <= tol, "%s -O%d: max |ours - ref| / max |ref| = %.3g (tolerance %.0e)", fixture, opt_level, err,
              tol);
    xai_array_free(&ref);
}

static void check_all(int opt_level)
{
    ctx c;
    ctx_open(&c, opt_level);
    forward_fn forward = (forward_fn)jit_lookup(c.p.jit, "attn_net_forward");
    wsize_fn wsize = (wsize_fn)jit_lookup(c.p.jit, "attn_net_workspace_size");
    cr_assert(forward && wsize);
    float logits[BATCH * 5];
    void *ws = aligned_alloc(64, (wsize(BATCH) + 63) / 64 * 64 + 64);
    cr_assert_eq(forward(c.x.data, logits, BATCH, ws), 0);
    free(ws);
    check_against(logits, BATCH * 5, "logits", 1e-5, opt_level);
    static const char *const names[] = { "grad", "lrp_gate", "lrp_uniform" };
    static const char *const fixtures[] = { "gradient", "lrp_gate", "lrp_uniform" };
    for (int k = 0; k < 3; k++) {
        eu_run r = eu_explain(&c.p, "attn_net", names[k], c.x.data, c.target, BATCH);
        cr_assert_eq(r.status, 0, "%s: status %d", names[k], r.status);
        check_against(r.out, r.out_count * BATCH, fixtures[k], 1e-4, opt_level);
        eu_run_free(&r);
    }
    ctx_close(&c);
}

Test(softmax_layers, against_references) { check_all(3); }
Test(softmax_layers, against_references_at_O0) { check_all(0); }

/* One softmax line of the forward pass sums to 1 whatever the axis: a NaN-free, shift-safe kernel on large
 * logits (exp(1000) overflows without the shift by the line's maximum). */
Test(softmax_layers, large_inputs_stay_finite)
{
    eu_program p;
    eu_open(&p, DIR "softmax_big.xai",
            "network big { input x[2, 1, 3]; s = softmax(x, axis=0); t = softmax(x, axis=2); u = add(s, t);"
            " f = flatten(u); output f; }\n",
            3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    forward_fn forward = (forward_fn)jit_lookup(p.jit, "big_forward");
    wsize_fn wsize = (wsize_fn)jit_lookup(p.jit, "big_workspace_size");
    float x[6] = { 1000, 999, -1000, 998, 1000, 0 }, y[6];
    void *ws = aligned_alloc(64, (wsize(1) + 63) / 64 * 64 + 64);
    cr_assert_eq(forward(x, y, 1, ws), 0);
    free(ws);
    /* columns (axis 0) of [[1000, 999, -1000], [998, 1000, 0]] and rows (axis 2), computed here in double */
    double s[6], t[6];
    for (int j = 0; j < 3; j++) {
        double a = x[j], b = x[3 + j], m = fmax(a, b);
        s[j] = exp(a - m) / (exp(a - m) + exp(b - m));
        s[3 + j] = exp(b - m) / (exp(a - m) + exp(b - m));
    }
    for (int i = 0; i < 2; i++) {
        double m = fmax(fmax(x[3 * i], x[3 * i + 1]), x[3 * i + 2]), sum = 0;
        for (int j = 0; j < 3; j++) sum += exp(x[3 * i + j] - m);
        for (int j = 0; j < 3; j++) t[3 * i + j] = exp(x[3 * i + j] - m) / sum;
    }
    for (int k = 0; k < 6; k++)
        cr_expect_float_eq(y[k], s[k] + t[k], 1e-6, "value %d: %g, want %g", k, y[k], s[k] + t[k]);
    eu_close(&p);
}

/* ---- what is refused, and how it is said ---- */

static char *analyse(const char *text, int *errors)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    xai_diag d;
    diag_init(&d, f);
    compilation c;
    driver_analyse_text(&c, &d, DIR "softmax_diag.xai", text);
    *errors = d.errors;
    driver_free(&c);
    diag_free(&d);
    fclose(f);
    return out;
}

static void expect_error(const char *text, const char *words)
{
    int errors;
    char *out = analyse(text, &errors);
    cr_expect_gt(errors, 0, "no error for:\n%s", text);
    cr_expect(strstr(out, words) != NULL, "message lacks '%s':\n%s", words, out);
    free(out);
}

Test(softmax_layers, axis_out_of_range)
{
    expect_error("network n { input x[2, 1, 3]; s = softmax(x, axis=3); f = flatten(s); output f; }",
                 "the input has 3 axes per sample, so the axis is an integer from -3 to 2");
    expect_error("network n { input x[2, 1, 3]; s = softmax(x, axis=-4); f = flatten(s); output f; }",
                 "softmax axis -4");
    expect_error("network n { input x[2, 1, 3]; s = softmax(x, axis=0.5); f = flatten(s); output f; }",
                 "softmax axis 0.5");
}

Test(softmax_layers, per_axis_only_on_softmax)
{
    expect_error("import \"attn_net.xai\";\n"
                 "rule odd on relu { r - sum(r, per = axis); }\n"
                 "explain e for attn_net { seed one; relu: odd; }\n",
                 "sum(..., per = axis) runs along a softmax's or layernorm's axis, and layer 'act' is neither");
    expect_error("import \"attn_net.xai\";\n"
                 "rule odd on softmax { r - sum(r, per = row); }\n"
                 "explain e for attn_net { seed one; softmax: odd; }\n",
                 "per = channel, per = axis or per = sample");
}

Test(softmax_layers, from_the_output_softmax_is_refused)
{
    expect_error("network n { input x[4]; d = relu(x); s = softmax(d); output s; }\n"
                 "explain e for n { from s; }\n",
                 "explanations start at the logits, not at the softmax that follows them");
}
