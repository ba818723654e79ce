/* libxairt explanation-quality metrics (docs/evaluation.md): pixel flipping / AOPC and continuity, driven
 * through function pointers with the generated signatures. The "network" here is linear, written in the
 * test: logit0 = sum w*x, logit1 = -logit0, relevance = gradient x input of the target (+-w*x). Flipping
 * a patch to 0 then removes exactly its relevance sum from the logit, so every curve, order, AOPC and
 * continuity value below was worked out by hand (the arithmetic is in the comments). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "xairt.h"

#define MAX_PIXELS 1024

/* the linear network's parameters and call log (tests run one at a time: --jobs 1) */
static struct {
    int channels, height, width;
    float w[MAX_PIXELS];
    int sum_channels;   /* explain writes [H, W] (the channel sum), like a CAM map */
    int poison_explain; /* explain writes NaN */
    int fail_forward;   /* forward returns this status */
    int max_batch_seen, forward_calls, explain_calls;
    void *workspace_seen;
} net;

static int pixels(void) { return net.channels * net.height * net.width; }

static int lin_forward(const float *x, float *y, int32_t batch, void *workspace)
{
    if (net.fail_forward) return net.fail_forward;
    net.forward_calls++;
    if (batch > net.max_batch_seen) net.max_batch_seen = batch;
    net.workspace_seen = workspace;
    for (int b = 0; b < batch; b++) {
        double s = 0;
        for (int i = 0; i < pixels(); i++) s += net.w[i] * x[b * pixels() + i];
        y[2 * b] = (float)s;
        y[2 * b + 1] = (float)-s;
    }
    return 0;
}

static int lin_explain(const float *x, const int32_t *target, float *out, int32_t batch, void *workspace)
{
    net.explain_calls++;
    if (batch > net.max_batch_seen) net.max_batch_seen = batch;
    cr_assert_not_null(target, "the metrics must pass the fixed target class, not NULL");
    int hw = net.height * net.width, per = net.sum_channels ? hw : pixels();
    for (int b = 0; b < batch; b++) {
        float sign = target[b] == 0 ? 1.0f : -1.0f;
        for (int i = 0; i < per; i++) out[b * per + i] = 0;
        for (int i = 0; i < pixels(); i++)
            out[b * per + (net.sum_channels ? i % hw : i)] += sign * net.w[i] * x[b * pixels() + i];
        if (net.poison_explain) out[b * per] = NAN;
    }
    return 0;
}

static _Alignas(64) unsigned char workspace[64];

static xai_eval_model model(int c, int h, int w, const float *weights, int max_batch)
{
    memset(&net, 0, sizeof net);
    net.channels = c, net.height = h, net.width = w;
    memcpy(net.w, weights, sizeof(float) * c * h * w);
    return (xai_eval_model){ .forward = lin_forward,
                             .explain = lin_explain,
                             .workspace = workspace,
                             .max_batch = max_batch,
                             .channels = c,
                             .height = h,
                             .width = w,
                             .classes = 2 };
}

static void expect_curve(const float *got, const float *want, int n, const char *what)
{
    for (int k = 0; k < n; k++)
        cr_assert(fabsf(got[k] - want[k]) <= 1e-4f * (1 + fabsf(want[k])), "%s: point %d = %g, want %g", what, k,
                  (double)got[k], (double)want[k]);
}

/* A 3x5 image cut into 2x2 patches: the grid is 2 x 3, the last row and column hold smaller patches.
 *   w = 1 1 | 2  2 | 5        patch sums with x = 1:  P0 = 4   P1 = 8   P2 = 10
 *       1 1 | 2  2 | 5                                P3 = 6   P4 = -2  P5 = 0.5
 *       ----+------+---
 *       3 3 | -1 -1| 0.5      f(x^0) = 26.5                                                     */
static const float W35[15] = { 1, 1, 2, 2, 5, 1, 1, 2, 2, 5, 3, 3, -1, -1, 0.5f };
static const float ONES[15] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };

