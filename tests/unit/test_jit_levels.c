/* The JIT at every optimisation level: an intermediate-size network (tens of thousands of MACs per
 * sample, every op) against the naive reference, the bundled CNN against its PyTorch fixture, and
 * two JIT instances alive at once. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naive_ref.c"
#include "testutil.h"

/* x[3, 16, 16] -> conv 8 same -> relu -> maxpool 2 -> conv 16 pad 1 -> bn (folded) -> relu -> bn (affine)
 *   -> avgpool 2 same -> (+ conv 1x1 branch) -> sigmoid -> flatten -> dense 32 -> relu -> dense 10 -> softmax,
 * plus a global_avgpool side branch added to the logits. */
static void build(nr_net *n, nr_rng *r)
{
    int x = nr_input(n, "x", 3, 3, 16, 16);
    int c1 = nr_conv(n, r, x, 8, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, "8, kernel=3, pad=same");
    int a1 = nr_simple(n, NR_RELU, c1, 0);
    int p1 = nr_pool(n, NR_MAXPOOL, a1, 2, 2, 2, 2, 0, 0, 0, 0, 0, "2"); /* [8, 8, 8] */
    int c2 = nr_conv(n, r, p1, 16, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, "16, kernel=3, pad=1, bias=false");
    int b2 = nr_batchnorm(n, r, c2, 1e-5, "");
    int a2 = nr_simple(n, NR_RELU, b2, 0);
    int b3 = nr_batchnorm(n, r, a2, 1e-5, "");
    int p2 = nr_pool(n, NR_AVGPOOL, b3, 2, 2, 2, 2, 0, 0, 0, 0, 1, "2, pad=same"); /* [16, 4, 4] */
    int c3 = nr_conv(n, r, p2, 16, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, "16, kernel=1");
    int s = nr_simple(n, NR_ADD, p2, c3);
    int sg = nr_simple(n, NR_SIGMOID, s, 0);
    int f = nr_simple(n, NR_FLATTEN, sg, 0); /* [256] */
    int d1 = nr_dense(n, r, f, 32, 1, "32");
    int a3 = nr_simple(n, NR_RELU, d1, 0);
    int d2 = nr_dense(n, r, a3, 10, 1, "10");
    int g = nr_simple(n, NR_GAP, c1, 0);
    int d3 = nr_dense(n, r, g, 10, 0, "10, bias=false");
    int s2 = nr_simple(n, NR_ADD, d2, d3);
    nr_simple(n, NR_SOFTMAX, s2, 0);
    snprintf(n->name, sizeof n->name, "mid");
}

static char *write_net(nr_net *net, const char *stem)
{
    char wname[64], xname[64];
    snprintf(wname, sizeof wname, "%s.safetensors", stem);
    snprintf(xname, sizeof xname, "%s.xai", stem);
    char *wpath = NULL;
    if (asprintf(&wpath, "%s/%s", tu_tmpdir(), wname) < 0) abort();
    cr_assert_eq(nr_write_safetensors(net, wpath), 0);
    free(wpath);
    char *text = nr_xai_text(net, wname);
    free(tu_write_temp(xname, text, strlen(text)));
    return text;
}

