/* SmoothGrad sweeps (`method smoothgrad(noise=[...], samples=[...])`, docs/gradients.md):
 * - the block expands into one explanation per (noise, samples), noise-major, named NAME_0, NAME_1, ...;
 * - each member equals, bit for bit, the same smoothgrad written as its own explain block;
 * - running means: for one input, the member with k samples is the mean of the gradients at the first k
 *   noisy copies of the member with more samples (same seed, same noise numbers);
 * - the tools see the members (the describe JSON, --dump=backward, the header), and `xaic run --explain
 *   NAME` writes the grid PNG (rows noise, columns samples) and a [rows, columns, ...] .npy;
 * - lists anywhere else are refused. */
#include <criterion/criterion.h>

#include "describe.h"
#include "explain_util.h"
#include "testutil.h"

#define SWEEP                                                                                                          \
    "import \"mnist_cnn.xai\";\n"                                                                                      \
    "explain sg for mnist_cnn { method smoothgrad(noise=[0.05, 0.2], samples=[2, 5, 8], seed=5); }\n"

Test(smoothgrad_sweep, expands_noise_major_into_named_members)
{
    eu_program p;
    eu_open(&p, "models/sweep_test.xai", SWEEP, 1, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    cr_assert_eq(p.c.explain->n_specs, 6);
    const double noise[2] = { 0.05, 0.2 };
    const int samples[3] = { 2, 5, 8 };
    for (int k = 0; k < 6; k++) {
        const explain_spec *s = &p.c.explain->specs[k];
        char name[16];
        snprintf(name, sizeof name, "sg_%d", k);
        cr_expect_str_eq(s->name, name);
        cr_expect_str_eq(s->sweep, "sg");
        cr_expect_eq(s->sweep_row, k / 3);
        cr_expect_eq(s->sweep_col, k % 3);
        cr_expect(s->sweep_rows == 2 && s->sweep_cols == 3);
        cr_expect_eq(s->method, METHOD_SMOOTHGRAD);
        cr_expect_eq(s->samples, samples[k % 3], "%s: samples %d", name, s->samples);
        cr_expect_float_eq(s->noise, noise[k / 3], 1e-12);
        cr_expect_float_eq(s->sigma, noise[k / 3], 1e-12); /* mnist_cnn's range is [0, 1] */
        cr_expect_eq(s->rng_seed, 5u);
        cr_expect_not_null(driver_explanation(&p.c, name, NULL), "no explanation %s", name);
    }
    int members[8], rows = 0, cols = 0;
    cr_expect_eq(explain_sweep_members(p.c.explain, "sg", members, 8, &rows, &cols), 6);
    cr_expect(rows == 2 && cols == 3);
    for (int k = 0; k < 6; k++) cr_expect_eq(members[k], k);
    cr_expect_eq(explain_sweep_members(p.c.explain, "sg_1", members, 8, NULL, NULL), 0);

    /* the describe JSON of --emit shared lists each member with its cell and parameters */
    describe_settings ds = { 0 };
    char *json = describe_module(&p.c, &ds);
    cr_assert_not_null(json);
    cr_expect(strstr(json, "\"name\":\"sg_4\""), "%s", json);
    cr_expect(strstr(json, "\"sweep\":{\"name\":\"sg\",\"index\":4,\"row\":1,\"column\":1,\"rows\":2,\"columns\":3}"),
              "%s", json);
    cr_expect(strstr(json, "\"smoothgrad\":{\"noise\":0.2,\"sigma\":0.2,\"samples\":5,\"seed\":5}"), "%s", json);
    free(json);
    eu_close(&p);
}

Test(smoothgrad_sweep, sigma_lists_and_single_lists)
{
    eu_program p;
    eu_open(&p, "models/sweep_test.xai",
            "import \"mnist_cnn.xai\";\n"
            "explain a for mnist_cnn { method smoothgrad(sigma=[0, 0.3, 0.5], samples=4); }\n"
            "explain b for mnist_cnn { method smoothgrad(samples=[3, 6]); post abs; }\n",
            1, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    cr_assert_eq(p.c.explain->n_specs, 5);
    const double sigma[3] = { 0, 0.3, 0.5 };
    for (int k = 0; k < 3; k++) {
        const explain_spec *s = &p.c.explain->specs[k];
        cr_expect(s->sweep_rows == 3 && s->sweep_cols == 1 && s->sweep_row == k && s->sweep_col == 0);
        cr_expect_float_eq(s->sigma, sigma[k], 1e-12);
        cr_expect_eq(s->noise, -1);
        cr_expect_eq(s->samples, 4);
    }
    for (int k = 0; k < 2; k++) {
        const explain_spec *s = &p.c.explain->specs[3 + k];
        cr_expect_str_eq(s->name, k ? "b_1" : "b_0");
        cr_expect(s->sweep_rows == 1 && s->sweep_cols == 2 && s->sweep_col == k);
        cr_expect_float_eq(s->sigma, 0.15, 1e-12); /* the default noise */
        cr_expect_eq(s->post, POST_ABS);           /* the other settings are every member's */
        cr_expect_eq(s->samples, k ? 6 : 3);
    }
    eu_close(&p);
}

typedef int (*ex_fn)(const float *, const int32_t *, float *, int32_t, void *, const xai_options *);

Test(smoothgrad_sweep, members_equal_single_blocks_bit_for_bit)
{
    const char *text = SWEEP "explain one_1 for mnist_cnn { method smoothgrad(noise=0.05, samples=5, seed=5); }\n"
                             "explain one_3 for mnist_cnn { method smoothgrad(noise=0.2, samples=2, seed=5); }\n"
                             "explain one_5 for mnist_cnn { method smoothgrad(samples=8, seed=5, noise=0.2); }\n";
    eu_program p;
    eu_open(&p, "models/sweep_test.xai", text, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy("models/samples/digits.npy");
    int32_t labels[3] = { 0, 1, 2 };
    const int k[3] = { 1, 3, 5 };
    for (int i = 0; i < 3; i++) {
        char member[16], single[16];
        snprintf(member, sizeof member, "sg_%d", k[i]);
        snprintf(single, sizeof single, "one_%d", k[i]);
        eu_run a = eu_explain(&p, "mnist_cnn", member, x.data, labels, 3);
        eu_run b = eu_explain(&p, "mnist_cnn", single, x.data, labels, 3);
        cr_assert(a.status == 0 && b.status == 0);
        cr_expect(memcmp(a.out, b.out, sizeof(float) * 3 * 784) == 0, "%s differs from %s", member, single);
        eu_run_free(&a);
        eu_run_free(&b);
    }
    xai_array_free(&x);
    eu_close(&p);
}

/* The member with k samples is the running mean over the first k noise draws of the member with 8: noisy copy
 * s of one input is x + xai_normal_fill(seed, offset s * 784, sigma) whatever the member's sample count. */
Test(smoothgrad_sweep, members_are_running_means_of_the_same_draws)
{
    const char *text = SWEEP "explain plain for mnist_cnn { method gradient; }\n";
    eu_program p;
    eu_open(&p, "models/sweep_test.xai", text, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy("models/samples/digits.npy");
    const float *x0 = x.data + 3 * 784; /* one input: digit 3 */
    int32_t label = 3, t8[8];
    const float sigma[2] = { 0.05f, 0.2f };
    for (int row = 0; row < 2; row++) {
        float noisy[8 * 784];
        for (int s = 0; s < 8; s++) {
            xai_normal_fill(noisy + s * 784, 784, 5, (uint64_t)s * 784, sigma[row]);
            for (int i = 0; i < 784; i++) noisy[s * 784 + i] += x0[i];
            t8[s] = label;
        }
        eu_run g = eu_explain(&p, "mnist_cnn", "plain", noisy, t8, 8); /* the per-noise gradients */
        cr_assert_eq(g.status, 0);
        const int samples[3] = { 2, 5, 8 };
        for (int col = 0; col < 3; col++) {
            char member[16];
            snprintf(member, sizeof member, "sg_%d", row * 3 + col);
            eu_run m = eu_explain(&p, "mnist_cnn", member, x0, &label, 1);
            cr_assert_eq(m.status, 0);
            float mean[784] = { 0 };
            for (int s = 0; s < samples[col]; s++)
                for (int i = 0; i < 784; i++) mean[i] += g.out[s * 784 + i];
            for (int i = 0; i < 784; i++) mean[i] /= (float)samples[col];
            double e = eu_rel_error(m.out, mean, 784);
            cr_expect(e <= 1e-5, "%s: %.3g from the mean of the first %d noisy gradients", member, e, samples[col]);
            eu_run_free(&m);
        }
        eu_run_free(&g);
    }
    xai_array_free(&x);
    eu_close(&p);
}

static void expect_error(const char *explain, const char *message)
{
    char *text = NULL;
    cr_assert(asprintf(&text, "import \"mnist_cnn.xai\";\n%s\n", explain) > 0);
    eu_program p;
    eu_open(&p, "models/sweep_test.xai", text, 1, 0);
    cr_expect(!p.ok, "accepted: %s", explain);
    cr_expect(strstr(eu_messages(&p), message), "%s\n-> %s", explain, eu_messages(&p));
    eu_close(&p);
    free(text);
}

Test(smoothgrad_sweep, lists_elsewhere_are_refused)
{
    expect_error("explain e for mnist_cnn { method integrated_gradients(steps=[10, 20]); }",
                 "method integrated_gradients takes single values; a list of values (a sweep) is for smoothgrad's");
    expect_error("explain e for mnist_cnn { method smoothgrad(samples=[2, 4], seed=[1, 2]); }",
                 "seed takes one value; a smoothgrad sweep lists values of noise (or sigma) and samples only");
    expect_error("explain e for mnist_cnn { method smoothgrad(variant=[smoothgrad, vargrad]); }",
                 "variant takes one value");
    expect_error("explain e for mnist_cnn { method smoothgrad(noise=[]); }", "noise: an empty list");
    expect_error("explain e for mnist_cnn { method smoothgrad(samples=[2, 0]); }", "samples must be an integer >= 1");
    expect_error("explain e for mnist_cnn { method smoothgrad(noise=[0.1, 0.2], sigma=0.3); }",
                 "give either noise (a fraction of the input range) or sigma (absolute), not both");
    expect_error("explain e for mnist_cnn { method smoothgrad(noise=[0.1, [0.2]]); }", "noise must be a number");
    expect_error("explain e_1 for mnist_cnn { method gradient; }\n"
                 "explain e for mnist_cnn { method smoothgrad(samples=[2, 4]); }",
                 "sweep 'e' names its explanations e_0 .. e_1, and 'e_1' is defined too");
    expect_error("explain e for mnist_cnn { method smoothgrad(samples=[2, 4]); }\n"
                 "explain e_0 for mnist_cnn { method gradient; }",
                 "explanation 'e_0' is defined twice (as a member of a smoothgrad sweep)");
    char big[2048] = "explain e for mnist_cnn { method smoothgrad(samples=[";
    for (int i = 1; i <= 300; i++) snprintf(big + strlen(big), sizeof big - strlen(big), "%s%d", i > 1 ? "," : "", i);
    strcat(big, "]); }");
    expect_error(big, "a sweep of 1 x 300 = 300 explanations; at most 256");
}

/* xaic run --explain NAME on a sweep: the grid PNG (xai_heatmap_write_png's layout: columns = the samples,
 * cells height * ceil(112 / height) pixels, gaps of 2) and NAME's .npy [rows, columns, 1, 28, 28]. */
Test(smoothgrad_sweep, cli_writes_the_grid_and_the_npy)
{
    static const char text[] =
        "import \"" XAIC_SOURCE_DIR "/models/mnist_cnn.xai\";\n"
        "explain sg for mnist_cnn { method smoothgrad(noise=[0.05, 0.2], samples=[2, 5, 8]); }\n";
    char *src = tu_write_temp("sweep.xai", text, strlen(text));
    char *cmd = NULL, *out = NULL;
    const char *dir = tu_tmpdir();
    cr_assert(asprintf(&cmd,
                       "%s run %s --explain sg --input models/samples/digits.npy --target 3 -o %s/grid.png "
                       "--colormap gray",
                       XAIC_EXE, src, dir) > 0);
    cr_assert_eq(tu_run(cmd, &out), 0, "%s", out);
    cr_expect(strstr(out, "holds 10 samples; the sweep explains the first"), "%s", out);
    free(out);
    free(cmd);
    char path[1024];
    snprintf(path, sizeof path, "%s/grid.png", dir);
    size_t len = 0;
    unsigned char *png = (unsigned char *)tu_read_file(path, &len);
    cr_assert(png && len > 24, "no %s", path);
    uint32_t w = (uint32_t)png[16] << 24 | png[17] << 16 | png[18] << 8 | png[19];
    uint32_t h = (uint32_t)png[20] << 24 | png[21] << 16 | png[22] << 8 | png[23];
    cr_expect(w == 3 * 112 + 2 * 2 && h == 2 * 112 + 2, "grid %u x %u", w, h);
    free(png);
    snprintf(path, sizeof path, "%s/grid.npy", dir);
    xai_array a = eu_load_npy(path);
    cr_expect(a.rank == 5 && a.shape[0] == 2 && a.shape[1] == 3 && a.shape[2] == 1 && a.shape[3] == 28 &&
              a.shape[4] == 28);
    /* cell (1, 2) is member sg_5 run alone on the first input */
    eu_program p;
    eu_open(&p, "models/sweep_test.xai",
            "import \"mnist_cnn.xai\";\n"
            "explain sg for mnist_cnn { method smoothgrad(noise=[0.05, 0.2], samples=[2, 5, 8]); }\n",
            3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy("models/samples/digits.npy");
    int32_t t = 3;
    eu_run m = eu_explain(&p, "mnist_cnn", "sg_5", x.data, &t, 1);
    cr_assert_eq(m.status, 0);
    cr_expect(memcmp(m.out, a.data + 5 * 784, sizeof(float) * 784) == 0, "cell (1, 2) is not sg_5");
    eu_run_free(&m);
    xai_array_free(&x);
    xai_array_free(&a);
    eu_close(&p);

    /* the members in the dump and the header */
    cr_assert(asprintf(&cmd, "%s check %s --dump=backward", XAIC_EXE, src) > 0);
    cr_assert_eq(tu_run(cmd, &out), 0, "%s", out);
    cr_expect(strstr(out, "explain sg_5 for mnist_cnn: smoothgrad") &&
                  strstr(out, "sweep sg, row 2 of 2, column 3 of 3: noise 0.2 (sigma 0.2), samples 8"),
              "%s", out);
    free(out);
    free(cmd);
    cr_assert(asprintf(&cmd, "%s %s --emit header -o %s/sweep.h && cat %s/sweep.h", XAIC_EXE, src, dir, dir) > 0);
    cr_assert_eq(tu_run(cmd, &out), 0, "%s", out);
    cr_expect(strstr(out,
                     "/* sg_1: member 1 of smoothgrad sweep sg (row 1 of 2, column 2 of 3): noise 0.05 (sigma "
                     "0.05), samples 5 */"),
              "%s", out);
    free(out);
    free(cmd);

    /* a sweep refuses the single-explanation options */
    cr_assert(asprintf(&cmd, "%s run %s --explain sg --input models/samples/digits.npy -o %s/g.png --stats", XAIC_EXE,
                       src, dir) > 0);
    cr_expect_eq(tu_run(cmd, &out), 2, "%s", out);
    cr_expect(strstr(out, "is a smoothgrad sweep"), "%s", out);
    free(out);
    free(cmd);
    /* other tools name the members */
    cr_assert(asprintf(&cmd, "%s eval %s --explain sg --data models/samples/digits.npy --metric continuity -o %s/ev",
                       XAIC_EXE, src, dir) > 0);
    cr_expect_neq(tu_run(cmd, &out), 0, "%s", out);
    cr_expect(strstr(out, "'sg' is a smoothgrad sweep of 2 x 3 explanations, sg_0 .. sg_5"), "%s", out);
    free(out);
    free(cmd);
    free(src);
}
