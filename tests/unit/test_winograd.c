/* Winograd F(2x2, 3x3) convolutions (opt/winograd.h, codegen/cg_winograd.c) on random layers of every shape class
 * the path takes: PyTorch's pad 1 and 0 and TensorFlow's `same`, even and odd heights and widths (a last row of
 * tiles and a last unit of 16 tiles cut short), widths of one unit and of several, channel counts that are not
 * multiples of the GEMM tiles, with and without bias, a fused ReLU, batch 1 to 5, narrow planes (7 to 14 wide: several
 * rows of tiles per unit, the last unit cut), filters large enough that the
 * whole layer runs at once (WINOGRAD_WHOLE_MIN_FILTER_BYTES), embedded and external weights
 * (the transformed filters computed at compile time and when the weights are bound). Against
 *   - a naive double-precision correlation written here: |winograd - exact| <= 1e-6 x (sum over the taps of
 *     |w x|, + |b|) at every output, the bound of the rounding the transforms add (docs/performance.md: the
 *     measured worst case is below 1e-6 of that scale);
 *   - the direct correlation of --conv=direct (cg_options.winograd_off) to the same bound (its own rounding is
 *     about 2e-7 of the scale);
 *   - itself with every parallel loop split on 3 threads, and embedded against external weights: bit for bit;
 *   - the gradient and LRP of a dense head on the conv, whose forward pass runs it: within 1e-4 of the direct
 *     path's (relative to the largest value), as both start from outputs that differ by rounding. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naive_ref.c"
#include "testutil.h"
#include "xairt.h"

typedef struct wg_case {
    int C, K, H, W, batch;
    int pad;      /* 0 or 1 (PyTorch), or -1: `same` */
    int bias;     /* the layer has a bias */
    int external; /* --weights=external */
} wg_case;

static const wg_case cases[] = {
    { 16, 16, 28, 28, 1, 1, 1, 0 },   /* one unit per row of tiles (14 tiles) */
    { 24, 20, 29, 31, 3, 1, 1, 0 },   /* odd height and width, channels off the tiles */
    { 16, 32, 40, 70, 2, 0, 0, 0 },   /* unpadded: 38 x 68, two units per row, the second cut */
    { 32, 16, 30, 64, 1, -1, 1, 0 },  /* `same`, a width of exactly 2 units */
    { 17, 33, 33, 29, 2, 1, 1, 1 },   /* external weights: the filters transformed at bind time */
    { 64, 64, 56, 56, 1, 1, 1, 1 },   /* a ResNet stage's shape, several units per chunk */
    { 300, 448, 29, 30, 2, 1, 1, 0 }, /* large filters: the whole layer at once, blocks of 64 output channels (the
                                         gradient's 300 outputs: chunks) */
    /* narrow planes: P rows of tiles per unit */
    { 32, 64, 14, 14, 5, 1, 1, 0 },   /* the bundled CNN's conv2: 2 rows of 7 tiles, 4 units in one chunk, a batch */
    { 64, 128, 7, 7, 3, 1, 0, 1 },    /* 7x7: every tile in one unit, the last row and column cut; external */
    { 20, 36, 13, 11, 2, 1, 1, 0 },   /* odd: 6 tiles per row, 2 rows per unit, the last unit one row of tiles */
    { 16, 24, 11, 9, 1, 0, 1, 0 },    /* unpadded: 9 x 7 outputs, 4 tiles per row, 4 rows per unit, 2 units */
    { 24, 16, 10, 10, 2, -1, 1, 0 },  /* `same`, 10 x 10: 5 tiles per row, 3 rows per unit */
    { 128, 192, 7, 7, 1, 1, 1, 0 },   /* one unit, filters below WINOGRAD_BIG_FILTER_BYTES */
    { 512, 256, 14, 14, 2, 1, 1, 1 }, /* VGG-16's and ResNet-50's 14 x 14 stages: the whole layer, 4 blocks */
};

