/* libxairt safetensors parser: files built byte by byte here, then one test per malformation
 * (status code and the words the message must contain). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "xairt.h"

/* 8-byte little-endian header length, the JSON, then `dlen` data bytes (copied from data or zero). */
static unsigned char *make_st(const char *json, const void *data, size_t dlen, size_t *size)
{
    size_t n = strlen(json);
    unsigned char *b = calloc(1, 8 + n + dlen + 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, json, n);
    if (data) memcpy(b + 8 + n, data, dlen);
    *size = 8 + n + dlen;
    return b;
}

/* fc.weight F32 [2, 3] and fc.bias F32 [2] and steps I64 [1], listed out of offset order. */
static const char *good_json = "{\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]},"
                               "\"__metadata__\":{\"format\":\"pt\"},"
                               "\"steps\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[32,40]},"
                               "\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";

static void good_data(unsigned char d[40])
{
    float w[8] = { 1, 2, 3, 4, 5, 6, -0.5f, 0.25f };
    int64_t steps = 1234567;
    memcpy(d, w, 32);
    memcpy(d + 32, &steps, 8);
}

Test(safetensors, parse_valid_borrowed)
{
    unsigned char d[40];
    good_data(d);
    size_t size;
    unsigned char *buf = make_st(good_json, d, 40, &size);
    xai_safetensors st;
    char err[256] = "";
    cr_assert_eq(xai_safetensors_parse(buf, size, 0, &st, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(st.n_tensors, 3);
    cr_assert_eq(st.borrowed, 1);
    cr_assert_eq(st.buffer, buf);
    cr_assert_eq(st.header_len, strlen(good_json));
    cr_assert_eq(st.data_offset, 8 + strlen(good_json));
    /* sorted by offset, whatever the JSON order */
    cr_assert_str_eq(st.tensors[0].name, "fc.weight");
    cr_assert_str_eq(st.tensors[1].name, "fc.bias");
    cr_assert_str_eq(st.tensors[2].name, "steps");

    const xai_st_tensor *w = xai_safetensors_find(&st, "fc.weight");
    cr_assert_not_null(w);
    cr_assert_eq(w->dtype, XAI_DT_F32);
    cr_assert_str_eq(w->dtype_name, "F32");
    cr_assert_eq(w->rank, 2);
    cr_assert_eq(w->shape[0], 2);
    cr_assert_eq(w->shape[1], 3);
    cr_assert_eq(w->begin, 0);
    cr_assert_eq(w->end, 24);
    cr_assert_eq(w->data, buf + st.data_offset);
    float v[6];
    memcpy(v, w->data, 24);
    for (int i = 0; i < 6; i++) cr_assert_eq(v[i], (float)(i + 1));
    const xai_st_tensor *b = xai_safetensors_find(&st, "fc.bias");
    cr_assert_not_null(b);
    memcpy(v, b->data, 8);
    cr_assert_eq(v[0], -0.5f);
    cr_assert_eq(v[1], 0.25f);
    const xai_st_tensor *s = xai_safetensors_find(&st, "steps");
    cr_assert_eq(s->dtype, XAI_DT_I64);
    int64_t steps;
    memcpy(&steps, s->data, 8);
    cr_assert_eq(steps, 1234567);
    cr_assert_null(xai_safetensors_find(&st, "__metadata__"));
    cr_assert_null(xai_safetensors_find(&st, "fc"));
    cr_assert_null(xai_safetensors_find(&st, NULL));
    xai_safetensors_close(&st);
    cr_assert_null(st.tensors);
    xai_safetensors_close(&st); /* idempotent */
    free(buf);                  /* borrowed: still ours */
}

Test(safetensors, parse_copy_outlives_input)
{
    unsigned char d[40];
    good_data(d);
    size_t size;
    unsigned char *buf = make_st(good_json, d, 40, &size);
    xai_safetensors st;
    cr_assert_eq(xai_safetensors_parse(buf, size, 1, &st, NULL, 0), XAI_OK);
    cr_assert_eq(st.borrowed, 0);
    cr_assert_neq(st.buffer, buf);
    memset(buf, 0xff, size);
    free(buf);
    const xai_st_tensor *w = xai_safetensors_find(&st, "fc.weight");
    float v;
    memcpy(&v, w->data + 20, 4);
    cr_assert_eq(v, 6.0f);
    xai_safetensors_close(&st);
}

Test(safetensors, open_file_and_crc)
{
    unsigned char d[40];
    good_data(d);
    size_t size;
    unsigned char *buf = make_st(good_json, d, 40, &size);
    char *p = tu_write_temp("w.safetensors", buf, size);
    xai_safetensors st;
    char err[256] = "";
    cr_assert_eq(xai_safetensors_open(p, &st, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(st.size, size);
    cr_assert_eq(st.n_tensors, 3);
    cr_assert_eq(xai_crc32(st.buffer, st.size), xai_crc32(buf, size));
    const xai_st_tensor *s = xai_safetensors_find(&st, "steps");
    int64_t steps;
    memcpy(&steps, s->data, 8);
    cr_assert_eq(steps, 1234567);
    xai_safetensors_close(&st);
    cr_assert_eq(xai_safetensors_open("tests/data/rt/none.safetensors", &st, err, sizeof err), XAI_EIO);
    cr_assert(strstr(err, "none.safetensors: cannot open"), "%s", err);
    cr_assert_eq(xai_safetensors_open("tests/data/rt", &st, err, sizeof err), XAI_EIO);
    free(p);
    free(buf);
}

Test(safetensors, lenient_but_valid_forms)
{
    struct {
        const char *json;
        size_t dlen;
        int n;
    } cases[] = {
        { "{}", 0, 0 },
        { "{\"__metadata__\":{}}", 0, 0 },
        { "{}      ", 0, 0 }, /* header padded with spaces, as the writer does */
        { "{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, 1 }, /* scalar */
        { "{\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[4,4]},"
          "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
          4, 2 }, /* empty tensor inside another's range is fine */
        { "{\"u\":{\"dtype\":\"U16\",\"shape\":[3],\"data_offsets\":[0,6]}}", 6, 1 },
        { "{\"x\":{\"dtype\":\"F4_WEIRD\",\"shape\":[3],\"data_offsets\":[0,1]}}", 1, 1 },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8e0]}}", 8, 1 }, /* integral JSON numbers */
        { "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[2,6]}}", 8, 1 },     /* holes are allowed */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t size;
        unsigned char *buf = make_st(cases[i].json, NULL, cases[i].dlen, &size);
        xai_safetensors st;
        char err[256] = "";
        cr_assert_eq(xai_safetensors_parse(buf, size, 0, &st, err, sizeof err), XAI_OK, "%s: %s", cases[i].json, err);
        cr_assert_eq(st.n_tensors, cases[i].n, "%s", cases[i].json);
        xai_safetensors_close(&st);
        free(buf);
    }
    size_t size;
    unsigned char *buf = make_st(cases[6].json, NULL, 1, &size);
    xai_safetensors st;
    cr_assert_eq(xai_safetensors_parse(buf, size, 0, &st, NULL, 0), XAI_OK);
    cr_assert_eq(st.tensors[0].dtype, XAI_DT_OTHER);
    cr_assert_str_eq(st.tensors[0].dtype_name, "F4_WEIRD");
    xai_safetensors_close(&st);
    free(buf);
}

static void expect_bad(const char *json, size_t dlen, const char *says)
{
    size_t size;
    unsigned char *buf = make_st(json, NULL, dlen, &size);
    xai_safetensors st;
    char err[512] = "";
    int rc = xai_safetensors_parse(buf, size, 0, &st, err, sizeof err);
    cr_assert_eq(rc, XAI_EFORMAT, "%s -> %d (%s)", json, rc, err);
    cr_assert(strstr(err, says), "%s -> '%s' lacks '%s'", json, err, says);
    cr_assert(!strchr(err, '\n'), "%s", err);
    cr_assert_null(st.tensors);
    cr_assert_eq(st.n_tensors, 0);
    /* the same through a file: the message starts with the path */
    char *p = tu_write_temp("bad.safetensors", buf, size);
    rc = xai_safetensors_open(p, &st, err, sizeof err);
    cr_assert_eq(rc, XAI_EFORMAT);
    cr_assert(!strncmp(err, p, strlen(p)), "%s", err);
    free(p);
    free(buf);
}

#define T(name, json, dlen, says)                                                                                      \
    Test(safetensors_bad, name) { expect_bad(json, dlen, says); }
#define E(dt, shape, offs) "{\"dtype\":" dt ",\"shape\":" shape ",\"data_offsets\":" offs "}"

T(invalid_json, "{\"a\":", 0, "not valid JSON")
T(trailing_garbage, "{} x", 0, "not valid JSON")
T(not_object, "[1,2]", 0, "header is not a JSON object")
T(empty_header, "", 0, "not valid JSON")
T(metadata_not_object, "{\"__metadata__\":[1]}", 0, "'__metadata__' is not a JSON object")
T(metadata_value_not_string, "{\"__metadata__\":{\"epochs\":3}}", 0, "'__metadata__' value 'epochs' is not a string")
T(tensor_not_object, "{\"a\":[1]}", 0, "tensor 'a' is not a JSON object")
T(missing_dtype, "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a' has no 'dtype'")
T(missing_shape, "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'a' has no 'shape'")
T(missing_offsets, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor 'a' has no 'data_offsets'")
T(dtype_not_string, "{\"a\":" E("32", "[1]", "[0,4]") "}", 4, "'dtype' is not a string")
T(dtype_too_long, "{\"a\":" E("\"F32F32F32F32F32F32\"", "[1]", "[0,4]") "}", 4, "too long")
T(shape_not_array, "{\"a\":" E("\"F32\"", "4", "[0,4]") "}", 4, "'shape' is not an array")
T(shape_negative, "{\"a\":" E("\"F32\"", "[2,-1]", "[0,4]") "}", 4, "shape[1] is negative")
T(shape_not_integer, "{\"a\":" E("\"F32\"", "[1.5]", "[0,4]") "}", 4, "shape[0] is not an integer")
T(shape_not_number, "{\"a\":" E("\"F32\"", "[\"1\"]", "[0,4]") "}", 4, "shape[0] is not a number")
T(shape_too_large, "{\"a\":" E("\"F32\"", "[1e300]", "[0,4]") "}", 4, "shape[0] is too large")
T(rank_over_8, "{\"a\":" E("\"F32\"", "[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4, "rank 9 exceeds 8")
T(offsets_not_array, "{\"a\":" E("\"F32\"", "[1]", "0") "}", 4, "'data_offsets' is not an array")
T(offsets_three, "{\"a\":" E("\"F32\"", "[1]", "[0,4,8]") "}", 8, "'data_offsets' is not an array [begin, end]")
T(offsets_negative, "{\"a\":" E("\"F32\"", "[1]", "[-4,0]") "}", 4, "data_offsets begin is negative")
T(offsets_not_integer, "{\"a\":" E("\"F32\"", "[1]", "[0,4.5]") "}", 8, "data_offsets end is not an integer")
T(end_before_begin, "{\"a\":" E("\"F32\"", "[0]", "[8,4]") "}", 8, "data_offsets [8, 4] end before they begin")
T(end_beyond_data, "{\"a\":" E("\"F32\"", "[3]", "[0,12]") "}", 8,
  "tensor 'a': data_offsets [0, 12] extend beyond the data section (8 bytes)")
T(size_mismatch, "{\"fc1.weight\":" E("\"F32\"", "[10,20]", "[0,400]") "}", 400,
  "tensor 'fc1.weight' data_offsets [0, 400] do not match shape [10, 20] of F32 (800 bytes)")
T(size_mismatch_i64, "{\"a\":" E("\"I64\"", "[2]", "[0,8]") "}", 8, "do not match shape [2] of I64 (16 bytes)")
T(shape_overflow, "{\"a\":" E("\"F32\"", "[4294967296,4294967296,4]", "[0,4]") "}", 4, "overflows")
T(shape_overflow_unknown_dtype, "{\"a\":" E("\"Q7\"", "[4294967296,4294967296,4294967296]", "[0,4]") "}", 4,
  "overflows")
T(overlap, "{\"a\":" E("\"F32\"", "[2]", "[0,8]") ",\"b\":" E("\"F32\"", "[2]", "[4,12]") "}", 12,
  "tensors 'a' and 'b' overlap")
T(overlap_nested,
  "{\"big\":" E("\"U8\"", "[10]", "[0,10]") ",\"x\":" E("\"U8\"", "[1]", "[2,3]") ",\"y\":" E("\"U8\"", "[1]",
                                                                                              "[5,6]") "}",
  10, "tensors 'big' and 'x' overlap")
T(duplicate_name, "{\"a\":" E("\"F32\"", "[1]", "[0,4]") ",\"a\":" E("\"F32\"", "[1]", "[4,8]") "}", 8,
  "tensor 'a' appears twice")

Test(safetensors_bad, header_length_exceeds_file)
{
    unsigned char buf[2048] = { 0 };
    uint64_t n = 1000000000000ull;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(n >> (8 * i));
    xai_safetensors st;
    char err[256];
    cr_assert_eq(xai_safetensors_parse(buf, sizeof buf, 0, &st, err, sizeof err), XAI_EFORMAT);
    cr_assert_str_eq(err, "safetensors buffer: header length 1000000000000 exceeds file size 2048");
    char *p = tu_write_temp("w.safetensors", buf, sizeof buf);
    cr_assert_eq(xai_safetensors_open(p, &st, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "w.safetensors: header length 1000000000000 exceeds file size 2048"), "%s", err);
    free(p);
    /* off by one: header length = size - 7 */
    size_t size;
    unsigned char *b = make_st("{}", NULL, 0, &size);
    b[0] = 3;
    cr_assert_eq(xai_safetensors_parse(b, size, 0, &st, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "header length 3 exceeds file size 10"), "%s", err);
    free(b);
}

Test(safetensors_bad, too_short)
{
    xai_safetensors st;
    char err[256];
    cr_assert_eq(xai_safetensors_parse("\x02\0\0\0", 4, 0, &st, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "too short"), "%s", err);
    cr_assert_eq(xai_safetensors_parse(NULL, 0, 0, &st, err, sizeof err), XAI_EFORMAT);
    cr_assert_eq(xai_safetensors_parse(NULL, 5, 0, &st, err, sizeof err), XAI_ENULL);
    cr_assert_eq(xai_safetensors_parse("", 0, 0, NULL, err, sizeof err), XAI_ENULL);
}

Test(safetensors_bad, nul_in_header)
{
    size_t size;
    unsigned char *b = make_st("{}  ", NULL, 0, &size);
    b[10] = 0;
    xai_safetensors st;
    char err[256];
    cr_assert_eq(xai_safetensors_parse(b, size, 0, &st, err, sizeof err), XAI_EFORMAT);
    cr_assert(strstr(err, "NUL"), "%s", err);
    free(b);
}

Test(safetensors_bad, newline_in_name_kept_on_one_line) { expect_bad("{\"a\\nb\":[1]}", 0, "is not a JSON object"); }

Test(safetensors, dtype_sizes)
{
    cr_assert_eq(xai_dtype_size(XAI_DT_F32), 4);
    cr_assert_eq(xai_dtype_size(XAI_DT_F64), 8);
    cr_assert_eq(xai_dtype_size(XAI_DT_F16), 2);
    cr_assert_eq(xai_dtype_size(XAI_DT_BF16), 2);
    cr_assert_eq(xai_dtype_size(XAI_DT_I64), 8);
    cr_assert_eq(xai_dtype_size(XAI_DT_I32), 4);
    cr_assert_eq(xai_dtype_size(XAI_DT_I16), 2);
    cr_assert_eq(xai_dtype_size(XAI_DT_I8), 1);
    cr_assert_eq(xai_dtype_size(XAI_DT_U8), 1);
    cr_assert_eq(xai_dtype_size(XAI_DT_BOOL), 1);
    cr_assert_eq(xai_dtype_size(XAI_DT_OTHER), 0);
}
