/* xai_array helpers, plus the overflow-checked size arithmetic the file readers rely on. */
#include "xairt.h"
#include "rt_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t xai_array_count(const xai_array *a)
{
    if (!a || a->rank < 0 || a->rank > 8) return 0;
    int64_t n = xai_checked_bytes(a->shape, a->rank, 1);
    return n < 0 ? 0 : n;
}

void xai_array_free(xai_array *a)
{
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

int64_t xai_checked_bytes(const int64_t *dims, int n, int64_t elem)
{
    int64_t total = elem;
    for (int i = 0; i < n; i++) {
        if (dims[i] < 0 || __builtin_mul_overflow(total, dims[i], &total)) return -1;
    }
    return total;
}

void xai_format_shape(char *buf, size_t len, const int64_t *dims, int n)
{
    size_t used = 0;
    int w = snprintf(buf, len, "[");
    for (int i = 0; i < n && w >= 0 && (used += (size_t)w) < len; i++)
        w = snprintf(buf + used, len - used, i ? ", %lld" : "%lld", (long long)dims[i]);
    if (w >= 0 && (used += (size_t)w) < len) snprintf(buf + used, len - used, "]");
}
