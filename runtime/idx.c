/* IDX (the MNIST file format): 0x00 0x00 <type> <ndim>, ndim big-endian uint32 dimensions, then
 * big-endian data. A file starting with the gzip magic (1f 8b) is inflated with zlib, anything else is
 * read as plain bytes, so train-images-idx3-ubyte(.gz) both work.
 * The data is read in growing chunks rather than allocated from the header's dimensions up front:
 * a 20-byte file claiming 4e9 x 4e9 elements then fails as truncated without a huge allocation. */
#include "xairt.h"
#include "xairt_io.h"
#include "rt_internal.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int xai_idx_elem_size(int type)
{
    switch (type) {
    case 0x08:
    case 0x09: return 1; /* u8, i8 */
    case 0x0B: return 2; /* i16 */
    case 0x0C:
    case 0x0D: return 4; /* i32, f32 */
    case 0x0E: return 8; /* f64 */
    default: return 0;
    }
}

static uint64_t load_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

float xai_idx_convert(const unsigned char *p, int type, float scale)
{
    uint64_t u = load_be(p, xai_idx_elem_size(type));
    switch (type) {
    case 0x08: return (float)(uint8_t)u * scale;
    case 0x09: return (float)(int8_t)(uint8_t)u;
    case 0x0B: return (float)(int16_t)(uint16_t)u;
    case 0x0C: return (float)(int32_t)(uint32_t)u;
    case 0x0D: {
        uint32_t b = (uint32_t)u;
        float v;
        memcpy(&v, &b, 4);
        return v;
    }
    default: {
        double v;
        memcpy(&v, &u, 8);
        return (float)v;
    }
    }
}

/* The bytes of the file, inflated when it starts with the gzip magic (one or more gzip members, as gzip
 * writes them when files are concatenated), read a piece at a time. */
typedef struct {
    const unsigned char *mem;
    size_t size, pos; /* plain: the next byte */
    int gzip;
    z_stream z;
    int z_open, z_done;  /* inflateInit2 done; the last member ended with nothing after it */
    const char *z_error; /* what inflate said when the stream is corrupt */
} idx_src;

static int src_open(idx_src *s, const unsigned char *mem, size_t size)
{
    memset(s, 0, sizeof *s);
    s->mem = mem;
    s->size = size;
    s->gzip = size >= 2 && mem[0] == 0x1f && mem[1] == 0x8b;
    if (!s->gzip) return Z_OK;
    s->z.next_in = (unsigned char *)mem; /* zlib's API is not const; it never writes the input */
    s->z.avail_in = size > UINT32_MAX ? UINT32_MAX : (uInt)size;
    int r = inflateInit2(&s->z, 16 + MAX_WBITS); /* 16: gzip wrapper only */
    s->z_open = r == Z_OK;
    return r;
}

static void src_close(idx_src *s)
{
    if (s->z_open) inflateEnd(&s->z);
}

/* Up to n bytes; fewer at the end of the data. -1 if the gzip stream is corrupt (z_error says why). */
static int64_t src_read(idx_src *s, unsigned char *buf, int64_t n)
{
    if (!s->gzip) {
        size_t k = s->size - s->pos < (uint64_t)n ? s->size - s->pos : (size_t)n;
        memcpy(buf, s->mem + s->pos, k);
        s->pos += k;
        return (int64_t)k;
    }
    int64_t got = 0;
    while (got < n && !s->z_done) {
        size_t consumed = (size_t)(s->z.next_in - s->mem);
        if (s->z.avail_in == 0 && consumed < s->size) /* inputs over 4 GB arrive in 4 GB pieces */
            s->z.avail_in = s->size - consumed > UINT32_MAX ? UINT32_MAX : (uInt)(s->size - consumed);
        int64_t chunk = n - got > (1 << 30) ? (1 << 30) : n - got;
        s->z.next_out = buf + got;
        s->z.avail_out = (uInt)chunk;
        int r = inflate(&s->z, Z_NO_FLUSH);
        got += chunk - s->z.avail_out;
        if (r == Z_STREAM_END) {
            consumed = (size_t)(s->z.next_in - s->mem);
            if (consumed == s->size) {
                s->z_done = 1;
            } else if (s->size - consumed >= 2 && s->z.next_in[0] == 0x1f && s->z.next_in[1] == 0x8b) {
                inflateReset(&s->z); /* another member follows */
            } else {
                s->z_error = "bytes after the end of the gzip stream";
                return -1;
            }
        } else if (r == Z_BUF_ERROR) {
            if (s->z.avail_out == 0) continue;
            s->z_error = "the gzip stream is truncated"; /* no input left and the stream has not ended */
            return -1;
        } else if (r != Z_OK) {
            s->z_error = s->z.msg ? s->z.msg : "corrupt gzip data";
            return -1;
        }
    }
    return got;
}

