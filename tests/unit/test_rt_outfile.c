/* libxairt output files (xai_outfile_*): replaced whole or not at all, devices and FIFOs written in place and
 * never removed, failed writes (a full device, the file size limit) reported with their reason and leaving
 * the previous file byte for byte, pairs that stay pairs under concurrent writers. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "xairt.h"

/* A fresh empty directory under the test's temporary directory. */
static char *fresh_dir(const char *name)
{
    char *dir = NULL;
    cr_assert(asprintf(&dir, "%s/%s", tu_tmpdir(), name) > 0);
    cr_assert_eq(mkdir(dir, 0777), 0, "mkdir %s: %s", dir, strerror(errno));
    return dir;
}

static char *join(const char *dir, const char *name)
{
    char *p = NULL;
    cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

/* Entries of dir other than . and .. (a leftover temporary file shows up here). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static void expect_content(const char *path, const char *text)
{
    size_t len = 0;
    char *got = tu_read_file(path, &len);
    cr_assert_not_null(got, "%s cannot be read", path);
    cr_assert(len == strlen(text) && !memcmp(got, text, len), "%s holds '%s', want '%s'", path, got, text);
    free(got);
}

/* Opens, writes text, commits; returns the status (message in err). */
static int write_text(const char *path, const char *text, char *err, size_t errlen)
{
    xai_outfile *o;
    int st = xai_outfile_open(&o, path, 0, err, errlen);
    if (st != XAI_OK) return st;
    fputs(text, xai_outfile_stream(o));
    return xai_outfile_commit(o, err, errlen);
}

Test(outfile, creates_and_replaces_with_nothing_left_over)
{
    umask(022);
    char *dir = fresh_dir("replace"), *p = join(dir, "out.txt"), err[256] = "";
    cr_assert_eq(write_text(p, "first", err, sizeof err), XAI_OK, "%s", err);
    expect_content(p, "first");
    struct stat sb;
    cr_assert_eq(stat(p, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0644, "a new file gets 0666 minus the umask, not mkstemp's 0600: %o",
                 sb.st_mode & 0777);
    ino_t old_inode = sb.st_ino;
    cr_assert_eq(chmod(p, 0600), 0);
    cr_assert_eq(write_text(p, "second, longer", err, sizeof err), XAI_OK, "%s", err);
    expect_content(p, "second, longer");
    cr_assert_eq(stat(p, &sb), 0);
    cr_assert_neq(sb.st_ino, old_inode, "replaced by rename, not rewritten in place");
    cr_assert_eq(sb.st_mode & 0777, 0600, "a private file stays private: %o", sb.st_mode & 0777);
    cr_assert_eq(count_entries(dir), 1);
    free(p);
    free(dir);
}

Test(outfile, abort_and_failed_open_leave_the_target)
{
    char *dir = fresh_dir("abort"), *p = join(dir, "keep.txt"), *q = join(dir, "new.txt"), err[256] = "";
    put(p, "old");
    xai_outfile *o;
    cr_assert_eq(xai_outfile_open(&o, p, 0, err, sizeof err), XAI_OK, "%s", err);
    fputs("new content", xai_outfile_stream(o));
    cr_assert_eq(count_entries(dir), 2, "the temporary file sits beside the target");
    xai_outfile_abort(o);
    expect_content(p, "old");
    cr_assert_eq(xai_outfile_open(&o, q, 0, err, sizeof err), XAI_OK, "%s", err);
    xai_outfile_abort(o);
    cr_assert_eq(access(q, F_OK), -1, "an aborted new file does not appear");
    cr_assert_eq(count_entries(dir), 1);
    xai_outfile_abort(NULL);

    cr_assert_eq(xai_outfile_open(NULL, p, 0, err, sizeof err), XAI_ENULL);
    cr_assert_eq(xai_outfile_open(&o, NULL, 0, err, sizeof err), XAI_ENULL);
    cr_assert_null(o);
    cr_assert_eq(xai_outfile_open(&o, "", 0, err, sizeof err), XAI_EARG);
    cr_assert_eq(xai_outfile_commit(NULL, err, sizeof err), XAI_ENULL);
    cr_assert_eq(xai_outfile_open(&o, "/nonexistent-dir/x", 0, err, sizeof err), XAI_EIO);
    cr_assert(strstr(err, "/nonexistent-dir/x: cannot open for writing: No such file or directory"), "%s", err);
    free(p);
    free(q);
    free(dir);
}

/* A writable file in a read-only directory cannot be replaced (the temporary file has nowhere to go): an
 * error that says why, and the file as it was. Run as an unprivileged user, since root may write anyway. */
Test(outfile, read_only_directory_is_explained)
{
    char *dir = fresh_dir("readonly"), *p = join(dir, "kept.txt");
    put(p, "old");
    cr_assert_eq(chmod(p, 0666), 0);
    cr_assert_eq(chmod(tu_tmpdir(), 0711), 0); /* let the unprivileged child through */
    cr_assert_eq(chmod(dir, 0555), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(2);
        char err[256] = "";
        if (write_text(p, "new", err, sizeof err) != XAI_EIO) _exit(3);
        _exit(strstr(err,
                     "kept.txt: cannot open for writing: Permission denied (a file is replaced through a "
                     "temporary file beside it: its directory must be writable)")
                  ? 0
                  : 4);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    expect_content(p, "old");
    cr_assert_eq(chmod(dir, 0755), 0);
    cr_assert_eq(count_entries(dir), 1);
    free(p);
    free(dir);
}

Test(outfile, directory_and_socket_targets_are_refused_and_kept)
{
    char *dir = fresh_dir("refuse"), *sub = join(dir, "sub"), err[256] = "";
    cr_assert_eq(mkdir(sub, 0777), 0);
    xai_outfile *o = (xai_outfile *)1;
    cr_assert_eq(xai_outfile_open(&o, sub, 0, err, sizeof err), XAI_EIO);
    cr_assert_null(o);
    cr_assert(strstr(err, "sub: cannot write to a directory"), "%s", err);
    struct stat sb;
    cr_assert(stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode));

    char *sock_path = join(dir, "sock");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock_path);
    cr_assert_eq(bind(s, (struct sockaddr *)&addr, sizeof addr), 0, "%s", strerror(errno));
    cr_assert_eq(xai_outfile_open(&o, sock_path, 0, err, sizeof err), XAI_EIO);
    cr_assert(strstr(err, "cannot write to a socket"), "%s", err);
    cr_assert(lstat(sock_path, &sb) == 0 && S_ISSOCK(sb.st_mode), "the socket is still there");
    close(s);
    cr_assert_eq(count_entries(dir), 2);
    free(sock_path);
    free(sub);
    free(dir);
}

Test(outfile, dev_full_is_an_error_and_stays_a_device)
{
    struct stat sb;
    if (stat("/dev/full", &sb) != 0 || !S_ISCHR(sb.st_mode)) cr_skip_test("no /dev/full here");
    char err[256] = "";
    cr_assert_eq(write_text("/dev/full", "a few bytes", err, sizeof err), XAI_EIO);
    cr_assert(strstr(err, "/dev/full: write failed: No space left on device"), "%s", err);
    /* a write that fails inside fwrite, long before the commit, keeps its reason */
    xai_outfile *o;
    cr_assert_eq(xai_outfile_open(&o, "/dev/full", 0, err, sizeof err), XAI_OK, "%s", err);
    static char big[1 << 20];
    cr_assert_lt(fwrite(big, 1, sizeof big, xai_outfile_stream(o)), sizeof big);
    cr_assert_eq(xai_outfile_commit(o, err, sizeof err), XAI_EIO);
    cr_assert(strstr(err, "No space left on device"), "%s", err);
    cr_assert(stat("/dev/full", &sb) == 0 && S_ISCHR(sb.st_mode), "/dev/full is still a character device");
    cr_assert_eq(write_text("/dev/null", "discarded", err, sizeof err), XAI_OK, "%s", err);
    cr_assert(stat("/dev/null", &sb) == 0 && S_ISCHR(sb.st_mode), "/dev/null is still a character device");
}

/* Forks a child that copies everything from `fifo` into `copy`; returns its pid. */
static pid_t drain_fifo(const char *fifo, const char *copy)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        alarm(20);
        int in = open(fifo, O_RDONLY), out = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0) _exit(2);
        char buf[4096];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n) _exit(3);
        _exit(n == 0 && close(out) == 0 ? 0 : 4);
    }
    return pid;
}

