/* Explanation quality (docs/evaluation.md): selectivity by patch flipping with AOPC (grid patches here, the
 * seed's sliding windows in metrics_windows.c), and continuity under horizontal translation. Both drive any
 * generated NET_forward / NET_E through function pointers, batch max_batch samples per call, and allocate
 * only their own scratch (freed before returning). */
#include "xairt.h"
#include "rt_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PATCH 4
#define DEFAULT_STEPS 20
#define DEFAULT_SHIFT 20

/* the model's shape, with the defaults resolved */
typedef struct dims {
    int64_t in_count;  /* C * H * W */
    int64_t rel_count; /* relevance_channels * H * W */
    int32_t rel_channels;
} dims;

static int check_model(const xai_eval_model *m, const float *x, int32_t n, const void *required_out, const char *fn,
                       dims *d, char *err, size_t errlen)
{
    if (!m) return xai_fail(err, errlen, XAI_ENULL, "%s: the model is NULL", fn);
    if (!m->forward || !m->explain)
        return xai_fail(err, errlen, XAI_ENULL, "%s: the model's %s function pointer is NULL", fn,
                        m->forward ? "explain" : "forward");
    if (!m->workspace)
        return xai_fail(err, errlen, XAI_ENULL,
                        "%s: the workspace is NULL; allocate NET_workspace_size(max_batch) "
                        "bytes, 64-byte aligned",
                        fn);
    if ((uintptr_t)m->workspace % 64)
        return xai_fail(err, errlen, XAI_EALIGN,
                        "%s: the workspace is not 64-byte aligned (use aligned_alloc(64, ...))", fn);
    if (!x) return xai_fail(err, errlen, XAI_ENULL, "%s: the input images are NULL", fn);
    if (!required_out) return xai_fail(err, errlen, XAI_ENULL, "%s: the output array for the curves is NULL", fn);
    if (n < 1) return xai_fail(err, errlen, XAI_EBATCH, "%s: %d images; give at least one", fn, (int)n);
    if (m->max_batch < 1)
        return xai_fail(err, errlen, XAI_EBATCH,
                        "%s: max_batch %d; it must be >= 1 (the batch the workspace was "
                        "sized for)",
                        fn, (int)m->max_batch);
    if (m->channels < 1 || m->height < 1 || m->width < 1)
        return xai_fail(err, errlen, XAI_ESHAPE,
                        "%s: input shape [%d, %d, %d]; channels, height and width must be "
                        ">= 1",
                        fn, (int)m->channels, (int)m->height, (int)m->width);
    if (m->classes < 1)
        return xai_fail(err, errlen, XAI_ESHAPE, "%s: %d classes; it must be >= 1", fn, (int)m->classes);
    int32_t rc = m->relevance_channels ? m->relevance_channels : m->channels;
    if (rc != 1 && rc != m->channels)
        return xai_fail(err, errlen, XAI_ESHAPE,
                        "%s: relevance_channels %d; it must be 1 or the input's %d channels "
                        "(0 means the input's)",
                        fn, (int)rc, (int)m->channels);
    int64_t dims3[3] = { m->channels, m->height, m->width };
    if (xai_checked_bytes(dims3, 3, (int64_t)sizeof(float) * m->max_batch) < 0)
        return xai_fail(err, errlen, XAI_ESHAPE, "%s: input shape too large", fn);
    d->in_count = (int64_t)m->channels * m->height * m->width;
    d->rel_count = (int64_t)rc * m->height * m->width;
    d->rel_channels = rc;
    return XAI_OK;
}

static int check_targets(const int32_t *target, int32_t n, int32_t classes, const char *fn, char *err, size_t errlen)
{
    for (int32_t i = 0; target && i < n; i++)
        if (target[i] < 0 || target[i] >= classes)
            return xai_fail(err, errlen, XAI_ETARGET, "%s: target %d of image %d is not a class (0 .. %d)", fn,
                            (int)target[i], (int)i, (int)classes - 1);
    return XAI_OK;
}

static int check_tracked(int32_t tracked, const char *fn, char *err, size_t errlen)
{
    if (tracked != XAI_TRACK_RELU_LOGIT && tracked != XAI_TRACK_LOGIT)
        return xai_fail(err, errlen, XAI_EARG,
                        "%s: tracked %d is neither XAI_TRACK_RELU_LOGIT (0) nor XAI_TRACK_LOGIT "
                        "(1)",
                        fn, (int)tracked);
    return XAI_OK;
}

