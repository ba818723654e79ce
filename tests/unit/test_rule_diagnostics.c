/* Diagnostics of the rule language and explain blocks: each bad program is analysed in-process and must
 * produce exactly the expected errors, at the right file:line:col, with the key words of the message. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

/* A tiny network with weights from the bundled MLP, so programs below only add rules and explain blocks. */
#define NET  "import \"mnist_mlp.xai\";\n"
#define PATH "models/rule_diag_test.xai"

typedef struct result {
    char *out;
    int errors;
} result;

static result analyse(const char *text)
{
    result r = { 0 };
    size_t len = 0;
    FILE *f = open_memstream(&r.out, &len);
    xai_diag d;
    diag_init(&d, f);
    compilation c;
    driver_analyse_text(&c, &d, PATH, text);
    r.errors = d.errors;
    driver_free(&c);
    diag_free(&d);
    fclose(f);
    return r;
}

/* exactly `n` errors, one of them at line:col containing every word */
static void expect(const char *text, int n, int line, int col, ...)
{
    result r = analyse(text);
    cr_expect_eq(r.errors, n, "expected %d error(s), got %d:\n%s", n, r.errors, r.out);
    char prefix[128];
    snprintf(prefix, sizeof prefix, PATH ":%d:%d: error: ", line, col);
    const char *hit = strstr(r.out, prefix);
    cr_assert_not_null(hit, "no error at %d:%d in:\n%s", line, col, r.out);
    size_t end = strcspn(hit, "\n");
    va_list ap;
    va_start(ap, col);
    for (const char *w; (w = va_arg(ap, const char *));) {
        const char *found = strstr(hit, w);
        cr_expect(found && found < hit + end, "'%s' missing from: %.*s", w, (int)end, hit);
    }
    va_end(ap);
    /* the caret line follows the source line */
    cr_expect_not_null(strstr(hit, "^"), "no caret:\n%s", r.out);
    free(r.out);
}

Test(rule_diagnostics, non_separable_product_inside_pos)
{
    expect(NET "rule bad on dense { share(pos(a * w)); }\n"
               "explain e for mnist_mlp { dense: bad; }\n",
           1, 2, 27, "not separable", "pos(a) * pos(w)", NULL);
}

Test(rule_diagnostics, bias_times_input_is_not_separable)
{
    expect(NET "rule bad on dense { share(a * w + a * b); }\n"
               "explain e for mnist_mlp { dense: bad; }\n",
           1, 2, 27, "not separable", "bias b", "input a", NULL);
}

Test(rule_diagnostics, rule_on_an_op_it_does_not_support)
{
    expect(NET "explain e for mnist_mlp { relu: zplus; }\n", 1, 2, 27, "zplus", "cannot apply", "relu", "dense, conv2d",
           NULL);
}

Test(rule_diagnostics, unknown_rule)
{
    expect(NET "explain e for mnist_mlp { dense: zplsu; }\n", 1, 2, 34, "unknown rule 'zplsu'", NULL);
}

Test(rule_diagnostics, unknown_preset)
{
    expect(NET "explain e for mnist_mlp { rules epsilon_pluss; }\n", 1, 2, 33, "unknown preset", "epsilon_plus", NULL);
}

Test(rule_diagnostics, unknown_name_in_rule_body)
{
    expect(NET "rule bad on dense { share(a * q); }\n"
               "explain e for mnist_mlp { dense: bad; }\n",
           1, 2, 31, "unknown name 'q'", "rule 'bad'", NULL);
}

Test(rule_diagnostics, unknown_function_in_rule_body)
{
    expect(NET "rule bad on dense { share(relu(a) * w); }\n"
               "explain e for mnist_mlp { dense: bad; }\n",
           1, 2, 27, "unknown function 'relu'", NULL);
}

Test(rule_diagnostics, where_must_test_z)
{
    expect(NET "rule bad on dense { where(a > 0, share(a * w), 0); }\n"
               "explain e for mnist_mlp { dense: bad; }\n",
           1, 2, 27, "where()", "compares z", "any threshold", NULL);
}