Test(selectivity, patch_count_includes_smaller_edge_patches)
{
    cr_assert_eq(xai_patch_count(28, 28, 4), 49);
    cr_assert_eq(xai_patch_count(3, 5, 2), 6);    /* ceil(3/2) * ceil(5/2) */
    cr_assert_eq(xai_patch_count(30, 29, 4), 64); /* 8 x 8, edge patches 2 rows and 1 column */
    cr_assert_eq(xai_patch_count(3, 3, 7), 1);    /* one patch: the whole image */
    cr_assert_eq(xai_patch_count(3, 3, 0), 0);
    cr_assert_eq(xai_patch_count(-1, 3, 2), 0);
}

Test(selectivity, most_relevant_first_by_hand)
{
    xai_eval_model m = model(1, 3, 5, W35, 8);
    xai_selectivity_options o = { .patch = 2, .steps = 6, .tracked = XAI_TRACK_LOGIT };
    float curve[7], aopc = -1, rel[6 * 15];
    int32_t removed[6];
    char err[256] = "";
    cr_assert_eq(xai_selectivity(&m, ONES, NULL, 1, &o, curve, &aopc, removed, rel, err, sizeof err), XAI_OK, "%s",
                 err);
    /* remove P2 (10), P1 (8), P3 (6), P0 (4), P5 (0.5), P4 (-2) */
    const int32_t want_removed[6] = { 2, 1, 3, 0, 5, 4 };
    for (int k = 0; k < 6; k++) cr_assert_eq(removed[k], want_removed[k], "step %d removed P%d", k, removed[k]);
    const float want[7] = { 26.5f, 16.5f, 8.5f, 2.5f, -1.5f, -2.0f, 0.0f };
    expect_curve(curve, want, 7, "logit");
    /* AOPC = (0 + 10 + 18 + 24 + 28 + 28.5 + 26.5) / 7 = 135 / 7 */
    cr_assert_float_eq(aopc, 135.0f / 7, 1e-4);
    /* the heatmap of step 1 was computed on the image without P2: w*x there is 0, elsewhere w */
    cr_assert_float_eq(rel[15 + 4], 0.0f, 0);
    cr_assert_float_eq(rel[15 + 0], 1.0f, 0);
    cr_assert_float_eq(rel[0 + 4], 5.0f, 0);
    cr_assert_eq(net.forward_calls, 7, "one forward per point of the curve");
    cr_assert_eq(net.explain_calls, 6, "one heatmap per removal, recomputed every step");
    cr_assert_eq(net.workspace_seen, (void *)workspace);
}

Test(selectivity, relu_of_the_logit_is_the_default)
{
    xai_eval_model m = model(1, 3, 5, W35, 8);
    xai_selectivity_options o = { .patch = 2, .steps = 6 };
    float curve[7], aopc;
    cr_assert_eq(xai_selectivity(&m, ONES, NULL, 1, &o, curve, &aopc, NULL, NULL, NULL, 0), XAI_OK);
    const float want[7] = { 26.5f, 16.5f, 8.5f, 2.5f, 0, 0, 0 };
    expect_curve(curve, want, 7, "relu(logit)");
    cr_assert_float_eq(aopc, 131.5f / 7, 1e-4); /* (0 + 10 + 18 + 24 + 26.5 * 3) / 7 */
}

/* Least relevant first: P4 (-2), P5 (0.5), P0, P3, P1, P2. After P4 is removed its sum is 0 < 0.5, so a
 * patch removed twice would show up as P4 again. */
