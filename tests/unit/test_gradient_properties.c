/* Exact properties of the gradient family, independent of any reference library:
 * - gradients equal central finite differences of a naive double-precision forward pass, on small random
 *   networks over every op (tests/unit/naive_ref.c);
 * - the seed's ReLU toy tables (3.3): backprop, deconvnet and guided backprop;
 * - integrated gradients are complete (sum = f(x) - f(baseline)) up to the quadrature error, which
 *   shrinks as the steps grow;
 * - DeepLIFT sums to delta (sum = f(x) - f(reference));
 * - SmoothGrad: same seed, same result; different seed, different result; replayed noise reproduces a
 *   direct computation. */
#include <criterion/criterion.h>

#include "explain_util.h"
#include "naive_ref.c"
#include "explain_nr_util.h"
#include "testutil.h"

/* ---- finite differences ---- */

/* A random small network with several ops, ending in dense logits [K]. */
static void random_net(nr_net *net, nr_rng *rng, int variant)
{
    memset(net, 0, sizeof *net);
    snprintf(net->name, sizeof net->name, "fd%d", variant);
    int x = nr_input(net, "x", 3, 2, 7, 7), h = x;
    switch (variant % 4) {
    case 0:
        h = nr_conv(net, rng, h, 3, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1, "3, kernel=3, pad=1");
        h = nr_simple(net, NR_RELU, h, 0);
        h = nr_pool(net, NR_MAXPOOL, h, 2, 2, 2, 2, 0, 0, 0, 0, 1, "2, pad=same");
        break;
    case 1:
        h = nr_conv(net, rng, h, 4, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, "4, kernel=2, bias=false");
        h = nr_simple(net, NR_SIGMOID, h, 0);
        h = nr_pool(net, NR_AVGPOOL, h, 3, 3, 2, 2, 1, 1, 1, 1, 0, "3, stride=2, pad=1");
        break;
    case 2: {
        int a = nr_conv(net, rng, h, 2, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1, "2, kernel=3, pad=1");
        int b = nr_simple(net, NR_RELU, nr_batchnorm(net, rng, a, 1e-5, ""), 0);
        h = nr_simple(net, NR_ADD, b, x);
        h = nr_simple(net, NR_RELU, h, 0);
        break;
    }
    default:
        h = nr_conv(net, rng, h, 3, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, "3, kernel=3, stride=2, pad=same");
        h = nr_simple(net, NR_RELU, h, 0);
        h = nr_simple(net, NR_GAP, h, 0);
        break;
    }
    h = nr_simple(net, NR_FLATTEN, h, 0);
    h = nr_dense(net, rng, h, 6, 1, "6");
    h = nr_simple(net, NR_SIGMOID, h, 0);
    h = nr_dense(net, rng, h, 4, 1, "4");
    net->output = h;
}

static eu_program open_net(const nr_net *net, const char *explain_body, const char *tag)
{
    char *text = NULL;
    cr_assert(asprintf(&text, "explain e for %s { %s }", net->name, explain_body) > 0);
    eu_program p = eu_open_nr(net, text, tag, 1);
    free(text);
    return p;
}

Test(gradient, equals_central_finite_differences)
{
    for (int variant = 0; variant < 8; variant++) {
        nr_rng rng = { 0x9e3779b97f4a7c15ULL + variant };
        nr_net net;
        random_net(&net, &rng, variant);
        eu_program p = open_net(&net, "method gradient;", "fd");
        int64_t n = nr_count(&net.L[0]);
        float *x = malloc(sizeof(float) * n);
        for (int64_t i = 0; i < n; i++) x[i] = (float)nr_uniform(&rng, -1, 1);
        for (int32_t target = 0; target < 4; target++) {
            eu_run r = eu_explain(&p, net.name, "e", x, &target, 1);
            cr_assert_eq(r.status, 0);
            double err = 0, mag = 0;
            float *xp = malloc(sizeof(float) * n);
            for (int64_t i = 0; i < n; i++) {
                memcpy(xp, x, sizeof(float) * n);
                const double h = 1e-3;
                xp[i] = (float)(x[i] + h);
                double *fp = nr_forward(&net, xp, 1);
                xp[i] = (float)(x[i] - h);
                double *fm = nr_forward(&net, xp, 1);
                /* the perturbation actually applied in float */
                double fd = (fp[target] - fm[target]) / ((double)(float)(x[i] + h) - (double)(float)(x[i] - h));
                free(fp);
                free(fm);
                err = fmax(err, fabs(fd - r.out[i]));
                mag = fmax(mag, fabs(fd));
            }
            cr_expect(err <= 2e-3 * mag + 1e-6, "network %d, class %d: |gradient - finite differences| = %g (max %g)",
                      variant, target, err, mag);
            free(xp);
            eu_run_free(&r);
        }
        free(x);
        eu_close(&p);
        nr_net_free(&net);
    }
}

