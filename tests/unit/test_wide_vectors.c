/* 16-float vectors (AVX-512 targets: the conv tiles of cg_gemm.c and the GEMM tiles of cg_tiles.c) against the same
 * kernels on 8-float vectors (cg_options.vector_floats 16 against 8; the automatic choice takes 16 in large
 * layers only): every output lane is the same sum in the same order
 * whatever the vector width, so the forward, the gradient and LRP must agree bit for bit. Convs of every width
 * class of the 16-float tile shapes (rows of 5, 14, 17, 28, 33 and 56 pixels: one vector, two, three, four and
 * more), 1x1, 3x3 and 5x5 kernels, padding, a stride-2 conv (which keeps 8-float gathers) between them, ReLUs
 * fused into the stores (split into 8-float halves), a dense head; and the forward against the naive
 * double-precision reference. Needs an AVX-512 host (skipped elsewhere: both compilations would be the same). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naive_ref.c"
#include "testutil.h"
#include "xairt.h"

typedef int (*entry_fn)(const float *x, const int32_t *target, float *out, int32_t batch, void *ws);

typedef struct compiled {
    xai_jit *jit;
    nr_forward_fn forward;
    nr_wsize_fn wsize;
    entry_fn grad, lrp;
} compiled;

static void compile(compiled *m, const char *text, int narrow)
{
    cg_options opt = { .vector_floats = narrow ? 8 : 16 };
    char *msg = NULL;
    m->jit = nr_jit_compile("wide.xai", text, &opt, &msg);
    cr_assert_not_null(m->jit, "%s", msg ? msg : "?");
    m->forward = (nr_forward_fn)jit_lookup(m->jit, "wide_forward");
    m->wsize = (nr_wsize_fn)jit_lookup(m->jit, "wide_workspace_size");
    m->grad = (entry_fn)jit_lookup(m->jit, "wide_grad");
    m->lrp = (entry_fn)jit_lookup(m->jit, "wide_lrp");
    cr_assert(m->forward && m->wsize && m->grad && m->lrp);
}

/* The generated module uses 16-float vectors (so that the comparison compares two different programs). */
static void find_wide(LLVMModuleRef mod, void *found)
{
    char *ir = LLVMPrintModuleToString(mod);
    *(int *)found = strstr(ir, "<16 x float>") != NULL;
    LLVMDisposeMessage(ir);
}

static int uses_wide(const char *text, int narrow)
{
    cg_options opt = { .vector_floats = narrow ? 8 : 16 };
    int found = 0;
    char *msg = NULL;
    cr_assert_eq(nr_with_module("wide.xai", text, &opt, find_wide, &found, &msg), 0, "%s", msg ? msg : "");
    return found;
}

/* forward, gradient and LRP of one compiled net (malloc'd, concatenated) */
static float *run(const compiled *m, const float *x, int batch, int in_n, int out_n)
{
    void *ws = NULL;
    cr_assert_eq(posix_memalign(&ws, 64, (m->wsize(batch) + 63) / 64 * 64), 0);
    float *r = malloc(sizeof(float) * batch * (out_n + 2 * in_n));
    cr_assert_eq(m->forward(x, r, batch, ws), 0);
    int32_t target[4] = { 0, 2, 1, 2 };
    cr_assert_eq(m->grad(x, target, r + batch * out_n, batch, ws), 0);
    cr_assert_eq(m->lrp(x, target, r + batch * (out_n + in_n), batch, ws), 0);
    free(ws);
    return r;
}

