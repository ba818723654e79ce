/* Activation maximisation (method activation_maximization), checked by properties that do not come from
 * the code under test:
 * - the gradient the generated loop ascends equals central finite differences of the objective
 *   log p(t | x) - lambda/2 ||x - c||^2 computed by a naive double-precision forward pass (naive_ref.c), in
 *   input space and through a generator (one plain gradient-ascent step of rate 1 moves x by the gradient);
 * - plain gradient ascent at a small rate increases the objective at every one of the first steps;
 * - the bundled classifier's prototypes of every class are classified as that class with p >= 0.99;
 * - API misuse and divergence give status codes; every diagnostic of the method is reported. */
#include <criterion/criterion.h>

#include "explain_util.h"
#include "naive_ref.c"
#include "testutil.h"

typedef int (*am_fn)(const float *x, const int32_t *target, float *out, int32_t batch, void *ws, const xai_options *o);
typedef int (*fwd_fn)(const float *x, float *y, int32_t batch, void *ws);

static void *lookup(eu_program *p, const char *net, const char *suffix)
{
    char sym[256];
    snprintf(sym, sizeof sym, "%s_%s", net, suffix);
    void *f = jit_lookup(p->jit, sym);
    cr_assert_not_null(f, "no symbol %s", sym);
    return f;
}

static void *workspace(eu_program *p, const char *net, int batch)
{
    size_t bytes = ((eu_wsize_fn)lookup(p, net, "workspace_size"))(batch);
    cr_assert(bytes > 0);
    return aligned_alloc(64, (bytes + 63) / 64 * 64);
}

/* log softmax(l)[t] in double */
static double log_p(const double *l, int k, int t)
{
    double mx = l[0], s = 0;
    for (int i = 1; i < k; i++) mx = fmax(mx, l[i]);
    for (int i = 0; i < k; i++) s += exp(l[i] - mx);
    return l[t] - mx - log(s);
}

/* p(row b's class = b) of ten float logit rows */
static double p_of_row(const float *logits, int b)
{
    double l[10];
    for (int k = 0; k < 10; k++) l[k] = logits[b * 10 + k];
    return exp(log_p(l, 10, b));
}

/* ---- finite differences ---- */

typedef struct objective {
    const nr_net *gen, *cls; /* gen may be NULL */
    int target, classes;
    double lambda;
    const float *centre; /* NULL: 0 */
    int logit;           /* objective=logit: the target's logit rather than log p */
} objective;

static double objective_at(const objective *o, const float *v, int64_t n)
{
    double reg = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = v[i] - (o->centre ? o->centre[i] : 0.0);
        reg += d * d;
    }
    double *logits;
    if (o->gen) { /* the image passes to the classifier as float, as the generated code does */
        double *img = nr_forward(o->gen, v, 1);
        int64_t m = nr_count(&o->gen->L[o->gen->output]);
        float *imgf = malloc(sizeof(float) * m);
        for (int64_t i = 0; i < m; i++) imgf[i] = (float)img[i];
        logits = nr_forward(o->cls, imgf, 1);
        free(img);
        free(imgf);
    } else {
        logits = nr_forward(o->cls, v, 1);
    }
    double j = (o->logit ? logits[o->target] : log_p(logits, o->classes, o->target)) - 0.5 * o->lambda * reg;
    free(logits);
    return j;
}

static void random_classifier(nr_net *net, nr_rng *rng)
{
    int h = nr_input(net, "x", 3, 3, 2, 2);
    snprintf(net->name, sizeof net->name, "cls");
    h = nr_conv(net, rng, h, 4, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, "4, kernel=1");
    h = nr_simple(net, NR_RELU, h, 0);
    h = nr_simple(net, NR_FLATTEN, h, 0);
    h = nr_dense(net, rng, h, 5, 1, "5");
    h = nr_simple(net, NR_SIGMOID, h, 0);
    net->output = nr_dense(net, rng, h, 4, 1, "4");
}

static void random_generator(nr_net *net, nr_rng *rng, int outputs)
{
    int h = nr_input(net, "z", 1, 5, 0, 0);
    snprintf(net->name, sizeof net->name, "gen");
    h = nr_dense(net, rng, h, 8, 1, "8");
    h = nr_simple(net, NR_RELU, h, 0);
    char args[16];
    snprintf(args, sizeof args, "%d", outputs);
    h = nr_dense(net, rng, h, outputs, 1, args);
    net->output = nr_simple(net, NR_SIGMOID, h, 0);
}

