/* Depthwise convs (cg_depthwise.c): forward, gradient and LRP of random depthwise layers of every shape
 * class the path takes (3x3 and 5x5, stride 1 and 2, PyTorch's symmetric and TensorFlow's `same` padding,
 * channel multiplier 1 and 2, odd widths, batch 1 and 3; and grouped convs of 2 input channels per group),
 * against
 *   - the general blocked correlation (cg_options.depthwise_off): bitwise, as both sum the taps in the
 *     same order (bias, then ky, kx; input channels outermost);
 *   - the same code with every parallel loop split (parallel_min_work = 1) on 3 threads: bitwise;
 *   - naive double-precision references written here: the conv with a fused ReLU, and the input
 *     gradient of a dense head on the conv (the transposed conv of the head's row).
 * A network is x -> conv2d(groups = C) -> relu (fused into the conv's kernel), and the same conv followed
 * by flatten and a dense layer of 3 units for the gradient and LRP: the gradient runs the transposed conv,
 * whose stride-2 column phases are paired into one kernel (odd widths: the second phase is one column
 * shorter). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naive_ref.c"
#include "testutil.h"
#include "xairt.h"

typedef struct dw_case {
    int C, H, W, k, s, mult, batch; /* mult: output channels per group */
    int tf_same;                    /* pad=same (TensorFlow: extra row / column at the end) rather than pad=k/2 */
    int icg;                        /* input channels per group (1: depthwise) */
} dw_case;

typedef struct dw_geom {
    int OC, OH, OW, pt, pl;
} dw_geom;

static dw_geom geom(const dw_case *t)
{
    dw_geom g = { .OC = t->C / t->icg * t->mult };
    if (t->tf_same) {
        int hi;
        nr_same_pad(t->H, t->k, t->s, &g.pt, &hi);
        nr_same_pad(t->W, t->k, t->s, &g.pl, &hi);
        g.OH = (t->H + t->s - 1) / t->s, g.OW = (t->W + t->s - 1) / t->s;
    } else {
        g.pt = g.pl = t->k / 2;
        g.OH = (t->H + 2 * g.pt - t->k) / t->s + 1, g.OW = (t->W + 2 * g.pl - t->k) / t->s + 1;
    }
    return g;
}

typedef struct compiled {
    xai_jit *jit;
    nr_forward_fn forward, head_forward;
    nr_wsize_fn workspace_size, head_workspace_size;
    nr_entry_fn grad, lrp;
} compiled;

static void *lookup(xai_jit *j, const char *net, const char *what)
{
    void *f = nr_symbol(j, net, what);
    cr_assert_not_null(f, "missing %s_%s", net, what);
    return f;
}

static void compile_text(compiled *out, const char *path, const char *text, const cg_options *opt)
{
    char *msg = NULL;
    out->jit = nr_jit_compile(path, text, opt, &msg);
    cr_assert_not_null(out->jit, "%s", msg ? msg : "?");
    out->forward = (nr_forward_fn)lookup(out->jit, "dw", "forward");
    out->workspace_size = (nr_wsize_fn)lookup(out->jit, "dw", "workspace_size");
    out->head_forward = (nr_forward_fn)lookup(out->jit, "dwhead", "forward");
    out->head_workspace_size = (nr_wsize_fn)lookup(out->jit, "dwhead", "workspace_size");
    out->grad = (nr_entry_fn)lookup(out->jit, "dwhead", "grad");
    out->lrp = (nr_entry_fn)lookup(out->jit, "dwhead", "lrp");
}

static void *workspace(size_t bytes)
{
    void *ws = nr_workspace(bytes);
    cr_assert_not_null(ws);
    return ws;
}

/* conv + relu, then the head's gradient and LRP, concatenated (malloc'd) */
static float *run(const compiled *m, const float *x, int batch, int64_t in_n, int64_t conv_n, size_t *count)
{
    *count = (size_t)batch * (conv_n + 2 * in_n);
    float *r = malloc(sizeof(float) * *count);
    void *ws = workspace(m->workspace_size(batch));
    cr_assert_eq(m->forward(x, r, batch, ws), 0);
    free(ws);
    ws = workspace(m->head_workspace_size(batch));
    int32_t target[4] = { 2, 0, 1, 2 };
    cr_assert_eq(m->grad(x, target, r + batch * conv_n, batch, ws), 0);
    cr_assert_eq(m->lrp(x, target, r + batch * (conv_n + in_n), batch, ws), 0);
    free(ws);
    return r;
}

