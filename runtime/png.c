/* PNG read/write through libpng's low-level API.
 * Not the simplified png_image API: that one composites alpha onto a background and converts to gray
 * in linear light, while we want alpha dropped and luma = 0.299 R + 0.587 G + 0.114 B on the stored
 * values (what PIL's convert("L") and torchvision do, so explanations match the peers).
 * libpng reports errors by longjmp: every pointer allocated after setjmp is volatile and freed on the
 * single cleanup path, and the error/warning callbacks never print. */
#include "xairt.h"
#include "xairt_io.h"
#include "rt_internal.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *label;
    char *err;
    size_t errlen;
    char warning[128];        /* the last warning: libpng often explains an error in a warning just before */
    const unsigned char *mem; /* reading: the file's bytes */
    size_t size, pos;
    int ran_out; /* libpng asked for bytes past the end */
} png_ctx;

static void on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    if (c->ran_out) /* libpng only says "Read Error" when the file ends early */
        xai_fail(c->err, c->errlen, XAI_EFORMAT, "%s: truncated (libpng: %s)", c->label, msg);
    else if (c->warning[0])
        xai_fail(c->err, c->errlen, XAI_EFORMAT, "%s: %s (after warning: %s)", c->label, msg, c->warning);
    else
        xai_fail(c->err, c->errlen, XAI_EFORMAT, "%s: %s", c->label, msg);
    png_longjmp(png, 1);
}

/* libpng's default prints to stderr; the runtime never prints, so keep it for the error message. */
static void on_warning(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->warning, sizeof c->warning, "%s", msg);
}

static void read_memory(png_structp png, png_bytep out, size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->size - c->pos) {
        c->ran_out = 1;
        png_error(png, "Read Error");
    }
    memcpy(out, c->mem + c->pos, n);
    c->pos += n;
}

/* Deflate turns at most 1032 bytes into one (a 258-byte match in two bits), so a file of `size` bytes
 * cannot hold more pixel data than this; an image claiming more is refused before anything is allocated. */
#define MAX_INFLATE_RATIO 1032u

/* The decoded rows, after libpng's transforms: 8 or 16 bits (8 with strip16), 1-4 interleaved channels (gray,
 * gray+alpha, RGB, RGBA). */
typedef struct png_raw {
    unsigned char *pixels;
    size_t w, h, rowbytes;
    int channels, depth;
} png_raw;

static int png_decode(const void *bytes, size_t size, const char *label, int strip16, png_raw *raw, char *err,
                      size_t errlen)
{
    memset(raw, 0, sizeof *raw);
    if (size < 8 || png_sig_cmp(bytes, 0, 8) != 0)
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: not a PNG file (bad signature)", label);
    png_ctx ctx = { .label = label, .err = err, .errlen = errlen, .mem = bytes, .size = size, .pos = 8 };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", ctx.label);
    }

    int st = XAI_OK;
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        st = XAI_EFORMAT; /* on_error already wrote the message */
        goto done;
    }
    png_set_read_fn(png, &ctx, read_memory);
    png_set_sig_bytes(png, 8);
    /* Only the critical chunks (and tRNS) matter here: alpha is dropped and nothing is colour-managed. The
     * others are skipped unread, so a 40-byte file declaring a 1.5 GB zTXt chunk allocates nothing. */
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* A fuzzer cannot forge CRCs: let it past them, as libpng's own fuzz target does. */
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#ifdef PNG_IGNORE_ADLER32
    png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
#endif
    png_read_info(png, info);
    size_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    size_t file_rowbytes = png_get_rowbytes(png, info);
    if (w == 0 || h == 0 || file_rowbytes > SIZE_MAX / h || file_rowbytes * h / MAX_INFLATE_RATIO > size) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: a %zux%zu image cannot fit in %zu bytes of PNG", ctx.label, w, h,
                      size);
        goto done;
    }
    int color = png_get_color_type(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (strip16) png_set_strip_16(png); /* the high byte, as PIL reads 16-bit RGB */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    size_t rowbytes = png_get_rowbytes(png, info), pixel_bytes, float_bytes;
    if (__builtin_mul_overflow(rowbytes, h, &pixel_bytes) ||
        __builtin_mul_overflow(w * h, 3 * sizeof(float), &float_bytes)) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: image %zux%zu is too large", ctx.label, w, h);
        goto done;
    }
    pixels = malloc(pixel_bytes);
    rows = malloc(h * sizeof *rows);
    if (!pixels || !rows) {
        st = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory for a %zux%zu image", ctx.label, w, h);
        goto done;
    }
    for (size_t y = 0; y < h; y++) rows[y] = pixels + y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    raw->pixels = pixels;
    pixels = NULL;
    raw->w = w, raw->h = h, raw->rowbytes = rowbytes;
    raw->channels = png_get_channels(png, info);
    raw->depth = png_get_bit_depth(png, info);
done:
    png_destroy_read_struct(&png, &info, NULL);
    free(pixels);
    free(rows);
    return st;
}

