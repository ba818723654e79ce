/* libxairt heatmaps: the bwr colour map, rendering read back through xai_png_read, grid layout,
 * overlays and argument validation. Expected colours are written from the definition
 * (0,0,1) -> (1,1,1) -> (1,0,0) over t = R / max|R| in [-1, 1] (docs/heatmaps.md). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "xairt.h"

#define TOL (1.0f / 255.0f + 1e-6f)

static const float BLUE[3] = { 0, 0, 1 }, WHITE[3] = { 1, 1, 1 }, RED[3] = { 1, 0, 0 };

/* Renders, checks success, reads the PNG back as RGB [3, H, W] and checks its size. */
static void render(const char *name, const float *rel, const float *in, int b, int c, int h, int w,
                   const xai_heatmap_options *opt, int want_h, int want_w, xai_array *a)
{
    char *p = tu_write_temp(name, "", 0);
    char err[256] = "";
    cr_assert_eq(xai_heatmap_write_png(p, rel, in, b, c, h, w, opt, err, sizeof err), XAI_OK, "%s: %s", name, err);
    cr_assert_eq(xai_png_read(p, 0, a, err, sizeof err), XAI_OK, "%s: %s", name, err);
    cr_assert_eq(a->rank, 3);
    cr_assert_eq(a->shape[0], 3, "%s: %lld channels (want RGB)", name, (long long)a->shape[0]);
    cr_assert_eq(a->shape[1], want_h, "%s: height %lld, want %d", name, (long long)a->shape[1], want_h);
    cr_assert_eq(a->shape[2], want_w, "%s: width %lld, want %d", name, (long long)a->shape[2], want_w);
    free(p);
}

static void px(const xai_array *a, int y, int x, float rgb[3])
{
    int64_t h = a->shape[1], w = a->shape[2];
    for (int c = 0; c < 3; c++) rgb[c] = a->data[(c * h + y) * w + x];
}

static void expect_px(const xai_array *a, int y, int x, float r, float g, float b, const char *what)
{
    float v[3];
    px(a, y, x, v);
    float want[3] = { r, g, b };
    for (int c = 0; c < 3; c++)
        cr_assert(fabsf(v[c] - want[c]) <= TOL, "%s: pixel (%d, %d) = (%g, %g, %g), want (%g, %g, %g)", what, y, x,
                  v[0] * 255, v[1] * 255, v[2] * 255, r * 255, g * 255, b * 255);
}

static void expect_rgb(const xai_array *a, int y, int x, const float want[3], const char *what)
{
    expect_px(a, y, x, want[0], want[1], want[2], what);
}

static void cmap_eq(float t, float r, float g, float b)
{
    float v[3] = { -7, -7, -7 };
    xai_colormap_bwr(t, v);
    cr_assert(v[0] == r && v[1] == g && v[2] == b, "bwr(%g) = (%.9g, %.9g, %.9g), want (%g, %g, %g)", t, v[0], v[1],
              v[2], r, g, b);
}

Test(heatmap, colormap_values)
{
    cmap_eq(-1.0f, 0.0f, 0.0f, 1.0f);
    cmap_eq(-0.5f, 0.5f, 0.5f, 1.0f);
    cmap_eq(0.0f, 1.0f, 1.0f, 1.0f);
    cmap_eq(0.5f, 1.0f, 0.5f, 0.5f);
    cmap_eq(1.0f, 1.0f, 0.0f, 0.0f);
    cmap_eq(-0.0f, 1.0f, 1.0f, 1.0f);
    cmap_eq(-0.25f, 0.75f, 0.75f, 1.0f);
    cmap_eq(0.75f, 1.0f, 0.25f, 0.25f);
    /* clamped outside [-1, 1]; NaN is black */
    cmap_eq(3.0f, 1.0f, 0.0f, 0.0f);
    cmap_eq(-INFINITY, 0.0f, 0.0f, 1.0f);
    cmap_eq(NAN, 0.0f, 0.0f, 0.0f);
}

/* The documented relation to matplotlib's 256-entry table: index i = min(255, floor(256 (t + 1) / 2)),
 * entry i = the continuous map at 2 i / 255 - 1; the two differ by less than 2/255 per channel. */
