/* The inline exp of generated code (cg_exp: sigmoid, SiLU, tanh, softmax and rule code's exp) against libm's
 * double exp: a dense grid of [-110, 95] through a rule `exp(x)` (vector epilogue code) and a sigmoid layer's
 * forward (a scalar loop the vectoriser widens), at most 2 ulp where the result is normal, at most one
 * subnormal step below; exactly 0 far below, inf above 88.73, NaN for NaN; and softmax's rows still sum to 1. */
#include <float.h>

#include "net_fixture_util.h"
#include "testutil.h"

#define COLS 1000
#define ROWS 2051 /* 2,051,000 points of [-110, 95], step 1e-4 */

static const char exp_program[] = "network e { input x[1000]; g = gelu(x); output g; }\n"
                                  "rule exp_of_x on gelu { exp(x); }\n"
                                  "rule exp_of_log on gelu { exp(log(x)); }\n"
                                  "rule exp_of_big on gelu { exp(x * 1e30); }\n"
                                  "explain exp_x for e { seed sum; gelu: exp_of_x; }\n"
                                  "explain exp_log for e { seed sum; gelu: exp_of_log; }\n"
                                  "explain exp_big for e { seed sum; gelu: exp_of_big; }\n";

/* |got - ref| in units of float's spacing at ref (for a subnormal ref: the subnormal spacing) */
static double ulps(double got, double ref)
{
    double spacing = fabs(ref) < FLT_MIN ? ldexp(1, -149) : ldexp(1, ilogb(ref) - 23);
    return fabs(got - ref) / spacing;
}

static void exp_grid(int opt_level)
{
    eu_program p;
    eu_open(&p, "tests/fixtures/gelu/exp_test.xai", exp_program, opt_level, 0);
    cr_assert(p.ok, "does not compile:\n%s", eu_messages(&p));
    int64_t n = (int64_t)COLS * ROWS;
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(-110.0 + 205.0 * (double)i / (double)(n - 1));
    static const float special[] = { 0.0f,      -0.0f,     1e-30f,    -1e-30f, 88.72f, 88.7228f, 88.7229f,
                                     -87.3365f, -103.972f, -103.973f, -104.0f, 1e-8f,  -1e-8f,   0.693147f,
                                     FLT_MAX,   -FLT_MAX,  89.0f,     -149.0f, -0.5f,  0.5f };
    for (int k = 0; k < (int)(sizeof special / sizeof *special); k++) x[k * 997] = special[k];
    eu_run r = eu_explain(&p, "e", "exp_x", x, NULL, ROWS);
    cr_assert(r.status == 0 || r.status == XAI_ENONFINITE, "status %d", r.status);
    double worst = 0, at = 0;
    for (int64_t i = 0; i < n; i++) {
        double ref = exp((double)x[i]), got = r.out[i];
        if (ref > FLT_MAX * (1 + 0x1p-24)) { /* rounds to inf in float */
            cr_assert(isinf(got) && got > 0, "exp(%.9g) = %.9g, want inf", (double)x[i], got);
            continue;
        }
        double u = ulps(got, ref);
        if (fabs(ref) >= FLT_MIN && u > worst) worst = u, at = x[i];
        cr_assert(u <= (fabs(ref) >= FLT_MIN ? 2.0 : 1.0), "exp(%.9g) = %.9g, want %.9g (%.2f ulp)", (double)x[i], got,
                  ref, u);
    }
    cr_log_info("exp -O%d: max error %.2f ulp (x = %.7g)", opt_level, worst, at);
    cr_expect_eq(r.out[0], 1.0f);
    cr_expect_eq(r.out[1 * 997], 1.0f);
    cr_expect_eq(r.out[10 * 997], 0.0f, "exp(-104) rounds to 0");
    cr_expect_eq(r.out[15 * 997], 0.0f, "exp(-FLT_MAX) = %g", (double)r.out[15 * 997]);
    eu_run_free(&r);
    /* one sample: exp(+-inf) and exp(NaN), made inside (the entry refuses non-finite inputs) */
    float s[COLS];
    for (int k = 0; k < COLS; k++) s[k] = 1;
    s[0] = 1e10f, s[1] = -1e10f, s[2] = 0, s[3] = -1;
    r = eu_explain(&p, "e", "exp_big", s, NULL, 1);
    cr_assert_eq(r.status, XAI_ENONFINITE, "exp(inf) is inf, reported: status %d", r.status);
    cr_expect(isinf(r.out[0]) && r.out[0] > 0, "exp(inf) = %g", (double)r.out[0]);
    cr_expect_eq(r.out[1], 0.0f, "exp(-inf) = %g", (double)r.out[1]);
    cr_expect_eq(r.out[2], 1.0f, "exp(0 * 1e30) = %g", (double)r.out[2]);
    eu_run_free(&r);
    r = eu_explain(&p, "e", "exp_log", s, NULL, 1);
    cr_assert_eq(r.status, XAI_ENONFINITE, "status %d", r.status);
    cr_expect_eq(r.out[2], 0.0f, "exp(log 0) = exp(-inf) = %g", (double)r.out[2]);
    cr_expect(isnan(r.out[3]), "exp(log -1) = exp(NaN) = %g", (double)r.out[3]);
    cr_expect_eq(r.out[4], 1.0f, "exp(log 1) = %g", (double)r.out[4]);
    eu_run_free(&r);
    free(x);
    eu_close(&p);
}

