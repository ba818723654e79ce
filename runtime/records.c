/* Data sets read a record at a time (xai_records_*, declared in xairt.h): a .npy [N, ...] or an IDX file,
 * never read whole. A .npy or a plain IDX file is memory-mapped and only the records asked for are touched;
 * their pages are released after the copy (madvise DONTNEED: the page cache keeps them, the process does not),
 * so the resident size stays that of one read whatever the file's size. Where mmap fails (a 32-bit process
 * and a file larger than its address space) the same reads go through pread. A gzip IDX file is inflated
 * as it is read: a read further on inflates and discards what lies between, a read further back starts the
 * stream over. The header is checked as xai_npy_read / xai_idx_read check it; a file shorter than its header
 * announces is not an error here: `complete` says how many records are wholly present, and a read beyond
 * them names the first missing record. */
#include "xairt.h"
#include "xairt_io.h"
#include "rt_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

enum { KIND_NPY, KIND_IDX, KIND_IDX_GZIP };

struct xai_records {
    char *path;
    int fd, kind;
    uint64_t file_size;
    const unsigned char *map; /* the whole file, or NULL: pread */
    uint64_t data_offset;     /* of record 0 */
    int64_t record_bytes;     /* in the file */
    xai_records_info info;
    xai_npy_layout npy; /* KIND_NPY: the element type */
    int idx_type;       /* IDX: the element type */
    float idx_scale;
    /* KIND_IDX_GZIP: the stream, positioned before record `next` */
    z_stream z;
    int z_open, z_ended;
    unsigned char *in; /* compressed bytes read from fd */
    int64_t next;
    unsigned char *raw; /* scratch: records as stored, for conversion */
    size_t raw_cap;
};

static int fail_at(const xai_records *r, int64_t record, int status, const char *what, char *err, size_t errlen)
{
    return xai_fail(err, errlen, status, "%s: record %lld of %lld: %s", r->path, (long long)record,
                    (long long)r->info.records, what);
}

/* Sets the shape, counts and the complete records from the header's dimensions and the bytes present. */
static int set_shape(xai_records *r, int32_t rank, const int64_t *shape, int64_t elem_bytes, char *err, size_t errlen)
{
    char shp[128];
    xai_format_shape(shp, sizeof shp, shape, rank);
    if (rank < 1)
        return xai_fail(err, errlen, XAI_ESHAPE, "%s: a scalar (shape %s) is not a data set of records", r->path, shp);
    int64_t values = xai_checked_bytes(shape + 1, rank - 1, 1), bytes = xai_checked_bytes(shape, rank, elem_bytes);
    if (values < 0 || bytes < 0 || xai_checked_bytes(shape + 1, rank - 1, (int64_t)sizeof(float)) < 0)
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: shape %s is too large (its size overflows)", r->path, shp);
    r->info.rank = rank;
    memcpy(r->info.shape, shape, sizeof(int64_t) * (size_t)rank);
    r->info.records = shape[0];
    r->info.record_values = values;
    r->record_bytes = values * elem_bytes;
    r->info.complete = r->info.records;
    if (r->kind == KIND_IDX_GZIP) return XAI_OK; /* known only once read */
    uint64_t have = r->file_size - r->data_offset;
    if (have > (uint64_t)bytes)
        return xai_fail(err, errlen, XAI_EFORMAT,
                        "%s: shape %s needs %lld bytes of data, the file has %llu (trailing bytes)", r->path, shp,
                        (long long)bytes, (unsigned long long)have);
    if (have < (uint64_t)bytes) r->info.complete = r->record_bytes ? (int64_t)(have / (uint64_t)r->record_bytes) : 0;
    return XAI_OK;
}

static int open_npy(xai_records *r, const unsigned char *head, size_t head_len, int convert, char *err, size_t errlen)
{
    int st = xai_npy_layout_parse(head, head_len, r->path, convert, &r->npy, err, errlen);
    if (st) return st;
    r->data_offset = r->npy.data_offset;
    return set_shape(r, r->npy.rank, r->npy.shape, r->npy.size, err, errlen);
}

