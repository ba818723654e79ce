/* xaic import on torchvision 0.14 networks exported by torch 1.13 (random weights; made at test time into
 * build/import_torchvision by the ctest fixture onnx_torchvision_exports, which needs python3-torch and
 * python3-torchvision and fails without them). Each network must import completely; then
 * tests/reference/check_onnx_import.py checks it with onnx / numpy / torch alone (every node accounted
 * for, shapes equal to onnx.shape_inference's, the safetensors file exactly the tensors the .xai reads
 * with the ONNX values, and the .xai run by a PyTorch interpreter of the ops contract equal to the
 * original module's output), and the front end parses the .xai. Then xaic compiles and runs each one: its
 * logits and input gradients must be torch's. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ast.h"
#include "diag.h"
#include "testutil.h"
#include "xairt.h"

#define EXPORTS XAIC_BINARY_DIR "/import_torchvision"

static void import_and_check(const char *name)
{
    char onnx[512], xai[512], cmd[4096], *out = NULL;
    snprintf(onnx, sizeof onnx, "%s/%s.onnx", EXPORTS, name);
    cr_assert_eq(access(onnx, R_OK), 0,
                 "%s is missing: the ctest fixture onnx_torchvision_exports "
                 "(tests/reference/export_torchvision_onnx.py, needs python3-torch and python3-torchvision) did not "
                 "run or failed",
                 onnx);
    snprintf(xai, sizeof xai, "%s/%s.xai", tu_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "'%s' import '%s' -o '%s' --node-map '%s.map'", XAIC_EXE, onnx, xai, xai);
    int rc = tu_run(cmd, &out);
    cr_assert_eq(rc, 0, "%s does not import: %s", name, out);
    free(out);

    size_t len;
    char *text = tu_read_file(xai, &len);
    cr_assert_not_null(text);
    xai_diag d;
    FILE *sink = fopen("/dev/null", "w");
    diag_init(&d, sink);
    xai_source *src = diag_add_source(&d, xai, text, len);
    ast_file *f = src ? ast_parse(&d, src) : NULL;
    cr_expect(f && d.errors == 0, "%s: the front end does not parse the .xai", name);
    ast_free(f);
    diag_free(&d);
    fclose(sink);
    free(text);

    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 '%s/tests/reference/check_onnx_import.py' '%s' '%s' '%s.map' "
             "'%s/%s.x.npy' '%s/%s.y.npy'",
             XAIC_SOURCE_DIR, onnx, xai, xai, EXPORTS, name, EXPORTS, name);
    rc = tu_run(cmd, &out);
    cr_expect_eq(rc, 0, "%s", out);
    cr_log_info("%s", out);
    free(out);
}

/* Reads a .npy the test or the exporter wrote; the element counts must agree. */
static void read_pair(const char *got_path, const char *want_path, xai_array *got, xai_array *want)
{
    char err[512];
    cr_assert_eq(xai_npy_read(got_path, got, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(xai_npy_read(want_path, want, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(xai_array_count(got), xai_array_count(want), "%s has %lld values, %s %lld", got_path,
                 (long long)xai_array_count(got), want_path, (long long)xai_array_count(want));
}

/* Compiles and runs the imported network: its logits must be the torch module's, and the gradient of each
 * sample's arg-max logit with respect to the input must be autograd's. The gradient is compared value by
 * value; where that fails, a max-pool window whose two largest inputs differ by float rounding alone picked
 * the other element in one of the two programs (both choices are subgradients; densenet121's stem holds a
 * few such windows), so the whole map must still agree to 2e-3 in L2 and a cosine of 0.9999. */
static void run_and_compare(const char *name)
{
    import_and_check(name);
    char cmd[4096], *out = NULL, got_path[512], want_path[512], explain[512];
    snprintf(got_path, sizeof got_path, "%s/%s.out.npy", tu_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "'%s' run '%s/%s.xai' --forward --input '%s/%s.x.npy' -o '%s'", XAIC_EXE, tu_tmpdir(),
             name, EXPORTS, name, got_path);
    int rc = tu_run(cmd, &out);
    cr_assert_eq(rc, 0, "xaic run --forward %s: %s", name, out);
    free(out);
    xai_array got, want;
    snprintf(want_path, sizeof want_path, "%s/%s.y.npy", EXPORTS, name);
    read_pair(got_path, want_path, &got, &want);
    double max_diff = 0, max_y = 0;
    for (int64_t i = 0; i < xai_array_count(&want); i++) {
        max_diff = fmax(max_diff, fabs((double)got.data[i] - want.data[i]));
        max_y = fmax(max_y, fabs((double)want.data[i]));
    }
    cr_expect_leq(max_diff, 1e-4 * fmax(1, max_y), "%s logits: max |xaic - torch| = %g (max |y| %g)", name, max_diff,
                  max_y);
    cr_log_info("%s logits: max |xaic - torch| / max |y| = %.3g", name, max_diff / fmax(max_y, 1e-30));
    xai_array_free(&got);
    xai_array_free(&want);

    snprintf(explain, sizeof explain, "%s/%s_gradient.xai", tu_tmpdir(), name);
    FILE *f = fopen(explain, "w");
    cr_assert_not_null(f);
    fprintf(f, "import \"%s.xai\";\nexplain input_gradient for %s { method gradient; }\n", name, name);
    fclose(f);
    snprintf(got_path, sizeof got_path, "%s/%s.grad.npy", tu_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "'%s' run '%s' --explain input_gradient --input '%s/%s.x.npy' -o '%s'", XAIC_EXE, explain,
             EXPORTS, name, got_path);
    rc = tu_run(cmd, &out);
    cr_assert_eq(rc, 0, "xaic run gradient %s: %s", name, out);
    free(out);
    snprintf(want_path, sizeof want_path, "%s/%s.g.npy", EXPORTS, name);
    read_pair(got_path, want_path, &got, &want);
    double max_g = 0, dot = 0, n_got = 0, n_want = 0, n_diff = 0;
    max_diff = 0;
    for (int64_t i = 0; i < xai_array_count(&want); i++) {
        double a = got.data[i], b = want.data[i];
        max_diff = fmax(max_diff, fabs(a - b));
        max_g = fmax(max_g, fabs(b));
        dot += a * b, n_got += a * a, n_want += b * b, n_diff += (a - b) * (a - b);
    }
    cr_assert_gt(max_g, 0, "%s: autograd's gradient is zero everywhere, nothing to compare", name);
    double rel = max_diff / max_g, l2 = sqrt(n_diff / n_want), cosine = dot / sqrt(n_got * n_want);
    cr_log_info("%s gradient: max |xaic - torch| / max |g| = %.3g, L2 %.3g, cosine %.7f", name, rel, l2, cosine);
    if (rel > 1e-4)
        cr_expect(l2 <= 2e-3 && cosine >= 0.9999,
                  "%s gradient: max |xaic - torch| / max |g| = %g, L2 relative %g, cosine %g", name, rel, l2, cosine);
    xai_array_free(&got);
    xai_array_free(&want);
}

Test(import_torchvision, resnet18) { run_and_compare("resnet18"); }
Test(import_torchvision, mobilenet_v2) { run_and_compare("mobilenet_v2"); }
Test(import_torchvision, mobilenet_v3_small) { run_and_compare("mobilenet_v3_small"); }
Test(import_torchvision, mobilenet_v3_small_opset14) { run_and_compare("mobilenet_v3_small_op14"); }
Test(import_torchvision, shufflenet_v2_x0_5) { run_and_compare("shufflenet_v2_x0_5"); }
Test(import_torchvision, googlenet) { run_and_compare("googlenet"); }
Test(import_torchvision, densenet121) { run_and_compare("densenet121"); }
Test(import_torchvision, efficientnet_b0) { run_and_compare("efficientnet_b0"); }
Test(import_torchvision, squeezenet1_1) { run_and_compare("squeezenet1_1"); }
Test(import_torchvision, inception_v3) { run_and_compare("inception_v3"); }
Test(import_torchvision, mnasnet0_5) { run_and_compare("mnasnet0_5"); }
Test(import_torchvision, regnet_y_400mf) { run_and_compare("regnet_y_400mf"); }
Test(import_torchvision, resnext50_32x4d) { run_and_compare("resnext50_32x4d"); }
Test(import_torchvision, alexnet) { run_and_compare("alexnet"); }
Test(import_torchvision, vit_small) { run_and_compare("vit_small"); }
Test(import_torchvision, vit_small_opset13) { run_and_compare("vit_small_op13"); }
/* exported without constant folding nor conv-BN fusion: batchnorm layers with their state_dict names */
Test(import_torchvision, resnet18_unfolded) { run_and_compare("resnet18_v1"); }