static size_t first_difference(const float *a, const float *b, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (memcmp(&a[k], &b[k], sizeof(float))) return k;
    return n;
}

static void check_case(const dw_case *t, int index)
{
    dw_geom g = geom(t);
    int C = t->C, H = t->H, W = t->W, k = t->k, B = t->batch, OC = g.OC, icg = t->icg;
    int64_t in_n = (int64_t)C * H * W, conv_n = (int64_t)OC * g.OH * g.OW;
    nr_rng r = { 1000 + (uint64_t)index };
    float *w = malloc(sizeof(float) * OC * icg * k * k), *bias = malloc(sizeof(float) * OC);
    float *hw = malloc(sizeof(float) * 3 * conv_n), hb[3];
    for (int i = 0; i < OC * icg * k * k; i++) w[i] = (float)nr_uniform(&r, -1, 1);
    for (int i = 0; i < OC; i++) bias[i] = (float)nr_uniform(&r, -0.5, 0.5);
    for (int64_t i = 0; i < 3 * conv_n; i++) hw[i] = (float)nr_uniform(&r, -1, 1);
    for (int i = 0; i < 3; i++) hb[i] = (float)nr_uniform(&r, -0.5, 0.5);
    char wname[64];
    snprintf(wname, sizeof wname, "dw%d.safetensors", index);
    tu_tensor tensors[] = {
        { "y.weight", 4, { OC, icg, k, k }, w },
        { "y.bias", 1, { OC }, bias },
        { "d.weight", 2, { 3, conv_n }, hw },
        { "d.bias", 1, { 3 }, hb },
    };
    free(tu_write_weights(wname, tensors, 2));
    char hname[64];
    snprintf(hname, sizeof hname, "dwh%d.safetensors", index);
    free(tu_write_weights(hname, tensors, 4));
    char conv[160], pad[16], *text = NULL;
    if (t->tf_same)
        snprintf(pad, sizeof pad, "same");
    else
        snprintf(pad, sizeof pad, "%d", k / 2);
    snprintf(conv, sizeof conv, "conv2d(x, %d, kernel=%d, stride=%d, pad=%s, groups=%d)", OC, k, t->s, pad, C / icg);
    cr_assert(asprintf(&text,
                       "network dw { weights \"%s\"; input x[%d, %d, %d]; y = %s; a = relu(y); output a; }\n"
                       "network dwhead { weights \"%s\"; input x[%d, %d, %d]; y = %s; f = flatten(y); "
                       "d = dense(f, 3); output d; }\n"
                       "explain grad for dwhead { method gradient; }\n"
                       "explain lrp for dwhead { rules epsilon_plus; }\n",
                       wname, C, H, W, conv, hname, C, H, W, conv) > 0);
    char xname[64];
    snprintf(xname, sizeof xname, "dw%d.xai", index);
    char *path = tu_write_temp(xname, text, strlen(text));

    cg_options general = { .depthwise_off = 1, .threads_off = 1 }, split = { .parallel_min_work = 1 }, dflt = { 0 };
    compiled ref, par, def;
    compile_text(&ref, path, text, &general);
    compile_text(&par, path, text, &split);
    compile_text(&def, path, text, &dflt);

    float *x = malloc(sizeof(float) * in_n * B);
    for (int64_t i = 0; i < in_n * B; i++) x[i] = (float)nr_uniform(&r, -1, 1);
    size_t n;
    xai_set_num_threads(1);
    float *want = run(&ref, x, B, in_n, conv_n, &n);
    const char *what = "?";
    char desc[160];
    snprintf(desc, sizeof desc, "case %d: C %d, %dx%d, k %d, stride %d, %d -> %d channels per group, batch %d%s", index,
             C, H, W, k, t->s, icg, t->mult, B, t->tf_same ? ", pad=same" : "");
    for (int which = 0; which < 2; which++) {
        xai_set_num_threads(which ? 2 : 3);
        float *got = run(which ? &def : &par, x, B, in_n, conv_n, &n);
        size_t bad = first_difference(got, want, n);
        what = bad < (size_t)B * conv_n ? "forward" : bad < (size_t)B * (conv_n + in_n) ? "gradient" : "lrp";
        cr_expect_eq(bad, n, "%s (%s): %s output %zu is %.9g, general correlation %.9g", desc,
                     which ? "default" : "every loop split", what, bad, bad < n ? got[bad] : 0.0,
                     bad < n ? want[bad] : 0.0);
        free(got);
    }
    xai_set_num_threads(0);

    /* naive references: the conv (+ relu), and the head's input gradient (its row through the transposed conv) */
    xai_set_num_threads(2);
    float *got = run(&def, x, B, in_n, conv_n, &n);
    double worst_f = 0, worst_g = 0;
    int32_t target[4] = { 2, 0, 1, 2 };
    for (int b = 0; b < B; b++) {
        double *grad = calloc(in_n, sizeof(double));
        for (int oc = 0; oc < OC; oc++) {
            int ci0 = oc / t->mult * icg;
            for (int oy = 0; oy < g.OH; oy++)
                for (int ox = 0; ox < g.OW; ox++) {
                    double s = bias[oc];
                    int64_t o = ((int64_t)oc * g.OH + oy) * g.OW + ox;
                    double seed = hw[(int64_t)target[b] * conv_n + o];
                    for (int ci = 0; ci < icg; ci++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * t->s + ky - g.pt, ix = ox * t->s + kx - g.pl;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                int64_t xi = ((int64_t)(ci0 + ci) * H + iy) * W + ix;
                                double wv = w[((oc * icg + ci) * k + ky) * k + kx];
                                s += wv * x[b * in_n + xi];
                                grad[xi] += wv * seed;
                            }
                    double e = fabs((s > 0 ? s : 0) - got[b * conv_n + o]);
                    if (e > worst_f) worst_f = e;
                }
        }
        for (int64_t i = 0; i < in_n; i++) {
            double e = fabs(grad[i] - got[B * conv_n + b * in_n + i]);
            if (e > worst_g) worst_g = e;
        }
        free(grad);
    }
    cr_expect_leq(worst_f, 1e-5, "%s: forward differs from the naive conv by %g", desc, worst_f);
    cr_expect_leq(worst_g, 1e-5, "%s: gradient differs from the naive transposed conv by %g", desc, worst_g);
    xai_set_num_threads(0);
    free(got);
    free(want);
    free(x);
    jit_free(ref.jit);
    jit_free(par.jit);
    jit_free(def.jit);
    free(text);
    free(path);
    free(w);
    free(bias);
    free(hw);
}

