/* --weights=external with derived weights: a BatchNorm folded into its conv / dense and a rule's transformed
 * weights (wsquare's W'^2, flat's ones) are computed by NET_bind_weights into the workspace, not stored in the
 * object. Checked on the BatchNorm fixture (tests/fixtures/forward/bn_net: bn1 after a conv with a bias, bn2
 * after a dense without): every output of the externally bound code equals, bit for bit, the code with embedded
 * weights (forward and three explanations); the workspace grows by exactly the derived bytes; and the object
 * file holds none of the derived tensors' bytes, which the embedded object holds. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "jit.h"
#include "testutil.h"
#include "xairt.h"

#define FX XAIC_SOURCE_DIR "/tests/fixtures/forward/"

static const char *const text =
    "import \"bn_net.xai\";\n"
    "explain lrp_mixed for bn_net { method lrp; conv1: wsquare; fc1: gamma(0.25); }\n"
    "explain lrp_flat for bn_net { method lrp; conv1: flat; fc1: alpha_beta; }\n"
    "explain grad for bn_net { method gradient; }\n"
    /* a rule's weight transform through every math function */
    "rule mathw on dense, conv2d { share(pos(a) * (sigmoid(w) + tanh(w) + softplus(w) + "
    "exp(-abs(w)) + log(1 + abs(w)) + pow(w, 3) + pow(w, -2) + pow(abs(w), 0.5) + sqrt(abs(w)))"
    " + neg(a) * w + b); }\n"
    "explain lrp_math for bn_net { method lrp; conv1: mathw; fc1: mathw; }\n";
static const char *const explanations[] = { "lrp_mixed", "lrp_flat", "grad", "lrp_math" };
#define N_EXPL 4

typedef int (*forward_fn)(const float *, float *, int32_t, void *);
typedef int (*entry_fn)(const float *, const int32_t *, float *, int32_t, void *);
typedef size_t (*wsize_fn)(int32_t);
typedef int (*bind_fn)(void *, const void *, size_t);

/* Copies the fixture next to the test's .xai (imports resolve beside it); returns the .xai's path. */
static char *setup_files(void)
{
    const char *names[] = { "bn_net.xai", "bn_net.safetensors" };
    for (int i = 0; i < 2; i++) {
        size_t len;
        char *bytes = tu_read_file(i ? FX "bn_net.safetensors" : FX "bn_net.xai", &len);
        cr_assert_not_null(bytes);
        free(tu_write_temp(names[i], bytes, len));
        free(bytes);
    }
    return tu_write_temp("derived.xai", text, strlen(text));
}

static void analyse(compilation *c, xai_diag *d, const char *path)
{
    diag_init(d, stderr);
    cr_assert_eq(driver_analyse_text(c, d, path, text), 0, "analysis failed");
}

static void *ws_alloc(size_t bytes)
{
    void *p = NULL;
    cr_assert_eq(posix_memalign(&p, 64, (bytes + 63) / 64 * 64), 0);
    memset(p, 0, bytes);
    return p;
}

/* forward then each explanation of one compiled variant, outputs concatenated (malloc'd, *n floats) */
static float *run_all(const char *path, int external, const xai_array *x, size_t *ws_bytes, size_t *n)
{
    compilation c;
    xai_diag d;
    analyse(&c, &d, path);
    cg_options opt = { .weights_external = external };
    char *err = NULL;
    xai_jit *j = jit_create_opts(&c, 2, &opt, &err);
    cr_assert_not_null(j, "jit: %s", err ? err : "?");
    int32_t batch = (int32_t)x->shape[0];
    int64_t in_count = xai_array_count(x) / batch;
    *n = (size_t)batch * (3 + N_EXPL * in_count);
    float *out = malloc(*n * sizeof *out), *at = out;
    *ws_bytes = ((wsize_fn)jit_lookup(j, "bn_net_workspace_size"))(batch);
    void *ws = ws_alloc(*ws_bytes), *file = NULL;
    if (external) { /* the file stays bound (raw weights are read from it), derived ones are in the workspace */
        size_t len;
        char *bytes = tu_read_file(FX "bn_net.safetensors", &len);
        file = ws_alloc(len);
        memcpy(file, bytes, len);
        free(bytes);
        int st = ((bind_fn)jit_lookup(j, "bn_net_bind_weights"))(ws, file, len);
        cr_assert_eq(st, XAI_OK, "bind_weights: %s", xai_status_string(st));
    }
    cr_assert_eq(((forward_fn)jit_lookup(j, "bn_net_forward"))(x->data, at, batch, ws), XAI_OK);
    at += batch * 3;
    for (int e = 0; e < N_EXPL; e++) {
        char sym[64];
        snprintf(sym, sizeof sym, "bn_net_%s", explanations[e]);
        int st = ((entry_fn)jit_lookup(j, sym))(x->data, NULL, at, batch, ws);
        cr_assert_eq(st, XAI_OK, "%s: %s", sym, xai_status_string(st));
        at += batch * in_count;
    }
    free(file);
    free(ws);
    jit_free(j);
    driver_free(&c);
    diag_free(&d);
    return out;
}

