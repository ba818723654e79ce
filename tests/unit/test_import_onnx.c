/* xaic import on the small ONNX models of tests/reference/make_onnx_test_models.py (made at test time
 * into build/import_models by the ctest fixture onnx_test_models): for each case the exact layer lines
 * written by hand there, the whole safetensors file (values computed with numpy), the .xai parsed by
 * the front end (and `xaic check` for the cases the current compiler supports), or the error message,
 * exit status 1 and no output file. Then the in-memory API on every prefix of a model, and the CLI. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ast.h"
#include "diag.h"
#include "import.h"
#include "testutil.h"
#include "xairt.h"

#define MODELS XAIC_BINARY_DIR "/import_models"

static cJSON *load_cases(void)
{
    char *text = tu_read_file(MODELS "/cases.json", NULL);
    cr_assert_not_null(text,
                       "no %s/cases.json: the ctest fixture onnx_test_models (tests/reference/"
                       "make_onnx_test_models.py, needs python3-onnx) did not run or failed",
                       MODELS);
    cJSON *cases = cJSON_Parse(text);
    free(text);
    cr_assert(cJSON_IsArray(cases) && cJSON_GetArraySize(cases) > 40, "cases.json is not the list of cases");
    return cases;
}

static char *run_import(const cJSON *c, const char *xai, int *status)
{
    char cmd[4096];
    int at = snprintf(cmd, sizeof cmd, "'%s' import '%s/%s' -o '%s' --node-map '%s.map'", XAIC_EXE, MODELS,
                      cJSON_GetObjectItem(c, "model")->valuestring, xai, xai);
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(c, "args")) at +=
        snprintf(cmd + at, sizeof cmd - at, " '%s'", a->valuestring);
    char *out = NULL;
    *status = tu_run(cmd, &out);
    return out;
}

/* The layer lines ("    NAME = ...;") of a .xai text, trimmed, as a JSON array for comparison. */
static cJSON *layer_lines(const char *text)
{
    cJSON *lines = cJSON_CreateArray();
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char line[2048];
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        if (!strncmp(line, "    ", 4) && strstr(line, " = ")) cJSON_AddItemToArray(lines, cJSON_CreateString(line + 4));
        p += n + (e != NULL);
    }
    return lines;
}

static void expect_parses(const char *name, const char *path, const char *text)
{
    xai_diag d;
    FILE *sink = fopen("/dev/null", "w");
    diag_init(&d, sink);
    xai_source *src = diag_add_source(&d, path, text, strlen(text));
    ast_file *f = src ? ast_parse(&d, src) : NULL;
    cr_expect(f && d.errors == 0, "%s: the front end does not parse %s", name, path);
    ast_free(f);
    diag_free(&d);
    fclose(sink);
}

static void expect_tensors(const char *name, const char *st_path, const cJSON *want)
{
    xai_safetensors st;
    char err[512];
    int rc = xai_safetensors_open(st_path, &st, err, sizeof err);
    cr_expect_eq(rc, XAI_OK, "%s: %s", name, err);
    if (rc) return;
    cr_expect_eq(st.data_offset % 8, 0, "%s: the data section starts at %zu", name, st.data_offset);
    cr_expect_eq(st.n_tensors, cJSON_GetArraySize(want), "%s: %d tensors in the file, %d expected", name, st.n_tensors,
                 cJSON_GetArraySize(want));
    const cJSON *t;
    cJSON_ArrayForEach(t, want)
    {
        const xai_st_tensor *s = xai_safetensors_find(&st, t->string);
        cr_expect_not_null(s, "%s: tensor '%s' is missing", name, t->string);
        if (!s) continue;
        const cJSON *shape = cJSON_GetObjectItem(t, "shape"), *data = cJSON_GetObjectItem(t, "data"), *v;
        cr_expect_eq(s->dtype, XAI_DT_F32, "%s: '%s' is %s", name, t->string, s->dtype_name);
        int ok = s->rank == cJSON_GetArraySize(shape), k = 0;
        cJSON_ArrayForEach(v, shape) ok = ok && s->shape[k++] == (int64_t)v->valuedouble;
        cr_expect(ok, "%s: tensor '%s' has the wrong shape", name, t->string);
        if (!ok || s->end - s->begin != 4 * (uint64_t)cJSON_GetArraySize(data)) continue;
        k = 0;
        cJSON_ArrayForEach(v, data)
        {
            float f;
            memcpy(&f, s->data + 4 * k, 4);
            cr_expect_eq(f, (float)v->valuedouble, "%s: '%s'[%d] = %g, expected %g", name, t->string, k, f,
                         v->valuedouble);
            k++;
        }
    }
    xai_safetensors_close(&st);
}