Test(heatmap, colormap_within_two_steps_of_matplotlib_lut)
{
    float worst = 0;
    for (int k = 0; k <= 20000; k++) {
        double t = -1.0 + k / 10000.0;
        int i = (int)floor(256.0 * (t + 1.0) / 2.0);
        if (i > 255) i = 255;
        double u = 2.0 * i / 255.0 - 1.0;
        double lut[3] = { u < 0 ? 1 + u : 1, u < 0 ? 1 + u : 1 - u, u < 0 ? 1 : 1 - u };
        float v[3];
        xai_colormap_bwr((float)t, v);
        for (int c = 0; c < 3; c++) worst = fmaxf(worst, (float)fabs(v[c] - lut[c]));
    }
    cr_assert(worst < 2.0f / 255.0f, "max difference %g * 255", worst * 255);
    cr_assert(worst > 1.0f / 255.0f, "max difference %g * 255 (the bound is not vacuous)", worst * 255);
}

Test(heatmap, two_by_two_at_scale_one)
{
    /* max|R| = 2: t = -1, -0.5, 0, 1 */
    const float R[4] = { -2.0f, -1.0f, 0.0f, 2.0f };
    xai_heatmap_options o = { .scale = 1 };
    xai_array a;
    render("2x2.png", R, NULL, 1, 1, 2, 2, &o, 2, 2, &a);
    expect_rgb(&a, 0, 0, BLUE, "t=-1");
    expect_px(&a, 0, 1, 0.5f, 0.5f, 1.0f, "t=-0.5");
    expect_rgb(&a, 1, 0, WHITE, "t=0");
    expect_rgb(&a, 1, 1, RED, "t=1");
    xai_array_free(&a);
}

Test(heatmap, defaults_and_all_zero_is_white)
{
    /* opt NULL: 28 px high -> scale 4 -> 112 x 112; an all-zero map is white everywhere */
    float *R = calloc(28 * 28, sizeof *R);
    xai_array a;
    render("zero.png", R, NULL, 1, 1, 28, 28, NULL, 112, 112, &a);
    for (int64_t i = 0; i < 3 * 112 * 112; i++) cr_assert_eq(a.data[i], 1.0f, "element %lld", (long long)i);
    xai_array_free(&a);
    free(R);
}

Test(heatmap, default_scale_and_columns)
{
    float *R = calloc(12 * 100 * 30, sizeof *R);
    xai_array a;
    /* 100 high -> scale 2; 120 high -> scale 1; 12 images -> 10 columns, 2 rows, gap 2 */
    render("s100.png", R, NULL, 1, 1, 100, 3, NULL, 200, 6, &a);
    xai_array_free(&a);
    render("s120.png", R, NULL, 1, 1, 120, 5, NULL, 120, 5, &a);
    xai_array_free(&a);
    render("grid12.png", R, NULL, 12, 1, 28, 2, NULL, 2 * 112 + 2, 10 * 8 + 9 * 2, &a);
    xai_array_free(&a);
    /* more columns than images: as many columns as images */
    xai_heatmap_options o = { .columns = 5, .scale = 1, .gap = -1 };
    render("cols.png", R, NULL, 3, 1, 2, 2, &o, 2, 6, &a);
    xai_array_free(&a);
    free(R);
}

Test(heatmap, sign_symmetry)
{
    float R[12], N[12];
    for (int i = 0; i < 12; i++) {
        R[i] = sinf(1.7f * (float)i + 0.3f) * (float)(i + 1);
        N[i] = -R[i];
    }
    xai_heatmap_options o = { .scale = 1 };
    xai_array a, b;
    render("pos.png", R, NULL, 1, 1, 3, 4, &o, 3, 4, &a);
    render("neg.png", N, NULL, 1, 1, 3, 4, &o, 3, 4, &b);
    int reds = 0, blues = 0;
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 4; x++) {
            float p[3], q[3];
            px(&a, y, x, p);
            px(&b, y, x, q);
            cr_assert(p[0] == q[2] && p[1] == q[1] && p[2] == q[0],
                      "(%d, %d): R gives (%g, %g, %g), -R gives (%g, %g, %g)", y, x, p[0], p[1], p[2], q[0], q[1],
                      q[2]);
            reds += R[y * 4 + x] > 0 && p[0] == 1.0f && p[2] < 1.0f;
            blues += R[y * 4 + x] < 0 && p[2] == 1.0f && p[0] < 1.0f;
        }
    cr_assert(reds > 0 && blues > 0 && reds + blues == 12, "reds %d blues %d", reds, blues);
    xai_array_free(&a);
    xai_array_free(&b);
}

