/* Tokens and self-attention: tests/fixtures/attention/tiny_vit.xai is laid out as torchvision's VisionTransformer:
 * patches become 4 tokens of 6 values, a class token (a `parameter`) is prepended and positional embeddings
 * added, `dense` runs on each token, two heads of attention (matmul of q and k transposed, a softmax over the
 * keys, matmul with v), a residual add, and the head reads the class token (a slice). Against references made
 * by tests/reference/make_attention_fixtures.py in float64, independent of xaic: the forward pass and the input
 * gradient (PyTorch autograd), and LRP with CP-LRP's map (the attention weights held constant: the gate rule on
 * att @ v) and with AttnLRP's (the uniform rule on both products, its softmax rule), transcribed from the
 * papers' equations (manifest.json). float32 rounding alone moves those references <= 6.5e-7 of their max (xaic: <= 4.2e-7). */
#include "net_fixture_util.h"
#include "testutil.h"

#define DIR   "tests/fixtures/attention/"
#define BATCH 4

static const char *program = "import \"tiny_vit.xai\";\n"
                             "explain grad for tiny_vit { method gradient; }\n"
                             "explain lrp_cp for tiny_vit { seed one; }\n"
                             "explain lrp_attn for tiny_vit { seed one; matmul: uniform; }\n"
                             "explain cp_preset for tiny_vit { seed one; rules cp_lrp; }\n"
                             "explain attn_preset for tiny_vit { seed one; rules attn_lrp; }\n";

static void check_all(int opt_level)
{
    /* the presets cp_lrp and attn_lrp give what the defaults (CP-LRP) and the uniform rule (AttnLRP) give here */
    static const char *const names[] = { "grad", "lrp_cp", "lrp_attn", "cp_preset", "attn_preset" };
    static const char *const fixtures[] = { "gradient", "lrp_cp", "lrp_attn", "lrp_cp", "lrp_attn" };
    nf_check_all(DIR, program, "tiny_vit", 5, names, fixtures, 5, 1e-5, 1e-4, opt_level);
}

Test(attention_layers, against_references) { check_all(3); }
Test(attention_layers, against_references_at_O0) { check_all(0); }

/* the whole batch at once equals each sample alone (the token rows and the heads' products stay per sample) */
Test(attention_layers, batch_equals_single_samples)
{
    nf_ctx c;
    nf_open(&c, DIR, program, 3);
    eu_run all = eu_explain(&c.p, "tiny_vit", "lrp_attn", c.x.data, c.target, BATCH);
    cr_assert_eq(all.status, 0);
    int64_t per = all.out_count;
    for (int b = 0; b < BATCH; b++) {
        eu_run one = eu_explain(&c.p, "tiny_vit", "lrp_attn", c.x.data + b * per, c.target + b, 1);
        cr_assert_eq(one.status, 0);
        for (int64_t i = 0; i < per; i++)
            cr_expect_float_eq(one.out[i], all.out[b * per + i], 1e-6 * (1 + fabsf(all.out[b * per + i])),
                               "sample %d value %lld", b, (long long)i);
        eu_run_free(&one);
    }
    eu_run_free(&all);
    nf_close(&c);
}

/* Integrated gradients' completeness, an exact property of the path integral: sum(IG) = f(x) - f(0) for the
 * target logit, up to the quadrature's error on this smooth network (softmax, products; measured <= 5e-8 with 64
 * Gauss-Legendre nodes, against logits of about 0.05). Also runs SmoothGrad
 * and DeepLIFT through the new ops (their output must be finite and shaped like the input). */
