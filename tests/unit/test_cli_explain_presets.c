/* `xaic run / eval --explain NAME` where NAME is no explain block of the file but an LRP preset or a method
 * (tool_program.c), and `xaic run MODEL.onnx`, run as a user would (XAIC_EXE through tu_run). Expected values
 * are exact properties worked out by hand (the plain gradient of a bias-free dense layer is the target's weight
 * row; LRP-epsilon relevance of a bias-free ReLU network sums to the target's logit) or the same method written
 * as an explicit explain block; errors are checked for their exit status and for a message that says what to do. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "xairt.h"

#define MODELS XAIC_SOURCE_DIR "/models"

/* tiny: [1, 2, 3] -> flatten -> dense 3, no bias; W[k][i] = (k + 1) * (i - 2) + (i == k) */
static float W[3][6];

static char *path_of(const char *name)
{
    char *p = NULL;
    cr_assert(asprintf(&p, "%s/%s", tu_tmpdir(), name) > 0);
    return p;
}

static char *write_text(const char *name, const char *text) { return tu_write_temp(name, text, strlen(text)); }

static char *tiny(const char *explain_blocks)
{
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 6; i++) W[k][i] = (float)((k + 1) * (i - 2) + (i == k));
    tu_tensor t = { "fc.weight", 2, { 3, 6 }, &W[0][0] };
    free(tu_write_weights("tiny.safetensors", &t, 1));
    char *text = NULL;
    cr_assert(asprintf(&text,
                       "network tiny {\n    weights \"tiny.safetensors\";\n    input x[1, 2, 3];\n"
                       "    flat = flatten(x);\n    fc = dense(flat, 3, bias=false);\n    output fc;\n}\n%s",
                       explain_blocks) > 0);
    char *p = write_text("tiny.xai", text);
    free(text);
    return p;
}

/* n samples of shape dims (deterministic, in [0, 1)) */
static char *inputs(const char *name, int n, int rank, const int64_t *dims)
{
    int64_t shape[5] = { n }, count = n;
    for (int i = 0; i < rank; i++) shape[i + 1] = dims[i], count *= dims[i];
    float *x = malloc(sizeof(float) * count);
    uint32_t s = 12345;
    for (int64_t i = 0; i < count; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / (float)(1u << 24);
    }
    char *p = path_of(name), err[256];
    cr_assert_eq(xai_npy_write(p, x, rank + 1, shape, err, sizeof err), 0, "%s", err);
    free(x);
    return p;
}

static xai_array load(const char *path)
{
    xai_array a = { 0 };
    char err[256];
    cr_assert_eq(xai_npy_read(path, &a, 0, err, sizeof err), 0, "%s", err);
    return a;
}

/* runs `xaic ARGS`, expects status `rc`; returns the output (malloc'd) */
static char *xaic(int rc, const char *args)
{
    char *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&cmd, "'%s' %s", XAIC_EXE, args) > 0);
    int got = tu_run(cmd, &out);
    cr_assert_eq(got, rc, "%s: exit %d, expected %d:\n%s", cmd, got, rc, out);
    free(cmd);
    return out;
}

static void expect_same(const char *a_path, const char *b_path, double tol)
{
    xai_array a = load(a_path), b = load(b_path);
    cr_assert_eq(xai_array_count(&a), xai_array_count(&b), "%s and %s differ in size", a_path, b_path);
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < xai_array_count(&a); i++) {
        worst = fmax(worst, fabs((double)a.data[i] - b.data[i]));
        scale = fmax(scale, fabs((double)b.data[i]));
    }
    cr_expect(scale > 0, "%s is all zeros", b_path);
    cr_expect_leq(worst, tol * fmax(scale, 1e-30), "%s vs %s: max difference %g (max |b| %g)", a_path, b_path, worst,
                  scale);
    xai_array_free(&a);
    xai_array_free(&b);
}

/* --explain gradient on a network without explain blocks: d logit_t / dx = W[t], for --target t */
Test(cli_explain_presets, gradient_of_a_dense_layer_is_the_weight_row)
{
    char *net = tiny(""), *x = inputs("x.npy", 4, 3, (int64_t[]){ 1, 2, 3 }), *out = path_of("g.npy"), args[2048];
    for (int t = 0; t < 3; t++) {
        snprintf(args, sizeof args, "run '%s' --explain gradient --target %d --input '%s' -o '%s'", net, t, x, out);
        free(xaic(0, args));
        xai_array g = load(out);
        cr_assert(g.rank == 4 && g.shape[0] == 4 && xai_array_count(&g) == 24, "rank %d, %lld values", g.rank,
                  (long long)xai_array_count(&g));
        for (int b = 0; b < 4; b++)
            for (int i = 0; i < 6; i++)
                cr_expect_float_eq(g.data[b * 6 + i], W[t][i], 1e-6, "target %d sample %d input %d", t, b, i);
        xai_array_free(&g);
    }
    free(net), free(x), free(out);
}

