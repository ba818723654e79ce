/* .npy read/write (NumPy format versions 1.0, 2.0, 3.0).
 * Layout: "\x93NUMPY" major minor, header length (2 bytes LE for 1.x, 4 bytes LE for 2.x/3.x), then a
 * Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces
 * and a newline, then the raw data. The dict is parsed by a small recursive-descent reader rather
 * than by matching numpy's exact spelling, because other writers order keys and space differently. */
#include "xairt.h"
#include "xairt_io.h"
#include "rt_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAGIC      "\x93NUMPY"
#define NPY_MAX_HEADER (1u << 20) /* numpy itself refuses headers over 10 kB; be generous */

/* ---- the header dict ---- */

typedef struct {
    const char *s, *p, *end;
    char descr[32];
    int fortran;
    int rank;
    int64_t shape[8];
    char msg[160]; /* what went wrong, without the file name */
} npy_header;

static void skip_ws(npy_header *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}

static int expect(npy_header *h, char c)
{
    skip_ws(h);
    if (h->p < h->end && *h->p == c) {
        h->p++;
        return 1;
    }
    snprintf(h->msg, sizeof h->msg, "header: expected '%c' at offset %d", c, (int)(h->p - h->s));
    return 0;
}

static int peek(npy_header *h, char c)
{
    skip_ws(h);
    return h->p < h->end && *h->p == c;
}

/* A quoted string without escapes (keys and dtype strings never need them). */
static int parse_string(npy_header *h, char *out, size_t outlen)
{
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) {
        snprintf(h->msg, sizeof h->msg, "header: expected a string at offset %d", (int)(h->p - h->s));
        return 0;
    }
    char q = *h->p++;
    const char *start = h->p;
    while (h->p < h->end && *h->p != q && *h->p != '\\') h->p++;
    if (h->p >= h->end || *h->p != q) {
        snprintf(h->msg, sizeof h->msg, "header: unterminated string at offset %d", (int)(start - 1 - h->s));
        return 0;
    }
    size_t n = (size_t)(h->p - start);
    h->p++;
    if (n >= outlen) {
        snprintf(h->msg, sizeof h->msg, "header: string at offset %d is too long", (int)(start - 1 - h->s));
        return 0;
    }
    memcpy(out, start, n);
    out[n] = 0;
    return 1;
}

static int parse_bool(npy_header *h, int *out)
{
    skip_ws(h);
    size_t left = (size_t)(h->end - h->p);
    if (left >= 4 && !memcmp(h->p, "True", 4)) {
        h->p += 4;
        *out = 1;
        return 1;
    }
    if (left >= 5 && !memcmp(h->p, "False", 5)) {
        h->p += 5;
        *out = 0;
        return 1;
    }
    snprintf(h->msg, sizeof h->msg, "header: 'fortran_order' is not True or False");
    return 0;
}

/* (), (5,), (2, 3), (2,3,) ... Non-negative decimal integers, at most 8 of them. */
static int parse_shape(npy_header *h)
{
    if (!expect(h, '(')) {
        snprintf(h->msg, sizeof h->msg, "header: 'shape' is not a tuple");
        return 0;
    }
    h->rank = 0;
    while (!peek(h, ')')) {
        if (h->rank == 8) {
            snprintf(h->msg, sizeof h->msg, "header: shape has more than 8 dimensions");
            return 0;
        }
        skip_ws(h);
        int64_t v = 0;
        const char *start = h->p;
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *h->p - '0', &v)) {
                snprintf(h->msg, sizeof h->msg, "header: shape dimension %d is too large", h->rank);
                return 0;
            }
            h->p++;
        }
        if (h->p == start) {
            snprintf(h->msg, sizeof h->msg, "header: shape dimension %d is not a non-negative integer", h->rank);
            return 0;
        }
        if (h->p < h->end && *h->p == 'L') h->p++; /* Python 2 long literal */
        h->shape[h->rank++] = v;
        if (peek(h, ','))
            h->p++;
        else if (!peek(h, ')')) {
            expect(h, ')');
            return 0;
        }
    }
    h->p++;
    return 1;
}

