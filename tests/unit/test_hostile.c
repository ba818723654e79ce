/* Hostile and broken inputs: every way the red team found to crash, hang, clobber or mislead xaic, each as a
 * regression test with the diagnostic it must give now (the runtime's own cases: test_rt_outfile.c,
 * test_rt_files.c). Commands run the xaic binary as a user would; the C API cases go through the JIT. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver.h"
#include "jit.h"
#include "testutil.h"
#include "xairt.h"

static int xaic(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int xaic(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL, *cmd = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    cr_assert(asprintf(&cmd, "timeout 60 '%s' %s", XAIC_EXE, args) > 0);
    int rc = tu_run(cmd, out);
    free(cmd);
    free(args);
    return rc;
}

static char *path_in_tmp(const char *name)
{
    char *p = NULL;
    cr_assert(asprintf(&p, "%s/%s", tu_tmpdir(), name) > 0);
    return p;
}

static char *write_text(const char *name, const char *text) { return tu_write_temp(name, text, strlen(text)); }

#define EXPECT_FAIL(rc, out, needle)                                                                                   \
    do {                                                                                                               \
        cr_expect_eq(rc, 1, "exit %d, output:\n%s", rc, out);                                                          \
        cr_expect(strstr(out, needle) != NULL, "expected \"%s\" in:\n%s", needle, out);                                \
    } while (0)

/* ---- 1. failed writes never remove or truncate what is there ---- */
Test(hostile, writes_to_dev_full_fail_and_keep_the_device)
{
    char *out = NULL;
    int rc = xaic(&out, "run models/mnist_cnn.xai --forward --input models/samples/digits.npy -o /dev/full");
    EXPECT_FAIL(rc, out, "No space left on device");
    free(out);
    struct stat st;
    cr_assert(stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode), "/dev/full is still a character device");
    rc = tu_run("timeout 60 '" XAIC_EXE "' check models/mnist_cnn.xai --dump=ast > /dev/full", &out);
    EXPECT_FAIL(rc, out, "cannot write standard output");
    free(out);
}

Test(hostile, a_failed_compile_keeps_the_previous_object, .timeout = 120)
{
    char *obj = path_in_tmp("keep.o"), *hdr = path_in_tmp("keep.h"), *out = NULL;
    cr_assert_eq(xaic(&out, "models/mnist_mlp.xai -o '%s'", obj), 0, "%s", out);
    free(out);
    size_t obj_len, hdr_len;
    char *before_obj = tu_read_file(obj, &obj_len), *before_hdr = tu_read_file(hdr, &hdr_len);
    /* a file size limit makes every write of a bigger file fail (SIGXFSZ ignored: the write returns EFBIG) */
    char *cmd = NULL;
    cr_assert(asprintf(&cmd, "trap '' XFSZ; ulimit -f 64; '%s' models/mnist_cnn.xai -o '%s'", XAIC_EXE, obj) > 0);
    int rc = tu_run(cmd, &out);
    cr_expect_eq(rc, 1, "%s", out);
    size_t len;
    char *after_obj = tu_read_file(obj, &len);
    cr_expect(after_obj && len == obj_len && !memcmp(after_obj, before_obj, len), "the object is untouched");
    char *after_hdr = tu_read_file(hdr, &len);
    cr_expect(after_hdr && len == hdr_len && !memcmp(after_hdr, before_hdr, len), "the header is untouched");
    char *ls = NULL;
    free(cmd);
    cr_assert(asprintf(&cmd, "ls -A '%s' | grep -c '^\\.keep' || true", tu_tmpdir()) > 0);
    tu_run(cmd, &ls);
    cr_expect_eq(atoi(ls), 0, "no temporary file left: %s", ls);
    free(ls), free(cmd), free(out), free(obj), free(hdr);
    free(before_obj), free(before_hdr), free(after_obj), free(after_hdr);
}

/* ---- 2. outputs never overwrite inputs ---- */
Test(hostile, outputs_that_are_inputs_are_refused)
{
    char *out = NULL;
    EXPECT_FAIL(xaic(&out, "models/mnist_mlp.xai -o models/mnist_mlp.xai"), out, "is a source file of this command");
    free(out);
    EXPECT_FAIL(xaic(&out, "models/mnist_mlp.xai -o models/mnist_mlp.safetensors"), out, "is a weights file");
    free(out);
    EXPECT_FAIL(xaic(&out,
                     "run models/mnist_cnn_lrp.xai --explain epsilon_plus --input models/samples/digits.npy "
                     "-o models/mnist_cnn_lrp.xai"),
                out, "is a source file");
    free(out);
    EXPECT_FAIL(xaic(&out,
                     "run models/mnist_cnn_lrp.xai --explain epsilon_plus --input models/samples/digits.npy "
                     "-o models/samples/digits.npy"),
                out, "is the input of this command");
    free(out);
    char *h = path_in_tmp("x.h");
    int rc = xaic(&out, "models/mnist_mlp.xai -o '%s'", h);
    cr_expect_eq(rc, 2, "%s", out);
    cr_expect(strstr(out, "which is the object itself") != NULL, "%s", out);
    free(out);
    free(h);
    struct stat st;
    cr_expect(stat("models/mnist_mlp.xai", &st) == 0 && st.st_size > 100, "the source is intact");
}

