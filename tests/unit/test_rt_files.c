/* libxairt readers and writers against hostile paths: every reader refuses a FIFO, a device and a directory
 * at once (a FIFO used to block forever); every writer reports a full device, a directory or the file size
 * limit as an error, never removes what was at the path, and writes FIFOs in place. Also the from-memory
 * readers the path readers are built on, and xai_read_regular's "-". */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "xairt.h"
#include "xairt_io.h"

#define D "tests/data/rt/"

#ifndef __has_feature /* clang has it, gcc defines __SANITIZE_ADDRESS__ instead */
#define __has_feature(x) 0
#endif

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

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int have_dev(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISCHR(sb.st_mode);
}

/* ---- readers ---- */

enum { READ_NPY, READ_PNG, READ_IDX, READ_SAFETENSORS, READ_WHOLE, N_READERS };
static const char *const reader_names[N_READERS] = { "npy", "png", "idx", "safetensors", "read_regular" };

static int read_with(int reader, const char *path, char *err, size_t errlen)
{
    xai_array a;
    xai_safetensors st;
    unsigned char *bytes = NULL;
    size_t size;
    int rc;
    switch (reader) {
    case READ_NPY: rc = xai_npy_read(path, &a, 1, err, errlen); break;
    case READ_PNG: rc = xai_png_read(path, 0, &a, err, errlen); break;
    case READ_IDX: rc = xai_idx_read(path, 1.0f, &a, err, errlen); break;
    case READ_SAFETENSORS: rc = xai_safetensors_open(path, &st, err, errlen); break;
    default: rc = xai_read_regular(path, 0, &bytes, &size, err, errlen); break;
    }
    cr_assert_neq(rc, XAI_OK, "%s read %s", reader_names[reader], path);
    free(bytes);
    return rc;
}

/* Every reader refuses `path` with XAI_EIO and a message containing `says`, in well under a second. */
static void expect_refused(const char *path, const char *says)
{
    for (int r = 0; r < N_READERS; r++) {
        char err[256] = "";
        double t0 = now();
        cr_assert_eq(read_with(r, path, err, sizeof err), XAI_EIO, "%s on %s: %s", reader_names[r], path, err);
        cr_assert_lt(now() - t0, 1.0, "%s took %.1f s to refuse %s", reader_names[r], now() - t0, path);
        cr_assert(strstr(err, says), "%s: '%s' lacks '%s'", reader_names[r], err, says);
    }
}

/* A FIFO without a writer: a plain fopen would block here until the test's timeout kills it. */
Test(readers, refuse_a_fifo_without_blocking, .timeout = 20)
{
    char *dir = fresh_dir("rfifo"), *fifo = join(dir, "weights.fifo"), *msg = NULL;
    cr_assert_eq(mkfifo(fifo, 0666), 0);
    cr_assert(asprintf(&msg, "'%s' is not a regular file (it is a FIFO)", fifo) > 0);
    expect_refused(fifo, msg);
    struct stat sb;
    cr_assert(lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode));
    free(msg);
    free(fifo);
    free(dir);
}

Test(readers, refuse_a_fifo_with_a_writer_waiting, .timeout = 20)
{
    /* a writer that keeps the FIFO open and never writes: reading it would never end */
    char *dir = fresh_dir("rfifo2"), *fifo = join(dir, "data.fifo");
    cr_assert_eq(mkfifo(fifo, 0666), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        alarm(15);
        int fd = open(fifo, O_WRONLY);
        pause();
        _exit(fd < 0);
    }
    expect_refused(fifo, "is not a regular file (it is a FIFO)");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    free(fifo);
    free(dir);
}

Test(readers, refuse_devices_and_directories, .timeout = 20)
{
    if (have_dev("/dev/zero")) /* would never end */
        expect_refused("/dev/zero", "'/dev/zero' is not a regular file (it is a character device)");
    char *dir = fresh_dir("rdir");
    char *msg = NULL;
    cr_assert(asprintf(&msg, "'%s' is a directory, not a regular file", dir) > 0);
    expect_refused(dir, msg);
    free(msg);
    free(dir);
}

