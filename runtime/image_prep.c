/* Images as a network's input (xai_image_read, xai_image_prepare): PNG or JPEG decoded to 8 bits, converted to
 * the network's channels, resized, centre-cropped and normalised the way torchvision's usual PIL pipeline
 * does it (Grayscale / convert("RGB"), Resize, CenterCrop, ToTensor, Normalize), bit for bit:
 *  - gray from RGB is PIL's L = (19595 R + 38470 G + 7471 B + 2^15) >> 16; gray to RGB repeats the value;
 *  - Resize is PIL's bilinear resampling with its antialiasing support (the filter widened by the scale when
 *    shrinking), computed as PIL computes it: coefficients in double, normalised, rounded to 22-bit fixed
 *    point, a horizontal pass to 8 bits then a vertical one (Resample.c of Pillow 9);
 *  - Resize(S) scales the shorter side to S and the longer to int(S * long / short); CenterCrop takes
 *    round((size - crop) / 2) with Python's round (half to even) and pads with zeros first when the image
 *    is smaller than the crop;
 *  - ToTensor is u / 255 in float32, Normalize (x - mean) / std in float32. */
#include "xairt.h"
#include "xairt_io.h"
#include "rt_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PRECISION_BITS (32 - 8 - 2)

/* ---- PIL's bilinear resampling, one axis ---- */

static double bilinear(double x)
{
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* For each of out_size outputs: the first input and the count it reads, and ksize fixed-point weights. */
typedef struct axis {
    int ksize;
    int *bounds; /* [out, 2] */
    int32_t *k;  /* [out, ksize] */
} axis;

static int axis_coefficients(int in_size, int out_size, axis *a)
{
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    a->ksize = (int)ceil(support) * 2 + 1;
    a->bounds = malloc(sizeof(int) * 2 * (size_t)out_size);
    a->k = malloc(sizeof(int32_t) * (size_t)out_size * (size_t)a->ksize);
    double *pre = malloc(sizeof(double) * (size_t)a->ksize);
    if (!a->bounds || !a->k || !pre) {
        free(pre);
        return XAI_ENOMEM;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            pre[x] = bilinear((x + xmin - center + 0.5) * ss);
            ww += pre[x];
        }
        int32_t *k = a->k + (size_t)xx * (size_t)a->ksize;
        for (int x = 0; x < a->ksize; x++) {
            double w = x < xmax ? (ww != 0.0 ? pre[x] / ww : pre[x]) : 0.0;
            k[x] = (int32_t)(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
        }
        a->bounds[2 * xx] = xmin;
        a->bounds[2 * xx + 1] = xmax;
    }
    free(pre);
    return XAI_OK;
}

static unsigned char clip8(int64_t v)
{
    v >>= PRECISION_BITS;
    return v < 0 ? 0 : v > 255 ? 255 : (unsigned char)v;
}

/* src [h, w, c] -> dst [h, out_w, c] */
static void resample_rows(const unsigned char *src, int h, int w, int c, const axis *a, int out_w, unsigned char *dst)
{
    for (int y = 0; y < h; y++)
        for (int xx = 0; xx < out_w; xx++) {
            const int32_t *k = a->k + (size_t)xx * (size_t)a->ksize;
            int xmin = a->bounds[2 * xx], n = a->bounds[2 * xx + 1];
            for (int ch = 0; ch < c; ch++) {
                int64_t ss = 1 << (PRECISION_BITS - 1);
                for (int x = 0; x < n; x++) ss += (int64_t)src[((size_t)y * w + (size_t)(xmin + x)) * c + ch] * k[x];
                dst[((size_t)y * out_w + xx) * c + ch] = clip8(ss);
            }
        }
}

/* src [h, w, c] -> dst [out_h, w, c] */
static void resample_columns(const unsigned char *src, int w, int c, const axis *a, int out_h, unsigned char *dst)
{
    for (int yy = 0; yy < out_h; yy++) {
        const int32_t *k = a->k + (size_t)yy * (size_t)a->ksize;
        int ymin = a->bounds[2 * yy], n = a->bounds[2 * yy + 1];
        for (size_t i = 0; i < (size_t)w * c; i++) {
            int64_t ss = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < n; y++) ss += (int64_t)src[(size_t)(ymin + y) * w * c + i] * k[y];
            dst[(size_t)yy * w * c + i] = clip8(ss);
        }
    }
}

