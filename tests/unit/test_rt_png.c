/* libxairt PNG reader/writer. The files in tests/data/rt were written by an independent encoder
 * (gen.py), 2 rows x 3 columns, one per colour type and bit depth. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <criterion/criterion.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "xairt.h"

#define D "tests/data/rt/"

static const int G8[6] = { 0, 128, 255, 10, 20, 30 };
static const int G16[6] = { 0, 32768, 65535, 1000, 2000, 3000 };
static const int RGB[6][3] = { { 255, 0, 0 },  { 0, 255, 0 },    { 0, 0, 255 },
                               { 10, 20, 30 }, { 200, 100, 50 }, { 255, 255, 255 } };

static void read_ok(const char *path, int want, xai_array *a, int c)
{
    char err[256] = "";
    cr_assert_eq(xai_png_read(path, want, a, err, sizeof err), XAI_OK, "%s: %s", path, err);
    cr_assert_eq(a->rank, 3, "%s", path);
    cr_assert_eq(a->shape[0], c, "%s: %lld channels", path, (long long)a->shape[0]);
    cr_assert_eq(a->shape[1], 2, "%s", path);
    cr_assert_eq(a->shape[2], 3, "%s", path);
}

static void expect_gray(const xai_array *a, const int *v, float max, const char *what)
{
    for (int c = 0; c < a->shape[0]; c++)
        for (int i = 0; i < 6; i++)
            cr_assert_float_eq(a->data[c * 6 + i], v[i] / max, 1e-6, "%s c%d [%d] = %g", what, c, i,
                               a->data[c * 6 + i]);
}

static void expect_rgb(const xai_array *a, const char *what)
{
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 6; i++)
            cr_assert_float_eq(a->data[c * 6 + i], RGB[i][c] / 255.0f, 1e-6, "%s c%d [%d]", what, c, i);
}

Test(png, gray_depths)
{
    xai_array a;
    read_ok(D "gray8.png", 0, &a, 1);
    expect_gray(&a, G8, 255, "gray8");
    xai_array_free(&a);
    read_ok(D "gray16.png", 0, &a, 1);
    expect_gray(&a, G16, 65535, "gray16");
    xai_array_free(&a);
    read_ok(D "gray1.png", 0, &a, 1);
    expect_gray(&a, (int[]){ 0, 1, 0, 1, 1, 0 }, 1, "gray1");
    xai_array_free(&a);
}

Test(png, gray_alpha_dropped)
{
    xai_array a;
    read_ok(D "graya8.png", 0, &a, 1);
    expect_gray(&a, G8, 255, "graya8");
    xai_array_free(&a);
    read_ok(D "graya16.png", 0, &a, 1);
    expect_gray(&a, G16, 65535, "graya16");
    xai_array_free(&a);
}

Test(png, gray_to_three_channels)
{
    xai_array a;
    read_ok(D "gray8.png", 3, &a, 3);
    expect_gray(&a, G8, 255, "gray8 as RGB");
    xai_array_free(&a);
}

Test(png, colour_types_give_the_same_rgb)
{
    const char *files[] = { D "rgb8.png", D "rgb16.png", D "rgba8.png", D "rgba16.png", D "palette.png" };
    for (int f = 0; f < 5; f++) {
        xai_array a;
        read_ok(files[f], 0, &a, 3);
        expect_rgb(&a, files[f]);
        xai_array_free(&a);
        read_ok(files[f], 3, &a, 3);
        expect_rgb(&a, files[f]);
        xai_array_free(&a);
    }
}

Test(png, rgb_to_luma)
{
    const char *files[] = { D "rgb8.png", D "rgb16.png", D "palette.png" };
    for (int f = 0; f < 3; f++) {
        xai_array a;
        read_ok(files[f], 1, &a, 1);
        for (int i = 0; i < 6; i++) {
            float want = (0.299f * RGB[i][0] + 0.587f * RGB[i][1] + 0.114f * RGB[i][2]) / 255.0f;
            cr_assert_float_eq(a.data[i], want, 1e-5, "%s [%d] = %g, want %g", files[f], i, a.data[i], want);
        }
        cr_assert_float_eq(a.data[0], 0.299f, 1e-6);
        xai_array_free(&a);
    }
}

/* Written here through libpng (interlacing is something gen.py's encoder does not do). */
Test(png, interlaced_16bit)
{
    char *p = tu_write_temp("adam7.png", "", 0);
    FILE *f = fopen(p, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    cr_assert(!setjmp(png_jmpbuf(png)));
    png_init_io(png, f);
    int w = 7, h = 5;
    png_set_IHDR(png, info, w, h, 16, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    unsigned char rows[5][7 * 6];
    png_bytep rp[5];
    for (int y = 0; y < h; y++) {
        rp[y] = rows[y];
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                int v = (y * 7 + x) * 1000 + c * 300;
                rows[y][(x * 3 + c) * 2] = (unsigned char)(v >> 8);
                rows[y][(x * 3 + c) * 2 + 1] = (unsigned char)v;
            }
    }
    png_write_image(png, rp);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);

    xai_array a;
    char err[256] = "";
    cr_assert_eq(xai_png_read(p, 0, &a, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(a.shape[0], 3);
    cr_assert_eq(a.shape[1], 5);
    cr_assert_eq(a.shape[2], 7);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                cr_assert_float_eq(a.data[(c * h + y) * w + x], ((y * 7 + x) * 1000 + c * 300) / 65535.0f, 1e-6);
    xai_array_free(&a);
    free(p);
}

Test(png, write_round_trip_gray_and_rgb)
{
    /* Out-of-range values clamp, NaN becomes 0, the rest round to the nearest 1/255. */
    float gray[6] = { -0.5f, 0.0f, 0.5f, 1.0f, 7.0f, NAN };
    int gray_bytes[6] = { 0, 0, 128, 255, 255, 0 };
    char *p = tu_write_temp("out.png", "", 0);
    char err[256] = "";
    cr_assert_eq(xai_png_write(p, gray, 1, 2, 3, err, sizeof err), XAI_OK, "%s", err);
    xai_array a;
    read_ok(p, 0, &a, 1);
    expect_gray(&a, gray_bytes, 255, "written gray");
    xai_array_free(&a);

    float rgb[18];
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 6; i++) rgb[c * 6 + i] = RGB[i][c] / 255.0f;
    cr_assert_eq(xai_png_write(p, rgb, 3, 2, 3, err, sizeof err), XAI_OK, "%s", err);
    read_ok(p, 0, &a, 3);
    expect_rgb(&a, "written rgb");
    xai_array_free(&a);

    /* An independent decoder agrees (checked only where PIL is installed). */
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"from PIL import Image; im=Image.open('%s'); print(im.mode, im.size, "
             "list(im.getdata())[4])\"",
             p);
    if (tu_run(cmd, &out) == 0) cr_assert_str_eq(out, "RGB (3, 2) (200, 100, 50)\n");
    free(out);
    free(p);
}

