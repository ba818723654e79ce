/* xaic --emit shared: the object and libxairt linked into one shared object that describes itself
 * (xaic_describe). Loaded with dlopen, its entries give bitwise the results of the same code compiled in
 * process (the JIT, as `xaic run`); with --keep-values its description says where each layer's relevance lies,
 * checked against the `at act2` explanation and the in-process plan. Failures of the link step are reported. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <string.h>

#include "explain_util.h"
#include "testutil.h"

typedef int (*forward_fn)(const float *x, float *y, int32_t batch, void *ws);

/* Two explanations of the bundled CNN (a smaller object than models/mnist_cnn_lrp.xai's six, for speed). */
static const char *source(void)
{
    static char *path;
    if (!path) {
        char text[512];
        snprintf(text, sizeof text,
                 "import \"%s/models/mnist_cnn.xai\";\n"
                 "explain epsilon_plus for mnist_cnn { rules epsilon_plus; }\n"
                 "explain epsilon_plus_at_act2 for mnist_cnn { rules epsilon_plus; at act2; }\n",
                 XAIC_SOURCE_DIR);
        path = tu_write_temp("two.xai", text, strlen(text));
    }
    return path;
}

static char *compile_shared(const char *name, const char *extra)
{
    char *out = NULL, cmd[2048], *log = NULL;
    if (asprintf(&out, "%s/%s.so", tu_tmpdir(), name) < 0) return NULL;
    snprintf(cmd, sizeof cmd, "%s %s --emit shared -o %s %s", XAIC_EXE, source(), out, extra);
    int rc = tu_run(cmd, &log);
    cr_assert_eq(rc, 0, "%s failed:\n%s", cmd, log);
    free(log);
    return out;
}

static cJSON *description(void *so)
{
    const char *text = dlsym(so, "xaic_describe");
    cr_assert_not_null(text, "no xaic_describe");
    cJSON *d = cJSON_Parse(text);
    cr_assert_not_null(d, "xaic_describe is not JSON: %.200s", text);
    return d;
}

static cJSON *explanation(cJSON *d, const char *name)
{
    cJSON *net = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "networks"), 0), *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(net, "explanations"))
    {
        if (!strcmp(cJSON_GetObjectItem(e, "name")->valuestring, name)) return e;
    }
    cr_assert_fail("no explanation %s in the description", name);
    return NULL;
}

static void *aligned_ws(size_t bytes) { return aligned_alloc(64, (bytes + 63) / 64 * 64 + 64); }