/* The file's own block of that name wins: here `gradient` is gradient x input, W[t] * x. */
Test(cli_explain_presets, the_files_block_wins)
{
    char *net = tiny("explain gradient for tiny { method gradient; post times_input; }\n");
    char *x = inputs("x.npy", 2, 3, (int64_t[]){ 1, 2, 3 }), *out = path_of("gx.npy"), args[2048];
    snprintf(args, sizeof args, "run '%s' --explain gradient --target 1 --input '%s' -o '%s'", net, x, out);
    free(xaic(0, args));
    xai_array g = load(out), in = load(x);
    for (int i = 0; i < 12; i++) cr_expect_float_eq(g.data[i], W[1][i % 6] * in.data[i], 1e-5, "element %d", i);
    xai_array_free(&g), xai_array_free(&in);
    free(net), free(x), free(out);
}

/* LRP with a preset on a bias-free ReLU network (models/mnist_mlp_nobias.xai, dense only: epsilon 1e-6
 * everywhere): relevance is conserved, its sum is the arg-max logit. */
Test(cli_explain_presets, epsilon_plus_conserves_the_logit)
{
    char *x = inputs("x.npy", 3, 1, (int64_t[]){ 784 }), *out = path_of("r.npy"), *y = path_of("y.npy"), args[2048];
    snprintf(args, sizeof args, "run '%s/mnist_mlp_nobias.xai' --explain epsilon_plus --input '%s' -o '%s'", MODELS, x,
             out);
    free(xaic(0, args));
    snprintf(args, sizeof args, "run '%s/mnist_mlp_nobias.xai' --forward --input '%s' -o '%s'", MODELS, x, y);
    free(xaic(0, args));
    xai_array r = load(out), logits = load(y);
    cr_assert(r.rank == 2 && r.shape[0] == 3 && r.shape[1] == 784);
    for (int b = 0; b < 3; b++) {
        double sum = 0, top = -INFINITY;
        for (int i = 0; i < 784; i++) sum += r.data[b * 784 + i];
        for (int k = 0; k < 10; k++) top = fmax(top, logits.data[b * 10 + k]);
        cr_expect(fabs(sum - top) <= 1e-3 * fabs(top), "sample %d: relevance sums to %g, the logit is %g", b, sum, top);
    }
    xai_array_free(&r), xai_array_free(&logits);
    free(x), free(out), free(y);
}

/* --explain epsilon_gamma_box on models/mnist_cnn.xai (range [0, 1], no explain blocks) is
 * models/mnist_cnn_lrp.xai's block `rules epsilon_gamma_box(low=0, high=1)`; --explain gradcam is
 * gradcam(layer=pool3), the last [C, H, W] layer. */
Test(cli_explain_presets, same_as_the_explicit_blocks)
{
    char *x = inputs("x.npy", 2, 3, (int64_t[]){ 1, 28, 28 }), *a = path_of("a.npy"), *b = path_of("b.npy");
    char args[2048];
    snprintf(args, sizeof args, "run '%s/mnist_cnn.xai' --explain epsilon_gamma_box --input '%s' -o '%s'", MODELS, x,
             a);
    free(xaic(0, args));
    snprintf(args, sizeof args, "run '%s/mnist_cnn_lrp.xai' --explain epsilon_gamma_box --input '%s' -o '%s'", MODELS,
             x, b);
    free(xaic(0, args));
    expect_same(a, b, 1e-6);

    char *text = NULL;
    cr_assert(asprintf(&text,
                       "import \"%s/mnist_cnn.xai\";\nexplain g for mnist_cnn { method gradcam(layer=pool3); }\n",
                       MODELS) > 0);
    char *explicit = write_text("gradcam.xai", text);
    snprintf(args, sizeof args, "run '%s/mnist_cnn.xai' --explain gradcam --input '%s' -o '%s'", MODELS, x, a);
    free(xaic(0, args));
    snprintf(args, sizeof args, "run '%s' --explain g --input '%s' -o '%s'", explicit, x, b);
    free(xaic(0, args));
    xai_array cam = load(a);
    cr_expect(cam.rank == 3 && cam.shape[0] == 2 && cam.shape[1] == 28 && cam.shape[2] == 28, "gradcam: rank %d",
              cam.rank);
    xai_array_free(&cam);
    expect_same(a, b, 1e-6);
    free(text), free(explicit), free(x), free(a), free(b);
}

