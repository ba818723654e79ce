/* safetensors writer: the format runtime/safetensors.c reads, laid out as the reference (Python/Rust)
 * writer does: the JSON header (through cJSON) padded with spaces so that the data section starts at a
 * multiple of 8 bytes, then the tensors back to back without gaps, ordered by element size (largest
 * first) then name, so every tensor is aligned to its element size. Files are written through
 * xai_outfile (outfile.c): readers never see half a file. */
#include "xairt.h"
#include "rt_internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct st_plan {
    int n;
    int *order;       /* entries in file order */
    uint64_t *offset; /* per entry (by index), relative to the data section */
    uint64_t data_len;
    char *header; /* padded JSON, header_len bytes (not NUL-terminated in the file) */
    size_t header_len;
} st_plan;

typedef struct sort_key {
    size_t size;
    const char *name;
    int index;
} sort_key;

static int cmp_keys(const void *a, const void *b)
{
    const sort_key *x = a, *y = b;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    return strcmp(x->name, y->name);
}

static const char *dtype_name(xai_dtype dt)
{
    static const char *names[] = { "F32", "F64", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL" };
    return dt >= XAI_DT_F32 && dt < XAI_DT_OTHER ? names[dt] : NULL;
}

static void plan_free(st_plan *p)
{
    free(p->order);
    free(p->offset);
    free(p->header);
    memset(p, 0, sizeof *p);
}

/* Validates the entries and lays the file out. */
static int plan_file(const xai_st_entry *t, int n, const char *const *metadata, st_plan *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    if (n < 0 || (n > 0 && !t)) return xai_fail(err, errlen, XAI_ENULL, "safetensors: no tensors given");
    p->n = n;
    p->order = malloc((n ? (size_t)n : 1) * sizeof *p->order);
    p->offset = malloc((n ? (size_t)n : 1) * sizeof *p->offset);
    cJSON *root = cJSON_CreateObject();
    int rc = XAI_ENOMEM;
    if (!p->order || !p->offset || !root) goto fail;
    if (metadata && metadata[0]) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        if (!m) goto fail;
        for (int k = 0; metadata[k]; k += 2) {
            if (!metadata[k + 1]) {
                rc = xai_fail(err, errlen, XAI_EARG, "safetensors: metadata key '%.64s' has no value", metadata[k]);
                goto fail;
            }
            if (!cJSON_AddStringToObject(m, metadata[k], metadata[k + 1])) goto fail;
        }
    }
    for (int i = 0; i < n; i++) {
        const xai_st_entry *e = &t[i];
        p->order[i] = i;
        if (!e->name || !e->name[0] || !strcmp(e->name, "__metadata__")) {
            rc = xai_fail(err, errlen, XAI_EARG, "safetensors: tensor %d has no valid name", i);
            goto fail;
        }
        if (!dtype_name(e->dtype) || e->rank < 0 || e->rank > 8) {
            rc = xai_fail(err, errlen, XAI_EARG, "safetensors: tensor '%.64s': bad dtype or rank", e->name);
            goto fail;
        }
        if (xai_checked_bytes(e->shape, e->rank, (int64_t)xai_dtype_size(e->dtype)) < 0) {
            rc = xai_fail(err, errlen, XAI_EARG, "safetensors: tensor '%.64s': negative or overflowing shape", e->name);
            goto fail;
        }
    }
    sort_key *keys = malloc((n ? (size_t)n : 1) * sizeof *keys);
    if (!keys) goto fail;
    for (int i = 0; i < n; i++) keys[i] = (sort_key){ xai_dtype_size(t[i].dtype), t[i].name, i };
    qsort(keys, (size_t)n, sizeof *keys, cmp_keys);
    for (int i = 0; i < n; i++) p->order[i] = keys[i].index;
    free(keys);
    for (int i = 1; i < n; i++)
        if (!strcmp(t[p->order[i]].name, t[p->order[i - 1]].name)) {
            rc = xai_fail(err, errlen, XAI_EARG, "safetensors: tensor '%.64s' is given twice", t[p->order[i]].name);
            goto fail;
        }
    for (int i = 0; i < n; i++) {
        const xai_st_entry *e = &t[p->order[i]];
        uint64_t bytes = (uint64_t)xai_checked_bytes(e->shape, e->rank, (int64_t)xai_dtype_size(e->dtype));
        if (bytes && !e->data) {
            rc = xai_fail(err, errlen, XAI_ENULL, "safetensors: tensor '%.64s' has no data", e->name);
            goto fail;
        }
        if (bytes > (UINT64_MAX >> 2) - p->data_len) {
            rc = xai_fail(err, errlen, XAI_EARG, "safetensors: too large");
            goto fail;
        }
        p->offset[p->order[i]] = p->data_len;
        cJSON *o = cJSON_AddObjectToObject(root, e->name), *shape = o ? cJSON_AddArrayToObject(o, "shape") : NULL;
        if (!shape || !cJSON_AddStringToObject(o, "dtype", dtype_name(e->dtype))) goto fail;
        for (int d = 0; d < e->rank; d++)
            if (!cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)e->shape[d]))) goto fail;
        cJSON *offs = cJSON_AddArrayToObject(o, "data_offsets");
        if (!offs || !cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)p->data_len)) ||
            !cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(p->data_len + bytes))))
            goto fail;
        p->data_len += bytes;
    }
    char *json = cJSON_PrintUnformatted(root);
    if (!json) goto fail;
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    p->header = realloc(json, padded + 1);
    if (!p->header) {
        free(json);
        goto fail;
    }
    memset(p->header + len, ' ', padded - len);
    p->header_len = padded;
    cJSON_Delete(root);
    return XAI_OK;