Test(rule_diagnostics, gradient_cannot_be_combined)
{
    expect(NET "rule bad on dense { gradient + share(a * w); }\n"
               "explain e for mnist_mlp { dense: bad; }\n",
           1, 2, 21, "gradient", "stands alone", NULL);
}

Test(rule_diagnostics, elementwise_body_on_a_linear_layer)
{
    expect(NET "rule bad on dense { r * 2; }\n"
               "explain e for mnist_mlp { dense: bad; }\n",
           1, 2, 21, "must be gradient, a share", NULL);
}

Test(rule_diagnostics, linear_variable_in_an_elementwise_rule)
{
    expect(NET "rule bad on relu { r * w; }\n"
               "explain e for mnist_mlp { relu: bad; }\n",
           1, 2, 24, "'w' cannot be used", NULL);
}

Test(rule_diagnostics, share_in_an_elementwise_rule)
{
    expect(NET "rule bad on relu { share(r); }\n"
               "explain e for mnist_mlp { relu: bad; }\n",
           1, 2, 20, "share()", "r, x and y", NULL);
}

Test(rule_diagnostics, rule_declared_on_an_unknown_op)
{
    expect(NET "rule bad on dense, lstm { share(a * w); }\n", 1, 2, 20, "lstm", "not an op", NULL);
}

Test(rule_diagnostics, rule_redefining_a_builtin)
{
    expect(NET "rule zplus on dense { share(a * w); }\n", 1, 2, 6, "already defined", "built in", NULL);
}

Test(rule_diagnostics, missing_and_unknown_rule_parameters)
{
    expect(NET "rule needs(k) on dense { share(a * w, stabilize = k); }\n"
               "explain e for mnist_mlp { dense: needs; }\n",
           1, 3, 34, "needs the parameter 'k'", NULL);
    expect(NET "explain e for mnist_mlp { dense: epsilon(epz=0.1); }\n", 1, 2, 42, "no parameter 'epz'", NULL);
}

Test(rule_diagnostics, bad_settings)
{
    expect(NET "explain e for mnist_mlp { seed logits; }\n", 1, 2, 32, "seed", "logit, one, softmax, relu_logit", NULL);
    expect(NET "explain e for mnist_mlp { sead logit; }\n", 1, 2, 27, "unknown setting 'sead'", NULL);
    expect(NET "explain e for mnist_mlp { at fc9; }\n", 1, 2, 30, "no layer 'fc9'", NULL);
    expect(NET "explain e for mnist_mlp { seed one; seed logit; }\n", 1, 2, 37, "given twice", NULL);
}

Test(rule_diagnostics, unknown_selector)
{
    expect(NET "explain e for mnist_mlp { fc9: epsilon; }\n", 1, 2, 27, "'fc9' is neither a layer", NULL);
}

Test(rule_diagnostics, duplicate_and_reserved_explanation_names)
{
    expect(NET "explain e for mnist_mlp { }\nexplain e for mnist_mlp { }\n", 1, 3, 9, "defined twice", NULL);
    expect(NET "explain forward for mnist_mlp { }\n", 1, 2, 9, "cannot be named 'forward'", NULL);
}

Test(rule_diagnostics, list_bounds_must_match_channels)
{
    expect(NET "explain e for mnist_mlp { first: zbox([0, 0, 0], [1, 1, 1]); }\n", 1, 2, 39, "3 values", "784 channels",
           NULL);
}

Test(rule_diagnostics, all_errors_of_a_file_are_reported)
{
    result r = analyse(NET "rule bad on dense { share(pos(a * w)); }\n"
                           "explain e1 for mnist_mlp { seed nope; }\n"
                           "explain e2 for mnist_mlp { relu: zplus; }\n"
                           "explain e3 for mnist_mlp { dense: nope; }\n");
    cr_expect_eq(r.errors, 3, "%s", r.out);
    free(r.out);
}