static int temp_entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* xaic run MODEL.onnx: imported in a temporary directory (removed after), explained with a method, a preset
 * needing the input range (refused without --input-range, with a message saying so), and written as a PNG
 * heatmap; the same as importing first and writing the explain block by hand. */
Test(cli_explain_presets, onnx_directly)
{
    char *tmp = path_of("tmp"), args[4096];
    cr_assert(!mkdir(tmp, 0700));
    char *x = inputs("x.npy", 2, 3, (int64_t[]){ 1, 28, 28 }), *a = path_of("a.npy"), *b = path_of("b.npy");
    snprintf(args, sizeof args,
             "run '%s/fashion_resnet.onnx' --explain epsilon_gamma_box --input '%s' -o '%s' 2>&1; echo status $?",
             MODELS, x, a);
    char *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&cmd, "TMPDIR='%s' '%s' %s", tmp, XAIC_EXE, args) > 0);
    tu_run(cmd, &out);
    cr_expect(strstr(out, "status 1") && strstr(out, "--input-range LOW,HIGH") && strstr(out, "has none"), "%s", out);
    free(cmd), free(out);
    cr_expect_eq(temp_entries(tmp), 0, "the imported copy is left behind in %s", tmp);

    snprintf(args, sizeof args,
             "TMPDIR='%s' '%s' run '%s/fashion_resnet.onnx' --input-range 0,1 --explain epsilon_gamma_box --input '%s' "
             "-o '%s'",
             tmp, XAIC_EXE, MODELS, x, a);
    cr_assert_eq(tu_run(args, &out), 0, "%s", out);
    cr_expect_eq(out[0], 0, "off a terminal xaic run prints nothing, not: %s", out);
    free(out);
    cr_expect_eq(temp_entries(tmp), 0, "the imported copy is left behind in %s", tmp);

    char *png = path_of("heat.png");
    snprintf(args, sizeof args, "run '%s/fashion_resnet.onnx' --explain gradient --input '%s' -o '%s'", MODELS, x, png);
    free(xaic(0, args));
    size_t len = 0;
    unsigned char *p = (unsigned char *)tu_read_file(png, &len);
    cr_assert(p && len > 24 && !memcmp(p, "\x89PNG", 4), "no PNG written");
    free(p);

    /* by hand: import, then an explicit block */
    char *xai = path_of("fr.xai");
    snprintf(args, sizeof args, "import '%s/fashion_resnet.onnx' -o '%s' --input-range 0,1", MODELS, xai);
    free(xaic(0, args));
    char *text = tu_read_file(xai, &len), *full = NULL;
    cr_assert(asprintf(&full, "%sexplain e for fr { rules epsilon_gamma_box; }\n", text) > 0);
    free(write_text("fr.xai", full));
    snprintf(args, sizeof args, "run '%s' --explain e --input '%s' -o '%s'", xai, x, b);
    free(xaic(0, args));
    xai_array r = load(a);
    cr_expect(r.rank == 4 && r.shape[0] == 2 && r.shape[1] == 1 && r.shape[2] == 28 && r.shape[3] == 28);
    xai_array_free(&r);
    expect_same(a, b, 1e-6);
    free(text), free(full), free(xai), free(png), free(tmp), free(x), free(a), free(b);
}

/* eval takes the names in a comma list too */
/* --colormap gray on a signed gradient (W[1] = -4, -1, 0, 2, 4, 6): matplotlib's gray over the seed's pixel_range
 * +-6, entry floor(256 u) of 256 at u = (g + 6) / 12; an unknown map is refused by run and eval. */