Test(emit_shared, same_results_as_the_jit_and_a_description)
{
    char *path = compile_shared("lrp", "");
    void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(so, "dlopen: %s", dlerror());
    forward_fn forward = (forward_fn)dlsym(so, "mnist_cnn_forward");
    eu_explain_fn lrp = (eu_explain_fn)dlsym(so, "mnist_cnn_epsilon_plus");
    eu_wsize_fn wsize = (eu_wsize_fn)dlsym(so, "mnist_cnn_workspace_size");
    const xai_model_info *info = dlsym(so, "mnist_cnn_info");
    cr_assert(forward && lrp && wsize && info);
    cr_assert_str_eq(info->name, "mnist_cnn");
    cr_assert_eq(info->n_explanations, 2);
    const char *(*status_string)(int) = (const char *(*)(int))dlsym(so, "xai_status_string");
    cr_assert_not_null(status_string, "xai_status_string is not kept for bindings");
    cr_assert_str_eq(status_string(XAI_ENAN), xai_status_string(XAI_ENAN));

    xai_array x = eu_load_npy("models/samples/digits.npy");
    float y[100], *r = malloc(sizeof(float) * 7840);
    void *ws = aligned_ws(wsize(10));
    cr_assert_eq(forward(x.data, y, 10, ws), 0);
    cr_assert_eq(lrp(x.data, NULL, r, 10, ws), 0);

    /* the same source compiled in process at -O3, as `xaic run` does */
    size_t len;
    char *text = tu_read_file(source(), &len);
    eu_program p;
    eu_open(&p, source(), text, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    eu_run ref = eu_explain(&p, "mnist_cnn", "epsilon_plus", x.data, NULL, 10);
    cr_assert_eq(ref.status, 0);
    cr_assert_eq(memcmp(ref.out, r, sizeof(float) * 7840), 0, "shared object and JIT differ");
    forward_fn jit_forward = (forward_fn)jit_lookup(p.jit, "mnist_cnn_forward");
    float y_jit[100];
    cr_assert_eq(jit_forward(x.data, y_jit, 10, ref.ws), 0);
    cr_assert_eq(memcmp(y, y_jit, sizeof y), 0, "forward differs");

    cJSON *d = description(so);
    cr_assert_str_eq(cJSON_GetObjectItem(d, "xaic_version")->valuestring, "0.1.0");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(d, "keep_values")));
    int saw_source = 0, saw_weights = 0, saw_runtime = 0;
    cJSON *in;
    cJSON_ArrayForEach(in, cJSON_GetObjectItem(d, "inputs"))
    {
        const char *file = cJSON_GetObjectItem(in, "path")->valuestring,
                   *what = cJSON_GetObjectItem(in, "what")->valuestring;
        cr_assert_eq(file[0], '/', "input paths are absolute: %s", file);
        saw_source += !strcmp(what, "source") && strstr(file, "/two.xai");
        saw_source += !strcmp(what, "source") && strstr(file, "/models/mnist_cnn.xai");
        saw_weights += !strcmp(what, "weights") && strstr(file, "/models/mnist_cnn.safetensors");
        saw_runtime += !strcmp(what, "runtime") && strstr(file, "libxairt.a");
    }
    cr_assert(saw_source == 2 && saw_weights == 1 && saw_runtime == 1, "inputs: %d sources, %d weights, %d runtime",
              saw_source, saw_weights, saw_runtime);
    cJSON *at = explanation(d, "epsilon_plus_at_act2");
    cr_assert_str_eq(cJSON_GetObjectItem(at, "at")->valuestring, "act2");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(at, "output_shape")), 3);
    cr_assert_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(at, "output_shape"), 0)->valueint, 64);
    cr_assert_eq(cJSON_GetObjectItem(at, "classes")->valueint, 10);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(at, "relevance")), "relevance locations only with --keep-values");

    cJSON_Delete(d);
    eu_run_free(&ref);
    eu_close(&p);
    free(text);
    free(ws);
    free(r);
    xai_array_free(&x);
    dlclose(so);
    free(path);
}

/* With --keep-values the relevance at act2 read where the description says equals explanation
 * epsilon_plus_at_act2 bit for bit, and every layer's location is the in-process keep-all plan's. */