static int32_t argmax(const float *v, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

static float tracked_value(const float *logits, int32_t target, int32_t tracked)
{
    float f = logits[target];
    return tracked == XAI_TRACK_RELU_LOGIT && !(f > 0.0f) ? 0.0f : f;
}

static int call_failed(int status, const char *fn, const char *what, int64_t first, int32_t count, char *err,
                       size_t errlen)
{
    return xai_fail(err, errlen, status, "%s: %s failed on images %lld .. %lld: %s", fn, what, (long long)first,
                    (long long)(first + count - 1), xai_status_string(status));
}

/* ---- selectivity ---- */

int32_t xai_patch_count(int32_t height, int32_t width, int32_t patch)
{
    if (height < 1 || width < 1 || patch < 1) return 0;
    int64_t count = (int64_t)((height + (int64_t)patch - 1) / patch) * ((width + (int64_t)patch - 1) / patch);
    return count > INT32_MAX ? 0 : (int32_t)count;
}

int32_t xai_selectivity_max_steps(int32_t height, int32_t width, int32_t patch, int32_t windows)
{
    if (height < 1 || width < 1 || patch < 1) return 0;
    if (windows == XAI_WINDOWS_GRID) return xai_patch_count(height, width, patch);
    if (windows != XAI_WINDOWS_SLIDING || (int64_t)height * width > INT32_MAX) return 0;
    return (height / patch) * (width / patch); /* <= H * W: fits */
}

/* rows [*r0, *r1) x cols [*c0, *c1) of patch k; edge patches are clipped to the image */
static void patch_rect(int32_t height, int32_t width, int32_t patch, int32_t k, int32_t *r0, int32_t *r1, int32_t *c0,
                       int32_t *c1)
{
    int32_t grid_cols = (width + patch - 1) / patch;
    *r0 = k / grid_cols * patch;
    *c0 = k % grid_cols * patch;
    *r1 = *r0 + patch < height ? *r0 + patch : height;
    *c1 = *c0 + patch < width ? *c0 + patch : width;
}

/* Chooses the next patch of one image from its relevance and marks it removed; -1 on non-finite relevance. */
static int32_t choose_patch(const xai_eval_model *m, const float *rel, int32_t rel_channels, int32_t patch,
                            int32_t patches, int32_t order, unsigned char *removed_flags)
{
    int32_t best = -1;
    double best_sum = 0;
    for (int32_t k = 0; k < patches; k++) {
        if (removed_flags[k]) continue;
        int32_t r0, r1, c0, c1;
        patch_rect(m->height, m->width, patch, k, &r0, &r1, &c0, &c1);
        double sum = 0;
        for (int32_t c = 0; c < rel_channels; c++)
            for (int32_t r = r0; r < r1; r++)
                for (int32_t q = c0; q < c1; q++) sum += rel[((int64_t)c * m->height + r) * m->width + q];
        if (!isfinite(sum)) return -1;
        int better = order == XAI_FLIP_MOST_RELEVANT_FIRST ? sum > best_sum : sum < best_sum;
        if (best < 0 || better) {
            best = k;
            best_sum = sum;
        } /* strict: ties keep the lowest index */
    }
    removed_flags[best] = 1;
    return best;
}

void xai_patch_fill(float *image, int32_t channels, int32_t height, int32_t width, int32_t patch, int32_t index,
                    float value)
{
    if (!image || index < 0 || index >= xai_patch_count(height, width, patch)) return;
    int32_t r0, r1, c0, c1;
    patch_rect(height, width, patch, index, &r0, &r1, &c0, &c1);
    for (int32_t c = 0; c < channels; c++)
        for (int32_t r = r0; r < r1; r++)
            for (int32_t q = c0; q < c1; q++) image[((int64_t)c * height + r) * width + q] = value;
}

static int selectivity_options(const xai_eval_model *m, const xai_selectivity_options *opt, xai_selectivity_options *o,
                               int32_t *patches, char *err, size_t errlen)
{
    static const char fn[] = "xai_selectivity";
    *o = opt ? *opt : (xai_selectivity_options){ 0 };
    if (!o->patch) o->patch = DEFAULT_PATCH;
    if (!o->steps) o->steps = DEFAULT_STEPS;
    if (o->patch < 1)
        return xai_fail(err, errlen, XAI_EARG, "%s: patch size %d; it must be >= 1 (0 means %d)", fn, (int)o->patch,
                        DEFAULT_PATCH);
    if (o->steps < 1)
        return xai_fail(err, errlen, XAI_EARG, "%s: steps %d; it must be >= 1 (0 means %d)", fn, (int)o->steps,
                        DEFAULT_STEPS);
    if (o->windows != XAI_WINDOWS_GRID && o->windows != XAI_WINDOWS_SLIDING)
        return xai_fail(err, errlen, XAI_EARG,
                        "%s: windows %d is neither XAI_WINDOWS_GRID (0) nor XAI_WINDOWS_SLIDING (1)", fn,
                        (int)o->windows);
    *patches = xai_patch_count(m->height, m->width, o->patch);
    int32_t most = xai_selectivity_max_steps(m->height, m->width, o->patch, o->windows);
    if (o->steps > most)
        return xai_fail(err, errlen, XAI_EARG,
                        "%s: %d steps, but a %dx%d image has only %d %s of %dx%d; "
                        "use at most %d steps or a smaller patch",
                        fn, (int)o->steps, (int)m->height, (int)m->width, (int)most,
                        o->windows == XAI_WINDOWS_GRID ? "patches" : "disjoint sliding windows", (int)o->patch,
                        (int)o->patch, (int)most);
    if (o->order != XAI_FLIP_MOST_RELEVANT_FIRST && o->order != XAI_FLIP_LEAST_RELEVANT_FIRST)
        return xai_fail(err, errlen, XAI_EARG,
                        "%s: order %d is neither XAI_FLIP_MOST_RELEVANT_FIRST (0) nor "
                        "XAI_FLIP_LEAST_RELEVANT_FIRST (1)",
                        fn, (int)o->order);
    if (!isfinite(o->baseline)) return xai_fail(err, errlen, XAI_EARG, "%s: the baseline value is not finite", fn);
    return check_tracked(o->tracked, fn, err, errlen);
}

int xai_selectivity(const xai_eval_model *m, const float *x, const int32_t *target, int32_t n,
                    const xai_selectivity_options *opt, float *curves, float *aopc, int32_t *removed, float *relevance,
                    char *err, size_t errlen)
{
    static const char fn[] = "xai_selectivity";
    dims d;
    xai_selectivity_options o;
    int32_t patches = 0;
    int status = check_model(m, x, n, curves, fn, &d, err, errlen);
    if (!status) status = selectivity_options(m, opt, &o, &patches, err, errlen);
    if (!status) status = check_targets(target, n, m->classes, fn, err, errlen);
    if (status) return status;

    const int32_t L = o.steps, batch = m->max_batch < n ? m->max_batch : n;
    float *work = malloc(sizeof(float) * d.in_count * batch);
    float *logits = malloc(sizeof(float) * m->classes * batch);
    float *rel = malloc(sizeof(float) * d.rel_count * batch);
    int32_t *chunk_target = malloc(sizeof(int32_t) * batch);
    /* removed flags per image: one per grid patch, or one per pixel for sliding windows */
    const int sliding = o.windows == XAI_WINDOWS_SLIDING;
    const int64_t n_flags = sliding ? (int64_t)m->height * m->width : patches;
    unsigned char *flags = malloc((size_t)n_flags * batch);
    xai_window_scratch *windows = sliding ? xai_window_scratch_new(m->height, m->width) : NULL;
    if (!work || !logits || !rel || !chunk_target || !flags || (sliding && !windows)) {
        status =
            xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory for the scratch of a batch of %d", fn, (int)batch);
        goto done;
    }
    for (int64_t first = 0; first < n && !status; first += batch) {
        int32_t b = n - first < batch ? (int32_t)(n - first) : batch;
        memcpy(work, x + first * d.in_count, sizeof(float) * d.in_count * b);
        memset(flags, 0, (size_t)n_flags * b);
        for (int32_t k = 0; k <= L; k++) {
            if ((status = m->forward(work, logits, b, m->workspace))) {
                status = call_failed(status, fn, "forward", first, b, err, errlen);
                break;
            }
            for (int32_t i = 0; i < b; i++) {
                if (k == 0)
                    chunk_target[i] = target ? target[first + i] : argmax(logits + (int64_t)i * m->classes, m->classes);
                curves[(first + i) * (L + 1) + k] =
                    tracked_value(logits + (int64_t)i * m->classes, chunk_target[i], o.tracked);
            }
            if (k == L) break;
            /* the heatmap is recomputed on the current, partly removed image, as the seed does */
            if ((status = m->explain(work, chunk_target, rel, b, m->workspace))) {
                status = call_failed(status, fn, "explain", first, b, err, errlen);
                break;
            }
            for (int32_t i = 0; i < b; i++) {
                const float *r = rel + i * d.rel_count;
                unsigned char *image_flags = flags + i * n_flags;
                int32_t chosen = sliding ? xai_window_choose(windows, r, d.rel_channels, o.patch, o.order, image_flags)
                                         : choose_patch(m, r, d.rel_channels, o.patch, patches, o.order, image_flags);
                if (chosen < 0) {
                    status = xai_fail(err, errlen, XAI_ENAN,
                                      "%s: the explanation of image %lld holds NaN or infinity "
                                      "after %d removals",
                                      fn, (long long)(first + i), (int)k);
                    break;
                }
                (sliding ? xai_window_fill : xai_patch_fill)(work + i * d.in_count, m->channels, m->height, m->width,
                                                             o.patch, chosen, o.baseline);
                if (removed) removed[(first + i) * L + k] = chosen;
                if (relevance) memcpy(relevance + ((first + i) * L + k) * d.rel_count, r, sizeof(float) * d.rel_count);
            }
            if (status) break;
        }
        for (int32_t i = 0; i < b && aopc && !status; i++) {
            const float *curve = curves + (first + i) * (L + 1);
            double sum = 0;
            for (int32_t k = 0; k <= L; k++) sum += (double)curve[0] - curve[k];
            aopc[first + i] = (float)(sum / (L + 1));
        }
    }
done:
    free(work);
    free(logits);
    free(rel);
    free(chunk_target);
    free(flags);
    xai_window_scratch_free(windows);
    return status;
}

/* ---- continuity ---- */

void xai_shift_horizontal(const float *x, float *out, int32_t channels, int32_t height, int32_t width, int32_t shift,
                          float fill)
{
    for (int64_t row = 0; row < (int64_t)channels * height; row++) {
        const float *src = x + row * width;
        float *dst = out + row * width;
        for (int32_t c = 0; c < width; c++) {
            int64_t from = (int64_t)c - shift;
            dst[c] = from >= 0 && from < width ? src[from] : fill;
        }
    }
}

/* Quadrant sums of one relevance map [rel_channels, H, W]; 0 if finite, else -1. */
static int quadrant_sums(const xai_eval_model *m, const float *rel, int32_t rel_channels, float q[4])
{
    double s[4] = { 0, 0, 0, 0 };
    int32_t half_h = m->height / 2, half_w = m->width / 2;
    for (int32_t c = 0; c < rel_channels; c++)
        for (int32_t r = 0; r < m->height; r++)
            for (int32_t col = 0; col < m->width; col++) {
                int top = r < half_h, left = col < half_w;
                int quadrant = top ? (left ? 0 : 1) : (left ? 3 : 2); /* R1 TL, R2 TR, R3 BR, R4 BL */
                s[quadrant] += rel[((int64_t)c * m->height + r) * m->width + col];
            }
    for (int i = 0; i < 4; i++) q[i] = (float)s[i];
    return isfinite(s[0] + s[1] + s[2] + s[3]) ? 0 : -1;
}

static double l1_distance(const float *a, const float *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += fabs((double)a[i] - b[i]);
    return s;
}

static double l2_distance(const float *a, const float *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s);
}

