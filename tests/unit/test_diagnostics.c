/* Semantic diagnostics: each bad network is analysed in-process (driver_analyse_text, messages into a
 * memstream) and the test checks the exact file:line:col, the echoed source line, the caret/underline
 * under the offending token and the key words of the message, plus the number of errors.
 * A few cases also go through the xaic binary to check the exit status and the "N errors" summary. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "testutil.h"

#define PATH "t.xai"

typedef struct analysed {
    char *out;  /* everything the diagnostics printed */
    int errors; /* d.errors */
    int failed; /* driver_analyse_text's result */
} analysed;

static analysed analyse(const char *text)
{
    analysed r = { 0 };
    size_t len = 0;
    FILE *f = open_memstream(&r.out, &len);
    cr_assert_not_null(f);
    xai_diag d;
    diag_init(&d, f);
    compilation c;
    r.failed = driver_analyse_text(&c, &d, PATH, text);
    r.errors = d.errors;
    driver_free(&c);
    diag_free(&d);
    fclose(f);
    return r;
}

/* Line `line` (1-based) of text, malloc'd, without the newline. */
static char *source_line(const char *text, int line)
{
    const char *p = text;
    for (int l = 1; l < line && p; l++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    cr_assert_not_null(p, "test bug: no line %d", line);
    size_t n = strcspn(p, "\n");
    return strndup(p, n);
}

static int count_substr(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* Checks that `out` holds a diagnostic of `kind` ("error", "note", "warning") at line:col whose message
 * contains every word of the NULL-terminated list, followed by the source line and a caret line with
 * '^' under column col and, when len > 1, len-1 '~' after it (len 0: only the caret's column is checked). */
static void expect_diag_v(const char *out, const char *text, const char *kind, int line, int col, int len,
                          const char *const *words)
{
    char *prefix = NULL;
    cr_assert(asprintf(&prefix, PATH ":%d:%d: %s: ", line, col, kind) > 0);
    const char *hit = NULL;
    for (const char *p = out; (p = strstr(p, prefix)); p++) {
        if (p != out && p[-1] != '\n') continue;
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
        cr_assert_fail("no diagnostic '%s...' containing%s in:\n%s", prefix, wl, out);
    }
    const char *l2 = strchr(hit, '\n');
    cr_assert_not_null(l2, "diagnostic has no source excerpt:\n%s", out);
    l2++;
    char *src = source_line(text, line);
    char *want = NULL;
    cr_assert(asprintf(&want, "%5d | %s\n", line, src) > 0);
    cr_assert(strncmp(l2, want, strlen(want)) == 0, "source line: want\n%sgot\n%.*s\nin:\n%s", want,
              (int)strcspn(l2, "\n"), l2, out);
    const char *l3 = l2 + strlen(want);
    char caret[512];
    int n = snprintf(caret, sizeof caret, "      | %*s^", col - 1, "");
    for (int i = 1; i < len; i++) caret[n++] = '~';
    caret[n] = 0;
    size_t got = strcspn(l3, "\n");
    if (len > 0)
        cr_assert(got == strlen(caret) && strncmp(l3, caret, got) == 0, "caret line: want\n%s\ngot\n%.*s\nin:\n%s",
                  caret, (int)got, l3, out);
    else
        cr_assert(strncmp(l3, caret, strlen(caret)) == 0, "caret line: want\n%s...\ngot\n%.*s\nin:\n%s", caret,
                  (int)got, l3, out);
    free(want);
    free(src);
    free(prefix);
}

#define EXPECT_ERROR(r, text, line, col, len, ...)                                                                     \
    expect_diag_v((r).out, text, "error", line, col, len, (const char *const[]){ __VA_ARGS__, NULL })
#define EXPECT_NOTE(r, text, line, col, len, ...)                                                                      \
    expect_diag_v((r).out, text, "note", line, col, len, (const char *const[]){ __VA_ARGS__, NULL })

/* Exactly n errors, both counted by the diag and printed. */
static void expect_errors(const analysed *r, int n)
{
    cr_assert(r->failed, "analysis succeeded but %d error(s) were expected:\n%s", n, r->out);
    cr_assert_eq(r->errors, n, "expected %d error(s), got %d:\n%s", n, r->errors, r->out);
    cr_assert_eq(count_substr(r->out, ": error: "), n, "expected %d printed error(s):\n%s", n, r->out);
}

static void analysed_free(analysed *r) { free(r->out); }

/* ---- the positive control: a correct network gives no diagnostics at all ---- */

Test(diagnostics, clean_network_has_no_messages)
{
    const char *t = "network n {\n"
                    "    input x[1, 8, 8];\n"
                    "    a = relu(x);\n"
                    "    p = maxpool(a, 2);\n"
                    "    f = flatten(p);\n"
                    "    output f;\n"
                    "}\n";
    analysed r = analyse(t);
    cr_assert_not(r.failed, "unexpected failure:\n%s", r.out);
    cr_assert_eq(r.errors, 0);
    cr_assert_str_empty(r.out);
    analysed_free(&r);
}

/* ---- names ---- */

Test(diagnostics, unknown_op_lists_known_ops)
{
    const char *t = "network n {\n"
                    "    input x[1, 8, 8];\n"
                    "    c = conv3d(x, 8);\n"
                    "    output c;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 9, 6, "unknown op 'conv3d'", "known ops", "dense", "conv2d", "maxpool", "relu", "softmax");
    analysed_free(&r);
}

Test(diagnostics, unknown_layer_did_you_mean)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    act1 = relu(x);\n"
                    "    act2 = relu(actt1);\n"
                    "    output act2;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 4, 17, 5, "unknown layer 'actt1'", "did you mean 'act1'");
    analysed_free(&r);
}

Test(diagnostics, undefined_input_layer_without_near_name)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    a = relu(completely_different);\n"
                    "    output a;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 14, 20, "unknown layer 'completely_different'", "network 'n'");
    cr_assert_null(strstr(r.out, "did you mean"), "no near name exists, yet:\n%s", r.out);
    analysed_free(&r);
}

Test(diagnostics, unknown_parameter_name)
{
    const char *t = "network n {\n"
                    "    input x[1, 8, 8];\n"
                    "    c = conv2d(x, 8, kernel=3, strid=2);\n"
                    "    output c;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 32, 5, "conv2d", "no parameter 'strid'", "stride", "kernel", "pad");
    analysed_free(&r);
}

Test(diagnostics, missing_required_parameter)
{
    const char *t = "network n {\n"
                    "    input x[1, 8, 8];\n"
                    "    c = conv2d(x, 8);\n"
                    "    output c;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 9, 6, "conv2d", "needs", "'kernel'");
    analysed_free(&r);
}

Test(diagnostics, parameter_given_twice)
{
    const char *t = "network n {\n"
                    "    input x[1, 8, 8];\n"
                    "    c = conv2d(x, 8, kernel=3, kernel=5);\n"
                    "    output c;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 32, 6, "'kernel'", "conv2d", "twice");
    analysed_free(&r);
}

Test(diagnostics, parameter_given_positionally_and_by_name)
{
    const char *t = "network n {\n"
                    "    input x[1, 8, 8];\n"
                    "    p = maxpool(x, 2, size=2);\n"
                    "    output p;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 23, 4, "'size'", "maxpool", "twice");
    analysed_free(&r);
}

Test(diagnostics, duplicate_layer_name_with_note)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    a = relu(x);\n"
                    "    b = sigmoid(a);\n"
                    "    a = relu(b);\n"
                    "    output a;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 5, 5, 1, "'a'", "defined twice", "network 'n'");
    EXPECT_NOTE(r, t, 3, 5, 1, "first defined here");
    /* the note follows its error */
    cr_assert_lt(strstr(r.out, PATH ":5:5: error"), strstr(r.out, PATH ":3:5: note"));
    analysed_free(&r);
}

