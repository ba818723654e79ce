/* A float32 .npy made at its final size and filled region by region (xai_npy_sized_*, declared in xairt.h).
 * This is the one writer that does not go through xai_outfile, because writing regions in place, from several
 * processes and across restarts, is its point. What it keeps of xai_outfile's promises is the end: the file is
 * built under a name of the caller's (a temporary name beside the target), and xai_npy_sized_commit makes it
 * durable (fsync) and renames it over the target in one atomic step, then syncs the directory; before that
 * the target is untouched. The header is xai_npy_write's, so a file filled completely is byte for byte what
 * xai_npy_write would have written. */
#include "xairt.h"
#include "rt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct xai_npy_sized {
    char *path;
    int fd;
    int64_t records, record_values;
    uint64_t data_offset, size;
};

static int host_is_big(void) { return __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__; }

static int io_fail(const xai_npy_sized *f, const char *what, char *err, size_t errlen)
{
    return xai_fail(err, errlen, XAI_EIO, "%s: %s: %s", f->path, what, strerror(errno));
}

int xai_npy_sized_open(const char *path, int32_t rank, const int64_t *shape, int flags, xai_npy_sized **out, char *err,
                       size_t errlen)
{
    if (out) *out = NULL;
    if (!path || !shape || !out)
        return xai_fail(err, errlen, XAI_ENULL, "xai_npy_sized_open: path, shape or out is NULL");
    if (rank < 1 || rank > 8) return xai_fail(err, errlen, XAI_EARG, "%s: rank %d is outside [1, 8]", path, (int)rank);
    int64_t values = xai_checked_bytes(shape + 1, rank - 1, 1), bytes = xai_checked_bytes(shape, rank, 4);
    if (values < 0 || bytes < 0)
        return xai_fail(err, errlen, XAI_ESHAPE, "%s: shape has a negative or too large dimension", path);
    unsigned char header[XAI_NPY_HEADER_MAX];
    size_t header_len = xai_npy_header_format(rank, shape, header);
    xai_npy_sized *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", path);
    }
    f->records = shape[0];
    f->record_values = values;
    f->data_offset = header_len;
    f->size = header_len + (uint64_t)bytes;
    int reopen = flags & XAI_NPY_REOPEN, st = XAI_OK;
    do f->fd = open(path, (reopen ? O_RDWR : O_RDWR | O_CREAT | O_TRUNC) | O_CLOEXEC | O_NOCTTY, 0666);
    while (f->fd < 0 && errno == EINTR);
    struct stat sb;
    if (f->fd < 0)
        st = io_fail(f, reopen ? "cannot reopen" : "cannot create", err, errlen);
    else if (fstat(f->fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        st = xai_fail(err, errlen, XAI_EIO, "%s: not a regular file", path);
    else if (reopen) { /* it must be what this call would have created */
        unsigned char have[XAI_NPY_HEADER_MAX];
        if ((uint64_t)sb.st_size != f->size || pread(f->fd, have, header_len, 0) != (ssize_t)header_len ||
            memcmp(have, header, header_len))
            st = xai_fail(err, errlen, XAI_EFORMAT, "%s: not the partial output of this job (size or header differ)",
                          path);
    } else if (ftruncate(f->fd, (off_t)f->size) != 0) { /* sparse: blocks come with the writes */
        st = io_fail(f, "cannot size the file", err, errlen);
    } else if (pwrite(f->fd, header, header_len, 0) != (ssize_t)header_len) {
        st = io_fail(f, "cannot write the header", err, errlen);
    }
    if (st) {
        xai_npy_sized_close(f);
        return st;
    }
    *out = f;
    return XAI_OK;
}

static int check_range(const xai_npy_sized *f, int64_t first, int64_t count, const void *data, char *err, size_t errlen)
{
    if (!data && count) return xai_fail(err, errlen, XAI_ENULL, "%s: data is NULL", f->path);
    if (first < 0 || count < 0 || first > f->records || count > f->records - first)
        return xai_fail(err, errlen, XAI_EARG, "%s: records %lld .. %lld are outside the %lld records", f->path,
                        (long long)first, (long long)(first + count - 1), (long long)f->records);
    return XAI_OK;
}

/* pread / pwrite of the whole range, retried over short transfers and EINTR */
static int transfer(int fd, void *buf, size_t n, uint64_t at, int writing)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = writing ? pwrite(fd, (const char *)buf + done, n - done, (off_t)(at + done))
                            : pread(fd, (char *)buf + done, n - done, (off_t)(at + done));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k == 0) errno = writing ? ENOSPC : EIO;
            return -1;
        }
        done += (size_t)k;
    }
    return 0;
}