Test(heatmap, shared_versus_per_image_range)
{
    /* image 1 = 4 x image 0; 1 channel, 2x2 each, side by side without gap */
    const float R[8] = { 1.0f, 0.5f, -1.0f, 0.0f, 4.0f, 2.0f, -4.0f, 0.0f };
    xai_heatmap_options o = { .scale = 1, .gap = -1 };
    xai_array a;
    render("own.png", R, NULL, 2, 1, 2, 2, &o, 2, 4, &a);
    for (int img = 0; img < 2; img++) { /* each image its own range: identical pictures */
        expect_rgb(&a, 0, 2 * img, RED, "own range, t=1");
        expect_px(&a, 0, 2 * img + 1, 1.0f, 0.5f, 0.5f, "own range, t=0.5");
        expect_rgb(&a, 1, 2 * img, BLUE, "own range, t=-1");
        expect_rgb(&a, 1, 2 * img + 1, WHITE, "own range, t=0");
    }
    xai_array_free(&a);

    o.shared_range = 1; /* one range, 4: image 0 is pale (t = 0.25, 0.125, -0.25, 0) */
    render("shared.png", R, NULL, 2, 1, 2, 2, &o, 2, 4, &a);
    expect_px(&a, 0, 0, 1.0f, 0.75f, 0.75f, "shared, image 0, t=0.25");
    expect_px(&a, 0, 1, 1.0f, 0.875f, 0.875f, "shared, image 0, t=0.125");
    expect_px(&a, 1, 0, 0.75f, 0.75f, 1.0f, "shared, image 0, t=-0.25");
    expect_rgb(&a, 1, 1, WHITE, "shared, image 0, t=0");
    expect_rgb(&a, 0, 2, RED, "shared, image 1, t=1");
    expect_px(&a, 0, 3, 1.0f, 0.5f, 0.5f, "shared, image 1, t=0.5");
    expect_rgb(&a, 1, 2, BLUE, "shared, image 1, t=-1");
    xai_array_free(&a);
}

Test(heatmap, grid_layout_and_white_gaps)
{
    /* batch 3 of 3x4, columns 2, scale 2, gap 2: cells 6x8, PNG (2*6+2) x (2*8+2) = 14 x 18.
     * Each image: pixel (0, 0) negative, the rest positive. */
    float R[3 * 12];
    for (int b = 0; b < 3; b++)
        for (int i = 0; i < 12; i++) R[b * 12 + i] = i == 0 ? -1.0f : 1.0f;
    xai_heatmap_options o = { .columns = 2, .scale = 2, .gap = 2 };
    xai_array a;
    render("grid.png", R, NULL, 3, 1, 3, 4, &o, 14, 18, &a);
    for (int y = 0; y < 14; y++)
        for (int x = 0; x < 18; x++) {
            int in_gap = (x == 8 || x == 9) || (y == 6 || y == 7);
            int empty = y >= 8 && x >= 10; /* row 1, column 1: no fourth image */
            if (in_gap || empty) {
                expect_rgb(&a, y, x, WHITE, in_gap ? "gap" : "empty cell");
                continue;
            }
            int cy = y >= 8 ? y - 8 : y, cx = x >= 10 ? x - 10 : x; /* position inside the cell */
            expect_rgb(&a, y, x, cy < 2 && cx < 2 ? BLUE : RED, "cell");
        }
    xai_array_free(&a);

    /* gap -1: none */
    o.gap = -1;
    render("nogap.png", R, NULL, 3, 1, 3, 4, &o, 12, 16, &a);
    expect_rgb(&a, 0, 8, BLUE, "image 1 starts at x = 8");
    expect_rgb(&a, 6, 0, BLUE, "image 2 starts at y = 6");
    expect_rgb(&a, 11, 15, WHITE, "empty cell");
    xai_array_free(&a);
}

