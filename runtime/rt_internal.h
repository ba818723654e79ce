/* Private helpers shared by the runtime's source files (not installed, not part of the API). */
#ifndef XAIRT_INTERNAL_H
#define XAIRT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "xairt_io.h" /* xai_npy_header_format */

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

/* ---- .npy pieces shared by npy.c, the record reader (records.c) and the sized writer (npy_sized.c) ---- */
typedef struct xai_npy_layout {
    int32_t rank;
    int64_t shape[8];
    char descr[32];
    char kind;            /* 'f', 'i', 'u' */
    int size, big;        /* bytes per element; big-endian */
    uint64_t data_offset; /* bytes before the data (preamble + header) */
} xai_npy_layout;

/* The header dict (hdr, hlen bytes) checked as xai_npy_read checks it (dtype, convert, C order); fills l but
 * its data_offset. */
XAI_INTERNAL int xai_npy_describe(const char *hdr, size_t hlen, const char *label, int convert, xai_npy_layout *l,
                                  char *err, size_t errlen);
/* Preamble and header from the first `avail` bytes of a file; the data size is the caller's to check. */
XAI_INTERNAL int xai_npy_layout_parse(const unsigned char *bytes, size_t avail, const char *label, int convert,
                                      xai_npy_layout *l, char *err, size_t errlen);
/* count elements of l's dtype at src as float32 */
XAI_INTERNAL void xai_npy_convert(const unsigned char *src, const xai_npy_layout *l, int64_t count, float *dst);

/* IDX element types (idx.c): bytes per element (0: unknown type), and one big-endian element as float32
 * (uint8 times scale; the other types as they are) */
XAI_INTERNAL int xai_idx_elem_size(int type);
XAI_INTERNAL float xai_idx_convert(const unsigned char *p, int type, float scale);

/* Sliding-window pixel flipping (metrics_windows.c): scratch for one height x width image (NULL if out of
 * memory), and one step of the seed's find_roi: picks the window from rel [rel_channels, H, W] by `order`
 * (XAI_FLIP_*) among those touching no pixel flagged in removed [H * W], flags its pixels and returns its
 * top-left index row * W + col; -1 (nothing flagged) if the relevance is not finite. */
typedef struct xai_window_scratch xai_window_scratch;
XAI_INTERNAL xai_window_scratch *xai_window_scratch_new(int32_t height, int32_t width);
XAI_INTERNAL void xai_window_scratch_free(xai_window_scratch *s);
XAI_INTERNAL int32_t xai_window_choose(xai_window_scratch *s, const float *rel, int32_t rel_channels, int32_t patch,
                                       int32_t order, unsigned char *removed);

#endif