Test(hostile, concurrent_compiles_leave_a_matching_pair, .timeout = 240)
{
    /* two networks with different names compiled to the same -o at once: the header must always declare the
     * network whose symbols the object defines */
    char *a = write_text("pair_a.xai", "import \"" XAIC_SOURCE_DIR "/models/mnist_mlp.xai\";\n");
    char *b = write_text("pair_b.xai", "network other { input x[4]; r = relu(x); output r; }\n");
    char *obj = path_in_tmp("pair.o"), *hdr = path_in_tmp("pair.h"), *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&cmd,
                       "for i in 1 2 3 4 5; do '%s' '%s' -o '%s' & '%s' '%s' -o '%s' & wait; "
                       "if grep -q other_forward '%s'; then nm '%s' | grep -q ' T other_forward' || echo MISMATCH; "
                       "else nm '%s' | grep -q ' T mnist_mlp_forward' || echo MISMATCH; fi; done",
                       XAIC_EXE, a, obj, XAIC_EXE, b, obj, hdr, obj, obj) > 0);
    cr_assert_eq(tu_run(cmd, &out), 0, "%s", out);
    cr_expect(strstr(out, "MISMATCH") == NULL, "object and header from different runs:\n%s", out);
    free(a), free(b), free(obj), free(hdr), free(cmd), free(out);
}

/* ---- 3. counts and sizes from outside data are checked ---- */
Test(hostile, overflowing_counts_are_errors)
{
    char *f = write_text("huge.xai", "network n { input x[16777216, 16777216, 16777216]; r = relu(x); output r; }\n");
    char *out = NULL;
    EXPECT_FAIL(xaic(&out, "check '%s'", f), out, "more than 2147483647 values per sample");
    free(out);
    free(f);
    f = write_text("steps.xai",
                   "import \"" XAIC_SOURCE_DIR "/models/mnist_mlp.xai\";\n"
                   "explain e for mnist_mlp { method integrated_gradients(steps=2147483648); }\n"
                   "explain s for mnist_mlp { method smoothgrad(samples=-3, sigma=0.1, seed=2.5); }\n");
    EXPECT_FAIL(xaic(&out, "check '%s'", f), out, "steps is larger than 100000");
    cr_expect(strstr(out, "samples must be an integer >= 1") != NULL, "%s", out);
    cr_expect(strstr(out, "seed must be an integer >= 0") != NULL, "the later argument names itself:\n%s", out);
    free(out);
    free(f);
    f = write_text("sigma.xai",
                   "import \"" XAIC_SOURCE_DIR "/models/mnist_mlp.xai\";\n"
                   "explain n for mnist_mlp { method smoothgrad(sigma=1e39); }\n");
    EXPECT_FAIL(xaic(&out, "check '%s'", f), out, "number '1e39' is too large; numbers are 32-bit floats");
    free(out);
    free(f);
    int rc = xaic(&out,
                  "run models/mnist_cnn_gradients.xai --explain smoothgrad --input models/samples/digits.npy "
                  "-o /tmp/never.npy --seed 18446744073709551616");
    cr_expect_eq(rc, 2, "a usage error: %s", out);
    cr_expect(strstr(out, "--seed needs an integer in [0, 18446744073709551615]") != NULL, "%s", out);
    free(out);
}