Test(diagnostics, layer_named_like_the_input)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    x = relu(x);\n"
                    "    output x;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 5, 1, "'x'", "defined twice");
    EXPECT_NOTE(r, t, 2, 11, 1, "first defined here");
    analysed_free(&r);
}

Test(diagnostics, duplicate_network_name_with_note)
{
    const char *t = "network net {\n"
                    "    input x[4];\n"
                    "    output x;\n"
                    "}\n"
                    "network net {\n"
                    "    input y[4];\n"
                    "    output y;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 5, 9, 3, "network 'net'", "defined twice");
    EXPECT_NOTE(r, t, 1, 9, 3, "first defined here");
    analysed_free(&r);
}

Test(diagnostics, cycle_shows_path)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    a = relu(b);\n"
                    "    b = relu(a);\n"
                    "    output b;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 5, 1, "cycle", "a -> b -> a");
    analysed_free(&r);
}

Test(diagnostics, longer_cycle_reported_once)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    a = relu(c);\n"
                    "    b = sigmoid(a);\n"
                    "    c = add(b, x);\n"
                    "    d = relu(c);\n"
                    "    output d;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 5, 1, "cycle", "a -> c -> b -> a");
    analysed_free(&r);
}

Test(diagnostics, self_reference_is_a_cycle)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    a = relu(a);\n"
                    "    output a;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 5, 1, "cycle", "a -> a");
    analysed_free(&r);
}

