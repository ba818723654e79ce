/* LRP rules and presets against Zennit 0.5.1 (fixtures made by tests/reference/make_lrp_fixtures.py):
 * every configuration on the four bundled models, relevance seeded with one-hot(target), compared at the
 * input (and at two intermediate layers): max |ours - Zennit| <= 1e-4 * max |Zennit|. */
#include <criterion/criterion.h>

#include "explain_util.h"

/* config name -> explain block body, as Zennit configured it (tests/fixtures/lrp/manifest.json) */
static const struct {
    const char *config, *body;
} configs[] = {
    { "epsilon", "dense: epsilon(1e-6); conv2d: epsilon(1e-6);" },
    { "epsilon_025", "dense: epsilon(0.25); conv2d: epsilon(0.25);" },
    { "zplus", "dense: zplus; conv2d: zplus;" },
    { "alpha2_beta1", "dense: alpha_beta(2, 1); conv2d: alpha_beta(2, 1);" },
    { "alpha1_beta0", "dense: alpha_beta(1, 0); conv2d: alpha_beta(1, 0);" },
    { "gamma", "dense: gamma(0.25); conv2d: gamma(0.25);" },
    { "gamma_1", "dense: gamma(1.0); conv2d: gamma(1.0);" },
    { "zbox_first", "dense: epsilon; conv2d: epsilon; first: zbox(0, 1);" },
    { "wsquare_first", "dense: epsilon; conv2d: epsilon; first: wsquare;" },
    { "flat_first", "dense: epsilon; conv2d: epsilon; first: flat;" },
    { "epsilon_plus", "rules epsilon_plus;" },
    { "epsilon_plus_flat", "rules epsilon_plus_flat;" },
    { "epsilon_gamma_box", "rules epsilon_gamma_box(low=0, high=1);" },
    { "epsilon_alpha2_beta1", "rules epsilon_alpha2_beta1;" },
    { "epsilon_alpha2_beta1_flat", "rules epsilon_alpha2_beta1_flat;" },
    { "excitation_backprop", "rules excitation_backprop;" },
};
#define N_CONFIGS (int)(sizeof configs / sizeof configs[0])

static char *program_for(const char *model)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fprintf(f, "import \"%s.xai\";\n", model);
    for (int i = 0; i < N_CONFIGS; i++)
        fprintf(f, "explain %s for %s { seed one; %s }\n", configs[i].config, model, configs[i].body);
    fclose(f);
    return text;
}

static void check_model(const char *model, int opt_level)
{
    char path[256];
    snprintf(path, sizeof path, "models/%s_lrp_test.xai", model);
    char *text = program_for(model);
    eu_program p;
    eu_open(&p, path, text, opt_level, 0);
    cr_assert(p.ok, "%s does not compile:\n%s", model, eu_messages(&p));
    xai_array x = eu_load_npy(strstr(model, "mlp") ? "models/samples/digits_flat.npy" : "models/samples/digits.npy");
    xai_array t = eu_load_npy("tests/fixtures/lrp/targets.npy");
    int32_t target[10];
    for (int i = 0; i < 10; i++) target[i] = (int32_t)t.data[i];
    for (int i = 0; i < N_CONFIGS; i++) {
        char fx[256];
        snprintf(fx, sizeof fx, "tests/fixtures/lrp/%s__%s.npy", model, configs[i].config);
        xai_array ref = eu_load_npy(fx);
        eu_run r = eu_explain(&p, model, configs[i].config, x.data, target, 10);
        cr_assert_eq(r.status, 0, "%s %s: status %d", model, configs[i].config, r.status);
        cr_assert_eq(r.out_count * 10, xai_array_count(&ref), "%s %s: size", model, configs[i].config);
        double err = eu_rel_error(r.out, ref.data, xai_array_count(&ref));
        cr_expect(err <= 1e-4, "%s %s -O%d: max |ours - Zennit| / max |Zennit| = %.3g", model, configs[i].config,
                  opt_level, err);
        eu_run_free(&r);
        xai_array_free(&ref);
    }
    xai_array_free(&x);
    xai_array_free(&t);
    eu_close(&p);
    free(text);
}

Test(lrp_zennit, mnist_mlp) { check_model("mnist_mlp", 3); }
Test(lrp_zennit, mnist_mlp_nobias) { check_model("mnist_mlp_nobias", 3); }
Test(lrp_zennit, mnist_cnn) { check_model("mnist_cnn", 3); }
Test(lrp_zennit, mnist_cnn_nobias) { check_model("mnist_cnn_nobias", 3); }
Test(lrp_zennit, mnist_cnn_at_O0) { check_model("mnist_cnn", 0); }

/* relevance at intermediate layers: `at act2` ([64, 14, 14]) and `at flat` ([2048]) */
Test(lrp_zennit, at_intermediate_layers)
{
    const char *text = "import \"mnist_cnn.xai\";\n"
                       "explain at_act2 for mnist_cnn { seed one; rules epsilon_plus; at act2; }\n"
                       "explain at_flat for mnist_cnn { seed one; rules epsilon_plus; at flat; }\n";
    eu_program p;
    eu_open(&p, "models/at_test.xai", text, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy("models/samples/digits.npy");
    xai_array t = eu_load_npy("tests/fixtures/lrp/targets.npy");
    int32_t target[10];
    for (int i = 0; i < 10; i++) target[i] = (int32_t)t.data[i];
    const char *names[2] = { "at_act2", "at_flat" };
    const char *files[2] = { "tests/fixtures/lrp/mnist_cnn__epsilon_plus__at_act2.npy",
                             "tests/fixtures/lrp/mnist_cnn__epsilon_plus__at_flat.npy" };
    for (int k = 0; k < 2; k++) {
        xai_array ref = eu_load_npy(files[k]);
        eu_run r = eu_explain(&p, "mnist_cnn", names[k], x.data, target, 10);
        cr_assert_eq(r.status, 0);
        cr_assert_eq(r.out_count * 10, xai_array_count(&ref), "%s: %lld values, fixture %lld", names[k],
                     (long long)(r.out_count * 10), (long long)xai_array_count(&ref));
        double err = eu_rel_error(r.out, ref.data, xai_array_count(&ref));
        cr_expect(err <= 1e-4, "%s: relative error %.3g", names[k], err);
        eu_run_free(&r);
        xai_array_free(&ref);
    }
    xai_array_free(&x);
    xai_array_free(&t);
    eu_close(&p);
}
