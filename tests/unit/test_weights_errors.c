/* Weights diagnostics: malformed safetensors files are built byte by byte in the test (8-byte
 * little-endian header length + JSON header + data) under tu_tmpdir(); the network is analysed
 * in-process and the test checks the file:line:col, the source line, the underline and the message.
 * File-level problems point at the string of the `weights "..."` statement; problems with one tensor
 * point at the layer that needs it (its name, or its `from "..."` string).
 * Positive tests: `from` renames the prefix (--dump=graph), unused non-float tensors are ignored (strict=false),
 * and F64 / F16 weights are converted (same `xaic run` output as F32). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "analyse_util.h"
#include "testutil.h"
#include "xairt.h"

/* ---- building safetensors files ---- */

/* header length (little endian, explicit so that it can lie) + json + data */
static char *write_raw(const char *name, uint64_t hlen, const char *json, const void *data, size_t data_len)
{
    size_t jl = strlen(json);
    size_t n = 8 + jl + data_len;
    unsigned char *buf = malloc(n);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + 8, json, jl);
    if (data_len) memcpy(buf + 8 + jl, data, data_len);
    char *path = tu_write_temp(name, buf, n);
    free(buf);
    return path;
}

/* A well-formed file: the header is padded with spaces to a multiple of 8, as the format recommends. */
static char *write_st(const char *name, const char *json, const void *data, size_t data_len)
{
    size_t jl = strlen(json), padded = (jl + 7) / 8 * 8;
    char *j = malloc(padded + 1);
    memcpy(j, json, jl);
    memset(j + jl, ' ', padded - jl);
    j[padded] = 0;
    char *path = write_raw(name, padded, j, data, data_len);
    free(j);
    return path;
}

/* the parameters of dense(x, 3) on x[4]: weight [3, 4] and bias [3], as float32 */
static void dense_params(float w[12], float b[3])
{
    for (int i = 0; i < 12; i++) w[i] = 0.25f * (float)(i - 5);
    for (int i = 0; i < 3; i++) b[i] = 0.5f * (float)(i - 1);
}

/* Writes a valid F32 file for dense(x, 3) with tensor names PREFIX.weight / PREFIX.bias. */
static char *write_dense_f32(const char *name, const char *prefix, const char *extra_json, const void *extra,
                             size_t extra_len)
{
    float data[15 + 16];
    dense_params(data, data + 12);
    char *json = NULL;
    cr_assert(asprintf(&json,
                       "{\"%s.weight\": {\"dtype\": \"F32\", \"shape\": [3, 4], \"data_offsets\": [0, 48]}, "
                       "\"%s.bias\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [48, 60]}%s%s}",
                       prefix, prefix, extra_json ? ", " : "", extra_json ? extra_json : "") > 0);
    unsigned char bytes[60 + 64];
    memcpy(bytes, data, 60);
    cr_assert(extra_len <= 64);
    if (extra_len) memcpy(bytes + 60, extra, extra_len);
    char *path = write_st(name, json, bytes, 60 + extra_len);
    free(json);
    return path;
}

/* ---- analysing a network in-process ---- */