static void check_width(int C, int H, int W, int seed)
{
    nr_net net;
    memset(&net, 0, sizeof net);
    nr_rng rng = { (uint64_t)seed };
    int x = nr_input(&net, "x", 3, C, H, W);
    snprintf(net.name, sizeof net.name, "wide");
    int h = nr_conv(&net, &rng, x, 8, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1, "8, kernel=3, pad=1");
    h = nr_simple(&net, NR_RELU, h, -1);
    h = nr_conv(&net, &rng, h, 13, 5, 5, 1, 1, 2, 2, 2, 2, 0, 1, "13, kernel=5, pad=2");
    h = nr_simple(&net, NR_RELU, h, -1);
    h = nr_conv(&net, &rng, h, 9, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, "9, kernel=1");
    h = nr_simple(&net, NR_RELU, h, -1);
    h = nr_conv(&net, &rng, h, 6, 3, 3, 2, 2, 1, 1, 1, 1, 0, 1, "6, kernel=3, stride=2, pad=1");
    h = nr_simple(&net, NR_RELU, h, -1);
    h = nr_conv(&net, &rng, h, 7, 3, 3, 1, 1, 0, 0, 0, 0, 0, 1, "7, kernel=3");
    h = nr_simple(&net, NR_RELU, h, -1);
    h = nr_simple(&net, NR_FLATTEN, h, -1);
    net.output = nr_dense(&net, &rng, h, 3, 1, "3");
    char *wpath = NULL, *text = NULL;
    if (asprintf(&wpath, "%s/wide%d.safetensors", tu_tmpdir(), seed) < 0) abort();
    cr_assert_eq(nr_write_safetensors(&net, wpath), 0);
    char *net_text = nr_xai_text(&net, wpath);
    if (asprintf(&text,
                 "%s\nexplain grad for wide { method gradient; }\n"
                 "explain lrp for wide { rules epsilon_plus; }\n",
                 net_text) < 0)
        abort();
    cr_assert(uses_wide(text, 0) && !uses_wide(text, 1), "vector_floats must select the kernels");
    compiled wide, narrow;
    compile(&wide, text, 0);
    compile(&narrow, text, 1);
    const int batch = 2, in_n = C * H * W, out_n = 3;
    float *in = malloc(sizeof(float) * batch * in_n);
    for (int i = 0; i < batch * in_n; i++) in[i] = (float)nr_uniform(&rng, 0, 1);
    float *a = run(&wide, in, batch, in_n, out_n), *b = run(&narrow, in, batch, in_n, out_n);
    int64_t n = (int64_t)batch * (out_n + 2 * in_n), differ = 0;
    for (int64_t i = 0; i < n; i++) differ += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    cr_expect_eq(differ, 0, "%dx%dx%d: %lld of %lld values differ between 16- and 8-float vectors", C, H, W,
                 (long long)differ, (long long)n);
    double *ref = nr_forward(&net, in, batch), max_err, max_ref;
    nr_compare(a, ref, batch * out_n, &max_err, &max_ref);
    cr_expect_leq(max_err, 1e-5 * max_ref, "%dx%dx%d: forward error %g of max %g", C, H, W, max_err, max_ref);
    free(ref), free(a), free(b), free(in), free(text), free(net_text), free(wpath);
    nr_net_free(&net);
    jit_free(wide.jit);
    jit_free(narrow.jit);
}

Test(wide_vectors, conv_rows_of_every_width_bitwise, .timeout = 300)
{
    if (!__builtin_cpu_supports("avx512f")) cr_skip_test("not an AVX-512 host: both compilations are the same");
    const int widths[][3] = { { 3, 5, 5 }, { 4, 14, 14 }, { 3, 9, 17 }, { 5, 28, 28 }, { 2, 7, 33 }, { 3, 12, 56 } };
    for (int k = 0; k < 6; k++) check_width(widths[k][0], widths[k][1], widths[k][2], 100 + k);
}

/* The GEMM tiles (dense on tokens, matmul) on 16- and 8-float vectors, bit for bit: tokens [T, D] through dense,
 * gelu, a product with their own transpose and a dense head. */
Test(wide_vectors, gemm_tiles_bitwise, .timeout = 120)
{
    if (!__builtin_cpu_supports("avx512f")) cr_skip_test("not an AVX-512 host: both compilations are the same");
    enum { T = 19, D = 72, U = 40 };
    nr_rng rng = { 77 };
    float *w1 = malloc(sizeof(float) * U * D), *w2 = malloc(sizeof(float) * 3 * T * T);
    for (int i = 0; i < U * D; i++) w1[i] = (float)nr_uniform(&rng, -0.2, 0.2);
    for (int i = 0; i < 3 * T * T; i++) w2[i] = (float)nr_uniform(&rng, -0.2, 0.2);
    tu_tensor t[2] = { { "d.weight", 2, { U, D }, w1 }, { "head.weight", 2, { 3, T * T }, w2 } };
    char *wpath = tu_write_weights("widegemm.safetensors", t, 2), *text = NULL;
    if (asprintf(&text,
                 "network wide { weights \"%s\"; input x[1, %d, %d]; r = reshape(x, shape=[%d, %d]);\n"
                 "  d = dense(r, %d, bias=false); g = gelu(d); gt = transpose(g, perm=[1, 0]); p = matmul(g, gt);\n"
                 "  f = flatten(p); head = dense(f, 3, bias=false); output head; }\n"
                 "explain grad for wide { method gradient; }\n"
                 "explain lrp for wide { rules attn_lrp; }\n",
                 wpath, T, D, T, D, U) < 0)
        abort();
    cr_assert(uses_wide(text, 0) && !uses_wide(text, 1), "vector_floats must select the kernels");
    compiled wide, narrow;
    compile(&wide, text, 0);
    compile(&narrow, text, 1);
    const int batch = 2, in_n = T * D;
    float *in = malloc(sizeof(float) * batch * in_n);
    for (int i = 0; i < batch * in_n; i++) in[i] = (float)nr_uniform(&rng, -1, 1);
    float *a = run(&wide, in, batch, in_n, 3), *b = run(&narrow, in, batch, in_n, 3);
    int64_t n = (int64_t)batch * (3 + 2 * in_n), differ = 0;
    for (int64_t i = 0; i < n; i++) differ += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    cr_expect_eq(differ, 0, "%lld of %lld values differ between 16- and 8-float vectors", (long long)differ,
                 (long long)n);
    free(a), free(b), free(in), free(text), free(wpath), free(w1), free(w2);
    jit_free(wide.jit);
    jit_free(narrow.jit);
}
