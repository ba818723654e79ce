/* Sets of image files (xai_image_list_*, declared in xairt.h): a directory's PNG and JPEG files, or a list file
 * naming them one per line with an optional class. The names live in one buffer (a million names cost their
 * length plus 12 bytes each); images are opened only when read. */
#include "xairt.h"
#include "xairt_io.h"
#include "rt_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_IMAGES (1ll << 31) /* records are counted in int64, batches in int32: keep every index representable */

typedef struct names {
    char *text;
    size_t used, cap;
    int64_t *offset;
    int32_t *labels;
    int64_t count, cap_count;
} names;

static int add_name(names *n, const char *s, size_t len, int32_t label)
{
    if (n->count == MAX_IMAGES) return XAI_EARG;
    if (n->used + len + 1 > n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 4096;
        while (cap < n->used + len + 1) cap *= 2;
        char *t = realloc(n->text, cap);
        if (!t) return XAI_ENOMEM;
        n->text = t;
        n->cap = cap;
    }
    if (n->count == n->cap_count) {
        int64_t cap = n->cap_count ? n->cap_count * 2 : 256;
        int64_t *o = realloc(n->offset, sizeof(int64_t) * (size_t)cap);
        if (o) n->offset = o;
        int32_t *l = o ? realloc(n->labels, sizeof(int32_t) * (size_t)cap) : NULL;
        if (!l) return XAI_ENOMEM;
        n->labels = l;
        n->cap_count = cap;
    }
    memcpy(n->text + n->used, s, len);
    n->text[n->used + len] = 0;
    n->offset[n->count] = (int64_t)n->used;
    n->labels[n->count++] = label;
    n->used += len + 1;
    return XAI_OK;
}

static int has_image_suffix(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && (!strcasecmp(name + n - 4, ".png") || !strcasecmp(name + n - 4, ".jpg"))) ||
        (n > 5 && !strcasecmp(name + n - 5, ".jpeg"));
}

static void names_free(names *n)
{
    free(n->text);
    free(n->offset);
    free(n->labels);
}

static void take(xai_image_list *out, names *n, char *dir, int has_labels)
{
    out->count = n->count;
    out->text = n->text;
    out->offset = n->offset;
    out->labels = has_labels ? n->labels : NULL;
    if (!has_labels) free(n->labels);
    out->dir = dir;
}

static int compare_names(const void *a, const void *b, void *text)
{
    return strcmp((const char *)text + *(const int64_t *)a, (const char *)text + *(const int64_t *)b);
}

static int read_directory(const char *path, xai_image_list *out, char *err, size_t errlen)
{
    DIR *d = opendir(path);
    if (!d) return xai_fail(err, errlen, XAI_EIO, "%s: cannot read the directory: %s", path, strerror(errno));
    names n = { 0 };
    int st = XAI_OK;
    struct dirent *e;
    errno = 0;
    while (st == XAI_OK && (e = readdir(d)))
        if (e->d_name[0] != '.' && has_image_suffix(e->d_name)) st = add_name(&n, e->d_name, strlen(e->d_name), -1);
    if (st == XAI_OK && errno)
        st = xai_fail(err, errlen, XAI_EIO, "%s: reading the directory: %s", path, strerror(errno));
    closedir(d);
    if (st == XAI_OK && !n.count)
        st = xai_fail(err, errlen, XAI_EARG, "%s: the directory holds no .png, .jpg or .jpeg file", path);
    else if (st == XAI_ENOMEM || st == XAI_EARG)
        st = xai_fail(err, errlen, st, "%s: %s", path, st == XAI_EARG ? "too many files" : "out of memory");
    char *dir = st == XAI_OK ? strdup(path) : NULL;
    if (st == XAI_OK && !dir) st = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", path);
    if (st) {
        names_free(&n);
        return st;
    }
    qsort_r(n.offset, (size_t)n.count, sizeof(int64_t), compare_names, n.text); /* a stable, documented order */
    take(out, &n, dir, 0);
    return XAI_OK;
}

