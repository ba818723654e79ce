/* Sliding-window pixel flipping (XAI_WINDOWS_SLIDING, runtime/metrics_windows.c): the seed's find_roi.
 * The expected windows come from an independent NumPy transcription of find_roi
 * (tests/reference/make_find_roi_fixtures.py -> tests/fixtures/find_roi/): the "network" here explains
 * each step with the fixture's heatmap of that step, and the runtime must choose the same windows, ties and
 * the all-excluded (0, 0) included. Property tests compare with a direct O(H W P^2) search written here,
 * and check that grid mode is unchanged. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xairt.h"

/* The test network (tests run one at a time: --jobs 1): logit 0 = the sum of the image, logit 1 = 0;
 * explain step k (of `steps`, counted per batch) writes heat[k] for every image of the batch. */
static struct {
    const float *heat; /* [steps, channels, H, W] */
    int64_t map;       /* channels * H * W */
    int steps, calls;
    int poison; /* explain writes NaN */
} net;

static int sum_forward(const float *x, float *y, int32_t batch, void *workspace)
{
    for (int b = 0; b < batch; b++) {
        double s = 0;
        for (int64_t i = 0; i < net.map; i++) s += x[b * net.map + i];
        y[2 * b] = (float)s, y[2 * b + 1] = 0;
    }
    return 0;
}

static int step_explain(const float *x, const int32_t *target, float *out, int32_t batch, void *workspace)
{
    const float *h = net.heat + (int64_t)(net.calls++ % net.steps) * net.map; /* a new batch starts at step 0 */
    for (int b = 0; b < batch; b++) memcpy(out + b * net.map, h, sizeof(float) * net.map);
    if (net.poison) out[0] = NAN;
    return 0;
}

static _Alignas(64) unsigned char workspace[64];

static xai_eval_model model(int c, int h, int w, const float *heat, int steps, int max_batch)
{
    memset(&net, 0, sizeof net);
    net.heat = heat, net.map = (int64_t)c * h * w, net.steps = steps;
    return (xai_eval_model){ .forward = sum_forward,
                             .explain = step_explain,
                             .workspace = workspace,
                             .max_batch = max_batch,
                             .channels = c,
                             .height = h,
                             .width = w,
                             .classes = 2 };
}

static xai_array load(const char *name, const char *what)
{
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/tests/fixtures/find_roi/%s_%s.npy", XAIC_SOURCE_DIR, name, what);
    xai_array a = { 0 };
    cr_assert_eq(xai_npy_read(path, &a, 1, err, sizeof err), XAI_OK, "%s", err);
    return a;
}

/* Runs one fixture case as `copies` identical images in batches of max_batch; every image must remove the
 * NumPy reference's windows, and replaying them with xai_window_fill must give the final curve point. */
static void check_case(const char *name, int copies, int max_batch)
{
    xai_array heat = load(name, "heat"), meta = load(name, "meta"), roi = load(name, "roi");
    const int L = (int)meta.data[2], C = (int)heat.shape[1], H = (int)heat.shape[2], W = (int)heat.shape[3];
    cr_assert_eq(heat.shape[0], L);
    xai_eval_model m = model(C, H, W, heat.data, L, max_batch);
    m.relevance_channels = C;
    xai_selectivity_options o = { .patch = (int32_t)meta.data[0],
                                  .steps = L,
                                  .order = (int32_t)meta.data[1],
                                  .tracked = XAI_TRACK_LOGIT,
                                  .windows = XAI_WINDOWS_SLIDING };
    int64_t pixels = (int64_t)C * H * W;
    float *x = malloc(sizeof(float) * pixels * copies), *curves = malloc(sizeof(float) * (L + 1) * copies);
    int32_t *removed = malloc(sizeof(int32_t) * L * copies), target[8] = { 0 };
    for (int64_t i = 0; i < pixels * copies; i++) x[i] = 1;
    char err[256] = "";
    cr_assert_eq(xai_selectivity(&m, x, target, copies, &o, curves, NULL, removed, NULL, err, sizeof err), XAI_OK,
                 "%s: %s", name, err);
    for (int i = 0; i < copies; i++) {
        for (int k = 0; k < L; k++) {
            int32_t want = (int32_t)(roi.data[2 * k] * W + roi.data[2 * k + 1]), got = removed[i * L + k];
            cr_assert_eq(got, want, "%s, image %d, step %d: window (%d, %d), NumPy's find_roi chose (%d, %d)", name, i,
                         k, got / W, got % W, want / W, want % W);
            xai_window_fill(x + i * pixels, C, H, W, o.patch, got, 0.0f);
        }
        double left = 0;
        for (int64_t p = 0; p < pixels; p++) left += x[i * pixels + p];
        cr_assert_float_eq(curves[i * (L + 1) + L], left, 1e-3, "%s: the replayed image", name);
    }
    free(x), free(curves), free(removed);
    xai_array_free(&heat), xai_array_free(&meta), xai_array_free(&roi);
}