int xai_idx_parse(const void *bytes, size_t size, const char *label, float scale, xai_array *out, char *err,
                  size_t errlen)
{
    if (!out || (!bytes && size)) return xai_fail(err, errlen, XAI_ENULL, "xai_idx_parse: data or out is NULL");
    if (!label) label = "IDX data";
    memset(out, 0, sizeof *out);
    idx_src src;
    if (src_open(&src, bytes ? bytes : (const unsigned char *)"", size) != Z_OK) {
        src_close(&src);
        return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", label);
    }

    int st = XAI_OK;
    unsigned char *raw = NULL;
    float *data = NULL;
    unsigned char hdr[4 + 4 * 8];
    int64_t got = src_read(&src, hdr, 4);
    if (got < 0) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: %s", label, src.z_error);
        goto done;
    }
    if (got < 4 || hdr[0] != 0 || hdr[1] != 0) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: not an IDX file (bad magic)", label);
        goto done;
    }
    int type = hdr[2], rank = hdr[3], esize = xai_idx_elem_size(type);
    if (!esize) {
        st = xai_fail(err, errlen, XAI_EDTYPE, "%s: unknown IDX element type 0x%02X", label, type);
        goto done;
    }
    if (rank < 1 || rank > 8) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: %d dimensions (IDX files here have 1 to 8)", label, rank);
        goto done;
    }
    got = src_read(&src, hdr + 4, 4 * rank);
    if (got < 0) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: %s", label, src.z_error);
        goto done;
    }
    if (got != 4 * rank) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: truncated header (%d dimensions announced)", label, rank);
        goto done;
    }
    for (int i = 0; i < rank; i++) out->shape[i] = (int64_t)load_be(hdr + 4 + 4 * i, 4);
    int64_t count = xai_checked_bytes(out->shape, rank, 1);
    int64_t need = xai_checked_bytes(out->shape, rank, esize);
    int64_t floats = xai_checked_bytes(out->shape, rank, (int64_t)sizeof(float));
    char shp[128];
    xai_format_shape(shp, sizeof shp, out->shape, rank);
    if (count < 0 || need < 0 || floats < 0 || (uint64_t)floats > SIZE_MAX / 2) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: dimensions %s are too large", label, shp);
        goto done;
    }

    /* Grow the raw buffer with the data actually present (see the file comment). */
    int64_t cap = 0, have = 0;
    while (have < need) {
        int64_t want = cap ? cap * 2 : 1 << 16;
        if (want > need) want = need;
        unsigned char *p = realloc(raw, (size_t)want);
        if (!p) {
            st = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", label);
            goto done;
        }
        raw = p;
        cap = want;
        int64_t r = src_read(&src, raw + have, cap - have);
        if (r < 0) {
            st = xai_fail(err, errlen, XAI_EFORMAT, "%s: %s", label, src.z_error);
            goto done;
        }
        have += r;
        if (have < cap) break;
    }
    if (have < need) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: truncated: dimensions %s need %lld bytes of data, found %lld",
                      label, shp, (long long)need, (long long)have);
        goto done;
    }
    unsigned char extra;
    int64_t more = src_read(&src, &extra, 1);
    if (more < 0) { /* e.g. a bad gzip CRC, noticed only at the end of the stream */
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: %s", label, src.z_error);
        goto done;
    }
    if (more > 0) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: trailing bytes after the %lld bytes of data for %s", label,
                      (long long)need, shp);
        goto done;
    }
    if (!(data = malloc(count ? (size_t)floats : sizeof(float)))) {
        st = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", label);
        goto done;
    }
    for (int64_t i = 0; i < count; i++) data[i] = xai_idx_convert(raw + i * esize, type, scale);
    out->rank = rank;
    out->data = data;
    data = NULL;
done:
    if (st != XAI_OK) memset(out, 0, sizeof *out);
    src_close(&src);
    free(raw);
    free(data);
    return st;
}

int xai_idx_read(const char *path, float scale, xai_array *out, char *err, size_t errlen)
{
    if (!path || !out) return xai_fail(err, errlen, XAI_ENULL, "xai_idx_read: path or out is NULL");
    memset(out, 0, sizeof *out);
    unsigned char *bytes;
    size_t size;
    int st = xai_read_regular(path, 0, &bytes, &size, err, errlen);
    if (st != XAI_OK) return st;
    st = xai_idx_parse(bytes, size, path, scale, out, err, errlen);
    free(bytes);
    return st;
}
