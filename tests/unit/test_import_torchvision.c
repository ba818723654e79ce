/* xaic import on torchvision 0.14 networks exported by torch 1.13 (random weights; made at test time into
 * build/import_torchvision by the ctest fixture onnx_torchvision_exports, which needs python3-torch and
 * python3-torchvision and fails without them). Each network must import completely; then
 * tests/reference/check_onnx_import.py checks it with onnx / numpy / torch alone (every node accounted
 * for, shapes equal to onnx.shape_inference's, the safetensors file exactly the tensors the .xai reads
 * with the ONNX values, and the .xai run by a PyTorch interpreter of the ops contract equal to the
 * original module's output), and the front end parses the .xai. resnet18 exported without folding
 * uses v1 ops only: the current compiler runs it and must match torch. */
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

Test(import_torchvision, resnet18) { import_and_check("resnet18"); }
Test(import_torchvision, mobilenet_v2) { import_and_check("mobilenet_v2"); }
Test(import_torchvision, mobilenet_v3_small) { import_and_check("mobilenet_v3_small"); }
Test(import_torchvision, mobilenet_v3_small_opset14) { import_and_check("mobilenet_v3_small_op14"); }
Test(import_torchvision, shufflenet_v2_x0_5) { import_and_check("shufflenet_v2_x0_5"); }
Test(import_torchvision, googlenet) { import_and_check("googlenet"); }
Test(import_torchvision, densenet121) { import_and_check("densenet121"); }
Test(import_torchvision, efficientnet_b0) { import_and_check("efficientnet_b0"); }
Test(import_torchvision, squeezenet1_1) { import_and_check("squeezenet1_1"); }
Test(import_torchvision, inception_v3) { import_and_check("inception_v3"); }
Test(import_torchvision, mnasnet0_5) { import_and_check("mnasnet0_5"); }
Test(import_torchvision, regnet_y_400mf) { import_and_check("regnet_y_400mf"); }
Test(import_torchvision, resnext50_32x4d) { import_and_check("resnext50_32x4d"); }
Test(import_torchvision, alexnet) { import_and_check("alexnet"); }

/* v1 ops only: compiled by the current xaic and run; the logits must be torch's. */
Test(import_torchvision, resnet18_runs_in_the_compiler)
{
    import_and_check("resnet18_v1");
    char cmd[4096], *out = NULL, y[512];
    snprintf(y, sizeof y, "%s/resnet18_v1.out.npy", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' run '%s/resnet18_v1.xai' --forward --input '%s/resnet18_v1.x.npy' -o '%s'",
             XAIC_EXE, tu_tmpdir(), EXPORTS, y);
    int rc = tu_run(cmd, &out);
    cr_assert_eq(rc, 0, "xaic run: %s", out);
    free(out);
    xai_array got, want;
    char err[512];
    snprintf(cmd, sizeof cmd, "%s/resnet18_v1.y.npy", EXPORTS);
    cr_assert_eq(xai_npy_read(y, &got, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(xai_npy_read(cmd, &want, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(xai_array_count(&got), xai_array_count(&want));
    cr_assert_eq(xai_array_count(&want), 2000);
    double max_diff = 0, max_y = 0;
    for (int64_t i = 0; i < xai_array_count(&want); i++) {
        max_diff = fmax(max_diff, fabs((double)got.data[i] - want.data[i]));
        max_y = fmax(max_y, fabs((double)want.data[i]));
    }
    cr_expect_leq(max_diff, 1e-4 * fmax(1, max_y), "max |xaic - torch| = %g (max |y| %g)", max_diff, max_y);
    xai_array_free(&got);
    xai_array_free(&want);
}