static int continuity_options(const xai_continuity_options *opt, xai_continuity_options *o, char *err, size_t errlen)
{
    static const char fn[] = "xai_continuity";
    *o = opt ? *opt : (xai_continuity_options){ 0 };
    if (!o->shift_min && !o->shift_max) {
        o->shift_min = -DEFAULT_SHIFT;
        o->shift_max = DEFAULT_SHIFT;
    }
    if (o->shift_max <= o->shift_min)
        return xai_fail(err, errlen, XAI_EARG,
                        "%s: shifts %d .. %d; shift_max must exceed shift_min (two shifts at "
                        "least)",
                        fn, (int)o->shift_min, (int)o->shift_max);
    if ((int64_t)o->shift_max - o->shift_min >= 1 << 20)
        return xai_fail(err, errlen, XAI_EARG, "%s: shifts %d .. %d are too many", fn, (int)o->shift_min,
                        (int)o->shift_max);
    if (!isfinite(o->fill)) return xai_fail(err, errlen, XAI_EARG, "%s: the fill value is not finite", fn);
    return check_tracked(o->tracked, fn, err, errlen);
}

/* Arg-max classes of the unshifted images, in batches (the class stays fixed over the shifts). */
static int argmax_targets(const xai_eval_model *m, const float *x, int32_t n, int64_t in_count, float *logits,
                          int32_t batch, int32_t *out, char *err, size_t errlen)
{
    for (int64_t first = 0; first < n; first += batch) {
        int32_t b = n - first < batch ? (int32_t)(n - first) : batch;
        int status = m->forward(x + first * in_count, logits, b, m->workspace);
        if (status) return call_failed(status, "xai_continuity", "forward", first, b, err, errlen);
        for (int32_t i = 0; i < b; i++) out[first + i] = argmax(logits + (int64_t)i * m->classes, m->classes);
    }
    return XAI_OK;
}