Test(emit_shared, keep_values_locates_relevance)
{
    char *path = compile_shared("lrp_keep", "--keep-values");
    void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(so, "dlopen: %s", dlerror());
    eu_explain_fn lrp = (eu_explain_fn)dlsym(so, "mnist_cnn_epsilon_plus");
    eu_explain_fn at_act2 = (eu_explain_fn)dlsym(so, "mnist_cnn_epsilon_plus_at_act2");
    eu_wsize_fn wsize = (eu_wsize_fn)dlsym(so, "mnist_cnn_workspace_size");
    cJSON *d = description(so);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(d, "keep_values")));
    xai_array x = eu_load_npy("models/samples/digits.npy");
    const int batch = 3, act2 = 64 * 14 * 14;
    float *r = malloc(sizeof(float) * 784 * batch), *want = malloc(sizeof(float) * act2 * batch);
    float *ws = aligned_ws(wsize(batch));
    cr_assert_eq(at_act2(x.data, NULL, want, batch, ws), 0);
    cr_assert_eq(lrp(x.data, NULL, r, batch, ws), 0);
    cJSON *e = explanation(d, "epsilon_plus"), *rel;
    int found = 0, layers = 0;
    cJSON_ArrayForEach(rel, cJSON_GetObjectItem(e, "relevance"))
    {
        layers++;
        cr_assert_eq(cJSON_GetObjectItem(rel, "samples")->valueint, 1);
        if (strcmp(cJSON_GetObjectItem(rel, "layer")->valuestring, "act2")) continue;
        cr_assert_str_eq(cJSON_GetObjectItem(rel, "location")->valuestring, "arena");
        int64_t offset = (int64_t)cJSON_GetObjectItem(rel, "offset")->valuedouble;
        /* the arena starts after the header (here the Winograd kernels' scratch) */
        double header =
            cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(d, "networks"), 0), "workspace_header")
                ->valuedouble;
        cr_assert(header >= 0 && (int64_t)header % 4 == 0);
        const float *arena = ws + (int64_t)header / 4;
        cr_assert_eq(memcmp(arena + offset * batch, want, sizeof(float) * act2 * batch), 0,
                     "relevance at act2 in the workspace differs from the `at act2` explanation");
        found = 1;
    }
    cr_assert(found, "no relevance entry for act2");
    cr_assert_eq(layers, 14, "every forward layer but none: %d entries", layers); /* x .. fc2 */

    size_t len;
    char *text = tu_read_file(source(), &len);
    eu_program p;
    eu_open(&p, source(), text, 3, 1);
    cr_assert(p.ok, "%s", eu_messages(&p));
    eu_run ref = eu_explain(&p, "mnist_cnn", "epsilon_plus", x.data, NULL, batch);
    cr_assert_eq(memcmp(ref.out, r, sizeof(float) * 784 * batch), 0, "--keep-values changed the result");
    for (int b = 0; b < batch; b++) {
        double sum = 0;
        for (int k = 0; k < act2; k++) sum += want[b * act2 + k];
        cr_assert_eq(sum, eu_layer_sum(&ref, "act2", b), "sample %d: the in-process plan reads another sum", b);
    }
    eu_run_free(&ref);
    eu_close(&p);
    free(text);
    cJSON_Delete(d);
    free(ws);
    free(r);
    free(want);
    xai_array_free(&x);
    dlclose(so);
    free(path);
}

static void expect_failure(const char *cmd, int status, const char *message)
{
    char *log = NULL;
    int rc = tu_run(cmd, &log);
    cr_expect_eq(rc, status, "%s: status %d, want %d:\n%s", cmd, rc, status, log);
    cr_expect(strstr(log, message) != NULL, "%s: no '%s' in:\n%s", cmd, message, log);
    free(log);
}