static int idx_header(xai_records *r, const unsigned char *head, size_t head_len, char *err, size_t errlen)
{
    if (head_len < 4 || head[0] || head[1])
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: not an IDX file (bad magic)", r->path);
    int type = head[2], rank = head[3];
    if (!xai_idx_elem_size(type))
        return xai_fail(err, errlen, XAI_EDTYPE, "%s: unknown IDX element type 0x%02X", r->path, type);
    if (rank < 1 || rank > 8)
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: %d dimensions (IDX files here have 1 to 8)", r->path, rank);
    if (head_len < 4 + 4 * (size_t)rank)
        return xai_fail(err, errlen, XAI_EFORMAT, "%s: truncated header (%d dimensions announced)", r->path, rank);
    int64_t shape[8];
    for (int i = 0; i < rank; i++) {
        const unsigned char *p = head + 4 + 4 * i;
        shape[i] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    }
    r->idx_type = type;
    r->data_offset = 4 + 4 * (uint64_t)rank;
    return set_shape(r, rank, shape, xai_idx_elem_size(type), err, errlen);
}

/* ---- gzip IDX: the stream ---- */

#define GZ_IN 65536

/* Up to n inflated bytes into buf (NULL: discarded); fewer only where the stream ends. -1: corrupt, the
 * reason in *why. */
static int64_t gz_read(xai_records *r, unsigned char *buf, int64_t n, const char **why)
{
    unsigned char sink[16384];
    int64_t got = 0;
    while (got < n && !r->z_ended) {
        if (r->z.avail_in == 0) {
            ssize_t k;
            do k = read(r->fd, r->in, GZ_IN);
            while (k < 0 && errno == EINTR);
            if (k < 0) {
                *why = strerror(errno);
                return -1;
            }
            if (k == 0) {
                *why = "the gzip stream is truncated";
                return -1;
            }
            r->z.next_in = r->in;
            r->z.avail_in = (uInt)k;
        }
        int64_t want = n - got;
        if (!buf && want > (int64_t)sizeof sink) want = sizeof sink;
        if (want > (1 << 30)) want = 1 << 30;
        r->z.next_out = buf ? buf + got : sink;
        r->z.avail_out = (uInt)want;
        int z = inflate(&r->z, Z_NO_FLUSH);
        got += want - r->z.avail_out;
        if (z == Z_STREAM_END) {
            /* another member may follow (concatenated gzip files), as xai_idx_read accepts */
            unsigned char peek[2];
            size_t have = r->z.avail_in;
            if (have == 0) {
                ssize_t k;
                do k = read(r->fd, r->in, GZ_IN);
                while (k < 0 && errno == EINTR);
                if (k <= 0) {
                    r->z_ended = 1;
                    break;
                }
                r->z.next_in = r->in;
                r->z.avail_in = (uInt)k;
                have = (size_t)k;
            }
            memcpy(peek, r->z.next_in, have >= 2 ? 2 : 1);
            if (have < 2 || peek[0] != 0x1f || peek[1] != 0x8b) {
                *why = "bytes after the end of the gzip stream";
                return -1;
            }
            inflateReset(&r->z);
        } else if (z != Z_OK && !(z == Z_BUF_ERROR && r->z.avail_in == 0)) {
            *why = r->z.msg ? r->z.msg : "corrupt gzip data";
            return -1;
        }
    }
    return got;
}

/* Rewinds the stream to record 0 (past the header); fills the header on the first call. */
static int gz_rewind(xai_records *r, int first_time, char *err, size_t errlen)
{
    if (lseek(r->fd, 0, SEEK_SET) != 0)
        return xai_fail(err, errlen, XAI_EIO, "%s: cannot seek: %s", r->path, strerror(errno));
    if (r->z_open) inflateEnd(&r->z);
    memset(&r->z, 0, sizeof r->z);
    r->z_open = inflateInit2(&r->z, 16 + MAX_WBITS) == Z_OK;
    if (!r->z_open) return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", r->path);
    r->z_ended = 0;
    r->next = 0;
    unsigned char head[4 + 32];
    const char *why = NULL;
    int64_t got = gz_read(r, head, 4, &why);
    if (got == 4 && !head[0] && !head[1] && head[3] >= 1 && head[3] <= 8) {
        int64_t more = gz_read(r, head + 4, 4 * (int64_t)head[3], &why);
        got = more < 0 ? -1 : got + more;
    }
    if (got < 0) return xai_fail(err, errlen, XAI_EFORMAT, "%s: %s", r->path, why);
    if (!first_time) return XAI_OK;
    return idx_header(r, head, (size_t)got, err, errlen);
}

/* ---- opening ---- */

