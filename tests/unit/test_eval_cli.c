/* `xaic eval`, run as a user would (XAIC_EXE through tu_run). The network is a tiny .xai written here:
 * one dense layer without bias, logit0 = sum w*x and logit1 = -logit0, so its gradient x input is w*x and
 * its saliency (plain gradient) is w. The expected curves and scores are worked out by hand (the same
 * arithmetic as test_rt_metrics.c); the errors are checked for a message that says what to do and for the
 * exit status. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "xairt.h"

/* tiny35: [1, 3, 5] input, 2x2 patches -> a 2 x 3 grid with smaller edge patches, sums with x = 1:
 *   P0 = 4, P1 = 8, P2 = 10, P3 = 6, P4 = -2, P5 = 0.5; f(x^0) = 26.5
 * tiny24: [1, 2, 4] input, w = 1 .. 8 (continuity). Both read one file, each a part of it (strict=false). */
static const float W35[15] = { 1, 1, 2, 2, 5, 1, 1, 2, 2, 5, 3, 3, -1, -1, 0.5f };
static const float W24[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static const char *XAI = "network tiny35 {\n"
                         "    weights \"tiny.safetensors\" strict=false;\n"
                         "    input x[1, 3, 5];\n"
                         "    flat = flatten(x);\n"
                         "    fc = dense(flat, 2, bias=false);\n"
                         "    output fc;\n"
                         "}\n"
                         "network tiny24 {\n"
                         "    weights \"tiny.safetensors\" strict=false;\n"
                         "    input x[1, 2, 4];\n"
                         "    flat = flatten(x);\n"
                         "    fc2 = dense(flat, 2, bias=false);\n"
                         "    output fc2;\n"
                         "}\n"
                         "explain gxi for tiny35 { method gradient; post times_input; }\n"
                         "explain saliency for tiny35 { method gradient; }\n"
                         "explain gxi24 for tiny24 { method gradient; post times_input; }\n";

static char *path_of(const char *name)
{
    char *p = NULL;
    cr_assert(asprintf(&p, "%s/%s", tu_tmpdir(), name) > 0);
    return p;
}

/* a safetensors file with fc.weight [2, 15] = (W35, -W35) and fc2.weight [2, 8] = (W24, -W24) */
static void write_weights(void)
{
    float data[30 + 16];
    for (int i = 0; i < 15; i++) data[i] = W35[i], data[15 + i] = -W35[i];
    for (int i = 0; i < 8; i++) data[30 + i] = W24[i], data[38 + i] = -W24[i];
    char header[256];
    int n = snprintf(header, sizeof header,
                     "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,15],\"data_offsets\":[0,120]},"
                     "\"fc2.weight\":{\"dtype\":\"F32\",\"shape\":[2,8],\"data_offsets\":[120,184]}}");
    while (n % 8) header[n++] = ' ';
    size_t size = 8 + n + sizeof data;
    unsigned char *buf = malloc(size);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, header, n);
    memcpy(buf + 8 + n, data, sizeof data); /* little-endian host */
    free(tu_write_temp("tiny.safetensors", buf, size));
    free(buf);
}

static char *setup_model(void)
{
    write_weights();
    return tu_write_temp("tiny.xai", XAI, strlen(XAI));
}

static char *write_npy(const char *name, const float *v, int rank, const int64_t *shape)
{
    char *p = path_of(name), err[256];
    cr_assert_eq(xai_npy_write(p, v, rank, shape, err, sizeof err), XAI_OK, "%s", err);
    return p;
}

/* IDX: 0 0 0x08 (uint8) rank, big-endian dimensions, bytes */
static char *write_idx(const char *name, const unsigned char *v, int rank, const uint32_t *dims)
{
    unsigned char buf[256] = { 0, 0, 0x08, (unsigned char)rank };
    size_t at = 4, count = 1;
    for (int i = 0; i < rank; i++, at += 4) {
        for (int b = 0; b < 4; b++) buf[at + b] = (unsigned char)(dims[i] >> (24 - 8 * b));
        count *= dims[i];
    }
    cr_assert(at + count <= sizeof buf);
    memcpy(buf + at, v, count);
    return tu_write_temp(name, buf, at + count);
}

