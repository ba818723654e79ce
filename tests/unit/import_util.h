/* `xaic import` of a model a ctest fixture exported (tests of imported networks). Header-only. */
#ifndef XAIC_IMPORT_UTIL_H
#define XAIC_IMPORT_UTIL_H

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "explain_util.h"
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

/* A fixture folder's DIR/MODEL/manifest.json, parsed */
static __attribute__((unused)) cJSON *iu_manifest(const char *dir, const char *model)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/manifest.json", dir, model);
    char *text = tu_read_file(path, NULL);
    cr_assert_not_null(text, "cannot read %s", path);
    cJSON *m = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(m, "%s is not JSON", path);
    return m;
}

/* j.a[.b[.c]] of a manifest, which must be there */
static __attribute__((unused)) cJSON *iu_json_at(cJSON *j, const char *a, const char *b, const char *c)
{
    j = cJSON_GetObjectItem(j, a);
    if (j && b) j = cJSON_GetObjectItem(j, b);
    if (j && c) j = cJSON_GetObjectItem(j, c);
    cr_assert_not_null(j, "manifest has no %s.%s.%s", a, b ? b : "", c ? c : "");
    return j;
}

/* DIR/MODEL/FILE.npy */
static __attribute__((unused)) xai_array iu_fixture(const char *dir, const char *model, const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s.npy", dir, model, file);
    return eu_load_npy(path);
}

#endif