int xai_records_open(const char *path, float idx_scale, int convert, xai_records **out, xai_records_info *info,
                     char *err, size_t errlen)
{
    if (out) *out = NULL;
    if (!path || !out || !info) return xai_fail(err, errlen, XAI_ENULL, "xai_records_open: path, out or info is NULL");
    xai_records *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", path);
    }
    r->idx_scale = idx_scale;
    int st = xai_open_regular(path, 0, &r->fd, err, errlen);
    struct stat sb;
    if (st == XAI_OK && fstat(r->fd, &sb) != 0)
        st = xai_fail(err, errlen, XAI_EIO, "%s: cannot stat: %s", path, strerror(errno));
    unsigned char magic[2] = { 0, 0 };
    if (st == XAI_OK) {
        r->file_size = (uint64_t)sb.st_size;
        if (pread(r->fd, magic, 2, 0) != 2)
            st = xai_fail(err, errlen, XAI_EFORMAT, "%s: not a .npy file (too short), nor an IDX file", path);
    }
    if (st == XAI_OK && magic[0] == 0x1f && magic[1] == 0x8b) {
        r->kind = KIND_IDX_GZIP;
        if (!(r->in = malloc(GZ_IN))) st = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", path);
        if (st == XAI_OK) st = gz_rewind(r, 1, err, errlen);
    } else if (st == XAI_OK) {
        r->kind = magic[0] == 0x93 ? KIND_NPY : KIND_IDX;
        if (r->kind == KIND_IDX && (magic[0] || magic[1]))
            st = xai_fail(err, errlen, XAI_EFORMAT, "%s: not a .npy file (bad magic), nor an IDX file", path);
        void *m = st == XAI_OK && r->file_size <= SIZE_MAX
            ? mmap(NULL, (size_t)r->file_size, PROT_READ, MAP_SHARED, r->fd, 0)
            : MAP_FAILED;
        if (m != MAP_FAILED) {
            r->map = m;
            madvise(m, (size_t)r->file_size, MADV_SEQUENTIAL);
        }
        /* the header: at most 12 + 1 MB for .npy, 36 bytes for IDX */
        size_t head_len = r->file_size < (12u + (1u << 20)) ? (size_t)r->file_size : 12u + (1u << 20);
        unsigned char *head = st == XAI_OK && !r->map ? malloc(head_len ? head_len : 1) : NULL;
        if (st == XAI_OK && !r->map && (!head || pread(r->fd, head, head_len, 0) != (ssize_t)head_len))
            st = xai_fail(err, errlen, head ? XAI_EIO : XAI_ENOMEM, "%s: cannot read the header", path);
        if (st == XAI_OK)
            st = r->kind == KIND_NPY ? open_npy(r, r->map ? r->map : head, head_len, convert, err, errlen)
                                     : idx_header(r, r->map ? r->map : head, head_len, err, errlen);
        free(head);
    }
    if (st != XAI_OK) {
        xai_records_close(r);
        return st;
    }
    *info = r->info;
    *out = r;
    return XAI_OK;
}

void xai_records_close(xai_records *r)
{
    if (!r) return;
    if (r->map) munmap((void *)r->map, (size_t)r->file_size);
    if (r->z_open) inflateEnd(&r->z);
    if (r->fd >= 0) close(r->fd);
    free(r->in);
    free(r->raw);
    free(r->path);
    free(r);
}

/* ---- reading ---- */

static void convert(const xai_records *r, const unsigned char *src, int64_t values, float *dst)
{
    if (r->kind == KIND_NPY) {
        xai_npy_convert(src, &r->npy, values, dst);
        return;
    }
    int esize = xai_idx_elem_size(r->idx_type);
    for (int64_t i = 0; i < values; i++) dst[i] = xai_idx_convert(src + i * esize, r->idx_type, r->idx_scale);
}

static int raw_room(xai_records *r, size_t bytes, char *err, size_t errlen)
{
    if (bytes <= r->raw_cap) return XAI_OK;
    unsigned char *p = realloc(r->raw, bytes);
    if (!p) return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory for %zu bytes of records", r->path, bytes);
    r->raw = p;
    r->raw_cap = bytes;
    return XAI_OK;
}

/* One record from the mapped or pread file. */
static int read_plain(xai_records *r, int64_t record, float *dst, char *err, size_t errlen)
{
    uint64_t at = r->data_offset + (uint64_t)record * (uint64_t)r->record_bytes;
    if (r->map) {
        convert(r, r->map + at, r->info.record_values, dst);
        return XAI_OK;
    }
    int st = raw_room(r, (size_t)r->record_bytes, err, errlen);
    if (st) return st;
    size_t done = 0;
    while (done < (size_t)r->record_bytes) {
        ssize_t k = pread(r->fd, r->raw + done, (size_t)r->record_bytes - done, (off_t)(at + done));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            return fail_at(r, record, k < 0 ? XAI_EIO : XAI_EFORMAT, k < 0 ? strerror(errno) : "truncated", err,
                           errlen);
        done += (size_t)k;
    }
    convert(r, r->raw, r->info.record_values, dst);
    return XAI_OK;
}

