/* Exact properties of LRP, independent of any reference implementation:
 * - conservation: on bias-free ReLU networks LRP-0, z+ and deep Taylor keep the seed at every layer;
 * - alpha-beta on a layer with biases loses exactly the bias terms of the seed specification (2.3);
 * - a user-written rule restating a built-in one gives the same numbers;
 * - the seeds: logit, one, softmax, relu_logit scale the output relevance as documented;
 * - alpha-beta without a stabiliser never produces NaN, even where a denominator is exactly zero. */
#include <criterion/criterion.h>

#include "explain_util.h"
#include "testutil.h"

static int32_t labels[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };

static void expect_conserved(const char *model, const char *input, const char *body, const char *const *layers,
                             double seed_scale_is_logit)
{
    char text[1024];
    snprintf(text, sizeof text, "import \"%s.xai\";\nexplain e for %s { seed one; %s }\n", model, model, body);
    eu_program p;
    eu_open(&p, "models/conservation_test.xai", text, 3, 1);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy(input);
    eu_run r = eu_explain(&p, model, "e", x.data, labels, 10);
    cr_assert_eq(r.status, 0);
    for (int b = 0; b < 10; b++)
        for (int l = 0; layers[l]; l++) {
            double s = eu_layer_sum(&r, layers[l], b);
            cr_expect(fabs(s - 1.0) <= 1e-5, "%s [%s] sample %d: relevance at %s sums to %.9f, not 1", model, body, b,
                      layers[l], s);
        }
    (void)seed_scale_is_logit;
    eu_run_free(&r);
    xai_array_free(&x);
    eu_close(&p);
}

static const char *const mlp_layers[] = {
    "fc5", "act4", "fc4", "act3", "fc3", "act2", "fc2", "act1", "fc1", "x", NULL
};
static const char *const cnn_layers[] = { "fc2",  "act4",  "fc1",   "flat", "pool3", "act3", "conv3", "pool2",
                                          "act2", "conv2", "pool1", "act1", "conv1", "x",    NULL };

Test(conservation, lrp0_bias_free_mlp)
{
    expect_conserved("mnist_mlp_nobias", "models/samples/digits_flat.npy", "dense: epsilon(0);", mlp_layers, 0);
}

Test(conservation, zplus_bias_free_mlp)
{
    expect_conserved("mnist_mlp_nobias", "models/samples/digits_flat.npy", "dense: zplus(0);", mlp_layers, 0);
}

Test(conservation, lrp0_bias_free_cnn)
{
    expect_conserved("mnist_cnn_nobias", "models/samples/digits.npy", "dense: epsilon(0); conv2d: epsilon(0);",
                     cnn_layers, 0);
}

Test(conservation, zplus_bias_free_cnn)
{
    expect_conserved("mnist_cnn_nobias", "models/samples/digits.npy", "dense: zplus(0); conv2d: zplus(0);", cnn_layers,
                     0);
}

/* deep Taylor as the seed's 2.4: z+ on hidden layers, zB [0, 1] on the first conv, proportional pooling */
Test(conservation, deep_taylor_bias_free_cnn)
{
    expect_conserved("mnist_cnn_nobias", "models/samples/digits.npy",
                     "dense: zplus(1e-10); conv2d: zplus(1e-10); first: zbox(0, 1, 1e-10); maxpool: proportional;",
                     cnn_layers, 0);
}

/* A one-layer network with biases, alpha-beta without stabiliser: the relevance reaching the input of
 * output k is R_k * (1 - alpha * b+_k / z+_k + beta * b-_k / z-_k) (seed 2.3), computed here in double. */
