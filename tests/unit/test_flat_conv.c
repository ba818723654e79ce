/* Convs on small planes (cg_corr_flat.c: tiles along the flattened output plane when the input rows are as wide as
 * the output rows) and their stride-1 transposes: forward, gradient and LRP of random layers of every shape class the
 * path takes (7x7 and 14x14 planes, kernels 2, 3 and 5, `same` and symmetric padding, dilation 2, rows padded but not
 * columns (H' != H), the largest plane it takes (16x16: four tiles), channel counts with a partial last block, batch
 * 1 and 3), against
 *   - the row tiles (cg_options.flat_off): bitwise, as both sum input channel by input channel, taps in order, from
 *     the bias (a masked lane adds w * 0);
 *   - the same code on 8-float vectors and with every parallel loop split (parallel_min_work = 1) on 3 threads:
 *     bitwise;
 *   - naive double-precision references written here: the conv with a fused ReLU, and the input gradient of a dense
 *     head on the conv (its row through the transposed conv), within 1e-5 of their largest values.
 * Networks: x -> conv2d -> relu (fused into the conv's kernel); the same conv -> flatten -> dense(3), explained by its
 * gradient and by LRP epsilon_plus and epsilon_gamma_box (the conv is the first layer: box, which reads W+ and W-). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naive_ref.c"
#include "testutil.h"
#include "xairt.h"

typedef struct flat_case {
    int C, H, W, k, dil, OC, batch;
    int pt, pl, pb, pr; /* padding: top, left, bottom, right */
} flat_case;

typedef struct compiled {
    xai_jit *jit;
    nr_forward_fn forward;
    nr_wsize_fn workspace_size, head_workspace_size;
    nr_entry_fn grad, lrp, box;
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
    out->forward = (nr_forward_fn)lookup(out->jit, "fl", "forward");
    out->workspace_size = (nr_wsize_fn)lookup(out->jit, "fl", "workspace_size");
    out->head_workspace_size = (nr_wsize_fn)lookup(out->jit, "flhead", "workspace_size");
    out->grad = (nr_entry_fn)lookup(out->jit, "flhead", "grad");
    out->lrp = (nr_entry_fn)lookup(out->jit, "flhead", "lrp");
    out->box = (nr_entry_fn)lookup(out->jit, "flhead", "box");
}

static void *workspace(size_t bytes)
{
    void *ws = nr_workspace(bytes);
    cr_assert_not_null(ws);
    return ws;
}

/* conv + relu, then the head's gradient, LRP epsilon_plus and epsilon_gamma_box, concatenated (malloc'd) */
static float *run(const compiled *m, const float *x, int batch, int64_t in_n, int64_t conv_n, size_t *count)
{
    *count = (size_t)batch * (conv_n + 3 * in_n);
    float *r = malloc(sizeof(float) * *count);
    void *ws = workspace(m->workspace_size(batch));
    cr_assert_eq(m->forward(x, r, batch, ws), 0);
    free(ws);
    ws = workspace(m->head_workspace_size(batch));
    int32_t target[3] = { 2, 0, 1 };
    float *at = r + batch * conv_n;
    cr_assert_eq(m->grad(x, target, at, batch, ws), 0);
    cr_assert_eq(m->lrp(x, target, at + batch * in_n, batch, ws), 0);
    cr_assert_eq(m->box(x, target, at + 2 * batch * in_n, batch, ws), 0);
    free(ws);
    return r;
}

static size_t first_difference(const float *a, const float *b, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (memcmp(&a[k], &b[k], sizeof(float))) return k;
    return n;
}

