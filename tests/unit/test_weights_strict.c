/* Strict weights (as PyTorch's load_state_dict(strict=True)): a tensor of the network's file that no
 * layer reads is an error at the `weights` string naming the file and the unused tensors (a forgotten
 * BatchNorm line must not pass silently); `weights "f" strict=false;` allows them. Tensors read through
 * `from "prefix"` or by an explicit name count as read, and so does a BatchNorm's num_batches_tracked. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "analyse_util.h"
#include "testutil.h"

/* One tensor of a test file: a name and a float32 shape of rank 1 or 2 (d1 = 0 for rank 1), or an int64
 * scalar (d0 = 0, as BatchNorm's num_batches_tracked). */
typedef struct spec {
    const char *name;
    int d0, d1;
} spec;

/* A safetensors file of float32 tensors (values in [0.125, 0.875]: valid as variances too). */
static char *write_tensors(const char *file, const spec *t, int n)
{
    char *json = strdup("{");
    int offset = 0;
    for (int i = 0; i < n; i++) {
        int count = t[i].d0 ? t[i].d0 * (t[i].d1 ? t[i].d1 : 1) : 2; /* an int64 takes two floats' bytes */
        char dims[32] = "", *next = NULL;
        if (t[i].d0) snprintf(dims, sizeof dims, t[i].d1 ? "%d, %d" : "%d", t[i].d0, t[i].d1);
        cr_assert(asprintf(&next, "%s%s\"%s\": {\"dtype\": \"%s\", \"shape\": [%s], \"data_offsets\": [%d, %d]}", json,
                           i ? ", " : "", t[i].name, t[i].d0 ? "F32" : "I64", dims, offset, offset + 4 * count) > 0);
        free(json);
        json = next;
        offset += 4 * count;
    }
    size_t jl = strlen(json) + 1, padded = (jl + 7) / 8 * 8; /* + '}', padded with spaces to 8 */
    size_t total = 8 + padded + (size_t)offset;
    unsigned char *buf = calloc(1, total);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, json, jl - 1);
    buf[8 + jl - 1] = '}';
    memset(buf + 8 + jl, ' ', padded - jl);
    float *data = (float *)(buf + 8 + padded);
    for (int k = 0; k < offset / 4; k++) data[k] = 0.125f * (float)(k % 7 + 1);
    char *path = tu_write_temp(file, buf, total);
    free(buf);
    free(json);
    return path;
}

static void expect_ok(const analysed *r)
{
    cr_assert_not(r->failed, "%s", r->out);
    cr_assert_eq(r->errors, 0, "%s", r->out);
}

/* Exactly one error, at line:col of the test's file, whose first line holds every word. */
static void expect_one_error_v(const analysed *r, int line, int col, const char *const *words)
{
    cr_assert(r->failed, "analysis succeeded:\n%s", r->out);
    cr_assert_eq(r->errors, 1, "%s", r->out);
    char *prefix = NULL;
    cr_assert(asprintf(&prefix, "%s:%d:%d: error: ", r->xai_path, line, col) > 0);
    cr_assert(!strncmp(r->out, prefix, strlen(prefix)), "want '%s...' in:\n%s", prefix, r->out);
    size_t first = strcspn(r->out, "\n");
    for (int i = 0; words[i]; i++) {
        const char *w = strstr(r->out, words[i]);
        cr_assert(w && w < r->out + first, "no '%s' in the message:\n%s", words[i], r->out);
    }
    free(prefix);
}
#define EXPECT_ONE_ERROR(r, line, col, ...)                                                                            \
    expect_one_error_v(&(r), line, col, (const char *const[]){ __VA_ARGS__, NULL })

/* fc = dense(x, 3) on x[4], with the `weights` string at 2:13 and `options` after it */
static char *dense_net(const char *file, const char *options, const char *from)
{
    char *t = NULL;
    cr_assert(
        asprintf(
            &t, "network n {\n    weights \"%s\"%s;\n    input x[4];\n    fc = dense(x, 3)%s%s%s;\n    output fc;\n}\n",
            file, options, from ? " from \"" : "", from ? from : "", from ? "\"" : "") > 0);
    return t;
}

/* fc.weight, fc.bias plus [3]-vectors named `extra` */
static char *write_dense_plus(const char *file, const char *const *extra, int n_extra)
{
    spec t[16] = { { "fc.weight", 3, 4 }, { "fc.bias", 3, 0 } };
    cr_assert(n_extra <= 14);
    for (int i = 0; i < n_extra; i++) t[2 + i] = (spec){ extra[i], 3, 0 };
    return write_tensors(file, t, 2 + n_extra);
}

