/* Softmax inside a network: tests/fixtures/softmax/attn_net.xai softmaxes over the channels (gating a product as
 * attention weights do), along the height, along the last axis and over a flat layer. Against references made
 * by tests/reference/make_softmax_fixtures.py in float64, independent of xaic: the forward pass and the input
 * gradient (PyTorch autograd), and LRP with AttnLRP's softmax rule (Proposition 3.1, R_in = x (R - s sum R)),
 * epsilon on the linear layers and the gate or the uniform rule on the product (a transcription of the
 * equations; manifest.json). float32 rounding alone moves those references <= 3.4e-6 of their max. */
#include "net_fixture_util.h"
#include "testutil.h"

#define DIR "tests/fixtures/softmax/"

static const char *program = "import \"attn_net.xai\";\n"
                             "explain grad for attn_net { method gradient; }\n"
                             "explain lrp_gate for attn_net { seed one; }\n"
                             "explain lrp_uniform for attn_net { seed one; mul: uniform; }\n";

static void check_all(int opt_level)
{
    static const char *const names[] = { "grad", "lrp_gate", "lrp_uniform" };
    static const char *const fixtures[] = { "gradient", "lrp_gate", "lrp_uniform" };
    nf_check_all(DIR, program, "attn_net", 5, names, fixtures, 3, 1e-5, 1e-4, opt_level);
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
    nf_forward_fn forward = (nf_forward_fn)jit_lookup(p.jit, "big_forward");
    nf_wsize_fn wsize = (nf_wsize_fn)jit_lookup(p.jit, "big_workspace_size");
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

/* Lines along the last axis run in vectors of 8 with a masked last one: every length from 1 to 19 and 197 (a ViT's
 * attention rows), the largest value anywhere in the line (also in the masked tail), against double precision. */
Test(softmax_layers, last_axis_every_length)
{
    int lens[20];
    for (int k = 0; k < 19; k++) lens[k] = k + 1;
    lens[19] = 197;
    for (int k = 0; k < 20; k++) {
        int len = lens[k], rows = 3;
        char *text = NULL;
        cr_assert(asprintf(&text,
                           "network sl { input x[1, %d, %d]; s = softmax(x, axis=2); f = flatten(s); output f; }\n",
                           rows, len) > 0);
        eu_program p;
        eu_open(&p, DIR "softmax_len.xai", text, 3, 0);
        cr_assert(p.ok, "%s", eu_messages(&p));
        nf_forward_fn forward = (nf_forward_fn)jit_lookup(p.jit, "sl_forward");
        nf_wsize_fn wsize = (nf_wsize_fn)jit_lookup(p.jit, "sl_workspace_size");
        float *x = malloc(sizeof(float) * rows * len), *y = malloc(sizeof(float) * rows * len);
        for (int i = 0; i < rows * len; i++) x[i] = (float)(((i * 37) % 23) - 11) * 2.5f;
        for (int r = 0; r < rows; r++) x[r * len + (r * 5 + len - 1) % len] = 40; /* the maximum, moving */
        void *ws = aligned_alloc(64, (wsize(1) + 63) / 64 * 64 + 64);
        cr_assert_eq(forward(x, y, 1, ws), 0);
        for (int r = 0; r < rows; r++) {
            double m = -INFINITY, sum = 0;
            for (int j = 0; j < len; j++) m = fmax(m, x[r * len + j]);
            for (int j = 0; j < len; j++) sum += exp(x[r * len + j] - m);
            for (int j = 0; j < len; j++) {
                double want = exp(x[r * len + j] - m) / sum;
                cr_expect(fabs(y[r * len + j] - want) <= 1e-6 * want + 1e-30,
                          "length %d, row %d, value %d: %g, want %g", len, r, j, y[r * len + j], want);
            }
        }
        free(ws), free(x), free(y), free(text);
        eu_close(&p);
    }
}

/* ---- what is refused, and how it is said ---- */

static void expect_error(const char *text, const char *words) { nf_expect_error(DIR "softmax_diag.xai", text, words); }

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