/* the conv network's forward (and bind_weights), the head's gradient and LRP (naive_ref.c's nr_grad_lrp) */
typedef int (*bind_fn)(void *ws, const void *file, size_t size);
typedef struct compiled {
    nr_grad_lrp head;
    nr_forward_fn forward;
    nr_wsize_fn workspace_size;
    bind_fn bind, head_bind; /* --weights=external */
} compiled;

static void compile_text(compiled *out, const char *path, const char *text, const cg_options *opt)
{
    char *msg = NULL;
    cr_assert_eq(nr_grad_lrp_open(&out->head, path, text, "wghead", opt, &msg), 0, "%s", msg ? msg : "?");
    out->forward = (nr_forward_fn)nr_symbol(out->head.jit, "wg", "forward");
    out->workspace_size = (nr_wsize_fn)nr_symbol(out->head.jit, "wg", "workspace_size");
    out->bind = opt->weights_external ? (bind_fn)nr_symbol(out->head.jit, "wg", "bind_weights") : NULL;
    out->head_bind = opt->weights_external ? (bind_fn)nr_symbol(out->head.jit, "wghead", "bind_weights") : NULL;
    cr_assert(out->forward && out->workspace_size && (!opt->weights_external || (out->bind && out->head_bind)));
}

typedef struct weights_file {
    void *data;
    size_t size;
} weights_file;

static void *workspace(bind_fn bind, size_t bytes, const weights_file *f)
{
    void *ws = nr_workspace(bytes);
    cr_assert_not_null(ws);
    if (bind) cr_assert_eq(bind(ws, f->data, f->size), 0, "bind_weights failed");
    return ws;
}

/* conv (+ relu), then the head's gradient and LRP, concatenated (malloc'd) */
static float *run(const compiled *m, const float *x, int batch, int64_t in_n, int64_t conv_n, const weights_file *f,
                  const weights_file *hf, size_t *count)
{
    *count = (size_t)batch * (conv_n + 2 * in_n);
    float *r = malloc(sizeof(float) * *count);
    void *ws = workspace(m->bind, m->workspace_size(batch), f);
    cr_assert_eq(m->forward(x, r, batch, ws), 0);
    free(ws);
    ws = workspace(m->head_bind, m->head.workspace_size(batch), hf);
    static const int32_t target[5] = { 2, 0, 1, 2, 0 };
    cr_assert_eq(m->head.grad(x, target, r + batch * conv_n, batch, ws), 0);
    cr_assert_eq(m->head.lrp(x, target, r + batch * (conv_n + in_n), batch, ws), 0);
    free(ws);
    return r;
}

static weights_file read_file(const char *path)
{
    weights_file f = { 0 };
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "%s", path);
    fseek(fp, 0, SEEK_END);
    f.size = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f.data = malloc(f.size);
    cr_assert_eq(fread(f.data, 1, f.size, fp), f.size);
    fclose(fp);
    return f;
}

