/* The gradient family against Captum 0.8 (fixtures made by tests/reference/make_captum_fixtures.py):
 * saliency (signed, abs, of the softmax), input x gradient, guided backprop, deconvolution, integrated
 * gradients with each quadrature / the softmax / a constant baseline, SmoothGrad's three variants with
 * Captum's noise replayed, DeepLIFT (zero and constant references) on the four bundled networks:
 * max |ours - Captum| <= 1e-4 * max |Captum| (2e-3 where float32 rounding flips max-pool ties or ReLUs near
 * zero: in the fixtures' own float32-vs-float64 check (manifest), or between Captum's float32 path points
 * and ours). */
#include <criterion/criterion.h>

#include "explain_util.h"

typedef struct config {
    const char *name; /* fixture suffix and explanation name */
    const char *body;
    double tolerance;
} config;

static const config configs[] = {
    { "saliency", "method gradient;", 1e-4 },
    { "saliency_abs", "method gradient; post abs;", 1e-4 },
    { "saliency_softmax", "method gradient; seed softmax;", 1e-4 },
    { "input_x_gradient", "method gradient; post times_input;", 1e-4 },
    { "guided_backprop", "method gradient; relu: guided;", 1e-4 },
    { "deconvolution", "method gradient; relu: deconvnet;", 1e-4 },
    { "ig_gausslegendre", "method integrated_gradients(steps=50);", 1e-4 },
    /* Captum's Riemann points come from float32 torch.linspace, one ulp away from k/n for some k; on the CNN
     * one path point of one digit then lands on the other side of a max-pool near-tie (1e-3 there, 1e-7 on
     * the other nine digits) */
    { "ig_riemann_left", "method integrated_gradients(steps=50, quadrature=riemann_left);", 2e-3 },
    { "ig_riemann_right", "method integrated_gradients(steps=50, quadrature=riemann_right);", 2e-3 },
    { "ig_riemann_middle", "method integrated_gradients(steps=50, quadrature=riemann_middle);", 1e-4 },
    { "ig_riemann_trapezoid", "method integrated_gradients(steps=50, quadrature=riemann_trapezoid);", 1e-4 },
    { "ig_softmax", "method integrated_gradients(steps=50); seed softmax;", 1e-4 },
    { "ig_baseline_const", "method integrated_gradients(steps=50, baseline=0.5);", 2e-3 },
    { "smoothgrad", "method smoothgrad(samples=8, noise=0.15, variant=smoothgrad);", 1e-4 },
    { "smoothgrad_sq", "method smoothgrad(samples=8, noise=0.15, variant=smoothgrad_sq);", 1e-4 },
    { "vargrad", "method smoothgrad(samples=8, noise=0.15, variant=vargrad);", 2e-3 },
    { "deeplift", "method deeplift;", 1e-4 },
    { "deeplift_baseline_const", "method deeplift(reference=0.5);", 1e-4 },
};
#define N_CONFIGS (int)(sizeof configs / sizeof configs[0])

typedef int (*ex_fn)(const float *, const int32_t *, float *, int32_t, void *, const xai_options *);

static void check_model(const char *model)
{
    int cnn = strstr(model, "cnn") != NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fprintf(f, "import \"%s.xai\";\n", model);
    for (int i = 0; i < N_CONFIGS; i++)
        fprintf(f, "explain %s for %s { %s }\n", configs[i].name, model, configs[i].body);
    fclose(f);
    char path[256];
    snprintf(path, sizeof path, "models/%s_captum_test.xai", model);
    eu_program p;
    eu_open(&p, path, text, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    xai_array x = eu_load_npy(cnn ? "models/samples/digits.npy" : "models/samples/digits_flat.npy");
    xai_array t = eu_load_npy("tests/fixtures/lrp/targets.npy");
    int32_t target[10];
    for (int i = 0; i < 10; i++) target[i] = (int32_t)t.data[i];
    char fx[256];
    snprintf(fx, sizeof fx, "tests/fixtures/grad/%s__smoothgrad_noise.npy", model);
    xai_array noise = eu_load_npy(fx);
    for (int i = 0; i < N_CONFIGS; i++) {
        const config *cf = &configs[i];
        /* Captum's DeepLift skips the max-pool rule at a pooling fed directly by a ReLU (its hooks see the
         * ReLU's gradient first); the fixture script's *_consistent files apply the rule everywhere, as the
         * summation-to-delta property requires and as xaic does. */
        int consistent = cnn && !strncmp(cf->name, "deeplift", 8);
        snprintf(fx, sizeof fx, "tests/fixtures/grad/%s__%s%s.npy", model,
                 consistent
                     ? (strcmp(cf->name, "deeplift") ? "deeplift_consistent_baseline_const" : "deeplift_consistent")
                     : cf->name,
                 "");
        xai_array ref = eu_load_npy(fx);
        eu_run r = eu_explain(&p, model, cf->name, x.data, target, 10);
        if (!strncmp(cf->name, "smoothgrad", 10) || !strcmp(cf->name, "vargrad")) {
            /* replay Captum's noise through NET_E_ex */
            char sym[128];
            snprintf(sym, sizeof sym, "%s_%s_ex", model, cf->name);
            ex_fn ex = (ex_fn)jit_lookup(p.jit, sym);
            cr_assert_not_null(ex, "%s missing", sym);
            xai_options opt = { 0 };
            opt.noise = noise.data;
            r.status = ex(x.data, target, r.out, 10, r.ws, &opt);
        }
        cr_assert_eq(r.status, 0, "%s %s: status %d", model, cf->name, r.status);
        cr_assert_eq(r.out_count * 10, xai_array_count(&ref), "%s %s: size", model, cf->name);
        double err = eu_rel_error(r.out, ref.data, xai_array_count(&ref));
        cr_expect(err <= cf->tolerance, "%s %s: max |ours - Captum| / max |Captum| = %.3g (tolerance %g)", model,
                  cf->name, err, cf->tolerance);
        eu_run_free(&r);
        xai_array_free(&ref);
    }
    xai_array_free(&noise);
    xai_array_free(&x);
    xai_array_free(&t);
    eu_close(&p);
    free(text);
}

Test(gradient_captum, mnist_mlp) { check_model("mnist_mlp"); }
Test(gradient_captum, mnist_mlp_nobias) { check_model("mnist_mlp_nobias"); }
Test(gradient_captum, mnist_cnn) { check_model("mnist_cnn"); }
Test(gradient_captum, mnist_cnn_nobias) { check_model("mnist_cnn_nobias"); }