Test(diagnostics, no_input)
{
    const char *t = "network lonely {\n"
                    "    output x;\n"
                    "}\n";
    analysed r = analyse(t);
    EXPECT_ERROR(r, t, 1, 9, 6, "network 'lonely'", "no input", "input x[");
    /* the output names nothing either: at most that second error */
    cr_assert(r.errors == 1 || r.errors == 2, "%s", r.out);
    analysed_free(&r);
}

Test(diagnostics, no_output)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    a = relu(x);\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 1, 9, 1, "network 'n'", "no `output`", "output ");
    analysed_free(&r);
}

Test(diagnostics, output_names_unknown_layer)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    act2 = relu(x);\n"
                    "    output act3;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 4, 12, 4, "output 'act3'", "not a layer", "did you mean 'act2'");
    analysed_free(&r);
}

Test(diagnostics, two_outputs_is_one_error)
{
    /* `output a, b;` is reported once; the network does have an output statement, so no
     * "has no `output` statement" error may follow */
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    a = relu(x);\n"
                    "    output a, x;\n"
                    "}\n";
    analysed r = analyse(t);
    EXPECT_ERROR(r, t, 4, 5, 0, "names 2 outputs", "exactly one");
    cr_assert_null(strstr(r.out, "no `output` statement"), "bogus follow-up error:\n%s", r.out);
    expect_errors(&r, 1);
    analysed_free(&r);
}

Test(diagnostics, second_input)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    input y[4];\n"
                    "    output x;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 5, 0, "second input 'y'", "one input");
    analysed_free(&r);
}

Test(diagnostics, argument_to_op_without_parameters)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    b = relu(x, 3);\n"
                    "    output b;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 17, 1, "relu", "argument");
    /* "takes at most 0 arguments" is not English: say it takes none */
    cr_assert_null(strstr(r.out, "at most 0"), "%s", r.out);
    analysed_free(&r);
}

Test(diagnostics, positional_after_named)
{
    const char *t = "network n {\n"
                    "    input x[1, 4, 4];\n"
                    "    p = maxpool(x, size=2, 2);\n"
                    "    output p;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 28, 1, "positional argument after a named one", "maxpool");
    analysed_free(&r);
}

Test(diagnostics, layer_not_defined_by_a_call)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    a = relu;\n"
                    "    output a;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 9, 4, "layer 'a'", "op call");
    analysed_free(&r);
}

/* ---- shapes ---- */

Test(diagnostics, dense_on_spatial_input_says_flatten)
{
    const char *t = "network n {\n"
                    "    input x[1, 8, 8];\n"
                    "    a = relu(x);\n"
                    "    h = dense(a, 10);\n"
                    "    output h;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 4, 15, 1, "dense 'h'", "flat input", "[1, 8, 8]", "flatten(a)");
    analysed_free(&r);
}

