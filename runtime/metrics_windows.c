/* Sliding-window patch choice for pixel flipping (XAI_WINDOWS_SLIDING): the seed's find_roi (technique
 * spec 0.4) with summed-area tables, O(C*H*W) per step instead of O(H*W*P^2).
 *
 * Why fixed point: find_roi breaks ties by np.argmax (the first maximum in row-major order), and heatmaps
 * are full of exact ties (every window of a zero background sums to 0). Window sums taken as differences
 * of floating-point prefix sums carry rounding that differs from window to window and would break those
 * ties arbitrarily. Each value is instead scaled by one power of two per heatmap (the largest |value| just
 * below 2^(ACC_BITS - log2(count))) and truncated to an integer, so every sum, prefix or window, is exact:
 * equal sums tie exactly. Values below 2^-ACC_BITS of the largest (about 2^-115 with 128-bit integers)
 * are lost, far below float32 resolution of the sums. */
#include "xairt.h"
#include "rt_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#ifdef __SIZEOF_INT128__
__extension__ typedef __int128 acc_t;
#define ACC_BITS 125 /* headroom: a window sum is a difference of two differences of prefix sums */
#else
typedef int64_t acc_t;
#define ACC_BITS 61
#endif

/* d truncated toward zero, |d| < 2^ACC_BITS (so h fits). With 128 bits: two hardware int64 conversions
 * instead of libgcc's slow __fixdfti (half the step's time). Both steps are exact: h has at most 53
 * significant bits, and d - h * 2^62 keeps only bits d already has. */
static inline acc_t to_acc(double d)
{
#ifdef __SIZEOF_INT128__
    int64_t h = (int64_t)(d * 0x1p-62);
    return (acc_t)h * ((acc_t)1 << 62) + (int64_t)(d - (double)h * 0x1p62);
#else
    return (acc_t)d;
#endif
}

struct xai_window_scratch {
    int32_t height, width;
    acc_t *value;    /* [(H + 1) * (W + 1)] summed-area table of the channel-summed relevance */
    int32_t *masked; /* [(H + 1) * (W + 1)] summed-area table of the removed pixels */
};

xai_window_scratch *xai_window_scratch_new(int32_t height, int32_t width)
{
    xai_window_scratch *s = calloc(1, sizeof *s);
    size_t cells = (size_t)(height + 1) * (size_t)(width + 1);
    if (!s) return NULL;
    s->height = height, s->width = width;
    s->value = malloc(sizeof(acc_t) * cells);
    s->masked = malloc(sizeof(int32_t) * cells);
    if (!s->value || !s->masked) {
        xai_window_scratch_free(s);
        return NULL;
    }
    return s;
}

void xai_window_scratch_free(xai_window_scratch *s)
{
    if (!s) return;
    free(s->value);
    free(s->masked);
    free(s);
}

void xai_window_fill(float *image, int32_t channels, int32_t height, int32_t width, int32_t patch, int32_t index,
                     float value)
{
    if (!image || height < 1 || width < 1 || patch < 1 || index < 0 || index >= (int64_t)height * width) return;
    int32_t r0 = index / width, c0 = index % width;
    int32_t r1 = height - r0 > patch ? r0 + patch : height, c1 = width - c0 > patch ? c0 + patch : width;
    for (int32_t c = 0; c < channels; c++)
        for (int32_t r = r0; r < r1; r++)
            for (int32_t q = c0; q < c1; q++) image[((int64_t)c * height + r) * width + q] = value;
}

/* The exponent s with |v| * 2^s < 2^(ACC_BITS - bits(count)) for every value: a sum of all stays in range. */
static int scale_exponent(const float *rel, int64_t count, int *s)
{
    float largest = 0;
    for (int64_t i = 0; i < count; i++) {
        if (!isfinite(rel[i])) return -1;
        if (fabsf(rel[i]) > largest) largest = fabsf(rel[i]);
    }
    int bits = 0, e = 0;
    while (bits < 62 && ((int64_t)1 << bits) < count) bits++;
    frexpf(largest, &e); /* largest < 2^e */
    *s = largest > 0 ? ACC_BITS - bits - e : 0;
    return 0;
}

/* the sum over rows [r, r + h) x cols [c, c + w) of a summed-area table with row stride `stride` */
#define BOX(t, stride, r, c, h, w)                                                                                     \
    (((t)[((r) + (h)) * (stride) + (c) + (w)] - (t)[(r) * (stride) + (c) + (w)]) -                                     \
     ((t)[((r) + (h)) * (stride) + (c)] - (t)[(r) * (stride) + (c)]))

int32_t xai_window_choose(xai_window_scratch *s, const float *rel, int32_t rel_channels, int32_t patch, int32_t order,
                          unsigned char *removed)
{
    const int32_t H = s->height, W = s->width, stride = W + 1;
    const int64_t hw = (int64_t)H * W;
    int scale;
    if (scale_exponent(rel, hw * rel_channels, &scale)) return -1;
    const double factor = ldexp(1.0, scale); /* |scale| < 300: a power of two, so v * factor is exact */
    for (int32_t c = 0; c <= W; c++) s->value[c] = 0, s->masked[c] = 0;
    for (int32_t r = 0; r < H; r++) {
        acc_t row_sum = 0;
        int32_t row_masked = 0;
        s->value[(int64_t)(r + 1) * stride] = 0, s->masked[(int64_t)(r + 1) * stride] = 0;
        for (int32_t q = 0; q < W; q++) {
            int64_t i = (int64_t)r * W + q, cell = (int64_t)(r + 1) * stride + q + 1;
            for (int32_t c = 0; c < rel_channels; c++) row_sum += to_acc(rel[c * hw + i] * factor);
            row_masked += removed[i] != 0;
            s->value[cell] = s->value[cell - stride] + row_sum;
            s->masked[cell] = s->masked[cell - stride] + row_masked;
        }
    }
    /* row-major over the top-left corners with a strict comparison: the first best wins (np.argmax) */
    int64_t best = -1;
    acc_t best_sum = 0;
    for (int64_t r = 0; r + patch <= H; r++)
        for (int64_t c = 0; c + patch <= W; c++) {
            if (BOX(s->masked, stride, r, c, patch, patch)) continue;
            acc_t sum = BOX(s->value, stride, r, c, patch, patch);
            if (best < 0 || (order == XAI_FLIP_MOST_RELEVANT_FIRST ? sum > best_sum : sum < best_sum))
                best = r * W + c, best_sum = sum;
        }
    if (best < 0) best = 0; /* every window excluded: np.argmax of all -inf is 0, the window at (0, 0) */
    for (int64_t r = best / W; r < best / W + patch && r < H; r++)
        for (int64_t c = best % W; c < best % W + patch && c < W; c++) removed[r * W + c] = 1;
    return (int32_t)best;
}