Test(readers, dash_is_standard_input_only_when_asked, .timeout = 20)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(write(fds[1], "from a pipe", 11), 11);
    close(fds[1]);
    cr_assert_neq(dup2(fds[0], 0), -1);
    unsigned char *bytes;
    size_t size;
    char err[256] = "";
    /* without the flag "-" is a file name like any other (here: no such file) */
    cr_assert_eq(xai_read_regular("-", 0, &bytes, &size, err, sizeof err), XAI_EIO);
    cr_assert(strstr(err, "-: cannot open for reading: No such file or directory"), "%s", err);
    cr_assert_eq(xai_read_regular("-", XAI_FILE_DASH, &bytes, &size, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(size, 11);
    cr_assert_str_eq((char *)bytes, "from a pipe", "NUL-terminated after the last byte");
    free(bytes);
    cr_assert_eq(xai_read_regular(NULL, 0, &bytes, &size, err, sizeof err), XAI_ENULL);
    int fd;
    cr_assert_eq(xai_open_regular(D "f4_2x3.npy", 0, &fd, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0, "O_NONBLOCK is cleared after the check");
    cr_assert_neq(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    close(fd);
}

/* The path readers are the memory readers on the file's bytes: same arrays, same messages. */
Test(readers, memory_readers_match_the_path_readers)
{
    const char *files[] = { D "f4_2x3.npy",  D "be_f4.npy",      D "u1_2x2.npy",    D "rgb16.png",
                            D "palette.png", D "images.idx3.gz", D "truncated.png", D "fortran.npy" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t len;
        char *bytes = tu_read_file(files[i], &len);
        cr_assert_not_null(bytes, "%s", files[i]);
        xai_array a, b;
        char ea[256] = "", eb[256] = "";
        int ra, rb;
        if (strstr(files[i], ".npy")) {
            ra = xai_npy_read(files[i], &a, 1, ea, sizeof ea);
            rb = xai_npy_parse(bytes, len, files[i], 1, &b, eb, sizeof eb);
        } else if (strstr(files[i], ".png")) {
            ra = xai_png_read(files[i], 3, &a, ea, sizeof ea);
            rb = xai_png_parse(bytes, len, files[i], 3, &b, eb, sizeof eb);
        } else {
            ra = xai_idx_read(files[i], 1.0f / 255, &a, ea, sizeof ea);
            rb = xai_idx_parse(bytes, len, files[i], 1.0f / 255, &b, eb, sizeof eb);
        }
        cr_assert_eq(ra, rb, "%s: %d vs %d", files[i], ra, rb);
        cr_assert_str_eq(ea, eb);
        if (ra == XAI_OK) {
            cr_assert_eq(a.rank, b.rank);
            cr_assert_arr_eq(a.shape, b.shape, sizeof a.shape);
            cr_assert_arr_eq(a.data, b.data, (size_t)xai_array_count(&a) * sizeof(float), "%s", files[i]);
        }
        xai_array_free(&a);
        xai_array_free(&b);
        free(bytes);
    }
}

/* A PNG that claims more pixels than its compressed bytes can hold is refused before any allocation. */
Test(readers, png_claiming_more_than_it_can_hold)
{
    size_t len;
    unsigned char *bytes = (unsigned char *)tu_read_file(D "gray8.png", &len);
    cr_assert_not_null(bytes);
    /* IHDR width and height (bytes 16..23) set to 1000000 x 1000000 (libpng's own limit), with the chunk's
     * CRC recomputed so that libpng accepts the header and the reader's own check has to catch it. */
    unsigned char ihdr[17];
    memcpy(ihdr, bytes + 12, 17);
    for (int k = 0; k < 2; k++) {
        ihdr[4 + 4 * k] = 0x00, ihdr[5 + 4 * k] = 0x0f, ihdr[6 + 4 * k] = 0x42, ihdr[7 + 4 * k] = 0x40;
    }
    memcpy(bytes + 12, ihdr, 17);
    uint32_t crc = xai_crc32(ihdr, 17);
    bytes[29] = (unsigned char)(crc >> 24), bytes[30] = (unsigned char)(crc >> 16);
    bytes[31] = (unsigned char)(crc >> 8), bytes[32] = (unsigned char)crc;
    xai_array a;
    char err[256] = "";
    cr_assert_eq(xai_png_parse(bytes, len, "big.png", 0, &a, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "big.png: a 1000000x1000000 image cannot fit in"), "%s", err);
    cr_assert_null(a.data);
    free(bytes);
}

/* Found by fuzz_png: 45 bytes whose second chunk declares 1.5 GB of zTXt, and libpng allocated the declared
 * length before reading it. Ancillary chunks are now skipped unread. The largest single malloc (libpng's
 * included) is measured by interposing malloc, which AddressSanitizer builds cannot do. */
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define MALLOC_MEASURED 0
#else
#define MALLOC_MEASURED 1
extern void *__libc_malloc(size_t n);
static size_t largest_malloc;
void *malloc(size_t n)
{
    size_t seen = __atomic_load_n(&largest_malloc, __ATOMIC_RELAXED);
    while (n > seen && !__atomic_compare_exchange_n(&largest_malloc, &seen, n, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return __libc_malloc(n);
}
#endif

Test(readers, png_huge_ancillary_chunk_allocates_nothing)
{
    if (!MALLOC_MEASURED) cr_skip_test("malloc cannot be measured under AddressSanitizer");
    static const unsigned char file[] = { 0x89, 'P',  'N',  'G',  0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
                                          'I',  'H',  'D',  'R',  0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x03,
                                          0x08, 0x02, 0x00, 0x00, 0x00, 0xd4, 0x54, 0x52, 0xaf, 0x5b, 0x00, 0x00,
                                          0x06, 'z',  'T',  'X',  't',  'i',  'C',  'C',  'P' };
    xai_array a;
    char err[256] = "";
#if MALLOC_MEASURED
    largest_malloc = 0;
#endif
    cr_assert_eq(xai_png_parse(file, sizeof file, "ztxt.png", 0, &a, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "ztxt.png: truncated"), "%s", err);
#if MALLOC_MEASURED
    cr_assert_lt(largest_malloc, 1 << 20, "a %zu-byte allocation for a 45-byte file", largest_malloc);
#endif
}

/* ---- writers ---- */

enum { WRITE_NPY, WRITE_PNG, WRITE_SVG, WRITE_HEATMAP, WRITE_GRID, N_WRITERS };
static const char *const writer_names[N_WRITERS] = { "npy", "png", "svg", "heatmap", "grid" };

/* Writes a small but multi-block output (a few hundred kB, so stdio flushes during the writing too). */
static int write_with(int writer, const char *path, char *err, size_t errlen)
{
    enum { H = 200, W = 200 };
    static float img[3 * H * W];
    uint32_t r = 12345; /* noise, so that PNG's deflate cannot shrink it below the size limit below */
    for (int i = 0; i < 3 * H * W; i++) {
        r ^= r << 13, r ^= r >> 17, r ^= r << 5;
        img[i] = (float)(r % 1000) / 999.0f;
    }
    switch (writer) {
    case WRITE_NPY: return xai_npy_write(path, img, 3, (int64_t[]){ 3, H, W }, err, errlen);
    case WRITE_PNG: return xai_png_write(path, img, 3, H, W, err, errlen);
    case WRITE_SVG: {
        static float x[H * W / 4];
        for (int i = 0; i < H * W / 4; i++) x[i] = (float)i;
        xai_plot_series s = { "noise", img };
        xai_plot plot = { .title = "t", .x = x, .n_points = H * W / 4, .series = &s, .n_series = 1 };
        return xai_plot_write_svg(path, &plot, err, errlen);
    }
    case WRITE_HEATMAP: return xai_heatmap_write_png(path, img, NULL, 3, 1, H, W, NULL, err, errlen);
    default: return xai_image_grid_write_png(path, img, 3, 1, H, W, 0, 1, err, errlen);
    }
}

Test(writers, dev_full_is_an_error_and_stays_a_device)
{
    if (!have_dev("/dev/full")) cr_skip_test("no /dev/full here");
    for (int w = 0; w < N_WRITERS; w++) {
        char err[256] = "";
        cr_assert_eq(write_with(w, "/dev/full", err, sizeof err), XAI_EIO, "%s: %s", writer_names[w], err);
        cr_assert(strstr(err, "/dev/full: write failed: No space left on device"), "%s: %s", writer_names[w], err);
        cr_assert(have_dev("/dev/full"), "%s removed /dev/full", writer_names[w]);
        cr_assert_eq(write_with(w, "/dev/null", err, sizeof err), XAI_OK, "%s: %s", writer_names[w], err);
        cr_assert(have_dev("/dev/null"), "%s replaced /dev/null", writer_names[w]);
    }
}

Test(writers, directory_target_is_an_error_and_stays)
{
    char *dir = fresh_dir("wdir");
    for (int w = 0; w < N_WRITERS; w++) {
        char err[256] = "";
        cr_assert_eq(write_with(w, dir, err, sizeof err), XAI_EIO, "%s: %s", writer_names[w], err);
        cr_assert(strstr(err, "cannot write to a directory"), "%s: %s", writer_names[w], err);
    }
    struct stat sb;
    cr_assert(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode));
    cr_assert_eq(count_entries(dir), 0);
    free(dir);
}

/* Under a 64 kB file size limit every writer fails (EFBIG) and leaves the previous file as it was. */
Test(writers, file_size_limit_leaves_the_previous_file, .timeout = 60)
{
    char *dir = fresh_dir("wfsize");
    for (int w = 0; w < N_WRITERS; w++) {
        char *p = join(dir, writer_names[w]);
        FILE *f = fopen(p, "wb");
        fputs("previous", f);
        fclose(f);
        pid_t pid = fork();
        cr_assert_neq(pid, -1);
        if (pid == 0) {
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit rl = { 1 << 16, 1 << 16 };
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(2);
            char err[256] = "";
            if (write_with(w, p, err, sizeof err) != XAI_EIO) _exit(3);
            _exit(strstr(err, "write failed: File too large (the previous file is unchanged)") ? 0 : 4);
        }
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child status %d", writer_names[w], status);
        size_t len;
        char *kept = tu_read_file(p, &len);
        cr_assert(kept && len == 8 && !memcmp(kept, "previous", 8), "%s changed the previous file", writer_names[w]);
        free(kept);
        cr_assert_eq(count_entries(dir), w + 1, "%s left a temporary file", writer_names[w]);
        free(p);
    }
    free(dir);
}

/* A FIFO target gets the same bytes as a regular file would, through the FIFO, which stays a FIFO. */
Test(writers, fifo_is_written_in_place, .timeout = 60)
{
    char *dir = fresh_dir("wfifo"), *fifo = join(dir, "out.fifo"), *copy = join(dir, "copy"),
         *plain = join(dir, "plain");
    cr_assert_eq(mkfifo(fifo, 0666), 0);
    for (int w = 0; w < N_WRITERS; w++) {
        pid_t pid = fork();
        cr_assert_neq(pid, -1);
        if (pid == 0) { /* drains the FIFO into `copy` */
            alarm(30);
            int in = open(fifo, O_RDONLY), out = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            char buf[65536];
            ssize_t n;
            while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
                if (write(out, buf, (size_t)n) != n) _exit(3);
            _exit(in < 0 || out < 0 || close(out) != 0);
        }
        char err[256] = "";
        cr_assert_eq(write_with(w, fifo, err, sizeof err), XAI_OK, "%s: %s", writer_names[w], err);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        cr_assert_eq(write_with(w, plain, err, sizeof err), XAI_OK, "%s: %s", writer_names[w], err);
        size_t n_copy, n_plain;
        char *a = tu_read_file(copy, &n_copy), *b = tu_read_file(plain, &n_plain);
        cr_assert(a && b && n_copy == n_plain && n_plain > 1000 && !memcmp(a, b, n_plain),
                  "%s: %zu bytes through the FIFO, %zu to a file", writer_names[w], n_copy, n_plain);
        free(a);
        free(b);
        struct stat sb;
        cr_assert(lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode), "%s replaced the FIFO", writer_names[w]);
    }
    cr_assert_eq(count_entries(dir), 3);
    free(plain);
    free(copy);
    free(fifo);
    free(dir);
}
