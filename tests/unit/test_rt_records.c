/* Data sets a record at a time (xai_records_*) against the whole-file readers (xai_npy_read, xai_idx_read, tested
 * against numpy's files in test_rt_npy.c / test_rt_idx.c), and the .npy filled region by region
 * (xai_npy_sized_*) against xai_npy_write, byte for byte. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "testutil.h"
#include "xairt.h"

static char *write_npy(const char *name, int rank, const int64_t *shape, const float *data)
{
    char *path = tu_write_temp(name, "", 0), err[256];
    cr_assert_eq(xai_npy_write(path, data, rank, shape, err, sizeof err), XAI_OK, "%s", err);
    return path;
}

/* every chunking of the records reads what the whole-file reader reads */
static void expect_chunks_equal_whole(const char *path, int is_idx)
{
    xai_array whole;
    char err[256];
    int st = is_idx ? xai_idx_read(path, 1.0f / 255, &whole, err, sizeof err)
                    : xai_npy_read(path, &whole, 1, err, sizeof err);
    cr_assert_eq(st, XAI_OK, "%s", err);
    xai_records *r;
    xai_records_info info;
    cr_assert_eq(xai_records_open(path, 1.0f / 255, 1, &r, &info, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(info.records, whole.shape[0]);
    cr_assert_eq(info.complete, info.records);
    cr_assert_eq(info.records * info.record_values, xai_array_count(&whole));
    float *buf = malloc(sizeof(float) * (size_t)(info.records * info.record_values) + 4);
    int64_t sizes[] = { 1, 3, 7, info.records };
    for (int k = 0; k < 4; k++) {
        memset(buf, 0xFF, sizeof(float) * (size_t)(info.records * info.record_values));
        for (int64_t first = 0; first < info.records; first += sizes[k]) {
            int64_t n = info.records - first < sizes[k] ? info.records - first : sizes[k], done;
            cr_assert_eq(xai_records_read(r, first, n, buf + first * info.record_values, &done, err, sizeof err),
                         XAI_OK, "%s", err);
            cr_assert_eq(done, n);
        }
        cr_assert(!memcmp(buf, whole.data, sizeof(float) * (size_t)xai_array_count(&whole)), "chunks of %lld",
                  (long long)sizes[k]);
    }
    /* backwards, one record at a time (gzip starts over each time) */
    for (int64_t i = info.records - 1; i >= 0; i--) {
        cr_assert_eq(xai_records_read(r, i, 1, buf, NULL, err, sizeof err), XAI_OK, "%s", err);
        cr_assert(!memcmp(buf, whole.data + i * info.record_values, sizeof(float) * (size_t)info.record_values));
    }
    free(buf);
    xai_records_close(r);
    xai_array_free(&whole);
}

Test(records, npy_chunks_equal_the_whole_file)
{
    int64_t shape[4] = { 23, 2, 3, 5 };
    float *x = malloc(sizeof(float) * 23 * 30);
    for (int i = 0; i < 23 * 30; i++) x[i] = (float)i * 0.25f - 7;
    char *p = write_npy("r.npy", 4, shape, x);
    expect_chunks_equal_whole(p, 0);
    /* a dtype converted (uint8, from the numpy fixtures) */
    expect_chunks_equal_whole("tests/data/rt/u1_2x2.npy", 0);
    free(p), free(x);
}

static unsigned char *idx_bytes(int n, int h, int w, size_t *len)
{
    *len = 4 + 12 + (size_t)n * h * w;
    unsigned char *b = malloc(*len);
    unsigned char hdr[16] = {
        0, 0, 0x08, 3, 0, 0, 0, (unsigned char)n, 0, 0, 0, (unsigned char)h, 0, 0, 0, (unsigned char)w
    };
    memcpy(b, hdr, 16);
    for (size_t i = 16; i < *len; i++) b[i] = (unsigned char)(i * 37);
    return b;
}

static unsigned char *gzip(const unsigned char *in, size_t len, size_t *out_len)
{
    z_stream z = { 0 };
    cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, len);
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *)in, z.avail_in = (uInt)len, z.next_out = out, z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

Test(records, idx_plain_and_gzip_chunks_equal_the_whole_file)
{
    size_t len, glen;
    unsigned char *b = idx_bytes(17, 5, 6, &len), *g = gzip(b, len, &glen);
    char *plain = tu_write_temp("d.idx", b, len), *gz = tu_write_temp("d.idx.gz", g, glen);
    expect_chunks_equal_whole(plain, 1);
    expect_chunks_equal_whole(gz, 1);
    free(b), free(g), free(plain), free(gz);
}

Test(records, truncated_files_name_the_first_missing_record)
{
    int64_t shape[2] = { 10, 6 };
    float x[60];
    for (int i = 0; i < 60; i++) x[i] = (float)i;
    char *p = write_npy("t.npy", 2, shape, x), err[256];
    size_t len;
    char *bytes = tu_read_file(p, &len);
    char *cut = tu_write_temp("cut.npy", bytes, len - 30); /* record 8 loses 6 of its 24 bytes, record 9 all */
    xai_records *r;
    xai_records_info info;
    cr_assert_eq(xai_records_open(cut, 1, 1, &r, &info, err, sizeof err), XAI_OK, "%s", err);
    cr_expect_eq(info.records, 10);
    cr_expect_eq(info.complete, 8);
    float buf[60];
    int64_t done;
    cr_expect_eq(xai_records_read(r, 0, 8, buf, &done, err, sizeof err), XAI_OK, "%s", err);
    cr_expect(!memcmp(buf, x, sizeof(float) * 48));
    cr_expect_eq(xai_records_read(r, 6, 4, buf, &done, err, sizeof err), XAI_EFORMAT);
    cr_expect_eq(done, 2);
    cr_expect(strstr(err, "cut.npy: record 8 of 10: truncated") != NULL, "%s", err);
    xai_records_close(r);
    /* trailing bytes are an error at once */
    char *longer = malloc(len + 3);
    memcpy(longer, bytes, len);
    char *tail = tu_write_temp("tail.npy", longer, len + 3);
    cr_expect_eq(xai_records_open(tail, 1, 1, &r, &info, err, sizeof err), XAI_EFORMAT);
    cr_expect(strstr(err, "trailing bytes") != NULL, "%s", err);
    /* a gzip IDX cut short: known when the reading gets there */
    size_t ilen, glen;
    unsigned char *b = idx_bytes(9, 4, 4, &ilen), *g = gzip(b, ilen, &glen);
    char *gz = tu_write_temp("cut.idx.gz", g, glen * 2 / 3);
    cr_assert_eq(xai_records_open(gz, 1, 1, &r, &info, err, sizeof err), XAI_OK, "%s", err);
    int st = XAI_OK;
    int64_t i = 0;
    for (; i < 9 && st == XAI_OK; i++) st = xai_records_read(r, i, 1, buf, NULL, err, sizeof err);
    cr_expect_eq(st, XAI_EFORMAT);
    cr_expect(strstr(err, "cut.idx.gz: record ") != NULL && strstr(err, " of 9: ") != NULL, "%s", err);
    xai_records_close(r);
    free(p), free(bytes), free(cut), free(longer), free(tail), free(b), free(g), free(gz);
}

Test(records, not_a_data_set)
{
    xai_records *r;
    xai_records_info info;
    char err[256];
    char *t = tu_write_temp("text.npy", "hello world", 11);
    cr_expect_eq(xai_records_open(t, 1, 1, &r, &info, err, sizeof err), XAI_EFORMAT);
    cr_expect(strstr(err, "text.npy") != NULL, "%s", err);
    cr_expect_null(r);
    cr_expect_eq(xai_records_open("tests", 1, 1, &r, &info, err, sizeof err), XAI_EIO);
    cr_expect(strstr(err, "is a directory") != NULL, "%s", err);
    int64_t scalar_shape[1] = { 0 };
    char *s = write_npy("scalar.npy", 0, scalar_shape, (float[]){ 1 });
    cr_expect_eq(xai_records_open(s, 1, 1, &r, &info, err, sizeof err), XAI_ESHAPE);
    cr_expect(strstr(err, "not a data set of records") != NULL, "%s", err);
    free(t), free(s);
}

Test(npy_sized, regions_in_any_order_give_xai_npy_write_bytes)
{
    int64_t shape[3] = { 11, 3, 4 };
    float x[132];
    for (int i = 0; i < 132; i++) x[i] = (float)i / 7 - 3;
    char *ref = write_npy("ref.npy", 3, shape, x), err[256];
    char *part = tu_write_temp("out.npy.part", "", 0), *target = tu_write_temp("out.npy", "old", 3);
    chmod(target, 0640);
    xai_npy_sized *f;
    cr_assert_eq(xai_npy_sized_open(part, 3, shape, XAI_NPY_CREATE, &f, err, sizeof err), XAI_OK, "%s", err);
    int64_t order[][2] = { { 8, 3 }, { 0, 4 }, { 4, 4 } };
    for (int i = 0; i < 3; i++)
        cr_assert_eq(xai_npy_sized_write(f, order[i][0], order[i][1], x + order[i][0] * 12, err, sizeof err), XAI_OK,
                     "%s", err);
    cr_assert_eq(xai_npy_sized_sync(f, err, sizeof err), XAI_OK);
    float back[24];
    cr_assert_eq(xai_npy_sized_read(f, 2, 2, back, err, sizeof err), XAI_OK);
    cr_expect(!memcmp(back, x + 24, sizeof back));
    cr_expect_eq(xai_npy_sized_write(f, 10, 2, x, err, sizeof err), XAI_EARG, "past the end");
    cr_assert_eq(xai_npy_sized_close(f), XAI_OK);
    /* reopened by a second writer (another rank, or a resumed run) */
    cr_assert_eq(xai_npy_sized_open(part, 3, shape, XAI_NPY_REOPEN, &f, err, sizeof err), XAI_OK, "%s", err);
    int64_t other[3] = { 11, 4, 3 };
    xai_npy_sized *g;
    cr_expect_eq(xai_npy_sized_open(part, 3, other, XAI_NPY_REOPEN, &g, err, sizeof err), XAI_EFORMAT);
    cr_expect(strstr(err, "not the partial output of this job") != NULL, "%s", err);
    cr_assert_eq(xai_npy_sized_commit(f, target, err, sizeof err), XAI_OK, "%s", err);
    size_t a_len, b_len;
    char *a = tu_read_file(ref, &a_len), *b = tu_read_file(target, &b_len);
    cr_assert_eq(a_len, b_len);
    cr_expect(!memcmp(a, b, a_len), "the committed file is xai_npy_write's, byte for byte");
    struct stat st;
    cr_expect(stat(target, &st) == 0 && (st.st_mode & 0777) == 0640, "permissions kept");
    cr_expect(access(part, F_OK) != 0, "the partial file is gone");
    /* a directory is not replaced */
    cr_assert_eq(xai_npy_sized_open(part, 3, shape, XAI_NPY_CREATE, &f, err, sizeof err), XAI_OK);
    cr_expect_eq(xai_npy_sized_commit(f, tu_tmpdir(), err, sizeof err), XAI_EIO);
    cr_expect(strstr(err, "not a regular file") != NULL, "%s", err);
    free(ref), free(part), free(target), free(a), free(b);
}

/* The resident pages of a file's mappings, from /proc/self/smaps (kB). */
static long mapped_kb(const char *path)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    cr_assert_not_null(f);
    char line[4096];
    int in = 0;
    long kb = 0, v;
    unsigned long lo, hi;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) /* a mapping's header line: its range, ..., its file */
            in = strstr(line, path) != NULL;
        else if (in && sscanf(line, "Rss: %ld kB", &v) == 1)
            kb += v;
    }
    fclose(f);
    return kb;
}