static void swap_bytes(float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        unsigned char b[4], r[4];
        memcpy(b, &v[i], 4);
        r[0] = b[3], r[1] = b[2], r[2] = b[1], r[3] = b[0];
        memcpy(&v[i], r, 4);
    }
}

int xai_npy_sized_write(xai_npy_sized *f, int64_t first, int64_t count, const float *rows, char *err, size_t errlen)
{
    if (!f) return xai_fail(err, errlen, XAI_ENULL, "xai_npy_sized_write: the file is NULL");
    int st = check_range(f, first, count, rows, err, errlen);
    if (st || !count) return st;
    size_t n = (size_t)(count * f->record_values);
    uint64_t at = f->data_offset + (uint64_t)first * (uint64_t)f->record_values * 4;
    if (host_is_big()) { /* the file is little-endian */
        float *copy = malloc(n * 4 + 1);
        if (!copy) return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", f->path);
        memcpy(copy, rows, n * 4);
        swap_bytes(copy, (int64_t)n);
        int rc = transfer(f->fd, copy, n * 4, at, 1);
        free(copy);
        return rc ? io_fail(f, "write failed", err, errlen) : XAI_OK;
    }
    return transfer(f->fd, (void *)rows, n * 4, at, 1) ? io_fail(f, "write failed", err, errlen) : XAI_OK;
}

int xai_npy_sized_read(xai_npy_sized *f, int64_t first, int64_t count, float *rows, char *err, size_t errlen)
{
    if (!f) return xai_fail(err, errlen, XAI_ENULL, "xai_npy_sized_read: the file is NULL");
    int st = check_range(f, first, count, rows, err, errlen);
    if (st || !count) return st;
    size_t n = (size_t)(count * f->record_values);
    if (transfer(f->fd, rows, n * 4, f->data_offset + (uint64_t)first * (uint64_t)f->record_values * 4, 0))
        return io_fail(f, "read failed", err, errlen);
    if (host_is_big()) swap_bytes(rows, (int64_t)n);
    return XAI_OK;
}

int xai_npy_sized_sync(xai_npy_sized *f, char *err, size_t errlen)
{
    if (!f) return xai_fail(err, errlen, XAI_ENULL, "xai_npy_sized_sync: the file is NULL");
    return fdatasync(f->fd) ? io_fail(f, "cannot sync", err, errlen) : XAI_OK;
}

int xai_npy_sized_close(xai_npy_sized *f)
{
    if (!f) return XAI_OK;
    int st = f->fd >= 0 && close(f->fd) != 0 && errno != EINTR ? XAI_EIO : XAI_OK;
    free(f->path);
    free(f);
    return st;
}

/* fsync of the directory holding path, so that a rename in it survives a crash */
static void sync_directory(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

int xai_npy_sized_commit(xai_npy_sized *f, const char *target, char *err, size_t errlen)
{
    if (!f || !target) {
        xai_npy_sized_close(f);
        return xai_fail(err, errlen, XAI_ENULL, "xai_npy_sized_commit: the file or target is NULL");
    }
    int st = XAI_OK;
    struct stat sb, lsb;
    char *real = NULL;
    const char *dest = target;
    if (stat(target, &sb) == 0) {
        if (!S_ISREG(sb.st_mode))
            st = xai_fail(err, errlen, XAI_EIO, "%s: not a regular file; cannot replace it", target);
        else
            (void)fchmod(f->fd, sb.st_mode & 0777); /* as xai_outfile: the replacement keeps the permissions */
        if (!st && lstat(target, &lsb) == 0 && S_ISLNK(lsb.st_mode)) /* replace the file a link names */
            dest = real = realpath(target, NULL);
        if (!st && !dest)
            st = xai_fail(err, errlen, XAI_EIO, "%s: cannot resolve the link: %s", target, strerror(errno));
    }
    if (!st && fsync(f->fd) != 0) st = io_fail(f, "cannot sync", err, errlen);
    if (!st && rename(f->path, dest) != 0)
        st = xai_fail(err, errlen, XAI_EIO, "%s: cannot rename %s over it: %s", target, f->path, strerror(errno));
    if (!st) sync_directory(dest);
    free(real);
    int closed = xai_npy_sized_close(f);
    if (!st && closed) st = xai_fail(err, errlen, XAI_EIO, "%s: close failed", target);
    return st;
}
