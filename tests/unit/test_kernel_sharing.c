/* Layers of equal shapes share one kernel (cg_kernel_cache.c): a kernel receives the weights and bias of a
 * layer with at least CG_CONST_ARG_MIN weights as arguments, so that repeated blocks (VGG's conv6 / conv7,
 * ResNet's bottlenecks, a ViT's encoder layers) compile once. Checked here:
 *   - the generated module defines one conv2d kernel per distinct shape (three layers, two shapes) and one
 *     dense kernel per distinct shape, and the gradient's transposed kernels are shared the same way;
 *   - every layer still reads its own weights: the forward against a naive double-precision reference
 *     (naive_ref.c), and the gradient of one logit against central finite differences of that reference. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naive_ref.c"
#include "testutil.h"
#include "xairt.h"

typedef int (*entry_fn)(const float *x, const int32_t *target, float *out, int32_t batch, void *ws);

/* x[4, 9, 9] -> conv 4->12 -> relu -> conv 12->12 -> relu -> conv 12->12 (other weights) -> relu -> flatten
 * -> dense 972->40 -> relu -> dense 40->40 -> relu -> dense 40->40 -> relu -> dense 40->5 */
static void build(nr_net *net)
{
    nr_rng rng = { 2026 };
    memset(net, 0, sizeof *net);
    int x = nr_input(net, "x", 3, 4, 9, 9);
    snprintf(net->name, sizeof net->name, "rep");
    int h = nr_conv(net, &rng, x, 12, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1, "12, kernel=3, pad=1");
    h = nr_simple(net, NR_RELU, h, -1);
    for (int k = 0; k < 2; k++) {
        h = nr_conv(net, &rng, h, 12, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1, "12, kernel=3, pad=1");
        h = nr_simple(net, NR_RELU, h, -1);
    }
    h = nr_simple(net, NR_FLATTEN, h, -1);
    h = nr_dense(net, &rng, h, 40, 1, "40");
    h = nr_simple(net, NR_RELU, h, -1);
    for (int k = 0; k < 2; k++) {
        h = nr_dense(net, &rng, h, 40, 1, "40");
        h = nr_simple(net, NR_RELU, h, -1);
    }
    net->output = nr_dense(net, &rng, h, 5, 1, "5");
}

static char *source(const nr_net *net)
{
    char *wpath = NULL, *text = NULL;
    if (asprintf(&wpath, "%s/rep.safetensors", tu_tmpdir()) < 0) abort();
    cr_assert_eq(nr_write_safetensors(net, wpath), 0);
    char *net_text = nr_xai_text(net, wpath);
    if (asprintf(&text, "%s\nexplain grad for rep { method gradient; }\n", net_text) < 0) abort();
    free(net_text);
    free(wpath);
    return text;
}

/* defined functions whose name ends with suffix (kernels are NET.kINDEX.OP) */
static int count_kernels(LLVMModuleRef mod, const char *suffix)
{
    int n = 0;
    size_t ls = strlen(suffix);
    for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f)) {
        size_t len;
        const char *name = LLVMGetValueName2(f, &len);
        if (LLVMCountBasicBlocks(f) && len > ls && !strcmp(name + len - ls, suffix)) n++;
    }
    return n;
}

static void expect_kernel_counts(LLVMModuleRef mod, void *ctx)
{
    (void)ctx;
    /* forward: conv 4->12, conv 12->12 (twice); the gradient's forward copy shares them */
    cr_expect_eq(count_kernels(mod, ".conv2d"), 2, "conv2d kernels");
    /* dense 972->40, 40->40 (twice), 40->5: the last has 200 weights, below CG_CONST_ARG_MIN, its own */
    cr_expect_eq(count_kernels(mod, ".dense"), 3, "dense kernels");
    /* the gradient: the transposes of the 12->12 convs share one kernel; conv 4->12's transpose to the input
     * is a kernel of its own (its shape differs) */
    cr_expect_eq(count_kernels(mod, ".conv2d_t"), 2, "conv2d_t kernels");
    cr_expect_eq(count_kernels(mod, ".dense_t"), 3, "dense_t kernels");
}

Test(kernel_sharing, one_kernel_per_shape)
{
    nr_net net;
    build(&net);
    char *text = source(&net), *msg = NULL;
    cg_options opt = { 0 };
    cr_assert_eq(nr_with_module("rep.xai", text, &opt, expect_kernel_counts, NULL, &msg), 0, "%s", msg ? msg : "");
    free(text);
    nr_net_free(&net);
}

Test(kernel_sharing, each_layer_reads_its_own_weights, .timeout = 120)
{
    nr_net net;
    build(&net);
    char *text = source(&net);
    cg_options opt = { 0 };
    char *msg = NULL;
    xai_jit *jit = nr_jit_compile("rep.xai", text, &opt, &msg);
    cr_assert_not_null(jit, "%s", msg ? msg : "?");
    nr_forward_fn forward = (nr_forward_fn)jit_lookup(jit, "rep_forward");
    nr_wsize_fn wsize = (nr_wsize_fn)jit_lookup(jit, "rep_workspace_size");
    entry_fn grad = (entry_fn)jit_lookup(jit, "rep_grad");
    cr_assert(forward && wsize && grad);

    enum { B = 3, IN = 4 * 9 * 9, OUT = 5 };
    nr_rng rng = { 7 };
    float x[B * IN], y[B * OUT], g[B * IN];
    for (int i = 0; i < B * IN; i++) x[i] = (float)nr_uniform(&rng, -1, 1);
    void *ws = NULL;
    cr_assert_eq(posix_memalign(&ws, 64, (wsize(B) + 63) / 64 * 64), 0);
    cr_assert_eq(forward(x, y, B, ws), 0);
    double *ref = nr_forward(&net, x, B), max_err, max_ref;
    nr_compare(y, ref, B * OUT, &max_err, &max_ref);
    cr_expect_leq(max_err, 1e-5 * max_ref, "forward: max error %g of max %g", max_err, max_ref);
    free(ref);

    /* d logit[target] / dx against central differences of the double reference (one sample, the ReLUs' kinks
     * are not crossed at this step for almost every coordinate: the median error must be tiny) */
    int32_t target[B] = { 1, 3, 4 };
    cr_assert_eq(grad(x, target, g, B, ws), 0);
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (int i = b * IN; i < (b + 1) * IN; i += 7) {
            const double h = 1e-3;
            float xp[IN], xm[IN];
            memcpy(xp, x + b * IN, sizeof xp);
            memcpy(xm, x + b * IN, sizeof xm);
            xp[i - b * IN] += (float)h, xm[i - b * IN] -= (float)h;
            double *rp = nr_forward(&net, xp, 1), *rm = nr_forward(&net, xm, 1);
            double fd = (rp[target[b]] - rm[target[b]]) / ((double)(xp[i - b * IN] - xm[i - b * IN]));
            if (fabs(fd - g[i]) > 1e-3 * (1 + fabs(fd))) bad++;
            free(rp), free(rm);
        }
    cr_expect_leq(bad, 3, "%d gradient entries disagree with finite differences", bad);
    free(ws);
    jit_free(jit);
    free(text);
    nr_net_free(&net);
}
