/* The policy of a compilation (docs/security.md), settings of the xaic process:
 * - with --root DIR (or XAIC_ROOT) every file xaic reads on behalf of a .xai file or a command (sources,
 *   imports, weights, data) must lie inside DIR, after symlinks are resolved; without a root any readable
 *   file may be read;
 * - weights holding NaN or infinity are refused unless --allow-nonfinite-weights says otherwise. */
#ifndef XAIC_POLICY_H
#define XAIC_POLICY_H

#include <stddef.h>

/* Sets the root (NULL: none). Returns 0, or -1 with a message in err when DIR is not a directory. */
int policy_set_root(const char *dir, char *err, size_t len);
const char *policy_root(void); /* the root's real path, or NULL */
/* 0 when `path` may be read; -1 with the reason in why (the path is outside the root, or does not exist). */
int policy_check_read(const char *path, char *why, size_t len);

/* Weights with NaN or infinity: refused (0, the default) or accepted (1). */
void policy_set_nonfinite_weights(int allowed);
int policy_nonfinite_weights(void);

#endif
