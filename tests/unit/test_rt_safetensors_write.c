/* libxairt safetensors writer: what it writes reads back through the (independently tested) reader
 * with the same names, dtypes, shapes and bytes; the layout of the reference writer (8-byte aligned data
 * section, tensors by element size then name, no gaps); bad arguments; the atomic file write. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "xairt.h"

static const float w[6] = { 1, -2, 3.5f, 0.25f, -0.125f, 1e-30f };
static const int64_t steps[1] = { 1234567890123LL };
static const uint8_t mask[3] = { 1, 0, 1 };
static const double dd[2] = { 0.1, -1e300 };

static xai_st_entry entries[] = {
    { "fc.weight", XAI_DT_F32, 2, { 2, 3 }, w }, { "mask", XAI_DT_U8, 1, { 3 }, mask },
    { "a.bias", XAI_DT_F32, 1, { 2 }, w },       { "steps", XAI_DT_I64, 1, { 1 }, steps },
    { "empty", XAI_DT_F32, 2, { 0, 4 }, NULL },  { "scalar", XAI_DT_F64, 0, { 0 }, dd },
    { "d", XAI_DT_F64, 1, { 2 }, dd },
};
#define N_ENTRIES (int)(sizeof entries / sizeof entries[0])

static void expect_round_trip(const unsigned char *buf, size_t size)
{
    xai_safetensors st;
    char err[256];
    cr_assert_eq(xai_safetensors_parse(buf, size, 0, &st, err, sizeof err), XAI_OK, "%s", err);
    cr_expect_eq(st.n_tensors, N_ENTRIES);
    cr_expect_eq(st.data_offset % 8, 0, "data section at %zu", st.data_offset);
    for (int i = 0; i < N_ENTRIES; i++) {
        const xai_st_tensor *t = xai_safetensors_find(&st, entries[i].name);
        cr_assert_not_null(t, "%s missing", entries[i].name);
        cr_expect_eq(t->dtype, entries[i].dtype);
        cr_expect_eq(t->rank, entries[i].rank);
        int64_t count = 1;
        for (int d = 0; d < t->rank; d++) {
            cr_expect_eq(t->shape[d], entries[i].shape[d]);
            count *= t->shape[d];
        }
        size_t bytes = (size_t)count * xai_dtype_size(t->dtype);
        cr_expect_eq(t->end - t->begin, bytes);
        cr_expect_eq(t->begin % xai_dtype_size(t->dtype), 0, "%s not aligned to its element size", t->name);
        if (bytes) cr_expect_eq(memcmp(t->data, entries[i].data, bytes), 0, "%s: bytes differ", t->name);
    }
    /* sorted by element size, then name, back to back: d scalar steps (8) a.bias empty fc.weight (4) mask (1) */
    const char *order[] = { "d", "scalar", "steps", "a.bias", "empty", "fc.weight", "mask" };
    uint64_t at = 0;
    for (int i = 0; i < N_ENTRIES; i++) {
        const xai_st_tensor *t = xai_safetensors_find(&st, order[i]);
        cr_expect_eq(t->begin, at, "%s begins at %llu, expected %llu", order[i], (unsigned long long)t->begin,
                     (unsigned long long)at);
        at = t->end;
    }
    cr_expect_eq(at, size - st.data_offset, "the data section has trailing bytes");
    xai_safetensors_close(&st);
}

Test(safetensors_write, serialize_round_trips)
{
    unsigned char *buf;
    size_t size;
    char err[256];
    const char *meta[] = { "format", "pt", "note", "quote \" and \\ and \n", NULL };
    cr_assert_eq(xai_safetensors_serialize(entries, N_ENTRIES, meta, &buf, &size, err, sizeof err), XAI_OK, "%s", err);
    expect_round_trip(buf, size);
    const char *json_meta = "\"__metadata__\":{\"format\":\"pt\",\"note\":\"quote \\\" and \\\\ and \\n\"}";
    cr_expect(memmem(buf, size, json_meta, strlen(json_meta)) != NULL, "metadata not written as JSON");
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    cr_expect_eq(buf[8 + hlen - 1], ' ', "header padding is not spaces (or none was needed)");
    free(buf);
}

