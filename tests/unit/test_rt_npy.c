/* libxairt .npy reader/writer: files written by numpy (tests/data/rt, see gen.py), hand-built
 * headers in every spelling the format allows, and one test per malformation. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "xairt.h"

#define D "tests/data/rt/"

/* Writes a .npy with the given version and header text (padded to a multiple of 16 with a final
 * newline, as numpy does) followed by `len` data bytes; returns the malloc'd path. */
static char *make_npy(const char *name, int major, const char *dict, const void *data, size_t len)
{
    size_t pre = major == 1 ? 10 : 12, n = strlen(dict);
    size_t hlen = (pre + n + 1 + 15) / 16 * 16 - pre;
    unsigned char *buf = calloc(1, pre + hlen + len);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[8] = hlen & 0xff;
    buf[9] = (hlen >> 8) & 0xff;
    memcpy(buf + pre, dict, n);
    memset(buf + pre + n, ' ', hlen - n - 1);
    buf[pre + hlen - 1] = '\n';
    if (len) memcpy(buf + pre + hlen, data, len);
    char *path = tu_write_temp(name, buf, pre + hlen + len);
    free(buf);
    return path;
}

static const float six[6] = { -1, -0.5f, 0, 0.5f, 1, 1.5f };

static void expect_six(const xai_array *a)
{
    cr_assert_eq(a->rank, 2);
    cr_assert_eq(a->shape[0], 2);
    cr_assert_eq(a->shape[1], 3);
    for (int i = 0; i < 6; i++) cr_assert_eq(a->data[i], six[i], "element %d: %g", i, a->data[i]);
}

Test(npy, numpy_f4_v1)
{
    xai_array a;
    char err[256] = "";
    cr_assert_eq(xai_npy_read(D "f4_2x3.npy", &a, 0, err, sizeof err), XAI_OK, "%s", err);
    expect_six(&a);
    cr_assert_eq(xai_array_count(&a), 6);
    xai_array_free(&a);
    cr_assert_null(a.data);
}

Test(npy, numpy_versions_2_and_3)
{
    const char *files[] = { D "v2.npy", D "v3.npy" };
    for (int i = 0; i < 2; i++) {
        xai_array a;
        char err[256] = "";
        cr_assert_eq(xai_npy_read(files[i], &a, 0, err, sizeof err), XAI_OK, "%s: %s", files[i], err);
        expect_six(&a);
        xai_array_free(&a);
    }
}