static void alpha_beta_deficit(double alpha, double beta)
{
    const float w[3][4] = { { 0.5f, -1.0f, 0.25f, 2.0f }, { -0.5f, 0.75f, 1.5f, -0.25f }, { 1.0f, 1.0f, -2.0f, 0.5f } };
    const float bias[3] = { 0.3f, -0.2f, 0.1f };
    const float xin[4] = { 0.2f, 0.9f, 0.4f, 0.7f };
    /* weights file: fc.weight [3, 4], fc.bias [3] */
    char header[256];
    int hl = snprintf(header, sizeof header,
                      "{\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                      "\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[12,60]}}");
    unsigned char file[512];
    uint64_t len = (uint64_t)hl;
    memcpy(file, &len, 8);
    memcpy(file + 8, header, hl);
    memcpy(file + 8 + hl, bias, 12);
    memcpy(file + 8 + hl + 12, w, 48);
    char *path = tu_write_temp("ab.safetensors", file, 8 + hl + 60);
    char text[1024];
    snprintf(text, sizeof text,
             "network ab { weights \"ab.safetensors\"; input x[4] range [0, 1]; fc = dense(x, 3); output fc; }\n"
             "explain e for ab { seed one; fc: alpha_beta(%g, %g, 0); }\n",
             alpha, beta);
    char *src = tu_write_temp("ab.xai", "", 0);
    eu_program p;
    eu_open(&p, src, text, 3, 1);
    cr_assert(p.ok, "%s", eu_messages(&p));
    for (int k = 0; k < 3; k++) {
        int32_t target = k;
        eu_run r = eu_explain(&p, "ab", "e", xin, &target, 1);
        cr_assert_eq(r.status, 0);
        double zp = 0, zn = 0;
        for (int i = 0; i < 4; i++) {
            double c = (double)xin[i] * w[k][i];
            if (c > 0)
                zp += c;
            else
                zn += c;
        }
        double bp = bias[k] > 0 ? bias[k] : 0, bn = bias[k] < 0 ? bias[k] : 0;
        zp += bp;
        zn += bn;
        double expected = 1 - alpha * bp / zp + (zn != 0 ? beta * bn / zn : 0);
        double got = 0;
        for (int i = 0; i < 4; i++) got += r.out[i];
        cr_expect(fabs(got - expected) <= 1e-5, "alpha %g beta %g, output %d: sum R = %.7f, expected %.7f", alpha, beta,
                  k, got, expected);
        eu_run_free(&r);
    }
    eu_close(&p);
    free(path);
    free(src);
}

Test(alpha_beta, deficit_equals_bias_terms_a1b0) { alpha_beta_deficit(1, 0); }
Test(alpha_beta, deficit_equals_bias_terms_a2b1) { alpha_beta_deficit(2, 1); }

/* A zero denominator without stabiliser gives relevance 0, never NaN: a dense layer whose negative
 * contributions are all zero (non-negative weights and inputs, no negative bias). */
