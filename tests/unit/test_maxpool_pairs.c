/* The vector gradient routing of 2x2 stride-2 max pools (cg_maxpool_pairs.c). A network is x -> maxpool(2) ->
 * flatten -> dense(3), so that the gradient reaches the input through the routing alone, on inputs with many ties
 * (values on a grid of 5 levels: the first maximum in row-major order must win), at widths that take every path
 * (2 and 14: one partial vector of windows; 16: one full vector; 34: two full and a partial one) and batch 1 and 3.
 * Checked against
 *   - a naive reference written here (the head's row routed to each window's first maximum): exactly, as each
 *     input cell gets one weight or 0;
 *   - the general scalar routing (cg_options.pool_pairs_off), gradient and LRP epsilon_plus: bitwise;
 *   - the same code with every parallel loop split (parallel_min_work = 1) on 3 threads: bitwise. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naive_ref.c"
#include "testutil.h"
#include "xairt.h"

typedef struct pool_case {
    int C, H, W, batch;
} pool_case;

static void compile_text(nr_grad_lrp *out, const char *path, const char *text, const cg_options *opt)
{
    char *msg = NULL;
    cr_assert_eq(nr_grad_lrp_open(out, path, text, "mp", opt, &msg), 0, "%s", msg ? msg : "?");
}

/* the gradient then the LRP relevance of every sample (malloc'd, 2 x batch x in_n) */
static float *run(const nr_grad_lrp *m, const float *x, int batch, int64_t in_n)
{
    float *r = nr_grad_lrp_run(m, x, batch, in_n);
    cr_assert_not_null(r, "an entry failed");
    return r;
}

static void check_case(const pool_case *t, int index)
{
    int C = t->C, H = t->H, W = t->W, B = t->batch, OH = H / 2, OW = W / 2;
    int64_t in_n = (int64_t)C * H * W, pool_n = (int64_t)C * OH * OW;
    nr_rng r = { 700 + (uint64_t)index };
    float *hw = malloc(sizeof(float) * 3 * pool_n), hb[3];
    for (int64_t i = 0; i < 3 * pool_n; i++) hw[i] = (float)nr_uniform(&r, -1, 1);
    for (int i = 0; i < 3; i++) hb[i] = (float)nr_uniform(&r, -0.5, 0.5);
    char wname[64], xname[64], *text = NULL;
    snprintf(wname, sizeof wname, "mp%d.safetensors", index);
    tu_tensor tensors[] = { { "d.weight", 2, { 3, pool_n }, hw }, { "d.bias", 1, { 3 }, hb } };
    char *wpath = tu_write_weights(wname, tensors, 2);
    cr_assert(asprintf(&text,
                       "network mp { weights \"%s\"; input x[%d, %d, %d]; p = maxpool(x, 2); f = flatten(p); "
                       "d = dense(f, 3); output d; }\n"
                       "explain grad for mp { method gradient; }\n"
                       "explain lrp for mp { rules epsilon_plus; }\n",
                       wpath, C, H, W) > 0);
    snprintf(xname, sizeof xname, "mp%d.xai", index);
    char *path = tu_write_temp(xname, text, strlen(text));
    cg_options general = { .pool_pairs_off = 1 }, split = { .parallel_min_work = 1 }, dflt = { 0 };
    nr_grad_lrp ref, par, def;
    compile_text(&ref, path, text, &general);
    compile_text(&par, path, text, &split);
    compile_text(&def, path, text, &dflt);

    float *x = malloc(sizeof(float) * in_n * B);
    for (int64_t i = 0; i < in_n * B; i++) x[i] = (float)nr_int(&r, 0, 4) * 0.25f; /* ties in most windows */
    char desc[96];
    snprintf(desc, sizeof desc, "case %d: %d x %dx%d, batch %d", index, C, H, W, B);
    xai_set_num_threads(2);
    float *want = run(&ref, x, B, in_n), *got = run(&def, x, B, in_n);
    int64_t n = (int64_t)B * in_n;
    int64_t d = 0;
    while (d < 2 * n && !memcmp(&got[d], &want[d], sizeof(float))) d++;
    cr_expect_eq(d, 2 * n, "%s: %s output %lld is %.9g, the general routing's %.9g", desc, d < n ? "gradient" : "LRP",
                 (long long)d % n, d < 2 * n ? got[d] : 0.0, d < 2 * n ? want[d] : 0.0);
    xai_set_num_threads(3);
    float *split_got = run(&par, x, B, in_n);
    cr_expect(!memcmp(split_got, got, sizeof(float) * 2 * n), "%s: every loop split changes the result", desc);

    int32_t target[3] = { 2, 0, 1 };
    int64_t bad = -1;
    double expect_at = 0;
    for (int b = 0; b < B && bad < 0; b++)
        for (int ch = 0; ch < C; ch++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    const float *xp = x + b * in_n + (int64_t)ch * H * W;
                    int best = 0; /* window cell k = dy * 2 + dx, row-major; the first maximum wins */
                    for (int k = 1; k < 4; k++)
                        if (xp[(2 * oy + k / 2) * W + 2 * ox + k % 2] > xp[(2 * oy + best / 2) * W + 2 * ox + best % 2])
                            best = k;
                    float seed = hw[(int64_t)target[b] * pool_n + ((int64_t)ch * OH + oy) * OW + ox];
                    for (int k = 0; k < 4; k++) {
                        int64_t cell = b * in_n + (int64_t)ch * H * W + (2 * oy + k / 2) * W + 2 * ox + k % 2;
                        float e = k == best ? seed : 0.0f;
                        if (got[cell] != e && bad < 0) bad = cell, expect_at = e;
                    }
                }
    cr_expect_eq(bad, -1, "%s: gradient at %lld is %.9g, the naive routing gives %.9g", desc, (long long)bad,
                 bad >= 0 ? got[bad] : 0.0, expect_at);
    xai_set_num_threads(0);
    free(split_got), free(got), free(want), free(x), free(text), free(path), free(wpath), free(hw);
    jit_free(ref.jit), jit_free(par.jit), jit_free(def.jit);
}

static const pool_case cases[] = {
    { 3, 2, 2, 1 }, { 5, 14, 14, 3 }, { 2, 4, 16, 1 }, { 4, 6, 34, 3 }, { 32, 28, 28, 2 },
};

Test(maxpool_pairs, routing_against_general_and_naive, .timeout = 300)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_case(&cases[i], (int)i);
}
