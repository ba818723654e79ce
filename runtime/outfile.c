/* Output files that are replaced whole or not at all (xai_outfile_*, declared in xairt.h).
 * A regular target is written to a temporary file in its own directory (so the final rename is atomic),
 * flushed, checked, fsync'ed and renamed over the target; on any failure only that temporary file is
 * removed and the previous target stays byte for byte. A character device or FIFO cannot be replaced by
 * rename: it is written in place (never created, truncated or removed). Writes go through a stdio cookie
 * that keeps the errno of the first failed write(2), so "No space left on device" reaches the message
 * even when the failure happened inside an fwrite long before the commit. */
#include "xairt.h"
#include "rt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct xai_outfile {
    FILE *f;         /* what the caller writes to */
    char *path;      /* the target as given (messages) */
    char *target;    /* what the temporary file is renamed to: path, or the file a symbolic link names */
    char *temp;      /* the temporary file; NULL when written in place or to stdout */
    int fd;          /* the descriptor under f (-1 for stdout) */
    int write_errno; /* errno of the first failed write (0: none) */
    int is_stdout;
};

/* ---- the stdio cookie: write(2) with the first error kept ---- */

static ssize_t cookie_write(void *cookie, const char *buf, size_t size)
{
    xai_outfile *o = cookie;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(o->fd, buf + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (!o->write_errno) o->write_errno = n < 0 ? errno : EIO;
            errno = o->write_errno;
            return (ssize_t)done; /* never negative: glibc takes a cookie's -1 for a huge count */
        }
        done += (size_t)n;
    }
    return (ssize_t)done;
}

/* ---- opening ---- */

/* "dir/.base.XXXXXX" beside target; a random suffix opened with O_EXCL rather than mkstemp because mkstemp
 * creates mode 0600 and reading the umask to correct that is not thread-safe: open's 0666 gets the umask
 * (and default ACLs) applied by the kernel, exactly as fopen(target, "w") would have. */
static int create_temp(xai_outfile *o, mode_t keep_mode)
{
    const char *slash = strrchr(o->target, '/');
    size_t dir_len = slash ? (size_t)(slash - o->target) + 1 : 0;
    const char *base = o->target + dir_len;
    int base_len = (int)strlen(base) > 200 ? 200 : (int)strlen(base); /* stay under NAME_MAX */
    free(o->temp);
    o->temp = malloc(dir_len + (size_t)base_len + 16);
    if (!o->temp) {
        errno = ENOMEM;
        return -1;
    }
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned char r[6];
        if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
            struct timespec ts; /* no entropy yet (early boot): O_EXCL still guarantees a fresh file */
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t x = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() << 20 ^ (uint64_t)attempt;
            memcpy(r, &x, sizeof r);
        }
        char suffix[7];
        for (int i = 0; i < 6; i++) suffix[i] = letters[r[i] % 62];
        suffix[6] = 0;
        sprintf(o->temp, "%.*s.%.*s.%s", (int)dir_len, o->target, base_len, base, suffix);
        int fd = open(o->temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
        if (fd >= 0) {
            /* Replacing a file must not widen its permissions (a private 0600 file stays private). */
            if (keep_mode) (void)fchmod(fd, keep_mode & 0777);
            return fd;
        }
        if (errno != EEXIST) break;
    }
    free(o->temp);
    o->temp = NULL;
    return -1;
}

static const char *kind_of(mode_t m)
{
    return S_ISDIR(m) ? "a directory"
        : S_ISBLK(m)  ? "a block device"
        : S_ISSOCK(m) ? "a socket"
        : S_ISCHR(m)  ? "a character device"
        : S_ISFIFO(m) ? "a FIFO"
                      : "not a regular file";
}

static void outfile_free(xai_outfile *o)
{
    free(o->path);
    free(o->target);
    free(o->temp);
    free(o);
}

/* Opens the descriptor: in place for a device or FIFO, else a temporary file. 0 or -1 with errno, or a
 * status > 0 with the message written. */