Test(diagnostics, conv2d_on_flat_input)
{
    const char *t = "network n {\n"
                    "    input x[784];\n"
                    "    c = conv2d(x, 8, kernel=3);\n"
                    "    output c;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 16, 1, "conv2d 'c'", "[C, H, W]", "[784]");
    analysed_free(&r);
}

Test(diagnostics, add_of_different_shapes)
{
    const char *t = "network n {\n"
                    "    input x[2, 8, 8];\n"
                    "    p = maxpool(x, 2);\n"
                    "    s = add(x, p);\n"
                    "    output s;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 4, 9, 3, "add 's'", "[2, 8, 8]", "[2, 4, 4]", "differ");
    analysed_free(&r);
}

Test(diagnostics, pool_window_larger_than_input)
{
    const char *t = "network n {\n"
                    "    input x[1, 4, 4];\n"
                    "    p = maxpool(x, 5);\n"
                    "    output p;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 9, 7, "maxpool 'p'", "window 5", "padded input size 4");
    analysed_free(&r);
}

Test(diagnostics, pool_window_larger_than_padded_input)
{
    /* padding 1 on each side makes the 3x3 input 5x5: a 6-wide window still does not fit */
    const char *t = "network n {\n"
                    "    input x[1, 3, 3];\n"
                    "    p = avgpool(x, [2, 6], stride=1, pad=1);\n"
                    "    output p;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 9, 7, "avgpool 'p'", "window 6", "padded input size 5");
    analysed_free(&r);
}

Test(diagnostics, softmax_feeding_another_layer_is_fine)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    s = softmax(x);\n"
                    "    r = relu(s);\n"
                    "    output r;\n"
                    "}\n";
    analysed r = analyse(t);
    cr_assert_not(r.failed, "%s", r.out);
    cr_assert_eq(r.errors, 0, "%s", r.out);
    analysed_free(&r);
}

Test(diagnostics, softmax_as_output_is_fine)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    s = softmax(x);\n"
                    "    output s;\n"
                    "}\n";
    analysed r = analyse(t);
    cr_assert_not(r.failed, "%s", r.out);
    cr_assert_eq(r.errors, 0, "%s", r.out);
    analysed_free(&r);
}

/* ---- explain blocks ---- */

Test(diagnostics, explain_for_unknown_network)
{
    const char *t = "network mnet {\n"
                    "    input x[4];\n"
                    "    output x;\n"
                    "}\n"
                    "explain sal for mnett { method gradient; }\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 5, 17, 5, "'sal'", "unknown network 'mnett'");
    analysed_free(&r);
}

/* ---- literal values ---- */

Test(diagnostics, negative_units)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    d = dense(x, -3);\n"
                    "    output d;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 18, 2, "units", "positive integer");
    analysed_free(&r);
}

Test(diagnostics, fractional_units)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    d = dense(x, 2.5);\n"
                    "    output d;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 18, 3, "units", "positive integer");
    analysed_free(&r);
}

Test(diagnostics, kernel_zero)
{
    const char *t = "network n {\n"
                    "    input x[1, 4, 4];\n"
                    "    c = conv2d(x, 2, kernel=0);\n"
                    "    output c;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 29, 1, "kernel", "positive integer");
    analysed_free(&r);
}

Test(diagnostics, bias_maybe)
{
    const char *t = "network n {\n"
                    "    input x[1, 4, 4];\n"
                    "    c = conv2d(x, 2, kernel=3, bias=maybe);\n"
                    "    output c;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 37, 5, "bias", "true or false");
    analysed_free(&r);
}

Test(diagnostics, pool_size_zero)
{
    const char *t = "network n {\n"
                    "    input x[1, 4, 4];\n"
                    "    p = maxpool(x, 0);\n"
                    "    output p;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 20, 1, "size", "positive integer");
    analysed_free(&r);
}

Test(diagnostics, negative_padding)
{
    const char *t = "network n {\n"
                    "    input x[1, 4, 4];\n"
                    "    p = maxpool(x, 2, pad=[0, -1]);\n"
                    "    output p;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 31, 2, "padding", "non-negative integer");
    analysed_free(&r);
}

