/* libFuzzer target: arbitrary bytes through the JPEG reader (xai_jpeg_parse, libjpeg-turbo underneath) and the
 * image preparation (xai_image_prepare: decode, channels, PIL's bilinear resize, centre crop, normalisation).
 * A decoded image is [C, H, W] with values u / 255 in [0, 1]; decoded as gray and as RGB it must agree with
 * itself (RGB of a gray file: the value three times); prepared, every value is finite or the call fails with a
 * one-line message. */
#include <stdint.h>

#include "fuzz_common.h"
#include "xairt_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xai_array file, rgb;
    char err[512] = "";
    int rc = xai_jpeg_parse(data, size, "fuzz.jpg", 0, &file, err, sizeof err);
    if (rc != XAI_OK) {
        fuzz_check_failure(rc, err, &file);
    } else {
        int64_t n = fuzz_check_array(&file);
        if (file.rank != 3 || (file.shape[0] != 1 && file.shape[0] != 3)) abort();
        for (int64_t i = 0; i < n; i++)
            if (!(file.data[i] >= 0.0f && file.data[i] <= 1.0f) ||
                file.data[i] * 255.0f != (float)(int)(file.data[i] * 255.0f + 0.5f))
                abort();
        if (file.shape[1] * file.shape[2] <= (1 << 18)) {
            if (xai_jpeg_parse(data, size, "fuzz.jpg", 3, &rgb, err, sizeof err) != XAI_OK) abort();
            int64_t plane = file.shape[1] * file.shape[2];
            for (int64_t i = 0; i < plane && file.shape[0] == 1; i++)
                if (rgb.data[i] != file.data[i] || rgb.data[plane + i] != file.data[i] ||
                    rgb.data[2 * plane + i] != file.data[i])
                    abort();
            xai_array_free(&rgb);
        }
        xai_array_free(&file);
    }
    /* the whole preparation, at a size derived from the input so that resizing up and down both happen */
    int side = size ? 4 + data[size - 1] % 29 : 8;
    xai_image_prep p = { .channels = size > 1 && data[size - 2] % 2 ? 3 : 1,
                         .height = side,
                         .width = side,
                         .resize = side + (size > 2 ? data[size - 3] % 9 : 0),
                         .crop_height = side,
                         .crop_width = side,
                         .mean = { 0.5f, 0.4f, 0.3f },
                         .std = { 0.2f, 0.25f, 0.3f } };
    float *out = malloc(sizeof(float) * 3 * (size_t)side * (size_t)side);
    err[0] = 0;
    rc = xai_image_prepare(data, size, "fuzz.jpg", &p, out, err, sizeof err);
    if (rc != XAI_OK && (!err[0] || strchr(err, '\n'))) abort();
    for (int64_t i = 0; rc == XAI_OK && i < (int64_t)p.channels * side * side; i++)
        if (!isfinite(out[i])) abort();
    free(out);
    return 0;
}
