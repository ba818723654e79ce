/* `from L`: the target is a channel of layer L, and the explanation is that of the channel's summed
 * activation (the seed's 3.1 deconvnet of a feature map). Checked against
 * - central finite differences of the channel sum, computed by the naive double forward pass of a cut
 *   network (tests/unit/naive_ref.c) whose dense head sums channel k into logit k;
 * - the same explanation of that cut network through the ordinary logit seed (gradient, IG, SmoothGrad,
 *   LRP with LRP-0 on the summing head, which hands each activation its own value);
 * plus the null target (the channel of largest sum), the target range, and the diagnostics. */
#include <criterion/criterion.h>

#include "explain_util.h"
#include "naive_ref.c"
#include "explain_nr_util.h"
#include "testutil.h"

enum { CHANNELS = 4, PER_CHANNEL = 16, BATCH = 3 };

/* input [2,7,7] -> conv3 -> relu -> maxpool(same) [3,4,4] -> conv4 -> relu = l5 [4,4,4]; then either the
 * network's own head (flatten, dense 6, relu, dense 4) or, cut, flatten and a dense head summing each channel */
static void build(nr_net *net, int cut)
{
    nr_rng rng = { 0x5eed0f0du };
    memset(net, 0, sizeof *net);
    int h = nr_input(net, "x", 3, 2, 7, 7);
    snprintf(net->name, sizeof net->name, cut ? "cut" : "full");
    h = nr_conv(net, &rng, h, 3, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1, "3, kernel=3, pad=1");
    h = nr_simple(net, NR_RELU, h, 0);
    h = nr_pool(net, NR_MAXPOOL, h, 2, 2, 2, 2, 0, 0, 0, 0, 1, "2, pad=same");
    h = nr_conv(net, &rng, h, CHANNELS, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1, "4, kernel=3, pad=1");
    h = nr_simple(net, NR_RELU, h, 0);
    cr_assert_str_eq(net->L[h].name, "l5");
    h = nr_simple(net, NR_FLATTEN, h, 0);
    if (cut) {
        h = nr_dense(net, &rng, h, CHANNELS, 0, "4, bias=false");
        for (int k = 0; k < CHANNELS; k++)
            for (int j = 0; j < CHANNELS * PER_CHANNEL; j++)
                net->L[h].w[k * CHANNELS * PER_CHANNEL + j] = j / PER_CHANNEL == k ? 1.0f : 0.0f;
    } else {
        h = nr_dense(net, &rng, h, 6, 1, "6");
        h = nr_simple(net, NR_RELU, h, 0);
        h = nr_dense(net, &rng, h, 4, 1, "4");
    }
    net->output = h;
}

static eu_program open_text(const nr_net *net, const char *explains) { return eu_open_nr(net, explains, "from", 1); }

static float *inputs(void)
{
    nr_rng rng = { 77 };
    float *x = malloc(sizeof(float) * BATCH * 98);
    for (int i = 0; i < BATCH * 98; i++) x[i] = (float)nr_uniform(&rng, -1, 1);
    return x;
}

Test(from, gradient_equals_finite_differences_of_the_channel_sum)
{
    nr_net full, cut;
    build(&full, 0);
    build(&cut, 1);
    eu_program p = open_text(&full, "explain e for full { method gradient; from l5; }");
    float *x = inputs(), xp[98];
    for (int32_t k = 0; k < CHANNELS; k++) {
        eu_run r = eu_explain(&p, "full", "e", x, &k, 1);
        cr_assert_eq(r.status, 0);
        double err = 0, mag = 0;
        for (int i = 0; i < 98; i++) {
            const double h = 1e-3;
            memcpy(xp, x, sizeof xp);
            xp[i] = (float)(x[i] + h);
            double *fp = nr_forward(&cut, xp, 1);
            xp[i] = (float)(x[i] - h);
            double *fm = nr_forward(&cut, xp, 1);
            double fd = (fp[k] - fm[k]) / ((double)(float)(x[i] + h) - (double)(float)(x[i] - h));
            free(fp);
            free(fm);
            err = fmax(err, fabs(fd - r.out[i]));
            mag = fmax(mag, fabs(fd));
        }
        cr_expect(mag > 0, "channel %d: the finite differences vanish; the test checks nothing", k);
        cr_expect(err <= 2e-3 * mag + 1e-6, "channel %d: |gradient - finite differences| = %g (max %g)", k, err, mag);
        eu_run_free(&r);
    }
    free(x);
    eu_close(&p);
    nr_net_free(&full);
    nr_net_free(&cut);
}

/* explanation `name` of `full` (from l5) against `cut_name` of the cut network, every channel, a batch */
static void expect_same_as_cut(eu_program *pf, const char *name, eu_program *pc, const char *cut_name, double tol)
{
    float *x = inputs();
    for (int32_t k = 0; k < CHANNELS; k++) {
        int32_t t[BATCH] = { k, k, k };
        eu_run a = eu_explain(pf, "full", name, x, t, BATCH), b = eu_explain(pc, "cut", cut_name, x, t, BATCH);
        cr_assert(a.status == 0 && b.status == 0);
        double e = eu_rel_error(a.out, b.out, BATCH * 98);
        cr_expect(e <= tol, "%s, channel %d: relative difference %g from the cut network", name, k, e);
        eu_run_free(&a);
        eu_run_free(&b);
    }
    free(x);
}

