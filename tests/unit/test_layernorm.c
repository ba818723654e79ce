/* Layer normalisation: tests/fixtures/layernorm/vit_net.xai normalises a patch embedding's tokens [4, 6] over
 * their features (PyTorch's nn.LayerNorm(6) with a weight and bias) and a flat hidden layer without an affine part
 * (elementwise_affine=False, eps 1e-3). Against references made by tests/reference/make_layernorm_fixtures.py in
 * float64, independent of xaic: the forward pass, the input gradient and integrated gradients (PyTorch autograd), and LRP with the
 * LayerNorm rule of AttnLRP / LXT (the standard deviation detached, LRP-0 through the then linear layer, by autograd
 * on LXT's construction) and epsilon on the linear layers (manifest.json). float32 rounding alone moves those
 * references <= 5.5e-7 of their max. */
#include "net_fixture_util.h"
#include "testutil.h"

#define DIR "tests/fixtures/layernorm/"

static const char *program = "import \"vit_net.xai\";\n"
                             "explain grad for vit_net { method gradient; }\n"
                             "explain lrp for vit_net { seed one; }\n"
                             "explain ig for vit_net { method integrated_gradients(steps=64, baseline=zero); }\n";

static void check_all(int opt_level)
{
    /* ig: the gradient on 64 samples of each input at once (the sample region) */
    static const char *const names[] = { "grad", "lrp", "ig" };
    static const char *const fixtures[] = { "gradient", "lrp", "integrated_gradients" };
    nf_check_all(DIR, program, "vit_net", 5, names, fixtures, 3, 1e-5, 1e-4, opt_level);
}

Test(layernorm, against_references) { check_all(3); }

Test(layernorm, against_references_at_O0) { check_all(0); }

/* PyTorch's formula on one sample, in double here: each of 3 lines of 5 values, and a line of constant values
 * (variance 0: y = bias, no NaN) */
Test(layernorm, forward_lines_and_constant_line)
{
    eu_program p;
    eu_open(
        &p, DIR "layernorm_lines.xai",
        "network lines { input x[20]; t = reshape(x, shape=[4, 5]); n = layernorm(t, axis=1, eps=1e-5, weight=false);"
        " f = flatten(n); output f; }\n",
        3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    nf_forward_fn forward = (nf_forward_fn)jit_lookup(p.jit, "lines_forward");
    nf_wsize_fn wsize = (nf_wsize_fn)jit_lookup(p.jit, "lines_workspace_size");
    float x[20] = { 1, 2, 3, 4, 5, -100, 0.5f, 7, 1e3f, -3, 0.001f, 0.002f, 0.003f, 0, -0.004f, 2, 2, 2, 2, 2 }, y[20];
    void *ws = aligned_alloc(64, (wsize(1) + 63) / 64 * 64 + 64);
    cr_assert_eq(forward(x, y, 1, ws), 0);
    free(ws);
    for (int i = 0; i < 4; i++) {
        double m = 0, v = 0;
        for (int j = 0; j < 5; j++) m += x[5 * i + j] / 5.0;
        for (int j = 0; j < 5; j++) v += (x[5 * i + j] - m) * (x[5 * i + j] - m) / 5.0;
        for (int j = 0; j < 5; j++) {
            double want = (x[5 * i + j] - m) / sqrt(v + 1e-5);
            cr_expect(fabs(y[5 * i + j] - want) <= 1e-5 * fmax(1, fabs(want)), "line %d value %d: %g, want %g", i, j,
                      y[5 * i + j], want);
        }
    }
    eu_close(&p);
}

/* ---- what is refused, and how it is said ---- */

static char *analyse(const char *text, int *errors) { return nf_analyse(DIR "layernorm_diag.xai", text, errors); }

static void expect_error(const char *text, const char *words)
{
    int errors;
    char *out = analyse(text, &errors);
    cr_expect_gt(errors, 0, "no error for:\n%s", text);
    cr_expect(strstr(out, words) != NULL, "message lacks '%s':\n%s", words, out);
    free(out);
}

Test(layernorm, only_the_last_axis)
{
    expect_error("network n { input x[20]; t = reshape(x, shape=[4, 5]); l = layernorm(t, axis=0, weight=false); f = "
                 "flatten(l); output f; }",
                 "layernorm 'l' normalises over the last axis only (PyTorch's nn.LayerNorm with a normalized_shape of "
                 "one dimension): axis must be -1 or 1 for its input [4, 5], not 0");
    expect_error("network n { input x[20]; t = reshape(x, shape=[4, 5]); l = layernorm(t, axis=-2, weight=false); f = "
                 "flatten(l); output f; }",
                 "axis must be -1 or 1 for its input [4, 5], not -2");
}

Test(layernorm, eps_and_affine_arguments)
{
    expect_error("network n { input x[5]; l = layernorm(x, eps=0, weight=false); output l; }",
                 "eps must be a positive number");
    expect_error("network n { input x[5]; l = layernorm(x, weight=false, bias=true); output l; }",
                 "layernorm 'l' has weight=false (PyTorch's elementwise_affine=False), which has no bias either");
    expect_error("network n { input x[5]; l = layernorm(x); output l; }",
                 "layer 'l' needs the tensor 'l.weight', but the network has no `weights` statement");
    expect_error("network n { weights \"vit_net.safetensors\"; input x[5]; ln1 = layernorm(x); output ln1; }",
                 "ln1.weight");
}

Test(layernorm, per_axis_rules_and_w)
{
    /* a rule of r, x, y with reductions along the layer norm's axis compiles; per = axis elsewhere does not */
    int errors;
    char *out = analyse("import \"vit_net.xai\";\n"
                        "rule centred on layernorm { r * (x - mean(x, per = axis)) / (y - b); }\n"
                        "explain e for vit_net { seed one; layernorm: centred; }\n",
                        &errors);
    cr_expect_eq(errors, 0, "%s", out);
    free(out);
    expect_error("import \"vit_net.xai\";\n"
                 "rule odd on relu { r - mean(r, per = axis); }\n"
                 "explain e for vit_net { seed one; relu: odd; }\n",
                 "mean(..., per = axis) runs along a softmax's or layernorm's axis, and layer 'act' is neither");
}
