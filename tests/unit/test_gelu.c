/* GELU, both of PyTorch's forms: tests/fixtures/gelu/gelu_net.xai (F.gelu after a conv, F.gelu(approximate='tanh')
 * after a dense layer) against tests/reference/make_gelu_fixtures.py's float64 PyTorch run (logits, autograd input
 * gradient); the inline erf kernel (EW_ERF, reached through a rule body) against libm's double erf on a dense grid
 * of [-10, 10] and at +-inf, NaN; one GELU layer's values and derivative against double transcriptions of
 * PyTorch's formulas (libm erf, tanh); and the diagnostics of gelu's `approximate`. */
#include <float.h>

#include "net_fixture_util.h"
#include "testutil.h"

#define DIR "tests/fixtures/gelu/"

static void check_all(int opt_level)
{
    static const char *const names[] = { "grad" }, *const fixtures[] = { "gradient" };
    nf_check_all(DIR, "import \"gelu_net.xai\";\nexplain grad for gelu_net { method gradient; }\n", "gelu_net", 5,
                 names, fixtures, 1, 1e-5, 1e-4, opt_level);
}

Test(gelu, against_pytorch) { check_all(3); }
Test(gelu, against_pytorch_at_O0) { check_all(0); }

/* ---- the erf kernel: a rule `erf(x)` on a GELU layer, seeded with ones, returns erf of the input ---- */

#define ERF_COLS 1000
#define ERF_ROWS 2001 /* 2,001,000 grid points, step 1e-5 */

/* The entry refuses non-finite inputs, so infinities and NaN are made inside: x * 1e30 overflows to +-inf for
 * |x| = 1e10, log(x) is NaN for x < 0 and -inf at 0. */
static const char erf_program[] = "network e { input x[1000]; g = gelu(x); output g; }\n"
                                  "rule erf_of_x on gelu { erf(x); }\n"
                                  "rule erf_of_big on gelu { erf(x * 1e30); }\n"
                                  "rule erf_of_log on gelu { erf(log(x)); }\n"
                                  "explain erf_x for e { seed sum; gelu: erf_of_x; }\n"
                                  "explain erf_big for e { seed sum; gelu: erf_of_big; }\n"
                                  "explain erf_log for e { seed sum; gelu: erf_of_log; }\n";

static void erf_grid(int opt_level)
{
    eu_program p;
    eu_open(&p, DIR "erf_test.xai", erf_program, opt_level, 0);
    cr_assert(p.ok, "does not compile:\n%s", eu_messages(&p));
    int64_t n = (int64_t)ERF_COLS * ERF_ROWS;
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(-10.0 + 20.0 * (double)i / (double)(n - 1));
    static const float special[] = { 0.0f,  -0.0f, 1e-30f, -1e-30f, 1e-40f,   1e-8f,   4.0f,    -4.0f,
                                     3.99f, 1e30f, -1e30f, FLT_MAX, -FLT_MAX, 3.3159f, -3.3159f };
    for (int k = 0; k < (int)(sizeof special / sizeof *special); k++) x[k * 997] = special[k];
    eu_run r = eu_explain(&p, "e", "erf_x", x, NULL, ERF_ROWS);
    cr_assert_eq(r.status, 0, "status %d", r.status);
    double max_abs = 0, max_rel = 0, at_abs = 0, at_rel = 0;
    for (int64_t i = 0; i < n; i++) {
        double ref = erf((double)x[i]), got = r.out[i], d = fabs(got - ref);
        cr_assert(!isnan(got), "erf(%.9g) is NaN", (double)x[i]);
        cr_assert(fabs(got) <= 1, "erf(%.9g) = %.9g is outside [-1, 1]", (double)x[i], got);
        if (d > max_abs) max_abs = d, at_abs = x[i];
        if (fabs(ref) >= FLT_MIN && d / fabs(ref) > max_rel) max_rel = d / fabs(ref), at_rel = x[i];
        if (fabs(ref) < FLT_MIN) /* a subnormal result: float's own resolution there is 1.4e-45 */
            cr_assert(d <= 1e-43, "erf(%.9g) = %.9g, want %.9g", (double)x[i], got, ref);
        if (ref == 0) cr_assert_eq(got, 0, "erf(%g) = %g", (double)x[i], got);
    }
    cr_log_info("erf -O%d: max abs error %.3g (x = %.7g), max rel error %.3g (x = %.7g)", opt_level, max_abs, at_abs,
                max_rel, at_rel);
    cr_expect(max_abs <= 5e-7, "erf -O%d: max abs error %.3g at x = %.9g", opt_level, max_abs, at_abs);
    cr_expect(max_rel <= 5e-7, "erf -O%d: max rel error %.3g at x = %.9g", opt_level, max_rel, at_rel);
    cr_expect(signbit(r.out[997]), "erf(-0) is -0");
    cr_expect_eq(r.out[9 * 997], 1.0f);
    cr_expect_eq(r.out[10 * 997], -1.0f);
    eu_run_free(&r);
    /* one sample: +-inf and NaN */
    float s[ERF_COLS];
    for (int k = 0; k < ERF_COLS; k++) s[k] = 1;
    s[0] = 1e10f, s[1] = -1e10f, s[2] = 0, s[3] = -1;
    r = eu_explain(&p, "e", "erf_big", s, NULL, 1);
    cr_assert_eq(r.status, 0, "status %d", r.status);
    cr_expect_eq(r.out[0], 1.0f, "erf(inf) = %g", (double)r.out[0]);
    cr_expect_eq(r.out[1], -1.0f, "erf(-inf) = %g", (double)r.out[1]);
    cr_expect_eq(r.out[2], 0.0f, "erf(0) = %g", (double)r.out[2]);
    eu_run_free(&r);
    r = eu_explain(&p, "e", "erf_log", s, NULL, 1); /* the NaN is reported (XAI_ENONFINITE), the values kept */
    cr_assert_eq(r.status, XAI_ENONFINITE, "status %d", r.status);
    cr_expect_eq(r.out[2], -1.0f, "erf(log 0) = erf(-inf) = %g", (double)r.out[2]);
    cr_expect(isnan(r.out[3]), "erf(log -1) = erf(NaN) = %g", (double)r.out[3]);
    cr_expect_eq(r.out[4], 0.0f, "erf(log 1) = %g", (double)r.out[4]);
    eu_run_free(&r);
    free(x);
    eu_close(&p);
}