/* ---- 4. 32-bit targets: NET_workspace_size never wraps ---- */
Test(hostile, workspace_size_bounded_on_32_bit_targets, .timeout = 120)
{
    char *ll = path_in_tmp("cnn32.ll"), *out = NULL;
    cr_assert_eq(xaic(&out, "models/mnist_cnn.xai --target i686-linux-gnu --emit llvm -O0 -o '%s'", ll), 0, "%s", out);
    free(out);
    size_t len;
    char *ir = tu_read_file(ll, &len);
    cr_assert_not_null(ir);
    char *fn = strstr(ir, "@mnist_cnn_workspace_size(i32");
    cr_assert_not_null(fn, "workspace_size takes an i32 and returns a 32-bit size_t");
    cr_expect(!strncmp(fn - 4, "i32 ", 4), "returns i32 on i686");
    /* the largest batch it accepts times the per-sample bytes must fit 32 bits */
    char *cmp = strstr(fn, "icmp sgt i32 %0, ");
    cr_assert_not_null(cmp);
    long long max_batch = atoll(cmp + strlen("icmp sgt i32 %0, "));
    char *mul = strstr(fn, "mul i32 ");
    cr_assert_not_null(mul);
    long long per = atoll(strchr(mul, ',') + 1);
    cr_expect_gt(max_batch, 0);
    cr_expect_leq(max_batch * per, 4294967295LL, "batch %lld x %lld bytes fits size_t", max_batch, per);
    cr_expect_gt((max_batch + 1) * per, 4294967295LL - 64, "and the bound is the tightest (%lld)", max_batch);
    free(ir);
    free(ll);
}

/* ---- 5. untrusted .xai files: what they may read, and nothing echoed that is not a .xai source ---- */
Test(hostile, files_a_xai_may_read)
{
    char *f = write_text("leak.xai",
                         "import \"/etc/passwd\";\nnetwork n { weights \"/etc/passwd\"; input x[4]; "
                         "r = relu(x); output r; }\n");
    char *out = NULL;
    EXPECT_FAIL(xaic(&out, "check '%s'", f), out, "is not a .xai file");
    cr_expect(strstr(out, "root:") == NULL, "no line of /etc/passwd is shown:\n%s", out);
    free(out);
    free(f);
    /* --root: everything read must be inside the directory */
    EXPECT_FAIL(xaic(&out, "check models/mnist_cnn.xai --root '%s'", tu_tmpdir()), out, "outside the root directory");
    free(out);
    char *g = write_text("outside.xai", "import \"" XAIC_SOURCE_DIR "/models/mnist_mlp.xai\";\n");
    EXPECT_FAIL(xaic(&out, "check '%s' --root '%s'", g, tu_tmpdir()), out, "cannot import");
    free(out);
    cr_expect_eq(xaic(&out, "check models/mnist_cnn.xai --root models"), 0, "inside the root: %s", out);
    free(out);
    char cmd[1024]; /* the temporary directory, not /tmp: the checkout itself may lie under /tmp */
    snprintf(cmd, sizeof cmd, "XAIC_ROOT='%s' timeout 60 '" XAIC_EXE "' check models/mnist_cnn.xai", tu_tmpdir());
    cr_assert_eq(tu_run(cmd, &out), 1, "%s", out);
    cr_expect(strstr(out, "outside the root") != NULL, "XAIC_ROOT works like --root: %s", out);
    free(out);
    free(g);
}

/* ---- 6. FIFOs (and other non-regular files) never block ---- */
Test(hostile, fifos_are_refused_at_once, .timeout = 60)
{
    char *fifo = path_in_tmp("pipe.xai"), *out = NULL;
    unlink(fifo);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    EXPECT_FAIL(xaic(&out, "check '%s'", fifo), out, "not a regular file");
    free(out);
    char *imp = write_text("imports_fifo.xai", "import \"pipe.xai\";\n");
    EXPECT_FAIL(xaic(&out, "check '%s'", imp), out, "not a regular file");
    free(out);
    char *w = path_in_tmp("pipe.safetensors");
    unlink(w);
    cr_assert_eq(mkfifo(w, 0600), 0);
    char *net = write_text("fifo_weights.xai",
                           "network n { weights \"pipe.safetensors\"; input x[4]; "
                           "fc = dense(x, 2); output fc; }\n");
    EXPECT_FAIL(xaic(&out, "check '%s'", net), out, "not a regular file");
    free(out);
    EXPECT_FAIL(xaic(&out, "run models/mnist_cnn.xai --forward --input '%s' -o /tmp/never.npy", w), out,
                "not a regular file");
    free(out);
    free(fifo), free(imp), free(w), free(net);
}