fail:
    if (rc == XAI_ENOMEM) xai_fail(err, errlen, XAI_ENOMEM, "safetensors: out of memory");
    cJSON_Delete(root);
    plan_free(p);
    return rc;
}

static void put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

int xai_safetensors_serialize(const xai_st_entry *tensors, int n, const char *const *metadata, unsigned char **out,
                              size_t *size, char *err, size_t errlen)
{
    if (!out || !size) return xai_fail(err, errlen, XAI_ENULL, "safetensors: null output");
    *out = NULL;
    *size = 0;
    st_plan p;
    int rc = plan_file(tensors, n, metadata, &p, err, errlen);
    if (rc) return rc;
    size_t total = 8 + p.header_len + (size_t)p.data_len;
    unsigned char *b = malloc(total);
    if (!b) {
        plan_free(&p);
        return xai_fail(err, errlen, XAI_ENOMEM, "safetensors: out of memory for %zu bytes", total);
    }
    put_u64(b, p.header_len);
    memcpy(b + 8, p.header, p.header_len);
    for (int i = 0; i < n; i++) {
        const xai_st_entry *e = &tensors[i];
        size_t bytes = (size_t)xai_checked_bytes(e->shape, e->rank, (int64_t)xai_dtype_size(e->dtype));
        if (bytes) memcpy(b + 8 + p.header_len + p.offset[i], e->data, bytes);
    }
    plan_free(&p);
    *out = b;
    *size = total;
    return XAI_OK;
}

int xai_safetensors_write(const char *path, const xai_st_entry *tensors, int n, const char *const *metadata, char *err,
                          size_t errlen)
{
    if (!path) return xai_fail(err, errlen, XAI_ENULL, "safetensors: no path");
    st_plan p;
    int rc = plan_file(tensors, n, metadata, &p, err, errlen);
    if (rc) return rc;
    xai_outfile *out;
    rc = xai_outfile_open(&out, path, 0, err, errlen);
    if (rc) {
        plan_free(&p);
        return rc;
    }
    FILE *f = xai_outfile_stream(out);
    unsigned char len8[8];
    put_u64(len8, p.header_len);
    fwrite(len8, 1, 8, f);
    fwrite(p.header, 1, p.header_len, f);
    for (int i = 0; i < n; i++) { /* write errors surface at the commit */
        const xai_st_entry *e = &tensors[p.order[i]];
        size_t bytes = (size_t)xai_checked_bytes(e->shape, e->rank, (int64_t)xai_dtype_size(e->dtype));
        if (bytes) fwrite(e->data, 1, bytes, f);
    }
    plan_free(&p);
    return xai_outfile_commit(out, err, errlen);
}
