/* The rule language's v2 forms written by a user, checked by exact identities with forms that existed
 * before them (no fixture needed; each identity fails if the new form computes anything else):
 *   - a stabiliser expression: stabilize = k * abs(z) makes every layer's denominator (1 + k) z, so the
 *     relevance is LRP-0's divided by (1 + k) per layer;
 *   - an own denominator: share(a * w, denominator = a * w + b) is LRP-epsilon (bias terms never reach the
 *     inputs, they only enter the denominator);
 *   - math functions: sigmoid written five ways (exp, tanh, softplus, log, pow) gives the same ReLU rule;
 *   - an op's own parameters (leaky_relu's slope, clamp's min and max) in rule bodies: the user's chain rule
 *     equals the gradient method. */
#include <criterion/criterion.h>
#include <math.h>

#include "explain_util.h"
#include "testutil.h"
#include "xairt.h"

static xai_array input_for(const char *model)
{
    return eu_load_npy(strstr(model, "mlp") ? "models/samples/digits_flat.npy" : "models/samples/digits.npy");
}

/* max |a * scale - b| / max |b| between two explanations of the same program */
static double compare(eu_program *p, const char *model, const char *a, const char *b, double scale, const float *x)
{
    int32_t target[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    eu_run ra = eu_explain(p, model, a, x, target, 10), rb = eu_explain(p, model, b, x, target, 10);
    cr_assert_eq(ra.status, 0, "%s: status %d", a, ra.status);
    cr_assert_eq(rb.status, 0, "%s: status %d", b, rb.status);
    int64_t n = ra.out_count * 10;
    for (int64_t i = 0; i < n; i++) ra.out[i] = (float)(ra.out[i] * scale);
    double err = eu_rel_error(ra.out, rb.out, n);
    eu_run_free(&ra);
    eu_run_free(&rb);
    return err;
}

static void open_model(eu_program *p, const char *model, const char *rules, const char *explains)
{
    char *text = NULL, path[256];
    cr_assert(asprintf(&text, "import \"%s.xai\";\n%s\n%s\n", model, rules, explains) > 0);
    snprintf(path, sizeof path, "models/%s_rules_v2_test.xai", model);
    eu_open(p, path, text, 3, 0);
    cr_assert(p->ok, "%s\n%s", eu_messages(p), text);
    free(text);
}

/* open_model with MODEL in `explains` replaced by the model's name */
static void open_named(eu_program *p, const char *model, const char *rules, const char *explains)
{
    char *e = strdup(explains);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    for (char *s = e, *hit; *s; s = hit + 5) {
        hit = strstr(s, "MODEL");
        if (!hit) {
            fputs(s, f);
            break;
        }
        fwrite(s, 1, (size_t)(hit - s), f);
        fputs(model, f);
    }
    fclose(f);
    open_model(p, model, rules, out);
    free(out);
    free(e);
}

static int layers_with_rule(const char *model) { return strstr(model, "mlp") ? 3 : 5; /* dense and conv2d layers */ }

Test(rules_v2, stabilize_expression_is_k_abs_z)
{
    const char *models[] = { "mnist_mlp", "mnist_cnn" };
    for (int m = 0; m < 2; m++) {
        eu_program p;
        open_named(&p, models[m], "rule scaled(k = 0.5) on dense, conv2d { share(a * w + b, stabilize = k * abs(z)); }",
                   "explain mine for MODEL { seed one; dense: scaled(0.5); conv2d: scaled(0.5); }\n"
                   "explain lrp0 for MODEL { seed one; dense: epsilon(0); conv2d: epsilon(0); }");
        xai_array x = input_for(models[m]);
        double err = compare(&p, models[m], "mine", "lrp0", pow(1.5, layers_with_rule(models[m])), x.data);
        cr_expect(err <= 1e-5, "%s: (1 + k)^L * mine vs LRP-0: %.3g", models[m], err);
        xai_array_free(&x);
        eu_close(&p);
    }
}

Test(rules_v2, own_denominator_is_epsilon)
{
    const char *models[] = { "mnist_mlp", "mnist_cnn" };
    for (int m = 0; m < 2; m++) {
        eu_program p;
        open_named(&p, models[m],
                   "rule eps_by_den(eps = 1e-6) on dense, conv2d { share(a * w, denominator = a * w + b, stabilize = "
                   "eps); }",
                   "explain mine for MODEL { seed one; dense: eps_by_den(0.01); conv2d: eps_by_den(0.01); }\n"
                   "explain eps for MODEL { seed one; dense: epsilon(0.01); conv2d: epsilon(0.01); }");
        xai_array x = input_for(models[m]);
        double err = compare(&p, models[m], "mine", "eps", 1, x.data);
        cr_expect(err <= 1e-6, "%s: own denominator vs epsilon: %.3g", models[m], err);
        xai_array_free(&x);
        eu_close(&p);
    }
}

Test(rules_v2, math_functions_agree)
{
    /* sigmoid(t) = 1 / (1 + exp(-t)) = (tanh(t / 2) + 1) / 2 = 1 - exp(-softplus(t)) = exp(log(sigmoid(t)))
     * = pow(sqrt(sigmoid(t)), 2) */
    static const char *const bodies[] = {
        "r * 1 / (1 + exp(-4 * x))",        "r * (tanh(2 * x) + 1) / 2",
        "r * (1 - exp(-softplus(4 * x)))",  "r * exp(log(sigmoid(4 * x)))",
        "r * pow(sqrt(sigmoid(4 * x)), 2)", "r * pow(sigmoid(4 * x), 3) / pow(sigmoid(4 * x), 2)",
        "r * pow(1 / sigmoid(4 * x), -1)",
    };
    int n = sizeof bodies / sizeof *bodies;
    char *rules = NULL, *explains = NULL;
    size_t rl = 0, el = 0;
    FILE *fr = open_memstream(&rules, &rl), *fe = open_memstream(&explains, &el);
    for (int k = 0; k < n; k++) {
        fprintf(fr, "rule form%d on relu { %s; }\n", k, bodies[k]);
        fprintf(fe, "explain e%d for mnist_mlp { seed one; dense: gradient; relu: form%d; }\n", k, k);
    }
    fprintf(fe, "explain ref for mnist_mlp { seed one; dense: gradient; relu: relu_beta_smooth(4); }\n");
    fclose(fr);
    fclose(fe);
    eu_program p;
    open_model(&p, "mnist_mlp", rules, explains);
    xai_array x = input_for("mnist_mlp");
    for (int k = 0; k < n; k++) {
        char name[16];
        snprintf(name, sizeof name, "e%d", k);
        double err = compare(&p, "mnist_mlp", name, "ref", 1, x.data);
        cr_expect(err <= 1e-5, "%s vs relu_beta_smooth(4): %.3g", bodies[k], err);
    }
    xai_array_free(&x);
    eu_close(&p);
    free(rules);
    free(explains);
}

/* small multiples of 1/16 from a fixed LCG: weights whose sums are exact in float */
static float lcg_value(uint64_t *s, int shift, int offset, float scale)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((int)(*s >> shift) - offset) / scale;
}

