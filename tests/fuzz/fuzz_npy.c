/* libFuzzer target: arbitrary bytes through the .npy reader (xai_npy_parse, what xai_npy_read runs on a
 * file's bytes), with conversion on and off. With conversion off a success must be a little-endian float32
 * array whose bytes are exactly the end of the input. */
#include <stdint.h>

#include "fuzz_common.h"
#include "xairt_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int convert = 0; convert < 2; convert++) {
        xai_array a;
        char err[256] = "";
        int rc = xai_npy_parse(data, size, "fuzz.npy", convert, &a, err, sizeof err);
        if (rc != XAI_OK) {
            fuzz_check_failure(rc, err, &a);
            continue;
        }
        int64_t n = fuzz_check_array(&a);
        if (!convert) { /* <f4 as stored: the data section is the last 4n bytes, copied bit for bit */
            if ((uint64_t)n * 4 > size || memcmp(a.data, data + size - (size_t)n * 4, (size_t)n * 4)) abort();
        }
        xai_array_free(&a);
    }
    return 0;
}