Test(npy, scalar_and_empty)
{
    xai_array a;
    char err[256] = "";
    cr_assert_eq(xai_npy_read(D "scalar.npy", &a, 0, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(a.rank, 0);
    cr_assert_eq(xai_array_count(&a), 1);
    cr_assert_eq(a.data[0], 42.5f);
    xai_array_free(&a);
    cr_assert_eq(xai_npy_read(D "empty_0x3.npy", &a, 0, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(a.rank, 2);
    cr_assert_eq(a.shape[0], 0);
    cr_assert_eq(a.shape[1], 3);
    cr_assert_eq(xai_array_count(&a), 0);
    xai_array_free(&a);
}

Test(npy, convert_other_dtypes)
{
    struct {
        const char *file;
        int n;
        float v[4];
    } cases[] = {
        { D "f8_3.npy", 3, { 1.5f, -2.25f, 1e10f } },     { D "u1_2x2.npy", 4, { 0, 255, 7, 128 } },
        { D "i4_4.npy", 4, { -3, 0, 7, 2147483647.0f } }, { D "i8_2.npy", 2, { -1099511627776.0f, 12345 } },
        { D "be_f4.npy", 2, { 1.25f, -3.5f } },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        xai_array a;
        char err[256] = "";
        cr_assert_eq(xai_npy_read(cases[c].file, &a, 1, err, sizeof err), XAI_OK, "%s: %s", cases[c].file, err);
        cr_assert_eq(xai_array_count(&a), cases[c].n, "%s", cases[c].file);
        for (int i = 0; i < cases[c].n; i++)
            cr_assert_eq(a.data[i], cases[c].v[i], "%s[%d] = %g", cases[c].file, i, a.data[i]);
        xai_array_free(&a);
        /* Without convert the same file is a dtype error naming the dtype. */
        cr_assert_eq(xai_npy_read(cases[c].file, &a, 0, err, sizeof err), XAI_EDTYPE, "%s", cases[c].file);
        cr_assert(strstr(err, "is not float32 (convert is off)"), "%s", err);
        cr_assert_null(a.data);
    }
}

Test(npy, dtype_message_names_file_and_dtype)
{
    xai_array a;
    char err[256];
    cr_assert_eq(xai_npy_read(D "f8_3.npy", &a, 0, err, sizeof err), XAI_EDTYPE);
    cr_assert_str_eq(err, D "f8_3.npy: dtype '<f8' is not float32 (convert is off)");
}

Test(npy, unknown_dtype)
{
    xai_array a;
    char err[256];
    cr_assert_eq(xai_npy_read(D "c8.npy", &a, 1, err, sizeof err), XAI_EDTYPE);
    cr_assert(strstr(err, "unsupported dtype '<c8'"), "%s", err);
    float x = 1;
    char *p = make_npy("f2.npy", 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }", &x, 2);
    cr_assert_eq(xai_npy_read(p, &a, 1, err, sizeof err), XAI_EDTYPE);
    cr_assert(strstr(err, "'<f2'"), "%s", err);
    free(p);
    p = make_npy("bar.npy", 1, "{'descr': '|f4', 'fortran_order': False, 'shape': (1,), }", &x, 4);
    cr_assert_eq(xai_npy_read(p, &a, 1, err, sizeof err), XAI_EDTYPE);
    cr_assert(strstr(err, "unsupported dtype '|f4'"), "%s", err);
    free(p);
    p = make_npy("rec.npy", 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", &x, 4);
    cr_assert_eq(xai_npy_read(p, &a, 1, err, sizeof err), XAI_EDTYPE);
    cr_assert(strstr(err, "structured"), "%s", err);
    free(p);
}

Test(npy, fortran_order_rejected)
{
    xai_array a;
    char err[256];
    cr_assert_eq(xai_npy_read(D "fortran.npy", &a, 0, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "fortran_order"), "%s", err);
}

Test(npy, header_spellings)
{
    /* Key order, quotes, spacing, trailing comma or not, (5) without comma, Python 2 longs. */
    const char *dicts[] = {
        "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
        "{ \"descr\" : \"<f4\" ,\"fortran_order\":False,'shape':(2,3,) , }",
        "{'descr':'<f4','fortran_order':False,'shape':(  2 ,  3  )}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }",
    };
    for (size_t i = 0; i < sizeof dicts / sizeof dicts[0]; i++) {
        char *p = make_npy("h.npy", 1, dicts[i], six, sizeof six);
        xai_array a;
        char err[256] = "";
        cr_assert_eq(xai_npy_read(p, &a, 0, err, sizeof err), XAI_OK, "%s: %s", dicts[i], err);
        expect_six(&a);
        xai_array_free(&a);
        free(p);
    }
    char *p = make_npy("one.npy", 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", six, 20);
    xai_array a;
    char err[256] = "";
    cr_assert_eq(xai_npy_read(p, &a, 0, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(a.rank, 1);
    cr_assert_eq(a.shape[0], 5);
    cr_assert_eq(a.data[4], 1.0f);
    xai_array_free(&a);
    free(p);
}

/* One malformed header per case: status and a word the message must contain. */
Test(npy, malformed_headers)
{
    struct {
        const char *dict;
        int status;
        const char *says;
    } cases[] = {
        { "{'descr': '<f4', 'fortran_order': False}", XAI_EFORMAT, "'shape' is missing" },
        { "{'fortran_order': False, 'shape': (6,)}", XAI_EFORMAT, "'descr' is missing" },
        { "{'descr': '<f4', 'shape': (6,)}", XAI_EFORMAT, "'fortran_order' is missing" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", XAI_EFORMAT, "unexpected key 'x'" },
        { "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", XAI_EFORMAT, "appears twice" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}", XAI_EFORMAT, "not a non-negative integer" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': [6]}", XAI_EFORMAT, "not a tuple" },
        { "{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}", XAI_EFORMAT, "not True or False" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)", XAI_EFORMAT, "expected" },
        { "{'descr: '<f4', 'fortran_order': False, 'shape': (6,)}", XAI_EFORMAT, "header" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,6)}", XAI_EFORMAT, "more than 8" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", XAI_EFORMAT, "too large" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} junk", XAI_EFORMAT, "after the dict" },
        { "not a dict", XAI_EFORMAT, "expected '{'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = make_npy("bad.npy", 1, cases[i].dict, six, sizeof six);
        xai_array a;
        char err[256] = "";
        int st = xai_npy_read(p, &a, 1, err, sizeof err);
        cr_assert_eq(st, cases[i].status, "%s -> %d (%s)", cases[i].dict, st, err);
        cr_assert(strstr(err, cases[i].says), "%s -> '%s' lacks '%s'", cases[i].dict, err, cases[i].says);
        cr_assert(strstr(err, "bad.npy: "), "%s", err);
        cr_assert_null(a.data);
        free(p);
    }
}

Test(npy, truncated_data_and_size_mismatch)
{
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    xai_array a;
    char err[256];
    char *p = make_npy("short.npy", 1, dict, six, sizeof six - 1);
    cr_assert_eq(xai_npy_read(p, &a, 0, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "truncated") && strstr(err, "needs 24 bytes") && strstr(err, "has 23"), "%s", err);
    free(p);
    float seven[7] = { 0 };
    p = make_npy("long.npy", 1, dict, seven, sizeof seven);
    cr_assert_eq(xai_npy_read(p, &a, 0, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "trailing"), "%s", err);
    free(p);
    /* A shape whose byte size overflows int64 must not turn into a small allocation. */
    p = make_npy("huge.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4)}", six, 24);
    cr_assert_eq(xai_npy_read(p, &a, 0, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "shape [4611686018427387904, 4] of '<f4' is too large (its size overflows)"), "%s", err);
    free(p);
    /* bytes fit in int64 but the float copy of an int8 array does not */
    p = make_npy("huge8.npy", 1, "{'descr': '|i1', 'fortran_order': False, 'shape': (4611686018427387904, 1)}", six,
                 24);
    cr_assert_eq(xai_npy_read(p, &a, 1, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "too large"), "%s", err);
    free(p);
}

Test(npy, bad_preamble)
{
    xai_array a;
    char err[256];
    char *p = tu_write_temp("magic.npy", "\x93NUMPZ\x01\x00\x10\x00", 10);
    cr_assert_eq(xai_npy_read(p, &a, 0, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "bad magic"), "%s", err);
    free(p);
    p = tu_write_temp("ver.npy", "\x93NUMPY\x04\x00\x10\x00", 10);
    cr_assert_eq(xai_npy_read(p, &a, 0, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "version 4.0"), "%s", err);
    free(p);
    p = tu_write_temp("hlen.npy", "\x93NUMPY\x01\x00\xff\x7f{'d", 13);
    cr_assert_eq(xai_npy_read(p, &a, 0, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "header length 32767 exceeds file size 13"), "%s", err);
    free(p);
    p = tu_write_temp("big.npy", "\x93NUMPY\x02\x00\x00\x00\x00\x40{'d", 15);
    cr_assert_eq(xai_npy_read(p, &a, 0, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "header length 1073741824 exceeds the 1048576-byte limit"), "%s", err);
    free(p);
    p = tu_write_temp("tiny.npy", "\x93NU", 3);
    cr_assert_eq(xai_npy_read(p, &a, 0, err, sizeof err), XAI_EFORMAT);
    free(p);
    cr_assert_eq(xai_npy_read("tests/data/rt/no-such-file.npy", &a, 0, err, sizeof err), XAI_EIO);
    cr_assert(strstr(err, "no-such-file.npy: cannot open"), "%s", err);
    cr_assert_eq(xai_npy_read(NULL, &a, 0, err, sizeof err), XAI_ENULL);
    /* err may be NULL or tiny: no crash, message truncated. */
    cr_assert_eq(xai_npy_read(D "fortran.npy", &a, 0, NULL, 0), XAI_EFORMAT);
    char small[8];
    cr_assert_eq(xai_npy_read(D "fortran.npy", &a, 0, small, sizeof small), XAI_EFORMAT);
    cr_assert_eq(strlen(small), 7);
}

Test(npy, write_round_trip_and_layout)
{
    const char *path = "rt.npy";
    char *p = tu_write_temp(path, "", 0);
    int64_t shape[3] = { 1, 2, 3 };
    char err[256] = "";
    cr_assert_eq(xai_npy_write(p, six, 3, shape, err, sizeof err), XAI_OK, "%s", err);
    size_t len;
    char *bytes = tu_read_file(p, &len);
    cr_assert_not_null(bytes);
    cr_assert_eq(memcmp(bytes, "\x93NUMPY\x01\x00", 8), 0);
    size_t hlen = (unsigned char)bytes[8] | (size_t)(unsigned char)bytes[9] << 8;
    cr_assert_eq((10 + hlen) % 64, 0, "data starts at %zu", 10 + hlen);
    cr_assert_eq(bytes[10 + hlen - 1], '\n');
    cr_assert(strstr(bytes + 10, "'shape': (1, 2, 3)"), "%.*s", (int)hlen, bytes + 10);
    cr_assert_eq(len, 10 + hlen + sizeof six);
    cr_assert_eq(memcmp(bytes + 10 + hlen, six, sizeof six), 0);
    free(bytes);

    xai_array a;
    cr_assert_eq(xai_npy_read(p, &a, 0, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(a.rank, 3);
    cr_assert_eq(a.shape[0], 1);
    for (int i = 0; i < 6; i++) cr_assert_eq(a.data[i], six[i]);
    xai_array_free(&a);

    /* rank 0 and rank 1 use numpy's spelling () and (n,) */
    cr_assert_eq(xai_npy_write(p, six, 0, NULL, err, sizeof err), XAI_OK, "%s", err);
    bytes = tu_read_file(p, NULL);
    cr_assert(strstr(bytes + 10, "'shape': ()"));
    free(bytes);
    cr_assert_eq(xai_npy_read(p, &a, 0, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(a.rank, 0);
    cr_assert_eq(a.data[0], -1.0f);
    xai_array_free(&a);
    int64_t five = 5;
    cr_assert_eq(xai_npy_write(p, six, 1, &five, err, sizeof err), XAI_OK, "%s", err);
    bytes = tu_read_file(p, NULL);
    cr_assert(strstr(bytes + 10, "'shape': (5,)"));
    free(bytes);
    free(p);
}

Test(npy, numpy_reads_what_we_write)
{
    char *p = tu_write_temp("np.npy", "", 0);
    int64_t shape[2] = { 3, 2 };
    cr_assert_eq(xai_npy_write(p, six, 2, shape, NULL, 0), XAI_OK);
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as n; a=n.load('%s'); print(a.dtype, a.shape, a.sum())\"", p);
    int rc = tu_run(cmd, &out);
    if (rc == 0) cr_assert_str_eq(out, "float32 (3, 2) 1.5\n"); /* only checked where numpy exists */
    free(out);
    free(p);
}

Test(npy, write_errors)
{
    char err[256];
    int64_t bad[2] = { 2, -3 };
    cr_assert_eq(xai_npy_write("/tmp/x.npy", six, 2, bad, err, sizeof err), XAI_ESHAPE);
    cr_assert(strstr(err, "negative"), "%s", err);
    cr_assert_eq(xai_npy_write("/tmp/x.npy", six, 9, bad, err, sizeof err), XAI_EARG);
    cr_assert_eq(xai_npy_write("/nonexistent-dir/x.npy", six, 2, (int64_t[]){ 2, 3 }, err, sizeof err), XAI_EIO);
    cr_assert(strstr(err, "/nonexistent-dir/x.npy: cannot open for writing"), "%s", err);
}