Test(emit_shared, errors)
{
    char cmd[2048];
    const char *t = tu_tmpdir();
    snprintf(cmd, sizeof cmd, "%s models/mnist_mlp.xai -shared -o %s/x.so --runtime %s/none.a", XAIC_EXE, t, t);
    expect_failure(cmd, 1, "--runtime '");
    snprintf(cmd, sizeof cmd, "XAIC_RUNTIME=%s/none.a %s models/mnist_mlp.xai -shared -o %s/x.so", t, XAIC_EXE, t);
    expect_failure(cmd, 1, "XAIC_RUNTIME '");
    snprintf(cmd, sizeof cmd, "%s models/mnist_mlp.xai -o %s/x.o --runtime %s/libxairt.a", XAIC_EXE, t,
             XAIC_BINARY_DIR);
    expect_failure(cmd, 2, "--runtime is for --emit shared");
    snprintf(cmd, sizeof cmd, "CC=%s/no-such-cc %s models/mnist_mlp.xai -shared -o %s/x.so", t, XAIC_EXE, t);
    expect_failure(cmd, 1, "cannot run the C compiler");
    snprintf(cmd, sizeof cmd, "CC=false %s models/mnist_mlp.xai -shared -o %s/x.so", XAIC_EXE, t);
    expect_failure(cmd, 1, "linking the shared object failed ('false' exited with status 1)");
    snprintf(cmd, sizeof cmd, "CC=' ' %s models/mnist_mlp.xai -shared -o %s/x.so", XAIC_EXE, t);
    expect_failure(cmd, 1, "CC is blank");
    /* never over an input: the weights, nor the runtime it links */
    snprintf(cmd, sizeof cmd, "%s models/mnist_mlp.xai -shared -o models/mnist_mlp.safetensors", XAIC_EXE);
    expect_failure(cmd, 1, "is a weights file of this command");
    snprintf(cmd, sizeof cmd,
             "cp %s/libxairt.a %s/rt.a && %s models/mnist_mlp.xai -shared -o %s/rt.a --runtime %s/rt.a",
             XAIC_BINARY_DIR, t, XAIC_EXE, t, t);
    expect_failure(cmd, 1, "is the runtime library of this command");
    /* a failed link leaves no file behind */
    snprintf(cmd, sizeof cmd, "test ! -e %s/x.so", t);
    cr_expect_eq(tu_run(cmd, NULL), 0, "a failed command wrote %s/x.so", t);
}

/* With --weights=external, weights derived at bind time (here flat's ones) sit between the header and the arena:
 * the description's workspace_header grows by what the workspace grows by over the embedded build (whose header is
 * the Winograd kernels' scratch alone: the conv2 and conv3 of mnist_cnn take it). */
Test(emit_shared, workspace_header_covers_derived_weights)
{
    char text[512];
    snprintf(text, sizeof text,
             "import \"%s/models/mnist_cnn.xai\";\nexplain flat for mnist_cnn { rules epsilon_plus_flat; }\n",
             XAIC_SOURCE_DIR);
    char *src = tu_write_temp("flat.xai", text, strlen(text));
    size_t bytes[2];
    double header[2];
    for (int external = 0; external < 2; external++) {
        char *out = NULL, *cmd = NULL, *log = NULL;
        cr_assert(asprintf(&out, "%s/flat%d.so", tu_tmpdir(), external) > 0);
        cr_assert(asprintf(&cmd, "%s %s --emit shared -o %s%s", XAIC_EXE, src, out,
                           external ? " --weights=external" : "") > 0);
        cr_assert_eq(tu_run(cmd, &log), 0, "%s failed:\n%s", cmd, log);
        void *so = dlopen(out, RTLD_NOW | RTLD_LOCAL);
        cr_assert_not_null(so, "dlopen: %s", dlerror());
        bytes[external] = ((eu_wsize_fn)dlsym(so, "mnist_cnn_workspace_size"))(1);
        cJSON *d = description(so);
        header[external] =
            cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(d, "networks"), 0), "workspace_header")
                ->valuedouble;
        cJSON_Delete(d);
        dlclose(so);
        free(out), free(cmd), free(log);
    }
    cr_expect_gt(header[0], 0, "the Winograd kernels' scratch");
    cr_expect_gt(header[1] - header[0], 64, "the flat rule's ones are derived: more than the 64-byte header");
    cr_expect_eq((double)(bytes[1] - bytes[0]), header[1] - header[0], "workspace %zu -> %zu bytes, header %g -> %g",
                 bytes[0], bytes[1], header[0], header[1]);
    free(src);
}

/* A large module compiles in parts on several threads (-j, emit_parallel.h), joined by ld -r: the object defines
 * the same global symbols as one compiled whole (the parts' shared kernels and constants are local again), and its
 * entries give bitwise the same results. PATH without binutils falls back to one part. */
static char *global_symbols(const char *object)
{
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "nm -g --defined-only %s | awk '{print $2, $3}' | sort", object);
    cr_assert_eq(tu_run(cmd, &out), 0, "%s: %s", cmd, out);
    return out;
}