static void expect_child_exit(pid_t pid, int code)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), code, "child exited with %d", WEXITSTATUS(status));
}

Test(outfile, fifo_is_written_in_place, .timeout = 30)
{
    char *dir = fresh_dir("fifo"), *fifo = join(dir, "pipe"), *copy = join(dir, "copy"), err[256] = "";
    cr_assert_eq(mkfifo(fifo, 0666), 0);
    pid_t pid = drain_fifo(fifo, copy);
    cr_assert_eq(write_text(fifo, "through the pipe", err, sizeof err), XAI_OK, "%s", err);
    expect_child_exit(pid, 0);
    expect_content(copy, "through the pipe");
    struct stat sb;
    cr_assert(lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode), "the FIFO is still a FIFO");
    cr_assert_eq(count_entries(dir), 2, "no temporary file was made");
    free(copy);
    free(fifo);
    free(dir);
}

Test(outfile, file_size_limit_leaves_the_previous_content)
{
    char *dir = fresh_dir("fsize"), *p = join(dir, "big.bin");
    put(p, "the previous content");
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        /* SIGXFSZ ignored: a write past the limit fails with EFBIG instead of killing the process */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = { 4096, 4096 };
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(2);
        char err[256] = "";
        xai_outfile *o;
        if (xai_outfile_open(&o, p, 0, err, sizeof err) != XAI_OK) _exit(3);
        for (int i = 0; i < 10000; i++) fputs("0123456789", xai_outfile_stream(o));
        if (xai_outfile_commit(o, err, sizeof err) != XAI_EIO) _exit(4);
        _exit(strstr(err, "big.bin: write failed: File too large (the previous file is unchanged)") ? 0 : 5);
    }
    expect_child_exit(pid, 0);
    expect_content(p, "the previous content");
    cr_assert_eq(count_entries(dir), 1, "the temporary file was removed");
    free(p);
    free(dir);
}

