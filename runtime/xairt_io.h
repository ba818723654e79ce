/* File helpers shared by the runtime's readers, the compiler (sources, imports, weights, data) and the
 * fuzz targets. Not installed and not part of the libxairt ABI: hidden in libxairt.so, linked from
 * xairt_static. Applications open their own files; these exist so that every reader of outside data in
 * the project refuses the same things with the same words. */
#ifndef XAIRT_IO_H
#define XAIRT_IO_H

#include "xairt.h"

#define XAI_IO_INTERNAL __attribute__((visibility("hidden")))

/* Opens `path` for reading only if it is a regular file, without ever blocking: the open uses O_NONBLOCK
 * (a FIFO would otherwise wait for a writer) and O_CLOEXEC, fstat decides, then O_NONBLOCK is cleared.
 * XAI_OK with *fd (the caller closes it), else XAI_EIO and one of
 *   "PATH: cannot open for reading: <strerror>"
 *   "'PATH' is a directory, not a regular file"
 *   "'PATH' is not a regular file (it is a FIFO | a character device | a block device | a socket)"
 * With XAI_FILE_DASH the path "-" is standard input, whatever it is (*fd is a dup of 0). */
XAI_IO_INTERNAL int xai_open_regular(const char *path, int flags, int *fd, char *err, size_t errlen);

/* The whole file, opened as above, read to its end: *data is malloc'd with a NUL byte after the last
 * one (text can be parsed in place), *size its length. XAI_ENOMEM if it does not fit in memory. */
XAI_IO_INTERNAL int xai_read_regular(const char *path, int flags, unsigned char **data, size_t *size, char *err,
                                     size_t errlen);

/* The readers of xairt.h on bytes already in memory (what the path readers call after xai_read_regular, and
 * what the fuzz targets drive); `label` stands for the file in messages (a path, "<stdin>"). Same results,
 * errors and messages as xai_npy_read, xai_png_read and xai_idx_read (IDX: plain, or gzip by its magic). */
XAI_IO_INTERNAL int xai_npy_parse(const void *data, size_t size, const char *label, int convert, xai_array *out,
                                  char *err, size_t errlen);
XAI_IO_INTERNAL int xai_png_parse(const void *data, size_t size, const char *label, int want_channels, xai_array *out,
                                  char *err, size_t errlen);
XAI_IO_INTERNAL int xai_idx_parse(const void *data, size_t size, const char *label, float scale, xai_array *out,
                                  char *err, size_t errlen);

XAI_IO_INTERNAL int xai_jpeg_parse(const void *data, size_t size, const char *label, int want_channels, xai_array *out,
                                   char *err, size_t errlen);

/* An image decoded to 8 bits: [height, width, channels] interleaved, channels 1 (gray) or 3 (RGB); pixels is
 * malloc'd. PNG: palette expanded, gray below 8 bits scaled up, 16 bits to the high byte, alpha dropped. */
typedef struct xai_image8 {
    unsigned char *pixels;
    int32_t width, height, channels;
} xai_image8;
XAI_IO_INTERNAL int xai_png_decode8(const void *data, size_t size, const char *label, xai_image8 *out, char *err,
                                    size_t errlen);
XAI_IO_INTERNAL int xai_jpeg_decode8(const void *data, size_t size, const char *label, xai_image8 *out, char *err,
                                     size_t errlen);
/* The version 1.0 '<f4' C-order header xai_npy_write writes (data 64-byte aligned) into out (at least
 * XAI_NPY_HEADER_MAX bytes); returns its length. Also what xaic writes before rows streamed to a device. */
#define XAI_NPY_HEADER_MAX 384
XAI_IO_INTERNAL size_t xai_npy_header_format(int32_t rank, const int64_t *shape, unsigned char *out);
/* xai_image_list_open on a list file's bytes; base_dir is what relative names are relative to. */
XAI_IO_INTERNAL int xai_image_list_parse(const void *data, size_t size, const char *label, const char *base_dir,
                                         xai_image_list *out, char *err, size_t errlen);

#endif