static void check_case(const flat_case *t, int index)
{
    int C = t->C, H = t->H, W = t->W, k = t->k, d = t->dil, B = t->batch, OC = t->OC;
    int OH = H + t->pt + t->pb - d * (k - 1), OW = W + t->pl + t->pr - d * (k - 1);
    cr_assert_eq(OW, W, "case %d: the flat path needs rows as wide as the input's", index);
    int64_t in_n = (int64_t)C * H * W, conv_n = (int64_t)OC * OH * OW;
    nr_rng r = { 3000 + (uint64_t)index };
    float *w = malloc(sizeof(float) * OC * C * k * k), *bias = malloc(sizeof(float) * OC);
    float *hw = malloc(sizeof(float) * 3 * conv_n), hb[3];
    for (int i = 0; i < OC * C * k * k; i++) w[i] = (float)nr_uniform(&r, -1, 1);
    for (int i = 0; i < OC; i++) bias[i] = (float)nr_uniform(&r, -0.5, 0.5);
    for (int64_t i = 0; i < 3 * conv_n; i++) hw[i] = (float)nr_uniform(&r, -1, 1);
    for (int i = 0; i < 3; i++) hb[i] = (float)nr_uniform(&r, -0.5, 0.5);
    tu_tensor tensors[] = {
        { "y.weight", 4, { OC, C, k, k }, w },
        { "y.bias", 1, { OC }, bias },
        { "d.weight", 2, { 3, conv_n }, hw },
        { "d.bias", 1, { 3 }, hb },
    };
    char wname[64], hname[64], xname[64], conv[200], *text = NULL;
    snprintf(wname, sizeof wname, "fl%d.safetensors", index);
    snprintf(hname, sizeof hname, "flh%d.safetensors", index);
    free(tu_write_weights(wname, tensors, 2));
    free(tu_write_weights(hname, tensors, 4));
    snprintf(conv, sizeof conv, "conv2d(x, %d, kernel=%d, dilation=%d, pad=[%d, %d, %d, %d])", OC, k, d, t->pt, t->pl,
             t->pb, t->pr);
    cr_assert(asprintf(&text,
                       "network fl { weights \"%s\"; input x[%d, %d, %d]; y = %s; a = relu(y); output a; }\n"
                       "network flhead { weights \"%s\"; input x[%d, %d, %d] range [-1, 1]; y = %s; f = flatten(y); "
                       "d = dense(f, 3); output d; }\n"
                       "explain grad for flhead { method gradient; }\n"
                       "explain lrp for flhead { rules epsilon_plus; }\n"
                       "explain box for flhead { rules epsilon_gamma_box; }\n",
                       wname, C, H, W, conv, hname, C, H, W, conv) > 0);
    snprintf(xname, sizeof xname, "fl%d.xai", index);
    char *path = tu_write_temp(xname, text, strlen(text));

    /* (Winograd off: some of these 3x3 layers would take it, on 16-float vectors only) */
    cg_options rows = { .flat_off = 1, .threads_off = 1, .winograd_off = 1 },
               split = { .parallel_min_work = 1, .winograd_off = 1 },
               narrow = { .vector_floats = 8, .winograd_off = 1 }, dflt = { .winograd_off = 1 };
    compiled ref, par, nar, def;
    compile_text(&ref, path, text, &rows);
    compile_text(&par, path, text, &split);
    compile_text(&nar, path, text, &narrow);
    compile_text(&def, path, text, &dflt);

    float *x = malloc(sizeof(float) * in_n * B);
    for (int64_t i = 0; i < in_n * B; i++) x[i] = (float)nr_uniform(&r, -1, 1);
    size_t n;
    char desc[200];
    snprintf(desc, sizeof desc, "case %d: %d -> %d channels, %dx%d, k %d, dilation %d, pad %d %d %d %d, batch %d",
             index, C, OC, H, W, k, d, t->pt, t->pl, t->pb, t->pr, B);
    xai_set_num_threads(1);
    float *want = run(&ref, x, B, in_n, conv_n, &n);
    const compiled *variants[3] = { &par, &nar, &def };
    const char *names[3] = { "every loop split", "8-float vectors", "default" };
    for (int which = 0; which < 3; which++) {
        xai_set_num_threads(which == 0 ? 3 : 2);
        float *got = run(variants[which], x, B, in_n, conv_n, &n);
        size_t bad = first_difference(got, want, n), fw = (size_t)B * conv_n, part = (size_t)B * in_n;
        const char *what = bad < fw ? "forward"
            : bad < fw + part       ? "gradient"
            : bad < fw + 2 * part   ? "lrp epsilon_plus"
                                    : "lrp epsilon_gamma_box";
        cr_expect_eq(bad, n, "%s (%s): %s output %zu is %.9g, row tiles %.9g", desc, names[which], what, bad,
                     bad < n ? got[bad] : 0.0, bad < n ? want[bad] : 0.0);
        free(got);
    }

    /* naive references: the conv (+ relu), and the head's input gradient (its row through the transposed conv) */
    xai_set_num_threads(2);
    float *got = run(&def, x, B, in_n, conv_n, &n);
    double worst_f = 0, worst_g = 0, scale_f = 0, scale_g = 0;
    int32_t target[3] = { 2, 0, 1 };
    for (int b = 0; b < B; b++) {
        double *grad = calloc(in_n, sizeof(double));
        for (int oc = 0; oc < OC; oc++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double s = bias[oc];
                    int64_t o = ((int64_t)oc * OH + oy) * OW + ox;
                    double seed = hw[(int64_t)target[b] * conv_n + o];
                    for (int ci = 0; ci < C; ci++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy + ky * d - t->pt, ix = ox + kx * d - t->pl;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                int64_t xi = ((int64_t)ci * H + iy) * W + ix;
                                double wv = w[((oc * C + ci) * k + ky) * k + kx];
                                s += wv * x[b * in_n + xi];
                                grad[xi] += wv * seed;
                            }
                    double want_f = s > 0 ? s : 0;
                    worst_f = fmax(worst_f, fabs(want_f - got[b * conv_n + o]));
                    scale_f = fmax(scale_f, fabs(want_f));
                }
        for (int64_t i = 0; i < in_n; i++) {
            worst_g = fmax(worst_g, fabs(grad[i] - got[B * conv_n + b * in_n + i]));
            scale_g = fmax(scale_g, fabs(grad[i]));
        }
        free(grad);
    }
    cr_expect(scale_f > 0 && scale_g > 0, "%s: all zero", desc);
    cr_expect_leq(worst_f, 1e-5 * scale_f, "%s: forward differs from the naive conv by %g of %g", desc, worst_f,
                  scale_f);
    cr_expect_leq(worst_g, 1e-5 * scale_g, "%s: gradient differs from the naive transposed conv by %g of %g", desc,
                  worst_g, scale_g);
    xai_set_num_threads(0);
    free(got), free(want), free(x), free(text), free(path), free(w), free(bias), free(hw);
    jit_free(ref.jit), jit_free(par.jit), jit_free(nar.jit), jit_free(def.jit);
}

static const flat_case cases[] = {
    /* C, H, W, k, dilation, OC, batch, pad top, left, bottom, right; C >= 12: the transpose takes the path too */
    { 5, 7, 7, 3, 1, 13, 1, 1, 1, 1, 1 },  { 13, 14, 14, 3, 1, 12, 3, 1, 1, 1, 1 },
    { 12, 7, 7, 5, 1, 18, 2, 2, 2, 2, 2 }, { 2, 5, 9, 3, 1, 14, 1, 1, 1, 1, 1 },
    { 12, 6, 6, 2, 1, 12, 1, 0, 0, 1, 1 }, { 14, 9, 9, 3, 2, 12, 2, 2, 2, 2, 2 },
    { 3, 10, 8, 3, 1, 13, 1, 0, 1, 0, 1 }, { 12, 16, 16, 3, 1, 24, 1, 1, 1, 1, 1 },
    { 64, 7, 7, 3, 1, 32, 3, 1, 1, 1, 1 },
};

Test(flat_conv, shapes_against_row_tiles_and_naive, .timeout = 600)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_case(&cases[i], (int)i);
}
