/* The xaic command line, run as a user would (XAIC_EXE through tu_run, cwd = source tree root):
 * `run --forward` against the PyTorch fixture, bad inputs (dtype, shape, missing, truncated, NaN),
 * `check` on the bundled models, the --emit kinds, --dump, usage errors, -O0 vs -O3 and a cross target. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <glob.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "xairt.h"

#define MODEL   "models/mnist_cnn.xai"
#define DIGITS  "models/samples/digits.npy"
#define FIXTURE "tests/fixtures/forward/mnist_cnn_logits.npy"

static int xaic(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int xaic(char **out, const char *fmt, ...)
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

static char *tmp(const char *name)
{
    char *p = NULL;
    cr_assert(asprintf(&p, "%s/%s", tu_tmpdir(), name) > 0);
    return p;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static void read_npy(const char *path, xai_array *a)
{
    char err[512];
    memset(a, 0, sizeof *a);
    cr_assert_eq(xai_npy_read(path, a, 0, err, sizeof err), XAI_OK, "%s", err);
}

/* Runs the forward pass of MODEL on `input`; the logits go to a fresh .npy whose path is returned. */
static char *forward(const char *input, const char *extra, const char *out_name)
{
    char *out_path = tmp(out_name), *out = NULL;
    int rc = xaic(&out, "run " MODEL " --forward --input '%s' -o '%s' %s", input, out_path, extra ? extra : "");
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    cr_assert(file_exists(out_path), "no output written:\n%s", out);
    free(out);
    return out_path;
}

/* max |a - b| over the first n values of row ra of a and row rb of b, against tol * max|b| */
static void expect_close_rows(const xai_array *a, int ra, const xai_array *b, int rb, int64_t n, double tol)
{
    double mx = 0, err = 0;
    for (int64_t i = 0; i < b->shape[0] * n; i++) mx = fmax(mx, fabs(b->data[i]));
    for (int64_t i = 0; i < n; i++) err = fmax(err, fabs((double)a->data[ra * n + i] - b->data[rb * n + i]));
    cr_assert(err <= tol * mx, "rows %d/%d differ: max error %g > %g * %g", ra, rb, err, tol, mx);
}

/* ---- run --forward ---- */

Test(cli, forward_npy_matches_pytorch_fixture)
{
    if (!file_exists(FIXTURE)) cr_skip_test("fixture %s is not there yet", FIXTURE);
    char *y_path = forward(DIGITS, NULL, "logits.npy");
    xai_array y, ref;
    read_npy(y_path, &y);
    read_npy(FIXTURE, &ref);
    cr_assert_eq(y.rank, 2);
    cr_assert(y.shape[0] == 10 && y.shape[1] == 10, "logits shape [%lld, %lld]", (long long)y.shape[0],
              (long long)y.shape[1]);
    cr_assert(ref.rank == 2 && ref.shape[0] == 10 && ref.shape[1] == 10, "fixture shape");
    for (int r = 0; r < 10; r++) expect_close_rows(&y, r, &ref, r, 10, 1e-5);
    xai_array_free(&y);
    xai_array_free(&ref);
    free(y_path);
}

Test(cli, forward_npy_shape_and_dtype)
{
    char *y_path = forward(DIGITS, NULL, "logits_plain.npy");
    xai_array y;
    read_npy(y_path, &y); /* convert off: the file must be float32 */
    cr_assert_eq(y.rank, 2);
    cr_assert(y.shape[0] == 10 && y.shape[1] == 10);
    for (int i = 0; i < 100; i++) cr_assert(isfinite(y.data[i]));
    /* the samples are the digits 0..9 in order (models/samples/digits_labels.txt): a trained net gets
     * them right */
    xai_array labels = { 0 };
    char err[256];
    cr_assert_eq(xai_npy_read("models/samples/digits_labels.npy", &labels, 1, err, sizeof err), XAI_OK, "%s", err);
    for (int r = 0; r < 10; r++) {
        int best = 0;
        for (int k = 1; k < 10; k++)
            if (y.data[r * 10 + k] > y.data[r * 10 + best]) best = k;
        cr_assert_eq(best, (int)labels.data[r], "sample %d classified as %d", r, best);
    }
    xai_array_free(&labels);
    xai_array_free(&y);
    free(y_path);
}

