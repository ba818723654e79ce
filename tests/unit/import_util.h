/* `xaic import` of a model a ctest fixture exported (tests of imported networks). Header-only. */
#ifndef XAIC_IMPORT_UTIL_H
#define XAIC_IMPORT_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"

/* Imports EXPORTS/MODEL_opOPSET.onnx into DIR/MODEL.xai (DIR a fresh folder of the test's temporary directory);
 * returns DIR (malloc'd). `fixture` names the ctest fixture and script that export it, for the message when the
 * file is missing. */
static __attribute__((unused)) char *iu_import(const char *exports, const char *model, int opset, const char *fixture)
{
    char onnx[512], *dir = NULL, cmd[4096], *out = NULL;
    snprintf(onnx, sizeof onnx, "%s/%s_op%d.onnx", exports, model, opset);
    cr_assert_eq(access(onnx, R_OK), 0,
                 "%s is missing: the ctest fixture %s (needs python3-torch, python3-torchvision and python3-onnx) did "
                 "not run or failed",
                 onnx, fixture);
    cr_assert(asprintf(&dir, "%s/%s_op%d", tu_tmpdir(), model, opset) > 0);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && '%s' import '%s' -o '%s/%s.xai' --name %s", dir, XAIC_EXE, onnx, dir,
             model, model);
    int rc = tu_run(cmd, &out);
    cr_assert_eq(rc, 0, "%s does not import: %s", onnx, out);
    free(out);
    return dir;
}

#endif
