/* safetensors: 8-byte little-endian header length N, N bytes of JSON, then the data section.
 *   {"__metadata__": {"k": "v"}, "fc1.weight": {"dtype": "F32", "shape": [10, 20], "data_offsets": [0, 800]}}
 * Weights files come from outside (downloads, training scripts), so everything is validated before a
 * single data pointer is handed out; this parser is also the libFuzzer target tests/fuzz/fuzz_safetensors.c.
 * The JSON itself is parsed by cJSON; numbers arrive as doubles, so integers are accepted only if
 * exactly representable (< 2^53), which no valid offset or dimension of a real file exceeds. */
#include "xairt.h"
#include "xairt_io.h"
#include "rt_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Element sizes of the dtypes the format defines. The ones xai_dtype has no name for map to
 * XAI_DT_OTHER but keep their size, so their data_offsets are still checked against the shape. */
static const struct {
    const char *name;
    xai_dtype dt;
    int size;
} dtypes[] = {
    { "F32", XAI_DT_F32, 4 },   { "F64", XAI_DT_F64, 8 },       { "F16", XAI_DT_F16, 2 },
    { "BF16", XAI_DT_BF16, 2 }, { "I64", XAI_DT_I64, 8 },       { "I32", XAI_DT_I32, 4 },
    { "I16", XAI_DT_I16, 2 },   { "I8", XAI_DT_I8, 1 },         { "U8", XAI_DT_U8, 1 },
    { "BOOL", XAI_DT_BOOL, 1 }, { "U16", XAI_DT_OTHER, 2 },     { "U32", XAI_DT_OTHER, 4 },
    { "U64", XAI_DT_OTHER, 8 }, { "F8_E4M3", XAI_DT_OTHER, 1 }, { "F8_E5M2", XAI_DT_OTHER, 1 },
};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

size_t xai_dtype_size(xai_dtype dt)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtypes[i].dt == dt && dt != XAI_DT_OTHER) return (size_t)dtypes[i].size;
    return 0;
}

#define MAX_EXACT 9007199254740992.0 /* 2^53 */

/* A non-negative integer from a JSON number; NULL on success, else what is wrong with it. */
static const char *get_uint(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item)) return "is not a number";
    double d = item->valuedouble;
    if (!isfinite(d) || d != floor(d)) return "is not an integer";
    if (d < 0) return "is negative";
    if (d >= MAX_EXACT) return "is too large";
    *out = (uint64_t)d;
    return NULL;
}

static int cmp_offset(const void *a, const void *b)
{
    const xai_st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_name_ptr(const void *a, const void *b)
{
    return strcmp((*(const xai_st_tensor *const *)a)->name, (*(const xai_st_tensor *const *)b)->name);
}

/* Validates one tensor entry into t (t->name already set); on failure writes the message. */
static int parse_tensor(const cJSON *e, xai_st_tensor *t, uint64_t data_len, const char *label, char *err,
                        size_t errlen)
{
    const char *nm = t->name;
    if (!cJSON_IsObject(e))
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: tensor '%.64s' is not a JSON object", label, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    const char *missing = !dt ? "dtype" : !shape ? "shape" : !offs ? "data_offsets" : NULL;
    if (missing) return xai_fail(err, errlen, XAI_EFORMAT, "%s: tensor '%.64s' has no '%s'", label, nm, missing);

    if (!cJSON_IsString(dt))
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: tensor '%.64s': 'dtype' is not a string", label, nm);
    if (strlen(dt->valuestring) >= sizeof t->dtype_name)
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: tensor '%.64s': dtype '%.20s...' is too long", label, nm,
                        dt->valuestring);
    strcpy(t->dtype_name, dt->valuestring);
    int esize = 0;
    t->dtype = XAI_DT_OTHER;
    for (size_t i = 0; i < N_DTYPES; i++)
        if (!strcmp(dtypes[i].name, t->dtype_name)) {
            t->dtype = dtypes[i].dt;
            esize = dtypes[i].size;
        }

    if (!cJSON_IsArray(shape))
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: tensor '%.64s': 'shape' is not an array", label, nm);
    int rank = cJSON_GetArraySize(shape);
    if (rank > 8) return xai_fail(err, errlen, XAI_EFORMAT, "%s: tensor '%.64s': rank %d exceeds 8", label, nm, rank);
    t->rank = rank;
    int i = 0;
    for (const cJSON *d = shape->child; d; d = d->next, i++) {
        uint64_t v;
        const char *why = get_uint(d, &v);
        if (why) return xai_fail(err, errlen, XAI_EFORMAT, "%s: tensor '%.64s': shape[%d] %s", label, nm, i, why);
        t->shape[i] = (int64_t)v;
    }

    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: tensor '%.64s': 'data_offsets' is not an array [begin, end]",
                        label, nm);
    const char *why = get_uint(offs->child, &t->begin);
    if (why) return xai_fail(err, errlen, XAI_EFORMAT, "%s: tensor '%.64s': data_offsets begin %s", label, nm, why);
    why = get_uint(offs->child->next, &t->end);
    if (why) return xai_fail(err, errlen, XAI_EFORMAT, "%s: tensor '%.64s': data_offsets end %s", label, nm, why);
    if (t->end < t->begin)
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: tensor '%.64s': data_offsets [%llu, %llu] end before they begin",
                        label, nm, (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > data_len)
        return xai_fail(err, errlen, XAI_EFORMAT,
                        "%s: tensor '%.64s': data_offsets [%llu, %llu] extend beyond the data section (%llu bytes)",
                        label, nm, (unsigned long long)t->begin, (unsigned long long)t->end,
                        (unsigned long long)data_len);

    char shp[128];
    xai_format_shape(shp, sizeof shp, t->shape, rank);
    /* Unknown dtypes have no size: only the element count must not overflow. */
    int64_t bytes = xai_checked_bytes(t->shape, rank, esize ? esize : 1);
    if (bytes < 0)
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: tensor '%.64s': shape %s of %s overflows", label, nm, shp,
                        t->dtype_name);
    if (esize && (uint64_t)bytes != t->end - t->begin)
        return xai_fail(err, errlen, XAI_EFORMAT,
                        "%s: tensor '%.64s' data_offsets [%llu, %llu] do not match shape %s of %s (%lld bytes)", label,
                        nm, (unsigned long long)t->begin, (unsigned long long)t->end, shp, t->dtype_name,
                        (long long)bytes);
    return XAI_OK;
}