Test(find_roi, every_window_tied_goes_in_row_major_order) { check_case("ties_constant", 1, 1); }
Test(find_roi, integer_ties_most_relevant_first) { check_case("ties_small_ints", 1, 1); }
Test(find_roi, integer_ties_least_relevant_first) { check_case("ties_negative_ints", 1, 1); }
Test(find_roi, signed_floats) { check_case("negative_floats", 1, 1); }
Test(find_roi, signed_floats_least_relevant_first) { check_case("least_floats", 1, 1); }
Test(find_roi, non_square_image) { check_case("nonsquare_image", 1, 1); }
Test(find_roi, all_windows_excluded_chooses_the_origin) { check_case("all_excluded", 1, 1); }
Test(find_roi, channels_are_summed) { check_case("two_channels", 1, 1); }
Test(find_roi, zero_background_most_relevant_first) { check_case("mnist_like_most", 1, 1); }
Test(find_roi, zero_background_ties_least_relevant_first) { check_case("mnist_like_least", 1, 1); }
Test(find_roi, zero_block_ties_exactly_least_relevant_first) { check_case("zero_block_least", 1, 1); }
Test(find_roi, batches_keep_each_images_removals_apart) { check_case("mnist_like_most", 5, 2); }

/* ---- properties against a direct search ---- */

static uint32_t rng_state;
static int next_int(int n)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (int)((rng_state >> 8) % (uint32_t)n);
}

/* find_roi by direct summation (integer heatmaps: the double sums are exact) */
static int32_t direct_choice(const float *h, int H, int W, int P, int order, const unsigned char *removed, int *free)
{
    int32_t best = -1;
    double best_sum = 0;
    for (int r = 0; r + P <= H; r++)
        for (int c = 0; c + P <= W; c++) {
            double s = 0;
            int touches = 0;
            for (int i = r; i < r + P; i++)
                for (int j = c; j < c + P; j++) s += h[i * W + j], touches |= removed[i * W + j];
            if (touches) continue;
            if (best < 0 || (order ? s < best_sum : s > best_sum)) best = r * W + c, best_sum = s;
        }
    *free = best >= 0;
    return best < 0 ? 0 : best;
}

Test(find_roi, random_heatmaps_match_a_direct_search_and_never_overlap)
{
    rng_state = 12345;
    for (int trial = 0; trial < 60; trial++) {
        int H = 4 + next_int(14), W = 4 + next_int(14), P = 1 + next_int(4), order = next_int(2);
        int L = (H / P) * (W / P);
        cr_assert_eq(xai_selectivity_max_steps(H, W, P, XAI_WINDOWS_SLIDING), L);
        float *heat = malloc(sizeof(float) * L * H * W), x[18 * 18], curves[18 * 18 + 1];
        int32_t removed[18 * 18], target = 0;
        for (int i = 0; i < L * H * W; i++) heat[i] = (float)(next_int(7) - 3);
        for (int i = 0; i < H * W; i++) x[i] = 1;
        xai_eval_model m = model(1, H, W, heat, L, 1);
        xai_selectivity_options o = { .patch = P, .steps = L, .order = order, .windows = XAI_WINDOWS_SLIDING };
        char err[256] = "";
        cr_assert_eq(xai_selectivity(&m, x, &target, 1, &o, curves, NULL, removed, NULL, err, sizeof err), XAI_OK, "%s",
                     err);
        unsigned char mask[18 * 18] = { 0 };
        for (int k = 0; k < L; k++) {
            int free_left;
            int32_t want = direct_choice(heat + k * H * W, H, W, P, order, mask, &free_left);
            cr_assert_eq(removed[k], want, "trial %d (%dx%d, P %d, order %d) step %d: %d, direct search %d", trial, H,
                         W, P, order, k, removed[k], want);
            int r0 = removed[k] / W, c0 = removed[k] % W;
            cr_assert(r0 + P <= H && c0 + P <= W, "the window lies wholly inside the image");
            for (int r = r0; r < r0 + P; r++)
                for (int c = c0; c < c0 + P; c++) {
                    cr_assert(!free_left || !mask[r * W + c], "step %d overlaps a removed window", k);
                    mask[r * W + c] = 1;
                }
        }
        free(heat);
    }
}