Test(selectivity, least_relevant_first_never_flips_a_patch_twice)
{
    xai_eval_model m = model(1, 3, 5, W35, 8);
    xai_selectivity_options o = {
        .patch = 2, .steps = 6, .order = XAI_FLIP_LEAST_RELEVANT_FIRST, .tracked = XAI_TRACK_LOGIT
    };
    float curve[7], aopc;
    int32_t removed[6];
    cr_assert_eq(xai_selectivity(&m, ONES, NULL, 1, &o, curve, &aopc, removed, NULL, NULL, 0), XAI_OK);
    const int32_t want_removed[6] = { 4, 5, 0, 3, 1, 2 };
    for (int k = 0; k < 6; k++) cr_assert_eq(removed[k], want_removed[k], "step %d removed P%d", k, removed[k]);
    const float want[7] = { 26.5f, 28.5f, 28.0f, 24.0f, 18.0f, 10.0f, 0.0f };
    expect_curve(curve, want, 7, "LeRF");
    cr_assert_float_eq(aopc, (0 - 2 - 1.5f + 2.5f + 8.5f + 16.5f + 26.5f) / 7, 1e-4); /* 50.5 / 7 */
}

/* With baseline 1 on an all-ones image nothing changes, so the relevance never changes either: only the
 * "never twice" rule moves the choice on. 28x28 with 5x5 patches (6 x 6 grid, edge patches 3 wide). */
Test(selectivity, all_patches_once_when_removal_changes_nothing)
{
    float w[28 * 28], x[28 * 28];
    for (int i = 0; i < 28 * 28; i++) w[i] = 1, x[i] = 1;
    xai_eval_model m = model(1, 28, 28, w, 4);
    int patches = xai_patch_count(28, 28, 5);
    cr_assert_eq(patches, 36);
    xai_selectivity_options o = { .patch = 5, .steps = 36, .baseline = 1.0f };
    float curve[37], aopc;
    int32_t removed[36];
    int seen[36] = { 0 };
    cr_assert_eq(xai_selectivity(&m, x, NULL, 1, &o, curve, &aopc, removed, NULL, NULL, 0), XAI_OK);
    for (int k = 0; k < 36; k++) {
        cr_assert(removed[k] >= 0 && removed[k] < 36);
        cr_assert_eq(seen[removed[k]]++, 0, "patch %d removed twice", removed[k]);
        cr_assert_float_eq(curve[k], 784.0f, 1e-3);
    }
    cr_assert_float_eq(aopc, 0.0f, 1e-6);
    /* full 25-pixel patches come first (largest sums), ties in index order: 0..4, 6..10, ...; then the
     * 15-pixel edge patches 5, 11, ..., 30..34, then the 9-pixel corner 35 */
    cr_assert_eq(removed[0], 0);
    cr_assert_eq(removed[5], 6);
    cr_assert_eq(removed[24], 28);
    cr_assert_eq(removed[25], 5);
    cr_assert_eq(removed[35], 35);
}

/* Edge patches are clipped: 3x5 image, patch 2; removing P5 (the 1x1 corner) must zero only pixel (2, 4). */
Test(selectivity, edge_patches_are_smaller)
{
    const float w[15] = { 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 100 };
    xai_eval_model m = model(1, 3, 5, w, 8);
    xai_selectivity_options o = { .patch = 2, .steps = 2, .tracked = XAI_TRACK_LOGIT };
    float curve[3];
    int32_t removed[2];
    cr_assert_eq(xai_selectivity(&m, ONES, NULL, 1, &o, curve, NULL, removed, NULL, NULL, 0), XAI_OK);
    cr_assert_eq(removed[0], 5);
    cr_assert_eq(removed[1], 2); /* P2 = column 4, rows 0-1: sum 2 */
    const float want[3] = { 102, 2, 0 };
    expect_curve(curve, want, 3, "edge");
}

/* xai_patch_fill replays removals: on a 3x5 image with patch 2, P5 is the single pixel (2, 4), P2 the
 * column 4 of rows 0-1, P4 row 2 x cols 2-3; every channel is set; an index outside the grid does nothing. */