/* Resizes img to out_w x out_h in place of its pixels (PIL's order: horizontal pass first). */
static int resize(xai_image8 *img, int out_w, int out_h)
{
    int c = img->channels, st = XAI_OK;
    axis ax = { 0 }, ay = { 0 };
    unsigned char *tmp = NULL, *out = NULL;
    if (out_w != img->width) {
        if ((st = axis_coefficients(img->width, out_w, &ax)) || !(tmp = malloc((size_t)out_w * img->height * c))) {
            st = XAI_ENOMEM;
            goto done;
        }
        resample_rows(img->pixels, img->height, img->width, c, &ax, out_w, tmp);
        free(img->pixels);
        img->pixels = tmp;
        img->width = out_w;
        tmp = NULL;
    }
    if (out_h != img->height) {
        if ((st = axis_coefficients(img->height, out_h, &ay)) || !(out = malloc((size_t)img->width * out_h * c))) {
            st = XAI_ENOMEM;
            goto done;
        }
        resample_columns(img->pixels, img->width, c, &ay, out_h, out);
        free(img->pixels);
        img->pixels = out;
        img->height = out_h;
    }
done:
    free(ax.bounds), free(ax.k), free(ay.bounds), free(ay.k), free(tmp);
    return st;
}

/* ---- channels, crop, normalisation ---- */

static int to_channels(xai_image8 *img, int want)
{
    if (img->channels == want) return XAI_OK;
    size_t n = (size_t)img->width * (size_t)img->height;
    unsigned char *p = malloc(n * (size_t)want);
    if (!p) return XAI_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *s = img->pixels + i * (size_t)img->channels;
        if (want == 1)
            p[i] = (unsigned char)((s[0] * 19595u + s[1] * 38470u + s[2] * 7471u + 0x8000u) >> 16);
        else
            p[3 * i] = p[3 * i + 1] = p[3 * i + 2] = s[0];
    }
    free(img->pixels);
    img->pixels = p;
    img->channels = want;
    return XAI_OK;
}

/* Python's int(round(d / 2.0)) for an integer d >= 0: halves go to the even neighbour. */
static int half_to_even(int d) { return d % 2 == 0 ? d / 2 : (d / 2) % 2 == 0 ? d / 2 : d / 2 + 1; }

/* torchvision's CenterCrop: zero padding (left/top get the smaller half) when the image is smaller */
static int center_crop(xai_image8 *img, int ch, int cw)
{
    int c = img->channels;
    int pad_l = cw > img->width ? (cw - img->width) / 2 : 0, pad_t = ch > img->height ? (ch - img->height) / 2 : 0;
    int pw = img->width + (cw > img->width ? cw - img->width : 0),
        ph = img->height + (ch > img->height ? ch - img->height : 0);
    int top = half_to_even(ph - ch), left = half_to_even(pw - cw);
    unsigned char *p = calloc((size_t)ch * (size_t)cw * (size_t)c, 1);
    if (!p) return XAI_ENOMEM;
    for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++) {
            int sy = y + top - pad_t, sx = x + left - pad_l; /* in the unpadded image */
            if (sy < 0 || sy >= img->height || sx < 0 || sx >= img->width) continue;
            memcpy(p + ((size_t)y * cw + x) * c, img->pixels + ((size_t)sy * img->width + sx) * c, (size_t)c);
        }
    free(img->pixels);
    img->pixels = p;
    img->width = cw;
    img->height = ch;
    return XAI_OK;
}

int xai_image_prep_check(const xai_image_prep *p, char *err, size_t errlen)
{
    if (!p) return xai_fail(err, errlen, XAI_ENULL, "xai_image_prep: NULL");
    if ((p->channels != 1 && p->channels != 3) || p->height < 1 || p->width < 1)
        return xai_fail(err, errlen, XAI_ESHAPE, "image input [%d, %d, %d]: channels must be 1 or 3, sizes >= 1",
                        (int)p->channels, (int)p->height, (int)p->width);
    if (p->resize < 0 || p->resize_height < 0 || p->resize_width < 0 || p->crop_height < 0 || p->crop_width < 0 ||
        (p->resize && (p->resize_height || p->resize_width)) || (!p->resize_height != !p->resize_width) ||
        (!p->crop_height != !p->crop_width))
        return xai_fail(err, errlen, XAI_EARG,
                        "image preprocessing: resize, resize_height x resize_width or crop sizes "
                        "are inconsistent");
    int max = 1 << 16;
    if (p->resize > max || p->resize_height > max || p->resize_width > max || p->crop_height > max ||
        p->crop_width > max)
        return xai_fail(err, errlen, XAI_EARG, "image preprocessing: sizes above %d pixels", max);
    int normalised = p->std[0] != 0 || p->std[1] != 0 || p->std[2] != 0;
    for (int c = 0; c < p->channels && normalised; c++)
        if (!(p->std[c] > 0) || !isfinite(p->std[c]) || !isfinite(p->mean[c]))
            return xai_fail(err, errlen, XAI_EARG,
                            "image preprocessing: channel %d has mean %g, std %g (std must be > 0)", c,
                            (double)p->mean[c], (double)p->std[c]);
    return XAI_OK;
}

