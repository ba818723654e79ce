/* JPEG reading through libjpeg-turbo (the libjpeg API, as PIL uses it: islow DCT, fancy upsampling, YCbCr to
 * RGB by the library), so the pixels are those torchvision's PIL pipeline sees.
 * libjpeg reports errors by calling error_exit, which must not return: it longjmps back here; its messages
 * are formatted into the caller's buffer instead of stderr. Warnings that mean the data is cut short
 * (premature end of file or of a data segment) are errors here: libjpeg would fill the rest with gray and
 * call it a success. Limits against hostile files: an image may not have more pixels than 1024 per byte of
 * file (plus a megapixel) nor more than 2^28; progressive files may not have more than 500 scans (each
 * scan re-decodes the whole image: a few kB of scans can otherwise keep a decoder busy for minutes). */
#include "xairt.h"
#include "xairt_io.h"
#include "rt_internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* GCC's -Wclobbered flags the arguments of the function that calls setjmp although none is assigned after it
 * (the condition under which a longjmp could clobber them): a false positive. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wclobbered"
#endif

#define MAX_PIXELS (1u << 28)
#define MAX_SCANS  500

typedef struct jpeg_ctx {
    struct jpeg_error_mgr mgr; /* first: libjpeg hands back a pointer to it */
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    const char *label;
    char *err;
    size_t errlen;
    int status;
} jpeg_ctx;

static void on_error(j_common_ptr cinfo)
{
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    char msg[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, msg);
    xai_fail(c->err, c->errlen, XAI_EFORMAT, "%s: %s", c->label, msg);
    longjmp(c->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level)
{
    /* level -1: a warning. Those that mean missing data end the decoding; the others (extraneous bytes
     * before a marker, ...) are what many cameras write and PIL ignores as well. */
    int code = cinfo->err->msg_code;
    if (level < 0 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER)) {
        jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
        char msg[JMSG_LENGTH_MAX];
        cinfo->err->format_message(cinfo, msg);
        xai_fail(c->err, c->errlen, XAI_EFORMAT, "%s: truncated or corrupt (%s)", c->label, msg);
        longjmp(c->jump, 1);
    }
}

static void on_progress(j_common_ptr cinfo)
{
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > MAX_SCANS) {
        xai_fail(c->err, c->errlen, XAI_EFORMAT, "%s: more than %d progressive scans", c->label, MAX_SCANS);
        longjmp(c->jump, 1);
    }
}