Test(external_derived, bound_code_equals_embedded_code)
{
    char *path = setup_files();
    xai_array x;
    char err[256];
    cr_assert_eq(xai_npy_read(FX "bn_net_input.npy", &x, 0, err, sizeof err), XAI_OK, "%s", err);
    size_t n_emb, n_ext, ws_emb, ws_ext;
    float *emb = run_all(path, 0, &x, &ws_emb, &n_emb), *ext = run_all(path, 1, &x, &ws_ext, &n_ext);
    cr_assert_eq(n_emb, n_ext);
    for (size_t i = 0; i < n_emb; i++)
        cr_assert(!memcmp(&emb[i], &ext[i], sizeof(float)), "output %zu: embedded %.9g, external %.9g", i,
                  (double)emb[i], (double)ext[i]);
    /* header + derived, 64-byte aligned each: conv1's W' [4, 1, 3, 3], its W'^2 (wsquare) and ones (flat), 192
     * bytes each; the b' [4] of conv1 and [3] of fc1, 64 each; fc1's W' [3, 256], 3072. alpha_beta and gamma read
     * W' through max / min (nothing stored); wsquare's b^2 is per channel, embedded. */
    size_t derived = 3 * 192 + 2 * 64 + 3072;
    derived += 192 + 3072; /* lrp_math: conv1's and fc1's g(W') */
    cr_expect_eq(ws_ext - ws_emb, 64 + derived, "workspace: embedded %zu, external %zu bytes", ws_emb, ws_ext);
    free(emb);
    free(ext);
    xai_array_free(&x);
    free(path);
}

/* whether `needle` occurs in the file's bytes */
static int contains(const char *file, const void *needle, size_t len)
{
    size_t n;
    char *hay = tu_read_file(file, &n);
    cr_assert_not_null(hay, "%s", file);
    int found = memmem(hay, n, needle, len) != NULL;
    free(hay);
    return found;
}

Test(external_derived, object_holds_no_derived_weights)
{
    char *path = setup_files(), *out = NULL;
    char emb_o[600], ext_o[600];
    snprintf(emb_o, sizeof emb_o, "%s/embedded.o", tu_tmpdir());
    snprintf(ext_o, sizeof ext_o, "%s/external.o", tu_tmpdir());
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' '%s' -o '%s' 2>&1 && '%s' '%s' --weights=external -o '%s' 2>&1", XAIC_EXE, path,
             emb_o, XAIC_EXE, path, ext_o);
    cr_assert_eq(tu_run(cmd, &out), 0, "%s", out);
    free(out);
    /* the derived tensors of the compilation: the network's folded ones and the explanations' transforms */
    compilation c;
    xai_diag d;
    analyse(&c, &d, path);
    int checked = 0, in_embedded = 0;
    const ir_graph *graphs[1 + N_EXPL] = { driver_graph(&c, "bn_net", NULL) };
    for (int e = 0; e < N_EXPL; e++) graphs[1 + e] = driver_explanation(&c, explanations[e], NULL);
    for (int gi = 0; gi < 1 + N_EXPL; gi++) {
        cr_assert_not_null(graphs[gi]);
        for (int k = 0; k < graphs[gi]->n_consts; k++) {
            const ir_const *t = graphs[gi]->consts[k];
            if (!t->recipe || t->count < 16) continue; /* 64 bytes and more: a pattern that cannot occur by chance */
            cr_expect_not(contains(ext_o, t->data, 64), "the external object holds derived '%s'", t->name);
            in_embedded += contains(emb_o, t->data, 64);
            checked++;
        }
    }
    cr_assert_geq(checked, 5, "only %d derived tensors", checked);
    /* every transform of lrp_math has a recipe: none is computed at compile time and stored (it would go stale
     * when other weights are bound) */
    const ir_graph *math = driver_explanation(&c, "lrp_math", NULL);
    int transforms = 0;
    for (int k = 0; k < math->n_consts; k++)
        if (strstr(math->consts[k]->name, "|")) {
            transforms++;
            cr_expect_not_null(math->consts[k]->recipe, "'%s' has no recipe", math->consts[k]->name);
        }
    cr_expect_geq(transforms, 2, "lrp_math has %d weight transforms", transforms);
    cr_assert_geq(in_embedded, 1, "the search finds none in the embedded object either: it cannot fail");
    driver_free(&c);
    diag_free(&d);
    free(path);
}