int xai_image_prepare(const void *bytes, size_t size, const char *label, const xai_image_prep *p, float *out, char *err,
                      size_t errlen)
{
    if (!out || (!bytes && size)) return xai_fail(err, errlen, XAI_ENULL, "xai_image_prepare: data or out is NULL");
    if (!label) label = "image";
    int st = xai_image_prep_check(p, err, errlen);
    if (st) return st;
    const unsigned char *b = bytes;
    xai_image8 img = { 0 };
    if (size >= 8 && b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G')
        st = xai_png_decode8(bytes, size, label, &img, err, errlen);
    else if (size >= 3 && b[0] == 0xFF && b[1] == 0xD8)
        st = xai_jpeg_decode8(bytes, size, label, &img, err, errlen);
    else
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: neither a PNG nor a JPEG file (bad signature)", label);
    if (st) return st;
    int orig_w = img.width, orig_h = img.height;
    if (to_channels(&img, p->channels)) st = XAI_ENOMEM;
    int rw = p->resize_width, rh = p->resize_height;
    if (!st && p->resize) { /* the shorter side to resize, the longer in proportion (truncated) */
        int shorter = img.width <= img.height ? img.width : img.height,
            longer = img.width <= img.height ? img.height : img.width;
        int scaled = (int)((double)((int64_t)p->resize * longer) / shorter);
        rw = img.width <= img.height ? p->resize : scaled;
        rh = img.width <= img.height ? scaled : p->resize;
        if (shorter == p->resize) rw = img.width, rh = img.height; /* torchvision returns the image as it is */
    }
    if (!st && rw && (rw != img.width || rh != img.height)) {
        if (rw < 1 || rh < 1 || (int64_t)rw * rh > (1 << 28))
            st = xai_fail(err, errlen, XAI_ESHAPE, "%s: resizing %dx%d gives %dx%d", label, orig_w, orig_h, rw, rh);
        else
            st = resize(&img, rw, rh);
    }
    if (!st && p->crop_height) st = center_crop(&img, p->crop_height, p->crop_width);
    if (st == XAI_ENOMEM) xai_fail(err, errlen, st, "%s: out of memory", label);
    if (!st && (img.width != p->width || img.height != p->height))
        st = xai_fail(err, errlen, XAI_ESHAPE, "%s: a %dx%d image%s is %dx%d, but the network takes %dx%d%s", label,
                      orig_w, orig_h, rw || p->crop_height ? " after resizing and cropping" : "", img.width, img.height,
                      p->width, p->height,
                      rw || p->crop_height ? "" : " (declare image(resize=..., crop=...) on the input)");
    if (!st) {
        size_t plane = (size_t)p->width * (size_t)p->height;
        int normalised = p->std[0] != 0 || p->std[1] != 0 || p->std[2] != 0;
        for (int c = 0; c < p->channels; c++)
            for (size_t i = 0; i < plane; i++) {
                float v = (float)img.pixels[i * (size_t)p->channels + (size_t)c] / 255.0f;
                out[(size_t)c * plane + i] = normalised ? (v - p->mean[c]) / p->std[c] : v;
            }
    }
    free(img.pixels);
    return st;
}

int xai_image_read(const char *path, const xai_image_prep *p, float *out, char *err, size_t errlen)
{
    if (!path || !out) return xai_fail(err, errlen, XAI_ENULL, "xai_image_read: path or out is NULL");
    unsigned char *bytes;
    size_t size;
    int st = xai_read_regular(path, 0, &bytes, &size, err, errlen);
    if (st != XAI_OK) return st;
    st = xai_image_prepare(bytes, size, path, p, out, err, errlen);
    free(bytes);
    return st;
}
