/* Relevance heatmaps: matplotlib's `bwr` diverging map centred at zero over +-max|R| (or a sequential map of
 * colormap.c over the seed's pixel_range), optionally blended
 * over the input in grayscale, a batch laid out as a grid; written as an 8-bit RGB PNG through
 * xai_png_write. The formulas are in docs/heatmaps.md. */
#include "xairt.h"
#include "rt_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define DEFAULT_ALPHA      0.6f
#define DEFAULT_COLUMNS    10
#define DEFAULT_MIN_HEIGHT 112 /* default scale: the smallest making one image at least this high */
#define DEFAULT_GAP        2
#define MAX_SIDE           1000000 /* libpng's default limit on a PNG's width and height */

/* matplotlib's _bwr_data: (0,0,1) at t = -1, (1,1,1) at 0, (1,0,0) at +1, linear in between. Evaluated
 * continuously (not through a 256-entry table): white is exact at t = 0 and -t mirrors t exactly. */
void xai_colormap_bwr(float t, float rgb[3])
{
    if (isnan(t)) {
        rgb[0] = rgb[1] = rgb[2] = 0.0f;
        return;
    }
    if (t < -1.0f) t = -1.0f;
    if (t > 1.0f) t = 1.0f;
    if (t < 0.0f) {
        rgb[0] = rgb[1] = 1.0f + t;
        rgb[2] = 1.0f;
    } else {
        rgb[0] = 1.0f;
        rgb[1] = rgb[2] = 1.0f - t;
    }
}

static const char *nonfinite_name(float v) { return isnan(v) ? "NaN" : v > 0 ? "+inf" : "-inf"; }