Test(outfile, symbolic_link_stays_and_its_file_is_replaced)
{
    char *dir = fresh_dir("link"), *real = join(dir, "real.txt"), *link = join(dir, "link.txt"),
         *dangling = join(dir, "dangling.txt"), err[256] = "";
    put(real, "old");
    cr_assert_eq(symlink("real.txt", link), 0);
    cr_assert_eq(write_text(link, "new", err, sizeof err), XAI_OK, "%s", err);
    struct stat sb;
    cr_assert(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode), "the link is still a link");
    expect_content(real, "new");
    cr_assert_eq(symlink("missing.txt", dangling), 0);
    cr_assert_eq(write_text(dangling, "x", err, sizeof err), XAI_EIO);
    cr_assert(strstr(err, "dangling.txt: is a symbolic link to a file that does not exist"), "%s", err);
    cr_assert(lstat(dangling, &sb) == 0 && S_ISLNK(sb.st_mode));
    cr_assert_eq(count_entries(dir), 3);
    free(real);
    free(link);
    free(dangling);
    free(dir);
}

Test(outfile, dash_is_stdout_only_when_asked)
{
    char *dir = fresh_dir("dash"), err[256] = "";
    cr_assert_eq(chdir(dir), 0); /* each Criterion test runs in its own process */
    cr_assert_eq(write_text("-", "a file named dash", err, sizeof err), XAI_OK, "%s", err);
    expect_content("-", "a file named dash");
    xai_outfile *o;
    cr_assert_eq(xai_outfile_open(&o, "-", XAI_FILE_DASH, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(xai_outfile_stream(o), stdout);
    cr_assert_eq(xai_outfile_commit(o, err, sizeof err), XAI_OK, "%s", err);
    /* a closed stdout is a write error, not silence */
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(1);
        if (xai_outfile_open(&o, "-", XAI_FILE_DASH, err, sizeof err) != XAI_OK) _exit(2);
        fputs("lost", xai_outfile_stream(o));
        if (xai_outfile_commit(o, err, sizeof err) != XAI_EIO) _exit(3);
        _exit(strstr(err, "-: write failed: Bad file descriptor") ? 0 : 4);
    }
    expect_child_exit(pid, 0);
    free(dir);
}

/* ---- pairs ---- */

static int write_pair(const char *a, const char *b, const char *text_a, const char *text_b, char *err, size_t errlen)
{
    xai_outfile *oa, *ob;
    int st = xai_outfile_open(&oa, a, 0, err, errlen);
    if (st != XAI_OK) return st;
    if ((st = xai_outfile_open(&ob, b, 0, err, errlen)) != XAI_OK) {
        xai_outfile_abort(oa);
        return st;
    }
    fputs(text_a, xai_outfile_stream(oa));
    fputs(text_b, xai_outfile_stream(ob));
    return xai_outfile_commit_pair(oa, ob, err, errlen);
}

Test(pair, a_failed_write_changes_neither)
{
    struct stat sb;
    if (stat("/dev/full", &sb) != 0 || !S_ISCHR(sb.st_mode)) cr_skip_test("no /dev/full here");
    char *dir = fresh_dir("pairfail"), *a = join(dir, "net.o"), err[256] = "";
    put(a, "old object");
    cr_assert_eq(write_pair(a, "/dev/full", "new object", "new header", err, sizeof err), XAI_EIO);
    cr_assert(strstr(err, "/dev/full: write failed: No space left on device"), "%s", err);
    expect_content(a, "old object");
    cr_assert_eq(count_entries(dir), 1);
    cr_assert_eq(xai_outfile_commit_pair(NULL, NULL, err, sizeof err), XAI_ENULL);
    free(a);
    free(dir);
}

/* The object and header of one run carry the same tag; two writers commit `rounds` pairs each. */
static void writer(const char *obj, const char *hdr, int id, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        char text[64], err[256];
        snprintf(text, sizeof text, "writer %d round %d", id, i);
        if (write_pair(obj, hdr, text, text, err, sizeof err) != XAI_OK) _exit(1);
    }
    _exit(0);
}