static void check_case(const wg_case *t, int index)
{
    int C = t->C, K = t->K, H = t->H, W = t->W, B = t->batch;
    int pt, pl, pb, pr;
    if (t->pad < 0) {
        nr_same_pad(H, 3, 1, &pt, &pb);
        nr_same_pad(W, 3, 1, &pl, &pr);
    } else {
        pt = pl = pb = pr = t->pad;
    }
    int OH = H + pt + pb - 2, OW = W + pl + pr - 2;
    int64_t in_n = (int64_t)C * H * W, conv_n = (int64_t)K * OH * OW;
    nr_rng r = { 7000 + (uint64_t)index };
    float *w = malloc(sizeof(float) * K * C * 9), *bias = malloc(sizeof(float) * K);
    float *hw = malloc(sizeof(float) * 3 * conv_n), hb[3];
    for (int i = 0; i < K * C * 9; i++) w[i] = (float)nr_uniform(&r, -1, 1);
    for (int i = 0; i < K; i++) bias[i] = t->bias ? (float)nr_uniform(&r, -0.5, 0.5) : 0;
    for (int64_t i = 0; i < 3 * conv_n; i++) hw[i] = (float)nr_uniform(&r, -0.1, 0.1);
    for (int i = 0; i < 3; i++) hb[i] = (float)nr_uniform(&r, -0.5, 0.5);
    char wname[64], hname[64];
    snprintf(wname, sizeof wname, "wg%d.safetensors", index);
    snprintf(hname, sizeof hname, "wgh%d.safetensors", index);
    tu_tensor tensors[] = {
        { "y.weight", 4, { K, C, 3, 3 }, w },
        { "y.bias", 1, { K }, bias },
        { "d.weight", 2, { 3, conv_n }, hw },
        { "d.bias", 1, { 3 }, hb },
    };
    tu_tensor head[] = { tensors[0], tensors[2], tensors[3] };
    char *wpath = tu_write_weights(wname, tensors, t->bias ? 2 : 1);
    char *hpath = t->bias ? tu_write_weights(hname, tensors, 4) : tu_write_weights(hname, head, 3);
    char conv[160], pad[16], *text = NULL;
    snprintf(pad, sizeof pad, t->pad < 0 ? "same" : "%d", t->pad);
    snprintf(conv, sizeof conv, "conv2d(x, %d, kernel=3, stride=1, pad=%s%s)", K, pad, t->bias ? "" : ", bias=false");
    cr_assert(asprintf(&text,
                       "network wg { weights \"%s\"; input x[%d, %d, %d]; y = %s; a = relu(y); output a; }\n"
                       "network wghead { weights \"%s\"; input x[%d, %d, %d]; y = %s; f = flatten(y); "
                       "d = dense(f, 3); output d; }\n"
                       "explain grad for wghead { method gradient; }\n"
                       "explain lrp for wghead { rules epsilon_plus; }\n",
                       wname, C, H, W, conv, hname, C, H, W, conv) > 0);
    char xname[64];
    snprintf(xname, sizeof xname, "wg%d.xai", index);
    char *path = tu_write_temp(xname, text, strlen(text));
    weights_file wf = read_file(wpath), hf = read_file(hpath);
    const weights_file *f = t->external ? &wf : NULL, *fh = t->external ? &hf : NULL;

    cg_options direct = { .winograd_off = 1, .weights_external = t->external },
               split = { .parallel_min_work = 1, .weights_external = t->external },
               dflt = { .weights_external = t->external }, embedded = { 0 };
    compiled ref, par, def, emb;
    compile_text(&ref, path, text, &direct);
    compile_text(&par, path, text, &split);
    compile_text(&def, path, text, &dflt);
    if (t->external) compile_text(&emb, path, text, &embedded);

    float *x = malloc(sizeof(float) * in_n * B);
    for (int64_t i = 0; i < in_n * B; i++) x[i] = (float)nr_uniform(&r, -1, 1);
    char desc[200];
    snprintf(desc, sizeof desc, "case %d: %d -> %d channels, %dx%d, pad %s%s, batch %d%s", index, C, K, H, W, pad,
             t->bias ? "" : ", no bias", B, t->external ? ", external weights" : "");
    size_t n;
    xai_set_num_threads(2);
    float *got = run(&def, x, B, in_n, conv_n, f, fh, &n);
    float *want = run(&ref, x, B, in_n, conv_n, f, fh, &n);
    cr_expect_neq(memcmp(got, want, (size_t)B * conv_n * sizeof(float)), 0,
                  "%s: the conv's sums are the direct path's bit for bit: Winograd was not taken", desc);

    /* the naive correlation and the scale of its rounding */
    double worst = 0, worst_direct = 0;
    for (int b = 0; b < B; b++)
        for (int k = 0; k < K; k++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double s = bias[k], scale = fabs(bias[k]);
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int iy = oy + ky - pt, ix = ox + kx - pl;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                double p = (double)w[((k * C + c) * 3 + ky) * 3 + kx] *
                                    x[b * in_n + ((int64_t)c * H + iy) * W + ix];
                                s += p;
                                scale += fabs(p);
                            }
                    int64_t o = b * conv_n + ((int64_t)k * OH + oy) * OW + ox;
                    double e = fabs((s > 0 ? s : 0) - got[o]) / scale, ed = fabs((double)got[o] - want[o]) / scale;
                    if (e > worst) worst = e;
                    if (ed > worst_direct) worst_direct = ed;
                }
    cr_expect_leq(worst, 1e-6, "%s: Winograd vs exact, %.3g of the taps' magnitude", desc, worst);
    cr_expect_leq(worst_direct, 1e-6, "%s: Winograd vs direct, %.3g of the taps' magnitude", desc, worst_direct);
    /* the head's input gradient: its target row through the transposed conv (Winograd too, flipped filters) */
    int32_t target[5] = { 2, 0, 1, 2, 0 };
    double worst_grad = 0;
    for (int b = 0; b < B; b++) {
        for (int c = 0; c < C; c++)
            for (int iy = 0; iy < H; iy++)
                for (int ix = 0; ix < W; ix++) {
                    double s = 0, scale = 0;
                    for (int k = 0; k < K; k++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int oy = iy - ky + pt, ox = ix - kx + pl;
                                if (oy < 0 || oy >= OH || ox < 0 || ox >= OW) continue;
                                double p = (double)w[((k * C + c) * 3 + ky) * 3 + kx] *
                                    hw[(int64_t)target[b] * conv_n + ((int64_t)k * OH + oy) * OW + ox];
                                s += p;
                                scale += fabs(p);
                            }
                    double e = fabs(s - got[B * conv_n + b * in_n + ((int64_t)c * H + iy) * W + ix]) / scale;
                    if (e > worst_grad) worst_grad = e;
                }
    }
    cr_expect_leq(worst_grad, 1e-6, "%s: gradient vs exact, %.3g of the taps' magnitude", desc, worst_grad);
    cr_expect_neq(memcmp(got + B * conv_n, want + B * conv_n, (size_t)B * in_n * sizeof(float)), 0,
                  "%s: the gradient is the direct path's bit for bit: Winograd was not taken", desc);
    /* the gradient and LRP of the head (their forward pass runs the conv) */
    double big = 0, diff = 0;
    for (size_t i = (size_t)B * conv_n; i < n; i++) {
        if (fabs(want[i]) > big) big = fabs(want[i]);
        if (fabs(got[i] - want[i]) > diff) diff = fabs(got[i] - want[i]);
    }
    cr_expect(big > 0, "%s: the head's gradient and LRP are all zero", desc);
    cr_expect_leq(diff, 1e-4 * big, "%s: gradient / LRP differ by %.3g (largest %.3g)", desc, diff, big);

    /* every loop split, 3 threads; embedded weights: the same floats */
    xai_set_num_threads(3);
    float *same = run(&par, x, B, in_n, conv_n, f, fh, &n);
    cr_expect_eq(memcmp(same, got, n * sizeof(float)), 0, "%s: every loop split changes the results", desc);
    free(same);
    if (t->external) {
        xai_set_num_threads(2);
        same = run(&emb, x, B, in_n, conv_n, NULL, NULL, &n);
        cr_expect_eq(memcmp(same, got, n * sizeof(float)), 0,
                     "%s: filters transformed at bind time differ from the compiler's", desc);
        free(same);
        jit_free(emb.head.jit);
    }
    xai_set_num_threads(0);
    free(got);
    free(want);
    jit_free(ref.head.jit);
    jit_free(par.head.jit);
    jit_free(def.head.jit);
    free(wf.data);
    free(hf.data);
    free(wpath);
    free(hpath);
    free(path);
    free(text);
    free(x);
    free(w);
    free(bias);
    free(hw);
}

