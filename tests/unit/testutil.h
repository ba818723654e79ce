/* Helpers shared by the Criterion tests. */
#ifndef XAIC_TESTUTIL_H
#define XAIC_TESTUTIL_H
#include <stddef.h>

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
#endif