Test(jit_levels, intermediate_network_every_level, .timeout = 300)
{
    nr_net net;
    nr_rng r = { 12345 };
    build(&net, &r);
    char *text = write_net(&net, "mid");
    char *path = NULL;
    if (asprintf(&path, "%s/mid.xai", tu_tmpdir()) < 0) abort();
    const int batch = 5;
    int64_t in_count = nr_count(&net.L[0]), out_count = nr_count(&net.L[net.output]);
    cr_assert_eq(out_count, 10);
    float *x = malloc(sizeof(float) * in_count * batch);
    for (int64_t k = 0; k < in_count * batch; k++) x[k] = (float)nr_uniform(&r, 0, 1);
    double *ref = nr_forward(&net, x, batch);
    float *y[4];
    for (int opt = 0; opt <= 3; opt++) {
        nr_jit j;
        char *msg;
        if (nr_jit_open(&j, path, text, "mid", opt, &msg)) cr_assert_fail("-O%d: %s\n%s", opt, msg, text);
        cr_assert_eq(nr_run(&j, x, batch, out_count, &y[opt]), 0);
        double err, mref;
        nr_compare(y[opt], ref, out_count * batch, &err, &mref);
        cr_expect_leq(err, 1e-4 * mref + 1e-6, "-O%d: max error %g (max |ref| %g)\n%s", opt, err, mref, text);
        /* softmax: every sample sums to 1 */
        for (int b = 0; b < batch; b++) {
            double s = 0;
            for (int k = 0; k < 10; k++) s += y[opt][b * 10 + k];
            cr_expect(fabs(s - 1) < 1e-5, "-O%d: sample %d sums to %.8f", opt, b, s);
        }
        nr_jit_close(&j);
    }
    for (int opt = 1; opt <= 3; opt++) {
        double err, mref;
        double *y0 = malloc(sizeof(double) * out_count * batch);
        for (int64_t k = 0; k < out_count * batch; k++) y0[k] = y[0][k];
        nr_compare(y[opt], y0, out_count * batch, &err, &mref);
        cr_expect_leq(err, 1e-5 * mref, "-O%d vs -O0: %g", opt, err);
        free(y0);
    }
    for (int opt = 0; opt <= 3; opt++) free(y[opt]);
    free(ref);
    free(x);
    free(text);
    free(path);
    nr_net_free(&net);
}