Test(heatmap, overlay_zero_relevance_is_the_grayscale_input)
{
    /* 3-channel input whose channel mean is 0, 10, 20, 40 -> normalised 0, 0.25, 0.5, 1 */
    const float mean[4] = { 0, 10, 20, 40 };
    float in[12], R[12] = { 0 };
    for (int i = 0; i < 4; i++) {
        in[i] = mean[i];
        in[4 + i] = mean[i] + 3.0f;
        in[8 + i] = mean[i] - 3.0f;
    }
    xai_heatmap_options o = { .overlay = 1, .scale = 1 };
    xai_array a;
    render("ov0.png", R, in, 1, 3, 2, 2, &o, 2, 2, &a);
    const float g[4] = { 0.0f, 0.25f, 0.5f, 1.0f };
    for (int i = 0; i < 4; i++) expect_px(&a, i / 2, i % 2, g[i], g[i], g[i], "zero relevance");
    xai_array_free(&a);

    /* zero relevance at one pixel of a non-zero map: still exactly the input there */
    R[4 + 3] = 5.0f; /* channel 1, pixel (1, 1) */
    render("ov1.png", R, in, 1, 3, 2, 2, &o, 2, 2, &a);
    expect_px(&a, 0, 1, 0.25f, 0.25f, 0.25f, "zero relevance pixel");
    expect_px(&a, 1, 1, 1.0f, 0.4f, 0.4f, "t=1 over 1 at alpha 0.6");
    xai_array_free(&a);

    /* a constant input normalises to black */
    float flat[4] = { 7, 7, 7, 7 }, R1[4] = { 0, 0, 0, 0 };
    render("ovflat.png", R1, flat, 1, 1, 2, 2, &o, 2, 2, &a);
    expect_px(&a, 0, 0, 0, 0, 0, "constant input");
    xai_array_free(&a);
}

Test(heatmap, overlay_alpha_blending)
{
    /* gray g = 0, 0.25, 0.5, 1; relevance 0, -0.5, 0.25, 1 (t the same, max 1); alpha 0.8.
     * out = (1 - a) g + a bwr(t), a = alpha |t|. */
    const float in[4] = { 0, 1, 2, 4 }, R[4] = { 0.0f, -0.5f, 0.25f, 1.0f };
    xai_heatmap_options o = { .overlay = 1, .alpha = 0.8f, .scale = 1 };
    xai_array a;
    render("blend.png", R, in, 1, 1, 2, 2, &o, 2, 2, &a);
    expect_px(&a, 0, 0, 0, 0, 0, "t=0 over 0");
    /* a = 0.4, bwr(-0.5) = (0.5, 0.5, 1): 0.6 * 0.25 + 0.4 * (0.5, 0.5, 1) */
    expect_px(&a, 0, 1, 0.35f, 0.35f, 0.55f, "t=-0.5 over 0.25");
    /* a = 0.2, bwr(0.25) = (1, 0.75, 0.75): 0.8 * 0.5 + 0.2 * (1, 0.75, 0.75) */
    expect_px(&a, 1, 0, 0.6f, 0.55f, 0.55f, "t=0.25 over 0.5");
    /* a = 0.8, bwr(1) = red: 0.2 * 1 + 0.8 * (1, 0, 0) */
    expect_px(&a, 1, 1, 1.0f, 0.2f, 0.2f, "t=1 over 1");
    xai_array_free(&a);

    /* default alpha 0.6 and a scaled overlay: t = -1 over 0.25 -> 0.4 * 0.25 + 0.6 * (0, 0, 1) */
    const float R2[4] = { 0.0f, -2.0f, 0.0f, 0.0f };
    xai_heatmap_options d = { .overlay = 1, .scale = 3 };
    render("blend2.png", R2, in, 1, 1, 2, 2, &d, 6, 6, &a);
    for (int y = 0; y < 3; y++)
        for (int x = 3; x < 6; x++) expect_px(&a, y, x, 0.1f, 0.1f, 0.7f, "t=-1 over 0.25, alpha 0.6");
    xai_array_free(&a);
}

Test(heatmap, channels_are_summed)
{
    /* 3 channels, 1x2: pixel 0 sums to 1 + 2 - 4 = -1, pixel 1 to 1.5 -> t = -2/3 and 1.
     * (Channel 2 alone, or |R| summed, would give other colours.) */
    const float R[6] = { 1.0f, 0.5f, 2.0f, 0.5f, -4.0f, 0.5f };
    xai_heatmap_options o = { .scale = 1 };
    xai_array a;
    render("sum.png", R, NULL, 1, 3, 1, 2, &o, 1, 2, &a);
    expect_px(&a, 0, 0, 1.0f / 3, 1.0f / 3, 1.0f, "sum -1 of 1.5");
    expect_rgb(&a, 0, 1, RED, "sum 1.5 of 1.5");
    xai_array_free(&a);
}