static int check_metadata(const cJSON *m, const char *label, char *err, size_t errlen)
{
    if (!cJSON_IsObject(m)) return xai_fail(err, errlen, XAI_EFORMAT, "%s: '__metadata__' is not a JSON object", label);
    for (const cJSON *e = m->child; e; e = e->next)
        if (!cJSON_IsString(e))
            return xai_fail(err, errlen, XAI_EFORMAT, "%s: '__metadata__' value '%.64s' is not a string", label,
                            e->string);
    return XAI_OK;
}

/* The JSON walk; st->buffer/size/header_len/data_offset are already set. */
static int parse_header(xai_safetensors *st, const char *label, char *err, size_t errlen)
{
    size_t hlen = (size_t)st->header_len;
    char *text = malloc(hlen + 1); /* cJSON needs a NUL-terminated string; the file has none */
    if (!text) return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory for a %zu-byte header", label, hlen);
    memcpy(text, st->buffer + 8, hlen);
    text[hlen] = 0;
    if (memchr(text, 0, hlen)) {
        free(text);
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: header contains a NUL byte", label);
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1); /* 1: nothing but whitespace may follow */
    if (!root) {
        long at = end ? (long)(end - text) : -1;
        free(text);
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: header is not valid JSON (error at byte %ld of %zu)", label, at,
                        hlen);
    }
    free(text);

    int rc = XAI_OK;
    if (!cJSON_IsObject(root)) {
        rc = xai_fail(err, errlen, XAI_EFORMAT, "%s: header is not a JSON object", label);
        goto done;
    }
    int n = 0;
    for (const cJSON *e = root->child; e; e = e->next) n += strcmp(e->string, "__metadata__") != 0;
    if (n && !(st->tensors = calloc((size_t)n, sizeof *st->tensors))) {
        rc = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory for %d tensors", label, n);
        goto done;
    }
    uint64_t data_len = st->size - st->data_offset;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            if ((rc = check_metadata(e, label, err, errlen)) != XAI_OK) goto done;
            continue;
        }
        xai_st_tensor *t = &st->tensors[st->n_tensors];
        if (!(t->name = strdup(e->string))) {
            rc = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", label);
            goto done;
        }
        st->n_tensors++; /* counted now so that close() frees the name on any later failure */
        if ((rc = parse_tensor(e, t, data_len, label, err, errlen)) != XAI_OK) goto done;
        t->data = st->buffer + st->data_offset + t->begin;
    }
    if (n == 0) goto done;

    /* Duplicate keys are legal JSON (cJSON keeps both) but make a lookup by name ambiguous. */
    const xai_st_tensor **by_name = malloc((size_t)n * sizeof *by_name);
    if (!by_name) {
        rc = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", label);
        goto done;
    }
    for (int i = 0; i < n; i++) by_name[i] = &st->tensors[i];
    qsort(by_name, (size_t)n, sizeof *by_name, cmp_name_ptr);
    for (int i = 1; i < n && rc == XAI_OK; i++)
        if (!strcmp(by_name[i - 1]->name, by_name[i]->name))
            rc = xai_fail(err, errlen, XAI_EFORMAT, "%s: tensor '%.64s' appears twice", label, by_name[i]->name);
    free(by_name);
    if (rc != XAI_OK) goto done;

    /* Sorted by offset, a tensor overlaps an earlier one iff it begins before the largest end so far.
     * Empty tensors occupy no bytes and overlap nothing. */
    qsort(st->tensors, (size_t)n, sizeof *st->tensors, cmp_offset);
    const xai_st_tensor *last = NULL;
    for (int i = 0; i < n; i++) {
        const xai_st_tensor *t = &st->tensors[i];
        if (t->begin == t->end) continue;
        if (last && t->begin < last->end) {
            rc = xai_fail(err, errlen, XAI_EFORMAT,
                          "%s: tensors '%.64s' and '%.64s' overlap ([%llu, %llu] and [%llu, %llu])", label, last->name,
                          t->name, (unsigned long long)last->begin, (unsigned long long)last->end,
                          (unsigned long long)t->begin, (unsigned long long)t->end);
            goto done;
        }
        if (!last || t->end > last->end) last = t;
    }