Test(method_diagnostics, bad_method_parameters)
{
    expect(NET "explain e for mnist_mlp { method integrated_gradients(stepz=5); }\n", 1, 2, 55, "no parameter 'stepz'",
           NULL);
    expect(NET "explain e for mnist_mlp { method integrated_gradients(steps=1); }\n", 1, 2, 61, "steps", ">= 2", NULL);
    expect(NET "explain e for mnist_mlp { method integrated_gradients(quadrature=simpson); }\n", 1, 2, 66,
           "gausslegendre", "riemann_left", NULL);
    expect(NET "explain e for mnist_mlp { method smoothgrad(noise=0.1, sigma=0.2); }\n", 1, 2, 34, "either noise",
           NULL);
    expect(NET "explain e for mnist_mlp { method deeplift(reference=mean); }\n", 1, 2, 53, "zero or a number", NULL);
    expect(NET "explain e for mnist_mlp { method lime(samples=5); }\n", 1, 2, 34, "method 'lime'", "not available",
           NULL);
    expect(NET "explain e for mnist_mlp { method gradient(steps=3); }\n", 1, 2, 43, "no parameter 'steps'", NULL);
}

Test(method_diagnostics, settings_that_do_not_fit_the_method)
{
    expect(NET "explain e for mnist_mlp { post square; }\n", 1, 2, 27, "`post` applies to methods gradient", NULL);
    expect(NET "explain e for mnist_mlp { method gradient; post power(-1); }\n", 1, 2, 55,
           "`post power(p)` takes one number p in (0, 64]", NULL);
    expect(NET "explain e for mnist_mlp { method gradient; post power(2, 3); }\n", 1, 2, 49, "takes one number", NULL);
    expect(NET "explain e for mnist_mlp { method gradient; post power(p=2); }\n", 1, 2, 49, "takes one number", NULL);
    expect(NET "explain e for mnist_mlp { method gradient; post power(100); }\n", 1, 2, 55, "(0, 64]", NULL);
    expect(NET "explain e for mnist_mlp { method gradient; post power; }\n", 1, 2, 49, "needs its exponent", NULL);
    expect(NET "explain e for mnist_mlp { method gradient; post cube; }\n", 1, 2, 49,
           "takes one of none, abs, square, times_input, power(p)", NULL);
    expect(NET "explain e for mnist_mlp { method integrated_gradients; at act1; }\n", 1, 2, 56, "`at` applies", NULL);
    expect(NET "explain e for mnist_mlp { method gradient; seed one; }\n", 1, 2, 49, "seed logit", "seed softmax",
           "the sum of all logits (seed sum)", NULL);
    expect(NET "explain e for mnist_mlp { method deeplift; seed sum; }\n", 1, 2, 49, "method deeplift explains", NULL);
    expect(NET "explain e for mnist_mlp { seed total; }\n", 1, 2, 32, "one of logit, one, softmax, relu_logit, sum",
           NULL);
}

Test(method_diagnostics, smoothgrad_noise_needs_a_range)
{
    expect("network n { input x[4]; r = relu(x); output r; }\n"
           "explain e for n { method smoothgrad; }\n",
           1, 2, 26, "input range", "sigma", NULL);
}

Test(method_diagnostics, cam_layers)
{
    expect(NET "explain e for mnist_mlp { method gradcam(layer=conv9); }\n", 1, 2, 48, "no layer 'conv9'", NULL);
    expect(NET "explain e for mnist_mlp { method gradcam(layer=act1); }\n", 1, 2, 48, "spatial layer", "[512]", NULL);
    expect(NET "explain e for mnist_mlp { method gradcam_pp; }\n", 1, 2, 34, "needs the layer", NULL);
    expect("import \"mnist_cnn.xai\";\nexplain e for mnist_cnn { method gradcam(layer=act2, upsample=bicubic); }\n", 1,
           2, 63, "none, bilinear", NULL);
}

Test(method_diagnostics, cam_needs_a_gap_head)
{
    expect("import \"mnist_cnn.xai\";\nexplain e for mnist_cnn { method cam(layer=act3); }\n", 1, 2, 9,
           "global_avgpool -> dense", "gradcam", NULL);
}

/* rule language v2: own denominators, stabilize expressions, reductions and math functions */
Test(rule_diagnostics, own_denominator_with_bias_in_the_contributions)
{
    expect(NET "rule bad on dense { share(a * w + b, denominator = a * w + b); }\n"
               "explain e for mnist_mlp { dense: bad; }\n",
           1, 2, 27, "own denominator", "write the bias in denominator", NULL);
}