Test(cli, forward_png_is_batch_of_one)
{
    char *y_path = forward("models/samples/digit_3.png", NULL, "logits_png.npy");
    xai_array y;
    read_npy(y_path, &y);
    cr_assert_eq(y.rank, 2);
    cr_assert(y.shape[0] == 1 && y.shape[1] == 10, "shape [%lld, %lld]", (long long)y.shape[0], (long long)y.shape[1]);
    /* the same image as row 3 of digits.npy */
    char *all_path = forward(DIGITS, NULL, "logits_all.npy");
    xai_array all;
    read_npy(all_path, &all);
    expect_close_rows(&y, 0, &all, 3, 10, 1e-5);
    if (file_exists(FIXTURE)) {
        xai_array ref;
        read_npy(FIXTURE, &ref);
        expect_close_rows(&y, 0, &ref, 3, 10, 1e-5);
        xai_array_free(&ref);
    }
    xai_array_free(&all);
    xai_array_free(&y);
    free(all_path);
    free(y_path);
}

Test(cli, forward_png_matches_fixture_row_3)
{
    if (!file_exists(FIXTURE)) cr_skip_test("fixture %s is not there yet", FIXTURE);
    char *y_path = forward("models/samples/digit_3.png", NULL, "logits_png_fx.npy");
    xai_array y, ref;
    read_npy(y_path, &y);
    read_npy(FIXTURE, &ref);
    expect_close_rows(&y, 0, &ref, 3, 10, 1e-5);
    xai_array_free(&y);
    xai_array_free(&ref);
    free(y_path);
}

/* The numbers of a --stats line (layer name first): the fields that parse whole as numbers (not the shape's) */
static int stats_row(const char *text, const char *layer, double *v, int max)
{
    size_t len = strlen(layer);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, layer, len) || line[len] != ' ') continue;
        int n = 0;
        const char *p = line + len;
        while (*p && *p != '\n' && n < max) {
            while (*p == ' ') p++;
            char *end;
            double x = strtod(p, &end);
            if (end > p && (*end == ' ' || *end == '\n' || !*end)) v[n++] = x;
            while (*p && *p != ' ' && *p != '\n') p++;
        }
        return n;
    }
    return 0;
}

/* --stats reads each layer's relevance from the workspace's arena, which starts after its header (this network's
 * Winograd scratch): the output layer's row is the seed, the target logit (PyTorch's fixture), and the input's row
 * the per-sample sums of the map written to -o. */
Test(cli, stats_rows_are_the_relevance_sums)
{
    char *r_path = tmp("stats_r.npy"), *out = NULL;
    int rc =
        xaic(&out, "run models/mnist_cnn_lrp.xai --explain epsilon_plus --input " DIGITS " -o '%s' --stats", r_path);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    double seed[8], input[8];
    cr_assert_eq(stats_row(out, "fc2", seed, 8), 8, "no fc2 row of 8 samples:\n%s", out);
    cr_assert_eq(stats_row(out, "x", input, 8), 8, "no x row of 8 samples:\n%s", out);
    xai_array r, logits;
    read_npy(r_path, &r);
    read_npy(FIXTURE, &logits);
    int64_t n = xai_array_count(&r) / r.shape[0];
    for (int b = 0; b < 8; b++) {
        double top = -INFINITY, sum = 0;
        for (int k = 0; k < 10; k++) top = fmax(top, logits.data[b * 10 + k]);
        for (int64_t i = 0; i < n; i++) sum += r.data[b * n + i];
        cr_expect(fabs(seed[b] - top) <= 1e-4 * fabs(top), "sample %d: fc2 row %g, target logit %g", b, seed[b], top);
        cr_expect(fabs(input[b] - sum) <= 1e-5 * fabs(sum) + 1e-6, "sample %d: x row %g, map sum %g", b, input[b], sum);
    }
    xai_array_free(&r);
    xai_array_free(&logits);
    free(out);
    free(r_path);
}