Test(emit_shared, parts_equal_the_whole, .timeout = 300)
{
    const char *t = tu_tmpdir(), *modes[3] = { "-j1", "-j2", "-j 3" };
    char cmd[2048], *symbols[3], *log = NULL;
    void *so[3];
    for (int m = 0; m < 3; m++) {
        snprintf(cmd, sizeof cmd, "%s models/mnist_cnn_lrp.xai %s -o %s/parts%d.o", XAIC_EXE, modes[m], t, m);
        cr_assert_eq(tu_run(cmd, &log), 0, "%s: %s", cmd, log);
        free(log);
        snprintf(cmd, sizeof cmd, "%s/parts%d.o", t, m);
        symbols[m] = global_symbols(cmd);
        snprintf(cmd, sizeof cmd, "%s models/mnist_cnn_lrp.xai %s --emit shared -o %s/parts%d.so", XAIC_EXE, modes[m],
                 t, m);
        cr_assert_eq(tu_run(cmd, &log), 0, "%s: %s", cmd, log);
        free(log);
        snprintf(cmd, sizeof cmd, "%s/parts%d.so", t, m);
        so[m] = dlopen(cmd, RTLD_NOW | RTLD_LOCAL);
        cr_assert_not_null(so[m], "dlopen: %s", dlerror());
    }
    cr_assert(strstr(symbols[0], "T mnist_cnn_epsilon_plus\n") && strstr(symbols[0], "D mnist_cnn_info\n"), "whole: %s",
              symbols[0]);
    for (int m = 1; m < 3; m++) cr_assert_str_eq(symbols[m], symbols[0], "%s defines other global symbols", modes[m]);

    xai_array x = eu_load_npy("models/samples/digits.npy");
    const char *entries[] = { "epsilon_plus", "epsilon_gamma_box", "epsilon_alpha2_beta1", "excitation_backprop",
                              "epsilon_plus_flat" };
    float *r[3];
    for (int m = 0; m < 3; m++) r[m] = malloc(sizeof(float) * 7840);
    for (size_t e = 0; e < sizeof entries / sizeof *entries; e++) {
        for (int m = 0; m < 3; m++) {
            char name[128];
            snprintf(name, sizeof name, "mnist_cnn_%s", entries[e]);
            eu_explain_fn fn = (eu_explain_fn)dlsym(so[m], name);
            eu_wsize_fn wsize = (eu_wsize_fn)dlsym(so[m], "mnist_cnn_workspace_size");
            cr_assert(fn && wsize, "%s: no %s", modes[m], name);
            void *ws = aligned_ws(wsize(10));
            cr_assert_eq(fn(x.data, NULL, r[m], 10, ws), 0);
            free(ws);
        }
        for (int m = 1; m < 3; m++)
            cr_assert_eq(memcmp(r[m], r[0], sizeof(float) * 7840), 0, "%s: %s differs from -j1", entries[e], modes[m]);
    }
    /* without ld and objcopy on PATH: one part, the same symbols */
    snprintf(cmd, sizeof cmd, "PATH=/nonexistent %s models/mnist_cnn_lrp.xai -j2 -o %s/parts_nold.o", XAIC_EXE, t);
    cr_assert_eq(tu_run(cmd, &log), 0, "%s: %s", cmd, log);
    free(log);
    snprintf(cmd, sizeof cmd, "%s/parts_nold.o", t);
    char *nold = global_symbols(cmd);
    cr_assert_str_eq(nold, symbols[0]);
    free(nold);
    for (int m = 0; m < 3; m++) {
        free(r[m]);
        free(symbols[m]);
        dlclose(so[m]);
    }
    xai_array_free(&x);
    snprintf(cmd, sizeof cmd, "%s models/mnist_mlp.xai -j0 -o %s/x.o", XAIC_EXE, t);
    expect_failure(cmd, 2, "-j needs a number of threads in [1, 8]");
}
