/* libxairt IDX (MNIST format) reader: a gzip file written by Python's gzip module, plain files built
 * byte by byte here, and the malformations. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "xairt.h"

#define D "tests/data/rt/"

Test(idx, gzip_images_scaled)
{
    static const int px[12] = { 0, 255, 51, 102, 1, 2, 3, 4, 250, 251, 252, 253 };
    xai_array a;
    char err[256] = "";
    cr_assert_eq(xai_idx_read(D "images.idx3.gz", 1.0f / 255, &a, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(a.rank, 3);
    cr_assert_eq(a.shape[0], 3);
    cr_assert_eq(a.shape[1], 2);
    cr_assert_eq(a.shape[2], 2);
    for (int i = 0; i < 12; i++) cr_assert_float_eq(a.data[i], px[i] / 255.0f, 1e-7, "[%d] = %g", i, a.data[i]);
    xai_array_free(&a);
}

Test(idx, plain_labels)
{
    const unsigned char f[] = { 0, 0, 0x08, 1, 0, 0, 0, 5, 7, 2, 1, 0, 4 };
    char *p = tu_write_temp("labels.idx1", f, sizeof f);
    xai_array a;
    char err[256] = "";
    cr_assert_eq(xai_idx_read(p, 1.0f, &a, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(a.rank, 1);
    cr_assert_eq(a.shape[0], 5);
    float want[5] = { 7, 2, 1, 0, 4 };
    for (int i = 0; i < 5; i++) cr_assert_eq(a.data[i], want[i]);
    xai_array_free(&a);
    free(p);
}

Test(idx, big_endian_types)
{
    struct {
        unsigned char bytes[32];
        size_t len;
        float v[2];
    } cases[] = {
        { { 0, 0, 0x09, 1, 0, 0, 0, 2, 0xff, 0x80 }, 10, { -1, -128 } },
        { { 0, 0, 0x0B, 1, 0, 0, 0, 2, 0xff, 0xfe, 0x01, 0x2c }, 12, { -2, 300 } },
        { { 0, 0, 0x0C, 1, 0, 0, 0, 2, 0xff, 0xfe, 0xee, 0x90, 0, 0, 0, 5 }, 16, { -70000, 5 } },
        { { 0, 0, 0x0D, 1, 0, 0, 0, 2, 0x3f, 0xc0, 0, 0, 0xbe, 0x80, 0, 0 }, 16, { 1.5f, -0.25f } },
        { { 0, 0, 0x0E, 1, 0, 0, 0, 2, 0x3f, 0x50, 0x62, 0x4d, 0xd2, 0xf1, 0xa9, 0xfc, 0xc0, 0x04, 0, 0, 0, 0, 0, 0 },
          24,
          { 1e-3f, -2.5f } },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *p = tu_write_temp("t.idx", cases[c].bytes, cases[c].len);
        xai_array a;
        char err[256] = "";
        /* scale applies to uint8 only */
        cr_assert_eq(xai_idx_read(p, 0.5f, &a, err, sizeof err), XAI_OK, "case %zu: %s", c, err);
        cr_assert_eq(a.shape[0], 2);
        for (int i = 0; i < 2; i++) cr_assert_eq(a.data[i], cases[c].v[i], "case %zu [%d] = %g", c, i, a.data[i]);
        xai_array_free(&a);
        free(p);
    }
}

static void expect_bad(const unsigned char *bytes, size_t len, int status, const char *says)
{
    char *p = tu_write_temp("bad.idx", bytes, len);
    xai_array a;
    char err[256] = "";
    int rc = xai_idx_read(p, 1.0f, &a, err, sizeof err);
    cr_assert_eq(rc, status, "%d (%s)", rc, err);
    cr_assert(strstr(err, says), "'%s' lacks '%s'", err, says);
    cr_assert(strstr(err, "bad.idx: "), "%s", err);
    cr_assert_null(a.data);
    cr_assert_eq(a.rank, 0);
    free(p);
}

#define B(...) (const unsigned char[]){ __VA_ARGS__ }, sizeof((const unsigned char[]){ __VA_ARGS__ })

Test(idx_bad, magic) { expect_bad(B(1, 0, 8, 1, 0, 0, 0, 1, 9), XAI_EFORMAT, "bad magic"); }
Test(idx_bad, empty_file) { expect_bad(B(0), XAI_EFORMAT, "bad magic"); }
Test(idx_bad, unknown_type)
{
    expect_bad(B(0, 0, 0x0A, 1, 0, 0, 0, 1, 9), XAI_EDTYPE, "unknown IDX element type 0x0A");
}
Test(idx_bad, zero_dims) { expect_bad(B(0, 0, 8, 0, 9), XAI_EFORMAT, "0 dimensions"); }
Test(idx_bad, nine_dims) { expect_bad(B(0, 0, 8, 9, 0, 0, 0, 1), XAI_EFORMAT, "9 dimensions"); }
Test(idx_bad, truncated_header) { expect_bad(B(0, 0, 8, 3, 0, 0, 0, 1, 0, 0), XAI_EFORMAT, "truncated header"); }
Test(idx_bad, truncated_data)
{
    expect_bad(B(0, 0, 0x0C, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5), XAI_EFORMAT,
               "truncated: dimensions [2, 2] need 16 bytes of data, found 5");
}
/* 4 GB announced, 3 bytes present: fails as truncated without allocating the 4 GB. */
Test(idx_bad, huge_claim_small_file)
{
    expect_bad(B(0, 0, 8, 2, 0, 1, 0, 0, 0, 1, 0, 0, 1, 2, 3), XAI_EFORMAT, "need 4294967296 bytes of data, found 3");
}
Test(idx_bad, dims_overflow)
{
    expect_bad(B(0, 0, 0x0E, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), XAI_EFORMAT,
               "too large");
    expect_bad(B(0, 0, 8, 2, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff), XAI_EFORMAT, "too large");
}
Test(idx_bad, trailing) { expect_bad(B(0, 0, 8, 1, 0, 0, 0, 1, 9, 9), XAI_EFORMAT, "trailing bytes"); }

Test(idx_bad, truncated_gzip)
{
    size_t len;
    char *gz = tu_read_file(D "images.idx3.gz", &len);
    char *p = tu_write_temp("cut.idx.gz", gz, len - 12);
    xai_array a;
    char err[256] = "";
    cr_assert_eq(xai_idx_read(p, 1.0f, &a, err, sizeof err), XAI_EFORMAT, "%s", err);
    cr_assert(strstr(err, "cut.idx.gz: "), "%s", err);
    cr_assert_null(a.data);
    free(p);
    free(gz);
}

Test(idx_bad, missing_file)
{
    xai_array a;
    char err[256];
    cr_assert_eq(xai_idx_read(D "nope.idx", 1.0f, &a, err, sizeof err), XAI_EIO);
    cr_assert(strstr(err, "nope.idx: cannot open"), "%s", err);
    cr_assert_eq(xai_idx_read(NULL, 1.0f, &a, err, sizeof err), XAI_ENULL);
}