static int parse_header(npy_header *h)
{
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
    if (!expect(h, '{')) return 0;
    while (!peek(h, '}')) {
        char key[32];
        if (!parse_string(h, key, sizeof key) || !expect(h, ':')) return 0;
        int *seen;
        int ok;
        if (!strcmp(key, "descr")) {
            seen = &seen_descr;
            skip_ws(h);
            if (h->p < h->end && *h->p == '[') {
                snprintf(h->msg, sizeof h->msg, "structured dtypes are not supported");
                return 0;
            }
            ok = parse_string(h, h->descr, sizeof h->descr);
        } else if (!strcmp(key, "fortran_order")) {
            seen = &seen_fortran;
            ok = parse_bool(h, &h->fortran);
        } else if (!strcmp(key, "shape")) {
            seen = &seen_shape;
            ok = parse_shape(h);
        } else {
            snprintf(h->msg, sizeof h->msg, "header: unexpected key '%s'", key);
            return 0;
        }
        if (!ok) return 0;
        if ((*seen)++) {
            snprintf(h->msg, sizeof h->msg, "header: key '%s' appears twice", key);
            return 0;
        }
        if (peek(h, ','))
            h->p++;
        else if (!peek(h, '}')) {
            expect(h, '}');
            return 0;
        }
    }
    h->p++;
    skip_ws(h);
    if (h->p != h->end) {
        snprintf(h->msg, sizeof h->msg, "header: unexpected text after the dict at offset %d", (int)(h->p - h->s));
        return 0;
    }
    const char *missing = !seen_descr ? "descr" : !seen_fortran ? "fortran_order" : !seen_shape ? "shape" : NULL;
    if (missing) {
        snprintf(h->msg, sizeof h->msg, "header: key '%s' is missing", missing);
        return 0;
    }
    return 1;
}

/* ---- element types ---- */

typedef struct {
    char kind; /* 'f', 'i', 'u' */
    int size;  /* bytes */
    int big;   /* big-endian */
} npy_dtype;

static int host_is_big(void) { return __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__; }

/* "<f4", ">i8", "|u1", "=f8" ... -> kind/size/endianness; 0 if the dtype is not a plain number. */
static int parse_dtype(const char *d, npy_dtype *t)
{
    if (strlen(d) != 3 || !strchr("<>|=", d[0]) || !strchr("fiu", d[1])) return 0;
    t->kind = d[1];
    t->size = d[2] - '0';
    t->big = d[0] == '>' || (d[0] == '=' && host_is_big());
    if (d[0] == '|' && t->size != 1) return 0; /* '|' (byte order irrelevant) only for single bytes */
    if (t->kind == 'f') return t->size == 4 || t->size == 8;
    return t->size == 1 || t->size == 2 || t->size == 4 || t->size == 8;
}

static float load_elem(const unsigned char *src, const npy_dtype *t)
{
    unsigned char b[8];
    /* Put the bytes in host order, then reinterpret through memcpy (no aliasing or alignment UB). */
    for (int i = 0; i < t->size; i++) b[i] = src[t->big != host_is_big() ? t->size - 1 - i : i];
    switch (t->kind * 16 + t->size) {
    case 'f' * 16 + 4: {
        float v;
        memcpy(&v, b, 4);
        return v;
    }
    case 'f' * 16 + 8: {
        double v;
        memcpy(&v, b, 8);
        return (float)v;
    }
    case 'i' * 16 + 1: return (float)(int8_t)b[0];
    case 'i' * 16 + 2: {
        int16_t v;
        memcpy(&v, b, 2);
        return (float)v;
    }
    case 'i' * 16 + 4: {
        int32_t v;
        memcpy(&v, b, 4);
        return (float)v;
    }
    case 'i' * 16 + 8: {
        int64_t v;
        memcpy(&v, b, 8);
        return (float)v;
    }
    case 'u' * 16 + 1: return (float)b[0];
    case 'u' * 16 + 2: {
        uint16_t v;
        memcpy(&v, b, 2);
        return (float)v;
    }
    case 'u' * 16 + 4: {
        uint32_t v;
        memcpy(&v, b, 4);
        return (float)v;
    }
    default: {
        uint64_t v;
        memcpy(&v, b, 8);
        return (float)v;
    }
    }
}

/* ---- the parts the record reader (records.c) and the sized writer (npy_sized.c) share ---- */

