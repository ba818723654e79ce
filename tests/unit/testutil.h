/* Helpers shared by the Criterion tests. */
#ifndef XAIC_TESTUTIL_H
#define XAIC_TESTUTIL_H
#include <stddef.h>
#include <stdint.h>

/* Runs a shell command, captures stdout+stderr (malloc'd, NUL-terminated) and returns the exit status
 * (-1 if it could not be run or was killed by a signal). */
int tu_run(const char *cmd, char **output);
/* Writes `text` to a fresh file under a per-process temporary directory and returns its path (static
 * storage per call site is not assumed: the string is malloc'd). */
char *tu_write_temp(const char *name, const void *data, size_t len);
/* The per-process temporary directory (created on first use, removed at exit). */
const char *tu_tmpdir(void);
/* Reads a whole file (malloc'd, NUL-terminated); NULL if it cannot be read. */
char *tu_read_file(const char *path, size_t *len);
/* A safetensors file of F32 tensors (written by hand here: the tests' own writer, independent of the
 * runtime's) under the temporary directory; returns its path (malloc'd). */
typedef struct tu_tensor {
    const char *name;
    int rank;
    int64_t shape[4];
    const float *data;
} tu_tensor;
char *tu_write_weights(const char *file, const tu_tensor *t, int n);
#endif
