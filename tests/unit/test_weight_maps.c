/* Weight sets read through pos() / neg() at load time (ir_weight_map) and rules rewritten over W and W+
 * (rules_basis.c), against the same rules computed the way they are written: user rules whose weight
 * transforms are max(w, 0) and min(w, 0), equal to pos(w) and neg(w) but outside the W / W+ basis, so
 * xaic computes those weight sets at compile time and gives each share its own kernels.
 *
 * The network has what the mapped kernels special-case: strided convolutions (their transposes run per
 * stride phase), kernels 3 and 5, padding, a conv without bias, a dense layer, batches of 1 and 3. */
#include <criterion/criterion.h>

#include "explain_util.h"
#include "naive_ref.c"
#include "testutil.h"

static void conv(nr_net *n, const char *name, int in, int filters, int k, int s, int pad, int bias)
{
    nr_layer *l = &n->L[n->n], *src = &n->L[in];
    l->op = NR_CONV;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->in[0] = in;
    l->units = filters, l->kh = l->kw = k, l->sh = l->sw = s, l->pt = l->pl = l->pb = l->pr = pad, l->bias = bias;
    l->rank = 3;
    l->dims[0] = filters;
    l->dims[1] = (src->dims[1] + 2 * pad - k) / s + 1;
    l->dims[2] = (src->dims[2] + 2 * pad - k) / s + 1;
    snprintf(l->args, sizeof l->args, "%d, kernel=%d, stride=%d, pad=%d%s", filters, k, s, pad,
             bias ? "" : ", bias=false");
    n->n++;
}

static void unary(nr_net *n, nr_op op, const char *name, int in)
{
    nr_layer *l = &n->L[n->n];
    l->op = op;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->in[0] = in;
    l->rank = n->L[in].rank;
    memcpy(l->dims, n->L[in].dims, sizeof l->dims);
    if (op == NR_FLATTEN) {
        l->rank = 1;
        l->dims[0] = (int)nr_count(&n->L[in]);
        l->dims[1] = l->dims[2] = 0;
    }
    n->n++;
}

static void dense(nr_net *n, const char *name, int in, int units)
{
    nr_layer *l = &n->L[n->n];
    l->op = NR_DENSE;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->in[0] = in;
    l->units = units, l->bias = 1, l->rank = 1, l->dims[0] = units;
    snprintf(l->args, sizeof l->args, "%d", units);
    n->n++;
}

/* random weights in [-1, 1], biases in [-0.2, 0.2] (fixed seed) */
static void fill(nr_net *n)
{
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (int i = 1; i < n->n; i++) {
        nr_layer *l = &n->L[i], *src = &n->L[l->in[0]];
        if (l->op != NR_CONV && l->op != NR_DENSE) continue;
        l->wcount =
            l->op == NR_CONV ? (int64_t)l->units * src->dims[0] * l->kh * l->kw : (int64_t)l->units * nr_count(src);
        l->w = malloc(sizeof(float) * l->wcount);
        for (int64_t k = 0; k < l->wcount; k++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            l->w[k] = (float)((double)(s >> 11) / (double)(1ULL << 53) * 2 - 1);
        }
        if (l->bias) {
            l->b = malloc(sizeof(float) * l->units);
            for (int k = 0; k < l->units; k++) {
                s = s * 6364136223846793005ULL + 1442695040888963407ULL;
                l->b[k] = (float)((double)(s >> 11) / (double)(1ULL << 53) * 0.4 - 0.2);
            }
        }
    }
}

static const char *rules =
    /* the built-ins' weight transforms, spelled outside the W / W+ basis */
    "rule zplus_as_written on dense, conv2d {\n"
    "    share(pos(a) * max(w, 0) + neg(a) * min(w, 0) + pos(b), stabilize = 1e-6);\n"
    "}\n"
    "rule alpha_beta_as_written on dense, conv2d {\n"
    "    2 * share(pos(a) * max(w, 0) + neg(a) * min(w, 0) + pos(b), stabilize = 1e-6)\n"
    "  - share(pos(a) * min(w, 0) + neg(a) * max(w, 0) + neg(b), stabilize = 1e-6);\n"
    "}\n"
    "rule gamma_as_written(g = 0.25) on dense, conv2d {\n"
    "    where(z > 0, share(pos(a) * (w + g * max(w, 0)) + neg(a) * (w + g * min(w, 0)) + b + g * pos(b),\n"
    "                       stabilize = 1e-6),\n"
    "          where(z < 0, share(pos(a) * (w + g * min(w, 0)) + neg(a) * (w + g * max(w, 0)) + b + g * neg(b),\n"
    "                             stabilize = 1e-6), 0));\n"
    "}\n";