Test(cli_explain_presets, colormap_option)
{
    char *net = tiny(""), *x = inputs("x1.npy", 1, 3, (int64_t[]){ 1, 2, 3 }), *png = path_of("gray.png"), args[2048];
    snprintf(args, sizeof args, "run '%s' --explain gradient --target 1 --input '%s' -o '%s' --colormap gray", net, x,
             png);
    free(xaic(0, args));
    xai_array a = { 0 };
    char err[256];
    cr_assert_eq(xai_png_read(png, 0, &a, err, sizeof err), 0, "%s", err);
    cr_assert(a.rank == 3 && a.shape[0] == 3 && a.shape[1] == 112 && a.shape[2] == 168, "PNG %lldx%lld",
              (long long)a.shape[1], (long long)a.shape[2]);
    for (int i = 0; i < 6; i++) {
        double u = (W[1][i] + 6.0) / 12.0, want = fmin(255.0, floor(256.0 * u)) / 255.0;
        float got = a.data[(i / 3 * 56) * 168 + (i % 3) * 56];
        cr_expect(fabs(got - want) <= 0.5 / 255.0, "pixel %d: %g / 255, want %g / 255", i, got * 255, want * 255);
    }
    xai_array_free(&a);
    snprintf(args, sizeof args, "run '%s' --explain gradient --input '%s' -o '%s' --colormap jet", net, x, png);
    char *msg = xaic(2, args);
    cr_expect(strstr(msg, "--colormap takes bwr, hot, hot_r, viridis or gray, not 'jet'"), "%s", msg);
    free(msg);
    char *dir = path_of("eval_cm");
    snprintf(args, sizeof args,
             "eval '%s' --explain gradient --data '%s' --metric selectivity --patch 1 --steps 2 --colormap Hot -o '%s'",
             net, x, dir);
    msg = xaic(2, args);
    cr_expect(strstr(msg, "--colormap takes bwr, hot, hot_r, viridis or gray, not 'Hot'"), "%s", msg);
    free(msg);
    snprintf(
        args, sizeof args,
        "eval '%s' --explain gradient --data '%s' --metric selectivity --patch 1 --steps 2 --colormap hot_r -o '%s'",
        net, x, dir);
    free(xaic(0, args));
    free(net), free(x), free(png), free(dir);
}

Test(cli_explain_presets, eval_with_a_list)
{
    char *net = tiny(""), *x = inputs("x.npy", 8, 3, (int64_t[]){ 1, 2, 3 }), *dir = path_of("eval"), args[2048];
    snprintf(args, sizeof args,
             "eval '%s' --explain gradient,epsilon_plus,integrated_gradients --data '%s' --metric selectivity "
             "--patch 1 --steps 3 -o '%s'",
             net, x, dir);
    free(xaic(0, args));
    char *json = NULL;
    cr_assert(asprintf(&json, "%s/results.json", dir) > 0);
    size_t len;
    char *text = tu_read_file(json, &len);
    cr_assert_not_null(text, "no %s", json);
    cr_expect(strstr(text, "\"epsilon_plus\"") && strstr(text, "\"integrated_gradients\"") &&
                  strstr(text, "\"gradient\""),
              "%s", text);
    free(text), free(json), free(net), free(x), free(dir);
}

Test(cli_explain_presets, errors)
{
    char *net = tiny(""), *x = inputs("x.npy", 1, 3, (int64_t[]){ 1, 2, 3 }), *out = path_of("o.npy"), args[2048];
    /* an unknown name lists the names there are */
    snprintf(args, sizeof args, "run '%s' --explain nope --input '%s' -o '%s'", net, x, out);
    char *msg = xaic(1, args);
    cr_expect(strstr(msg, "no explanation named 'nope'") && strstr(msg, "epsilon_gamma_box") &&
                  strstr(msg, "integrated_gradients") && strstr(msg, "gradcam"),
              "%s", msg);
    free(msg);
    /* a preset that needs the input range, on a network without one */
    snprintf(args, sizeof args, "run '%s' --explain epsilon_gamma_box --input '%s' -o '%s'", net, x, out);
    msg = xaic(1, args);
    cr_expect(strstr(msg, "--explain epsilon_gamma_box") && strstr(msg, "range [low, high]"), "%s", msg);
    free(msg);
    /* Grad-CAM on a network without spatial layers */
    snprintf(args, sizeof args, "run '%s' --explain gradcam --input '%s' -o '%s'", net, x, out);
    msg = xaic(1, args);
    cr_expect(strstr(msg, "spatial"), "%s", msg);
    free(msg);
    /* two networks and no --network */
    char *two = write_text("two.xai",
                           "import \"tiny.xai\";\nnetwork other { weights \"tiny.safetensors\"; "
                           "input x[1, 2, 3]; f = flatten(x); fc = dense(f, 3, bias=false); output fc; }\n");
    snprintf(args, sizeof args, "run '%s' --explain gradient --input '%s' -o '%s'", two, x, out);
    msg = xaic(1, args);
    cr_expect(strstr(msg, "--network"), "%s", msg);
    free(msg);
    snprintf(args, sizeof args, "run '%s' --network other --explain gradient --input '%s' -o '%s'", two, x, out);
    free(xaic(0, args));
    /* --input-range is for ONNX models */
    snprintf(args, sizeof args, "run '%s' --input-range 0,1 --explain gradient --input '%s' -o '%s'", net, x, out);
    msg = xaic(2, args);
    cr_expect(strstr(msg, "ONNX"), "%s", msg);
    free(msg);
    free(two), free(net), free(x), free(out);
}