Test(png, read_errors)
{
    xai_array a;
    char err[256];
    cr_assert_eq(xai_png_read(D "truncated.png", 0, &a, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, D "truncated.png: truncated"), "%s", err);
    cr_assert_null(a.data);
    cr_assert_eq(xai_png_read(D "f4_2x3.npy", 0, &a, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "not a PNG file"), "%s", err);
    cr_assert_eq(xai_png_read(D "missing.png", 0, &a, err, sizeof err), XAI_EIO);
    cr_assert(strstr(err, "missing.png: cannot open"), "%s", err);
    cr_assert_eq(xai_png_read(D "rgb8.png", 2, &a, err, sizeof err), XAI_EARG);
    cr_assert(strstr(err, "want_channels 2"), "%s", err);
    cr_assert_eq(xai_png_read(NULL, 0, &a, err, sizeof err), XAI_ENULL);

    /* A corrupted IDAT fails inside png_read_image, after the buffers exist (the longjmp path). */
    size_t len;
    char *bytes = tu_read_file(D "rgb8.png", &len);
    char *idat = memmem(bytes, len, "IDAT", 4);
    cr_assert_not_null(idat);
    idat[6] ^= 0x55;
    char *p = tu_write_temp("crc.png", bytes, len);
    cr_assert_eq(xai_png_read(p, 0, &a, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "crc.png: ") && strstr(err, "IDAT"), "%s", err);
    cr_assert_null(a.data);
    free(p);
    free(bytes);
}

Test(png, write_errors)
{
    float px[3] = { 0 };
    char err[256];
    cr_assert_eq(xai_png_write("/tmp/x.png", px, 2, 1, 1, err, sizeof err), XAI_EARG);
    cr_assert(strstr(err, "2 channels"), "%s", err);
    cr_assert_eq(xai_png_write("/tmp/x.png", px, 1, 0, 3, err, sizeof err), XAI_ESHAPE);
    cr_assert_eq(xai_png_write("/tmp/x.png", NULL, 1, 1, 3, err, sizeof err), XAI_ENULL);
    cr_assert_eq(xai_png_write("/nonexistent-dir/x.png", px, 1, 1, 3, err, sizeof err), XAI_EIO);
    cr_assert(strstr(err, "/nonexistent-dir/x.png: cannot open for writing"), "%s", err);
    /* libpng refuses widths over its user limit (1e6) by longjmp: reported, and the file that was there
     * before stays as it was (nothing half-written, nothing removed). */
    char *p = tu_write_temp("wide.png", "previous", 8);
    cr_assert_eq(xai_png_write(p, px, 1, 1, 2000000, err, sizeof err), XAI_EIO);
    cr_assert(strstr(err, "wide.png: ") && strstr(err, "width"), "%s", err);
    size_t len = 0;
    char *kept = tu_read_file(p, &len);
    cr_assert(kept && len == 8 && !memcmp(kept, "previous", 8));
    free(kept);
    free(p);
}