/* models/mnist_cnn.xai through the JIT at every level equals the PyTorch logits. */
Test(jit_levels, mnist_cnn_every_level, .timeout = 300)
{
    char err[512];
    xai_array x = { 0 }, logits = { 0 };
    cr_assert_eq(xai_npy_read("models/samples/digits.npy", &x, 0, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(xai_npy_read("tests/fixtures/forward/mnist_cnn_logits.npy", &logits, 0, err, sizeof err), XAI_OK, "%s",
                 err);
    size_t len;
    char *text = tu_read_file("models/mnist_cnn.xai", &len);
    cr_assert_not_null(text);
    double max_ref = 0;
    for (int i = 0; i < 100; i++) max_ref = fmax(max_ref, fabs(logits.data[i]));
    for (int opt = 0; opt <= 3; opt++) {
        nr_jit j;
        char *msg;
        if (nr_jit_open(&j, "models/mnist_cnn.xai", text, "mnist_cnn", opt, &msg)) cr_assert_fail("-O%d: %s", opt, msg);
        float *y;
        cr_assert_eq(nr_run(&j, x.data, 10, 10, &y), 0);
        double max_err = 0;
        for (int i = 0; i < 100; i++) max_err = fmax(max_err, isnan(y[i]) ? INFINITY : fabs(y[i] - logits.data[i]));
        cr_expect_leq(max_err, 1e-5 * max_ref, "-O%d: max |y - torch| %g", opt, max_err);
        free(y);
        nr_jit_close(&j);
    }
    free(text);
    xai_array_free(&x);
    xai_array_free(&logits);
}

/* Two JITs with a network of the same name live side by side; unknown symbols are NULL. */
Test(jit_levels, two_jits_at_once)
{
    nr_net a, b;
    nr_rng r = { 777 };
    nr_input(&a, "x", 1, 6, 0, 0);
    nr_dense(&a, &r, 0, 4, 1, "4");
    snprintf(a.name, sizeof a.name, "twin");
    nr_input(&b, "x", 1, 6, 0, 0);
    int d = nr_dense(&b, &r, 0, 4, 0, "4, bias=false");
    nr_simple(&b, NR_SIGMOID, d, 0);
    snprintf(b.name, sizeof b.name, "twin");
    char *ta = write_net(&a, "twin_a"), *tb = write_net(&b, "twin_b");
    /* write_net names the weights after the stem; the texts refer to them */
    char *pa = NULL, *pb = NULL;
    if (asprintf(&pa, "%s/twin_a.xai", tu_tmpdir()) < 0 || asprintf(&pb, "%s/twin_b.xai", tu_tmpdir()) < 0) abort();
    nr_jit ja, jb;
    char *msg;
    if (nr_jit_open(&ja, pa, ta, "twin", 2, &msg)) cr_assert_fail("%s", msg);
    if (nr_jit_open(&jb, pb, tb, "twin", 2, &msg)) cr_assert_fail("%s", msg);
    cr_expect_null(jit_lookup(ja.jit, "twin_no_such_entry"));
    float x[2 * 6];
    for (int k = 0; k < 12; k++) x[k] = (float)nr_uniform(&r, -1, 1);
    double *ra = nr_forward(&a, x, 2), *rb = nr_forward(&b, x, 2);
    float *ya, *yb;
    cr_assert_eq(nr_run(&ja, x, 2, 4, &ya), 0);
    cr_assert_eq(nr_run(&jb, x, 2, 4, &yb), 0);
    double e, m;
    nr_compare(ya, ra, 8, &e, &m);
    cr_expect_leq(e, 1e-4 * m + 1e-6);
    nr_compare(yb, rb, 8, &e, &m);
    cr_expect_leq(e, 1e-4 * m + 1e-6);
    nr_jit_close(&ja);
    /* the other JIT still works after the first is gone */
    free(yb);
    cr_assert_eq(nr_run(&jb, x, 2, 4, &yb), 0);
    nr_compare(yb, rb, 8, &e, &m);
    cr_expect_leq(e, 1e-4 * m + 1e-6);
    nr_jit_close(&jb);
    free(ya);
    free(yb);
    free(ra);
    free(rb);
    free(ta);
    free(tb);
    free(pa);
    free(pb);
    nr_net_free(&a);
    nr_net_free(&b);
}

/* Argument validation survives optimisation: NaN/inf anywhere, bad batch, NULL, misalignment, at -O0..-O3. */
Test(jit_levels, validation_every_level)
{
    nr_net net;
    nr_rng r = { 4242 };
    nr_input(&net, "x", 3, 2, 4, 4);
    int c = nr_conv(&net, &r, 0, 3, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1, "3, kernel=3, pad=1");
    int f = nr_simple(&net, NR_FLATTEN, c, 0);
    nr_dense(&net, &r, f, 2, 1, "2");
    snprintf(net.name, sizeof net.name, "val");
    char *text = write_net(&net, "val");
    char *path = NULL;
    if (asprintf(&path, "%s/val.xai", tu_tmpdir()) < 0) abort();
    enum { B = 3, IN = 32 };
    for (int opt = 0; opt <= 3; opt++) {
        nr_jit j;
        char *msg;
        if (nr_jit_open(&j, path, text, "val", opt, &msg)) cr_assert_fail("-O%d: %s", opt, msg);
        float x[B * IN], y[B * 2];
        for (int k = 0; k < B * IN; k++) x[k] = (float)nr_uniform(&r, -1, 1);
        char *ws = NULL;
        cr_assert_eq(posix_memalign((void **)&ws, 64, j.workspace_size(B) + 128), 0);
        const int at[3] = { 0, IN + 7, B * IN - 1 };
        const float bad[3] = { NAN, INFINITY, -INFINITY };
        for (int p = 0; p < 3; p++)
            for (int v = 0; v < 3; v++) {
                float keep = x[at[p]];
                x[at[p]] = bad[v];
                memset(y, 0x5A, sizeof y);
                cr_expect_eq(j.forward(x, y, B, ws), XAI_ENAN, "-O%d: %g at %d", opt, bad[v], at[p]);
                unsigned char *q = (unsigned char *)y;
                for (size_t i = 0; i < sizeof y; i++)
                    if (q[i] != 0x5A) {
                        cr_expect_fail("-O%d: output written on ENAN", opt);
                        break;
                    }
                x[at[p]] = keep;
            }
        cr_expect_eq(j.forward(x, y, 0, ws), XAI_EBATCH, "-O%d", opt);
        cr_expect_eq(j.forward(x, y, -5, ws), XAI_EBATCH, "-O%d", opt);
        cr_expect_eq(j.forward(NULL, y, B, ws), XAI_ENULL, "-O%d", opt);
        cr_expect_eq(j.forward(x, NULL, B, ws), XAI_ENULL, "-O%d", opt);
        cr_expect_eq(j.forward(x, y, B, NULL), XAI_ENULL, "-O%d", opt);
        cr_expect_eq(j.forward(x, y, B, ws + 4), XAI_EALIGN, "-O%d", opt);
        cr_expect_eq(j.forward(x, y, B, ws), XAI_OK, "-O%d", opt);
        cr_expect_eq(j.workspace_size(0), 0u);
        cr_expect_eq(j.workspace_size(8), 8 * j.workspace_size(1));
        free(ws);
        nr_jit_close(&j);
    }
    free(text);
    free(path);
    nr_net_free(&net);
}