Test(cli, O0_matches_O3)
{
    char *p3 = forward(DIGITS, "-O3", "o3.npy"), *p0 = forward(DIGITS, "-O0", "o0.npy");
    xai_array a, b;
    read_npy(p3, &a);
    read_npy(p0, &b);
    cr_assert(a.shape[0] == 10 && b.shape[0] == 10 && a.shape[1] == 10 && b.shape[1] == 10);
    for (int r = 0; r < 10; r++) expect_close_rows(&b, r, &a, r, 10, 1e-5);
    xai_array_free(&a);
    xai_array_free(&b);
    free(p0);
    free(p3);
}

/* ---- run: bad inputs ---- */

/* Writes a .npy with the given descr and raw data. */
static char *write_npy_raw(const char *name, const char *descr, const char *shape, const void *data, size_t len)
{
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    int total = 10 + n + 1;
    int pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)(n + pad + 1);
    size_t size = 10 + hlen + len;
    unsigned char *buf = malloc(size);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', (size_t)pad);
    buf[10 + n + pad] = '\n';
    if (len) memcpy(buf + 10 + hlen, data, len);
    char *p = tu_write_temp(name, buf, size);
    free(buf);
    return p;
}

/* Runs the forward pass on `input` expecting exit 1 and a message with every word. */
static void expect_run_error_v(const char *input, const char *const *words)
{
    char *out_path = tmp("never.npy"), *out = NULL;
    int rc = xaic(&out, "run " MODEL " --forward --input '%s' -o '%s'", input, out_path);
    cr_assert_eq(rc, 1, "exit %d (want 1):\n%s", rc, out);
    cr_assert_not_null(strstr(out, "error"), "%s", out);
    for (int i = 0; words[i]; i++) cr_assert_not_null(strstr(out, words[i]), "no '%s' in:\n%s", words[i], out);
    cr_assert_null(strstr(out, "Segmentation"), "%s", out);
    free(out);
    free(out_path);
}
#define EXPECT_RUN_ERROR(input, ...) expect_run_error_v(input, (const char *const[]){ __VA_ARGS__, NULL })

Test(cli, input_float64_is_rejected)
{
    double *d = calloc(2 * 784, sizeof *d);
    char *p = write_npy_raw("f64.npy", "<f8", "(2, 1, 28, 28)", d, 2 * 784 * sizeof *d);
    EXPECT_RUN_ERROR(p, "f64.npy", "<f8", "float32");
    free(p);
    free(d);
}

Test(cli, input_wrong_shape_shows_both)
{
    float *x = calloc(10 * 27 * 28, sizeof *x);
    char *p = tmp("shape.npy"), err[256];
    int64_t shape[4] = { 10, 1, 27, 28 };
    cr_assert_eq(xai_npy_write(p, x, 4, shape, err, sizeof err), XAI_OK, "%s", err);
    EXPECT_RUN_ERROR(p, "[10, 1, 27, 28]", "[1, 28, 28]");
    free(p);
    free(x);
}

Test(cli, input_missing_file)
{
    char *p = tmp("no_such_input.npy");
    EXPECT_RUN_ERROR(p, "no_such_input.npy", "cannot open");
    free(p);
}

Test(cli, input_truncated_npy)
{
    size_t len;
    char *all = tu_read_file(DIGITS, &len);
    cr_assert_not_null(all);
    cr_assert_gt(len, 500);
    char *p = tu_write_temp("trunc.npy", all, 500);
    EXPECT_RUN_ERROR(p, "trunc.npy", "truncated");
    free(p);
    free(all);
}