static int xaic(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int xaic(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL, *cmd = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    cr_assert(asprintf(&cmd, "'%s' eval %s", XAIC_EXE, args) > 0);
    int rc = tu_run(cmd, out);
    free(cmd);
    free(args);
    return rc;
}

static cJSON *read_json(const char *dir)
{
    char *p = NULL;
    cr_assert(asprintf(&p, "%s/results.json", dir) > 0);
    char *text = tu_read_file(p, NULL);
    cr_assert_not_null(text, "no %s", p);
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "%s is not JSON", p);
    free(text);
    free(p);
    return j;
}

/* the `results.json` entry for explanation `name` (and order, for selectivity) */
static const cJSON *entry(const cJSON *root, const char *name, const char *order)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(root, "explanations"))
    {
        const cJSON *o = cJSON_GetObjectItem(e, "order");
        if (!strcmp(cJSON_GetObjectItem(e, "name")->valuestring, name) &&
            (!order || (o && !strcmp(o->valuestring, order))))
            return e;
    }
    cr_assert_fail("no entry for %s %s", name, order ? order : "");
    return NULL;
}

static void expect_array(const cJSON *arr, const float *want, int n, const char *what)
{
    cr_assert_eq(cJSON_GetArraySize(arr), n, "%s: %d values, want %d", what, cJSON_GetArraySize(arr), n);
    for (int k = 0; k < n; k++) {
        double v = cJSON_GetArrayItem(arr, k)->valuedouble;
        cr_assert(fabs(v - want[k]) <= 1e-4 * (1 + fabs(want[k])), "%s[%d] = %g, want %g", what, k, v, (double)want[k]);
    }
}

static int file_exists_in(const char *dir, const char *name)
{
    char *p = NULL;
    cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
    char *text = tu_read_file(p, NULL);
    free(p);
    free(text);
    return text != NULL;
}

/* Three all-ones images from an IDX file (255 scaled to 1), labels from IDX, batches of 2 (2 + 1): the mean
 * curves are the hand-derived ones. */
Test(eval_cli, selectivity_known_answer_both_orders)
{
    char *xai = setup_model(), *dir = path_of("sel"), *out = NULL;
    unsigned char pixels[3 * 15];
    memset(pixels, 255, sizeof pixels);
    char *data = write_idx("ones.idx", pixels, 3, (const uint32_t[]){ 3, 3, 5 });
    char *labels = write_idx("labels.idx", (const unsigned char[]){ 0, 0, 0 }, 1, (const uint32_t[]){ 3 });
    int rc = xaic(&out,
                  "'%s' --explain gxi,saliency --data '%s' --labels '%s' --metric selectivity --patch 2 "
                  "--steps 6 --order both --tracked logit --batch 2 -o '%s'",
                  xai, data, labels, dir);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    cJSON *j = read_json(dir);
    cr_assert_eq(cJSON_GetObjectItem(j, "inputs")->valueint, 3);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "targets")->valuestring, "labels");
    cr_assert_float_eq(cJSON_GetObjectItem(j, "accuracy")->valuedouble, 1.0, 1e-9);
    /* most relevant first: P2, P1, P3, P0, P5, P4; least: P4, P5, P0, P3, P1, P2 */
    const float most[7] = { 26.5f, 16.5f, 8.5f, 2.5f, -1.5f, -2.0f, 0.0f };
    const float least[7] = { 26.5f, 28.5f, 28.0f, 24.0f, 18.0f, 10.0f, 0.0f };
    for (int m = 0; m < 2; m++) {
        const char *name = m ? "saliency" : "gxi"; /* x = 1: w*x and w rank the patches alike */
        const cJSON *e = entry(j, name, "most_relevant_first");
        expect_array(cJSON_GetObjectItem(e, "mean_curve"), most, 7, name);
        cr_assert_float_eq(cJSON_GetObjectItem(e, "aopc_mean")->valuedouble, 135.0 / 7, 1e-4);
        e = entry(j, name, "least_relevant_first");
        expect_array(cJSON_GetObjectItem(e, "mean_curve"), least, 7, name);
        cr_assert_float_eq(cJSON_GetObjectItem(e, "aopc_mean")->valuedouble, 50.5 / 7, 1e-4);
    }
    cJSON_Delete(j);
    /* curves.csv: header + 2 explanations x 2 orders x 7 points; per_image.csv: header + 2 x 2 x 3 */
    char *p = NULL;
    cr_assert(asprintf(&p, "%s/curves.csv", dir) > 0);
    char *csv = tu_read_file(p, NULL);
    cr_assert_not_null(csv);
    const char *header = "explanation,order,patches_removed,mean_f,std_f\n";
    cr_assert(!strncmp(csv, header, strlen(header)), "%s", csv);
    cr_assert(strstr(csv, "\ngxi,most_relevant_first,1,16.5,0\n"), "%s", csv);
    cr_assert(strstr(csv, "\nsaliency,least_relevant_first,2,28,0\n"), "%s", csv);
    int lines = 0;
    for (char *c = csv; *c; c++) lines += *c == '\n';
    cr_assert_eq(lines, 1 + 2 * 2 * 7);
    free(csv);
    free(p);
    cr_assert(asprintf(&p, "%s/per_image.csv", dir) > 0);
    csv = tu_read_file(p, NULL);
    cr_assert(strstr(csv, "\n2,0,0,gxi,most_relevant_first,19.28571"), "%s", csv);
    free(csv);
    free(p);
    cr_assert(file_exists_in(dir, "selectivity_most_relevant_first.svg"));
    cr_assert(file_exists_in(dir, "selectivity_least_relevant_first.svg"));
    cr_assert(file_exists_in(dir, "strip_gxi.png") && file_exists_in(dir, "strip_saliency_least_relevant_first.png"));
    free(xai), free(dir), free(out), free(data), free(labels);
}