Test(safetensors_write, file_round_trips_and_replaces)
{
    char *path = tu_write_temp("out.safetensors", "old contents", 12), err[256];
    cr_assert_eq(xai_safetensors_write(path, entries, N_ENTRIES, NULL, err, sizeof err), XAI_OK, "%s", err);
    size_t size;
    char *buf = tu_read_file(path, &size);
    expect_round_trip((unsigned char *)buf, size);
    free(buf);
    DIR *d = opendir(tu_tmpdir());
    struct dirent *e;
    while ((e = readdir(d))) cr_expect(strstr(e->d_name, ".tmp.") == NULL, "temporary file left: %s", e->d_name);
    closedir(d);
    free(path);
}

Test(safetensors_write, empty_file)
{
    unsigned char *buf;
    size_t size;
    char err[256];
    cr_assert_eq(xai_safetensors_serialize(NULL, 0, NULL, &buf, &size, err, sizeof err), XAI_OK, "%s", err);
    cr_expect_eq(size, 16);
    cr_expect_eq(memcmp(buf + 8, "{}      ", 8), 0);
    xai_safetensors st;
    cr_expect_eq(xai_safetensors_parse(buf, size, 0, &st, err, sizeof err), XAI_OK, "%s", err);
    xai_safetensors_close(&st);
    free(buf);
}

Test(safetensors_write, bad_arguments)
{
    struct {
        xai_st_entry e[2];
        int n;
        int status;
        const char *says;
    } cases[] = {
        { { { "a", XAI_DT_F32, 1, { 2 }, w }, { "a", XAI_DT_F32, 1, { 1 }, w } }, 2, XAI_EARG, "'a' is given twice" },
        { { { "", XAI_DT_F32, 1, { 2 }, w } }, 1, XAI_EARG, "no valid name" },
        { { { "__metadata__", XAI_DT_F32, 1, { 2 }, w } }, 1, XAI_EARG, "no valid name" },
        { { { "x", XAI_DT_OTHER, 1, { 2 }, w } }, 1, XAI_EARG, "bad dtype or rank" },
        { { { "x", XAI_DT_F32, 9, { 2 }, w } }, 1, XAI_EARG, "bad dtype or rank" },
        { { { "x", XAI_DT_F32, 1, { -1 }, w } }, 1, XAI_EARG, "negative or overflowing" },
        { { { "x", XAI_DT_F32, 2, { INT64_MAX / 2, 4 }, w } }, 1, XAI_EARG, "negative or overflowing" },
        { { { "x", XAI_DT_F32, 1, { 2 }, NULL } }, 1, XAI_ENULL, "has no data" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char *buf = (unsigned char *)"untouched";
        size_t size = 99;
        char err[256] = "";
        cr_expect_eq(xai_safetensors_serialize(cases[i].e, cases[i].n, NULL, &buf, &size, err, sizeof err),
                     cases[i].status, "case %zu: %s", i, err);
        cr_expect(strstr(err, cases[i].says) != NULL, "case %zu: %s", i, err);
        cr_expect_null(buf, "case %zu", i);
    }
    const char *odd_meta[] = { "key", NULL };
    unsigned char *buf;
    size_t size;
    char err[256];
    cr_expect_eq(xai_safetensors_serialize(entries, 1, odd_meta, &buf, &size, err, sizeof err), XAI_EARG);
    cr_expect_eq(xai_safetensors_serialize(entries, 1, NULL, NULL, &size, err, sizeof err), XAI_ENULL);
}

Test(safetensors_write, unwritable_path_leaves_nothing)
{
    char err[256], path[512];
    snprintf(path, sizeof path, "%s/no/such/dir/x.safetensors", tu_tmpdir());
    cr_expect_eq(xai_safetensors_write(path, entries, N_ENTRIES, NULL, err, sizeof err), XAI_EIO);
    cr_expect(strstr(err, "x.safetensors") != NULL && strstr(err, "No such file") != NULL, "%s", err);
    cr_expect_eq(xai_safetensors_write(NULL, entries, 1, NULL, err, sizeof err), XAI_ENULL);
}
