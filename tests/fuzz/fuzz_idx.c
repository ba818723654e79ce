/* libFuzzer target: arbitrary bytes through the IDX reader (xai_idx_parse, what xai_idx_read runs on a file's
 * bytes), as they are (plain, or a gzip stream when they start with its magic) and, when they are not gzip
 * already, gzip-compressed by zlib: both must give the same status, message and array, which exercises the
 * inflate path with valid streams of every content. */
#include <stdint.h>
#include <zlib.h>

#include "fuzz_common.h"
#include "xairt_io.h"

/* gzip(data) into a malloc'd buffer; NULL if zlib fails (then the comparison is skipped). */
static unsigned char *gzip_bytes(const uint8_t *data, size_t size, size_t *out_size)
{
    z_stream z = { 0 };
    if (deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return NULL;
    size_t cap = deflateBound(&z, size);
    unsigned char *buf = malloc(cap);
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)size;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int r = buf ? deflate(&z, Z_FINISH) : Z_MEM_ERROR;
    *out_size = cap - z.avail_out;
    deflateEnd(&z);
    if (r != Z_STREAM_END) {
        free(buf);
        return NULL;
    }
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xai_array a;
    char err[256] = "";
    int rc = xai_idx_parse(data, size, "fuzz.idx", 1.0f / 255, &a, err, sizeof err);
    if (rc != XAI_OK)
        fuzz_check_failure(rc, err, &a);
    else
        fuzz_check_array(&a);

    if (size < 2 || data[0] != 0x1f || data[1] != 0x8b) {
        size_t gz_size;
        unsigned char *gz = gzip_bytes(data, size, &gz_size);
        if (gz) {
            xai_array b;
            char err_b[256] = "";
            int rc_b = xai_idx_parse(gz, gz_size, "fuzz.idx", 1.0f / 255, &b, err_b, sizeof err_b);
            if (rc_b != rc || strcmp(err, err_b)) abort();
            if (rc == XAI_OK) {
                int64_t n = fuzz_check_array(&b);
                if (a.rank != b.rank || memcmp(a.shape, b.shape, sizeof a.shape) ||
                    memcmp(a.data, b.data, (size_t)n * sizeof(float)))
                    abort();
            }
            xai_array_free(&b);
            free(gz);
        }
    }
    xai_array_free(&a);
    return 0;
}
