/* Patch convs (kernel = stride, no padding: ViT's patch embedding) in the backward passes: their transpose runs as
 * GEMM tiles over the rows of each window (cg_backward.c, conv2d_t_patches) instead of kh x kw one-tap phases.
 * A network is x -> conv2d(kernel = stride = k) -> flatten -> dense(3), explained by its gradient and by LRP
 * (epsilon_plus: the conv's transpose reads W+ and carries the fused product by the input), at patch sizes that take
 * every path of the tiles (k = 16: one full vector per window row on AVX-512; k = 4 and 2: masked vectors; 130 output
 * channels: two blocks of the reduction, the last one partial; 7 windows per row: one tile of 6 and one of 1), batch
 * 1 and 3. Checked against
 *   - naive double-precision references written here: the head's input gradient (its row through the transposed
 *     conv), within 1e-5 of its largest value;
 *   - the phases (cg_options.patches_off), gradient and LRP, within 1e-5 of their largest value (the two sum over
 *     the output channels in other groupings);
 *   - the same code with every parallel loop split (parallel_min_work = 1) on 3 threads: bitwise. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naive_ref.c"
#include "testutil.h"
#include "xairt.h"

typedef struct patch_case {
    int C, H, W, k, OC, batch;
} patch_case;

static void compile_text(nr_grad_lrp *out, const char *path, const char *text, const cg_options *opt)
{
    char *msg = NULL;
    cr_assert_eq(nr_grad_lrp_open(out, path, text, "pc", opt, &msg), 0, "%s", msg ? msg : "?");
}

/* the gradient then the LRP relevance of every sample (malloc'd, 2 x batch x in_n) */
static float *run(const nr_grad_lrp *m, const float *x, int batch, int64_t in_n)
{
    float *r = nr_grad_lrp_run(m, x, batch, in_n);
    cr_assert_not_null(r, "an entry failed");
    return r;
}

static double max_abs(const float *v, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

static double max_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static void check_case(const patch_case *t, int index)
{
    int C = t->C, H = t->H, W = t->W, k = t->k, OC = t->OC, B = t->batch, OH = H / k, OW = W / k;
    int64_t in_n = (int64_t)C * H * W, conv_n = (int64_t)OC * OH * OW;
    nr_rng r = { 500 + (uint64_t)index };
    float *w = malloc(sizeof(float) * OC * C * k * k), *bias = malloc(sizeof(float) * OC);
    float *hw = malloc(sizeof(float) * 3 * conv_n), hb[3];
    for (int i = 0; i < OC * C * k * k; i++) w[i] = (float)nr_uniform(&r, -1, 1);
    for (int i = 0; i < OC; i++) bias[i] = (float)nr_uniform(&r, -0.5, 0.5);
    for (int64_t i = 0; i < 3 * conv_n; i++) hw[i] = (float)nr_uniform(&r, -1, 1);
    for (int i = 0; i < 3; i++) hb[i] = (float)nr_uniform(&r, -0.5, 0.5);
    char wname[64], xname[64], *text = NULL;
    snprintf(wname, sizeof wname, "pc%d.safetensors", index);
    tu_tensor tensors[] = {
        { "y.weight", 4, { OC, C, k, k }, w },
        { "y.bias", 1, { OC }, bias },
        { "d.weight", 2, { 3, conv_n }, hw },
        { "d.bias", 1, { 3 }, hb },
    };
    char *wpath = tu_write_weights(wname, tensors, 4);
    cr_assert(
        asprintf(&text,
                 "network pc { weights \"%s\"; input x[%d, %d, %d]; y = conv2d(x, %d, kernel=%d, stride=%d, pad=0); "
                 "f = flatten(y); d = dense(f, 3); output d; }\n"
                 "explain grad for pc { method gradient; }\n"
                 "explain lrp for pc { rules epsilon_plus; }\n",
                 wpath, C, H, W, OC, k, k) > 0);
    snprintf(xname, sizeof xname, "pc%d.xai", index);
    char *path = tu_write_temp(xname, text, strlen(text));
    cg_options phases = { .patches_off = 1 }, split = { .parallel_min_work = 1 }, dflt = { 0 };
    nr_grad_lrp ref, par, def;
    compile_text(&ref, path, text, &phases);
    compile_text(&par, path, text, &split);
    compile_text(&def, path, text, &dflt);

    float *x = malloc(sizeof(float) * in_n * B);
    for (int64_t i = 0; i < in_n * B; i++) x[i] = (float)nr_uniform(&r, -1, 1);
    char desc[128];
    snprintf(desc, sizeof desc, "case %d: %d x %dx%d, %dx%d patches, %d channels, batch %d", index, C, H, W, k, k, OC,
             B);
    xai_set_num_threads(2);
    float *want = run(&ref, x, B, in_n), *got = run(&def, x, B, in_n);
    int64_t n = (int64_t)B * in_n;
    for (int part = 0; part < 2; part++) {
        double scale = max_abs(want + part * n, n), diff = max_diff(got + part * n, want + part * n, n);
        cr_expect(scale > 0, "%s: all zero", desc);
        cr_expect_leq(diff, 1e-5 * scale, "%s: %s differs from the phases' by %g of %g", desc,
                      part ? "LRP" : "gradient", diff, scale);
    }
    xai_set_num_threads(3);
    float *split_got = run(&par, x, B, in_n);
    cr_expect(!memcmp(split_got, got, sizeof(float) * 2 * n), "%s: every loop split changes the result", desc);

    /* the head's row t through the transposed conv: grad[ci, oy k + ky, ox k + kx] = sum_oc hw[t, oc, oy, ox] w[...] */
    int32_t target[3] = { 2, 0, 1 };
    double worst = 0, scale = max_abs(got, n);
    for (int b = 0; b < B; b++)
        for (int ci = 0; ci < C; ci++)
            for (int iy = 0; iy < H; iy++)
                for (int ix = 0; ix < W; ix++) {
                    int oy = iy / k, ox = ix / k, ky = iy % k, kx = ix % k;
                    double g = 0;
                    for (int oc = 0; oc < OC; oc++)
                        g += (double)hw[(int64_t)target[b] * conv_n + ((int64_t)oc * OH + oy) * OW + ox] *
                            w[((oc * C + ci) * k + ky) * k + kx];
                    worst = fmax(worst, fabs(g - got[(int64_t)b * in_n + ((int64_t)ci * H + iy) * W + ix]));
                }
    cr_expect_leq(worst, 1e-5 * scale, "%s: gradient differs from the naive transposed conv by %g of %g", desc, worst,
                  scale);
    xai_set_num_threads(0);
    free(split_got), free(got), free(want), free(x), free(text), free(path), free(wpath);
    free(w), free(bias), free(hw);
    jit_free(ref.jit), jit_free(par.jit), jit_free(def.jit);
}

static const patch_case cases[] = {
    { 3, 32, 32, 16, 40, 1 }, { 3, 32, 48, 16, 130, 3 }, { 2, 28, 28, 4, 24, 1 },
    { 4, 12, 8, 4, 130, 3 },  { 3, 14, 14, 2, 17, 2 },
};

Test(patch_conv, transposes_against_phases_and_naive, .timeout = 300)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_case(&cases[i], (int)i);
}