/* The .xai text of the classifier (and generator) with one explain block; weights in temporary files. */
static eu_program open_am(const nr_net *cls, const nr_net *gen, const char *explain)
{
    char *full = NULL, *cls_text, *gen_text = NULL;
    char *cw = tu_write_temp("cls.safetensors", "", 0);
    cr_assert_eq(nr_write_safetensors(cls, cw), 0);
    cls_text = nr_xai_text(cls, "cls.safetensors");
    if (gen) {
        char *gw = tu_write_temp("gen.safetensors", "", 0);
        cr_assert_eq(nr_write_safetensors(gen, gw), 0);
        gen_text = nr_xai_text(gen, "gen.safetensors");
        free(gw);
    }
    cr_assert(asprintf(&full, "%s\n%s\n%s\n", cls_text, gen_text ? gen_text : "", explain) > 0);
    char *src = tu_write_temp("am.xai", "", 0);
    eu_program p;
    eu_open(&p, src, full, 3, 0);
    cr_assert(p.ok, "%s\n%s", eu_messages(&p), full);
    free(cw);
    free(cls_text);
    free(gen_text);
    free(full);
    free(src);
    return p;
}

/* One gradient-ascent step of rate 1 moves v by the objective's gradient; compare with central differences. */
static void check_gradient(const objective *o, const float *v0, int64_t n, const float *v1)
{
    double err = 0, mag = 0;
    float *vp = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) {
        const double h = 1e-2;
        memcpy(vp, v0, sizeof(float) * n);
        vp[i] = (float)(v0[i] + h);
        double jp = objective_at(o, vp, n);
        vp[i] = (float)(v0[i] - h);
        double jm = objective_at(o, vp, n);
        double fd = (jp - jm) / ((double)(float)(v0[i] + h) - (double)(float)(v0[i] - h));
        double got = (double)v1[i] - (double)v0[i];
        err = fmax(err, fabs(fd - got));
        mag = fmax(mag, fabs(fd));
    }
    cr_expect(mag > 1e-3, "a degenerate objective (gradient %g)", mag);
    cr_expect(err <= 2e-3 * mag + 2e-5, "class %d: |gradient - finite differences| = %g (max %g)", o->target, err, mag);
    free(vp);
}

/* One step of plain gradient ascent (rate 1) in input space, for every class, against finite differences of
 * the objective (log p, or the logit with objective=logit), with a centre away from x so that the
 * regulariser's gradient is tested too. */
static void check_input_space_step(uint64_t seed, double lambda, int logit)
{
    nr_rng rng = { seed };
    nr_net cls;
    random_classifier(&cls, &rng);
    char explain[256];
    snprintf(explain, sizeof explain,
             "explain am for cls { method activation_maximization(steps=1, lr=1, lambda=%g, "
             "optimizer=gradient_ascent%s); }",
             lambda, logit ? ", objective=logit" : "");
    eu_program p = open_am(&cls, NULL, explain);
    am_fn am = (am_fn)lookup(&p, "cls", "am_ex");
    void *ws = workspace(&p, "cls", 1);
    float x0[12], centre[12], x1[12];
    for (int i = 0; i < 12; i++) x0[i] = (float)nr_uniform(&rng, -1, 1), centre[i] = (float)nr_uniform(&rng, -1, 1);
    for (int32_t t = 0; t < 4; t++) {
        xai_options opt = { 0 };
        opt.baseline = centre;
        cr_assert_eq(am(x0, &t, x1, 1, ws, &opt), XAI_OK);
        objective o = { NULL, &cls, t, 4, lambda, centre, logit };
        check_gradient(&o, x0, 12, x1);
    }
    free(ws);
    eu_close(&p);
    nr_net_free(&cls);
}

Test(actmax, gradient_in_input_space_equals_finite_differences) { check_input_space_step(0x5eed0001, 0.3, 0); }

/* objective=logit (the seed's 3.2 class model): the step follows d logit_t / dx - lambda (x - c) */
Test(actmax, logit_objective_gradient_equals_finite_differences) { check_input_space_step(0x5eed0003, 0.01, 1); }