Test(selectivity, patch_fill_clips_edge_patches)
{
    float img[2 * 15];
    for (int i = 0; i < 30; i++) img[i] = 1;
    xai_patch_fill(img, 2, 3, 5, 2, 5, -3.0f);
    xai_patch_fill(img, 2, 3, 5, 2, 2, 7.0f);
    xai_patch_fill(img, 2, 3, 5, 2, 4, 0.0f);
    xai_patch_fill(img, 2, 3, 5, 2, 6, 9.0f);
    xai_patch_fill(img, 2, 3, 5, 2, -1, 9.0f);
    const float want[15] = { 1, 1, 1, 1, 7, 1, 1, 1, 1, 7, 1, 1, 0, 0, -3 };
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 15; i++)
            cr_assert_float_eq(img[c * 15 + i], want[i], 0, "channel %d pixel (%d, %d)", c, i / 5, i % 5);
}

/* Two channels: a patch is scored by the sum over both and removed in both.
 *   w ch0 = 5 1 / 1 1, ch1 = -5 3 / 0 0  -> pixel sums 0 4 / 1 1, f = 6.
 * Channel 0 alone would pick pixel 0 first. Removing pixel 1 in both channels gives 6 - 4 = 2 (only in
 * channel 0 it would give 5); then the tie 1 / 1 goes to the lower index. */
