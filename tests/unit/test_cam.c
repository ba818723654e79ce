/* CAM, Grad-CAM and Grad-CAM++ on the cluttered-MNIST networks (fixtures: tests/reference/make_cam_fixtures.py):
 * - CAM: the mean of the map over the conv grid is the class logit (exact property, to 1e-5), and the
 *   maps equal PyTorch's, before and after upsampling (both align_corners conventions);
 * - Grad-CAM against Captum's LayerGradCam (relu) at act3 and act2, before and after upsampling;
 * - Grad-CAM++ against an independent implementation of the paper's closed form, and against the seed's
 *   own numbers up to the positive factor exp(logit) per sample. */
#include <criterion/criterion.h>

#include "explain_util.h"

static const char *const program =
    "import \"cluttered_cam.xai\";\n"
    "import \"cluttered_gradcam.xai\";\n"
    "explain cam_raw for cluttered_cam { method cam(layer=act3, upsample=none); }\n"
    "explain cam_up for cluttered_cam { method cam(layer=act3); }\n"
    "explain cam_up_pt for cluttered_cam { method cam(layer=act3, align_corners=false); }\n"
    "explain gc_raw for cluttered_gradcam { method gradcam(layer=act3, upsample=none); }\n"
    "explain gc_up for cluttered_gradcam { method gradcam(layer=act3, align_corners=false); }\n"
    "explain gc_up_seed for cluttered_gradcam { method gradcam(layer=act3); }\n"
    "explain gc_act2 for cluttered_gradcam { method gradcam(layer=act2, upsample=none); }\n"
    "explain gcpp_raw for cluttered_gradcam { method gradcam_pp(layer=act3, upsample=none); }\n"
    "explain gcpp_up for cluttered_gradcam { method gradcam_pp(layer=act3, align_corners=false); }\n";

static eu_program p;
static xai_array x;
static int32_t target[10];

static void setup(void)
{
    eu_open(&p, "models/cam_test.xai", program, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    x = eu_load_npy("models/samples/cluttered.npy");
    xai_array t = eu_load_npy("tests/fixtures/cam/targets.npy");
    for (int i = 0; i < 10; i++) target[i] = (int32_t)t.data[i];
    xai_array_free(&t);
}

static void teardown(void)
{
    xai_array_free(&x);
    eu_close(&p);
}

static void compare(const char *net, const char *name, const char *fixture, double tolerance)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/cam/%s.npy", fixture);
    xai_array ref = eu_load_npy(path);
    eu_run r = eu_explain(&p, net, name, x.data, target, 10);
    cr_assert_eq(r.status, 0, "%s: status %d", name, r.status);
    cr_assert_eq(r.out_count * 10, xai_array_count(&ref), "%s: %lld values, %s has %lld", name,
                 (long long)(r.out_count * 10), fixture, (long long)xai_array_count(&ref));
    double err = eu_rel_error(r.out, ref.data, xai_array_count(&ref));
    cr_expect(err <= tolerance, "%s vs %s: relative error %.3g", name, fixture, err);
    eu_run_free(&r);
    xai_array_free(&ref);
}

Test(cam, mean_of_the_map_is_the_logit, .init = setup, .fini = teardown)
{
    xai_array logits = eu_load_npy("tests/fixtures/cam/cam_logits.npy");
    eu_run r = eu_explain(&p, "cluttered_cam", "cam_raw", x.data, target, 10);
    cr_assert_eq(r.status, 0);
    cr_assert_eq(r.out_count, 100);
    for (int b = 0; b < 10; b++) {
        double mean = 0;
        for (int i = 0; i < 100; i++) mean += r.out[b * 100 + i];
        mean /= 100;
        double logit = logits.data[b * 10 + target[b]];
        cr_expect(fabs(mean - logit) <= 1e-5 * fmax(1, fabs(logit)), "sample %d: mean of the CAM %.7f, logit %.7f", b,
                  mean, logit);
    }
    eu_run_free(&r);
    xai_array_free(&logits);
}

Test(cam, maps_match_pytorch, .init = setup, .fini = teardown)
{
    compare("cluttered_cam", "cam_raw", "cam_map", 1e-5);
    compare("cluttered_cam", "cam_up", "cam_upsampled_align_corners", 1e-5); /* the seed's convention */
    compare("cluttered_cam", "cam_up_pt", "cam_upsampled", 1e-5);            /* PyTorch's default */
}

Test(gradcam, matches_captum, .init = setup, .fini = teardown)
{
    compare("cluttered_gradcam", "gc_raw", "gradcam", 1e-4);
    compare("cluttered_gradcam", "gc_up", "gradcam_upsampled", 1e-4);
    compare("cluttered_gradcam", "gc_up_seed", "gradcam_upsampled_align_corners", 1e-4);
    compare("cluttered_gradcam", "gc_act2", "gradcam_act2", 1e-4);
}

Test(gradcam_pp, matches_the_papers_closed_form, .init = setup, .fini = teardown)
{
    compare("cluttered_gradcam", "gcpp_raw", "gradcam_pp", 1e-4);
    compare("cluttered_gradcam", "gcpp_up", "gradcam_pp_upsampled", 1e-4);
}

/* The seed multiplies by exp(logit) (up to 1e8 here, and overflowing float32 for confident nets): ours
 * times exp(logit) must give the seed's map, i.e. the maps agree up to that positive factor per sample. */
Test(gradcam_pp, equals_the_seed_up_to_exp_of_the_logit, .init = setup, .fini = teardown)
{
    xai_array logits = eu_load_npy("tests/fixtures/cam/gradcam_logits.npy");
    xai_array seed = { 0 };
    char err[256];
    cr_assert_eq(xai_npy_read("tests/fixtures/cam/gradcam_pp_seed.npy", &seed, 1, err, sizeof err), 0, "%s", err);
    eu_run r = eu_explain(&p, "cluttered_gradcam", "gcpp_raw", x.data, target, 10);
    cr_assert_eq(r.status, 0);
    for (int b = 0; b < 10; b++) {
        double factor = exp((double)logits.data[b * 10 + target[b]]), worst = 0, mag = 0;
        for (int i = 0; i < 100; i++) {
            worst = fmax(worst, fabs(r.out[b * 100 + i] * factor - seed.data[b * 100 + i]));
            mag = fmax(mag, fabs(seed.data[b * 100 + i]));
        }
        cr_expect(worst <= 1e-4 * mag, "sample %d: |ours * exp(logit) - seed| = %.3g of %.3g", b, worst, mag);
    }
    eu_run_free(&r);
    xai_array_free(&seed);
    xai_array_free(&logits);
}