static int count_substr(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static char *source_line(const char *text, int line)
{
    const char *p = text;
    for (int l = 1; l < line && p; l++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    cr_assert_not_null(p);
    return strndup(p, strcspn(p, "\n"));
}

/* An error at line:col whose message has every word, then the source line and ^~~ (len columns). */
static void expect_error_v(const analysed *r, const char *text, int line, int col, int len, const char *const *words)
{
    char *prefix = NULL;
    cr_assert(asprintf(&prefix, "%s:%d:%d: error: ", r->xai_path, line, col) > 0);
    const char *hit = NULL;
    for (const char *p = r->out; (p = strstr(p, prefix)); p++) {
        if (p != r->out && p[-1] != '\n') continue;
        size_t n = strcspn(p, "\n");
        int all = 1;
        for (int i = 0; words[i]; i++) {
            const char *w = strstr(p, words[i]);
            if (!w || w >= p + n) all = 0;
        }
        if (all) {
            hit = p;
            break;
        }
    }
    if (!hit) {
        char wl[512] = "";
        for (int i = 0; words[i]; i++) {
            strncat(wl, " [", sizeof wl - strlen(wl) - 1);
            strncat(wl, words[i], sizeof wl - strlen(wl) - 1);
            strncat(wl, "]", sizeof wl - strlen(wl) - 1);
        }
        cr_assert_fail("no error '%s...' containing%s in:\n%s", prefix, wl, r->out);
    }
    const char *l2 = strchr(hit, '\n');
    cr_assert_not_null(l2);
    l2++;
    char *src = source_line(text, line), *want = NULL;
    cr_assert(asprintf(&want, "%5d | %s\n", line, src) > 0);
    cr_assert(strncmp(l2, want, strlen(want)) == 0, "source line: want\n%sin:\n%s", want, r->out);
    const char *l3 = l2 + strlen(want);
    char caret[512];
    int n = snprintf(caret, sizeof caret, "      | %*s^", col - 1, "");
    for (int i = 1; i < len; i++) caret[n++] = '~';
    caret[n] = 0;
    size_t got = strcspn(l3, "\n");
    cr_assert(got == strlen(caret) && strncmp(l3, caret, got) == 0, "caret line: want\n%s\ngot\n%.*s\nin:\n%s", caret,
              (int)got, l3, r->out);
    free(want);
    free(src);
    free(prefix);
}

#define EXPECT_ERROR(r, text, line, col, len, ...)                                                                     \
    expect_error_v(&(r), text, line, col, len, (const char *const[]){ __VA_ARGS__, NULL })

static void expect_errors(const analysed *r, int n)
{
    cr_assert(r->failed, "analysis succeeded, %d error(s) expected:\n%s", n, r->out);
    cr_assert_eq(r->errors, n, "expected %d error(s), got %d:\n%s", n, r->errors, r->out);
    cr_assert_eq(count_substr(r->out, ": error: "), n, "%s", r->out);
}

/* The network used by most tests: the `weights` string is at 2:13. */
static char *dense_net(const char *weights_file)
{
    char *t = NULL;
    cr_assert(asprintf(&t,
                       "network n {\n"
                       "    weights \"%s\";\n"
                       "    input x[4];\n"
                       "    fc = dense(x, 3);\n"
                       "    output fc;\n"
                       "}\n",
                       weights_file) > 0);
    return t;
}

/* Analyses dense_net(file) and checks for exactly one error at the weights string with these words. */
static void expect_weights_error_v(const char *file, const char *const *words)
{
    char *t = dense_net(file);
    char xai[128];
    snprintf(xai, sizeof xai, "net_%s.xai", file);
    analysed r = analyse(xai, t);
    expect_error_v(&r, t, 2, 13, (int)strlen(file) + 2, words);
    cr_assert_not_null(strstr(r.out, file), "the message should name the file:\n%s", r.out);
    /* and nothing else: the layers that need tensors from the broken file add no errors */
    expect_errors(&r, 1);
    analysed_free(&r);
    free(t);
}
#define EXPECT_WEIGHTS_ERROR(file, ...) expect_weights_error_v(file, (const char *const[]){ __VA_ARGS__, NULL })

/* ---- the file itself ---- */

Test(weights_errors, valid_file_is_accepted)
{
    char *p = write_dense_f32("ok.safetensors", "fc", NULL, NULL, 0);
    char *t = dense_net("ok.safetensors");
    analysed r = analyse("ok.xai", t);
    cr_assert_not(r.failed, "%s", r.out);
    cr_assert_eq(r.errors, 0, "%s", r.out);
    analysed_free(&r);
    free(t);
    free(p);
}

Test(weights_errors, missing_file) { EXPECT_WEIGHTS_ERROR("does_not_exist.safetensors", "cannot", "weights"); }

Test(weights_errors, shorter_than_8_bytes)
{
    free(tu_write_temp("short.safetensors", "\x05\0\0\0\0", 5));
    EXPECT_WEIGHTS_ERROR("short.safetensors", "too short", "8-byte");
}

Test(weights_errors, empty_file)
{
    free(tu_write_temp("empty.safetensors", "", 0));
    EXPECT_WEIGHTS_ERROR("empty.safetensors", "too short");
}

Test(weights_errors, header_length_beyond_file)
{
    free(write_raw("hlen.safetensors", 1000, "{}", NULL, 0));
    EXPECT_WEIGHTS_ERROR("hlen.safetensors", "header length 1000", "exceeds", "file size 10");
}

Test(weights_errors, header_length_huge)
{
    free(write_raw("hlen2.safetensors", UINT64_MAX, "{}      ", NULL, 0));
    EXPECT_WEIGHTS_ERROR("hlen2.safetensors", "header length", "exceeds");
}

Test(weights_errors, invalid_json)
{
    free(write_st("badjson.safetensors", "{\"fc.weight\": {\"dtype\": \"F32\",", NULL, 0));
    EXPECT_WEIGHTS_ERROR("badjson.safetensors", "not valid JSON");
}

Test(weights_errors, header_not_an_object)
{
    free(write_st("array.safetensors", "[1, 2, 3]", NULL, 0));
    EXPECT_WEIGHTS_ERROR("array.safetensors", "not a JSON object");
}

Test(weights_errors, offsets_out_of_range)
{
    float data[15] = { 0 };
    free(write_st("range.safetensors",
                  "{\"fc.weight\": {\"dtype\": \"F32\", \"shape\": [3, 4], \"data_offsets\": [0, 48]}, "
                  "\"fc.bias\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [48, 4800]}}",
                  data, sizeof data - 0));
    EXPECT_WEIGHTS_ERROR("range.safetensors", "'fc.bias'", "data_offsets", "beyond the data section");
}

Test(weights_errors, offsets_do_not_match_shape)
{
    float data[15] = { 0 };
    free(write_st("mismatch.safetensors",
                  "{\"fc.weight\": {\"dtype\": \"F32\", \"shape\": [3, 4], \"data_offsets\": [0, 44]}, "
                  "\"fc.bias\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [44, 56]}}",
                  data, sizeof data));
    EXPECT_WEIGHTS_ERROR("mismatch.safetensors", "'fc.weight'", "do not match shape");
}

Test(weights_errors, overlapping_tensors)
{
    float data[13] = { 0 };
    free(write_st("overlap.safetensors",
                  "{\"fc.weight\": {\"dtype\": \"F32\", \"shape\": [3, 4], \"data_offsets\": [0, 48]}, "
                  "\"fc.bias\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [40, 52]}}",
                  data, sizeof data));
    EXPECT_WEIGHTS_ERROR("overlap.safetensors", "'fc.weight'", "'fc.bias'", "overlap");
}

Test(weights_errors, weights_path_relative_to_the_xai_file)
{
    /* the same file name, but the .xai lives in a sub-directory that does not hold it */
    char *p = write_dense_f32("rel.safetensors", "fc", NULL, NULL, 0);
    char *t = dense_net("rel.safetensors");
    char *sub = NULL;
    cr_assert(asprintf(&sub, "%s/sub", tu_tmpdir()) > 0);
    cr_assert(mkdir(sub, 0755) == 0 || errno == EEXIST);
    analysed r = analyse("sub/net.xai", t);
    EXPECT_ERROR(r, t, 2, 13, 17, "sub/rel.safetensors");
    expect_errors(&r, 1);
    analysed_free(&r);
    free(sub);
    free(t);
    free(p);
}

/* ---- one tensor ---- */

Test(weights_errors, unsupported_dtype_of_a_used_tensor)
{
    int64_t w[12] = { 0 };
    float b[3] = { 0 };
    unsigned char data[96 + 12];
    memcpy(data, w, 96);
    memcpy(data + 96, b, 12);
    free(write_st("i64.safetensors",
                  "{\"fc.weight\": {\"dtype\": \"I64\", \"shape\": [3, 4], \"data_offsets\": [0, 96]}, "
                  "\"fc.bias\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [96, 108]}}",
                  data, sizeof data));
    char *t = dense_net("i64.safetensors");
    analysed r = analyse("i64.xai", t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 4, 5, 2, "'fc.weight'", "dtype I64", "F32");
    analysed_free(&r);
    free(t);
}

Test(weights_errors, unknown_dtype_of_a_used_tensor)
{
    float data[15] = { 0 };
    free(write_st("u32.safetensors",
                  "{\"fc.weight\": {\"dtype\": \"U32\", \"shape\": [3, 4], \"data_offsets\": [0, 48]}, "
                  "\"fc.bias\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [48, 60]}}",
                  data, sizeof data));
    char *t = dense_net("u32.safetensors");
    analysed r = analyse("u32.xai", t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 4, 5, 2, "'fc.weight'", "dtype U32");
    analysed_free(&r);
    free(t);
}

Test(weights_errors, unused_i64_tensor_is_ignored)
{
    int64_t tracked = 1234;
    char *p =
        write_dense_f32("bn.safetensors", "fc",
                        "\"bn1.num_batches_tracked\": {\"dtype\": \"I64\", \"shape\": [], \"data_offsets\": [60, 68]}",
                        &tracked, sizeof tracked);
    /* strict=false: an unused tensor is fine then, whatever its dtype (test_weights_strict.c: without it) */
    const char *t = "network n {\n    weights \"bn.safetensors\" strict=false;\n    input x[4];\n"
                    "    fc = dense(x, 3);\n    output fc;\n}\n";
    analysed r = analyse("bn.xai", t);
    cr_assert_not(r.failed, "%s", r.out);
    cr_assert_eq(r.errors, 0, "%s", r.out);
    cr_assert_str_empty(r.out, "no message expected for an unused tensor:\n%s", r.out);
    analysed_free(&r);
    free(p);
}

Test(weights_errors, missing_tensor_suggests_from)
{
    char *p = write_dense_f32("renamed.safetensors", "classifier.0", NULL, NULL, 0);
    char *t = dense_net("renamed.safetensors");
    analysed r = analyse("renamed.xai", t);
    /* fc.weight and fc.bias are both missing; the weight at least must be reported like this */
    cr_assert(r.errors >= 1 && r.errors <= 2, "%s", r.out);
    EXPECT_ERROR(r, t, 4, 5, 2, "'fc.weight'", "[3, 4]", "not in", "from", "classifier.0.weight");
    analysed_free(&r);
    free(t);
    free(p);
}

Test(weights_errors, missing_bias_only)
{
    float w[12];
    dense_params(w, (float[3]){ 0 });
    free(write_st("nobias.safetensors",
                  "{\"fc.weight\": {\"dtype\": \"F32\", \"shape\": [3, 4], \"data_offsets\": [0, 48]}}", w, sizeof w));
    char *t = dense_net("nobias.safetensors");
    analysed r = analyse("nobias.xai", t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 4, 5, 2, "'fc.bias'", "[3]", "not in");
    analysed_free(&r);
    free(t);
}

Test(weights_errors, wrong_shape_shows_both_shapes)
{
    float data[15] = { 0 };
    free(write_st("shape.safetensors",
                  "{\"fc.weight\": {\"dtype\": \"F32\", \"shape\": [4, 3], \"data_offsets\": [0, 48]}, "
                  "\"fc.bias\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [48, 60]}}",
                  data, sizeof data));
    char *t = dense_net("shape.safetensors");
    analysed r = analyse("shape.xai", t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 4, 5, 2, "'fc.weight'", "[4, 3]", "[3, 4]", "layer 'fc'");
    analysed_free(&r);
    free(t);
}

Test(weights_errors, wrong_rank)
{
    float data[15] = { 0 };
    free(write_st("rank.safetensors",
                  "{\"fc.weight\": {\"dtype\": \"F32\", \"shape\": [12], \"data_offsets\": [0, 48]}, "
                  "\"fc.bias\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [48, 60]}}",
                  data, sizeof data));
    char *t = dense_net("rank.safetensors");
    analysed r = analyse("rank.xai", t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 4, 5, 2, "'fc.weight'", "[12]", "[3, 4]");
    analysed_free(&r);
    free(t);
}

Test(weights_errors, from_prefix_missing_tensor_points_at_from)
{
    char *p = write_dense_f32("from_bad.safetensors", "classifier.0", NULL, NULL, 0);
    const char *t = "network n {\n"
                    "    weights \"from_bad.safetensors\";\n"
                    "    input x[4];\n"
                    "    fc = dense(x, 3) from \"classifier.1\";\n"
                    "    output fc;\n"
                    "}\n";
    analysed r = analyse("from_bad.xai", t);
    cr_assert(r.errors >= 1 && r.errors <= 2, "%s", r.out);
    EXPECT_ERROR(r, t, 4, 27, 14, "'classifier.1.weight'", "classifier.0.weight");
    analysed_free(&r);
    free(p);
}

Test(weights_errors, layer_with_params_but_no_weights_statement)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    fc = dense(x, 3, bias=false);\n"
                    "    output fc;\n"
                    "}\n";
    analysed r = analyse("noweights.xai", t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 5, 2, "'fc.weight'", "no `weights` statement");
    analysed_free(&r);
}

Test(weights_errors, broken_file_is_one_error_not_one_per_tensor)
{
    /* A file that cannot be opened is reported once, at the `weights` statement. The layers that need
     * tensors from it must not add "the network has no `weights` statement" errors: there is one. */
    const char *t = "network n {\n"
                    "    weights \"absent.safetensors\";\n"
                    "    input x[4];\n"
                    "    fc1 = dense(x, 3);\n"
                    "    a = relu(fc1);\n"
                    "    fc2 = dense(a, 2);\n"
                    "    output fc2;\n"
                    "}\n";
    analysed r = analyse("absent.xai", t);
    EXPECT_ERROR(r, t, 2, 13, 20, "cannot", "absent.safetensors");
    cr_assert_null(strstr(r.out, "no `weights` statement"), "bogus follow-up errors:\n%s", r.out);
    expect_errors(&r, 1);
    analysed_free(&r);
}

/* ---- through the command line ---- */

static int run_cli(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_cli(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    char *cmd = NULL;
    cr_assert(asprintf(&cmd, "'%s' %s", XAIC_EXE, args) > 0);
    int rc = tu_run(cmd, out);
    free(cmd);
    free(args);
    return rc;
}

Test(weights_errors, cli_exit_status_and_location)
{
    free(write_st("cli_bad.safetensors", "not json at all", NULL, 0));
    char *t = dense_net("cli_bad.safetensors");
    char *xai = tu_write_temp("cli_bad.xai", t, strlen(t));
    char *out = NULL;
    int rc = run_cli(&out, "check '%s'", xai);
    cr_assert_eq(rc, 1, "exit %d:\n%s", rc, out);
    char *want = NULL;
    cr_assert(asprintf(&want, "%s:2:13: error: ", xai) > 0);
    cr_assert_not_null(strstr(out, want), "%s", out);
    cr_assert_not_null(strstr(out, "not valid JSON"), "%s", out);
    cr_assert_not_null(strstr(out,
                              "    2 |     weights \"cli_bad.safetensors\";\n"
                              "      |             ^~~~~~~~~~~~~~~~~~~~~\n"),
                       "%s", out);
    free(want);
    free(out);
    free(xai);
    free(t);
}

Test(weights_errors, from_prefix_resolves)
{
    char *p = write_dense_f32("from_ok.safetensors", "classifier.0", NULL, NULL, 0);
    const char *t = "network n {\n"
                    "    weights \"from_ok.safetensors\";\n"
                    "    input x[4];\n"
                    "    fc = dense(x, 3) from \"classifier.0\";\n"
                    "    output fc;\n"
                    "}\n";
    char *xai = tu_write_temp("from_ok.xai", t, strlen(t));
    char *out = NULL;
    int rc = run_cli(&out, "check '%s' --dump=graph", xai);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "w=classifier.0.weight"), "%s", out);
    cr_assert_not_null(strstr(out, "b=classifier.0.bias"), "%s", out);
    cr_assert_null(strstr(out, "error"), "%s", out);
    free(out);
    free(xai);
    free(p);
}

