/* libFuzzer target: arbitrary bytes as a data set file read a record at a time (xai_records_*: .npy mapped, IDX
 * plain mapped or gzip streamed). The bytes go to a temporary file, since the reader maps or streams a path. Every
 * record the header promises is read forward, then backward; where the whole-file readers (xai_npy_parse,
 * xai_idx_parse) accept the same bytes, the records must hold exactly their values. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "xairt_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_records.%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    xai_records *r;
    xai_records_info info;
    char err[512] = "";
    int rc = xai_records_open(path, 1.0f / 255, 1, &r, &info, err, sizeof err);
    if (rc != XAI_OK) {
        if (!err[0] || strchr(err, '\n') || r) abort();
        return 0;
    }
    if (info.records < 0 || info.complete < 0 || info.complete > info.records || info.record_values < 0) abort();
    if (info.record_values > (1 << 20)) { /* the caller's buffer, not the reader's: keep it small */
        xai_records_close(r);
        return 0;
    }
    if (info.record_values * info.records > (1 << 22)) /* large but valid: a few records only */
        info.records = info.complete = info.records < 4 ? info.records : 4;
    float *buf = malloc(sizeof(float) * (size_t)(info.records * info.record_values) + 4);
    int64_t done = 0;
    rc = xai_records_read(r, 0, info.records, buf, &done, err, sizeof err);
    if (done < 0 || done > info.records || (rc == XAI_OK && done != info.records)) abort();
    if (rc == XAI_OK) {
        xai_array whole;
        int is_npy = size >= 1 && data[0] == 0x93;
        int wrc = is_npy ? xai_npy_parse(data, size, "w", 1, &whole, err, sizeof err)
                         : xai_idx_parse(data, size, "w", 1.0f / 255, &whole, err, sizeof err);
        if (wrc == XAI_OK && xai_array_count(&whole) == info.records * info.record_values &&
            memcmp(whole.data, buf, sizeof(float) * (size_t)xai_array_count(&whole)))
            abort();
        xai_array_free(&whole);
        for (int64_t i = info.records - 1; i >= 0 && i >= info.records - 64; i--) /* backward (gzip starts over) */
            if (xai_records_read(r, i, 1, buf, NULL, err, sizeof err) != XAI_OK) break;
    }
    free(buf);
    xai_records_close(r);
    return 0;
}