Test(cli, input_not_npy)
{
    char *p = tu_write_temp("garbage.npy", "this is not a numpy file at all", 31);
    EXPECT_RUN_ERROR(p, "garbage.npy", "not a .npy");
    free(p);
}

Test(cli, input_with_nan)
{
    float *x = calloc(2 * 784, sizeof *x);
    x[784 + 5 * 28 + 5] = NAN;
    char *p = tmp("nan.npy"), err[256];
    int64_t shape[4] = { 2, 1, 28, 28 };
    cr_assert_eq(xai_npy_write(p, x, 4, shape, err, sizeof err), XAI_OK, "%s", err);
    EXPECT_RUN_ERROR(p, "NaN");
    free(p);
    free(x);
}

Test(cli, run_without_input_is_usage_error)
{
    char *out = NULL, *o = tmp("x.npy");
    int rc = xaic(&out, "run " MODEL " --forward -o '%s'", o);
    cr_assert_eq(rc, 2, "exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "--input"), "%s", out);
    free(out);
    free(o);
}

/* ---- check ---- */

Test(cli, check_every_bundled_model)
{
    glob_t g;
    cr_assert_eq(glob("models/*.xai", 0, NULL, &g), 0, "no models/*.xai");
    cr_assert_geq(g.gl_pathc, 1);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char *out = NULL;
        int rc = xaic(&out, "check '%s'", g.gl_pathv[i]);
        cr_assert_eq(rc, 0, "xaic check %s: exit %d:\n%s", g.gl_pathv[i], rc, out);
        cr_assert_null(strstr(out, "error"), "%s:\n%s", g.gl_pathv[i], out);
        free(out);
    }
    globfree(&g);
}

