/* Opening files to read: regular files only (xairt_io.h). A FIFO given as weights or data would block
 * the first open(2) until some writer appears, and a device such as /dev/zero never ends; both are refused
 * before a single byte is read. */
#include "xairt_io.h"
#include "rt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int not_regular(const char *path, mode_t m, char *err, size_t errlen)
{
    if (S_ISDIR(m)) return xai_fail(err, errlen, XAI_EIO, "'%s' is a directory, not a regular file", path);
    const char *kind = S_ISFIFO(m) ? "a FIFO"
        : S_ISCHR(m)               ? "a character device"
        : S_ISBLK(m)               ? "a block device"
        : S_ISSOCK(m)              ? "a socket"
                                   : "of an unknown type";
    return xai_fail(err, errlen, XAI_EIO, "'%s' is not a regular file (it is %s)", path, kind);
}

int xai_open_regular(const char *path, int flags, int *fd, char *err, size_t errlen)
{
    if (!path || !fd) return xai_fail(err, errlen, XAI_ENULL, "xai_open_regular: path or fd is NULL");
    *fd = -1;
    if ((flags & XAI_FILE_DASH) && !strcmp(path, "-")) {
        int d = fcntl(0, F_DUPFD_CLOEXEC, 0);
        if (d < 0) return xai_fail(err, errlen, XAI_EIO, "standard input: cannot read: %s", strerror(errno));
        *fd = d;
        return XAI_OK;
    }
    /* stat first so that a device is not even opened (opening some has side effects), fstat after the open
     * for a path swapped in between. */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) return not_regular(path, sb.st_mode, err, errlen);
    int d;
    do d = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    while (d < 0 && errno == EINTR);
    if (d < 0) return xai_fail(err, errlen, XAI_EIO, "%s: cannot open for reading: %s", path, strerror(errno));
    if (fstat(d, &sb) != 0) {
        int e = errno;
        close(d);
        return xai_fail(err, errlen, XAI_EIO, "%s: cannot open for reading: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(d);
        return not_regular(path, sb.st_mode, err, errlen);
    }
    int fl = fcntl(d, F_GETFL);
    if (fl < 0 || fcntl(d, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(d);
        return xai_fail(err, errlen, XAI_EIO, "%s: cannot open for reading: %s", path, strerror(e));
    }
    *fd = d;
    return XAI_OK;
}

int xai_read_regular(const char *path, int flags, unsigned char **data, size_t *size, char *err, size_t errlen)
{
    if (!data || !size) return xai_fail(err, errlen, XAI_ENULL, "xai_read_regular: data or size is NULL");
    *data = NULL;
    *size = 0;
    int fd, st = xai_open_regular(path, flags, &fd, err, errlen);
    if (st != XAI_OK) return st;
    const char *label = (flags & XAI_FILE_DASH) && !strcmp(path, "-") ? "standard input" : path;
    struct stat sb;
    size_t cap = 4096; /* standard input: grown as it comes */
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0)
        cap = (uint64_t)sb.st_size < SIZE_MAX ? (size_t)sb.st_size + 1 : SIZE_MAX;
    size_t len = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory for %zu bytes", label, cap - 1);
    }
    for (;;) { /* the file may grow while we read: read to EOF, growing the buffer as needed */
        if (len + 1 == cap) {
            unsigned char *bigger = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!bigger) {
                st = xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory after %zu bytes", label, len);
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + len, cap - 1 - len);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            st = xai_fail(err, errlen, XAI_EIO, "%s: read error after %zu bytes: %s", label, len, strerror(errno));
            break;
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    close(fd);
    if (st != XAI_OK) {
        free(buf);
        return st;
    }
    buf[len] = 0;
    *data = buf;
    *size = len;
    return XAI_OK;
}