/* ---- 7, 8, 9: sizes that exhaust memory, a CPU LLVM does not know, and floods of errors ---- */
Test(hostile, resource_exhaustion_is_refused, .timeout = 60)
{
    char *f =
        write_text("pad.xai", "network n { input x[1, 8, 8]; c = conv2d(x, 4, kernel=3, pad=100000); output c; }\n");
    char *out = NULL;
    EXPECT_FAIL(xaic(&out, "check '%s'", f), out, "is larger than the 8x8 input plus the 3x3 kernel");
    free(out);
    free(f);
    EXPECT_FAIL(xaic(&out, "models/mnist_mlp.xai -o /tmp/never.o --cpu bogus"), out, "unknown CPU 'bogus'");
    free(out);
    /* 100,000 errors: the first 50 are shown, and the run stays linear */
    size_t cap = 100000 * 24 + 100, used = 0;
    char *text = malloc(cap);
    used += snprintf(text + used, cap - used, "network n { input x[4];\n");
    for (int i = 0; i < 100000; i++) used += snprintf(text + used, cap - used, "l%d = relu(zz);\n", i);
    snprintf(text + used, cap - used, "output l0; }\n");
    f = write_text("flood.xai", text);
    int rc = xaic(&out, "check '%s'", f);
    cr_expect_eq(rc, 1);
    cr_expect(strstr(out, "only the first 50 are shown") != NULL, "%s",
              out + (strlen(out) > 300 ? strlen(out) - 300 : 0));
    cr_expect(strstr(out, "100000 errors") != NULL);
    free(out);
    free(text);
    free(f);
}