/* `t` written as NAME.safetensors and `text` as NAME.xai in the temporary directory, compiled */
static void open_written(eu_program *p, const char *name, const xai_st_entry *t, int n, const char *text, int keep_all)
{
    char file[128], err[256];
    snprintf(file, sizeof file, "%s.safetensors", name);
    char *wpath = tu_write_temp(file, "", 0);
    cr_assert_eq(xai_safetensors_write(wpath, t, n, NULL, err, sizeof err), 0, "%s", err);
    snprintf(file, sizeof file, "%s.xai", name);
    char *src = tu_write_temp(file, "", 0);
    eu_open(p, src, text, 3, keep_all);
    cr_assert(p->ok, "%s", eu_messages(p));
    free(wpath);
    free(src);
}

Test(rules_v2, op_parameters_in_rule_bodies)
{
    /* dense 6 -> 5, leaky_relu(0.2), clamp(-0.5, 1.5), dense 5 -> 2, seeded weights */
    float w1[30], b1[5], w2[10];
    uint64_t s = 12345;
    for (int i = 0; i < 30; i++) w1[i] = lcg_value(&s, 59, 16, 8);
    for (int i = 0; i < 5; i++) b1[i] = lcg_value(&s, 60, 8, 16);
    for (int i = 0; i < 10; i++) w2[i] = lcg_value(&s, 59, 16, 8);
    xai_st_entry t[3] = { { "d1.weight", XAI_DT_F32, 2, { 5, 6 }, w1 },
                          { "d1.bias", XAI_DT_F32, 1, { 5 }, b1 },
                          { "d2.weight", XAI_DT_F32, 2, { 2, 5 }, w2 } };
    const char *text =
        "network n {\n"
        "    weights \"rules_v2_params.safetensors\";\n"
        "    input x[6];\n"
        "    d1 = dense(x, 5);\n"
        "    l = leaky_relu(d1, 0.2);\n"
        "    c = clamp(l, -0.5, 1.5);\n"
        "    d2 = dense(c, 2, bias = false);\n"
        "    output d2;\n"
        "}\n"
        "rule leaky_chain on leaky_relu { r * where(x > 0, 1, slope); }\n"
        "rule clamp_chain on clamp { r * (x > min) * (x < max); }\n"
        "explain mine for n { seed one; dense: gradient; leaky_relu: leaky_chain; clamp: clamp_chain; }\n"
        "explain grad for n { method gradient; }\n";
    eu_program p;
    open_written(&p, "rules_v2_params", t, 3, text, 0);
    float x[4 * 6];
    for (int i = 0; i < 24; i++) x[i] = (float)((i * 7 % 11) - 5) / 3; /* both sides of 0, -0.5 and 1.5 */
    int32_t target[4] = { 0, 1, 0, 1 };
    eu_run a = eu_explain(&p, "n", "mine", x, target, 4), g = eu_explain(&p, "n", "grad", x, target, 4);
    cr_assert_eq(a.status, 0);
    cr_assert_eq(g.status, 0);
    double e = eu_rel_error(a.out, g.out, 24);
    cr_expect(e <= 1e-6, "user chain rules with slope / min / max vs the gradient: %.3g", e);
    int nonzero = 0;
    for (int i = 0; i < 24; i++) nonzero += g.out[i] != 0;
    cr_expect(nonzero > 6, "the gradient is mostly zero (%d of 24 nonzero): the check would be weak", nonzero);
    eu_run_free(&a);
    eu_run_free(&g);
    eu_close(&p);
}