Test(diagnostics, input_dimension_zero)
{
    const char *t = "network n {\n"
                    "    input x[1, 0, 4];\n"
                    "    output x;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 2, 16, 1, "input dimension", "positive integer");
    analysed_free(&r);
}

Test(diagnostics, empty_input_range)
{
    const char *t = "network n {\n"
                    "    input x[4] range [1, 0];\n"
                    "    output x;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 2, 23, 1, "range", "low < high");
    analysed_free(&r);
}

/* ---- all errors of a file in one run ---- */

static const char three_errors[] = "network n {\n"
                                   "    input x[1, 8, 8];\n"
                                   "    a = conv3d(x, 8);\n"
                                   "    p = maxpool(x, 2, strde=2);\n"
                                   "    f = flatten(p);\n"
                                   "    output f;\n"
                                   "}\n"
                                   "explain e for nnn { method gradient; }\n";

Test(diagnostics, all_errors_reported_in_one_run)
{
    analysed r = analyse(three_errors);
    expect_errors(&r, 3);
    EXPECT_ERROR(r, three_errors, 3, 9, 6, "unknown op 'conv3d'");
    EXPECT_ERROR(r, three_errors, 4, 23, 5, "no parameter 'strde'", "stride");
    EXPECT_ERROR(r, three_errors, 8, 15, 3, "unknown network 'nnn'");
    analysed_free(&r);
}

Test(diagnostics, all_errors_reported_by_the_cli)
{
    char *path = tu_write_temp("three.xai", three_errors, strlen(three_errors));
    char *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&cmd, "'%s' check '%s'", XAIC_EXE, path) > 0);
    int rc = tu_run(cmd, &out);
    cr_assert_eq(rc, 1, "exit status %d:\n%s", rc, out);
    cr_assert_eq(count_substr(out, ": error: "), 3, "%s", out);
    cr_assert_not_null(strstr(out, "\n3 errors\n"), "no '3 errors' summary:\n%s", out);
    char *want = NULL;
    cr_assert(asprintf(&want, "%s:3:9: error: unknown op 'conv3d'", path) > 0);
    cr_assert_not_null(strstr(out, want), "%s", out);
    cr_assert_not_null(strstr(out, "    3 |     a = conv3d(x, 8);\n      |         ^~~~~~\n"), "%s", out);
    free(want);
    free(cmd);
    free(out);
    free(path);
}

Test(diagnostics, cli_single_error_summary)
{
    const char *t = "network n {\n"
                    "    input x[4];\n"
                    "    output y;\n"
                    "}\n";
    char *path = tu_write_temp("one.xai", t, strlen(t));
    char *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&cmd, "'%s' check '%s'", XAIC_EXE, path) > 0);
    int rc = tu_run(cmd, &out);
    cr_assert_eq(rc, 1, "exit status %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, ":3:12: error: output 'y'"), "%s", out);
    cr_assert_not_null(strstr(out, "\n1 error\n"), "%s", out);
    free(cmd);
    free(out);
    free(path);
}

Test(diagnostics, errors_in_two_networks_both_reported)
{
    const char *t = "network a {\n"
                    "    input x[4];\n"
                    "    h = dense(x, 0);\n"
                    "    output h;\n"
                    "}\n"
                    "network b {\n"
                    "    input x[1, 4, 4];\n"
                    "    p = avgpool(x, 9);\n"
                    "    output p;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 2);
    EXPECT_ERROR(r, t, 3, 18, 1, "units", "positive integer");
    EXPECT_ERROR(r, t, 8, 9, 7, "avgpool 'p'", "window 9");
    analysed_free(&r);
}

Test(diagnostics, dependents_of_a_bad_layer_are_silent)
{
    /* one root cause: the later layers that read it must not add errors */
    const char *t = "network n {\n"
                    "    input x[1, 8, 8];\n"
                    "    a = conv2d(x, 8);\n"
                    "    b = relu(a);\n"
                    "    c = maxpool(b, 2);\n"
                    "    output c;\n"
                    "}\n";
    analysed r = analyse(t);
    expect_errors(&r, 1);
    EXPECT_ERROR(r, t, 3, 9, 6, "needs", "'kernel'");
    analysed_free(&r);
}