Test(from, each_method_equals_the_cut_network_with_a_summing_head)
{
    nr_net full, cut;
    build(&full, 0);
    build(&cut, 1);
    eu_program pf = open_text(&full,
                              "explain g for full { method gradient; from l5; }\n"
                              "explain ig for full { method integrated_gradients(steps=6); from l5; }\n"
                              "explain sg for full { method smoothgrad(samples=5, sigma=0.3); from l5; }\n"
                              "explain lrp for full { rules epsilon_plus; from l5; }\n"
                              "explain guided for full { method gradient; relu: guided; from l5; }");
    eu_program pc = open_text(&cut,
                              "explain g for cut { method gradient; }\n"
                              "explain ig for cut { method integrated_gradients(steps=6); }\n"
                              "explain sg for cut { method smoothgrad(samples=5, sigma=0.3); }\n"
                              "explain lrp for cut { rules epsilon_plus; l7: epsilon(0); }\n"
                              "explain guided for cut { method gradient; relu: guided; }");
    const char *names[] = { "g", "ig", "sg", "lrp", "guided" };
    for (int m = 0; m < 5; m++) expect_same_as_cut(&pf, names[m], &pc, names[m], 1e-5);
    eu_close(&pf);
    eu_close(&pc);
    nr_net_free(&full);
    nr_net_free(&cut);
}

Test(from, null_target_is_the_channel_of_largest_sum_and_range_is_the_channels)
{
    nr_net full, cut;
    build(&full, 0);
    build(&cut, 1);
    eu_program p = open_text(&full, "explain g for full { method gradient; from l5; }");
    float *x = inputs();
    double *sums = nr_forward(&cut, x, BATCH);
    int32_t best[BATCH];
    for (int b = 0; b < BATCH; b++) {
        best[b] = 0;
        for (int k = 1; k < CHANNELS; k++)
            if (sums[b * CHANNELS + k] > sums[b * CHANNELS + best[b]]) best[b] = k;
    }
    eu_run none = eu_explain(&p, "full", "g", x, NULL, BATCH), given = eu_explain(&p, "full", "g", x, best, BATCH);
    cr_assert(none.status == 0 && given.status == 0);
    for (int i = 0; i < BATCH * 98; i++) cr_assert_eq(none.out[i], given.out[i], "element %d", i);
    int32_t bad[BATCH] = { 0, CHANNELS, 0 };
    eu_run r = eu_explain(&p, "full", "g", x, bad, BATCH);
    cr_expect_eq(r.status, XAI_ETARGET, "target %d of %d channels gave status %d", CHANNELS, CHANNELS, r.status);
    eu_run_free(&r);
    eu_run_free(&none);
    eu_run_free(&given);
    free(sums);
    free(x);
    eu_close(&p);
    nr_net_free(&full);
    nr_net_free(&cut);
}

/* the diagnostic for one bad explain block, compiled against the full network */
static void expect_error(const char *explain, const char *message)
{
    nr_net full;
    build(&full, 0);
    eu_program p = eu_open_nr(&full, explain, "err", 0);
    cr_expect(!p.ok, "accepted: %s", explain);
    cr_expect(strstr(eu_messages(&p), message), "for %s\nwanted '%s', got:\n%s", explain, message, eu_messages(&p));
    eu_close(&p);
    nr_net_free(&full);
}

Test(from, diagnostics)
{
    expect_error("explain e for full { method gradient; from x; }", "that is the input");
    expect_error("explain e for full { method gradient; from l99; }", "`from`: no layer 'l99' in network 'full'");
    expect_error("explain e for full { method gradient; from 3; }", "`from` takes a layer name");
    expect_error("explain e for full { rules epsilon_plus; seed softmax; from l5; }",
                 "`seed softmax` needs the network's logits");
    expect_error("explain e for full { method deeplift; from l5; }", "`from` applies to methods");
    expect_error("explain e for full { method gradcam; from l5; }", "`from` applies to methods");
    expect_error("explain e for full { rules epsilon_plus; at l7; from l5; }", "`at l7`: not before layer 'l5'");
}

/* the command line: --target names a channel of the `from` layer, and the error says so */
Test(from, xaic_run_target_is_a_channel)
{
    const char *text = "import \"" XAIC_SOURCE_DIR "/models/mnist_cnn_nobias.xai\";\n"
                       "explain deconv3 for mnist_cnn_nobias { method gradient; relu: deconvnet; from pool3; }\n";
    char *src = tu_write_temp("deconv_pool3.xai", text, strlen(text));
    char *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&cmd,
                       "'%s' run %s --explain deconv3 --input models/samples/digit_7.npy --target 128 -o %s/d.npy",
                       XAIC_EXE, src, tu_tmpdir()) > 0);
    cr_expect_eq(tu_run(cmd, &out), 1);
    cr_expect(strstr(out, "--target 128 is not a channel of layer 'pool3' (0 .. 127)"), "%s", out);
    free(out);
    free(cmd);
    cr_assert(asprintf(&cmd,
                       "'%s' run %s --explain deconv3 --input models/samples/digit_7.npy --target 127 -o %s/d.npy",
                       XAIC_EXE, src, tu_tmpdir()) > 0);
    cr_expect_eq(tu_run(cmd, &out), 0, "%s", out);
    free(out);
    free(cmd);
    free(src);
}
