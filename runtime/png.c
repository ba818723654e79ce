/* PNG read/write through libpng's low-level API.
 * Not the simplified png_image API: that one composites alpha onto a background and converts to gray
 * in linear light, while we want alpha dropped and luma = 0.299 R + 0.587 G + 0.114 B on the stored
 * values (what PIL's convert("L") and torchvision do, so explanations match the peers).
 * libpng reports errors by longjmp: every pointer allocated after setjmp is volatile and freed on the
 * single cleanup path, and the error/warning callbacks never print. */
#include "xairt.h"
#include "rt_internal.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *path;
    char *err;
    size_t errlen;
    char warning[128];   /* the last warning: libpng often explains an error in a warning just before */
} png_ctx;

static void on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    FILE *f = png_get_io_ptr(png);   /* set by png_init_io; NULL before it */
    if (f && feof(f))                /* libpng only says "Read Error" when the file ends early */
        xai_fail(c->err, c->errlen, XAI_EFORMAT, "%s: truncated (libpng: %s)", c->path, msg);
    else if (c->warning[0])
        xai_fail(c->err, c->errlen, XAI_EFORMAT, "%s: %s (after warning: %s)", c->path, msg, c->warning);
    else
        xai_fail(c->err, c->errlen, XAI_EFORMAT, "%s: %s", c->path, msg);
    png_longjmp(png, 1);
}

/* libpng's default prints to stderr; the runtime never prints, so keep it for the error message. */
static void on_warning(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->warning, sizeof c->warning, "%s", msg);
}

int xai_png_read(const char *path, int want_channels, xai_array *out, char *err, size_t errlen)
{
    if (!path || !out) return xai_fail(err, errlen, XAI_ENULL, "xai_png_read: path or out is NULL");
    memset(out, 0, sizeof *out);
    if (want_channels != 0 && want_channels != 1 && want_channels != 3)
        return xai_fail(err, errlen, XAI_EARG, "%s: want_channels %d is not 0, 1 or 3", path, want_channels);
    FILE *f = fopen(path, "rb");
    if (!f) return xai_fail(err, errlen, XAI_EIO, "%s: cannot open for reading: %m", path);
    unsigned char sig[8];
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(f);
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: not a PNG file (bad signature)", path);
    }
    png_ctx ctx = { path, err, errlen, "" };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        fclose(f);
        return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", path);
    }

    int st = XAI_OK;
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    float *volatile data = NULL;
    if (setjmp(png_jmpbuf(png))) {
        st = XAI_EFORMAT;   /* on_error already wrote the message */
        goto done;
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    int color = png_get_color_type(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    /* After the transforms: 8 or 16 bits, 1-4 channels (gray, gray+alpha, RGB, RGBA). */
    size_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int channels = png_get_channels(png, info), depth = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    int file_c = channels >= 3 ? 3 : 1;
    int out_c = want_channels ? want_channels : file_c;
    if (w > SIZE_MAX / 16 / h || rowbytes > SIZE_MAX / h) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: image %zux%zu is too large", path, w, h);
        goto done;
    }
    pixels = malloc(rowbytes * h);
    rows = malloc(h * sizeof *rows);
    data = malloc((size_t)out_c * h * w * sizeof(float));
    if (!pixels || !rows || !data) {
        st = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory for a %zux%zu image", path, w, h);
        goto done;
    }
    for (size_t y = 0; y < h; y++) rows[y] = pixels + y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);

    float *d = data;
    size_t plane = h * w;
    for (size_t y = 0; y < h; y++) {
        const unsigned char *r = rows[y];
        for (size_t x = 0; x < w; x++) {
            float v[3];
            for (int c = 0; c < file_c; c++) {
                size_t i = x * (size_t)channels + (size_t)c;   /* alpha, if any, is the last channel: skipped */
                v[c] = depth == 16 ? (float)(r[2 * i] << 8 | r[2 * i + 1]) / 65535.0f : (float)r[i] / 255.0f;
            }
            size_t o = y * w + x;
            if (out_c == file_c) {
                for (int c = 0; c < out_c; c++) d[c * plane + o] = v[c];
            } else if (out_c == 1) {
                d[o] = 0.299f * v[0] + 0.587f * v[1] + 0.114f * v[2];
            } else {
                d[o] = d[plane + o] = d[2 * plane + o] = v[0];
            }
        }
    }
    out->rank = 3;
    out->shape[0] = out_c;
    out->shape[1] = (int64_t)h;
    out->shape[2] = (int64_t)w;
    out->data = data;
    data = NULL;
done:
    png_destroy_read_struct(&png, &info, NULL);
    free(pixels);
    free(rows);
    free(data);
    fclose(f);
    return st;
}

static unsigned char to_byte(float v)
{
    if (!(v > 0.0f)) return 0;   /* also NaN */
    if (v >= 1.0f) return 255;
    return (unsigned char)(v * 255.0f + 0.5f);
}

int xai_png_write(const char *path, const float *chw, int32_t channels, int32_t height, int32_t width,
                  char *err, size_t errlen)
{
    if (!path || !chw) return xai_fail(err, errlen, XAI_ENULL, "xai_png_write: path or data is NULL");
    if (channels != 1 && channels != 3)
        return xai_fail(err, errlen, XAI_EARG, "%s: %d channels (PNG output takes 1 or 3)", path, (int)channels);
    if (height < 1 || width < 1)
        return xai_fail(err, errlen, XAI_ESHAPE, "%s: image size %dx%d is empty or negative", path,
                        (int)height, (int)width);
    FILE *f = fopen(path, "wb");
    if (!f) return xai_fail(err, errlen, XAI_EIO, "%s: cannot open for writing: %m", path);
    png_ctx ctx = { path, err, errlen, "" };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(png ? &png : NULL, NULL);
        fclose(f);
        remove(path);
        return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", path);
    }
    int st = XAI_OK;
    unsigned char *volatile row = NULL;
    if (setjmp(png_jmpbuf(png))) {
        st = XAI_EIO;   /* a write error, or size limits libpng refuses; message set by on_error */
        goto done;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t w = (size_t)width, plane = (size_t)height * w;
    if (!(row = malloc(w * (size_t)channels))) {
        st = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (size_t y = 0; y < (size_t)height; y++) {
        for (size_t x = 0; x < w; x++)
            for (int c = 0; c < channels; c++)
                row[x * (size_t)channels + (size_t)c] = to_byte(chw[(size_t)c * plane + y * w + x]);
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
done:
    png_destroy_write_struct(&png, &info);
    free(row);
    if (fclose(f) != 0 && st == XAI_OK) st = xai_fail(err, errlen, XAI_EIO, "%s: write failed", path);
    if (st != XAI_OK) remove(path);
    return st;
}