/* Sums are exact far below the largest value: 1 and 1 + 2^-23 beside 1e20 (2^-67 of it) are still told apart. */
Test(find_roi, small_values_beside_a_huge_one_still_count)
{
    for (int order = 0; order < 2; order++) {
        float sign = order ? -1.0f : 1.0f, heat[9], x[3] = { 1, 1, 1 }, curves[4];
        for (int k = 0; k < 3; k++)
            heat[3 * k] = sign * 1e20f, heat[3 * k + 1] = sign * 1.0f, heat[3 * k + 2] = sign * (1.0f + 0x1p-23f);
        int32_t removed[3], target = 0;
        xai_eval_model m = model(1, 1, 3, heat, 3, 1);
        xai_selectivity_options o = { .patch = 1, .steps = 3, .order = order, .windows = XAI_WINDOWS_SLIDING };
        cr_assert_eq(xai_selectivity(&m, x, &target, 1, &o, curves, NULL, removed, NULL, NULL, 0), XAI_OK);
        cr_assert(removed[0] == 0 && removed[1] == 2 && removed[2] == 1, "order %d: %d %d %d", order, removed[0],
                  removed[1], removed[2]);
    }
}

Test(find_roi, grid_mode_is_unchanged_and_the_default)
{
    /* a 5x6 heatmap with 2x2 patches: grid patch sums decide, and removed holds patch indices */
    static const float h[30] = { 1, 1, 0, 0, 9, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0,
                                 5, 0, 0, 0, 0, 5, 0, 0, 0, 3, 3, 3, 3, 3, 3 };
    float heat[6 * 30], x[30], c_default[7], c_grid[7];
    for (int k = 0; k < 6; k++) memcpy(heat + k * 30, h, sizeof h);
    for (int i = 0; i < 30; i++) x[i] = 1;
    int32_t r_default[6], r_grid[6], target = 0;
    xai_selectivity_options zero = { .patch = 2, .steps = 6 }, grid = zero;
    grid.windows = XAI_WINDOWS_GRID;
    xai_eval_model m = model(1, 5, 6, heat, 6, 1);
    cr_assert_eq(xai_selectivity(&m, x, &target, 1, &zero, c_default, NULL, r_default, NULL, NULL, 0), XAI_OK);
    m = model(1, 5, 6, heat, 6, 1);
    cr_assert_eq(xai_selectivity(&m, x, &target, 1, &grid, c_grid, NULL, r_grid, NULL, NULL, 0), XAI_OK);
    /* patch sums (grid 3 x 3): P0 4, P1 0, P2 9, P3 0, P4 10, P5 0, P6 6, P7 6, P8 6; ties to the lowest index */
    const int32_t want[6] = { 4, 2, 6, 7, 8, 0 };
    for (int k = 0; k < 6; k++) {
        cr_assert_eq(r_default[k], want[k], "step %d: patch %d", k, r_default[k]);
        cr_assert_eq(r_grid[k], r_default[k]);
    }
    cr_assert_arr_eq(c_grid, c_default, sizeof c_grid);
    cr_assert_eq(xai_selectivity_max_steps(5, 6, 2, XAI_WINDOWS_GRID), xai_patch_count(5, 6, 2));
}