Test(rule_diagnostics, stabilize_expressions)
{
    const char *use = "explain e for mnist_mlp { dense: bad; }\n";
    char text[512];
    snprintf(text, sizeof text, NET "rule bad on dense { share(a * w, stabilize = -1); }\n%s", use);
    expect(text, 1, 2, 46, "must not be negative", "z + e * sign(z)", NULL);
    snprintf(text, sizeof text, NET "rule bad on dense { share(a * w, stabilize = 0.1 * a); }\n%s", use);
    expect(text, 1, 2, 52, "'a' cannot be used", "only inside a reduction", NULL);
    snprintf(text, sizeof text, NET "rule bad on dense { share(a * w, stabilize = std(a + z)); }\n%s", use);
    expect(text, 1, 2, 46, "two shapes", "one of them", NULL);
    snprintf(text, sizeof text, NET "rule bad on dense { share(a * w, stabilize = mean(3)); }\n%s", use);
    expect(text, 1, 2, 46, "mean()", "expression of z, a, r, x or y", NULL);
    snprintf(text, sizeof text, NET "rule bad on dense { share(a * w, stabilize = std(r)); }\n%s", use);
    expect(text, 1, 2, 46, "cannot read 'r'", "here it reads a, z", NULL);
}

Test(rule_diagnostics, math_functions_and_reductions)
{
    const char *use = "explain e for mnist_mlp { relu: bad; }\n";
    char text[512];
    snprintf(text, sizeof text, NET "rule bad on relu { r * pow(x, y); }\n%s", use);
    expect(text, 1, 2, 31, "pow(x, p)", "a number as its exponent", NULL);
    snprintf(text, sizeof text, NET "rule bad on relu { r * std(x, per = layer); }\n%s", use);
    expect(text, 1, 2, 37, "per = channel, per = axis or per = sample", NULL);
    snprintf(text, sizeof text, NET "rule bad on relu { r * std(x, y); }\n%s", use);
    expect(text, 1, 2, 31, "std takes 1 argument", NULL);
    snprintf(text, sizeof text, NET "rule bad on relu { r * cosh(x); }\n%s", use);
    expect(text, 1, 2, 24, "unknown function 'cosh'", "softplus", "std", NULL);
}

Test(rule_diagnostics, op_parameter_not_shared_by_every_op_of_the_rule)
{
    expect(NET "rule bad on relu, leaky_relu { r * slope; }\n"
               "explain e for mnist_mlp { relu: bad; }\n",
           1, 2, 36, "'slope' is a parameter of leaky_relu but not of relu", NULL);
}

Test(rule_diagnostics, reductions_of_weights_or_bias)
{
    const char *use = "explain e for mnist_mlp { dense: bad; }\n";
    char text[512];
    snprintf(text, sizeof text, NET "rule bad on dense { share(a * max(w)); }\n%s", use);
    expect(text, 1, 2, 31, "max() reduces a layer's values", "function of w such as abs(w)", NULL);
    snprintf(text, sizeof text, NET "rule bad on dense { share(a * w + sum(b)); }\n%s", use);
    expect(text, 1, 2, 35, "sum() reduces", "transformed one by one", NULL);
    snprintf(text, sizeof text, NET "rule bad on dense { share(a * w, stabilize = 0.1 * std(w)); }\n%s", use);
    expect(text, 1, 2, 52, "std() reduces a layer's values", "z, a, r, x or y", NULL);
    snprintf(text, sizeof text, NET "rule bad on relu { r * pow(x, 2000); }\n%s",
             "explain e for mnist_mlp { relu: bad; }\n");
    expect(text, 1, 2, 31, "pow(x, p)", "up to 1024", NULL);
    snprintf(text, sizeof text, NET "rule bad on relu { r * quantile(x, 98); }\n%s",
             "explain e for mnist_mlp { relu: bad; }\n");
    expect(text, 1, 2, 36, "quantile(v, q)", "between 0 and 1", NULL);
}