/* A gzip record is inflated and converted a piece at a time: its size comes from the header, which a tiny file can
 * make enormous, so nothing is allocated from it. */
#define GZ_PIECE 65536

static int read_gzip(xai_records *r, int64_t first, int64_t count, float *out, int64_t *done, char *err, size_t errlen)
{
    if (first < r->next) {
        int st = gz_rewind(r, 0, err, errlen);
        if (st) return st;
    }
    const char *why = NULL;
    int st = raw_room(r, GZ_PIECE, err, errlen);
    if (st) return st;
    int esize = xai_idx_elem_size(r->idx_type);
    while (r->next < first + count) {
        int skipping = r->next < first;
        float *dst = skipping ? NULL : out + (r->next - first) * r->info.record_values;
        for (int64_t at = 0; at < r->record_bytes;) {
            int64_t piece = r->record_bytes - at < GZ_PIECE ? r->record_bytes - at : GZ_PIECE;
            int64_t got = gz_read(r, skipping ? NULL : r->raw, piece, &why);
            if (got < piece) {
                r->info.complete = r->next;
                r->next = INT64_MAX; /* the stream's position is lost: the next read starts over */
                return fail_at(r, r->info.complete, XAI_EFORMAT,
                               why ? why : "the data ends before this record is complete", err, errlen);
            }
            if (dst) convert(r, r->raw, piece / esize, dst + at / esize);
            at += piece;
        }
        if (!skipping) (*done)++;
        r->next++;
    }
    if (r->next == r->info.records) { /* the end: the stream's checksum and nothing after it */
        unsigned char extra;
        int64_t more = gz_read(r, &extra, 1, &why);
        if (more != 0 || why)
            return xai_fail(err, errlen, XAI_EFORMAT, "%s: after the last record: %s", r->path,
                            more > 0 ? "trailing bytes" : why);
    }
    return XAI_OK;
}

int xai_records_read(xai_records *r, int64_t first, int64_t count, float *out, int64_t *done, char *err, size_t errlen)
{
    int64_t ignored;
    if (!done) done = &ignored;
    *done = 0;
    if (!r || (!out && count > 0)) return xai_fail(err, errlen, XAI_ENULL, "xai_records_read: records or out is NULL");
    if (first < 0 || count < 0 || first > r->info.records || count > r->info.records - first)
        return xai_fail(err, errlen, XAI_EARG, "%s: records %lld .. %lld are outside the %lld records", r->path,
                        (long long)first, (long long)(first + count - 1), (long long)r->info.records);
    if (r->record_bytes == 0) { /* records of no values (a zero dimension): nothing to read, however many */
        *done = count;
        return XAI_OK;
    }
    if (r->kind == KIND_IDX_GZIP) return read_gzip(r, first, count, out, done, err, errlen);
    struct stat sb; /* a mapped file that shrank would raise SIGBUS: refuse to touch it */
    if (fstat(r->fd, &sb) != 0 || (uint64_t)sb.st_size != r->file_size)
        return xai_fail(err, errlen, XAI_EIO, "%s: the file changed size while being read (%llu bytes, now %lld)",
                        r->path, (unsigned long long)r->file_size, (long long)sb.st_size);
    for (int64_t i = 0; i < count; i++) {
        if (first + i >= r->info.complete)
            return fail_at(r, first + i, XAI_EFORMAT, "truncated: the file ends before this record is complete", err,
                           errlen);
        int st = read_plain(r, first + i, out + i * r->info.record_values, err, errlen);
        if (st) return st;
        (*done)++;
    }
    if (r->map && count > 0) { /* release the pages just read: memory stays bounded by one read */
        long page = sysconf(_SC_PAGESIZE);
        /* the kernel's fault-around maps pages beside those touched (64 KB by default), before the read too: they
         * would stay mapped, chunk after chunk (81 MB over a 784 MB file), so release a margin on both sides */
        const uint64_t margin = 1u << 20;
        uint64_t begin = r->data_offset + (uint64_t)first * (uint64_t)r->record_bytes;
        uint64_t end = begin + (uint64_t)count * (uint64_t)r->record_bytes;
        begin = begin > margin ? begin - margin : 0;
        end = end + margin < r->file_size ? end + margin : r->file_size;
        begin = begin / (uint64_t)page * (uint64_t)page;
        madvise((void *)(r->map + begin), (size_t)(end - begin), MADV_DONTNEED);
    }
    return XAI_OK;
}
