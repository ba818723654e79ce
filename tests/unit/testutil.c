#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "testutil.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];

static void remove_tmpdir(void)
{
    if (!tmpdir[0]) return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) { /* best effort */
    }
}

const char *tu_tmpdir(void)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/xaic-test-XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            abort();
        }
        atexit(remove_tmpdir);
    }
    return tmpdir;
}

char *tu_write_temp(const char *name, const void *data, size_t len)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", tu_tmpdir(), name) < 0) abort();
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        abort();
    }
    if (len && fwrite(data, 1, len, f) != len) abort();
    fclose(f);
    return path;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    fclose(f);
    if (len) *len = (size_t)n;
    return buf;
}

int tu_run(const char *cmd, char **output)
{
    char *full = NULL;
    if (asprintf(&full, "(%s) 2>&1", cmd) < 0) abort();
    FILE *p = popen(full, "r");
    free(full);
    if (!p) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    int st = pclose(p);
    if (output)
        *output = buf;
    else
        free(buf);
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

char *tu_write_weights(const char *file, const tu_tensor *t, int n)
{
    char header[4096];
    size_t used = snprintf(header, sizeof header, "{");
    int64_t offset = 0;
    for (int i = 0; i < n; i++) {
        int64_t count = 1;
        used += snprintf(header + used, sizeof header - used, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", i ? "," : "",
                         t[i].name);
        for (int k = 0; k < t[i].rank; k++) {
            used += snprintf(header + used, sizeof header - used, "%s%lld", k ? "," : "", (long long)t[i].shape[k]);
            count *= t[i].shape[k];
        }
        used += snprintf(header + used, sizeof header - used, "],\"data_offsets\":[%lld,%lld]}", (long long)offset,
                         (long long)(offset + 4 * count));
        offset += 4 * count;
    }
    used += snprintf(header + used, sizeof header - used, "}");
    while (used % 8) header[used++] = ' ';
    size_t total = 8 + used + offset;
    unsigned char *bytes = malloc(total);
    uint64_t len = used;
    memcpy(bytes, &len, 8);
    memcpy(bytes + 8, header, used);
    size_t at = 8 + used;
    for (int i = 0; i < n; i++) {
        int64_t count = 1;
        for (int k = 0; k < t[i].rank; k++) count *= t[i].shape[k];
        memcpy(bytes + at, t[i].data, 4 * count);
        at += 4 * count;
    }
    char *path = tu_write_temp(file, bytes, total);
    free(bytes);
    return path;
}