int xai_npy_describe(const char *hdr, size_t hlen, const char *label, int convert, xai_npy_layout *l, char *err,
                     size_t errlen)
{
    npy_header h = { .s = hdr, .p = hdr, .end = hdr + hlen };
    if (!parse_header(&h))
        return xai_fail(err, errlen, strstr(h.msg, "dtype") ? XAI_EDTYPE : XAI_EFORMAT, "%s: %s", label, h.msg);
    npy_dtype t;
    if (!parse_dtype(h.descr, &t))
        return xai_fail(err, errlen, XAI_EDTYPE, "%s: unsupported dtype '%s'", label, h.descr);
    int native_f32 = t.kind == 'f' && t.size == 4 && !t.big;
    if (!native_f32 && !convert)
        return xai_fail(err, errlen, XAI_EDTYPE, "%s: dtype '%s' is not float32 (convert is off)", label, h.descr);
    if (h.fortran)
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: fortran_order is True (only C order is supported)", label);
    memset(l, 0, sizeof *l);
    l->rank = h.rank;
    memcpy(l->shape, h.shape, sizeof h.shape);
    memcpy(l->descr, h.descr, sizeof h.descr);
    l->kind = t.kind;
    l->size = t.size;
    l->big = t.big;
    return XAI_OK;
}

int xai_npy_layout_parse(const unsigned char *bytes, size_t avail, const char *label, int convert, xai_npy_layout *l,
                         char *err, size_t errlen)
{
    if (avail < 10 || memcmp(bytes, NPY_MAGIC, 6) != 0)
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: not a .npy file (%s)", label,
                        avail < 10 ? "too short" : "bad magic");
    int major = bytes[6], minor = bytes[7];
    uint64_t hlen, prelen;
    if (major == 1) {
        hlen = bytes[8] | (uint64_t)bytes[9] << 8;
        prelen = 10;
    } else if (major == 2 || major == 3) {
        if (avail < 12) return xai_fail(err, errlen, XAI_EFORMAT, "%s: truncated header", label);
        hlen = bytes[8] | (uint64_t)bytes[9] << 8 | (uint64_t)bytes[10] << 16 | (uint64_t)bytes[11] << 24;
        prelen = 12;
    } else {
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: unsupported .npy version %d.%d", label, major, minor);
    }
    if (hlen > NPY_MAX_HEADER)
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: header length %llu exceeds the %u-byte limit", label,
                        (unsigned long long)hlen, NPY_MAX_HEADER);
    if (prelen + hlen > avail)
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: header length %llu exceeds file size %llu", label,
                        (unsigned long long)hlen, (unsigned long long)avail);
    char *hdr = malloc(hlen + 1);
    if (!hdr) return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", label);
    memcpy(hdr, bytes + prelen, hlen);
    hdr[hlen] = 0;
    int st = xai_npy_describe(hdr, hlen, label, convert, l, err, errlen);
    free(hdr);
    l->data_offset = prelen + hlen;
    return st;
}

void xai_npy_convert(const unsigned char *src, const xai_npy_layout *l, int64_t count, float *dst)
{
    npy_dtype t = { l->kind, l->size, l->big };
    if (t.kind == 'f' && t.size == 4 && t.big == host_is_big()) {
        memcpy(dst, src, sizeof(float) * (size_t)count);
        return;
    }
    for (int64_t i = 0; i < count; i++) dst[i] = load_elem(src + i * t.size, &t);
}

size_t xai_npy_header_format(int32_t rank, const int64_t *shape, unsigned char *out)
{
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < rank; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld%s", (long long)shape[i],
                      i + 1 < rank    ? ", "
                          : rank == 1 ? ","
                                      : ""); /* numpy's spelling: (5,) (2, 3) */
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    /* 10 bytes of preamble + dict + spaces + '\n' must be a multiple of 64. */
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64, hlen = total - 10;
    static const unsigned char magic[8] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0 };
    memcpy(out, magic, 8);
    out[8] = (unsigned char)(hlen & 0xff);
    out[9] = (unsigned char)(hlen >> 8);
    memcpy(out + 10, dict, (size_t)n);
    memset(out + 10 + n, ' ', hlen - (size_t)n - 1);
    out[total - 1] = '\n';
    return total;
}

/* ---- reading: from a file descriptor (data read straight into the result) or from memory ---- */

typedef struct {
    const unsigned char *mem; /* the bytes, or NULL to read from fd */
    int fd;
    uint64_t size; /* of the whole file */
    uint64_t pos;
    int read_errno;
} npy_src;