static const dw_case cases[] = {
    { 5, 7, 7, 3, 1, 1, 1, 0, 1 },     { 4, 14, 15, 3, 2, 1, 3, 0, 1 },   { 3, 15, 14, 5, 1, 2, 1, 0, 1 },
    { 6, 56, 56, 3, 2, 2, 1, 0, 1 },   { 2, 112, 112, 3, 1, 1, 1, 0, 1 }, { 3, 14, 14, 5, 2, 1, 3, 0, 1 },
    { 4, 7, 7, 5, 1, 1, 3, 0, 1 },     { 2, 15, 15, 3, 1, 2, 3, 0, 1 },   { 3, 15, 7, 3, 2, 2, 3, 0, 1 },
    { 4, 14, 14, 3, 2, 1, 1, 1, 1 },   { 3, 15, 15, 5, 2, 2, 1, 1, 1 },   { 2, 56, 56, 5, 1, 1, 1, 0, 1 },
    { 3, 112, 112, 3, 2, 1, 1, 0, 1 }, { 8, 15, 14, 3, 1, 2, 3, 0, 2 },   { 6, 14, 15, 3, 2, 2, 1, 0, 2 },
    { 4, 14, 14, 3, 2, 1, 3, 0, 2 },
};

Test(depthwise, shapes_against_general_and_naive, .timeout = 600)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_case(&cases[i], (int)i);
}