done:
    cJSON_Delete(root);
    return rc;
}

/* mode: 0 borrow `buffer`, 1 copy it, 2 take ownership of it (malloc'd; freed even on failure). */
static int parse_impl(const void *buffer, size_t size, int mode, xai_safetensors *st, const char *label, char *err,
                      size_t errlen)
{
    memset(st, 0, sizeof *st);
    if (mode == 1) {
        if (!(st->buffer = malloc(size ? size : 1)))
            return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory for a copy of %zu bytes", label, size);
        if (size) memcpy(st->buffer, buffer, size);
    } else {
        st->buffer = (unsigned char *)buffer; /* read-only unless owned; never written through here */
        st->borrowed = mode == 0;
    }
    st->size = size;

    int rc;
    if (size < 8) {
        rc = xai_fail(err, errlen, XAI_EFORMAT, "%s: %zu bytes is too short for the 8-byte header length", label, size);
        goto fail;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | st->buffer[i];
    if (hlen > size - 8) {
        rc = xai_fail(err, errlen, XAI_EFORMAT, "%s: header length %llu exceeds file size %zu", label,
                      (unsigned long long)hlen, size);
        goto fail;
    }
    st->header_len = hlen;
    st->data_offset = 8 + (size_t)hlen;
    if ((rc = parse_header(st, label, err, errlen)) != XAI_OK) goto fail;
    return XAI_OK;
fail:
    xai_safetensors_close(st);
    return rc;
}

int xai_safetensors_parse(const void *buffer, size_t size, int copy, xai_safetensors *st, char *err, size_t errlen)
{
    if (!st || (!buffer && size))
        return xai_fail(err, errlen, XAI_ENULL, "xai_safetensors_parse: st or buffer is NULL");
    return parse_impl(buffer, size, copy ? 1 : 0, st, "safetensors buffer", err, errlen);
}

int xai_safetensors_open(const char *path, xai_safetensors *st, char *err, size_t errlen)
{
    if (!path || !st) return xai_fail(err, errlen, XAI_ENULL, "xai_safetensors_open: path or st is NULL");
    memset(st, 0, sizeof *st);
    unsigned char *buf;
    size_t size;
    int rc = xai_read_regular(path, 0, &buf, &size, err, errlen);
    if (rc != XAI_OK) return rc;
    return parse_impl(buf, size, 2, st, path, err, errlen);
}

const xai_st_tensor *xai_safetensors_find(const xai_safetensors *st, const char *name)
{
    if (!st || !name) return NULL;
    for (int i = 0; i < st->n_tensors; i++)
        if (!strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

void xai_safetensors_close(xai_safetensors *st)
{
    if (!st) return;
    for (int i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    free(st->tensors);
    if (!st->borrowed) free(st->buffer);
    memset(st, 0, sizeof *st);
}
