/* Images as network inputs: libjpeg-turbo decoding against Pillow's (the same library, the same settings), and the
 * image() preprocessing (channels, Resize, CenterCrop, ToTensor, Normalize) against torchvision 0.14 on Pillow 9,
 * bit for bit (fixtures: tests/reference/make_image_fixtures.py). Also the image lists and what broken images
 * give. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "xairt.h"

#define D "tests/data/images/"

static float *load_npy(const char *path, xai_array *a)
{
    char err[256];
    cr_assert_eq(xai_npy_read(path, a, 1, err, sizeof err), XAI_OK, "%s", err);
    return a->data;
}

Test(images, jpeg_decoding_matches_pillow)
{
    const char *names[] = { "rgb_97x71", "rgb_64x80_progressive", "gray_45x60" };
    for (int n = 0; n < 3; n++) {
        char jpg[128], ref[128], err[256];
        snprintf(jpg, sizeof jpg, D "%s.jpg", names[n]);
        snprintf(ref, sizeof ref, D "%s_decoded.npy", names[n]);
        xai_array img, want;
        cr_assert_eq(xai_jpeg_read(jpg, 0, &img, err, sizeof err), XAI_OK, "%s", err);
        load_npy(ref, &want); /* uint8 [H, W] or [H, W, 3] as Pillow decodes it */
        int64_t c = img.shape[0], h = img.shape[1], w = img.shape[2];
        cr_assert_eq(h, want.shape[0]);
        cr_assert_eq(w, want.shape[1]);
        cr_assert_eq(c, want.rank == 3 ? want.shape[2] : 1, "%s: channels", names[n]);
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++)
                for (int64_t k = 0; k < c; k++) {
                    float expect = want.data[(y * w + x) * c + k] / 255.0f;
                    cr_assert_eq(img.data[(k * h + y) * w + x], expect, "%s: pixel (%lld, %lld) channel %lld", names[n],
                                 (long long)y, (long long)x, (long long)k);
                }
        xai_array_free(&img);
        xai_array_free(&want);
    }
}

Test(images, preprocessing_matches_torchvision_bit_for_bit)
{
    FILE *f = fopen(D "cases.txt", "r");
    cr_assert(f, "cases.txt");
    char name[64], image[64];
    xai_image_prep p;
    int cases = 0;
    while (fscanf(f, "%63s %63s %d %d %d %d %d %d %d %d %f %f %f %f %f %f", name, image, &p.channels, &p.height,
                  &p.width, &p.resize, &p.resize_height, &p.resize_width, &p.crop_height, &p.crop_width, &p.mean[0],
                  &p.mean[1], &p.mean[2], &p.std[0], &p.std[1], &p.std[2]) == 16) {
        char path[128], ref[128], err[256];
        snprintf(path, sizeof path, D "%s", image);
        snprintf(ref, sizeof ref, D "%s.npy", name);
        xai_array want;
        load_npy(ref, &want);
        int64_t n = xai_array_count(&want);
        cr_assert_eq(n, (int64_t)p.channels * p.height * p.width, "%s: fixture size", name);
        float *got = malloc(sizeof(float) * n);
        cr_assert_eq(xai_image_read(path, &p, got, err, sizeof err), XAI_OK, "%s: %s", name, err);
        int64_t differ = 0, first = -1;
        for (int64_t i = 0; i < n; i++)
            if (memcmp(&got[i], &want.data[i], 4)) differ++, first = first < 0 ? i : first;
        cr_expect_eq(differ, 0, "%s: %lld of %lld values differ from torchvision (first at %lld: %.9g vs %.9g)", name,
                     (long long)differ, (long long)n, (long long)first, first >= 0 ? got[first] : 0.0,
                     first >= 0 ? want.data[first] : 0.0);
        free(got);
        xai_array_free(&want);
        cases++;
    }
    fclose(f);
    cr_assert_eq(cases, 9, "every case of the fixture ran");
}

Test(images, the_wrong_size_says_what_the_image_became)
{
    xai_image_prep p = { .channels = 3, .height = 224, .width = 224 };
    float *out = malloc(sizeof(float) * 3 * 224 * 224);
    char err[256];
    cr_assert_eq(xai_image_read(D "rgb_97x71.jpg", &p, out, err, sizeof err), XAI_ESHAPE);
    cr_expect(strstr(err, "rgb_97x71.jpg: a 97x71 image is 97x71, but the network takes 224x224") != NULL, "%s", err);
    cr_expect(strstr(err, "image(resize=") != NULL, "says how to fix it: %s", err);
    p.resize = 256, p.crop_height = p.crop_width = 200;
    cr_assert_eq(xai_image_read(D "rgb_97x71.jpg", &p, out, err, sizeof err), XAI_ESHAPE);
    cr_expect(strstr(err, "after resizing and cropping is 200x200") != NULL, "%s", err);
    free(out);
}