Test(attention_layers, other_methods_run_and_integrated_gradients_are_complete)
{
    eu_program p;
    eu_open(
        &p, DIR "attention_methods.xai",
        "import \"tiny_vit.xai\";\n"
        "explain ig for tiny_vit { method integrated_gradients(steps=64, baseline=zero, quadrature=gausslegendre); }\n"
        "explain sg for tiny_vit { method smoothgrad(samples=8, sigma=0.1); }\n"
        "explain dl for tiny_vit { method deeplift(reference=0); }\n",
        3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy(DIR "input.npy"), logits = eu_load_npy(DIR "logits.npy");
    int32_t target[BATCH] = { 0, 1, 2, 3 };
    nf_forward_fn forward = (nf_forward_fn)jit_lookup(p.jit, "tiny_vit_forward");
    nf_wsize_fn wsize = (nf_wsize_fn)jit_lookup(p.jit, "tiny_vit_workspace_size");
    float zero[3 * 4 * 4] = { 0 }, at_zero[5];
    void *ws = aligned_alloc(64, (wsize(1) + 63) / 64 * 64 + 64);
    cr_assert_eq(forward(zero, at_zero, 1, ws), 0);
    free(ws);
    eu_run ig = eu_explain(&p, "tiny_vit", "ig", x.data, target, BATCH);
    cr_assert_eq(ig.status, 0);
    for (int b = 0; b < BATCH; b++) {
        double sum = 0, want = logits.data[b * 5 + target[b]] - at_zero[target[b]];
        for (int64_t i = 0; i < ig.out_count; i++) sum += ig.out[b * ig.out_count + i];
        cr_expect(fabs(sum - want) <= 2e-6 * fmax(1, fabs(want)), "sample %d: sum(IG) %.7g, f(x) - f(0) %.7g", b, sum,
                  want);
    }
    eu_run_free(&ig);
    static const char *const others[] = { "sg", "dl" };
    for (int k = 0; k < 2; k++) {
        eu_run r = eu_explain(&p, "tiny_vit", others[k], x.data, target, BATCH);
        cr_assert_eq(r.status, 0, "%s: status %d", others[k], r.status);
        cr_assert_eq(r.out_count, 3 * 4 * 4);
        for (int64_t i = 0; i < r.out_count * BATCH; i++)
            cr_assert(isfinite(r.out[i]), "%s: value %lld", others[k], (long long)i);
        eu_run_free(&r);
    }
    xai_array_free(&x);
    xai_array_free(&logits);
    eu_close(&p);
}

/* The bundled, trained models/mnist_vit (models/train.py: layer norms, GELU, one encoder block): its logits on
 * the ten sample digits against PyTorch's (float64, tests/reference/make_attention_fixtures.py), and both presets
 * giving finite maps of the input's shape. */
Test(attention_layers, bundled_mnist_vit)
{
    eu_program p;
    eu_open(&p, "models/vit_test.xai",
            "import \"mnist_vit.xai\";\n"
            "explain cp for mnist_vit { rules cp_lrp; }\n"
            "explain attn for mnist_vit { rules attn_lrp; }\n",
            3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy("models/samples/digits.npy"), ref = eu_load_npy(DIR "mnist_vit_logits.npy");
    cr_assert_eq(xai_array_count(&ref), 100);
    nf_forward_fn forward = (nf_forward_fn)jit_lookup(p.jit, "mnist_vit_forward");
    nf_wsize_fn wsize = (nf_wsize_fn)jit_lookup(p.jit, "mnist_vit_workspace_size");
    float logits[100];
    void *ws = aligned_alloc(64, (wsize(10) + 63) / 64 * 64 + 64);
    cr_assert_eq(forward(x.data, logits, 10, ws), 0);
    free(ws);
    double err = eu_rel_error(logits, ref.data, 100);
    cr_expect(err <= 1e-5, "mnist_vit logits: max |ours - PyTorch| / max = %.3g", err);
    static const char *const presets[] = { "cp", "attn" };
    for (int k = 0; k < 2; k++) {
        eu_run r = eu_explain(&p, "mnist_vit", presets[k], x.data, NULL, 10);
        cr_assert_eq(r.status, 0, "%s: status %d", presets[k], r.status);
        cr_assert_eq(r.out_count, 28 * 28);
        for (int64_t i = 0; i < r.out_count * 10; i++)
            cr_assert(isfinite(r.out[i]), "%s: value %lld", presets[k], (long long)i);
        eu_run_free(&r);
    }
    xai_array_free(&x);
    xai_array_free(&ref);
    eu_close(&p);
}

/* ---- what is refused, and how it is said ---- */

static void expect_error(const char *text, const char *words)
{
    nf_expect_error(DIR "attention_diag.xai", text, words);
}

Test(attention_layers, shapes_that_do_not_multiply)
{
    expect_error("network n { input x[2, 3, 4]; a = matmul(x, x); f = flatten(a); output f; }",
                 "matmul 'a': [2, 3, 4] times [2, 3, 4]; it multiplies [.., M, K] by [.., K, N]");
    expect_error("network n { input x[2, 3, 3]; r = reshape(x, [6, 3]); a = matmul(r, x); f = flatten(a); output f; }",
                 "with the same leading axes");
    expect_error("network n { input x[2, 3, 4]; d = dense(x, 3); f = flatten(d); output f; }",
                 "needs a flat input [D] or tokens [T, D]");
}

Test(attention_layers, parameter_tensors_are_checked)
{
    expect_error(
        "network n { weights \"tiny_vit.safetensors\"; input x[6]; p = parameter([2, 6], weight=\"cls.weight\");"
        " f = flatten(p); a = add(f, f); output a; }",
        "cls.weight");
    expect_error("network n { input x[6]; p = parameter([0, 6]); f = flatten(p); output f; }",
                 "parameter's shape must hold integers >= 1");
    expect_error("network n { input x[6]; p = parameter([2, 6]); f = flatten(p); output f; }",
                 "layer 'p' needs the tensor 'p.weight', but the network has no `weights` statement");
}

Test(attention_layers, gate_needs_one_gate)
{
    /* a matmul's body gives each factor its part of r; x (which factor?) has no meaning there */
    expect_error("import \"tiny_vit.xai\";\nrule bad on matmul { r * x; }\n"
                 "explain e for tiny_vit { seed one; ctx: bad; }\n",
                 "'x' cannot be used in the rule of layer 'ctx' here");
    expect_error("import \"tiny_vit.xai\";\nexplain e for tiny_vit { seed one; ctx: uniform; score: gate; }\n",
                 "matmul 'score' multiplies two values that are not gates; the gate rule needs exactly one factor");
}