/* Continuity: image A = 1 at (0, 1) of a 2x4 input, shifts -3 .. 2, argmax target (class 0):
 * f = 0 0 1 2 3 4; R1 = 0 0 1 2 0 0; R2 = 0 0 0 0 3 4; continuity = (3 + 4) / sqrt 2. --limit 1 drops image B. */
Test(eval_cli, continuity_known_answer)
{
    char *xai = setup_model(), *dir = path_of("cont"), *out = NULL;
    float x[16] = { 0 };
    x[1] = 1;
    x[8 + 6] = 5;
    char *data = write_npy("two.npy", x, 4, (const int64_t[]){ 2, 1, 2, 4 });
    int rc = xaic(&out,
                  "'%s' --explain gxi24 --network tiny24 --data '%s' --metric continuity --shifts -3:2 "
                  "--limit 1 -o '%s'",
                  xai, data, dir);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    cJSON *j = read_json(dir);
    cr_assert_eq(cJSON_GetObjectItem(j, "inputs")->valueint, 1);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "targets")->valuestring, "argmax");
    const cJSON *e = entry(j, "gxi24", NULL);
    const float f[6] = { 0, 0, 1, 2, 3, 4 }, r1[6] = { 0, 0, 1, 2, 0, 0 }, r2[6] = { 0, 0, 0, 0, 3, 4 },
                zero[6] = { 0 };
    expect_array(cJSON_GetObjectItem(e, "mean_f"), f, 6, "f");
    const cJSON *q = cJSON_GetObjectItem(e, "mean_quadrants");
    expect_array(cJSON_GetArrayItem(q, 0), r1, 6, "R1");
    expect_array(cJSON_GetArrayItem(q, 1), r2, 6, "R2");
    expect_array(cJSON_GetArrayItem(q, 2), zero, 6, "R3");
    cr_assert_float_eq(cJSON_GetObjectItem(e, "continuity_mean")->valuedouble, 7 / sqrt(2), 1e-4);
    cJSON_Delete(j);
    cr_assert(file_exists_in(dir, "continuity_gxi24.svg") && file_exists_in(dir, "strip_gxi24.png"));
    cr_assert(file_exists_in(dir, "curves.csv") && file_exists_in(dir, "per_image.csv"));
    free(xai), free(dir), free(out), free(data);
}