Test(selectivity, multi_channel_patch_covers_every_channel)
{
    const float w[8] = { 5, 1, 1, 1, -5, 3, 0, 0 }, x[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
    xai_eval_model m = model(2, 2, 2, w, 8);
    xai_selectivity_options o = { .patch = 1, .steps = 4, .tracked = XAI_TRACK_LOGIT };
    float curve[5];
    int32_t removed[4];
    cr_assert_eq(xai_selectivity(&m, x, NULL, 1, &o, curve, NULL, removed, NULL, NULL, 0), XAI_OK);
    const int32_t want_removed[4] = { 1, 2, 3, 0 };
    for (int k = 0; k < 4; k++) cr_assert_eq(removed[k], want_removed[k]);
    const float want[5] = { 6, 2, 1, 0, 0 };
    expect_curve(curve, want, 5, "two channels");
    /* the same with a channel-summed (CAM-like) relevance map */
    m.relevance_channels = 1;
    net.sum_channels = 1;
    cr_assert_eq(xai_selectivity(&m, x, NULL, 1, &o, curve, NULL, removed, NULL, NULL, 0), XAI_OK);
    for (int k = 0; k < 4; k++) cr_assert_eq(removed[k], want_removed[k]);
    expect_curve(curve, want, 5, "channel-summed relevance");
}

/* Five images in batches of 2 (2 + 2 + 1). Image i is s_i * ones: the removal order is the same for s > 0
 * and the logit curve scales by s. For s = -1 the arg-max is class 1 (logit1 = 26.5) whose relevance -w*x
 * = w gives the same order and curve; the class stays 1 even when logit0 overtakes it (f = -1.5 at k=4). */
Test(selectivity, batches_and_fixed_argmax_target)
{
    const float scale[5] = { 1, 2, 0.5f, -1, 3 };
    float x[5 * 15];
    for (int i = 0; i < 5; i++)
        for (int p = 0; p < 15; p++) x[i * 15 + p] = scale[i];
    xai_eval_model m = model(1, 3, 5, W35, 2);
    xai_selectivity_options o = { .patch = 2, .steps = 6, .tracked = XAI_TRACK_LOGIT };
    float curves[5 * 7], aopc[5];
    cr_assert_eq(xai_selectivity(&m, x, NULL, 5, &o, curves, aopc, NULL, NULL, NULL, 0), XAI_OK);
    const float base[7] = { 26.5f, 16.5f, 8.5f, 2.5f, -1.5f, -2.0f, 0.0f };
    for (int i = 0; i < 5; i++) {
        float want[7];
        for (int k = 0; k < 7; k++) want[k] = base[k] * fabsf(scale[i]);
        expect_curve(curves + i * 7, want, 7, "scaled image");
        cr_assert_float_eq(aopc[i], 135.0f / 7 * fabsf(scale[i]), 1e-3);
    }
    cr_assert_eq(net.max_batch_seen, 2, "called with batch %d, max_batch is 2", net.max_batch_seen);
    cr_assert_eq(net.forward_calls, 3 * 7);
    /* an explicit target 1 on the all-ones image: relevance -w, most relevant is P4 (+2): f = -26.5 - 2 */
    float curve[2];
    int32_t t1 = 1;
    o.steps = 1;
    cr_assert_eq(xai_selectivity(&m, ONES, &t1, 1, &o, curve, NULL, NULL, NULL, NULL, 0), XAI_OK);
    cr_assert_float_eq(curve[0], -26.5f, 1e-4);
    cr_assert_float_eq(curve[1], -28.5f, 1e-4);
}

Test(selectivity, errors_say_what_to_change)
{
    xai_eval_model m = model(1, 3, 5, W35, 8);
    xai_selectivity_options o = { .patch = 2, .steps = 6 };
    float curve[32];
    char err[256];
    cr_assert_eq(xai_selectivity(NULL, ONES, NULL, 1, &o, curve, NULL, NULL, NULL, err, sizeof err), XAI_ENULL);
    cr_assert_eq(xai_selectivity(&m, NULL, NULL, 1, &o, curve, NULL, NULL, NULL, err, sizeof err), XAI_ENULL);
    cr_assert_eq(xai_selectivity(&m, ONES, NULL, 1, &o, NULL, NULL, NULL, NULL, err, sizeof err), XAI_ENULL);
    xai_eval_model bad = m;
    bad.explain = NULL;
    cr_assert_eq(xai_selectivity(&bad, ONES, NULL, 1, &o, curve, NULL, NULL, NULL, err, sizeof err), XAI_ENULL);
    cr_assert(strstr(err, "explain"), "%s", err);
    bad = m;
    bad.workspace = NULL;
    cr_assert_eq(xai_selectivity(&bad, ONES, NULL, 1, &o, curve, NULL, NULL, NULL, err, sizeof err), XAI_ENULL);
    cr_assert(strstr(err, "NET_workspace_size"), "%s", err);
    bad.workspace = workspace + 4;
    cr_assert_eq(xai_selectivity(&bad, ONES, NULL, 1, &o, curve, NULL, NULL, NULL, err, sizeof err), XAI_EALIGN);
    cr_assert_eq(xai_selectivity(&m, ONES, NULL, 0, &o, curve, NULL, NULL, NULL, err, sizeof err), XAI_EBATCH);
    bad = m;
    bad.relevance_channels = 3;
    cr_assert_eq(xai_selectivity(&bad, ONES, NULL, 1, &o, curve, NULL, NULL, NULL, err, sizeof err), XAI_ESHAPE);

    xai_selectivity_options bo = o;
    bo.patch = -2;
    cr_assert_eq(xai_selectivity(&m, ONES, NULL, 1, &bo, curve, NULL, NULL, NULL, err, sizeof err), XAI_EARG);
    cr_assert(strstr(err, "patch size -2"), "%s", err);
    bo = o;
    bo.steps = 7; /* 6 patches */
    cr_assert_eq(xai_selectivity(&m, ONES, NULL, 1, &bo, curve, NULL, NULL, NULL, err, sizeof err), XAI_EARG);
    cr_assert(strstr(err, "only 6 patches") && strstr(err, "at most 6 steps"), "%s", err);
    bo = o;
    bo.order = 2;
    cr_assert_eq(xai_selectivity(&m, ONES, NULL, 1, &bo, curve, NULL, NULL, NULL, err, sizeof err), XAI_EARG);
    bo = o;
    bo.baseline = NAN;
    cr_assert_eq(xai_selectivity(&m, ONES, NULL, 1, &bo, curve, NULL, NULL, NULL, err, sizeof err), XAI_EARG);
    int32_t t = 2;
    cr_assert_eq(xai_selectivity(&m, ONES, &t, 1, &o, curve, NULL, NULL, NULL, err, sizeof err), XAI_ETARGET);
    cr_assert(strstr(err, "0 .. 1"), "%s", err);

    net.poison_explain = 1;
    cr_assert_eq(xai_selectivity(&m, ONES, NULL, 1, &o, curve, NULL, NULL, NULL, err, sizeof err), XAI_ENAN);
    net.poison_explain = 0;
    net.fail_forward = XAI_ENAN; /* a generated call's status comes back unchanged */
    cr_assert_eq(xai_selectivity(&m, ONES, NULL, 1, &o, curve, NULL, NULL, NULL, err, sizeof err), XAI_ENAN);
    cr_assert(strstr(err, "forward failed on images 0 .. 0"), "%s", err);
    /* no message buffer is fine too */
    cr_assert_eq(xai_selectivity(&m, ONES, NULL, 1, &o, curve, NULL, NULL, NULL, NULL, 0), XAI_ENAN);
}

/* ---- continuity ---- */

Test(continuity, shift_is_horizontal_with_fill)
{
    const float x[2 * 2 * 3] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }; /* [2 channels, 2, 3] */
    float out[12];
    xai_shift_horizontal(x, out, 2, 2, 3, 1, -1.0f);
    const float right[12] = { -1, 1, 2, -1, 4, 5, -1, 7, 8, -1, 10, 11 };
    for (int i = 0; i < 12; i++) cr_assert_float_eq(out[i], right[i], 0, "shift +1 at %d", i);
    xai_shift_horizontal(x, out, 2, 2, 3, -2, 0.5f);
    const float left[12] = { 3, 0.5f, 0.5f, 6, 0.5f, 0.5f, 9, 0.5f, 0.5f, 12, 0.5f, 0.5f };
    for (int i = 0; i < 12; i++) cr_assert_float_eq(out[i], left[i], 0, "shift -2 at %d", i);
    xai_shift_horizontal(x, out, 2, 2, 3, 7, 0.0f);
    for (int i = 0; i < 12; i++) cr_assert_float_eq(out[i], 0.0f, 0);
}

