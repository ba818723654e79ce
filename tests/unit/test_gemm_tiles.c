/* The register-blocked GEMM tiles of cg_dense.c against naive double-precision references.
 *
 * dense on tokens (cg_emit_dense_tokens: a GEMM over panels of W^T copied to the stack): x [T, D] -> dense(units) -> gelu (fused into the kernel's stores), at shapes that
 * take every path (the input [1, T, D] reshaped to tokens): T = 13 tokens per sample and 1 to 6 samples, so that
 * after the tiles of 6 rows every height of the last tile (1 to 5 rows, and none) is taken, D = 600 inputs (several
 * row blocks, the last one partial), 70 units (full strips of outputs and a masked one), with and without the fused
 * GELU, with and without a bias. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naive_ref.c"
#include "testutil.h"
#include "xairt.h"

enum { T = 13, D = 600, U = 70, B = 6 };

static float *random_floats(nr_rng *rng, int n, double lo, double hi)
{
    float *v = malloc(sizeof(float) * n);
    for (int i = 0; i < n; i++) v[i] = (float)nr_uniform(rng, lo, hi);
    return v;
}

static void check(const char *net, const char *layers, int with_bias, int with_gelu, const float *w, const float *b)
{
    char *wpath = NULL, *text = NULL;
    tu_tensor t[2] = { { "d.weight", 2, { U, D }, w }, { "d.bias", 1, { U }, b } };
    char file[64];
    snprintf(file, sizeof file, "%s.safetensors", net);
    wpath = tu_write_weights(file, t, with_bias ? 2 : 1);
    if (asprintf(&text, "network %s { weights \"%s\"; input x[1, %d, %d]; t = reshape(x, shape=[%d, %d]);\n%s\n}\n",
                 net, wpath, T, D, T, D, layers) < 0)
        abort();
    nr_jit j;
    char *msg = NULL;
    cr_assert_eq(nr_jit_open(&j, "tokens.xai", text, net, 2, &msg), 0, "%s", msg ? msg : "?");
    nr_rng rng = { 99 };
    float *x = random_floats(&rng, B * T * D, -1, 1);
    double *ref = malloc(sizeof(double) * B * T * U);
    for (int r = 0; r < B * T; r++)
        for (int o = 0; o < U; o++) {
            double s = with_bias ? b[o] : 0;
            for (int i = 0; i < D; i++) s += (double)w[(int64_t)o * D + i] * x[(int64_t)r * D + i];
            ref[r * U + o] = with_gelu ? 0.5 * s * (1 + erf(s / sqrt(2.0))) : s;
        }
    for (int samples = 1; samples <= B; samples++) { /* 13 x samples rows: the last tile 1, 2, 3, 4, 5, 0 rows */
        float *y = NULL;
        cr_assert_eq(nr_run(&j, x, samples, (int64_t)T * U, &y), 0);
        double max_err, max_ref;
        nr_compare(y, ref, (int64_t)samples * T * U, &max_err, &max_ref);
        cr_expect_leq(max_err, 2e-6 * max_ref, "%s, %d samples: max error %g of max %g", net, samples, max_err,
                      max_ref);
        free(y);
    }
    free(ref), free(x), free(text), free(wpath);
    nr_jit_close(&j);
}

Test(gemm_tiles, dense_on_tokens, .timeout = 120)
{
    nr_rng rng = { 5 };
    float *w = random_floats(&rng, U * D, -0.1, 0.1), *b = random_floats(&rng, U, -1, 1);
    check("plain", "d = dense(t, 70); output d;", 1, 0, w, b);
    check("nobias", "d = dense(t, 70, bias=false); output d;", 0, 0, w, b);
    check("gelu", "d = dense(t, 70); g = gelu(d); output g;", 1, 1, w, b);
    free(w), free(b);
}

/* matmul of two activations: x [1, 150, 140] -> r = tokens [150, 140], p = r r^T (matmul with a transpose:
 * K = 140, N = 150), q = p r (K = 150, N = 140) -> flatten -> dense 3. Forward against the double reference; the
 * gradient of logit t (through the backward's a b^T and a^T b products) against its closed form
 * dL/dr = G r^T r + r G^T r + r r^T G, G = dL/dq (the head's row t). */
