/* A batch of images as one PNG grid (activation maximisation's prototypes, inputs next to heatmaps). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xairt.h"
#include "rt_internal.h"

#define MAX_SIDE 16384
#define GAP      2

int xai_image_grid_write_png(const char *path, const float *images, int32_t batch, int32_t channels, int32_t height,
                             int32_t width, int32_t columns, int32_t scale, char *err, size_t errlen)
{
    if (!path) return xai_fail(err, errlen, XAI_ENULL, "xai_image_grid_write_png: path is NULL");
    if (!images) return xai_fail(err, errlen, XAI_ENULL, "%s: images is NULL", path);
    if (batch < 1 || height < 1 || width < 1 || (channels != 1 && channels != 3))
        return xai_fail(err, errlen, XAI_EARG,
                        "%s: image shape [%d, %d, %d, %d] (batch, height, width >= 1; "
                        "channels 1 or 3)",
                        path, (int)batch, (int)channels, (int)height, (int)width);
    if (columns < 0 || scale < 0)
        return xai_fail(err, errlen, XAI_EARG, "%s: columns %d and scale %d must be >= 0 (0: the default)", path,
                        (int)columns, (int)scale);
    int64_t cols = columns ? columns : 5;
    if (cols > batch) cols = batch;
    int64_t rows = (batch + cols - 1) / cols;
    int64_t s = scale ? scale : (112 + height - 1) / height;
    int64_t out_w = cols * width * s + (cols - 1) * GAP, out_h = rows * height * s + (rows - 1) * GAP;
    if ((int64_t)width * s > MAX_SIDE || (int64_t)height * s > MAX_SIDE || out_w > MAX_SIDE || out_h > MAX_SIDE)
        return xai_fail(err, errlen, XAI_EARG, "%s: the grid would exceed %d pixels a side", path, MAX_SIDE);
    size_t plane = (size_t)height * width, image = plane * channels, out_plane = (size_t)out_w * out_h;
    float *out = malloc(sizeof(float) * channels * out_plane);
    if (!out) return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < channels * out_plane; i++) out[i] = 1.0f; /* white gaps */
    for (int64_t b = 0; b < batch; b++) {
        const float *img = images + b * image;
        float lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < image; i++) {
            if (!isfinite(img[i])) {
                free(out);
                return xai_fail(err, errlen, XAI_ENAN, "%s: image %lld holds NaN or infinity", path, (long long)b);
            }
            lo = fminf(lo, img[i]), hi = fmaxf(hi, img[i]);
        }
        float span = hi > lo ? hi - lo : 1.0f; /* each image min-max normalised, as matplotlib's imshow */
        int64_t x0 = (b % cols) * (width * s + GAP), y0 = (b / cols) * (height * s + GAP);
        for (int32_t c = 0; c < channels; c++)
            for (int64_t y = 0; y < height * s; y++)
                for (int64_t x = 0; x < width * s; x++)
                    out[c * out_plane + (y0 + y) * out_w + x0 + x] =
                        (img[c * plane + (y / s) * width + x / s] - lo) / span;
    }
    int st = xai_png_write(path, out, channels, (int32_t)out_h, (int32_t)out_w, err, errlen);
    free(out);
    return st;
}