/* ---- 10. non-finite values ---- */
Test(hostile, nonfinite_weights_and_results, .timeout = 120)
{
    float w[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, b[2] = { 0.5f, NAN };
    tu_tensor t[] = { { "fc.weight", 2, { 2, 4 }, w }, { "fc.bias", 1, { 2 }, b } };
    char *weights = tu_write_weights("nan.safetensors", t, 2);
    char *f =
        write_text("nan.xai", "network n { weights \"nan.safetensors\"; input x[4]; fc = dense(x, 2); output fc; }\n");
    char *out = NULL;
    EXPECT_FAIL(xaic(&out, "check '%s'", f), out, "tensor 'fc.bias'");
    cr_expect(strstr(out, "holds NaN at index 1") != NULL, "%s", out);
    free(out);
    cr_expect_eq(xaic(&out, "check '%s' --allow-nonfinite-weights", f), 0, "the opt-out: %s", out);
    free(out);
    /* a finite 3e38 pixel overflows the logits: an error, not NaN heatmaps with exit 0 */
    float x[784];
    for (int i = 0; i < 784; i++) x[i] = 0.1f;
    x[300] = 3e38f;
    char *in = path_in_tmp("overflow.npy"), err[256];
    int64_t shape[4] = { 1, 1, 28, 28 };
    cr_assert_eq(xai_npy_write(in, x, 4, shape, err, sizeof err), 0, "%s", err);
    EXPECT_FAIL(xaic(&out, "run models/mnist_cnn_lrp.xai --explain epsilon_plus --input '%s' -o /tmp/never.npy", in),
                out, "NaN or infinity although the inputs are finite");
    free(out);
    /* an overflow that turns into NaN before a ReLU is still caught: ReLU and max-pool carry NaN on, as
     * PyTorch's do (inf - inf under relu gave 0 and a finite, wrong result with exit 0) */
    float w1[4] = { 1, 1, 1, 1 }, b1[2] = { 0, 0 }, w2[2] = { 1, -1 }, b2[1] = { 0 }, w3[2] = { 1, 1 },
          b3[2] = { 0, 0 };
    tu_tensor t3[] = { { "h.weight", 2, { 2, 2 }, w1 }, { "h.bias", 1, { 2 }, b1 },
                       { "d.weight", 2, { 1, 2 }, w2 }, { "d.bias", 1, { 1 }, b2 },
                       { "o.weight", 2, { 2, 1 }, w3 }, { "o.bias", 1, { 2 }, b3 } };
    free(tu_write_weights("inf.safetensors", t3, 6));
    char *g = write_text("inf.xai",
                         "network n { weights \"inf.safetensors\"; input x[2]; h = dense(x, 2); "
                         "d = dense(h, 1); r = relu(d); o = dense(r, 2); output o; }\n"
                         "explain g for n { method gradient; }\n");
    float big[2] = { 3e38f, 3e38f };
    int64_t two[2] = { 1, 2 };
    char *in2 = path_in_tmp("big.npy");
    cr_assert_eq(xai_npy_write(in2, big, 2, two, err, sizeof err), 0, "%s", err);
    EXPECT_FAIL(xaic(&out, "run '%s' --explain g --input '%s' -o /tmp/never.npy", g, in2), out,
                "NaN or infinity although the inputs are finite");
    free(out);
    free(in2);
    free(g);
    /* 12: a NaN in --baseline is reported against the baseline, not the input */
    x[300] = NAN;
    char *base = path_in_tmp("nan_baseline.npy");
    cr_assert_eq(xai_npy_write(base, x, 4, shape, err, sizeof err), 0);
    EXPECT_FAIL(xaic(&out,
                     "run models/mnist_cnn_gradients.xai --explain integrated_gradients --input "
                     "models/samples/digit_0.npy --baseline '%s' -o /tmp/never.npy",
                     base),
                out, "nan_baseline.npy holds NaN");
    free(out);
    free(weights), free(f), free(in), free(base);
}

/* ---- 11. rule parameters are checked where the user wrote them ---- */
Test(hostile, rule_parameters_checked_at_the_call_site)
{
    char *f = write_text("rules.xai",
                         "import \"" XAIC_SOURCE_DIR "/models/mnist_mlp.xai\";\n"
                         "explain a for mnist_mlp { fc1: epsilon(-1); }\n"
                         "explain b for mnist_mlp { dense: alpha_beta(1, 1); }\n"
                         "explain c for mnist_mlp { fc2: alpha_beta(-1, -2); }\n"
                         "explain d for mnist_mlp { fc2: gamma(-1); }\n"
                         "explain e for mnist_mlp { fc2: zbox(1, 0); }\n");
    char *out = NULL;
    EXPECT_FAIL(xaic(&out, "check '%s'", f), out,
                "rules.xai:2:32: error: rule 'epsilon' requires (eps >= 0), but here eps = -1");
    cr_expect(strstr(out, "rules.xai:3:34: error: rule 'alpha_beta' requires ((alpha - beta) == 1)") != NULL, "%s",
              out);
    cr_expect(strstr(out, "rules.xai:4:32: error: rule 'alpha_beta' requires (alpha >= 0), but here alpha = -1") !=
                  NULL,
              "%s", out);
    cr_expect(strstr(out, "rules.xai:5:32: error: rule 'gamma' requires (gamma >= 0)") != NULL, "%s", out);
    cr_expect(strstr(out, "rules.xai:6:32: error: rule 'zbox' requires (low <= high), but here low = 1, high = 0") !=
                  NULL,
              "%s", out);
    cr_expect(strstr(out, "note: the requirement is declared here") != NULL, "%s", out);
    free(out);
    free(f);
}

/* ---- 12. byte order marks and NUL bytes ---- */
Test(hostile, bom_and_nul_bytes)
{
    const char bom[] = "\xEF\xBB\xBFnetwork n { input x[4]; r = relu(x); output r; }\n";
    char *f = tu_write_temp("bom.xai", bom, sizeof bom - 1), *out = NULL;
    cr_expect_eq(xaic(&out, "check '%s'", f), 0, "a BOM is accepted: %s", out);
    free(out);
    free(f);
    const char nul[] = "import \"a.xai\0/etc/passwd\";\n";
    f = tu_write_temp("nul.xai", nul, sizeof nul - 1);
    EXPECT_FAIL(xaic(&out, "check '%s'", f), out, "a string cannot contain a NUL byte");
    free(out);
    free(f);
}

/* ---- 13. the C API: a workspace too small for an _ex entry is refused ---- */
Test(hostile, workspace_size_is_checked, .timeout = 120)
{
    xai_diag d;
    diag_init(&d, stderr);
    compilation c;
    cr_assert_eq(driver_analyse(&c, &d, "models/mnist_cnn_gradients.xai"), 0);
    char *err = NULL;
    xai_jit *jit = jit_create(&c, 1, &err);
    cr_assert_not_null(jit, "%s", err);
    size_t (*size)(int32_t) = (size_t(*)(int32_t))jit_lookup(jit, "mnist_cnn_workspace_size");
    int (*ig)(const float *, const int32_t *, float *, int32_t, void *, const xai_options *) =
        (int (*)(const float *, const int32_t *, float *, int32_t, void *, const xai_options *))jit_lookup(
            jit, "mnist_cnn_integrated_gradients_ex");
    cr_assert(size && ig);
    size_t need = size(2);
    void *ws = aligned_alloc(64, (need + 63) / 64 * 64);
    float x[2 * 784], out[2 * 784];
    for (int i = 0; i < 2 * 784; i++) x[i] = (float)(i % 17) / 17;
    xai_options opt = { 0 };
    opt.workspace_size = need / 2;
    cr_expect_eq(ig(x, NULL, out, 2, ws, &opt), XAI_EWORKSPACE, "half the workspace");
    opt.workspace_size = need;
    cr_expect_eq(ig(x, NULL, out, 2, ws, &opt), XAI_OK);
    cr_expect_eq(size(0), 0);
    free(ws);
    jit_free(jit);
    driver_free(&c);
    diag_free(&d);
}
