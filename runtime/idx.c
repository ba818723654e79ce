/* IDX (the MNIST file format): 0x00 0x00 <type> <ndim>, ndim big-endian uint32 dimensions, then
 * big-endian data. Files are read through zlib's gzread, which detects gzip by its magic (1f 8b)
 * and reads anything else as plain bytes, so train-images-idx3-ubyte(.gz) both work.
 * The data is read in growing chunks rather than allocated from the header's dimensions up front:
 * a 20-byte file claiming 4e9 x 4e9 elements then fails as truncated without a huge allocation. */
#include "xairt.h"
#include "rt_internal.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static int elem_size(int type)
{
    switch (type) {
    case 0x08: case 0x09: return 1;   /* u8, i8 */
    case 0x0B: return 2;              /* i16 */
    case 0x0C: case 0x0D: return 4;   /* i32, f32 */
    case 0x0E: return 8;              /* f64 */
    default: return 0;
    }
}

static uint64_t load_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

static float convert(const unsigned char *p, int type, float scale)
{
    uint64_t u = load_be(p, elem_size(type));
    switch (type) {
    case 0x08: return (float)(uint8_t)u * scale;
    case 0x09: return (float)(int8_t)(uint8_t)u;
    case 0x0B: return (float)(int16_t)(uint16_t)u;
    case 0x0C: return (float)(int32_t)(uint32_t)u;
    case 0x0D: { uint32_t b = (uint32_t)u; float v; memcpy(&v, &b, 4); return v; }
    default: { double v; memcpy(&v, &u, 8); return (float)v; }
    }
}

/* Reads exactly n bytes (n may exceed INT_MAX); returns the count read, or -1 on a zlib error. */
static int64_t read_full(gzFile g, unsigned char *buf, int64_t n)
{
    int64_t got = 0;
    while (got < n) {
        int64_t chunk = n - got > (1 << 30) ? (1 << 30) : n - got;
        int r = gzread(g, buf + got, (unsigned)chunk);
        if (r < 0) return -1;
        if (r == 0) break;
        got += r;
    }
    return got;
}

int xai_idx_read(const char *path, float scale, xai_array *out, char *err, size_t errlen)
{
    if (!path || !out) return xai_fail(err, errlen, XAI_ENULL, "xai_idx_read: path or out is NULL");
    memset(out, 0, sizeof *out);
    gzFile g = gzopen(path, "rb");
    if (!g) return xai_fail(err, errlen, XAI_EIO, "%s: cannot open for reading: %m", path);

    int st = XAI_OK;
    unsigned char *raw = NULL;
    float *data = NULL;
    unsigned char hdr[4 + 4 * 8];
    int errnum;
    int64_t got = read_full(g, hdr, 4);
    if (got < 0) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: %s", path, gzerror(g, &errnum));
        goto done;
    }
    if (got < 4 || hdr[0] != 0 || hdr[1] != 0) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: not an IDX file (bad magic)", path);
        goto done;
    }
    int type = hdr[2], rank = hdr[3], esize = elem_size(type);
    if (!esize) {
        st = xai_fail(err, errlen, XAI_EDTYPE, "%s: unknown IDX element type 0x%02X", path, type);
        goto done;
    }
    if (rank < 1 || rank > 8) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: %d dimensions (IDX files here have 1 to 8)", path, rank);
        goto done;
    }
    if (read_full(g, hdr + 4, 4 * rank) != 4 * rank) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: truncated header (%d dimensions announced)", path, rank);
        goto done;
    }
    for (int i = 0; i < rank; i++) out->shape[i] = (int64_t)load_be(hdr + 4 + 4 * i, 4);
    int64_t count = xai_checked_bytes(out->shape, rank, 1);
    int64_t need = xai_checked_bytes(out->shape, rank, esize);
    char shp[128];
    xai_format_shape(shp, sizeof shp, out->shape, rank);
    if (count < 0 || need < 0 || (uint64_t)need > SIZE_MAX / 8) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: dimensions %s are too large", path, shp);
        goto done;
    }

    /* Grow the raw buffer with the data actually present (see the file comment). */
    int64_t cap = 0, have = 0;
    while (have < need) {
        int64_t want = cap ? cap * 2 : 1 << 16;
        if (want > need) want = need;
        unsigned char *p = realloc(raw, (size_t)want);
        if (!p) {
            st = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        raw = p;
        cap = want;
        int64_t r = read_full(g, raw + have, cap - have);
        if (r < 0) {
            st = xai_fail(err, errlen, XAI_EFORMAT, "%s: %s", path, gzerror(g, &errnum));
            goto done;
        }
        have += r;
        if (have < cap) break;
    }
    if (have < need) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: truncated: dimensions %s need %lld bytes of data, found %lld",
                      path, shp, (long long)need, (long long)have);
        goto done;
    }
    unsigned char extra;
    int64_t more = read_full(g, &extra, 1);
    if (more < 0) {   /* e.g. a bad gzip CRC, noticed only at the end of the stream */
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: %s", path, gzerror(g, &errnum));
        goto done;
    }
    if (more > 0) {
        st = xai_fail(err, errlen, XAI_EFORMAT, "%s: trailing bytes after the %lld bytes of data for %s",
                      path, (long long)need, shp);
        goto done;
    }
    if (!(data = malloc((size_t)(count ? count : 1) * sizeof(float)))) {
        st = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int64_t i = 0; i < count; i++) data[i] = convert(raw + i * esize, type, scale);
    out->rank = rank;
    out->data = data;
    data = NULL;
done:
    if (st != XAI_OK) memset(out, 0, sizeof *out);
    free(raw);
    free(data);
    gzclose(g);
    return st;
}