Test(actmax, gradient_through_a_generator_equals_finite_differences)
{
    nr_rng rng = { 0x5eed0002 };
    nr_net cls, gen;
    random_classifier(&cls, &rng);
    random_generator(&gen, &rng, 12); /* [12] feeds x[3, 2, 2]: the same values, viewed */
    eu_program p = open_am(&cls, &gen,
                           "explain am for cls { method activation_maximization(generator=gen, steps=1, "
                           "lr=1, lambda=0.2, optimizer=gradient_ascent); }");
    am_fn am = (am_fn)lookup(&p, "cls", "am_ex");
    void *ws = workspace(&p, "cls", 1);
    float z0[5], z1[5], image[12];
    for (int i = 0; i < 5; i++) z0[i] = (float)nr_uniform(&rng, -1.5, 1.5);
    for (int32_t t = 0; t < 4; t++) {
        xai_options opt = { 0 };
        opt.code = z1;
        cr_assert_eq(am(z0, &t, image, 1, ws, &opt), XAI_OK);
        objective o = { &gen, &cls, t, 4, 0.2, NULL, 0 }; /* a generator's code is regularised towards 0 */
        check_gradient(&o, z0, 5, z1);
        /* the image is G(z1) */
        double *expect = nr_forward(&gen, z1, 1);
        for (int i = 0; i < 12; i++)
            cr_expect(fabs(image[i] - expect[i]) <= 1e-5, "image[%d] %g vs %g", i, image[i], expect[i]);
        free(expect);
    }
    free(ws);
    eu_close(&p);
    nr_net_free(&cls);
    nr_net_free(&gen);
}

/* ---- the bundled classifier ---- */

static const char *mlp_am =
    "import \"mnist_mlp.xai\";\n"
    "explain proto for mnist_mlp { method activation_maximization(steps=300, lambda=0.01, lr=0.05); }\n"
    "explain ga_proto for mnist_mlp { method activation_maximization(steps=50, lambda=0.01, lr=0.05, "
    "optimizer=gradient_ascent); }\n"
    "explain seed_proto for mnist_mlp { method activation_maximization(steps=1000, lambda=0.1, lr=0.01); }\n"
    "explain ascent for mnist_mlp { method activation_maximization(steps=1, lambda=0.1, lr=0.001, "
    "optimizer=gradient_ascent); }\n";

