/* The data a job streams through a network (dataset.c): a .npy or IDX file of records, a directory of images, a
 * list file of images or one image, read a chunk at a time. Records that cannot be used (an image that does not
 * decode or has the wrong size, a record cut off by a truncated file, NaN or infinity) are errors naming the
 * file and the record, or, with --skip-bad, reported per record so the job can skip them. */
#ifndef XAIC_DATASET_H
#define XAIC_DATASET_H

#include "ir.h"
#include "xairt.h"

#define DATASET_REASON 320 /* bytes of one bad record's reason */

typedef struct dataset {
    char *path;
    int is_images;
    xai_records *records;
    xai_records_info info;
    xai_image_list list;
    xai_image_prep prep;
    int64_t count;  /* records */
    int64_t values; /* per record: the network input's */
    int skip_bad;
} dataset;

/* Opens `path` as the data of network `net` (records must hold the input's values; images are prepared as its
 * image(...) says). convert: as xai_npy_read (0: a .npy must be float32). 0, or 1 after a message. */
int dataset_open(dataset *ds, const char *path, const ir_graph *net, int convert, int skip_bad);
/* Reads records [first, first + n) into x (n * values floats). A bad record with skip_bad: its values are 0,
 * bad[i] = 1 and reasons[i] says why; without skip_bad: 1 after the message. Also 1 after a message when the
 * file itself fails. */
int dataset_read(dataset *ds, int64_t first, int32_t n, float *x, unsigned char *bad, char (*reasons)[DATASET_REASON]);
void dataset_close(dataset *ds);

/* What identifies the data for a resumed job: the path, and the file's size and time of last change (for a
 * directory or list: every name and class, hashed). Written into buf. */
void dataset_identity(const dataset *ds, char *buf, size_t len);

#endif