Test(gemm_tiles, matmul_forward_and_gradient, .timeout = 120)
{
    enum { M = 150, K = 140, H = 3 };
    nr_rng rng = { 11 };
    float *w = random_floats(&rng, H * M * K, -0.01, 0.01), *bias = random_floats(&rng, H, -1, 1);
    tu_tensor t[2] = { { "head.weight", 2, { H, M * K }, w }, { "head.bias", 1, { H }, bias } };
    char *wpath = tu_write_weights("mm.safetensors", t, 2), *text = NULL;
    if (asprintf(&text,
                 "network mm { weights \"%s\"; input x[1, %d, %d]; r = reshape(x, shape=[%d, %d]);\n"
                 "  rt = transpose(r, perm=[1, 0]); p = matmul(r, rt); q = matmul(p, r); f = flatten(q);\n"
                 "  head = dense(f, %d); output head; }\n"
                 "explain grad for mm { method gradient; }\n",
                 wpath, M, K, M, K, H) < 0)
        abort();
    char *msg = NULL;
    nr_program prog;
    cr_assert_eq(nr_program_open(&prog, "mm.xai", text, "mm", "grad", &msg), 0, "%s", msg ? msg : "?");
    float *x = random_floats(&rng, M * K, -0.3, 0.3), y[H], *g = malloc(sizeof(float) * M * K);
    void *ws = NULL;
    cr_assert_eq(posix_memalign(&ws, 64, (prog.workspace_size(1) + 63) / 64 * 64), 0);
    cr_assert_eq(prog.forward(x, y, 1, ws), 0);
    int32_t target = 1;
    cr_assert_eq(prog.entry(x, &target, g, 1, ws), 0);

    double *p = calloc(M * M, sizeof(double)), *q = calloc(M * K, sizeof(double)), *rtr = calloc(K * K, sizeof(double));
    double *G = malloc(sizeof(double) * M * K), *ref = calloc(M * K, sizeof(double)), logit[H];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++)
            for (int k = 0; k < K; k++) p[i * M + j] += (double)x[i * K + k] * x[j * K + k];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++)
            for (int k = 0; k < K; k++) q[i * K + k] += p[i * M + j] * x[j * K + k];
    for (int h = 0; h < H; h++) {
        logit[h] = bias[h];
        for (int i = 0; i < M * K; i++) logit[h] += (double)w[(int64_t)h * M * K + i] * q[i];
    }
    double max_err, max_ref;
    nr_compare(y, logit, H, &max_err, &max_ref);
    cr_expect_leq(max_err, 1e-5 * max_ref, "forward: max error %g of max %g", max_err, max_ref);
    for (int i = 0; i < M * K; i++) G[i] = w[(int64_t)target * M * K + i];
    for (int a = 0; a < K; a++) /* r^T r */
        for (int b = 0; b < K; b++)
            for (int i = 0; i < M; i++) rtr[a * K + b] += (double)x[i * K + a] * x[i * K + b];
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) {
            double s = 0; /* (G r^T r)[i, k] + (r r^T G)[i, k] */
            for (int a = 0; a < K; a++) s += G[i * K + a] * rtr[a * K + k];
            for (int j = 0; j < M; j++) s += p[i * M + j] * G[j * K + k];
            ref[i * K + k] = s;
        }
    for (int i = 0; i < M; i++) /* (r G^T r)[i, k] = sum_j (r G^T)[i, j] r[j, k] */
        for (int j = 0; j < M; j++) {
            double rg = 0;
            for (int a = 0; a < K; a++) rg += (double)x[i * K + a] * G[j * K + a];
            for (int k = 0; k < K; k++) ref[i * K + k] += rg * x[j * K + k];
        }
    nr_compare(g, ref, M * K, &max_err, &max_ref);
    cr_expect_leq(max_err, 1e-5 * max_ref, "gradient: max error %g of max %g", max_err, max_ref);
    free(p), free(q), free(rtr), free(G), free(ref), free(x), free(g), free(w), free(bias), free(ws), free(wpath),
        free(text);
    jit_free(prog.jit);
}