/* Up to n bytes; fewer only at the end of the input or on a read error (then read_errno is set). */
static size_t src_read(npy_src *s, void *buf, size_t n)
{
    if (s->mem) {
        size_t k = s->pos < s->size ? (size_t)(s->size - s->pos < n ? s->size - s->pos : n) : 0;
        memcpy(buf, s->mem + s->pos, k);
        s->pos += k;
        return k;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(s->fd, (unsigned char *)buf + done, n - done > (1u << 30) ? (1u << 30) : n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) s->read_errno = errno;
        if (r <= 0) break;
        done += (size_t)r;
    }
    s->pos += done;
    return done;
}

/* A short read: the file ended (it shrank under us) or the system failed. */
static int short_read(const npy_src *s, const char *label, const char *what, char *err, size_t errlen)
{
    if (s->read_errno)
        return xai_fail(err, errlen, XAI_EIO, "%s: read error in %s: %s", label, what, strerror(s->read_errno));
    return xai_fail(err, errlen, XAI_EFORMAT, "%s: truncated %s", label, what);
}

static int npy_load(npy_src *src, const char *label, int convert, xai_array *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int st = XAI_OK;
    char *hdr = NULL;
    unsigned char *raw = NULL;
    float *data = NULL;
    unsigned char pre[12];
    uint64_t fsize = src->size;

    if (src_read(src, pre, 10) != 10 || memcmp(pre, NPY_MAGIC, 6) != 0) {
        if (src->read_errno) return short_read(src, label, "header", err, errlen);
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: not a .npy file (bad magic)", label);
    }
    int major = pre[6], minor = pre[7];
    uint64_t hlen, prelen;
    if (major == 1) {
        hlen = pre[8] | (uint64_t)pre[9] << 8;
        prelen = 10;
    } else if (major == 2 || major == 3) {
        if (src_read(src, pre + 10, 2) != 2) return short_read(src, label, "header", err, errlen);
        hlen = pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16 | (uint64_t)pre[11] << 24;
        prelen = 12;
    } else {
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: unsupported .npy version %d.%d", label, major, minor);
    }
    if (hlen > NPY_MAX_HEADER)
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: header length %llu exceeds the %u-byte limit", label,
                        (unsigned long long)hlen, NPY_MAX_HEADER);
    if (prelen + hlen > fsize)
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: header length %llu exceeds file size %llu", label,
                        (unsigned long long)hlen, (unsigned long long)fsize);
    if (!(hdr = malloc(hlen + 1))) return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", label);
    if (src_read(src, hdr, hlen) != hlen) {
        st = short_read(src, label, "header", err, errlen);
        goto done;
    }
    hdr[hlen] = 0;

    xai_npy_layout l;
    if ((st = xai_npy_describe(hdr, hlen, label, convert, &l, err, errlen)) != XAI_OK) goto done;
    npy_dtype t = { l.kind, l.size, l.big };
    npy_header h = { .rank = l.rank };
    memcpy(h.shape, l.shape, sizeof h.shape);
    memcpy(h.descr, l.descr, sizeof h.descr);
    int native_f32 = t.kind == 'f' && t.size == 4 && !t.big;
    char shp[128];
    xai_format_shape(shp, sizeof shp, h.shape, h.rank);
    int64_t count = xai_checked_bytes(h.shape, h.rank, 1);
    int64_t need = xai_checked_bytes(h.shape, h.rank, t.size);
    int64_t floats = xai_checked_bytes(h.shape, h.rank, (int64_t)sizeof(float));
    uint64_t have = fsize - prelen - hlen;
    if (count < 0 || need < 0 || floats < 0) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: shape %s of '%s' is too large (its size overflows)", label, shp,
                      h.descr);
        goto done;
    }
    if ((uint64_t)need > have) {
        st = xai_fail(err, errlen, XAI_EFORMAT,
                      "%s: truncated: shape %s of '%s' needs %lld bytes of data, file has %llu", label, shp, h.descr,
                      (long long)need, (unsigned long long)have);
        goto done;
    }
    if ((uint64_t)need < have) {
        st = xai_fail(err, errlen, XAI_EFORMAT,
                      "%s: shape %s of '%s' needs %lld bytes of data, file has %llu (trailing bytes)", label, shp,
                      h.descr, (long long)need, (unsigned long long)have);
        goto done;
    }
    /* `need` is at most the file's size, so the allocations below are bounded by what is really there. */
    if ((uint64_t)floats > SIZE_MAX ||
        !(data = malloc(count ? (size_t)floats : sizeof(float)))) { /* an empty array still gets a buffer */
        st = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory for %lld elements", label, (long long)count);
        goto done;
    }
    if (native_f32 && !host_is_big()) {
        if (src_read(src, data, (size_t)need) != (size_t)need) {
            st = short_read(src, label, "data", err, errlen);
            goto done;
        }
    } else {
        if (!(raw = malloc((size_t)need + 1))) {
            st = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", label);
            goto done;
        }
        if (src_read(src, raw, (size_t)need) != (size_t)need) {
            st = short_read(src, label, "data", err, errlen);
            goto done;
        }
        for (int64_t i = 0; i < count; i++) data[i] = load_elem(raw + i * t.size, &t);
    }
    out->rank = h.rank;
    memcpy(out->shape, h.shape, sizeof h.shape);
    out->data = data;
    data = NULL;