/* Rules on views, routes and binary ops of two values: a body over r, y (x: a view's input, or the input a
 * binary op gives relevance to) */
Test(rules_v2, rules_on_routes_and_binary_ops)
{
    float w1[24], b1[4], w2[24], w3[16];
    uint64_t s = 777;
    for (int i = 0; i < 24; i++) w1[i] = lcg_value(&s, 59, 16, 8), w2[i] = lcg_value(&s, 59, 14, 8);
    for (int i = 0; i < 4; i++) b1[i] = lcg_value(&s, 60, 8, 16);
    for (int i = 0; i < 16; i++) w3[i] = lcg_value(&s, 59, 16, 8);
    xai_st_entry t[4] = { { "d1.weight", XAI_DT_F32, 2, { 4, 6 }, w1 },
                          { "d1.bias", XAI_DT_F32, 1, { 4 }, b1 },
                          { "d2.weight", XAI_DT_F32, 2, { 4, 6 }, w2 },
                          { "out.weight", XAI_DT_F32, 2, { 2, 8 }, w3 } };
    const char *text = "network n {\n"
                       "    weights \"rules_v2_routes.safetensors\";\n"
                       "    input x[6];\n"
                       "    d1 = dense(x, 4);\n"
                       "    d2 = dense(x, 4, bias = false);\n"
                       "    s = add(d1, d2);\n"
                       "    m = mul(d1, d2);\n"
                       "    cat = concat([s, m]);\n"
                       "    out = dense(cat, 2, bias = false);\n"
                       "    output out;\n"
                       "}\n"
                       "rule proportional_sum on add { r * x / y; }\n"
                       "rule halved on concat { r * 0.5; }\n"
                       "explain base for n { seed one; dense: epsilon(0); add: norm(0); mul: uniform; }\n"
                       "explain prop for n { seed one; dense: epsilon(0); add: proportional_sum; mul: uniform; }\n"
                       "explain half for n { seed one; dense: epsilon(0); add: norm(0); mul: uniform; cat: halved; }\n";
    eu_program p;
    open_written(&p, "rules_v2_routes", t, 4, text, 1);
    float x[4 * 6];
    for (int i = 0; i < 24; i++) x[i] = (float)((i * 5 % 13) - 6) / 4;
    int32_t target[4] = { 0, 1, 1, 0 };
    eu_run base = eu_explain(&p, "n", "base", x, target, 4), prop = eu_explain(&p, "n", "prop", x, target, 4),
           half = eu_explain(&p, "n", "half", x, target, 4);
    cr_assert(base.status == 0 && prop.status == 0 && half.status == 0);
    /* r * x / y on add is the norm rule without a stabiliser */
    cr_expect(eu_rel_error(prop.out, base.out, 24) <= 1e-6, "proportional add vs norm(0): %.3g",
              eu_rel_error(prop.out, base.out, 24));
    /* the concat's body halves what reaches everything below it (LRP-0 is linear in the relevance) */
    for (int i = 0; i < 24; i++) half.out[i] *= 2;
    cr_expect(eu_rel_error(half.out, base.out, 24) <= 1e-6, "halved concat x 2 vs base: %.3g",
              eu_rel_error(half.out, base.out, 24));
    /* norm(0) and the uniform rule conserve: what d1 and d2 receive is what s and m had */
    for (int b = 0; b < 4; b++) {
        double below = eu_layer_sum(&base, "d1", b) + eu_layer_sum(&base, "d2", b);
        double above = eu_layer_sum(&base, "s", b) + eu_layer_sum(&base, "m", b);
        cr_expect(fabs(below - above) <= 1e-5 * fmax(1, fabs(above)), "sample %d: d1 + d2 = %.9g, s + m = %.9g", b,
                  below, above);
        cr_expect(fabs(eu_layer_sum(&base, "m", b)) > 1e-3, "sample %d: nothing reaches m, the check is weak", b);
    }
    eu_run_free(&base);
    eu_run_free(&prop);
    eu_run_free(&half);
    eu_close(&p);
}
