/* Private helpers shared by the runtime's source files (not installed, not part of the API). */
#ifndef XAIRT_INTERNAL_H
#define XAIRT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Hidden so the shared library exports only the xairt.h API. */
#define XAI_INTERNAL __attribute__((visibility("hidden")))

/* Formats a one-line message into err (if err != NULL && errlen > 0) and returns `status`, so that
 * error paths read `return xai_fail(err, errlen, XAI_EFORMAT, "%s: ...", path, ...);`. */
XAI_INTERNAL int xai_fail(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Product of n non-negative dimensions times `elem` bytes, or -1 if a dimension is negative or the
 * product does not fit in int64 (guards every allocation whose size comes from a file header). */
XAI_INTERNAL int64_t xai_checked_bytes(const int64_t *dims, int n, int64_t elem);

/* Formats a shape as "[2, 3]" into buf (truncated to fit). Used in messages. */
XAI_INTERNAL void xai_format_shape(char *buf, size_t len, const int64_t *dims, int n);

/* Philox4x32-10 on a full 128-bit counter and 64-bit key (rng.c; exposed for known-answer tests). */
XAI_INTERNAL void xai_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

#endif