Test(images, broken_images_are_errors_naming_the_file)
{
    size_t len;
    char *jpg = tu_read_file(D "rgb_97x71.jpg", &len), err[512];
    float out[3 * 56 * 56];
    xai_image_prep p = { .channels = 3, .height = 56, .width = 56, .resize = 64, .crop_height = 56, .crop_width = 56 };
    /* cut in half, and cut just before the end marker */
    size_t cuts[] = { len / 2, len - 2, 200 };
    for (int i = 0; i < 3; i++) {
        char *cut = tu_write_temp("cut.jpg", jpg, cuts[i]);
        int st = xai_image_read(cut, &p, out, err, sizeof err);
        cr_expect_eq(st, XAI_EFORMAT, "cut at %zu: %d %s", cuts[i], st, err);
        cr_expect(strstr(err, "cut.jpg") != NULL, "%s", err);
        free(cut);
    }
    char *junk = tu_write_temp("junk.jpg", "hello", 5);
    cr_expect_eq(xai_image_read(junk, &p, out, err, sizeof err), XAI_EFORMAT);
    cr_expect(strstr(err, "neither a PNG nor a JPEG") != NULL, "%s", err);
    cr_expect_eq(xai_image_read(D "cmyk_8x8.jpg", &p, out, err, sizeof err), XAI_EFORMAT);
    cr_expect(strstr(err, "CMYK") != NULL, "%s", err);
    /* a huge declared size in a tiny file: refused before decoding */
    unsigned char *big = malloc(len);
    memcpy(big, jpg, len);
    for (size_t i = 0; i + 8 < len; i++)
        if (big[i] == 0xFF && big[i + 1] == 0xC0) {                         /* SOF0: height, width at +5 */
            big[i + 5] = big[i + 7] = 0xFD, big[i + 6] = big[i + 8] = 0xE8; /* 65000 x 65000 */
            break;
        }
    char *huge = tu_write_temp("huge.jpg", big, len);
    cr_expect_eq(xai_image_read(huge, &p, out, err, sizeof err), XAI_EFORMAT);
    cr_expect(strstr(err, "65000x65000 image") != NULL, "%s", err);
    free(big), free(huge), free(junk), free(jpg);
}

Test(images, lists_and_directories)
{
    const char *text = "# ImageNet style\nrgb_97x71.jpg 7\n\n  gray_28x28.png\t3\r\nsub dir/with space.png 12\n";
    char *list = tu_write_temp("list.txt", text, strlen(text)), err[256], buf[512];
    xai_image_list l;
    cr_assert_eq(xai_image_list_open(list, &l, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(l.count, 3);
    cr_assert_not_null(l.labels);
    cr_expect_eq(l.labels[0], 7);
    cr_expect_eq(l.labels[1], 3);
    cr_expect_eq(l.labels[2], 12);
    cr_assert_eq(xai_image_list_path(&l, 2, buf, sizeof buf), XAI_OK);
    cr_expect_str_eq(buf + strlen(tu_tmpdir()), "/sub dir/with space.png");
    xai_image_list_free(&l);
    const char *mixed = "a.png 1\nb.png\n";
    char *bad = tu_write_temp("mixed.txt", mixed, strlen(mixed));
    cr_expect_eq(xai_image_list_open(bad, &l, err, sizeof err), XAI_EFORMAT);
    cr_expect(strstr(err, "mixed.txt:2: no class after the file name") != NULL, "%s", err);
    char *empty = tu_write_temp("empty.txt", "# nothing\n", 10);
    cr_expect_eq(xai_image_list_open(empty, &l, err, sizeof err), XAI_EARG);
    cr_expect(strstr(err, "names no image") != NULL, "%s", err);
    /* a directory: its images in byte order of their names, without labels */
    cr_assert_eq(xai_image_list_open("tests/data/images", &l, err, sizeof err), XAI_OK, "%s", err);
    cr_expect_eq(l.count, 7, "six fixture images and the CMYK one: %lld", (long long)l.count);
    cr_expect_null(l.labels);
    cr_assert_eq(xai_image_list_path(&l, 0, buf, sizeof buf), XAI_OK);
    cr_expect_str_eq(buf, "tests/data/images/cmyk_8x8.jpg");
    for (int64_t i = 1; i < l.count; i++) cr_expect(strcmp(l.text + l.offset[i - 1], l.text + l.offset[i]) < 0);
    xai_image_list_free(&l);
    free(list), free(bad), free(empty);
}