static void check_success(const cJSON *c, const char *name, const char *xai, int status, const char *out)
{
    cr_expect_eq(status, 0, "%s: exit %d: %s", name, status, out);
    if (status) return;
    char *text = tu_read_file(xai, NULL);
    cr_assert_not_null(text, "%s: %s was not written", name, xai);
    cJSON *got = layer_lines(text);
    const cJSON *want = cJSON_GetObjectItem(c, "lines");
    if (!cJSON_IsNull(want)) { /* null: only `contains` is checked */
        char *g = cJSON_PrintUnformatted(got), *w = cJSON_PrintUnformatted(want);
        cr_expect_str_eq(g, w, "%s: layer lines\n got  %s\n want %s", name, g, w);
        free(g);
        free(w);
    }
    cJSON_Delete(got);
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(c, "contains"))
        cr_expect(strstr(text, s->valuestring) != NULL, "%s: the .xai lacks '%s'", name, s->valuestring);
    expect_parses(name, xai, text);
    char st_path[1024];
    snprintf(st_path, sizeof st_path, "%.*s.safetensors", (int)(strlen(xai) - 4), xai);
    expect_tensors(name, st_path, cJSON_GetObjectItem(c, "tensors"));
    if (cJSON_IsTrue(cJSON_GetObjectItem(c, "v1"))) {
        char cmd[2048], *o = NULL;
        snprintf(cmd, sizeof cmd, "'%s' check '%s'", XAIC_EXE, xai);
        int rc = tu_run(cmd, &o);
        cr_expect_eq(rc, 0, "%s: xaic check rejects it: %s", name, o);
        free(o);
    }
    free(text);
}

Test(import_onnx, every_case)
{
    cJSON *cases = load_cases();
    const cJSON *c;
    int n_ok = 0, n_err = 0;
    cJSON_ArrayForEach(c, cases)
    {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        char xai[1024];
        snprintf(xai, sizeof xai, "%s/%s.xai", tu_tmpdir(), name);
        int status;
        char *out = run_import(c, xai, &status);
        const cJSON *errors = cJSON_GetObjectItem(c, "error");
        if (errors) {
            cr_expect_eq(status, 1, "%s: exit %d (expected 1): %s", name, status, out);
            const cJSON *e;
            cJSON_ArrayForEach(e, errors) cr_expect(strstr(out, e->valuestring) != NULL,
                                                    "%s: the message lacks '%s':\n%s", name, e->valuestring, out);
            cr_expect(strncmp(out, "xaic: error: ", 13) == 0, "%s: message format: %s", name, out);
            cr_expect_eq(access(xai, F_OK), -1, "%s: %s was written despite the error", name, xai);
            n_err++;
        } else {
            check_success(c, name, xai, status, out);
            n_ok++;
        }
        free(out);
    }
    cr_expect_geq(n_ok, 20);
    cr_expect_geq(n_err, 30);
    cJSON_Delete(cases);
}

static unsigned char *read_model(const char *name, size_t *size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", MODELS, name);
    unsigned char *b = (unsigned char *)tu_read_file(path, size);
    cr_assert_not_null(b, "cannot read %s (fixture onnx_test_models)", path);
    return b;
}

/* Every strict prefix of a model is rejected or imported without a crash (ASan watches), always with a
 * message when rejected; the whole model imports to the same .xai as through the file. */
Test(import_onnx, memory_every_prefix)
{
    size_t size;
    unsigned char *b = read_model("split_slice.onnx", &size);
    xai_import_options o = { .model_path = "split_slice.onnx", .output_path = "split_slice.xai" };
    int rejected = 0;
    for (size_t n = 0; n < size; n++) {
        xai_import_result r;
        char err[4096] = "";
        int rc = xai_import_onnx_memory(b, n, NULL, &o, &r, err, sizeof err);
        if (rc) {
            cr_expect(err[0] != 0, "prefix %zu: status %d without a message", n, rc);
            cr_expect(!r.xai && !r.weights, "prefix %zu: results left after an error", n);
            rejected++;
        } else {
            cr_expect(r.xai && r.weights && r.node_map, "prefix %zu: missing results", n);
        }
        xai_import_result_free(&r);
    }
    cr_expect_gt(rejected, (int)size / 2, "only %d of %zu prefixes rejected", rejected, size);
    xai_import_result r;
    char err[4096];
    cr_assert_eq(xai_import_onnx_memory(b, size, NULL, &o, &r, err, sizeof err), 0, "%s", err);
    xai_safetensors st;
    cr_expect_eq(xai_safetensors_parse(r.weights, r.weights_len, 0, &st, err, sizeof err), 0, "%s", err);
    xai_safetensors_close(&st);
    cr_expect(strstr(r.xai, "weights \"split_slice.safetensors\";") != NULL, "%s", r.xai);
    cr_expect(strstr(r.xai, "sl_axis2 = slice(cat, axis=1, start=1, end=6, step=2);") != NULL, "%s", r.xai);
    cr_expect(strstr(r.node_map, "\t/sp/Split\tSplit\tlayer\t") != NULL, "%s", r.node_map);
    xai_import_result_free(&r);
    free(b);
}