Test(gelu, erf_kernel_against_libm, .timeout = 120) { erf_grid(3); }
Test(gelu, erf_kernel_against_libm_at_O0, .timeout = 120) { erf_grid(0); }

/* ---- one GELU layer: values and derivative against PyTorch's formulas in double ---- */

static double gelu_ref(double x, int tanh_form)
{
    if (!tanh_form) return 0.5 * x * (1 + erf(x / sqrt(2)));
    return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

static double gelu_grad_ref(double x, int tanh_form)
{
    if (!tanh_form) return 0.5 * (1 + erf(x / sqrt(2))) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI);
    double t = tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x));
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * sqrt(2 / M_PI) * (1 + 3 * 0.044715 * x * x);
}

#define LAYER_N 4001 /* [-20, 20] in steps of 0.01 */

static void one_layer(int tanh_form, int opt_level)
{
    eu_program p;
    char text[512];
    snprintf(text, sizeof text,
             "network g { input x[%d]; y = gelu(x%s); output y; }\n"
             "explain grad for g { method gradient; seed sum; }\n",
             LAYER_N, tanh_form ? ", approximate=tanh" : "");
    eu_open(&p, DIR "gelu_layer.xai", text, opt_level, 0);
    cr_assert(p.ok, "does not compile:\n%s", eu_messages(&p));
    float x[LAYER_N], y[LAYER_N];
    for (int i = 0; i < LAYER_N; i++) x[i] = (float)(-20 + 0.01 * i);
    nf_forward_fn forward = (nf_forward_fn)jit_lookup(p.jit, "g_forward");
    nf_wsize_fn wsize = (nf_wsize_fn)jit_lookup(p.jit, "g_workspace_size");
    cr_assert(forward && wsize);
    void *ws = aligned_alloc(64, (wsize(1) + 63) / 64 * 64 + 64);
    cr_assert_eq(forward(x, y, 1, ws), 0);
    free(ws);
    eu_run r = eu_explain(&p, "g", "grad", x, NULL, 1);
    cr_assert_eq(r.status, 0);
    double fwd = 0, grad = 0;
    for (int i = 0; i < LAYER_N; i++) {
        double v = gelu_ref(x[i], tanh_form), d = gelu_grad_ref(x[i], tanh_form);
        /* for x << 0, 1 + erf (or tanh) cancels in float (as in PyTorch's float kernel): an absolute error */
        double ef = fabs(y[i] - v), eg = fabs(r.out[i] - d);
        if (ef > fwd) fwd = ef;
        if (eg > grad) grad = eg;
        cr_expect(fabs(y[i] - v) <= 2e-6 * fabs(v) + 2e-6, "%s gelu(%g) = %.9g, want %.9g", tanh_form ? "tanh" : "erf",
                  (double)x[i], (double)y[i], v);
        cr_expect(eg <= 4e-6, "%s gelu'(%g) = %.9g, want %.9g", tanh_form ? "tanh" : "erf", (double)x[i],
                  (double)r.out[i], d);
    }
    cr_log_info("gelu %s -O%d on [-20, 20]: forward max abs error %.3g, derivative max abs error %.3g",
                tanh_form ? "tanh" : "erf", opt_level, fwd, grad);
    eu_run_free(&r);
    eu_close(&p);
}

Test(gelu, layer_erf_form) { one_layer(0, 3); }
Test(gelu, layer_tanh_form) { one_layer(1, 3); }
Test(gelu, layer_erf_form_at_O0) { one_layer(0, 0); }
Test(gelu, layer_tanh_form_at_O0) { one_layer(1, 0); }

/* ---- diagnostics ---- */

static char *analyse(const char *text, int *errors) { return nf_analyse(DIR "gelu_diag.xai", text, errors); }

Test(gelu, approximate_values)
{
    static const char *const bad[] = { "approximate=sigmoid", "approximate=1", "approximate=\"erf\"" };
    for (int k = 0; k < 3; k++) {
        char text[256];
        snprintf(text, sizeof text, "network n { input x[3]; g = gelu(x, %s); output g; }", bad[k]);
        int errors;
        char *out = analyse(text, &errors);
        cr_expect_gt(errors, 0, "no error for %s", bad[k]);
        cr_expect(strstr(out, "gelu's approximate is none (the erf form, the default) or tanh") != NULL, "%s:\n%s",
                  bad[k], out);
        free(out);
    }
    static const char *const good[] = { "approximate=none", "approximate=tanh", "approximate=\"tanh\"", "tanh" };
    for (int k = 0; k < 4; k++) {
        char text[256];
        snprintf(text, sizeof text, "network n { input x[3]; g = gelu(x, %s); output g; }", good[k]);
        int errors;
        char *out = analyse(text, &errors);
        cr_expect_eq(errors, 0, "%s:\n%s", good[k], out);
        free(out);
    }
}