/* 2x4 images, w = 1 2 3 4 / 5 6 7 8, relevance w*x; quadrants: top = row 0, left = cols 0-1.
 * Image A: 1 at (0, 1). Shifts -3 .. 2 put it at cols -2 (out), -1 (out), 0, 1, 2, 3:
 *   f = 0 0 1 2 3 4; R1 = 0 0 1 2 0 0, R2 = 0 0 0 0 3 4; the pair (-3, -2) has x = x' and is skipped;
 *   ratios 1/1, (1+2)/sqrt2, (2+3)/sqrt2, (3+4)/sqrt2 -> continuity 7/sqrt2.
 * Image B: 2 at (1, 2). Cols -1 (out), 0, 1, 2, 3, 4 (out): f = 0 10 12 14 16 0; R4 = 0 10 12 0 0 0,
 *   R3 = 0 0 0 14 16 0; ratios 10/2, 22/sqrt8, 26/sqrt8, 30/sqrt8, 16/2 -> 30/sqrt8.
 * Batches of 4 over the 12 (image, shift) pairs split consecutive shifts across calls. */
Test(continuity, quadrants_and_lipschitz_ratio_by_hand)
{
    const float w[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    float x[16] = { 0 };
    x[1] = 1;
    x[8 + 4 + 2] = 2;
    xai_eval_model m = model(1, 2, 4, w, 4);
    xai_continuity_options o = { .shift_min = -3, .shift_max = 2 };
    float values[12], quadrants[12 * 4], cont[2], rel[12 * 8];
    char err[256] = "";
    cr_assert_eq(xai_continuity(&m, x, NULL, 2, &o, values, quadrants, cont, rel, err, sizeof err), XAI_OK, "%s", err);
    const float want_f[12] = { 0, 0, 1, 2, 3, 4, 0, 10, 12, 14, 16, 0 };
    expect_curve(values, want_f, 12, "f");
    const float want_q[12][4] = { { 0 },           { 0 },           { 1, 0, 0, 0 },  { 2, 0, 0, 0 },
                                  { 0, 3, 0, 0 },  { 0, 4, 0, 0 },  { 0 },           { 0, 0, 0, 10 },
                                  { 0, 0, 0, 12 }, { 0, 0, 14, 0 }, { 0, 0, 16, 0 }, { 0 } };
    for (int p = 0; p < 12; p++)
        for (int q = 0; q < 4; q++)
            cr_assert_float_eq(quadrants[p * 4 + q], want_q[p][q], 1e-5, "pair %d R%d = %g", p, q + 1,
                               (double)quadrants[p * 4 + q]);
    cr_assert_float_eq(cont[0], 7.0f / sqrtf(2), 1e-4);
    cr_assert_float_eq(cont[1], 30.0f / sqrtf(8), 1e-4);
    cr_assert_float_eq(rel[3 * 8 + 1], 2.0f, 0); /* image A at shift 0: w[1] * 1 */
    cr_assert_eq(net.max_batch_seen, 4);
}

Test(continuity, relu_tracking_odd_sizes_and_all_pairs_skipped)
{
    /* 3x3, one channel: top = row 0 (3/2 = 1), left = col 0; the odd middle row and column go bottom/right */
    const float w[9] = { -1, -1, -1, -1, -1, -1, -1, -1, -1 };
    float x[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 }, zero[9] = { 0 };
    xai_eval_model m = model(1, 3, 3, w, 8);
    xai_continuity_options o = { .shift_min = 0, .shift_max = 1 }; /* relu: f = max(0, -9) = 0 */
    float values[2], quadrants[8], cont;
    int32_t t0 = 0;
    cr_assert_eq(xai_continuity(&m, x, &t0, 1, &o, values, quadrants, &cont, NULL, NULL, 0), XAI_OK);
    cr_assert_float_eq(values[0], 0.0f, 0);
    const float q0[4] = { -1, -2, -4, -2 }; /* R1 = (0,0); R2 = (0,1),(0,2); R3 = rows 1-2 x cols 1-2; R4 */
    for (int q = 0; q < 4; q++) cr_assert_float_eq(quadrants[q], q0[q], 1e-6, "R%d", q + 1);
    /* shift 1: column 0 becomes 0, so |dR| = 3 over |dx| = sqrt 3 */
    cr_assert_float_eq(cont, 3.0f / sqrtf(3), 1e-5);
    o.tracked = XAI_TRACK_LOGIT;
    cr_assert_eq(xai_continuity(&m, x, &t0, 1, &o, values, NULL, NULL, NULL, NULL, 0), XAI_OK);
    cr_assert_float_eq(values[0], -9.0f, 1e-5);
    cr_assert_float_eq(values[1], -6.0f, 1e-5);
    cr_assert_eq(xai_continuity(&m, zero, NULL, 1, &o, values, NULL, &cont, NULL, NULL, 0), XAI_OK);
    cr_assert(isnan(cont), "every pair has x = x': no ratio, NaN (got %g)", (double)cont);
}

Test(continuity, errors)
{
    const float w[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, x[8] = { 0 };
    xai_eval_model m = model(1, 2, 4, w, 4);
    float values[64];
    char err[256];
    xai_continuity_options o = { .shift_min = 2, .shift_max = 2 };
    cr_assert_eq(xai_continuity(&m, x, NULL, 1, &o, values, NULL, NULL, NULL, err, sizeof err), XAI_EARG);
    cr_assert(strstr(err, "shift_max must exceed shift_min"), "%s", err);
    cr_assert_eq(xai_continuity(&m, x, NULL, 1, NULL, NULL, NULL, NULL, NULL, err, sizeof err), XAI_ENULL);
    cr_assert_eq(xai_continuity(NULL, x, NULL, 1, NULL, values, NULL, NULL, NULL, err, sizeof err), XAI_ENULL);
    o = (xai_continuity_options){ .tracked = 5 };
    cr_assert_eq(xai_continuity(&m, x, NULL, 1, &o, values, NULL, NULL, NULL, err, sizeof err), XAI_EARG);
    int32_t t = -1;
    o = (xai_continuity_options){ .shift_min = -1, .shift_max = 1 };
    cr_assert_eq(xai_continuity(&m, x, &t, 1, &o, values, NULL, NULL, NULL, err, sizeof err), XAI_ETARGET);
    net.poison_explain = 1;
    cr_assert_eq(xai_continuity(&m, x, NULL, 1, &o, values, NULL, NULL, NULL, err, sizeof err), XAI_ENAN);
    cr_assert(strstr(err, "image 0 at shift -1"), "%s", err);
}

/* ---- SVG plots ---- */

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

Test(plot, svg_has_title_axes_ticks_legend_and_gaps)
{
    const float xs[5] = { 0, 1, 2, 3, 4 }, a[5] = { 26.5f, 16.5f, 8.5f, 2.5f, 0 }, b[5] = { 20, NAN, 10, 5, 1 };
    xai_plot_series s[2] = { { "lrp <eps>", a }, { "saliency & co", b } };
    xai_plot p = { .title = "Pixel flipping",
                   .x_label = "patches removed",
                   .y_label = "mean f",
                   .x = xs,
                   .n_points = 5,
                   .series = s,
                   .n_series = 2,
                   .y_from_zero = 1 };
    char *path = tu_write_temp("plot.svg", "", 0), err[256] = "";
    cr_assert_eq(xai_plot_write_svg(path, &p, err, sizeof err), XAI_OK, "%s", err);
    char *svg = tu_read_file(path, NULL);
    cr_assert_not_null(svg);
    cr_assert(strstr(svg, "<svg") && strstr(svg, "</svg>"));
    cr_assert(strstr(svg, ">Pixel flipping<") && strstr(svg, ">patches removed<") && strstr(svg, ">mean f<"));
    cr_assert(strstr(svg, ">lrp &lt;eps&gt;<") && strstr(svg, ">saliency &amp; co<"), "labels are XML-escaped");
    /* y from 0 to 26.5: steps of 5 (26.5 / 5 = 5.3 -> 5), frame 0 .. 30; x 0 .. 4 steps of 1 */
    cr_assert(strstr(svg, ">30<") && strstr(svg, ">25<") && strstr(svg, ">0<") && !strstr(svg, ">35<"), "y ticks");
    cr_assert(strstr(svg, ">4<") && strstr(svg, ">3<"), "x ticks");
    /* series a is one line; b is broken by its NaN into a single point and a line of three */
    cr_assert_eq(count(svg, "<polyline"), 3);
    free(svg);
    free(path);
}

Test(plot, errors)
{
    const float xs[3] = { 0, 2, 1 }, y[3] = { 1, 2, 3 };
    xai_plot_series s = { "y", y };
    xai_plot p = { .x = xs, .n_points = 3, .series = &s, .n_series = 1 };
    char err[256];
    cr_assert_eq(xai_plot_write_svg(NULL, &p, err, sizeof err), XAI_ENULL);
    cr_assert_eq(xai_plot_write_svg("/tmp/x.svg", NULL, err, sizeof err), XAI_ENULL);
    cr_assert_eq(xai_plot_write_svg("/tmp/x.svg", &p, err, sizeof err), XAI_EARG);
    cr_assert(strstr(err, "increasing"), "%s", err);
    p.n_points = 1;
    cr_assert_eq(xai_plot_write_svg("/tmp/x.svg", &p, err, sizeof err), XAI_EARG);
    p.n_points = 2;
    p.n_series = 13;
    cr_assert_eq(xai_plot_write_svg("/tmp/x.svg", &p, err, sizeof err), XAI_EARG);
    p.n_series = 1;
    cr_assert_eq(xai_plot_write_svg("/nonexistent-dir/x.svg", &p, err, sizeof err), XAI_EIO);
    cr_assert(strstr(err, "/nonexistent-dir/x.svg"), "%s", err);
}