int xai_jpeg_decode8(const void *bytes, size_t size, const char *name, xai_image8 *out, char *err, size_t errlen)
{
    if (!out || (!bytes && size)) return xai_fail(err, errlen, XAI_ENULL, "xai_jpeg_decode8: data or out is NULL");
    memset(out, 0, sizeof *out);
    const char *const label = name ? name : "JPEG data";
    const unsigned char *b = bytes;
    if (size < 3 || b[0] != 0xFF || b[1] != 0xD8 || b[2] != 0xFF)
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: not a JPEG file (bad signature)", label);
    struct jpeg_decompress_struct cinfo;
    jpeg_ctx ctx = { .label = label, .err = err, .errlen = errlen };
    cinfo.err = jpeg_std_error(&ctx.mgr);
    ctx.mgr.error_exit = on_error;
    ctx.mgr.emit_message = on_message;
    ctx.mgr.output_message = NULL; /* never called: both callers above are replaced */
    unsigned char *volatile pixels = NULL;
    volatile int created = 0;
    if (setjmp(ctx.jump)) {
        if (created) jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return XAI_EFORMAT; /* the message is written */
    }
    jpeg_create_decompress(&cinfo);
    created = 1;
    ctx.progress.progress_monitor = on_progress;
    cinfo.progress = &ctx.progress;
    jpeg_mem_src(&cinfo, (const unsigned char *)bytes, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    size_t w = cinfo.image_width, h = cinfo.image_height, pixels_n = w * h;
    if (pixels_n > MAX_PIXELS || pixels_n / 1024 > size + 1024) {
        xai_fail(err, errlen, XAI_EFORMAT,
                 "%s: a %zux%zu image in %zu bytes of JPEG is refused (at most %u pixels, "
                 "and 1024 per byte of file)",
                 label, w, h, size, MAX_PIXELS);
        longjmp(ctx.jump, 1);
    }
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        xai_fail(err, errlen, XAI_EFORMAT,
                 "%s: a CMYK JPEG; convert it to RGB (e.g. `convert IN -colorspace sRGB OUT`)", label);
        longjmp(ctx.jump, 1);
    }
    int gray = cinfo.jpeg_color_space == JCS_GRAYSCALE;
    cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int c = cinfo.output_components;
    if ((c != 1 && c != 3) || cinfo.output_width != w || cinfo.output_height != h) {
        xai_fail(err, errlen, XAI_EFORMAT, "%s: unexpected decoder output (%d components)", label, c);
        longjmp(ctx.jump, 1);
    }
    if (!(pixels = malloc(pixels_n * (size_t)c))) {
        xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory for a %zux%zu image", label, w, h);
        jpeg_destroy_decompress(&cinfo);
        return XAI_ENOMEM;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * w * (size_t)c;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    out->pixels = pixels;
    out->width = (int32_t)w;
    out->height = (int32_t)h;
    out->channels = c;
    return XAI_OK;
}

int xai_jpeg_parse(const void *bytes, size_t size, const char *label, int want_channels, xai_array *out, char *err,
                   size_t errlen)
{
    if (!out || (!bytes && size)) return xai_fail(err, errlen, XAI_ENULL, "xai_jpeg_parse: data or out is NULL");
    memset(out, 0, sizeof *out);
    if (!label) label = "JPEG data";
    if (want_channels != 0 && want_channels != 1 && want_channels != 3)
        return xai_fail(err, errlen, XAI_EARG, "%s: want_channels %d is not 0, 1 or 3", label, want_channels);
    xai_image8 img;
    int st = xai_jpeg_decode8(bytes, size, label, &img, err, errlen);
    if (st) return st;
    int out_c = want_channels ? want_channels : img.channels;
    size_t plane = (size_t)img.width * (size_t)img.height;
    float *data = malloc(plane * (size_t)out_c * sizeof(float));
    if (!data) {
        free(img.pixels);
        return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", label);
    }
    /* as xai_png_read: values / 255, gray of colour = 0.299 R + 0.587 G + 0.114 B */
    for (size_t i = 0; i < plane; i++) {
        const unsigned char *p = img.pixels + i * (size_t)img.channels;
        float v[3] = { p[0] / 255.0f, 0, 0 };
        if (img.channels == 3) v[1] = p[1] / 255.0f, v[2] = p[2] / 255.0f;
        if (out_c == img.channels)
            for (int c = 0; c < out_c; c++) data[(size_t)c * plane + i] = v[c];
        else if (out_c == 1)
            data[i] = 0.299f * v[0] + 0.587f * v[1] + 0.114f * v[2];
        else
            data[i] = data[plane + i] = data[2 * plane + i] = v[0];
    }
    free(img.pixels);
    out->rank = 3;
    out->shape[0] = out_c;
    out->shape[1] = img.height;
    out->shape[2] = img.width;
    out->data = data;
    return XAI_OK;
}

int xai_jpeg_read(const char *path, int want_channels, xai_array *out, char *err, size_t errlen)
{
    if (!path || !out) return xai_fail(err, errlen, XAI_ENULL, "xai_jpeg_read: path or out is NULL");
    memset(out, 0, sizeof *out);
    unsigned char *bytes;
    size_t size;
    int st = xai_read_regular(path, 0, &bytes, &size, err, errlen);
    if (st != XAI_OK) return st;
    st = xai_jpeg_parse(bytes, size, path, want_channels, out, err, errlen);
    free(bytes);
    return st;
}