/* ---- the seed's ReLU tables (3.3): a relu followed by a linear read-out whose gradient is g ---- */

static void relu_table(const float *feature, const float *g, int n, const float *backprop, const float *deconv,
                       const float *guided)
{
    char header[256];
    int hl = snprintf(header, sizeof header,
                      "{\"out.weight\":{\"dtype\":\"F32\",\"shape\":[1,%d],\"data_offsets\":[0,%d]}}", n, 4 * n);
    unsigned char file[512];
    uint64_t len = (uint64_t)hl;
    memcpy(file, &len, 8);
    memcpy(file + 8, header, hl);
    memcpy(file + 8 + hl, g, 4 * n);
    char name[64];
    snprintf(name, sizeof name, "toy%d.safetensors", n);
    free(tu_write_temp(name, file, 8 + hl + 4 * n));
    char text[1024];
    snprintf(text, sizeof text,
             "network toy { weights \"%s\"; input x[%d]; a = relu(x); out = dense(a, 1, bias=false); output out; }\n"
             "explain backprop for toy { method gradient; }\n"
             "explain deconv for toy { method gradient; relu: deconvnet; }\n"
             "explain guided for toy { method gradient; relu: guided; }\n",
             name, n);
    char *src = tu_write_temp("toy.xai", "", 0);
    eu_program p;
    eu_open(&p, src, text, 0, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    const char *names[3] = { "backprop", "deconv", "guided" };
    const float *expect[3] = { backprop, deconv, guided };
    for (int k = 0; k < 3; k++) {
        int32_t t = 0;
        eu_run r = eu_explain(&p, "toy", names[k], feature, &t, 1);
        cr_assert_eq(r.status, 0);
        for (int i = 0; i < n; i++)
            cr_expect(r.out[i] == expect[k][i], "%s[%d] = %g, the seed's table says %g", names[k], i, r.out[i],
                      expect[k][i]);
        eu_run_free(&r);
    }
    eu_close(&p);
    free(src);
}

Test(gradient, seed_relu_toy_tables)
{
    const float f1[4] = { -2, 2, 2, -2 }, g1[4] = { -1, -1, 1, 1 };
    const float bp1[4] = { 0, -1, 1, 0 }, dc1[4] = { 0, 0, 1, 1 }, gd1[4] = { 0, 0, 1, 0 };
    relu_table(f1, g1, 4, bp1, dc1, gd1);
    const float f2[9] = { 1, -1, 5, 2, -5, -7, -3, 2, 4 }, g2[9] = { -2, 3, -1, 6, -3, 1, 2, -1, 3 };
    const float bp2[9] = { -2, 0, -1, 6, 0, 0, 0, -1, 3 }, dc2[9] = { 0, 3, 0, 6, 0, 1, 2, 0, 3 };
    const float gd2[9] = { 0, 0, 0, 6, 0, 0, 0, 0, 3 };
    relu_table(f2, g2, 9, bp2, dc2, gd2);
}

/* ---- completeness and summation-to-delta on the bundled CNN ---- */

static double logit(const float *logits, int b, int c) { return logits[b * 10 + c]; }

static float *forward_of(eu_program *p, const float *x, int batch)
{
    typedef int (*fwd_fn)(const float *, float *, int32_t, void *);
    fwd_fn f = (fwd_fn)jit_lookup(p->jit, "mnist_cnn_forward");
    eu_wsize_fn ws = (eu_wsize_fn)jit_lookup(p->jit, "mnist_cnn_workspace_size");
    float *y = malloc(sizeof(float) * 10 * batch);
    void *w = aligned_alloc(64, (ws(batch) + 63) / 64 * 64);
    cr_assert_eq(f(x, y, batch, w), 0);
    free(w);
    return y;
}

Test(integrated_gradients, completeness_error_shrinks_with_steps)
{
    const char *text = "import \"mnist_cnn.xai\";\n"
                       "explain s4 for mnist_cnn { method integrated_gradients(steps=4); }\n"
                       "explain s16 for mnist_cnn { method integrated_gradients(steps=16); }\n"
                       "explain s64 for mnist_cnn { method integrated_gradients(steps=64); }\n"
                       "explain s256 for mnist_cnn { method integrated_gradients(steps=256); }\n"
                       "explain half for mnist_cnn { method integrated_gradients(steps=256, baseline=0.5); }\n";
    eu_program p;
    eu_open(&p, "models/ig_test.xai", text, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy("models/samples/digits.npy");
    float zero[2 * 784] = { 0 }, half[784];
    for (int i = 0; i < 784; i++) half[i] = 0.5f;
    float *fx = forward_of(&p, x.data, 10), *f0 = forward_of(&p, zero, 1), *fh = forward_of(&p, half, 1);
    int32_t labels[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    const char *names[4] = { "s4", "s16", "s64", "s256" };
    double worst[4] = { 0 };
    for (int k = 0; k < 4; k++) {
        eu_run r = eu_explain(&p, "mnist_cnn", names[k], x.data, labels, 10);
        cr_assert_eq(r.status, 0);
        for (int b = 0; b < 10; b++) {
            double s = 0;
            for (int i = 0; i < 784; i++) s += r.out[b * 784 + i];
            double delta = logit(fx, b, b) - logit(f0, 0, b);
            worst[k] = fmax(worst[k], fabs(s - delta) / fabs(delta));
        }
        eu_run_free(&r);
    }
    cr_expect(worst[3] < 0.02, "with 256 steps the completeness error is still %.3g of the change", worst[3]);
    cr_expect(worst[3] < worst[0] && worst[2] < worst[0],
              "the error does not shrink: 4 steps %.3g, 16 %.3g, 64 %.3g, "
              "256 %.3g",
              worst[0], worst[1], worst[2], worst[3]);
    /* a constant baseline: sum = f(x) - f(0.5) */
    eu_run r = eu_explain(&p, "mnist_cnn", "half", x.data, labels, 10);
    for (int b = 0; b < 10; b++) {
        double s = 0;
        for (int i = 0; i < 784; i++) s += r.out[b * 784 + i];
        double delta = logit(fx, b, b) - logit(fh, 0, b);
        cr_expect(fabs(s - delta) <= 0.02 * fabs(delta) + 0.05, "baseline 0.5, digit %d: sum %g, f(x) - f(0.5) = %g", b,
                  s, delta);
    }
    eu_run_free(&r);
    free(fx);
    free(f0);
    free(fh);
    xai_array_free(&x);
    eu_close(&p);
}

Test(deeplift, sums_to_delta)
{
    const char *text = "import \"mnist_cnn.xai\";\n"
                       "explain zero for mnist_cnn { method deeplift(reference=zero); }\n"
                       "explain half for mnist_cnn { method deeplift(reference=0.5); }\n";
    eu_program p;
    eu_open(&p, "models/dl_test.xai", text, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy("models/samples/digits.npy");
    float zero[784] = { 0 }, half[784];
    for (int i = 0; i < 784; i++) half[i] = 0.5f;
    float *fx = forward_of(&p, x.data, 10), *f0 = forward_of(&p, zero, 1), *fh = forward_of(&p, half, 1);
    int32_t targets[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 3 };
    const char *names[2] = { "zero", "half" };
    float *refs[2] = { f0, fh };
    for (int k = 0; k < 2; k++) {
        eu_run r = eu_explain(&p, "mnist_cnn", names[k], x.data, targets, 10);
        cr_assert_eq(r.status, 0);
        for (int b = 0; b < 10; b++) {
            double s = 0;
            for (int i = 0; i < 784; i++) s += r.out[b * 784 + i];
            double delta = logit(fx, b, targets[b]) - logit(refs[k], 0, targets[b]);
            cr_expect(fabs(s - delta) <= 1e-5 * fmax(fabs(delta), 1) + 2e-5,
                      "reference %s, digit %d: sum of attributions %.7f, f(x) - f(ref) = %.7f", names[k], b, s, delta);
        }
        eu_run_free(&r);
    }
    free(fx);
    free(f0);
    free(fh);
    xai_array_free(&x);
    eu_close(&p);
}

/* ---- SmoothGrad ---- */

typedef int (*ex_fn)(const float *, const int32_t *, float *, int32_t, void *, const xai_options *);

Test(smoothgrad, seeds_reproduce_and_noise_replays)
{
    const char *text = "import \"mnist_cnn.xai\";\n"
                       "explain sg for mnist_cnn { method smoothgrad(samples=6, noise=0.15, seed=7); }\n"
                       "explain plain for mnist_cnn { method gradient; }\n";
    eu_program p;
    eu_open(&p, "models/sg_test.xai", text, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy("models/samples/digits.npy");
    int32_t labels[3] = { 0, 1, 2 };
    eu_run a = eu_explain(&p, "mnist_cnn", "sg", x.data, labels, 3);
    eu_run b = eu_explain(&p, "mnist_cnn", "sg", x.data, labels, 3);
    cr_assert(a.status == 0 && b.status == 0);
    cr_expect(memcmp(a.out, b.out, sizeof(float) * 3 * 784) == 0, "same seed, different results");

    ex_fn ex = (ex_fn)jit_lookup(p.jit, "mnist_cnn_sg_ex");
    cr_assert_not_null(ex);
    float *other = malloc(sizeof(float) * 3 * 784);
    xai_options opt = { 0 };
    opt.seed = 8;
    opt.has_seed = 1;
    cr_assert_eq(ex(x.data, labels, other, 3, a.ws, &opt), 0);
    int differ = 0;
    for (int i = 0; i < 3 * 784; i++) differ += other[i] != a.out[i];
    cr_expect(differ > 100, "seed 8 changes only %d values", differ);
    opt.seed = 7; /* the compiled seed, given at run time */
    cr_assert_eq(ex(x.data, labels, other, 3, a.ws, &opt), 0);
    cr_expect(memcmp(other, a.out, sizeof(float) * 3 * 784) == 0, "options.seed = 7 differs from the compiled seed 7");

    /* replay: the mean of plain gradients at x + noise[b, k] */
    float *noise = malloc(sizeof(float) * 3 * 6 * 784);
    xai_normal_fill(noise, 3 * 6 * 784, 99, 0, 0.15f);
    xai_options replay = { 0 };
    replay.noise = noise;
    cr_assert_eq(ex(x.data, labels, other, 3, a.ws, &replay), 0);
    float *noisy = malloc(sizeof(float) * 18 * 784);
    int32_t t18[18];
    for (int bb = 0; bb < 3; bb++)
        for (int k = 0; k < 6; k++) {
            t18[bb * 6 + k] = labels[bb];
            for (int i = 0; i < 784; i++)
                noisy[(bb * 6 + k) * 784 + i] = x.data[bb * 784 + i] + noise[(bb * 6 + k) * 784 + i];
        }
    eu_run g = eu_explain(&p, "mnist_cnn", "plain", noisy, t18, 18);
    cr_assert_eq(g.status, 0);
    float *mean = calloc(3 * 784, sizeof(float));
    for (int bb = 0; bb < 3; bb++)
        for (int k = 0; k < 6; k++)
            for (int i = 0; i < 784; i++) mean[bb * 784 + i] += g.out[(bb * 6 + k) * 784 + i] / 6;
    cr_expect(eu_rel_error(other, mean, 3 * 784) <= 1e-5, "replayed noise: %.3g from the mean of plain gradients",
              eu_rel_error(other, mean, 3 * 784));
    eu_run_free(&g);
    free(mean);
    free(noisy);
    free(noise);
    free(other);
    eu_run_free(&a);
    eu_run_free(&b);
    xai_array_free(&x);
    eu_close(&p);
}

/* ---- seed relu_logit: the gradient of max(logit_t, 0) (the seed's 5.1 / 5.2 explain f = ReLU(S_c)) ---- */

Test(gradient, seed_relu_logit_is_the_gradient_where_the_logit_is_positive_and_zero_elsewhere)
{
    const char *text = "import \"mnist_cnn.xai\";\n"
                       "explain g for mnist_cnn { method gradient; }\n"
                       "explain gr for mnist_cnn { method gradient; seed relu_logit; }\n";
    eu_program p;
    eu_open(&p, "models/relu_seed.xai", text, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy("models/samples/digits.npy");
    float *fx = forward_of(&p, x.data, 10);
    int positive = 0, negative = 0;
    for (int32_t t = 0; t < 10; t++) {
        int32_t targets[10];
        for (int b = 0; b < 10; b++) targets[b] = t;
        eu_run g = eu_explain(&p, "mnist_cnn", "g", x.data, targets, 10);
        eu_run gr = eu_explain(&p, "mnist_cnn", "gr", x.data, targets, 10);
        cr_assert(g.status == 0 && gr.status == 0);
        for (int b = 0; b < 10; b++) {
            int on = logit(fx, b, t) > 0;
            positive += on, negative += !on;
            for (int i = 0; i < 784; i++)
                cr_assert_eq(gr.out[b * 784 + i], on ? g.out[b * 784 + i] : 0.0f, "digit %d class %d pixel %d", b, t,
                             i);
        }
        eu_run_free(&g);
        eu_run_free(&gr);
    }
    cr_expect(positive > 0 && negative > 0, "both signs of the logit must occur (%d positive, %d not)", positive,
              negative);
    free(fx);
    xai_array_free(&x);
    eu_close(&p);
}

/* A baseline given at run time (xai_options, NET_E_ex) replaces the compiled one: shared by the batch, it
 * gives exactly what `baseline=0.5` compiled in gives; per sample, each sample gets its own (0.5 for the
 * first, 0 for the second: the compiled default). */
typedef int (*ig_ex_fn)(const float *x, const int32_t *target, float *out, int32_t batch, void *ws,
                        const xai_options *opt);

Test(integrated_gradients, baseline_given_at_run_time)
{
    const char *text = "import \"mnist_cnn.xai\";\n"
                       "explain zero for mnist_cnn { method integrated_gradients(steps=16); }\n"
                       "explain half for mnist_cnn { method integrated_gradients(steps=16, baseline=0.5); }\n";
    eu_program p;
    eu_open(&p, "models/ig_baseline_test.xai", text, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy("models/samples/digits.npy");
    int32_t labels[2] = { 3, 7 };
    float *x2 = x.data + 2 * 784; /* two digits */
    eu_run zero = eu_explain(&p, "mnist_cnn", "zero", x2, labels, 2);
    eu_run half = eu_explain(&p, "mnist_cnn", "half", x2, labels, 2);
    cr_assert(zero.status == 0 && half.status == 0);
    ig_ex_fn ex = (ig_ex_fn)jit_lookup(p.jit, "mnist_cnn_zero_ex");
    size_t (*wsize)(int32_t) = (size_t(*)(int32_t))jit_lookup(p.jit, "mnist_cnn_workspace_size");
    cr_assert(ex && wsize);
    void *ws = aligned_alloc(64, (wsize(2) + 63) / 64 * 64);
    float out[2 * 784], shared[784], per[2 * 784];
    for (int i = 0; i < 784; i++) shared[i] = per[i] = 0.5f, per[784 + i] = 0;
    xai_options opt = { 0 };
    opt.baseline = shared;
    cr_assert_eq(ex(x2, labels, out, 2, ws, &opt), 0);
    cr_expect(!memcmp(out, half.out, sizeof out), "a shared run-time baseline of 0.5 differs from baseline=0.5");
    opt.baseline = per;
    opt.baseline_per_sample = 1;
    cr_assert_eq(ex(x2, labels, out, 2, ws, &opt), 0);
    cr_expect(!memcmp(out, half.out, 784 * sizeof(float)), "sample 0 (baseline 0.5) differs from baseline=0.5");
    cr_expect(!memcmp(out + 784, zero.out + 784, 784 * sizeof(float)),
              "sample 1 (baseline 0) differs from the default");
    cr_expect(memcmp(half.out, zero.out, sizeof out), "the two baselines give the same attributions");
    free(ws);
    eu_run_free(&zero);
    eu_run_free(&half);
    xai_array_free(&x);
    eu_close(&p);
}

/* `post power(p)` is |g|^p of the plain gradient g (the seed's 5.1 / 5.2 sensitivity is g^4): integer powers by
 * repeated squaring, others through exp(p log|g|); compared with the gradient raised here, in double. */
Test(gradient, post_power_is_the_gradients_absolute_value_raised)
{
    const char *text = "import \"mnist_cnn.xai\";\n"
                       "explain g for mnist_cnn { method gradient; }\n"
                       "explain g2 for mnist_cnn { method gradient; post power(2); }\n"
                       "explain g3 for mnist_cnn { method gradient; post power(3); }\n"
                       "explain g4 for mnist_cnn { method gradient; post power(4); }\n"
                       "explain g25 for mnist_cnn { method gradient; post power(2.5); }\n";
    eu_program p;
    eu_open(&p, "models/post_power.xai", text, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy("models/samples/digits.npy");
    int32_t targets[10] = { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3 };
    eu_run g = eu_explain(&p, "mnist_cnn", "g", x.data, targets, 10);
    const char *names[] = { "g2", "g3", "g4", "g25" };
    const double powers[] = { 2, 3, 4, 2.5 };
    for (int k = 0; k < 4; k++) {
        eu_run r = eu_explain(&p, "mnist_cnn", names[k], x.data, targets, 10);
        cr_assert(g.status == 0 && r.status == 0);
        double worst = 0, scale = 0;
        for (int i = 0; i < 7840; i++) {
            double want = pow(fabs((double)g.out[i]), powers[k]);
            worst = fmax(worst, fabs(r.out[i] - want));
            scale = fmax(scale, want);
        }
        cr_expect(scale > 0 && worst <= 1e-5 * scale, "power(%g): max difference %g of max %g", powers[k], worst,
                  scale);
        if (powers[k] == 2) /* the same kernel as `post square` (g * g) */
            for (int i = 0; i < 7840; i++) cr_assert_eq(r.out[i], g.out[i] * g.out[i], "element %d", i);
        eu_run_free(&r);
    }
    eu_run_free(&g);
    xai_array_free(&x);
    eu_close(&p);
}

/* `seed sum` explains the sum of all logits (the seed's 3.2 saliency differentiates it). Gradient, IG and
 * LRP (epsilon_plus: shares fixed by the forward pass) are linear in the output seed, so each equals the sum
 * over classes of the same explanation of each class's logit; the target given is ignored. */
Test(gradient, seed_sum_is_the_sum_over_classes)
{
    const char *text = "import \"mnist_cnn.xai\";\n"
                       "explain g for mnist_cnn { method gradient; }\n"
                       "explain g_sum for mnist_cnn { method gradient; seed sum; }\n"
                       "explain ig for mnist_cnn { method integrated_gradients(steps=8); }\n"
                       "explain ig_sum for mnist_cnn { method integrated_gradients(steps=8); seed sum; }\n"
                       "explain lrp for mnist_cnn { rules epsilon_plus; }\n"
                       "explain lrp_sum for mnist_cnn { rules epsilon_plus; seed sum; }\n";
    eu_program p;
    eu_open(&p, "models/seed_sum.xai", text, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy("models/samples/digits.npy");
    const char *per_class[] = { "g", "ig", "lrp" }, *summed[] = { "g_sum", "ig_sum", "lrp_sum" };
    for (int m = 0; m < 3; m++) {
        double *want = calloc(7840, sizeof *want);
        for (int32_t t = 0; t < 10; t++) {
            int32_t targets[10];
            for (int b = 0; b < 10; b++) targets[b] = t;
            eu_run r = eu_explain(&p, "mnist_cnn", per_class[m], x.data, targets, 10);
            cr_assert_eq(r.status, 0);
            for (int i = 0; i < 7840; i++) want[i] += r.out[i];
            eu_run_free(&r);
        }
        int32_t zeros[10] = { 0 }, sevens[10] = { 7, 7, 7, 7, 7, 7, 7, 7, 7, 7 };
        eu_run s0 = eu_explain(&p, "mnist_cnn", summed[m], x.data, zeros, 10);
        eu_run s7 = eu_explain(&p, "mnist_cnn", summed[m], x.data, sevens, 10);
        cr_assert(s0.status == 0 && s7.status == 0);
        double worst = 0, scale = 0;
        for (int i = 0; i < 7840; i++) {
            cr_assert_eq(s0.out[i], s7.out[i], "%s: the target changed element %d", summed[m], i);
            worst = fmax(worst, fabs(s0.out[i] - want[i]));
            scale = fmax(scale, fabs(want[i]));
        }
        cr_expect(scale > 0 && worst <= 1e-5 * scale, "%s: max difference %g of max %g from the sum over classes",
                  summed[m], worst, scale);
        eu_run_free(&s0);
        eu_run_free(&s7);
        free(want);
    }
    xai_array_free(&x);
    eu_close(&p);
}