static int open_target(xai_outfile *o, char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        struct stat sb;
        mode_t keep_mode = 0;
        if (stat(o->path, &sb) == 0) {
            if (S_ISCHR(sb.st_mode) || S_ISFIFO(sb.st_mode)) {
                /* A FIFO blocks here until a reader opens it, as `cmd > fifo` does. */
                int fd;
                do fd = open(o->path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
                while (fd < 0 && errno == EINTR);
                if (fd < 0) return -1;
                if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
                    close(fd); /* replaced by a regular file meanwhile: never write into that in place */
                    continue;
                }
                o->fd = fd;
                return 0;
            }
            if (!S_ISREG(sb.st_mode))
                return xai_fail(err, errlen, XAI_EIO, "%s: cannot write to %s (give a file name)", o->path,
                                kind_of(sb.st_mode));
            keep_mode = sb.st_mode;
        } else if (errno != ENOENT) {
            return -1;
        }
        struct stat lsb;
        if (lstat(o->path, &lsb) == 0 && S_ISLNK(lsb.st_mode)) {
            /* Replace the file the link names, not the link. */
            if (keep_mode == 0)
                return xai_fail(err, errlen, XAI_EIO, "%s: is a symbolic link to a file that does not exist", o->path);
            char *real = realpath(o->path, NULL);
            if (!real) return -1;
            free(o->target);
            o->target = real;
        }
        o->fd = create_temp(o, keep_mode);
        if (o->fd < 0 && keep_mode && errno == EACCES) /* the file itself may well be writable */
            return xai_fail(err, errlen, XAI_EIO,
                            "%s: cannot open for writing: %s (a file is replaced through a "
                            "temporary file beside it: its directory must be writable)",
                            o->path, strerror(errno));
        return o->fd < 0 ? -1 : 0;
    }
    errno = EAGAIN;
    return -1;
}

int xai_outfile_open(xai_outfile **out, const char *path, int flags, char *err, size_t errlen)
{
    if (out) *out = NULL;
    if (!out || !path) return xai_fail(err, errlen, XAI_ENULL, "xai_outfile_open: out or path is NULL");
    if (!*path) return xai_fail(err, errlen, XAI_EARG, "xai_outfile_open: the output path is empty");
    xai_outfile *o = calloc(1, sizeof *o);
    if (!o || !(o->path = strdup(path)) || !(o->target = strdup(path))) {
        if (o) outfile_free(o);
        return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", path);
    }
    o->fd = -1;
    if ((flags & XAI_FILE_DASH) && !strcmp(path, "-")) {
        o->is_stdout = 1;
        o->f = stdout;
        *out = o;
        return XAI_OK;
    }
    int st = open_target(o, err, errlen);
    if (st != 0) {
        if (st < 0) st = xai_fail(err, errlen, XAI_EIO, "%s: cannot open for writing: %s", path, strerror(errno));
        outfile_free(o);
        return st;
    }
    o->f = fopencookie(o, "wb", (cookie_io_functions_t){ .write = cookie_write });
    if (!o->f) {
        xai_outfile_abort(o);
        return xai_fail(err, errlen, XAI_ENOMEM, "%s: out of memory", path);
    }
    *out = o;
    return XAI_OK;
}

FILE *xai_outfile_stream(const xai_outfile *o) { return o ? o->f : NULL; }

/* ---- committing ---- */

/* Flushes and closes (the caller's stream ends here), then makes the data durable; returns 0 or the
 * errno of the first failure. Stdout is flushed, not closed. */
static int finish(xai_outfile *o)
{
    if (o->is_stdout) {
        int e = fflush(stdout) != 0 ? errno : 0;
        if (!e && ferror(stdout)) e = EIO; /* an earlier write failed and its errno is gone */
        o->f = NULL;
        return e;
    }
    int e = 0;
    if (fflush(o->f) != 0 || ferror(o->f)) e = o->write_errno ? o->write_errno : EIO;
    fclose(o->f); /* the cookie has no close function: the descriptor is ours */
    o->f = NULL;
    if (!e && o->write_errno) e = o->write_errno;
    /* fsync before the rename: otherwise a crash can leave the new name pointing at an empty file. */
    if (!e && o->temp && fsync(o->fd) != 0) e = errno;
    if (close(o->fd) != 0 && !e && errno != EINTR) e = errno;
    o->fd = -1;
    return e;
}

