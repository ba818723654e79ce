/* Constants known at import time (ctensor) and the string map of value names. */
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

int ct_checked_count(const int64_t *dims, int rank, int64_t *count)
{
    int64_t n = 1;
    for (int k = 0; k < rank; k++) {
        if (dims[k] < 0) return -1;
        if (dims[k] && n > INT64_MAX / dims[k]) return -1;
        n *= dims[k];
    }
    *count = n;
    return 0;
}

ctensor *ct_new(imp *im, int is_float, int32_t onnx_type, int rank, const int64_t *dims, const char *why)
{
    int64_t count;
    if (rank < 0 || rank > CT_MAX_RANK || ct_checked_count(dims, rank, &count) || count > INT64_MAX / 16) {
        imp_fail(im, "%s: a constant of rank %d with these dimensions is too large", why, rank);
        return NULL;
    }
    ctensor *c = calloc(1, sizeof *c);
    if (!c) {
        imp_fail(im, "out of memory");
        return NULL;
    }
    c->is_float = is_float;
    c->onnx_type = onnx_type;
    c->rank = rank;
    if (rank) memcpy(c->dims, dims, (size_t)rank * sizeof *dims);
    c->count = count;
    size_t n = count ? (size_t)count : 1;
    if (is_float)
        c->f = calloc(n, sizeof *c->f);
    else
        c->i = calloc(n, sizeof *c->i);
    if (is_float ? !c->f : !c->i) {
        free(c);
        imp_fail(im, "%s: out of memory for a constant of %lld elements", why, (long long)count);
        return NULL;
    }
    c->next = im->tensors;
    im->tensors = c;
    return c;
}

void ct_free_all(imp *im)
{
    for (ctensor *c = im->tensors, *next; c; c = next) {
        next = c->next;
        free(c->f);
        free(c->i);
        free(c->sym);
        free(c->store_name);
        free(c);
    }
    im->tensors = NULL;
}

int ct_has_sym(const ctensor *c)
{
    if (!c->sym) return 0;
    for (int64_t k = 0; k < c->count; k++)
        if (c->sym[k] != SYM_KNOWN) return 1;
    return 0;
}

double ct_get(const ctensor *c, int64_t k) { return c->is_float ? (double)c->f[k] : (double)c->i[k]; }

int ct_scalar(const ctensor *c, double *out)
{
    if (c->count != 1 || ct_has_sym(c)) return -1;
    *out = ct_get(c, 0);
    return 0;
}

int ct_int_values(imp *im, int node, const ctensor *c, const char *what, int64_t *out, int max, int *n)
{
    if (c->is_float) return node_fail(im, node, "%s must be integers, not %s", what, onnx_type_name(c->onnx_type));
    if (c->rank > 1) return node_fail(im, node, "%s must be a list (rank 1), not of rank %d", what, c->rank);
    if (c->count > max) return node_fail(im, node, "%s has %lld values, more than %d", what, (long long)c->count, max);
    if (ct_has_sym(c)) return node_fail(im, node, "%s depends on the batch size, which xaic keeps dynamic", what);
    for (int64_t k = 0; k < c->count; k++) out[k] = c->i[k];
    *n = (int)c->count;
    return 0;
}

static ctensor *ct_named(imp *im, ctensor *c, const char *store_name)
{
    if (c && store_name && !(c->store_name = strdup(store_name))) {
        imp_fail(im, "out of memory");
        return NULL;
    }
    return c;
}

ctensor *ct_float_copy(imp *im, const ctensor *c, const char *store_name)
{
    ctensor *r = ct_new(im, 1, OT_FLOAT, c->rank, c->dims, store_name);
    if (!r) return NULL;
    for (int64_t k = 0; k < c->count; k++) r->f[k] = (float)ct_get(c, k);
    return ct_named(im, r, store_name);
}

ctensor *ct_transpose2d(imp *im, const ctensor *c, const char *store_name)
{
    int64_t dims[2] = { c->dims[1], c->dims[0] };
    ctensor *r = ct_new(im, 1, OT_FLOAT, 2, dims, store_name);
    if (!r) return NULL;
    for (int64_t a = 0; a < c->dims[0]; a++)
        for (int64_t b = 0; b < c->dims[1]; b++) r->f[b * c->dims[0] + a] = (float)ct_get(c, a * c->dims[1] + b);
    return ct_named(im, r, store_name);
}

const char *ct_param_name(imp *im, ctensor *c, const char *fallback)
{
    if (!c->store_name && !(c->store_name = strdup(fallback))) {
        imp_fail(im, "out of memory");
        return NULL;
    }
    return c->store_name;
}

/* ---- open-addressing string map (FNV-1a) ---- */

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int map_grow(str_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    char **keys = calloc(cap, sizeof *keys);
    int *vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t h = hash_str(m->keys[i]) & (cap - 1);
        while (keys[h]) h = (h + 1) & (cap - 1);
        keys[h] = m->keys[i];
        vals[h] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

int str_map_put(str_map *m, const char *key, int val)
{
    if ((m->n + 1) * 2 > m->cap && map_grow(m)) return -1;
    size_t h = hash_str(key) & (m->cap - 1);
    while (m->keys[h]) {
        if (!strcmp(m->keys[h], key)) {
            m->vals[h] = val;
            return 0;
        }
        h = (h + 1) & (m->cap - 1);
    }
    if (!(m->keys[h] = strdup(key))) return -1;
    m->vals[h] = val;
    m->n++;
    return 0;
}

int str_map_get(const str_map *m, const char *key)
{
    if (!m->cap) return -1;
    size_t h = hash_str(key) & (m->cap - 1);
    while (m->keys[h]) {
        if (!strcmp(m->keys[h], key)) return m->vals[h];
        h = (h + 1) & (m->cap - 1);
    }
    return -1;
}

void str_map_free(str_map *m)
{
    for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}