/* Writes a file with dense(x, 3) parameters in dtype `dt` ("F32", "F64", "F16"). */
static char *write_dense_typed(const char *name, const char *dt)
{
    float w[12], b[3];
    dense_params(w, b);
    float all[15];
    memcpy(all, w, sizeof w);
    memcpy(all + 12, b, sizeof b);
    unsigned char data[15 * 8];
    int es = !strcmp(dt, "F64") ? 8 : !strcmp(dt, "F16") ? 2 : 4;
    for (int i = 0; i < 15; i++) {
        if (es == 8) {
            double v = all[i];
            memcpy(data + 8 * i, &v, 8);
        } else if (es == 4)
            memcpy(data + 4 * i, &all[i], 4);
        else {
            /* the values are multiples of 0.25 in [-2, 2]: exact in half precision */
            float v = all[i];
            uint16_t h;
            if (v == 0)
                h = 0;
            else {
                uint16_t sign = v < 0 ? 0x8000 : 0;
                float a = fabsf(v);
                int e = 0;
                while (a >= 2) {
                    a /= 2;
                    e++;
                }
                while (a < 1) {
                    a *= 2;
                    e--;
                }
                h = (uint16_t)(sign | (uint16_t)((e + 15) << 10) | (uint16_t)lrintf((a - 1) * 1024));
            }
            memcpy(data + 2 * i, &h, 2);
        }
    }
    char *json = NULL;
    cr_assert(asprintf(&json,
                       "{\"fc.weight\": {\"dtype\": \"%s\", \"shape\": [3, 4], \"data_offsets\": [0, %d]}, "
                       "\"fc.bias\": {\"dtype\": \"%s\", \"shape\": [3], \"data_offsets\": [%d, %d]}}",
                       dt, 12 * es, dt, 12 * es, 15 * es) > 0);
    char *p = write_st(name, json, data, (size_t)(15 * es));
    free(json);
    return p;
}

