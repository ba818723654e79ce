/* The compilation's policy: confining reads to a directory tree, accepting non-finite weights (policy.h). */
#include "policy.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *root; /* the compiler is one process per compilation: settings of the process */
static int nonfinite_weights;

int policy_set_root(const char *dir, char *err, size_t len)
{
    free(root);
    root = NULL;
    if (!dir || !*dir) return 0;
    struct stat st;
    char *real = realpath(dir, NULL);
    if (!real || stat(real, &st) || !S_ISDIR(st.st_mode)) {
        snprintf(err, len, "--root '%s' is not a directory%s%s", dir, real ? "" : ": ", real ? "" : strerror(errno));
        free(real);
        return -1;
    }
    root = real;
    return 0;
}

const char *policy_root(void) { return root; }

int policy_check_read(const char *path, char *why, size_t len)
{
    if (!root) return 0;
    char *real = realpath(path, NULL);
    if (!real) {
        snprintf(why, len, "%s", strerror(errno));
        return -1;
    }
    size_t n = strlen(root);
    int inside = !strncmp(real, root, n) && (real[n] == '/' || real[n] == 0 || (n == 1 && root[0] == '/'));
    if (!inside) snprintf(why, len, "it is outside the root directory %s (--root)", root);
    free(real);
    return inside ? 0 : -1;
}

void policy_set_nonfinite_weights(int allowed) { nonfinite_weights = allowed; }
int policy_nonfinite_weights(void) { return nonfinite_weights; }