int xai_png_parse(const void *bytes, size_t size, const char *label, int want_channels, xai_array *out, char *err,
                  size_t errlen)
{
    if (!out || (!bytes && size)) return xai_fail(err, errlen, XAI_ENULL, "xai_png_parse: data or out is NULL");
    memset(out, 0, sizeof *out);
    if (!label) label = "PNG data";
    if (want_channels != 0 && want_channels != 1 && want_channels != 3)
        return xai_fail(err, errlen, XAI_EARG, "%s: want_channels %d is not 0, 1 or 3", label, want_channels);
    png_raw raw;
    int st = png_decode(bytes, size, label, 0, &raw, err, errlen);
    if (st) return st;
    size_t w = raw.w, h = raw.h;
    int channels = raw.channels, depth = raw.depth, file_c = channels >= 3 ? 3 : 1;
    int out_c = want_channels ? want_channels : file_c;
    float *data = malloc(w * h * (size_t)out_c * sizeof(float));
    if (!data) {
        free(raw.pixels);
        return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory for a %zux%zu image", label, w, h);
    }
    float *d = data;
    size_t plane = h * w;
    for (size_t y = 0; y < h; y++) {
        const unsigned char *r = raw.pixels + y * raw.rowbytes;
        for (size_t x = 0; x < w; x++) {
            float v[3];
            for (int c = 0; c < file_c; c++) {
                size_t i = x * (size_t)channels + (size_t)c; /* alpha, if any, is the last channel: skipped */
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
    free(raw.pixels);
    out->rank = 3;
    out->shape[0] = out_c;
    out->shape[1] = (int64_t)h;
    out->shape[2] = (int64_t)w;
    out->data = data;
    return XAI_OK;
}

int xai_png_decode8(const void *bytes, size_t size, const char *label, xai_image8 *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    png_raw raw;
    int st = png_decode(bytes, size, label, 1, &raw, err, errlen);
    if (st) return st;
    int c = raw.channels >= 3 ? 3 : 1;
    /* alpha dropped in place: row by row, each pixel's first c bytes moved down (never overlapping forward) */
    unsigned char *px = raw.pixels;
    for (size_t y = 0; y < raw.h; y++) {
        const unsigned char *row = raw.pixels + y * raw.rowbytes;
        unsigned char *dst = px + y * raw.w * (size_t)c;
        for (size_t x = 0; x < raw.w; x++)
            for (int k = 0; k < c; k++) dst[x * (size_t)c + (size_t)k] = row[x * (size_t)raw.channels + (size_t)k];
    }
    out->pixels = px;
    out->width = (int32_t)raw.w;
    out->height = (int32_t)raw.h;
    out->channels = c;
    return XAI_OK;
}

int xai_png_read(const char *path, int want_channels, xai_array *out, char *err, size_t errlen)
{
    if (!path || !out) return xai_fail(err, errlen, XAI_ENULL, "xai_png_read: path or out is NULL");
    memset(out, 0, sizeof *out);
    if (want_channels != 0 && want_channels != 1 && want_channels != 3)
        return xai_fail(err, errlen, XAI_EARG, "%s: want_channels %d is not 0, 1 or 3", path, want_channels);
    unsigned char *bytes;
    size_t size;
    int st = xai_read_regular(path, 0, &bytes, &size, err, errlen);
    if (st != XAI_OK) return st;
    st = xai_png_parse(bytes, size, path, want_channels, out, err, errlen);
    free(bytes);
    return st;
}

static void write_stream(png_structp png, png_bytep bytes, size_t n) { fwrite(bytes, 1, n, png_get_io_ptr(png)); }

static void flush_stream(png_structp png) { (void)png; /* the commit flushes */ }

static unsigned char to_byte(float v)
{
    if (!(v > 0.0f)) return 0; /* also NaN */
    if (v >= 1.0f) return 255;
    return (unsigned char)(v * 255.0f + 0.5f);
}

int xai_png_write(const char *path, const float *chw, int32_t channels, int32_t height, int32_t width, char *err,
                  size_t errlen)
{
    if (!path || !chw) return xai_fail(err, errlen, XAI_ENULL, "xai_png_write: path or data is NULL");
    if (channels != 1 && channels != 3)
        return xai_fail(err, errlen, XAI_EARG, "%s: %d channels (PNG output takes 1 or 3)", path, (int)channels);
    if (height < 1 || width < 1)
        return xai_fail(err, errlen, XAI_ESHAPE, "%s: image size %dx%d is empty or negative", path, (int)height,
                        (int)width);
    xai_outfile *o;
    int st = xai_outfile_open(&o, path, 0, err, errlen);
    if (st != XAI_OK) return st;
    png_ctx ctx = { .label = path, .err = err, .errlen = errlen };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(png ? &png : NULL, NULL);
        xai_outfile_abort(o);
        return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", path);
    }
    unsigned char *volatile row = NULL;
    if (setjmp(png_jmpbuf(png))) {
        st = XAI_EIO; /* size limits libpng refuses, out of memory; message set by on_error */
        goto done;
    }
    /* Write errors are not libpng errors here: the stream keeps them and the commit reports their reason. */
    png_set_write_fn(png, xai_outfile_stream(o), write_stream, flush_stream);
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
    if (st != XAI_OK) {
        xai_outfile_abort(o);
        return st;
    }
    return xai_outfile_commit(o, err, errlen);
}