Test(actmax, prototypes_of_every_class_are_classified_as_that_class)
{
    eu_program p;
    eu_open(&p, "models/am_test.xai", mlp_am, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    am_fn am = (am_fn)lookup(&p, "mnist_mlp", "proto_ex");
    fwd_fn forward = (fwd_fn)lookup(&p, "mnist_mlp", "forward");
    void *ws = workspace(&p, "mnist_mlp", 10);
    float *x = calloc(10 * 784, sizeof(float)), *protos = malloc(sizeof(float) * 10 * 784), logits[100];
    int32_t targets[10];
    for (int b = 0; b < 10; b++) targets[b] = b;
    cr_assert_eq(forward(x, logits, 10, ws), XAI_OK); /* the blank start is no class's prototype */
    for (int b = 0; b < 10; b++) {
        cr_assert(p_of_row(logits, b) < 0.9, "class %d at the start: p = %.4f", b, p_of_row(logits, b));
    }
    cr_assert_eq(am(x, targets, protos, 10, ws, NULL), XAI_OK);
    cr_assert_eq(forward(protos, logits, 10, ws), XAI_OK);
    for (int b = 0; b < 10; b++) {
        cr_expect(p_of_row(logits, b) >= 0.99, "class %d: p = %.4f", b, p_of_row(logits, b));
    }
    /* the seed's set-up: start from and regularise towards the class-mean images */
    xai_array means = { 0 };
    char err[256];
    cr_assert_eq(xai_npy_read("models/samples/class_mean_images.npy", &means, 0, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(xai_array_count(&means), 7840);
    am_fn seed_am = (am_fn)lookup(&p, "mnist_mlp", "seed_proto_ex");
    cr_assert_eq(seed_am(means.data, targets, protos, 10, ws, NULL), XAI_OK);
    cr_assert_eq(forward(protos, logits, 10, ws), XAI_OK);
    for (int b = 0; b < 10; b++) {
        cr_expect(p_of_row(logits, b) >= 0.99, "class %d from its mean image: p = %.4f", b, p_of_row(logits, b));
    }
    xai_array_free(&means);
    /* rows are independent: class 3 alone gives the same prototype (with plain gradient ascent: Adam
     * normalises gradients, so where they are ~0 it magnifies rounding differences of the batched kernels) */
    am_fn ga = (am_fn)lookup(&p, "mnist_mlp", "ga_proto_ex");
    cr_assert_eq(ga(x, targets, protos, 10, ws, NULL), XAI_OK);
    float *alone = malloc(sizeof(float) * 784);
    cr_assert_eq(ga(x, &targets[3], alone, 1, ws, NULL), XAI_OK);
    double diff = 0;
    for (int i = 0; i < 784; i++) diff = fmax(diff, fabs(alone[i] - protos[3 * 784 + i]));
    cr_expect(diff <= 1e-4, "batch 1 vs batch 10: %g", diff);
    free(alone);
    free(x);
    free(protos);
    free(ws);
    eu_close(&p);
}

Test(actmax, gradient_ascent_increases_the_objective_at_every_step)
{
    eu_program p;
    eu_open(&p, "models/am_test.xai", mlp_am, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    am_fn step = (am_fn)lookup(&p, "mnist_mlp", "ascent_ex");
    fwd_fn forward = (fwd_fn)lookup(&p, "mnist_mlp", "forward");
    void *ws = workspace(&p, "mnist_mlp", 1);
    xai_array digit = { 0 };
    char err[256];
    cr_assert_eq(xai_npy_read("models/samples/digits_flat.npy", &digit, 0, err, sizeof err), XAI_OK, "%s", err);
    float x0[784], x[784], next[784], logits[10];
    memcpy(x0, digit.data, sizeof x0); /* a digit, ascended towards another class */
    memcpy(x, x0, sizeof x);
    int32_t target = 8;
    xai_options opt = { 0 };
    opt.baseline = x0; /* the centre stays the start while the steps are chained */
    double previous = -INFINITY;
    for (int s = 0; s <= 25; s++) {
        cr_assert_eq(forward(x, logits, 1, ws), XAI_OK);
        double l[10], reg = 0;
        for (int k = 0; k < 10; k++) l[k] = logits[k];
        for (int i = 0; i < 784; i++) reg += ((double)x[i] - x0[i]) * ((double)x[i] - x0[i]);
        double j = log_p(l, 10, target) - 0.05 * reg;
        cr_expect(j > previous, "step %d: objective %.9g after %.9g", s, j, previous);
        previous = j;
        cr_assert_eq(step(x, &target, next, 1, ws, &opt), XAI_OK);
        memcpy(x, next, sizeof x);
    }
    xai_array_free(&digit);
    free(ws);
    eu_close(&p);
}

Test(actmax, misuse_and_divergence_give_status_codes)
{
    eu_program p;
    eu_open(&p, "models/am_test.xai",
            "import \"mnist_mlp.xai\";\n"
            "explain proto for mnist_mlp { method activation_maximization(steps=5, lr=0.01); }\n"
            "explain wild for mnist_mlp { method activation_maximization(steps=40, lambda=10, lr=10, "
            "optimizer=gradient_ascent); }\n",
            0, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    am_fn am = (am_fn)lookup(&p, "mnist_mlp", "proto_ex");
    am_fn wild = (am_fn)lookup(&p, "mnist_mlp", "wild_ex");
    eu_explain_fn plain = (eu_explain_fn)lookup(&p, "mnist_mlp", "proto");
    void *ws = workspace(&p, "mnist_mlp", 2);
    float x[2 * 784] = { 0 }, out[2 * 784];
    int32_t t[2] = { 1, 2 }, bad[2] = { 1, 10 };
    cr_expect_eq(plain(x, t, out, 2, ws), XAI_OK);
    cr_expect_eq(am(NULL, t, out, 2, ws, NULL), XAI_ENULL);
    cr_expect_eq(am(x, t, NULL, 2, ws, NULL), XAI_ENULL);
    cr_expect_eq(am(x, t, out, 2, NULL, NULL), XAI_ENULL);
    cr_expect_eq(am(x, t, out, 0, ws, NULL), XAI_EBATCH);
    cr_expect_eq(am(x, bad, out, 2, ws, NULL), XAI_ETARGET);
    cr_expect_eq(am(x, t, out, 2, (char *)ws + 4, NULL), XAI_EALIGN);
    xai_options opt = { 0 };
    opt.steps = -1;
    cr_expect_eq(am(x, t, out, 2, ws, &opt), XAI_EARG);
    x[5] = NAN;
    cr_expect_eq(am(x, t, out, 2, ws, NULL), XAI_ENAN);
    x[5] = 0;
    float centre[784];
    for (int i = 0; i < 784; i++) centre[i] = 0.5f;
    opt.steps = 0;
    opt.baseline = centre;
    centre[7] = INFINITY;
    cr_expect_eq(am(x, t, out, 2, ws, &opt), XAI_ENAN);
    cr_expect_eq(wild(x, t, out, 2, ws, NULL), XAI_EDIVERGED);
    free(ws);
    eu_close(&p);
}

/* ---- the bundled generator (seed 1.3): codes drawn from N(0, 1), regularised towards the class-mean codes ---- */

Test(actmax, prototypes_through_the_generator_are_classified_as_their_class)
{
    eu_program p;
    eu_open(&p, "models/am_generator_test.xai", "import \"mnist_mlp_am.xai\";\n", 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    am_fn am = (am_fn)lookup(&p, "mnist_mlp", "proto_z_ex");
    fwd_fn forward = (fwd_fn)lookup(&p, "mnist_mlp", "forward");
    fwd_fn generate = (fwd_fn)lookup(&p, "mnist_gen", "forward");
    void *ws = workspace(&p, "mnist_mlp", 10), *gws = workspace(&p, "mnist_gen", 10);
    xai_array centres = { 0 };
    char err[256];
    cr_assert_eq(xai_npy_read("models/samples/class_mean_codes.npy", &centres, 0, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(xai_array_count(&centres), 1000);
    float z0[1000], z[1000], images[7840], again[7840], logits[100];
    xai_normal_fill(z0, 1000, 42, 0, 1.0f);
    int32_t targets[10];
    for (int b = 0; b < 10; b++) targets[b] = b;
    xai_options opt = { 0 };
    opt.steps = 1000;
    opt.baseline = centres.data;
    opt.baseline_per_sample = 1;
    opt.code = z;
    cr_assert_eq(am(z0, targets, images, 10, ws, &opt), XAI_OK);
    cr_assert_eq(forward(images, logits, 10, ws), XAI_OK);
    for (int b = 0; b < 10; b++) {
        cr_expect(p_of_row(logits, b) >= 0.99, "class %d: p = %.4f", b, p_of_row(logits, b));
    }
    /* the images are the generator's output on the returned codes */
    cr_assert_eq(generate(z, again, 10, gws), XAI_OK);
    for (int i = 0; i < 7840; i++)
        cr_assert(fabsf(again[i] - images[i]) <= 1e-6f, "pixel %d: %g vs %g", i, again[i], images[i]);
    xai_array_free(&centres);
    free(ws);
    free(gws);
    eu_close(&p);
}

/* ---- diagnostics ---- */

static void expect_diagnostic(const char *text, const char *needle)
{
    eu_program p;
    eu_open(&p, "models/am_diag.xai", text, 0, 0);
    cr_expect(!p.ok, "compiled: %s", text);
    cr_expect(strstr(eu_messages(&p), needle) != NULL, "expected \"%s\" in:\n%s", needle, eu_messages(&p));
    cr_expect(strstr(eu_messages(&p), "am_diag.xai:") != NULL, "no location in:\n%s", eu_messages(&p));
    eu_close(&p);
}

Test(actmax, diagnostics)
{
    const char *nets = "import \"mnist_mlp.xai\";\n"
                       "network small_gen { input z[4]; img = sigmoid(z); output img; }\n";
    char text[1024];
#define CASE(explain, needle)                                                                                          \
    snprintf(text, sizeof text, "%sexplain e for mnist_mlp { %s }\n", nets, explain);                                  \
    expect_diagnostic(text, needle)
    CASE("method activation_maximization(generator=small_gen);",
         "generator 'small_gen' outputs [4] (4 values), but network 'mnist_mlp' takes x [784] (784 values)");
    CASE("method activation_maximization(generator=nowhere);", "no network 'nowhere'");
    CASE("method activation_maximization(generator=mnist_mlp);", "cannot be its own generator");
    CASE("method activation_maximization(step=10);", "has no parameter 'step'");
    CASE("method activation_maximization(optimizer=sgd);", "optimizer takes one of adam, gradient_ascent");
    CASE("method activation_maximization(lr=0);", "lr must be > 0");
    CASE("method activation_maximization(lambda=-1);", "lambda must be a number >= 0");
    CASE("method activation_maximization(steps=2.5);", "steps must be an integer");
    CASE("method activation_maximization(optimizer=gradient_ascent, beta1=0.8);",
         "beta1 is a parameter of optimizer=adam");
    CASE("method activation_maximization(beta2=1);", "beta2 must be in [0, 1)");
    CASE("method activation_maximization; seed softmax;", "takes no seed");
    CASE("method activation_maximization(objective=softmax);", "objective takes one of log_softmax, logit");
    CASE("method activation_maximization; relu: guided;", "rules do not apply");
#undef CASE
}

/* ---- xaic run ---- */

static int xaic(const char *args, char **out)
{
    char *cmd = NULL;
    cr_assert(asprintf(&cmd, "'%s' %s", XAIC_EXE, args) > 0);
    int rc = tu_run(cmd, out);
    free(cmd);
    return rc;
}

Test(actmax, xaic_run_writes_a_grid_and_an_array_of_all_classes)
{
    char *out = NULL, args[1024];
    snprintf(args, sizeof args, "run models/mnist_mlp_am.xai --explain proto --steps 150 -o %s/protos.png",
             tu_tmpdir());
    cr_assert_eq(xaic(args, &out), 0, "%s", out);
    cr_expect(strstr(out, "row  class  p(class)") != NULL, "%s", out);
    free(out);
    char path[512], err[256];
    xai_array a = { 0 };
    snprintf(path, sizeof path, "%s/protos.npy", tu_tmpdir());
    cr_assert_eq(xai_npy_read(path, &a, 0, err, sizeof err), XAI_OK, "%s", err);
    cr_expect(a.rank == 2 && a.shape[0] == 10 && a.shape[1] == 784, "shape [%lld, %lld]", (long long)a.shape[0],
              (long long)a.shape[1]);
    xai_array_free(&a);
    snprintf(path, sizeof path, "%s/protos.png", tu_tmpdir());
    cr_assert_eq(xai_png_read(path, 0, &a, err, sizeof err), XAI_OK, "%s", err);
    /* 5 x 2 cells of 28 * 4 = 112 pixels with 2-pixel gaps */
    cr_expect(a.shape[1] == 2 * 112 + 2 && a.shape[2] == 5 * 112 + 4 * 2, "png %lld x %lld", (long long)a.shape[1],
              (long long)a.shape[2]);
    xai_array_free(&a);
}

Test(actmax, xaic_run_errors)
{
    char *out = NULL, args[1024];
    snprintf(args, sizeof args, "run models/mnist_mlp_am.xai --explain proto --target 10 -o %s/p.png", tu_tmpdir());
    cr_expect_eq(xaic(args, &out), 1);
    cr_expect(strstr(out, "--target 10 is not a class of network 'mnist_mlp' (0 .. 9)") != NULL, "%s", out);
    free(out);
    static float three[3 * 784];
    int64_t shape[2] = { 3, 784 };
    char start[512], err[256];
    snprintf(start, sizeof start, "%s/three.npy", tu_tmpdir());
    cr_assert_eq(xai_npy_write(start, three, 2, shape, err, sizeof err), XAI_OK, "%s", err);
    snprintf(args, sizeof args, "run models/mnist_mlp_am.xai --explain proto --input %s -o %s/p.png", start,
             tu_tmpdir());
    cr_expect_eq(xaic(args, &out), 1);
    cr_expect(
        strstr(out,
               "holds 3 starting points; give one (shared by every class), one per class (10), or --target CLASS") !=
            NULL,
        "%s", out);
    free(out);
    snprintf(args, sizeof args, "run models/mnist_mlp_am.xai --explain proto --stats -o %s/p.png", tu_tmpdir());
    cr_expect_eq(xaic(args, &out), 2);
    cr_expect(strstr(out, "do not apply to activation maximisation") != NULL, "%s", out);
    free(out);
    snprintf(args, sizeof args,
             "run models/mnist_cnn_lrp.xai --explain epsilon_plus --steps 5 --input "
             "models/samples/digits.npy -o %s/p.png",
             tu_tmpdir());
    cr_expect_eq(xaic(args, &out), 2);
    cr_expect(strstr(out, "--steps is for activation_maximization explanations") != NULL, "%s", out);
    free(out);
}