done:
    free(hdr);
    free(raw);
    free(data);
    return st;
}

int xai_npy_parse(const void *bytes, size_t size, const char *label, int convert, xai_array *out, char *err,
                  size_t errlen)
{
    if (!out || (!bytes && size)) return xai_fail(err, errlen, XAI_ENULL, "xai_npy_parse: data or out is NULL");
    npy_src src = { .mem = bytes ? bytes : (const unsigned char *)"", .fd = -1, .size = size };
    return npy_load(&src, label ? label : ".npy data", convert, out, err, errlen);
}

int xai_npy_read(const char *path, xai_array *out, int convert, char *err, size_t errlen)
{
    if (!path || !out) return xai_fail(err, errlen, XAI_ENULL, "xai_npy_read: path or out is NULL");
    memset(out, 0, sizeof *out);
    int fd, st = xai_open_regular(path, 0, &fd, err, errlen);
    if (st != XAI_OK) return st;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = xai_fail(err, errlen, XAI_EIO, "%s: cannot stat: %s", path, strerror(errno));
    } else {
        npy_src src = { .fd = fd, .size = (uint64_t)sb.st_size };
        st = npy_load(&src, path, convert, out, err, errlen);
    }
    close(fd);
    return st;
}

/* ---- writing: version 1.0, '<f4', C order, header padded so the data starts 64-byte aligned ---- */

int xai_npy_write(const char *path, const float *data, int32_t rank, const int64_t *shape, char *err, size_t errlen)
{
    if (!path || (rank > 0 && !shape)) return xai_fail(err, errlen, XAI_ENULL, "xai_npy_write: path or shape is NULL");
    if (rank < 0 || rank > 8) return xai_fail(err, errlen, XAI_EARG, "%s: rank %d is outside [0, 8]", path, (int)rank);
    int64_t count = xai_checked_bytes(shape, rank, 1);
    if (count < 0 || xai_checked_bytes(shape, rank, 4) < 0)
        return xai_fail(err, errlen, XAI_ESHAPE, "%s: shape has a negative or too large dimension", path);
    if (count > 0 && !data) return xai_fail(err, errlen, XAI_ENULL, "%s: data is NULL", path);

    unsigned char header[XAI_NPY_HEADER_MAX];
    size_t header_len = xai_npy_header_format(rank, shape, header);

    xai_outfile *o;
    int st = xai_outfile_open(&o, path, 0, err, errlen);
    if (st != XAI_OK) return st;
    FILE *f = xai_outfile_stream(o);
    /* Write errors are collected by the stream and reported by the commit, with their reason. */
    fwrite(header, 1, header_len, f);
    if (host_is_big()) {
        for (int64_t i = 0; i < count && !ferror(f); i++) {
            unsigned char b[4], r[4];
            memcpy(b, &data[i], 4);
            r[0] = b[3];
            r[1] = b[2];
            r[2] = b[1];
            r[3] = b[0];
            fwrite(r, 1, 4, f);
        }
    } else if (count > 0) {
        fwrite(data, sizeof(float), (size_t)count, f);
    }
    return xai_outfile_commit(o, err, errlen);
}