static void drop(xai_outfile *o)
{
    if (o->temp) unlink(o->temp); /* only ever the temporary file, never the caller's path */
    outfile_free(o);
}

void xai_outfile_abort(xai_outfile *o)
{
    if (!o) return;
    if (!o->is_stdout) { /* stdout is shared: what reached it stays, the rest is the caller's */
        if (o->f) {
            __fpurge(o->f); /* not even a device written in place gets the buffered rest */
            fclose(o->f);
        }
        if (o->fd >= 0) close(o->fd);
    }
    drop(o);
}

static int write_failed(xai_outfile *o, int e, char *err, size_t errlen)
{
    return xai_fail(err, errlen, XAI_EIO, "%s: write failed: %s%s", o->path, strerror(e),
                    o->temp ? " (the previous file is unchanged)" : "");
}

int xai_outfile_commit(xai_outfile *o, char *err, size_t errlen)
{
    if (!o) return xai_fail(err, errlen, XAI_ENULL, "xai_outfile_commit: the output is NULL");
    int e = finish(o), st = XAI_OK;
    if (e)
        st = write_failed(o, e, err, errlen);
    else if (o->temp && rename(o->temp, o->target) != 0)
        st = xai_fail(err, errlen, XAI_EIO, "%s: cannot replace: %s", o->path, strerror(errno));
    else {
        free(o->temp);
        o->temp = NULL;
    }
    drop(o);
    return st;
}

/* ---- pairs ---- */

/* An exclusive flock on the directory holding o's target (-1: nothing to lock or not lockable). */
static int lock_directory(const xai_outfile *o, struct stat *sb)
{
    if (!o->temp) return -1;
    const char *slash = strrchr(o->target, '/');
    char *dir = slash ? strndup(o->target, slash == o->target ? 1 : (size_t)(slash - o->target)) : strdup(".");
    if (!dir) return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return -1;
    if (fstat(fd, sb) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void take_lock(int fd)
{
    /* Without the lock (a file system without flock, such as some NFS mounts) the renames still happen, just
     * without the pairing guarantee. */
    if (fd >= 0)
        while (flock(fd, LOCK_EX) != 0 && errno == EINTR) {}
}

int xai_outfile_commit_pair(xai_outfile *a, xai_outfile *b, char *err, size_t errlen)
{
    if (!a || !b) {
        xai_outfile_abort(a);
        xai_outfile_abort(b);
        return xai_fail(err, errlen, XAI_ENULL, "xai_outfile_commit_pair: an output is NULL");
    }
    int ea = finish(a), eb = finish(b), st = XAI_OK;
    if (ea || eb) {
        st = ea ? write_failed(a, ea, err, errlen) : write_failed(b, eb, err, errlen);
        drop(a);
        drop(b);
        return st;
    }
    /* Lock the directories in (device, inode) order, once each, so two committers never deadlock. */
    struct stat sa, sb;
    int fa = lock_directory(a, &sa), fb = lock_directory(b, &sb);
    if (fa >= 0 && fb >= 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino) {
        close(fb);
        fb = -1;
    }
    int a_first = fa < 0 || fb < 0 || sa.st_dev < sb.st_dev || (sa.st_dev == sb.st_dev && sa.st_ino < sb.st_ino);
    take_lock(a_first ? fa : fb);
    take_lock(a_first ? fb : fa);
    if (a->temp && rename(a->temp, a->target) != 0) {
        st = xai_fail(err, errlen, XAI_EIO, "%s: cannot replace: %s (%s is unchanged too)", a->path, strerror(errno),
                      b->path);
    } else {
        free(a->temp);
        a->temp = NULL;
        if (b->temp && rename(b->temp, b->target) != 0)
            st = xai_fail(err, errlen, XAI_EIO, "%s: cannot replace: %s (but %s was replaced)", b->path,
                          strerror(errno), a->path);
        else {
            free(b->temp);
            b->temp = NULL;
        }
    }
    if (fa >= 0) close(fa); /* closing releases the flock */
    if (fb >= 0) close(fb);
    drop(a);
    drop(b);
    return st;
}