/* Each error: the exit status and a message naming the problem and what to do. */
static void expect_error(int want_rc, const char *want_msg, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void expect_error(int want_rc, const char *want_msg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL, *out = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    int rc = xaic(&out, "%s", args);
    cr_assert_eq(rc, want_rc, "xaic eval %s: exit %d, want %d:\n%s", args, rc, want_rc, out);
    cr_assert(strstr(out, want_msg), "xaic eval %s: no '%s' in:\n%s", args, want_msg, out);
    free(args);
    free(out);
}

Test(eval_cli, errors_explain_what_to_do)
{
    char *xai = setup_model(), *dir = path_of("err");
    float ones[15] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, wrong[16] = { 0 }, bad_labels[1] = { 2 };
    char *data = write_npy("one.npy", ones, 4, (const int64_t[]){ 1, 1, 3, 5 });
    char *data16 = write_npy("wrong.npy", wrong, 2, (const int64_t[]){ 1, 16 });
    char *labels = write_npy("bad_labels.npy", bad_labels, 1, (const int64_t[]){ 1 });
    char *labels2 = write_npy("two_labels.npy", wrong, 1, (const int64_t[]){ 2 });
    const char *sel = "--metric selectivity --patch 2 --steps 6";
    expect_error(1, "no explanation named 'nope'; the file has gxi, saliency, gxi24",
                 "'%s' --explain gxi,nope --data '%s' %s -o '%s'", xai, data, sel, dir);
    expect_error(2, "unknown metric 'bogus'; --metric takes selectivity or continuity",
                 "'%s' --explain gxi --data '%s' --metric bogus -o '%s'", xai, data, dir);
    expect_error(1, "shape mismatch: the data is [1, 16], but network 'tiny35' takes inputs of [1, 3, 5] = 15 values",
                 "'%s' --explain gxi --data '%s' %s -o '%s'", xai, data16, sel, dir);
    expect_error(1, "only 6 patches of 2x2; use --steps 6 or less, or a smaller --patch",
                 "'%s' --explain gxi --data '%s' --metric selectivity --patch 2 --steps 7 -o '%s'", xai, data, dir);
    expect_error(2, "--patch needs an integer in [1, ", "'%s' --explain gxi --data '%s' %s --patch 0 -o '%s'", xai,
                 data, sel, dir);
    expect_error(2, "--shifts takes MIN:MAX with MIN < MAX",
                 "'%s' --explain gxi --data '%s' --metric continuity "
                 "--shifts 3:3 -o '%s'",
                 xai, data, dir);
    expect_error(1, "label 2 of input 0 is not a class of network 'tiny35' (0 .. 1)",
                 "'%s' --explain gxi --data '%s' --labels '%s' %s -o '%s'", xai, data, labels, sel, dir);
    expect_error(1, "holds 2 labels but", "'%s' --explain gxi --data '%s' --labels '%s' %s -o '%s'", xai, data, labels2,
                 sel, dir);
    expect_error(1, "are for different networks", "'%s' --explain gxi,gxi24 --data '%s' %s -o '%s'", xai, data, sel,
                 dir);
    expect_error(1, "is for network 'tiny35', not 'tiny24'",
                 "'%s' --explain gxi --network tiny24 --data '%s' %s -o '%s'", xai, data, sel, dir);
    expect_error(2, "eval needs -o DIR", "'%s' --explain gxi --data '%s' %s", xai, data, sel);
    expect_error(2, "eval needs --explain", "'%s' --data '%s' %s -o '%s'", xai, data, sel, dir);
    expect_error(2, "unknown option '--frobnicate' for eval", "'%s' --frobnicate 1", xai);
    expect_error(2, "--steps needs a value", "'%s' --explain gxi --steps", xai);
    expect_error(2, "--order takes most, least or both, not 'sideways'", "'%s' --order sideways", xai);
    expect_error(1, "cannot open", "'%s' --explain gxi --data /nonexistent.npy %s -o '%s'", xai, sel, dir);
    free(xai), free(dir), free(data), free(data16), free(labels), free(labels2);
}

/* --windows sliding (the seed's find_roi) on tiny35 with x = 1 (relevance = w), 2x2 windows, 2 steps (floor(3/2) *
 * floor(5/2) disjoint windows). Window sums by top-left corner:  row 0: 4  6  8 14   row 1: 8  5  2  6.5
 * most first: (0,3) 14, then of the windows not touching it (columns 0..2) (1,0) 8: f = 26.5, 12.5, 4.5;
 * least first: (1,2) 2, then of those clear of it (column 0) (0,0) 4: f = 26.5, 24.5, 20.5. */
Test(eval_cli, sliding_windows_known_answer)
{
    char *xai = setup_model(), *dir = path_of("sliding"), *out = NULL;
    float ones[15] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    char *data = write_npy("one_sliding.npy", ones, 4, (const int64_t[]){ 1, 1, 3, 5 });
    int rc = xaic(&out,
                  "'%s' --explain gxi --data '%s' --metric selectivity --patch 2 --steps 2 --order both "
                  "--tracked logit --windows sliding -o '%s'",
                  xai, data, dir);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    cJSON *j = read_json(dir);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "options"), "windows")->valuestring, "sliding");
    const float most[3] = { 26.5f, 12.5f, 4.5f }, least[3] = { 26.5f, 24.5f, 20.5f };
    const cJSON *e = entry(j, "gxi", "most_relevant_first");
    expect_array(cJSON_GetObjectItem(e, "mean_curve"), most, 3, "most");
    cr_assert_float_eq(cJSON_GetObjectItem(e, "aopc_mean")->valuedouble, 12.0, 1e-4); /* (0 + 14 + 22) / 3 */
    e = entry(j, "gxi", "least_relevant_first");
    expect_array(cJSON_GetObjectItem(e, "mean_curve"), least, 3, "least");
    cr_assert_float_eq(cJSON_GetObjectItem(e, "aopc_mean")->valuedouble, 8.0 / 3, 1e-4); /* (0 + 2 + 6) / 3 */
    cJSON_Delete(j);
    cr_assert(file_exists_in(dir, "strip_gxi.png") && file_exists_in(dir, "strip_gxi_least_relevant_first.png"));
    expect_error(1, "only 2 disjoint sliding windows of 2x2; use --steps 2 or less",
                 "'%s' --explain gxi --data '%s' --metric selectivity --patch 2 --steps 3 --windows sliding -o '%s'",
                 xai, data, dir);
    expect_error(2, "--windows takes grid or sliding, not 'diagonal'", "'%s' --windows diagonal", xai);
    free(xai), free(dir), free(out), free(data);
}