Test(find_roi, max_steps)
{
    cr_assert_eq(xai_selectivity_max_steps(28, 28, 4, XAI_WINDOWS_GRID), 49);
    cr_assert_eq(xai_selectivity_max_steps(28, 28, 4, XAI_WINDOWS_SLIDING), 49);
    cr_assert_eq(xai_selectivity_max_steps(30, 29, 4, XAI_WINDOWS_GRID), 64);
    cr_assert_eq(xai_selectivity_max_steps(30, 29, 4, XAI_WINDOWS_SLIDING), 49); /* floor(30/4) * floor(29/4) */
    cr_assert_eq(xai_selectivity_max_steps(9, 13, 4, XAI_WINDOWS_SLIDING), 6);
    cr_assert_eq(xai_selectivity_max_steps(3, 3, 7, XAI_WINDOWS_SLIDING), 0); /* no window fits */
    cr_assert_eq(xai_selectivity_max_steps(28, 28, 0, XAI_WINDOWS_SLIDING), 0);
    cr_assert_eq(xai_selectivity_max_steps(28, 28, 4, 2), 0);
}

Test(find_roi, options_are_checked)
{
    float heat[64] = { 0 }, x[64] = { 0 }, curves[8];
    char err[256] = "";
    xai_eval_model m = model(1, 8, 8, heat, 1, 1);
    xai_selectivity_options o = { .patch = 4, .steps = 1, .windows = 2 };
    cr_assert_eq(xai_selectivity(&m, x, NULL, 1, &o, curves, NULL, NULL, NULL, err, sizeof err), XAI_EARG);
    cr_assert(strstr(err, "windows 2") && strstr(err, "XAI_WINDOWS_SLIDING (1)"), "%s", err);
    o.windows = -1;
    cr_assert_eq(xai_selectivity(&m, x, NULL, 1, &o, curves, NULL, NULL, NULL, err, sizeof err), XAI_EARG);
    o.windows = XAI_WINDOWS_SLIDING, o.steps = 5; /* 8x8 holds 4 disjoint 4x4 windows (the grid: 4 patches) */
    cr_assert_eq(xai_selectivity(&m, x, NULL, 1, &o, curves, NULL, NULL, NULL, err, sizeof err), XAI_EARG);
    cr_assert(strstr(err, "only 4 disjoint sliding windows of 4x4") && strstr(err, "at most 4 steps"), "%s", err);
    o.patch = 9, o.steps = 1;
    cr_assert_eq(xai_selectivity(&m, x, NULL, 1, &o, curves, NULL, NULL, NULL, err, sizeof err), XAI_EARG, "%s", err);
    o.patch = 4;
    net.poison = 1;
    cr_assert_eq(xai_selectivity(&m, x, NULL, 1, &o, curves, NULL, NULL, NULL, err, sizeof err), XAI_ENAN);
}

Test(find_roi, window_fill_clips_and_ignores_outside_indices)
{
    float img[2 * 3 * 5];
    for (int i = 0; i < 30; i++) img[i] = 1;
    xai_window_fill(img, 2, 3, 5, 2, 1 * 5 + 3, 0); /* rows 1..2, cols 3..4 */
    xai_window_fill(img, 2, 3, 5, 2, 2 * 5 + 4, 7); /* the corner: clipped to one pixel */
    for (int c = 0; c < 2; c++)
        for (int r = 0; r < 3; r++)
            for (int q = 0; q < 5; q++) {
                float want = r == 2 && q == 4 ? 7 : r >= 1 && q >= 3 ? 0 : 1;
                cr_assert_eq(img[(c * 3 + r) * 5 + q], want, "channel %d (%d, %d)", c, r, q);
            }
    float before[30];
    memcpy(before, img, sizeof img);
    xai_window_fill(img, 2, 3, 5, 2, -1, 9);
    xai_window_fill(img, 2, 3, 5, 2, 15, 9);
    xai_window_fill(NULL, 2, 3, 5, 2, 0, 9);
    cr_assert_arr_eq(img, before, sizeof img);
}