int xai_continuity(const xai_eval_model *m, const float *x, const int32_t *target, int32_t n,
                   const xai_continuity_options *opt, float *values, float *quadrants, float *continuity,
                   float *relevance, char *err, size_t errlen)
{
    static const char fn[] = "xai_continuity";
    dims d;
    xai_continuity_options o;
    int status = check_model(m, x, n, values, fn, &d, err, errlen);
    if (!status) status = continuity_options(opt, &o, err, errlen);
    if (!status) status = check_targets(target, n, m->classes, fn, err, errlen);
    if (status) return status;

    /* (image, shift) pairs in order i * S + s are batched together; the previous pair's input and relevance
     * are kept across batches so consecutive shifts are always compared */
    const int64_t S = (int64_t)o.shift_max - o.shift_min + 1, pairs = S * n;
    const int32_t batch = m->max_batch < pairs ? m->max_batch : (int32_t)pairs;
    float *work = malloc(sizeof(float) * d.in_count * batch);
    float *logits = malloc(sizeof(float) * m->classes * batch);
    float *rel = malloc(sizeof(float) * d.rel_count * batch);
    float *prev_x = malloc(sizeof(float) * d.in_count), *prev_rel = malloc(sizeof(float) * d.rel_count);
    int32_t *chunk_target = malloc(sizeof(int32_t) * batch), *targets = malloc(sizeof(int32_t) * n);
    if (!work || !logits || !rel || !prev_x || !prev_rel || !chunk_target || !targets) {
        status =
            xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory for the scratch of a batch of %d", fn, (int)batch);
        goto done;
    }
    if (target)
        memcpy(targets, target, sizeof(int32_t) * n);
    else if ((status = argmax_targets(m, x, n, d.in_count, logits, batch, targets, err, errlen)))
        goto done;

    for (int64_t first = 0; first < pairs; first += batch) {
        int32_t b = pairs - first < batch ? (int32_t)(pairs - first) : batch;
        for (int32_t j = 0; j < b; j++) {
            int64_t image = (first + j) / S, s = (first + j) % S;
            xai_shift_horizontal(x + image * d.in_count, work + j * d.in_count, m->channels, m->height, m->width,
                                 (int32_t)(o.shift_min + s), o.fill);
            chunk_target[j] = targets[image];
        }
        if ((status = m->forward(work, logits, b, m->workspace)) ||
            (status = m->explain(work, chunk_target, rel, b, m->workspace))) {
            status = xai_fail(err, errlen, status, "%s: the network failed on a batch of shifted images: %s", fn,
                              xai_status_string(status));
            goto done;
        }
        for (int32_t j = 0; j < b; j++) {
            int64_t image = (first + j) / S, s = (first + j) % S;
            const float *r = rel + j * d.rel_count, *xs = work + j * d.in_count;
            values[first + j] = tracked_value(logits + (int64_t)j * m->classes, chunk_target[j], o.tracked);
            float q[4];
            if (quadrant_sums(m, r, d.rel_channels, q)) {
                status = xai_fail(err, errlen, XAI_ENAN,
                                  "%s: the explanation of image %lld at shift %d holds NaN or "
                                  "infinity",
                                  fn, (long long)image, (int)(o.shift_min + s));
                goto done;
            }
            if (quadrants) memcpy(quadrants + (first + j) * 4, q, sizeof q);
            if (relevance) memcpy(relevance + (first + j) * d.rel_count, r, sizeof(float) * d.rel_count);
            if (continuity && s == 0) continuity[image] = NAN;
            if (continuity && s > 0) {
                const float *px = j ? xs - d.in_count : prev_x, *pr = j ? r - d.rel_count : prev_rel;
                double dx = l2_distance(xs, px, d.in_count);
                if (dx > 0) {
                    float ratio = (float)(l1_distance(r, pr, d.rel_count) / dx);
                    if (isnan(continuity[image]) || ratio > continuity[image]) continuity[image] = ratio;
                }
            }
        }
        memcpy(prev_x, work + (int64_t)(b - 1) * d.in_count, sizeof(float) * d.in_count);
        memcpy(prev_rel, rel + (int64_t)(b - 1) * d.rel_count, sizeof(float) * d.rel_count);
    }
done:
    free(work);
    free(logits);
    free(rel);
    free(prev_x);
    free(prev_rel);
    free(chunk_target);
    free(targets);
    return status;
}