Test(pair, concurrent_writers_leave_a_matching_pair, .timeout = 120)
{
    char *dir = fresh_dir("pairrace"), *obj = join(dir, "net.o"), *hdr = join(dir, "net.h");
    int mismatched = 0;
    for (int trial = 0; trial < 40; trial++) {
        pid_t w[2];
        for (int k = 0; k < 2; k++) {
            w[k] = fork();
            cr_assert_neq(w[k], -1);
            if (w[k] == 0) writer(obj, hdr, k, 25);
        }
        for (int k = 0; k < 2; k++) expect_child_exit(w[k], 0);
        char *a = tu_read_file(obj, NULL), *b = tu_read_file(hdr, NULL);
        cr_assert(a && b);
        mismatched += strcmp(a, b) != 0;
        cr_assert(strstr(a, "round 24"), "the last commit of some writer wins: %s", a);
        free(a);
        free(b);
    }
    cr_assert_eq(mismatched, 0, "%d of 40 trials ended with the object of one run and the header of another",
                 mismatched);
    cr_assert_eq(count_entries(dir), 2, "no temporary file left");
    free(obj);
    free(hdr);
    free(dir);
}

Test(pair, commit_waits_for_the_directory_lock, .timeout = 30)
{
    char *dir = fresh_dir("pairlock"), *obj = join(dir, "net.o"), *hdr = join(dir, "net.h");
    put(obj, "old");
    put(hdr, "old");
    int lock = open(dir, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(lock, 0);
    cr_assert_eq(flock(lock, LOCK_EX), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        char err[256];
        _exit(write_pair(obj, hdr, "new", "new", err, sizeof err) == XAI_OK ? 0 : 1);
    }
    nanosleep(&(struct timespec){ 0, 300 * 1000 * 1000 }, NULL);
    int status;
    cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "the commit did not wait for the lock");
    expect_content(obj, "old");
    expect_content(hdr, "old");
    cr_assert_eq(flock(lock, LOCK_UN), 0);
    expect_child_exit(pid, 0);
    expect_content(obj, "new");
    expect_content(hdr, "new");
    close(lock);
    free(obj);
    free(hdr);
    free(dir);
}