/* Runs the dense net with weights of dtype dt on a fixed input; returns the [2, 3] output. */
static void run_dense(const char *dt, float y[6])
{
    char stname[64], xainame[64], outname[64];
    snprintf(stname, sizeof stname, "dense_%s.safetensors", dt);
    snprintf(xainame, sizeof xainame, "dense_%s.xai", dt);
    snprintf(outname, sizeof outname, "%s/dense_%s_out.npy", tu_tmpdir(), dt);
    free(write_dense_typed(stname, dt));
    char *t = dense_net(stname);
    char *xai = tu_write_temp(xainame, t, strlen(t));
    char in_path[512], err[256];
    snprintf(in_path, sizeof in_path, "%s/dense_in.npy", tu_tmpdir());
    float x[8] = { 1, -2, 0.5f, 3, 0, 1, -1, 2 };
    int64_t shape[2] = { 2, 4 };
    cr_assert_eq(xai_npy_write(in_path, x, 2, shape, err, sizeof err), 0, "%s", err);
    char *out = NULL;
    int rc = run_cli(&out, "run '%s' --forward --input '%s' -o '%s'", xai, in_path, outname);
    cr_assert_eq(rc, 0, "%s weights: exit %d:\n%s", dt, rc, out);
    xai_array a = { 0 };
    cr_assert_eq(xai_npy_read(outname, &a, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(a.rank, 2);
    cr_assert(a.shape[0] == 2 && a.shape[1] == 3, "output shape");
    memcpy(y, a.data, 6 * sizeof(float));
    xai_array_free(&a);
    free(out);
    free(xai);
    free(t);
}

Test(weights_errors, f64_and_f16_weights_are_converted)
{
    float y32[6], y64[6], y16[6], ref[6];
    float w[12], b[3];
    dense_params(w, b);
    float x[8] = { 1, -2, 0.5f, 3, 0, 1, -1, 2 };
    for (int s = 0; s < 2; s++)
        for (int o = 0; o < 3; o++) {
            double acc = b[o];
            for (int i = 0; i < 4; i++) acc += (double)w[o * 4 + i] * x[s * 4 + i];
            ref[s * 3 + o] = (float)acc;
        }
    run_dense("F32", y32);
    run_dense("F64", y64);
    run_dense("F16", y16);
    for (int i = 0; i < 6; i++) {
        cr_assert_float_eq(y32[i], ref[i], 1e-5f, "F32 output %d: %g vs reference %g", i, y32[i], ref[i]);
        cr_assert_float_eq(y64[i], y32[i], 1e-6f, "F64 output %d: %g vs F32 %g", i, y64[i], y32[i]);
        cr_assert_float_eq(y16[i], y32[i], 1e-6f, "F16 output %d: %g vs F32 %g", i, y16[i], y32[i]);
    }
}