Test(weights_strict, every_tensor_read_is_accepted)
{
    char *p = write_dense_plus("exact.safetensors", NULL, 0);
    char *t = dense_net("exact.safetensors", "", NULL);
    analysed r = analyse("exact.xai", t);
    expect_ok(&r);
    cr_assert_str_empty(r.out, "%s", r.out);
    analysed_free(&r);
    free(t);
    free(p);
}

/* The case strictness exists for: the file has a BatchNorm the network forgot. */
Test(weights_strict, unused_tensors_are_an_error_naming_them)
{
    const char *bn[] = { "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var" };
    char *p = write_dense_plus("forgot_bn.safetensors", bn, 4);
    char *t = dense_net("forgot_bn.safetensors", "", NULL);
    analysed r = analyse("forgot_bn.xai", t);
    EXPECT_ONE_ERROR(r, 2, 13, "forgot_bn.safetensors", "4 tensors", "network 'n'", "'bn1.weight' [3]",
                     "'bn1.bias' [3]", "'bn1.running_mean' [3]", "'bn1.running_var' [3]", "strict=false");
    cr_assert_null(strstr(r.out, "'fc.weight'"), "a read tensor is not listed:\n%s", r.out);
    cr_assert_null(strstr(r.out, "more"), "%s", r.out);
    /* the source line and the underline of the file name follow */
    cr_assert_not_null(strstr(r.out, "    2 |     weights \"forgot_bn.safetensors\";\n"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "      |             ^~~~~~~~~~~~~~~~~~~~~~~\n"), "%s", r.out);
    analysed_free(&r);
    free(t);
    free(p);
}

Test(weights_strict, strict_true_written_out)
{
    const char *extra[] = { "head.bias" };
    char *p = write_dense_plus("one_extra.safetensors", extra, 1);
    char *t = dense_net("one_extra.safetensors", " strict=true", NULL);
    analysed r = analyse("one_extra.xai", t);
    EXPECT_ONE_ERROR(r, 2, 13, "1 tensor in", "one_extra.safetensors", "is read by no layer", "'head.bias' [3]");
    analysed_free(&r);
    free(t);
    free(p);
}

Test(weights_strict, strict_false_allows_unused_tensors)
{
    const char *bn[] = { "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var" };
    char *p = write_dense_plus("lenient.safetensors", bn, 4);
    char *t = dense_net("lenient.safetensors", " strict=false", NULL);
    analysed r = analyse("lenient.xai", t);
    expect_ok(&r);
    cr_assert_str_empty(r.out, "no message with strict=false:\n%s", r.out);
    analysed_free(&r);
    free(t);
    free(p);
}

/* The list stops after 8 names and counts the rest. */
Test(weights_strict, long_list_is_capped)
{
    const char *extra[12] = { "u.0", "u.1", "u.2", "u.3", "u.4", "u.5", "u.6", "u.7", "u.8", "u.9", "u.10", "u.11" };
    char *p = write_dense_plus("many.safetensors", extra, 12);
    char *t = dense_net("many.safetensors", "", NULL);
    analysed r = analyse("many.xai", t);
    EXPECT_ONE_ERROR(r, 2, 13, "12 tensors", "'u.0' [3]", "'u.7' [3]", "and 4 more");
    cr_assert_null(strstr(r.out, "'u.8'"), "%s", r.out);
    analysed_free(&r);
    free(t);
    free(p);
}

/* Tensors read through `from "prefix"` count as read. */
Test(weights_strict, from_prefix_counts_as_read)
{
    const spec t[] = { { "classifier.0.weight", 3, 4 }, { "classifier.0.bias", 3, 0 } };
    char *p = write_tensors("from.safetensors", t, 2);
    char *net = dense_net("from.safetensors", "", "classifier.0");
    analysed r = analyse("from.xai", net);
    expect_ok(&r);
    cr_assert_str_empty(r.out, "%s", r.out);
    analysed_free(&r);
    free(net);
    free(p);
}

/* A tensor named explicitly (`weight="onnx::Gemm_7"`, as `xaic import` may write) counts as read. */
Test(weights_strict, explicit_tensor_name_counts_as_read)
{
    const spec t[] = { { "onnx::Gemm_7", 3, 4 }, { "fc.bias", 3, 0 } };
    char *p = write_tensors("named.safetensors", t, 2);
    const char *net = "network n {\n    weights \"named.safetensors\";\n    input x[4];\n"
                      "    fc = dense(x, 3, weight=\"onnx::Gemm_7\");\n    output fc;\n}\n";
    analysed r = analyse("named.xai", net);
    expect_ok(&r);
    analysed_free(&r);
    free(p);
}

