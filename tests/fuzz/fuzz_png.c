/* libFuzzer target: arbitrary bytes through the PNG reader (xai_png_parse, what xai_png_read runs on a file's
 * bytes, libpng underneath). A decoded image is [C, H, W] with values in [0, 1]; it is then decoded again as
 * gray and as RGB, which must agree with it: gray of a colour file is 0.299 R + 0.587 G + 0.114 B of the RGB
 * decoding, RGB of a gray file is the gray value three times. */
#include <stdint.h>

#include "fuzz_common.h"
#include "xairt_io.h"

static void decode(const uint8_t *data, size_t size, int want, xai_array *a, int must_succeed)
{
    char err[256] = "";
    int rc = xai_png_parse(data, size, "fuzz.png", want, a, err, sizeof err);
    if (rc != XAI_OK) {
        if (must_succeed) abort(); /* the same bytes decoded a moment ago */
        fuzz_check_failure(rc, err, a);
        return;
    }
    int64_t n = fuzz_check_array(a);
    if (a->rank != 3 || (a->shape[0] != 1 && a->shape[0] != 3) || a->shape[1] < 1 || a->shape[2] < 1) abort();
    if (want && a->shape[0] != want) abort();
    for (int64_t i = 0; i < n; i++)
        if (!(a->data[i] >= 0.0f && a->data[i] <= 1.0f)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xai_array file, gray, rgb;
    decode(data, size, 0, &file, 0);
    if (!file.data) return 0;
    /* A few kB of PNG can legitimately hold tens of millions of pixels (deflate packs 1032 bytes into one):
     * decoded once, as the reader must, but not three times, which would only slow the fuzzer down. */
    if (file.shape[1] * file.shape[2] > (1 << 20)) {
        xai_array_free(&file);
        return 0;
    }
    decode(data, size, 1, &gray, 1);
    decode(data, size, 3, &rgb, 1);
    int64_t plane = file.shape[1] * file.shape[2];
    if (gray.shape[1] != file.shape[1] || gray.shape[2] != file.shape[2] || rgb.shape[1] != file.shape[1] ||
        rgb.shape[2] != file.shape[2])
        abort();
    for (int64_t i = 0; i < plane; i++) {
        const float *r = rgb.data;
        if (file.shape[0] == 3) {
            if (gray.data[i] != 0.299f * r[i] + 0.587f * r[plane + i] + 0.114f * r[2 * plane + i]) abort();
        } else if (r[i] != gray.data[i] || r[plane + i] != gray.data[i] || r[2 * plane + i] != gray.data[i]) {
            abort();
        }
    }
    xai_array_free(&file);
    xai_array_free(&gray);
    xai_array_free(&rgb);
    return 0;
}