Test(cli, check_missing_source_file)
{
    char *out = NULL;
    int rc = xaic(&out, "check models/no_such_model.xai");
    cr_assert_eq(rc, 1, "exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "no_such_model.xai"), "%s", out);
    cr_assert_not_null(strstr(out, "error"), "%s", out);
    free(out);
}

/* ---- compile: --emit ---- */

Test(cli, emit_obj_default_writes_object_and_header)
{
    char *o = tmp("net.o"), *h = tmp("net.h"), *out = NULL;
    int rc = xaic(&out, MODEL " -o '%s'", o);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    cr_assert_gt(file_size(o), 0, "no object file");
    size_t n;
    char *obj = tu_read_file(o, &n);
    cr_assert(n > 4 &&
                  !memcmp(obj,
                          "\x7f"
                          "ELF",
                          4),
              "not an ELF object");
    char *hdr = tu_read_file(h, NULL);
    cr_assert_not_null(hdr, "no header beside the object");
    cr_assert_not_null(strstr(hdr, "mnist_cnn_forward("), "%s", hdr);
    cr_assert_not_null(strstr(hdr, "mnist_cnn_workspace_size("), "%s", hdr);
    free(hdr);
    free(obj);
    free(out);
    free(h);
    free(o);
}

Test(cli, emit_header)
{
    char *h = tmp("only.h"), *out = NULL;
    int rc = xaic(&out, MODEL " --emit header -o '%s'", h);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    char *hdr = tu_read_file(h, NULL);
    cr_assert_not_null(hdr);
    cr_assert_not_null(strstr(hdr, "mnist_cnn_forward("), "%s", hdr);
    free(hdr);
    free(out);
    free(h);
}

Test(cli, emit_llvm)
{
    char *ll = tmp("net.ll"), *out = NULL;
    int rc = xaic(&out, MODEL " --emit llvm -o '%s'", ll);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    char *text = tu_read_file(ll, NULL);
    cr_assert_not_null(text);
    cr_assert_not_null(strstr(text, "define"), "no function definitions in the .ll");
    cr_assert_not_null(strstr(text, "mnist_cnn_forward"), "no forward entry in the .ll");
    free(text);
    free(out);
    free(ll);
}

Test(cli, emit_asm)
{
    char *s = tmp("net.s"), *out = NULL;
    int rc = xaic(&out, MODEL " --emit=asm -o '%s'", s);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    cr_assert_gt(file_size(s), 0);
    char *text = tu_read_file(s, NULL);
    cr_assert_not_null(strstr(text, "mnist_cnn_forward"), "no forward symbol in the assembly");
    free(text);
    free(out);
    free(s);
}

Test(cli, emit_unknown_kind)
{
    char *o = tmp("bad.o"), *out = NULL;
    int rc = xaic(&out, MODEL " --emit wasm -o '%s'", o);
    cr_assert_eq(rc, 2, "exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "wasm"), "%s", out);
    free(out);
    free(o);
}

Test(cli, compile_without_output)
{
    char *out = NULL;
    int rc = xaic(&out, MODEL);
    cr_assert_eq(rc, 2, "exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "-o"), "%s", out);
    free(out);
}

Test(cli, cross_target_aarch64_asm)
{
    char *s = tmp("arm.s"), *out = NULL;
    int rc = xaic(&out, MODEL " --target aarch64-linux-gnu --emit asm -o '%s'", s);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    char *text = tu_read_file(s, NULL);
    cr_assert_not_null(text);
    cr_assert_gt(strlen(text), 0);
    /* NEON fused multiply-add, or at least AArch64 vector registers */
    cr_assert(strstr(text, "fmla") || strstr(text, "v0.4s"), "no AArch64 vector code in the assembly");
    cr_assert_null(strstr(text, "%xmm"), "x86 code in an AArch64 assembly file");
    free(text);
    free(out);
    free(s);
}

Test(cli, unknown_target_is_clean_error)
{
    char *s = tmp("bogus.s"), *out = NULL;
    int rc = xaic(&out, MODEL " --target bogus-none-nothing --emit asm -o '%s'", s);
    cr_assert_eq(rc, 1, "exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "error"), "%s", out);
    cr_assert_not_null(strstr(out, "bogus-none-nothing"), "%s", out);
    cr_assert_not(file_exists(s), "an output was written for an unknown target");
    free(out);
    free(s);
}

/* ---- --dump ---- */

static void expect_dump(const char *what, const char *const *words)
{
    char *out = NULL;
    int rc = xaic(&out, "check " MODEL " --dump=%s", what);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    for (int i = 0; words[i]; i++)
        cr_assert_not_null(strstr(out, words[i]), "--dump=%s has no '%s':\n%s", what, words[i], out);
    free(out);
}

Test(cli, dump_ast)
{
    expect_dump("ast", (const char *const[]){ "mnist_cnn", "conv1", "pool3", "fc2", "conv2d", NULL });
}

Test(cli, dump_graph)
{
    expect_dump("graph",
                (const char *const[]){ "mnist_cnn", "conv1", "act2", "flat", "fc2", "w=conv1.weight", "[10]", NULL });
}

Test(cli, dump_plan) { expect_dump("plan", (const char *const[]){ "mnist_cnn", "conv1", "fc2", "workspace", NULL }); }

/* The kernels each layer's rule costs, by their algebra: the gradient is one transposed kernel per linear or
 * pooling layer and one elementwise kernel per relu; epsilon reuses the forward pass's z (no recomputation),
 * z+ recomputes z with W+ once; both then divide (s = R / z) and multiply by the input (a * c), elementwise
 * work that is fused into the kernel producing its operand when nothing else reads that (fuse.c): z+ then
 * s, c then a * c; epsilon's division reads the forward's z, which the relu reads too, so it stays a kernel.
 * Sign-aware gamma after a relu: z_pos = z + g W+ a + g b+ and z_neg = (1 + g) z - g W+ a + ..., so one
 * forward-like kernel (W+ a, read by both u and v: they stay kernels), W^T u + W+^T v, a * (...) fused.
 * alpha-beta's negative share would need neg(w) = w - pos(w), which cancels: it stays as written, two
 * forward-like and two transposed kernels, every elementwise step fused. The relevance at each layer is kept
 * (readable), so the gradient's relu steps, which produce it, are not fused. */
static void expect_kernel_counts(const char *explain, const char *const *lines)
{
    char *xai = NULL, *out = NULL;
    cr_assert(asprintf(&xai, "import \"%s/models/mnist_cnn.xai\";\nexplain e for mnist_cnn { %s }\n", XAIC_SOURCE_DIR,
                       explain) > 0);
    char *path = tu_write_temp("kernel_counts.xai", xai, strlen(xai));
    int rc = xaic(&out, "check '%s' --dump=plan", path);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    const char *table = strstr(out, "kernels per layer");
    cr_assert_not_null(table, "%s", out);
    for (int i = 0; lines[i]; i += 2) {
        /* the row of the layer (or "all layers"): its name first on the line, its counts at the end */
        const char *at = table;
        size_t len = strlen(lines[i]);
        while ((at = strstr(at, lines[i])) && !(at[-1] == ' ' && at[len] == ' ')) at += len;
        cr_assert_not_null(at, "no row %s in:\n%s", lines[i], table);
        const char *eol = strchr(at, '\n');
        size_t n = strlen(lines[i + 1]);
        cr_expect(eol && (size_t)(eol - at) >= n && !strncmp(eol - n, lines[i + 1], n), "%s: want %s in:\n%s", lines[i],
                  lines[i + 1], table);
    }
    free(xai);
    free(path);
    free(out);
}

/* Each explanation's plan is headed with its name, and each backward node names the layer whose rule made it
 * (bench/perf_kernels.py maps kernels to layers by that). */
Test(cli, dump_plan_names_the_explanation_and_the_layer_of_each_backward_node)
{
    char *xai = NULL, *out = NULL;
    cr_assert(asprintf(&xai, "import \"%s/models/mnist_cnn.xai\";\nexplain e for mnist_cnn { rules epsilon_plus; }\n",
                       XAIC_SOURCE_DIR) > 0);
    char *path = tu_write_temp("plan_layers.xai", xai, strlen(xai));
    int rc = xaic(&out, "check '%s' --dump=plan", path);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    cr_expect_not_null(strstr(out, "plan mnist_cnn: workspace"), "%s", out);
    const char *e = strstr(out, "plan mnist_cnn explain e: workspace");
    cr_assert_not_null(e, "%s", out);
    cr_expect_not_null(strstr(e, "dense_t"), "%s", e);
    cr_expect_not_null(strstr(e, "  (layer fc2)\n"), "%s", e);
    cr_expect_not_null(strstr(e, "  (layer conv1)\n"), "%s", e);
    cr_expect(strstr(out, "(layer ") > e, "the network's forward plan names no rule layer:\n%s", out);
    free(xai);
    free(path);
    free(out);
}

Test(cli, dump_plan_counts_the_kernels_of_each_rule)
{
    expect_kernel_counts("method gradient;",
                         (const char *const[]){ "conv1", "0 / 1 / 0 / 0", "act1", "0 / 0 / 1 / 0", "pool1",
                                                "0 / 1 / 0 / 0", "fc2", "0 / 1 / 0 / 0", "all layers", "0 / 8 / 4 / 0",
                                                NULL });
    expect_kernel_counts("rules epsilon_plus;",
                         (const char *const[]){ "conv2", "1 / 1 / 0 / 0", "pool2", "0 / 1 / 0 / 0", "fc1",
                                                "0 / 1 / 1 / 0", "fc2", "0 / 1 / 1 / 0", NULL });
    expect_kernel_counts("rules epsilon_gamma_box(low=0, high=1);",
                         (const char *const[]){ "conv2", "1 / 2 / 2 / 0", "conv3", "1 / 2 / 2 / 0", NULL });
    expect_kernel_counts(
        "dense: gamma(0.25); conv2d: gamma(0.25);",
        (const char *const[]){ "conv2", "1 / 2 / 2 / 0", "fc1", "1 / 2 / 2 / 0", "fc2", "1 / 2 / 2 / 0", NULL });
    expect_kernel_counts("dense: alpha_beta(2, 1); conv2d: alpha_beta(2, 1);",
                         (const char *const[]){ "conv2", "2 / 2 / 0 / 0", "fc2", "2 / 2 / 0 / 0", NULL });
}

Test(cli, dump_unknown_stage)
{
    char *out = NULL;
    int rc = xaic(&out, "check " MODEL " --dump=everything");
    cr_assert_eq(rc, 2, "exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "everything"), "%s", out);
    free(out);
}

/* ---- usage ---- */

Test(cli, unknown_option_prints_usage)
{
    char *out = NULL;
    int rc = xaic(&out, "check " MODEL " --frobnicate");
    cr_assert_eq(rc, 2, "exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "--frobnicate"), "%s", out);
    cr_assert_not_null(strstr(out, "usage:"), "%s", out);
    free(out);
}

Test(cli, no_input_file_prints_usage)
{
    char *out = NULL;
    int rc = xaic(&out, "%s", "");
    cr_assert_eq(rc, 2, "exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "usage:"), "%s", out);
    free(out);
}

Test(cli, option_missing_its_value)
{
    char *out = NULL;
    int rc = xaic(&out, MODEL " -o");
    cr_assert_eq(rc, 2, "exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "-o"), "%s", out);
    free(out);
}

Test(cli, two_input_files)
{
    char *out = NULL;
    int rc = xaic(&out, "check " MODEL " models/mnist_mlp.xai");
    cr_assert_eq(rc, 2, "exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "more than one input file"), "%s", out);
    free(out);
}

Test(cli, help_and_version)
{
    char *out = NULL;
    cr_assert_eq(xaic(&out, "--help"), 0);
    cr_assert_not_null(strstr(out, "usage:"), "%s", out);
    free(out);
    cr_assert_eq(xaic(&out, "--version"), 0);
    cr_assert_not_null(strstr(out, "xaic"), "%s", out);
    cr_assert_not_null(strstr(out, "LLVM"), "%s", out);
    free(out);
}

/* --conv=direct keeps every conv a direct correlation: the module then holds no Winograd-transformed filters,
 * which the default compile of the same 3x3 layer does (their constant is named "...|winograd"); an unknown
 * value is a usage error naming it. */
Test(cli, conv_direct_and_unknown_value)
{
    static float w[16 * 16 * 9];
    for (int i = 0; i < 16 * 16 * 9; i++) w[i] = (float)((i * 37) % 19 - 9) / 9.0f;
    tu_tensor t[] = { { "y.weight", 4, { 16, 16, 3, 3 }, w } };
    free(tu_write_weights("wino_cli.safetensors", t, 1));
    const char *text = "network wc { weights \"wino_cli.safetensors\"; input x[16, 28, 28];\n"
                       "  y = conv2d(x, 16, kernel=3, pad=1, bias=false); output y; }\n";
    char *src = tu_write_temp("wino_cli.xai", text, strlen(text));
    char *ll = tmp("wino.ll"), *out = NULL;
    for (int direct = 0; direct < 2; direct++) {
        int rc = xaic(&out, "'%s' --emit llvm -o '%s'%s", src, ll, direct ? " --conv=direct" : "");
        cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
        char *ir = tu_read_file(ll, NULL);
        cr_assert_not_null(ir);
        cr_expect_eq(strstr(ir, "|winograd") != NULL, !direct, "%s: transformed filters %s",
                     direct ? "--conv=direct" : "default", direct ? "present" : "missing");
        free(ir);
        free(out);
    }
    int rc = xaic(&out, "'%s' -o '%s' --conv=fast", src, ll);
    cr_expect_eq(rc, 2, "exit %d:\n%s", rc, out);
    cr_expect_not_null(strstr(out, "--conv=fast"), "%s", out);
    free(out);
    free(ll);
    free(src);
}