/* The windows are part of the job: a grid run's journal is not resumed by a sliding run. The grid run fails after
 * committing its outputs (its skip list cannot be written), which leaves its journal behind. */
Test(eval_cli, resume_refuses_other_windows)
{
    char *xai = setup_model(), *dir = path_of("resume_windows"), *out = NULL, *bad_list = NULL, *list = NULL;
    float ones[15] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    char *data = write_npy("one_resume.npy", ones, 4, (const int64_t[]){ 1, 1, 3, 5 });
    cr_assert(asprintf(&bad_list, "%s/no/such/dir/list.txt", tu_tmpdir()) > 0);
    cr_assert(asprintf(&list, "%s/resume_list.txt", tu_tmpdir()) > 0);
    const char *sel = "--metric selectivity --patch 2 --steps 2";
    int rc = xaic(&out, "'%s' --explain gxi --data '%s' %s --skip-bad '%s' -o '%s'", xai, data, sel, bad_list, dir);
    cr_assert_eq(rc, 1, "exit %d:\n%s", rc, out);
    free(out);
    cr_assert(file_exists_in(dir, "per_input.npy.xaic-journal"), "the failed run leaves its journal");
    expect_error(1, "is the journal of a different job",
                 "'%s' --explain gxi --data '%s' %s --windows sliding --skip-bad '%s' --resume -o '%s'", xai, data, sel,
                 list, dir);
    expect_error(1, " windows=sliding",
                 "'%s' --explain gxi --data '%s' %s --windows sliding --skip-bad '%s' --resume -o '%s'", xai, data, sel,
                 list, dir);
    /* the grid command it was written for finishes it (explicit --windows grid is the default) */
    rc = xaic(&out, "'%s' --explain gxi --data '%s' %s --windows grid --skip-bad '%s' --resume -o '%s'", xai, data, sel,
              list, dir);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    cr_assert(!file_exists_in(dir, "per_input.npy.xaic-journal"));
    free(xai), free(dir), free(out), free(data), free(bad_list), free(list);
}