static const struct {
    const char *name, *builtin, *written;
} pairs[] = {
    { "zplus", "dense: zplus; conv2d: zplus;", "dense: zplus_as_written; conv2d: zplus_as_written;" },
    { "alpha_beta", "dense: alpha_beta(2, 1); conv2d: alpha_beta(2, 1);",
      "dense: alpha_beta_as_written; conv2d: alpha_beta_as_written;" },
    { "gamma", "dense: gamma(0.25); conv2d: gamma(0.25);",
      "dense: gamma_as_written(0.25); conv2d: gamma_as_written(0.25);" },
};
#define N_PAIRS (int)(sizeof pairs / sizeof pairs[0])

static void compare(int opt_level)
{
    nr_net net = { 0 };
    snprintf(net.name, sizeof net.name, "wm");
    net.L[0].op = NR_INPUT;
    snprintf(net.L[0].name, sizeof net.L[0].name, "x");
    net.L[0].rank = 3, net.L[0].dims[0] = 3, net.L[0].dims[1] = 19, net.L[0].dims[2] = 21;
    net.n = 1;
    conv(&net, "c1", 0, 10, 3, 2, 1, 1); /* [10, 10, 11] */
    unary(&net, NR_RELU, "r1", 1);
    conv(&net, "c2", 2, 13, 5, 2, 2, 1); /* [13, 5, 6] */
    unary(&net, NR_RELU, "r2", 3);
    conv(&net, "c3", 4, 7, 3, 1, 1, 0); /* [7, 5, 6], no bias */
    unary(&net, NR_RELU, "r3", 5);
    unary(&net, NR_FLATTEN, "f", 6);
    dense(&net, "fc", 7, 4);
    net.output = 8;
    fill(&net);
    char *wpath = tu_write_temp("wm.safetensors", "", 0);
    cr_assert_eq(nr_write_safetensors(&net, wpath), 0);
    char *xai = nr_xai_text(&net, "wm.safetensors");
    /* a range makes the input non-negative, so the first conv takes the same shortcuts as the others */
    char *at = strstr(xai, "input x[3, 19, 21]");
    cr_assert_not_null(at, "%s", xai);
    size_t len = strlen(xai) + strlen(rules) + 4096;
    char *text = malloc(len);
    int n = snprintf(text, len, "%.*sinput x[3, 19, 21] range [0, 1]%s%s", (int)(at - xai), xai,
                     at + strlen("input x[3, 19, 21]"), rules);
    for (int k = 0; k < N_PAIRS; k++)
        n += snprintf(text + n, len - n,
                      "explain %s for wm { seed one; %s }\nexplain %s_written for wm { seed one; %s }\n", pairs[k].name,
                      pairs[k].builtin, pairs[k].name, pairs[k].written);
    char *src = tu_write_temp("wm.xai", "", 0);
    eu_program p;
    eu_open(&p, src, text, opt_level, 0);
    cr_assert(p.ok, "%s\n%s", eu_messages(&p), text);
    enum { BATCH = 3, IN = 3 * 19 * 21 };
    float x[BATCH * IN];
    uint64_t s = 12345;
    for (int i = 0; i < BATCH * IN; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((s >> 40) % 1000) / 999.0f;
    }
    int32_t target[BATCH] = { 0, 3, 1 };
    for (int k = 0; k < N_PAIRS; k++) {
        char written[64];
        snprintf(written, sizeof written, "%s_written", pairs[k].name);
        for (int batch = 1; batch <= BATCH; batch += BATCH - 1) {
            eu_run a = eu_explain(&p, "wm", pairs[k].name, x, target, batch);
            eu_run b = eu_explain(&p, "wm", written, x, target, batch);
            cr_assert(a.status == 0 && b.status == 0, "%s: status %d / %d", pairs[k].name, a.status, b.status);
            double err = eu_rel_error(a.out, b.out, a.out_count * batch);
            /* pos(w) read at load time equals max(w, 0) computed at compile time bit for bit, and the kernels
             * sum in the same order; gamma's W / W+ rewrite rounds differently */
            double tol = strcmp(pairs[k].name, "gamma") ? 0 : 1e-5;
            cr_expect(err <= tol, "%s, batch %d, -O%d: max |mapped - as written| / max |as written| = %.3g",
                      pairs[k].name, batch, opt_level, err);
            double sum = 0;
            for (int64_t i = 0; i < a.out_count * batch; i++) sum += fabs(a.out[i]);
            cr_expect(sum > 0, "%s: all relevance is zero", pairs[k].name);
            eu_run_free(&a);
            eu_run_free(&b);
        }
    }
    eu_close(&p);
    free(src);
    free(text);
    free(xai);
    free(wpath);
    nr_net_free(&net);
}

Test(weight_maps, mapped_weights_and_basis_equal_the_rules_as_written_O3) { compare(3); }
Test(weight_maps, mapped_weights_and_basis_equal_the_rules_as_written_O0) { compare(0); }