/* Reading a data set chunk by chunk keeps its mapping's resident pages bounded: the pages the kernel maps beside a
 * read (fault-around) are released too, or 10 % of the file stayed resident. */
Test(records, resident_pages_stay_bounded_over_a_large_file, .timeout = 120)
{
    const int64_t n = 96000; /* 75 MB of 28x28 bytes */
    char *path = tu_write_temp("large.idx", "", 0), err[256];
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    unsigned char header[16] = { 0,
                                 0,
                                 8,
                                 3,
                                 (unsigned char)(n >> 24),
                                 (unsigned char)(n >> 16),
                                 (unsigned char)(n >> 8),
                                 (unsigned char)n,
                                 0,
                                 0,
                                 0,
                                 28,
                                 0,
                                 0,
                                 0,
                                 28 };
    fwrite(header, 1, 16, f);
    unsigned char *rec = malloc(784 * 1000);
    for (int i = 0; i < 784 * 1000; i++) rec[i] = (unsigned char)(i * 7);
    for (int64_t k = 0; k < n / 1000; k++) cr_assert_eq(fwrite(rec, 1, 784 * 1000, f), 784 * 1000);
    cr_assert_eq(fclose(f), 0);
    xai_records *r;
    xai_records_info info;
    cr_assert_eq(xai_records_open(path, 1.0f / 255, 1, &r, &info, err, sizeof err), XAI_OK, "%s", err);
    float *buf = malloc(sizeof(float) * 784 * 256);
    long worst = 0;
    for (int64_t first = 0; first < n; first += 256) {
        int64_t count = n - first < 256 ? n - first : 256, done = 0;
        cr_assert_eq(xai_records_read(r, first, count, buf, &done, err, sizeof err), XAI_OK, "%s", err);
        long kb = mapped_kb(path);
        if (kb > worst) worst = kb;
    }
    cr_expect_lt(worst, 4096, "up to %ld kB of the 75 MB file stayed resident", worst);
    xai_records_close(r);
    free(buf), free(rec), free(path);
}
