/* Checks shared by the runtime reader fuzz targets; any violation aborts, which libFuzzer reports as a crash
 * with the input saved. */
#ifndef XAIC_FUZZ_COMMON_H
#define XAIC_FUZZ_COMMON_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xairt.h"

/* After a failure: a status, a one-line message, and nothing handed out. */
static inline void fuzz_check_failure(int rc, const char *err, const xai_array *a)
{
    if (rc == XAI_OK || !err[0] || strchr(err, '\n') || a->data || a->rank) abort();
}

/* After a success: a sane shape whose element count is what the data holds (every element is read, so
 * AddressSanitizer checks the buffer really is that long). Returns the count. */
static inline int64_t fuzz_check_array(const xai_array *a)
{
    if (!a->data || a->rank < 0 || a->rank > 8) abort();
    int64_t n = 1;
    for (int i = 0; i < a->rank; i++) {
        if (a->shape[i] < 0 || __builtin_mul_overflow(n, a->shape[i], &n)) abort();
    }
    if (n != xai_array_count(a)) abort();
    volatile float sink = 0;
    for (int64_t i = 0; i < n; i++) sink += a->data[i];
    (void)sink;
    return n;
}

#endif