Test(import_onnx, memory_external_data_needs_a_directory)
{
    size_t size;
    unsigned char *b = read_model("external.onnx", &size);
    xai_import_options o = { .name = "ext_net", .weights_file = "w.safetensors" };
    xai_import_result r;
    char err[4096] = "";
    cr_expect_neq(xai_import_onnx_memory(b, size, NULL, &o, &r, err, sizeof err), 0);
    cr_expect(strstr(err, "given in memory without its directory") != NULL, "%s", err);
    cr_assert_eq(xai_import_onnx_memory(b, size, MODELS, &o, &r, err, sizeof err), 0, "%s", err);
    cr_expect(strstr(r.xai, "network ext_net {\n    weights \"w.safetensors\";") != NULL, "%s", r.xai);
    xai_import_result_free(&r);
    cr_expect_eq(xai_import_onnx_memory(NULL, 1, NULL, &o, &r, err, sizeof err), XAI_ENULL);
    free(b);
}

Test(import_onnx, failed_import_leaves_existing_files)
{
    char *xai = tu_write_temp("keep.xai", "old", 3), cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' import '%s/conv_mismatch.onnx' -o '%s'", XAIC_EXE, MODELS, xai);
    cr_expect_eq(tu_run(cmd, &out), 1, "%s", out);
    char *text = tu_read_file(xai, NULL);
    cr_expect_str_eq(text, "old");
    free(text);
    free(out);
    /* a successful import replaces it, and leaves no temporary file */
    snprintf(cmd, sizeof cmd, "'%s' import '%s/conv_basic.onnx' -o '%s' && ls '%s'", XAIC_EXE, MODELS, xai,
             tu_tmpdir());
    cr_expect_eq(tu_run(cmd, &out), 0, "%s", out);
    cr_expect(strstr(out, ".tmp.") == NULL, "temporary file left: %s", out);
    cr_expect(strstr(out, "keep.safetensors") != NULL, "%s", out);
    free(out);
    free(xai);
}

Test(import_onnx, command_line)
{
    struct {
        const char *args;
        int status;
        const char *says;
    } cases[] = {
        { "", 2, "no model given" },
        { "--help", 0, "usage: xaic import MODEL.onnx" },
        { "m.onnx --input-shape 3,x,4", 2, "--input-shape takes 1 to 4 positive integers" },
        { "m.onnx --input-shape 3,0", 2, "--input-shape takes" },
        { "m.onnx --input-shape 1,2,3,4,5", 2, "--input-shape takes" },
        { "m.onnx --input-range 2,1", 2, "--input-range takes LOW,HIGH with LOW < HIGH" },
        { "m.onnx --input-range nan,1", 2, "--input-range takes" },
        { "m.onnx --bogus", 2, "unknown option '--bogus'" },
        { "a.onnx b.onnx", 2, "more than one model" },
        { "m.onnx -o", 2, "-o needs a value" },
        { "/nonexistent/m.onnx", 1, "cannot open '/nonexistent/m.onnx'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[1024], *out = NULL;
        snprintf(cmd, sizeof cmd, "cd '%s' && '%s' import %s", tu_tmpdir(), XAIC_EXE, cases[i].args);
        int rc = tu_run(cmd, &out);
        cr_expect_eq(rc, cases[i].status, "'%s': exit %d: %s", cases[i].args, rc, out);
        cr_expect(strstr(out, cases[i].says) != NULL, "'%s': %s", cases[i].args, out);
        free(out);
    }
}

/* Without a terminal the importer prints nothing on success; the header records the command. */
Test(import_onnx, quiet_and_recorded)
{
    char cmd[2048], *out = NULL, xai[512];
    snprintf(xai, sizeof xai, "%s/quiet.xai", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' import '%s/conv_basic.onnx' -o '%s' --input-range=0,1", XAIC_EXE, MODELS, xai);
    cr_expect_eq(tu_run(cmd, &out), 0, "%s", out);
    cr_expect_str_eq(out, "");
    char *text = tu_read_file(xai, NULL);
    cr_assert_not_null(text);
    cr_expect(strstr(text, "# producer: xaic-tests 1, IR version 7, opset 11\n") != NULL, "%s", text);
    cr_expect(strstr(text, "/conv_basic.onnx -o ") != NULL && strstr(text, " --input-range=0,1\n") != NULL, "%s", text);
    cr_expect(strstr(text, "network quiet {\n    weights \"quiet.safetensors\";\n    input x[3, 8, 8] range [0, 1];\n"),
              "%s", text);
    free(text);
    free(out);
}