Test(exp_kernel, rule_exp_against_libm, .timeout = 120) { exp_grid(3); }
Test(exp_kernel, rule_exp_against_libm_at_O0, .timeout = 120) { exp_grid(0); }

/* A sigmoid layer's forward (its own scalar kernel) and a softmax's rows over the same grid. */
#define LAYER_N 4096

Test(exp_kernel, sigmoid_and_softmax_layers, .timeout = 120)
{
    eu_program p;
    char text[512];
    snprintf(text, sizeof text,
             "network s { input x[%d]; y = sigmoid(x); output y; }\n"
             "network m { input x[%d]; y = softmax(x); output y; }\n",
             LAYER_N, LAYER_N);
    eu_open(&p, "tests/fixtures/gelu/sigmoid_layer.xai", text, 3, 0);
    cr_assert(p.ok, "does not compile:\n%s", eu_messages(&p));
    float x[LAYER_N], y[LAYER_N];
    for (int i = 0; i < LAYER_N; i++) x[i] = (float)(-100 + 200.0 * i / (LAYER_N - 1));
    nf_forward_fn forward = (nf_forward_fn)jit_lookup(p.jit, "s_forward");
    nf_wsize_fn wsize = (nf_wsize_fn)jit_lookup(p.jit, "s_workspace_size");
    cr_assert(forward && wsize);
    void *ws = aligned_alloc(64, (wsize(1) + 63) / 64 * 64 + 64);
    cr_assert_eq(forward(x, y, 1, ws), 0);
    free(ws);
    for (int i = 0; i < LAYER_N; i++) {
        /* below x = -88.7, exp(-x) overflows and 1 / (1 + inf) is 0, as in PyTorch's float sigmoid */
        double ref = 1 / (1 + exp(-(double)x[i]));
        cr_assert(fabs(y[i] - ref) <= 4 * FLT_EPSILON * ref + (x[i] < -88.7f ? FLT_MIN : 0),
                  "sigmoid(%.9g) = %.9g, want %.9g", (double)x[i], (double)y[i], ref);
    }
    forward = (nf_forward_fn)jit_lookup(p.jit, "m_forward");
    wsize = (nf_wsize_fn)jit_lookup(p.jit, "m_workspace_size");
    cr_assert(forward && wsize);
    ws = aligned_alloc(64, (wsize(1) + 63) / 64 * 64 + 64);
    for (int i = 0; i < LAYER_N; i++) x[i] = (float)sin(i * 0.37) * 30; /* softmax of values in [-30, 30] */
    cr_assert_eq(forward(x, y, 1, ws), 0);
    free(ws);
    double max = -INFINITY, sum = 0, total = 0;
    for (int i = 0; i < LAYER_N; i++) max = fmax(max, x[i]);
    for (int i = 0; i < LAYER_N; i++) sum += exp((double)x[i] - max);
    for (int i = 0; i < LAYER_N; i++) {
        /* x - max is rounded in float first: half an ulp of |x - max| <= 60 moves exp by that much relative */
        double d = (double)x[i] - max, ref = exp(d) / sum;
        total += y[i];
        cr_assert(fabs(y[i] - ref) <= (8 + fabs(d)) * FLT_EPSILON * ref + 1e-44, "softmax[%d] = %.9g, want %.9g", i,
                  (double)y[i], ref);
    }
    cr_expect(fabs(total - 1) <= 1e-5, "softmax sums to %.9g", total);
    eu_close(&p);
}