Test(alpha_beta, zero_denominator_is_zero_not_nan)
{
    const float w[2][2] = { { 1, 2 }, { 0.5f, 0 } };
    char header[256];
    int hl =
        snprintf(header, sizeof header, "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}");
    unsigned char file[256];
    uint64_t len = (uint64_t)hl;
    memcpy(file, &len, 8);
    memcpy(file + 8, header, hl);
    memcpy(file + 8 + hl, w, 16);
    char *wpath = tu_write_temp("zd.safetensors", file, 8 + hl + 16);
    char *src = tu_write_temp("zd.xai", "", 0);
    const char *text =
        "network zd { weights \"zd.safetensors\"; input x[2]; fc = dense(x, 2, bias=false); output fc; }\n"
        "explain e for zd { seed one; fc: alpha_beta(2, 1, 0); }\n";
    eu_program p;
    eu_open(&p, src, text, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    const float x[2] = { 0, 0 }; /* every denominator is 0 */
    int32_t t = 0;
    eu_run r = eu_explain(&p, "zd", "e", x, &t, 1);
    cr_assert_eq(r.status, 0);
    for (int i = 0; i < 2; i++) cr_expect(r.out[i] == 0, "R[%d] = %g, expected 0", i, r.out[i]);
    eu_run_free(&r);
    const float x2[2] = { 1, 1 }; /* positive share fine, negative share 0/0 */
    r = eu_explain(&p, "zd", "e", x2, &t, 1);
    cr_assert_eq(r.status, 0);
    /* alpha = 2: R_i = 2 * x_i w+_0i / z+_0 = 2 * [1, 2] / 3 */
    cr_expect(fabsf(r.out[0] - 2.0f / 3) < 1e-6 && fabsf(r.out[1] - 4.0f / 3) < 1e-6, "got %g %g", r.out[0], r.out[1]);
    eu_run_free(&r);
    eu_close(&p);
    free(wpath);
    free(src);
}

/* The DESIGN example's my_gamma, and restatements of epsilon and z+, written by a user, against the built-ins. */
Test(user_rules, restating_builtins_gives_the_same_numbers)
{
    const char *text =
        "import \"mnist_cnn.xai\";\n"
        "rule my_gamma(g = 0.25) on dense, conv2d {\n"
        "    where(z > 0, share(pos(a) * (w + g * pos(w)) + neg(a) * (w + g * neg(w)) + b + g * pos(b), stabilize = "
        "1e-6),\n"
        "          where(z < 0, share(pos(a) * (w + g * neg(w)) + neg(a) * (w + g * pos(w)) + b + g * neg(b), "
        "stabilize = 1e-6), 0));\n"
        "}\n"
        "rule my_eps(e = 1e-6) on dense, conv2d { share(a * w + b, stabilize = e); }\n"
        "rule my_zplus on dense, conv2d { plus = pos(a) * pos(w) + neg(a) * neg(w); share(plus + pos(b), stabilize = "
        "1e-6); }\n"
        "explain builtin for mnist_cnn { seed one; conv2d: gamma(0.25); dense: epsilon(1e-6); first: zplus; }\n"
        "explain mine for mnist_cnn { seed one; conv2d: my_gamma(0.25); dense: my_eps; first: my_zplus; }\n";
    eu_program p;
    eu_open(&p, "models/user_rule_test.xai", text, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy("models/samples/digits.npy");
    eu_run a = eu_explain(&p, "mnist_cnn", "builtin", x.data, labels, 10);
    eu_run b = eu_explain(&p, "mnist_cnn", "mine", x.data, labels, 10);
    cr_assert(a.status == 0 && b.status == 0);
    double err = eu_rel_error(b.out, a.out, a.out_count * 10);
    cr_expect(err <= 1e-6, "user rules differ from the built-ins: %.3g", err);
    eu_run_free(&a);
    eu_run_free(&b);
    xai_array_free(&x);
    eu_close(&p);
}

/* seeds: the input relevance scales with the seed value (every rule is linear in R) */
Test(seeds, logit_softmax_relu_logit_scale_the_one_hot_result)
{
    const char *text = "import \"mnist_cnn.xai\";\n"
                       "explain one for mnist_cnn { seed one; rules epsilon_plus; }\n"
                       "explain logit for mnist_cnn { seed logit; rules epsilon_plus; }\n"
                       "explain softmax for mnist_cnn { seed softmax; rules epsilon_plus; }\n"
                       "explain relu_logit for mnist_cnn { seed relu_logit; rules epsilon_plus; }\n";
    eu_program p;
    eu_open(&p, "models/seed_test.xai", text, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy("models/samples/digits.npy");
    xai_array logits = eu_load_npy("tests/fixtures/forward/mnist_cnn_logits.npy");
    int32_t target[10] = { 3, 1, 2, 3, 4, 5, 6, 7, 8, 0 }; /* some targets are not the arg-max */
    eu_run one = eu_explain(&p, "mnist_cnn", "one", x.data, target, 10);
    const char *names[3] = { "logit", "softmax", "relu_logit" };
    for (int k = 0; k < 3; k++) {
        eu_run r = eu_explain(&p, "mnist_cnn", names[k], x.data, target, 10);
        cr_assert_eq(r.status, 0);
        for (int b = 0; b < 10; b++) {
            const float *l = logits.data + 10 * b;
            double lt = l[target[b]], scale;
            if (k == 0)
                scale = lt;
            else if (k == 2)
                scale = lt > 0 ? lt : 0;
            else {
                double m = l[0], z = 0;
                for (int j = 1; j < 10; j++) m = l[j] > m ? l[j] : m;
                for (int j = 0; j < 10; j++) z += exp(l[j] - m);
                scale = exp(lt - m) / z;
            }
            float *expect = malloc(sizeof(float) * 784);
            for (int i = 0; i < 784; i++) expect[i] = (float)(one.out[b * 784 + i] * scale);
            double err = eu_rel_error(r.out + b * 784, expect, 784);
            if (scale != 0)
                cr_expect(err <= 1e-5, "seed %s sample %d: %.3g", names[k], b, err);
            else
                for (int i = 0; i < 784; i++) cr_expect(r.out[b * 784 + i] == 0);
            free(expect);
        }
        eu_run_free(&r);
    }
    /* NULL target = arg-max = the label for these digits */
    eu_run am = eu_explain(&p, "mnist_cnn", "one", x.data, NULL, 10);
    eu_run lb = eu_explain(&p, "mnist_cnn", "one", x.data, labels, 10);
    cr_expect(eu_rel_error(am.out, lb.out, 7840) == 0, "NULL target is not the arg-max");
    eu_run_free(&am);
    eu_run_free(&lb);
    eu_run_free(&one);
    xai_array_free(&x);
    xai_array_free(&logits);
    eu_close(&p);
}

Test(seeds, bad_target_is_an_error_and_out_untouched)
{
    const char *text = "import \"mnist_cnn.xai\";\nexplain e for mnist_cnn { rules epsilon_plus; }\n";
    eu_program p;
    eu_open(&p, "models/target_test.xai", text, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy("models/samples/digits.npy");
    int32_t bad[2] = { 3, 10 };
    eu_run r = eu_explain(&p, "mnist_cnn", "e", x.data, bad, 2);
    cr_expect_eq(r.status, XAI_ETARGET);
    for (int i = 0; i < 2 * 784; i++) cr_assert(r.out[i] == 0, "out written on error");
    eu_run_free(&r);
    int32_t negative[1] = { -1 };
    r = eu_explain(&p, "mnist_cnn", "e", x.data, negative, 1);
    cr_expect_eq(r.status, XAI_ETARGET);
    eu_run_free(&r);
    xai_array_free(&x);
    eu_close(&p);
}

/* z+ on a layer that reads a concat of a relu output and a value that can be negative: the two orders of the
 * concat (with the head's weights permuted to match) are the same network and must get the same relevance. The
 * concat is non-negative only if every input is; reading its first input alone dropped the neg(a) terms of
 * concat([relu, conv]) but not of concat([conv, relu]). */
Test(user_rules, concat_order_does_not_change_relevance)
{
    static const float wa[4] = { 0.9f, -0.4f, -0.7f, 0.8f }, wn[4] = { 0.6f, 0.5f, -0.3f, 1.1f };
    static const float wh[8] = { 0.5f, -0.2f, 0.8f, 0.3f, -0.6f, 0.9f, 0.4f, 0.7f };
    float whq[8], wfc[36], x[18];
    for (int o = 0; o < 2; o++) /* hq reads [ng, pa]: input channels (0 1 2 3) of hp become (2 3 0 1) */
        for (int i = 0; i < 4; i++) whq[o * 4 + i] = wh[o * 4 + (i + 2) % 4];
    for (int i = 0; i < 36; i++) wfc[i] = (float)((i * 7 % 11) - 4) / 8.0f;
    for (int i = 0; i < 18; i++) x[i] = (float)((i * 5 % 13) - 6) / 6.0f;
    const tu_tensor t[] = {
        { "pa.weight", 4, { 2, 2, 1, 1 }, wa }, { "ng.weight", 4, { 2, 2, 1, 1 }, wn },
        { "hp.weight", 4, { 2, 4, 1, 1 }, wh }, { "hq.weight", 4, { 2, 4, 1, 1 }, whq },
        { "fc.weight", 2, { 2, 18 }, wfc },
    };
    char *wpath = tu_write_weights("cat.safetensors", t, 5); /* both networks read it: each leaves one tensor */
    const char *body =
        "weights \"cat.safetensors\" strict=false; input x[2, 3, 3] range [-1, 1];\n"
        "pa = conv2d(x, 2, kernel=1, bias=false); r = relu(pa); ng = conv2d(x, 2, kernel=1, bias=false);\n";
    char text[2048];
    snprintf(text, sizeof text,
             "network p { %s c = concat([r, ng]); hp = conv2d(c, 2, kernel=1, bias=false); f = flatten(hp);\n"
             "            fc = dense(f, 2, bias=false); output fc; }\n"
             "network q { %s c = concat([ng, r]); hq = conv2d(c, 2, kernel=1, bias=false); f = flatten(hq);\n"
             "            fc = dense(f, 2, bias=false); output fc; }\n"
             "explain ep for p { seed one; conv2d: zplus; dense: epsilon; }\n"
             "explain eq for q { seed one; conv2d: zplus; dense: epsilon; }\n",
             body, body);
    char *src = tu_write_temp("cat.xai", "", 0);
    eu_program prog;
    eu_open(&prog, src, text, 3, 0);
    cr_assert(prog.ok, "%s", eu_messages(&prog));
    int32_t target = 1;
    eu_run a = eu_explain(&prog, "p", "ep", x, &target, 1), b = eu_explain(&prog, "q", "eq", x, &target, 1);
    cr_assert(a.status == 0 && b.status == 0);
    double err = eu_rel_error(a.out, b.out, 18);
    cr_expect(err <= 1e-6, "concat([relu, conv]) and concat([conv, relu]) give different relevance: %.3g", err);
    eu_run_free(&a);
    eu_run_free(&b);
    eu_close(&prog);
    free(wpath);
    free(src);
}