static void bad(int want, const char *needle, const char *path, const float *rel, const float *in, int b, int c, int h,
                int w, const xai_heatmap_options *o)
{
    char err[256] = "";
    int st = xai_heatmap_write_png(path, rel, in, b, c, h, w, o, err, sizeof err);
    cr_assert_eq(st, want, "status %d (%s), want %d; message: %s", st, xai_status_string(st), want, err);
    cr_assert(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
    /* also without a message buffer */
    cr_assert_eq(xai_heatmap_write_png(path, rel, in, b, c, h, w, o, NULL, 0), want);
    if (path) cr_assert_null(tu_read_file(path, NULL), "%s left behind", path);
}

Test(heatmap, bad_arguments)
{
    char *p = tu_write_temp("bad.png", "", 0);
    remove(p);
    float R[4] = { 1, 2, 3, 4 }, in[4] = { 0 };
    bad(XAI_ENULL, "path is NULL", NULL, R, NULL, 1, 1, 2, 2, NULL);
    bad(XAI_ENULL, "relevance is NULL", p, NULL, NULL, 1, 1, 2, 2, NULL);
    bad(XAI_EARG, "[0, 1, 2, 2]", p, R, NULL, 0, 1, 2, 2, NULL);
    bad(XAI_EARG, "[1, 0, 2, 2]", p, R, NULL, 1, 0, 2, 2, NULL);
    bad(XAI_EARG, "[1, 1, -1, 2]", p, R, NULL, 1, 1, -1, 2, NULL);
    bad(XAI_EARG, "[1, 1, 2, 0]", p, R, NULL, 1, 1, 2, 0, NULL);
    bad(XAI_EARG, "[-5, 1, 2, 2]", p, R, NULL, -5, 1, 2, 2, NULL);

    xai_heatmap_options o = { .overlay = 1 };
    bad(XAI_ENULL, "input is NULL", p, R, NULL, 1, 1, 2, 2, &o);
    o = (xai_heatmap_options){ .overlay = 2 };
    bad(XAI_EARG, "overlay 2", p, R, in, 1, 1, 2, 2, &o);
    o = (xai_heatmap_options){ .alpha = -0.1f };
    bad(XAI_EARG, "alpha -0.1", p, R, NULL, 1, 1, 2, 2, &o);
    o.alpha = 1.5f;
    bad(XAI_EARG, "alpha 1.5", p, R, NULL, 1, 1, 2, 2, &o);
    o.alpha = NAN;
    bad(XAI_EARG, "alpha nan", p, R, NULL, 1, 1, 2, 2, &o);
    o = (xai_heatmap_options){ .columns = -1 };
    bad(XAI_EARG, "columns -1", p, R, NULL, 1, 1, 2, 2, &o);
    o = (xai_heatmap_options){ .scale = -2 };
    bad(XAI_EARG, "scale -2", p, R, NULL, 1, 1, 2, 2, &o);
    o = (xai_heatmap_options){ .shared_range = 3 };
    bad(XAI_EARG, "shared_range 3", p, R, NULL, 1, 1, 2, 2, &o);
    o = (xai_heatmap_options){ .gap = -2 };
    bad(XAI_EARG, "gap -2", p, R, NULL, 1, 1, 2, 2, &o);
    o = (xai_heatmap_options){ .colormap = 5 };
    bad(XAI_EARG, "colormap 5", p, R, NULL, 1, 1, 2, 2, &o);
    o = (xai_heatmap_options){ .colormap = -1 };
    bad(XAI_EARG, "colormap -1", p, R, NULL, 1, 1, 2, 2, &o);

    /* sizes: checked before anything is read, so a small buffer stands in */
    bad(XAI_EARG, "too large", p, R, NULL, INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX, NULL);
    bad(XAI_EARG, "too large", p, R, NULL, 1 << 20, 1 << 20, 1 << 20, 1 << 20, NULL);
    o = (xai_heatmap_options){ .scale = INT32_MAX };
    bad(XAI_EARG, "PNG limit", p, R, NULL, 1, 1, INT32_MAX / 4, 1, &o);
    bad(XAI_EARG, "PNG limit", p, R, NULL, 1, 1, 1, 1, &o);
    o = (xai_heatmap_options){ .scale = 1, .columns = 3 };
    bad(XAI_EARG, "would be 1 x 1200004 pixels", p, R, NULL, 3, 1, 1, 400000, &o);
    o = (xai_heatmap_options){ .scale = 1, .gap = INT32_MAX };
    bad(XAI_EARG, "PNG limit", p, R, NULL, 2, 1, 1, 1, &o);
    bad(XAI_EARG, "PNG limit", p, R, NULL, 1, 1, 2000000, 1, NULL);

    /* non-finite values */
    float r2[4] = { 1, NAN, 0, 0 };
    bad(XAI_ENAN, "relevance[0, 0, 0, 1] is NaN", p, r2, NULL, 1, 1, 2, 2, NULL);
    float r3[8] = { 0, 0, 0, 0, 0, 0, -INFINITY, 0 };
    bad(XAI_ENAN, "relevance[0, 1, 1, 0] is -inf", p, r3, NULL, 1, 2, 2, 2, NULL);
    bad(XAI_ENAN, "relevance[1, 0, 1, 0] is -inf", p, r3, NULL, 2, 1, 2, 2, NULL);
    float in2[4] = { 0, 0, 0, INFINITY };
    o = (xai_heatmap_options){ .overlay = 1 };
    bad(XAI_ENAN, "input[0, 0, 1, 1] is +inf", p, R, in2, 1, 1, 2, 2, &o);
    /* input is ignored without overlay */
    char err[256] = "";
    cr_assert_eq(xai_heatmap_write_png(p, R, in2, 1, 1, 2, 2, NULL, err, sizeof err), XAI_OK, "%s", err);
    remove(p);

    /* unwritable path: xai_png_write's error */
    bad(XAI_EIO, "/nonexistent-dir/h.png: cannot open for writing", "/nonexistent-dir/h.png", R, NULL, 1, 1, 2, 2,
        NULL);
    free(p);
}

/* The sequential maps against matplotlib's own colours: tests/fixtures/heatmap/colormaps.npy holds
 * colormaps[name](u) for hot, hot_r, viridis, gray at u = k / 100 (tests/reference/make_colormaps.py). */
static const int SEQUENTIAL[4] = { XAI_COLORMAP_HOT, XAI_COLORMAP_HOT_R, XAI_COLORMAP_VIRIDIS, XAI_COLORMAP_GRAY };

static void load_matplotlib(xai_array *ref)
{
    char err[256] = "";
    cr_assert_eq(xai_npy_read("tests/fixtures/heatmap/colormaps.npy", ref, 0, err, sizeof err), XAI_OK, "%s", err);
    cr_assert(ref->rank == 3 && ref->shape[0] == 4 && ref->shape[1] == 101 && ref->shape[2] == 3);
}

Test(heatmap, sequential_maps_are_matplotlibs)
{
    xai_array ref;
    load_matplotlib(&ref);
    for (int m = 0; m < 4; m++)
        for (int k = 0; k <= 100; k++) {
            float v[3];
            xai_colormap(SEQUENTIAL[m], k / 100.0f, v);
            const float *want = ref.data + (m * 101 + k) * 3;
            for (int c = 0; c < 3; c++)
                cr_assert(fabsf(v[c] - want[c]) <= 1e-6f, "%s(%g) channel %d = %.7g, matplotlib %.7g",
                          xai_colormap_name(SEQUENTIAL[m]), k / 100.0, c, v[c], want[c]);
        }
    xai_array_free(&ref);
    float v[3];
    xai_colormap(XAI_COLORMAP_GRAY, -3.0f, v); /* clamped */
    cr_assert(v[0] == 0.0f && v[2] == 0.0f);
    xai_colormap(XAI_COLORMAP_GRAY, 7.0f, v);
    cr_assert(v[0] == 1.0f && v[1] == 1.0f);
    xai_colormap(XAI_COLORMAP_VIRIDIS, NAN, v);
    cr_assert(v[0] == 0.0f && v[1] == 0.0f && v[2] == 0.0f, "NaN is black");
}

Test(heatmap, colormap_names)
{
    const char *names[] = { "bwr", "hot", "hot_r", "viridis", "gray" };
    for (int m = 0; m < 5; m++) {
        cr_assert_eq(xai_colormap_from_name(names[m]), m);
        cr_assert_str_eq(xai_colormap_name(m), names[m]);
    }
    cr_assert_eq(xai_colormap_from_name("jet"), -1);
    cr_assert_eq(xai_colormap_from_name("Hot"), -1);
    cr_assert_eq(xai_colormap_from_name(NULL), -1);
    cr_assert_null(xai_colormap_name(5));
    cr_assert_null(xai_colormap_name(-1));
}

/* The seed's pixel_range: a map of one sign spans [min, max]; one with both signs +-max|R|. */
Test(heatmap, sequential_range_is_the_seeds_pixel_range)
{
    xai_array ref, a;
    load_matplotlib(&ref);
    const float *hot_r = ref.data + 1 * 101 * 3, *gray = ref.data + 3 * 101 * 3;

    const float one_sign[4] = { 1.0f, 2.0f, 3.0f, 5.0f }; /* [1, 5]: u = 0, 0.25, 0.5, 1 */
    xai_heatmap_options o = { .scale = 1, .colormap = XAI_COLORMAP_HOT_R };
    render("hot_r.png", one_sign, NULL, 1, 1, 2, 2, &o, 2, 2, &a);
    const int at[4] = { 0, 25, 50, 100 };
    for (int i = 0; i < 4; i++) expect_rgb(&a, i / 2, i % 2, hot_r + at[i] * 3, "hot_r over [min, max]");
    xai_array_free(&a);

    const float both_signs[4] = { -2.0f, 0.0f, 2.0f, 4.0f }; /* +-4 (not [-2, 4]): u = 0.25, 0.5, 0.75, 1 */
    o.colormap = XAI_COLORMAP_GRAY;
    render("gray.png", both_signs, NULL, 1, 1, 2, 2, &o, 2, 2, &a);
    const int at2[4] = { 25, 50, 75, 100 };
    for (int i = 0; i < 4; i++) expect_rgb(&a, i / 2, i % 2, gray + at2[i] * 3, "gray over +-max|R|");
    xai_array_free(&a);

    /* shared_range: the second image's [10, 20] widens the first's [1, 5] to [1, 20] */
    const float two[8] = { 1.0f, 2.0f, 3.0f, 5.0f, 10.0f, 20.0f, 15.0f, 12.0f };
    o = (xai_heatmap_options){ .scale = 1, .gap = -1, .shared_range = 1, .colormap = XAI_COLORMAP_GRAY };
    render("shared_gray.png", two, NULL, 2, 1, 2, 2, &o, 2, 4, &a);
    float v[3];
    px(&a, 0, 0, v);
    cr_assert(fabsf(v[0]) <= TOL, "min of the batch is black");
    px(&a, 0, 3, v);
    cr_assert(fabsf(v[0] - 1.0f) <= TOL, "max of the batch is white");
    px(&a, 1, 1, v); /* 5 of [1, 20]: u = 4 / 19, entry floor(256 * 4 / 19) = 53 */
    cr_assert(fabsf(v[0] - 53.0f / 255.0f) <= TOL, "gray(4/19) = %g / 255", v[0] * 255);
    xai_array_free(&a);

    /* an overlay blends a sequential map at a constant opacity alpha */
    const float in[4] = { 0.0f, 0.0f, 0.0f, 1.0f };
    o = (xai_heatmap_options){ .scale = 1, .overlay = 1, .alpha = 0.5f, .colormap = XAI_COLORMAP_GRAY };
    render("gray_overlay.png", one_sign, in, 1, 1, 2, 2, &o, 2, 2, &a);
    expect_px(&a, 0, 0, 0.0f, 0.0f, 0.0f, "black input, black map");
    expect_px(&a, 1, 1, 1.0f, 1.0f, 1.0f, "white input, white map");
    expect_px(&a, 0, 1, 0.5f * gray[25 * 3], 0.5f * gray[25 * 3], 0.5f * gray[25 * 3], "black input, half opacity");
    xai_array_free(&a);
    xai_array_free(&ref);
}