int xai_heatmap_write_png(const char *path, const float *relevance, const float *input, int32_t batch, int32_t channels,
                          int32_t height, int32_t width, const xai_heatmap_options *opt, char *err, size_t errlen)
{
    if (!path) return xai_fail(err, errlen, XAI_ENULL, "xai_heatmap_write_png: path is NULL");
    if (!relevance) return xai_fail(err, errlen, XAI_ENULL, "%s: relevance is NULL", path);
    if (batch < 1 || channels < 1 || height < 1 || width < 1)
        return xai_fail(err, errlen, XAI_EARG,
                        "%s: relevance shape [%d, %d, %d, %d] (batch, channels, height, width must be >= 1)", path,
                        (int)batch, (int)channels, (int)height, (int)width);

    xai_heatmap_options o = { 0 };
    if (opt) o = *opt;
    if (o.overlay != 0 && o.overlay != 1)
        return xai_fail(err, errlen, XAI_EARG, "%s: overlay %d is not 0 or 1", path, (int)o.overlay);
    if (o.overlay && !input) return xai_fail(err, errlen, XAI_ENULL, "%s: overlay requested but input is NULL", path);
    if (!(o.alpha >= 0.0f && o.alpha <= 1.0f)) /* also NaN */
        return xai_fail(err, errlen, XAI_EARG, "%s: alpha %g is not in [0, 1] (0 means the default %g)", path,
                        (double)o.alpha, (double)DEFAULT_ALPHA);
    if (o.columns < 0)
        return xai_fail(err, errlen, XAI_EARG, "%s: columns %d is negative (0 means the default)", path,
                        (int)o.columns);
    if (o.scale < 0)
        return xai_fail(err, errlen, XAI_EARG, "%s: scale %d is negative (0 means the default)", path, (int)o.scale);
    if (o.shared_range != 0 && o.shared_range != 1)
        return xai_fail(err, errlen, XAI_EARG, "%s: shared_range %d is not 0 or 1", path, (int)o.shared_range);
    if (!xai_colormap_name(o.colormap))
        return xai_fail(err, errlen, XAI_EARG, "%s: colormap %d is not one of XAI_COLORMAP_* (0 to %d)", path,
                        (int)o.colormap, XAI_COLORMAP_GRAY);
    int sequential = o.colormap != XAI_COLORMAP_BWR;
    if (o.gap < -1)
        return xai_fail(err, errlen, XAI_EARG, "%s: gap %d is below -1 (-1 means no gap, 0 the default)", path,
                        (int)o.gap);

    /* Sizes: the input element count, then the PNG, each step checked before it could overflow. */
    int64_t dims[4] = { batch, channels, height, width };
    int64_t in_bytes = xai_checked_bytes(dims, 4, (int64_t)sizeof(float));
    if (in_bytes < 0 || (uint64_t)in_bytes > SIZE_MAX)
        return xai_fail(err, errlen, XAI_EARG, "%s: relevance shape [%d, %d, %d, %d] is too large", path, (int)batch,
                        (int)channels, (int)height, (int)width);
    float alpha = o.alpha > 0.0f ? o.alpha : DEFAULT_ALPHA;
    int64_t cols = o.columns ? o.columns : DEFAULT_COLUMNS;
    if (cols > batch) cols = batch;
    int64_t rows = (batch + cols - 1) / cols;
    int64_t scale = o.scale ? o.scale : (DEFAULT_MIN_HEIGHT + height - 1) / height;
    int64_t gap = o.gap == 0 ? DEFAULT_GAP : o.gap < 0 ? 0 : o.gap;
    int64_t cell_w = (int64_t)width * scale, cell_h = (int64_t)height * scale; /* < 2^62 */
    int64_t out_w = -1, out_h = -1;
    if (cell_w <= MAX_SIDE && cell_h <= MAX_SIDE && gap <= MAX_SIDE) {
        out_w = cols * cell_w + (cols - 1) * gap; /* each term < 2^31 * 2^20 */
        out_h = rows * cell_h + (rows - 1) * gap;
    }
    if (out_w < 0 || out_w > MAX_SIDE || out_h < 0 || out_h > MAX_SIDE) {
        if (out_w < 0)
            return xai_fail(err, errlen, XAI_EARG,
                            "%s: a %dx%d image at scale %lld with gap %lld exceeds the PNG limit of %d pixels a side",
                            path, (int)height, (int)width, (long long)scale, (long long)gap, MAX_SIDE);
        return xai_fail(err, errlen, XAI_EARG,
                        "%s: the %lld x %lld grid would be %lld x %lld pixels (the PNG limit is %d a side)", path,
                        (long long)rows, (long long)cols, (long long)out_h, (long long)out_w, MAX_SIDE);
    }

    size_t plane = (size_t)height * (size_t)width, n_img = (size_t)batch;
    size_t out_plane = (size_t)out_h * (size_t)out_w;
    if (out_plane > SIZE_MAX / 3 / sizeof(float))
        return xai_fail(err, errlen, XAI_EARG, "%s: a %lld x %lld PNG is too large", path, (long long)out_h,
                        (long long)out_w);
    double *sum = malloc(n_img * plane * sizeof *sum);
    double *range = malloc(n_img * sizeof *range), *lo = malloc(n_img * sizeof *lo), *hi = malloc(n_img * sizeof *hi);
    float *gray = o.overlay ? malloc(n_img * plane * sizeof *gray) : NULL;
    float *out = malloc(3 * out_plane * sizeof *out);
    int st = XAI_OK;
    if (!sum || !range || !lo || !hi || !out || (o.overlay && !gray)) {
        st = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory for a %lld x %lld heatmap", path, (long long)out_h,
                      (long long)out_w);
        goto done;
    }

    /* Relevance summed over channels (in double); per-image max |sum|. */
    for (size_t b = 0; b < n_img; b++) {
        double *s = sum + b * plane, m = 0.0;
        for (size_t i = 0; i < plane; i++) s[i] = 0.0;
        for (size_t c = 0; c < (size_t)channels; c++) {
            const float *r = relevance + (b * (size_t)channels + c) * plane;
            for (size_t i = 0; i < plane; i++) {
                if (!isfinite(r[i])) {
                    st = xai_fail(err, errlen, XAI_ENAN, "%s: relevance[%zu, %zu, %zu, %zu] is %s", path, b, c,
                                  i / (size_t)width, i % (size_t)width, nonfinite_name(r[i]));
                    goto done;
                }
                s[i] += r[i];
            }
        }
        lo[b] = hi[b] = s[0];
        for (size_t i = 0; i < plane; i++) {
            m = fmax(m, fabs(s[i]));
            lo[b] = fmin(lo[b], s[i]);
            hi[b] = fmax(hi[b], s[i]);
        }
        range[b] = m;
    }
    if (o.shared_range) {
        for (size_t b = 1; b < n_img; b++) {
            range[0] = fmax(range[0], range[b]);
            lo[0] = fmin(lo[0], lo[b]);
            hi[0] = fmax(hi[0], hi[b]);
        }
        for (size_t b = 1; b < n_img; b++) range[b] = range[0], lo[b] = lo[0], hi[b] = hi[0];
    }
    /* The seed's pixel_range for sequential maps: [min, max] unless the map has both signs, then +-max|R|. */
    for (size_t b = 0; b < n_img; b++)
        if (lo[b] * hi[b] < 0.0) lo[b] = -range[b], hi[b] = range[b];

    /* Overlay background: channel mean, min-max normalised per image (a constant image is black). */
    if (o.overlay) {
        for (size_t b = 0; b < n_img; b++) {
            float *g = gray + b * plane;
            for (size_t i = 0; i < plane; i++) {
                double acc = 0.0;
                for (size_t c = 0; c < (size_t)channels; c++) {
                    float v = input[(b * (size_t)channels + c) * plane + i];
                    if (!isfinite(v)) {
                        st = xai_fail(err, errlen, XAI_ENAN, "%s: input[%zu, %zu, %zu, %zu] is %s", path, b, c,
                                      i / (size_t)width, i % (size_t)width, nonfinite_name(v));
                        goto done;
                    }
                    acc += v;
                }
                g[i] = (float)(acc / channels);
            }
            float lo = g[0], hi = g[0];
            for (size_t i = 1; i < plane; i++) {
                lo = fminf(lo, g[i]);
                hi = fmaxf(hi, g[i]);
            }
            double span = (double)hi - (double)lo;
            for (size_t i = 0; i < plane; i++) g[i] = span > 0.0 ? (float)(((double)g[i] - lo) / span) : 0.0f;
        }
    }

    /* White canvas (gaps and empty cells stay white), then each image in its cell. */
    for (size_t i = 0; i < 3 * out_plane; i++) out[i] = 1.0f;
    for (size_t b = 0; b < n_img; b++) {
        size_t y0 = (size_t)((int64_t)b / cols * (cell_h + gap)), x0 = (size_t)((int64_t)b % cols * (cell_w + gap));
        const double *s = sum + b * plane;
        for (size_t y = 0; y < (size_t)height; y++)
            for (size_t x = 0; x < (size_t)width; x++) {
                size_t i = y * (size_t)width + x;
                float t = range[b] > 0.0 ? (float)(s[i] / range[b]) : 0.0f, rgb[3];
                if (sequential)
                    xai_colormap(o.colormap, hi[b] > lo[b] ? (float)((s[i] - lo[b]) / (hi[b] - lo[b])) : 0.0f, rgb);
                else
                    xai_colormap_bwr(t, rgb);
                if (o.overlay) {
                    /* bwr fades to the input at zero relevance; a sequential map has no neutral colour */
                    float a = sequential ? alpha : alpha * fabsf(t), g = gray[b * plane + i];
                    for (int c = 0; c < 3; c++) rgb[c] = (1.0f - a) * g + a * rgb[c];
                }
                for (size_t dy = 0; dy < (size_t)scale; dy++) {
                    size_t row = (y0 + y * (size_t)scale + dy) * (size_t)out_w + x0 + x * (size_t)scale;
                    for (int c = 0; c < 3; c++) {
                        float *p = out + (size_t)c * out_plane + row;
                        for (size_t dx = 0; dx < (size_t)scale; dx++) p[dx] = rgb[c];
                    }
                }
            }
    }
    st = xai_png_write(path, out, 3, (int32_t)out_h, (int32_t)out_w, err, errlen);
done:
    free(sum);
    free(range);
    free(lo);
    free(hi);
    free(gray);
    free(out);
    return st;
}