/* A state_dict's BatchNorm has num_batches_tracked (an int64 training counter); the batchnorm layer owns it,
 * as PyTorch's module does. Without the layer, the counter is unused like the rest. */
static char *write_bn_file(const char *file)
{
    const spec t[] = { { "fc.weight", 3, 4 },
                       { "fc.bias", 3, 0 },
                       { "bn1.weight", 3, 0 },
                       { "bn1.bias", 3, 0 },
                       { "bn1.running_mean", 3, 0 },
                       { "bn1.running_var", 3, 0 },
                       { "bn1.num_batches_tracked", 0, 0 } };
    return write_tensors(file, t, 7);
}

Test(weights_strict, batchnorm_owns_num_batches_tracked)
{
    char *p = write_bn_file("bn_ok.safetensors");
    const char *net = "network n {\n    weights \"bn_ok.safetensors\";\n    input x[4];\n    fc = dense(x, 3);\n"
                      "    bn1 = batchnorm(fc);\n    output bn1;\n}\n";
    analysed r = analyse("bn_ok.xai", net);
    expect_ok(&r);
    cr_assert_str_empty(r.out, "%s", r.out);
    analysed_free(&r);
    free(p);
}

Test(weights_strict, forgotten_batchnorm_lists_its_counter_too)
{
    char *p = write_bn_file("bn_forgot.safetensors");
    char *net = dense_net("bn_forgot.safetensors", "", NULL);
    analysed r = analyse("bn_forgot.xai", net);
    EXPECT_ONE_ERROR(r, 2, 13, "5 tensors", "'bn1.running_var' [3]", "'bn1.num_batches_tracked' []");
    analysed_free(&r);
    free(net);
    free(p);
}

/* A layer that fails may not have read its tensors: its error stands alone, with no list of "unused" ones. */
Test(weights_strict, no_unused_list_after_another_error)
{
    const spec t[] = { { "fc.weight", 3, 4 }, { "fc.b", 3, 0 } };
    char *p = write_tensors("typo.safetensors", t, 2);
    char *net = dense_net("typo.safetensors", "", NULL);
    analysed r = analyse("typo.xai", net);
    EXPECT_ONE_ERROR(r, 4, 5, "'fc.bias'");
    cr_assert_null(strstr(r.out, "read by no layer"), "%s", r.out);
    analysed_free(&r);
    free(net);
    free(p);
}

Test(weights_strict, unknown_option)
{
    char *p = write_dense_plus("opt.safetensors", NULL, 0);
    char *net = dense_net("opt.safetensors", " lenient=true", NULL);
    analysed r = analyse("opt.xai", net);
    EXPECT_ONE_ERROR(r, 2, 31, "only the option strict=false", "'lenient'");
    analysed_free(&r);
    free(net);
    free(p);
}

Test(weights_strict, strict_must_be_boolean)
{
    char *p = write_dense_plus("optb.safetensors", NULL, 0);
    char *net = dense_net("optb.safetensors", " strict=0", NULL);
    analysed r = analyse("optb.xai", net);
    EXPECT_ONE_ERROR(r, 2, 39, "strict must be true or false");
    analysed_free(&r);
    free(net);
    free(p);
}

Test(weights_strict, positional_option)
{
    char *p = write_dense_plus("optp.safetensors", NULL, 0);
    char *net = dense_net("optp.safetensors", " false", NULL);
    analysed r = analyse("optp.xai", net);
    EXPECT_ONE_ERROR(r, 2, 37, "expected '='"); /* options are named */
    analysed_free(&r);
    free(net);
    free(p);
}

/* A tensor name is the file's text: control characters (an escape sequence) are shown as '?'. */
Test(weights_strict, control_characters_in_names_are_not_echoed)
{
    const char *extra[] = { "evil\\u001b[2J" }; /* JSON's escape of ESC */
    char *p = write_dense_plus("evil.safetensors", extra, 1);
    char *net = dense_net("evil.safetensors", "", NULL);
    analysed r = analyse("evil.xai", net);
    EXPECT_ONE_ERROR(r, 2, 13, "'evil?[2J' [3]");
    cr_assert_null(strchr(r.out, 0x1b), "%s", r.out);
    analysed_free(&r);
    free(net);
    free(p);
}