Test(winograd, random_layers_of_every_shape_class, .timeout = 600)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i], (int)i);
}

/* A 3x3 conv that does not qualify (stride 2, dilated, too few channels, a plane 20 or 6 wide, one unit of large
 * filters) keeps the direct correlation: its results are the direct path's bit for bit. */
Test(winograd, layers_that_do_not_qualify_stay_direct)
{
    static const char *convs[] = { "conv2d(x, 16, kernel=3, stride=2, pad=1)", /* stride 2 */
                                   "conv2d(x, 16, kernel=3, stride=1, pad=1, dilation=2)",
                                   "conv2d(x, 8, kernel=3, stride=1, pad=1)",     /* 8 outputs */
                                   "conv2d(x, 16, kernel=3, stride=1, pad=0)",    /* 20 wide: between the two widths */
                                   "conv2d(x, 16, kernel=3, stride=1, pad=2)",    /* 6 wide: too narrow */
                                   "conv2d(x, 512, kernel=3, stride=1, pad=1)" }; /* 7x7, 8 MB transformed */
    for (int k = 0; k < 6; k++) {
        nr_rng r = { 99 + (uint64_t)k };
        int C = k == 5 ? 256 : 16, H = k == 3 ? 22 : k == 4 ? 4 : k == 5 ? 7 : 30, W = H;
        int K = k == 2 ? 8 : k == 5 ? 512 : 16;
        float *w = malloc(sizeof(float) * K * C * 9), *b = malloc(sizeof(float) * K);
        for (int i = 0; i < K * C * 9; i++) w[i] = (float)nr_uniform(&r, -1, 1);
        for (int i = 0; i < K; i++) b[i] = (float)nr_uniform(&r, -1, 1);
        tu_tensor t[] = { { "y.weight", 4, { K, C, 3, 3 }, w }, { "y.bias", 1, { K }, b } };
        char wname[64], *text = NULL;
        snprintf(wname, sizeof wname, "wgno%d.safetensors", k);
        free(tu_write_weights(wname, t, 2));
        cr_assert(asprintf(&text, "network wg { weights \"%s\"; input x[%d, %d, %d]; y = %s; output y; }\n", wname, C,
                           H, W, convs[k]) > 0);
        char *path = tu_write_temp("wgno.xai", text, strlen(text));
        cg_options direct = { .winograd_off = 1 }, dflt = { 0 };
        char *msg = NULL;
        xai_jit *a = nr_jit_compile(path, text, &direct, &msg), *d = nr_jit_compile(path, text, &dflt, &msg);
        cr_assert(a && d, "%s", msg ? msg : "?");
        nr_forward_fn fa = (nr_forward_fn)nr_symbol(a, "wg", "forward"),
                      fd = (nr_forward_fn)nr_symbol(d, "wg", "forward");
        nr_wsize_fn ws = (nr_wsize_fn)nr_symbol(a, "wg", "workspace_size");
        float *x = malloc(sizeof(float) * C * H * W), *ya = malloc(sizeof(float) * K * (H + 2) * (W + 2)),
              *yd = malloc(sizeof(float) * K * (H + 2) * (W + 2));
        for (int i = 0; i < C * H * W; i++) x[i] = (float)nr_uniform(&r, -1, 1);
        void *wa = nr_workspace(ws(1)), *wd = nr_workspace(ws(1));
        memset(ya, 0, sizeof(float) * K * (H + 2) * (W + 2));
        memset(yd, 0, sizeof(float) * K * (H + 2) * (W + 2));
        cr_assert_eq(fa(x, ya, 1, wa), 0);
        cr_assert_eq(fd(x, yd, 1, wd), 0);
        cr_expect_eq(memcmp(ya, yd, sizeof(float) * K * (H + 2) * (W + 2)), 0, "%s took another path", convs[k]);
        free(wa);
        free(wd);
        jit_free(a);
        jit_free(d);
        free(x);
        free(ya);
        free(yd);
        free(w);
        free(b);
        free(path);
        free(text);
    }
}