/* A label: decimal digits only, at most 2^31 - 1; -1 if the token is not one. */
static int32_t parse_label(const char *s, size_t len)
{
    if (!len || len > 10) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v > INT32_MAX ? -1 : (int32_t)v;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

int xai_image_list_parse(const void *bytes, size_t size, const char *label, const char *base_dir, xai_image_list *out,
                         char *err, size_t errlen)
{
    if (!out || (!bytes && size)) return xai_fail(err, errlen, XAI_ENULL, "xai_image_list_parse: data or out is NULL");
    memset(out, 0, sizeof *out);
    if (!label) label = "image list";
    const char *s = bytes, *end = s + size;
    names n = { 0 };
    int st = XAI_OK, with_labels = -1; /* unknown until the first entry */
    int64_t line = 0;
    for (const char *p = s; p < end && st == XAI_OK; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        if (e > p && e[-1] == '\r') e--;
        while (p < e && is_space(*p)) p++;
        while (e > p && is_space(e[-1])) e--;
        if (p == e || *p == '#') { /* blank lines and comments */
            p = next;
            continue;
        }
        if (memchr(p, 0, (size_t)(e - p))) {
            st = xai_fail(err, errlen, XAI_EFORMAT, "%s:%lld: a NUL byte in the line", label, (long long)line + 1);
            break;
        }
        /* PATH, or PATH LABEL: the label is the last field when it is all digits and follows white space */
        const char *t = e;
        while (t > p && !is_space(t[-1])) t--;
        int32_t value = t > p ? parse_label(t, (size_t)(e - t)) : -1;
        const char *path_end = e;
        if (value >= 0) {
            path_end = t;
            while (path_end > p && is_space(path_end[-1])) path_end--;
        }
        if (with_labels < 0) with_labels = value >= 0;
        if (with_labels != (value >= 0)) {
            st = xai_fail(err, errlen, XAI_EFORMAT, "%s:%lld: %s; give a class on every line or on none", label,
                          (long long)line + 1,
                          with_labels ? "no class after the file name" : "a class here but not on the first entry");
            break;
        }
        st = add_name(&n, p, (size_t)(path_end - p), value);
        if (st)
            st = xai_fail(err, errlen, st, "%s:%lld: %s", label, (long long)line + 1,
                          st == XAI_EARG ? "too many images" : "out of memory");
        p = next;
    }
    if (st == XAI_OK && !n.count) st = xai_fail(err, errlen, XAI_EARG, "%s: the list names no image", label);
    char *dir = st == XAI_OK ? strdup(base_dir ? base_dir : ".") : NULL;
    if (st == XAI_OK && !dir) st = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", label);
    if (st) {
        names_free(&n);
        return st;
    }
    take(out, &n, dir, with_labels == 1);
    return XAI_OK;
}

int xai_image_list_open(const char *path, xai_image_list *out, char *err, size_t errlen)
{
    if (!path || !out) return xai_fail(err, errlen, XAI_ENULL, "xai_image_list_open: path or out is NULL");
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return read_directory(path, out, err, errlen);
    unsigned char *bytes;
    size_t size;
    int st = xai_read_regular(path, 0, &bytes, &size, err, errlen);
    if (st) return st;
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    st = dir ? xai_image_list_parse(bytes, size, path, dir, out, err, errlen)
             : xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", path);
    free(dir);
    free(bytes);
    return st;
}

int xai_image_list_path(const xai_image_list *l, int64_t i, char *buf, size_t len)
{
    if (!l || i < 0 || i >= l->count || !buf || !len) return XAI_EARG;
    const char *name = l->text + l->offset[i];
    int n = name[0] == '/' ? snprintf(buf, len, "%s", name) : snprintf(buf, len, "%s/%s", l->dir, name);
    return n < 0 || (size_t)n >= len ? XAI_EARG : XAI_OK;
}

void xai_image_list_free(xai_image_list *l)
{
    if (!l) return;
    free(l->text);
    free(l->offset);
    free(l->labels);
    free(l->dir);
    memset(l, 0, sizeof *l);
}
