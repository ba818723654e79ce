/* Row pruning (opt/rows.c): a head that reads one token of [T, D] makes the row-wise layers before it compute that
 * token only. The network is a ViT block's tail in miniature: tokens t [T, D] -> a = softmax across the tokens (a
 * layer that mixes rows, as attention does) -> b = t + a (the residual, read twice) -> layernorm -> dense -> gelu ->
 * dense -> c = b + that -> layernorm e -> slice(token 1) -> flatten -> dense(3).
 *   - the graph after analysis: the slice reads b and comes right after it, every layer from there to e has 1 row,
 *     b and everything before it keep T rows; with `at m2` in an explain block (the relevance at a layer it would
 *     shrink), m2 and everything it feeds but e keep their T rows; so does m under a rule with a statistic of the
 *     whole layer (epsilon_std), but not under plain epsilon;
 *   - the forward against a naive double-precision transcription of the layers, and the gradient against central
 *     finite differences of that transcription (every input element). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naive_ref.c"
#include "testutil.h"
#include "xairt.h"

enum { T = 5, D = 12, H = 20, C = 3, TOKEN = 1 };

typedef struct params {
    float l1_w[D], l1_b[D], m_w[H * D], m_b[H], m2_w[D * H], m2_b[D], l2_w[D], l2_b[D];
    float h_w[C * D], h_b[C];
} params;

static const char *NET =
    "network rp { weights \"%s\"; input x[%d]; t = reshape(x, shape=[%d, %d]);\n"
    "  a = softmax(t, axis=0); b = add(t, a); l1 = layernorm(b); m = dense(l1, %d); g = gelu(m);\n"
    "  m2 = dense(g, %d); c = add(b, m2); e = layernorm(c); s = slice(e, axis=0, start=%d, end=%d);\n"
    "  f = flatten(s); h = dense(f, %d); output h; }\n"
    "explain grad for rp { method gradient; }\n%s";

static char *network_text(const char *wpath, const char *extra)
{
    char *text = NULL;
    cr_assert(asprintf(&text, NET, wpath, T * D, T, D, H, D, TOKEN, TOKEN + 1, C, extra) > 0);
    return text;
}

static char *write_params(const params *p)
{
    tu_tensor t[] = {
        { "l1.weight", 1, { D }, p->l1_w }, { "l1.bias", 1, { D }, p->l1_b },      { "m.weight", 2, { H, D }, p->m_w },
        { "m.bias", 1, { H }, p->m_b },     { "m2.weight", 2, { D, H }, p->m2_w }, { "m2.bias", 1, { D }, p->m2_b },
        { "e.weight", 1, { D }, p->l2_w },  { "e.bias", 1, { D }, p->l2_b },       { "h.weight", 2, { C, D }, p->h_w },
        { "h.bias", 1, { C }, p->h_b },
    };
    return tu_write_weights("rp.safetensors", t, (int)(sizeof t / sizeof *t));
}

/* rows of node `name` in network 0 after the analysis (-1: no such node) */
static int rows_of(const compilation *c, const char *name)
{
    const ir_graph *g = c->ir->graphs[0];
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].name && !strcmp(g->nodes[i].name, name)) return (int)g->nodes[i].shape.dims[0];
    return -1;
}

static const char *slice_reads(const compilation *c)
{
    const ir_graph *g = c->ir->graphs[0];
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == OP_SLICE) {
            cr_expect_eq(g->nodes[i].inputs[0], i - 1, "the slice comes right after the value it reads");
            return g->nodes[g->nodes[i].inputs[0]].name;
        }
    return "";
}

static void analyse(compilation *c, xai_diag *d, const char *text)
{
    cr_assert_eq(driver_analyse_text(c, d, "rp.xai", text), 0, "%s", text);
}

Test(rows_prune, graph_after_analysis)
{
    params p = { 0 };
    char *wpath = write_params(&p), *text = network_text(wpath, "");
    FILE *null = fopen("/dev/null", "w");
    xai_diag d;
    diag_init(&d, null);
    compilation c;
    analyse(&c, &d, text);
    cr_expect_str_eq(slice_reads(&c), "b");
    const char *shrunk[] = { "l1", "m", "g", "m2", "c", "e" }, *kept[] = { "a", "b" };
    for (int i = 0; i < 6; i++) cr_expect_eq(rows_of(&c, shrunk[i]), 1, "%s", shrunk[i]);
    for (int i = 0; i < 2; i++) cr_expect_eq(rows_of(&c, kept[i]), T, "%s", kept[i]);
    driver_free(&c);
    free(text);

    text = network_text(wpath, "explain inner for rp { method gradient; at m2; }\n");
    analyse(&c, &d, text);
    cr_expect_str_eq(slice_reads(&c), "c");
    cr_expect_eq(rows_of(&c, "e"), 1);
    const char *full[] = { "b", "l1", "m", "g", "m2", "c" };
    for (int i = 0; i < 6; i++) cr_expect_eq(rows_of(&c, full[i]), T, "%s keeps its rows under `at m2`", full[i]);
    driver_free(&c);
    free(text);

    /* a rule whose stabiliser is a statistic of the whole layer (epsilon_std's std(z)) keeps m's rows; plain
     * epsilon on m does not */
    text = network_text(wpath, "explain spread for rp { m: epsilon_std(0.25); }\n");
    analyse(&c, &d, text);
    cr_expect_str_eq(slice_reads(&c), "c");
    cr_expect_eq(rows_of(&c, "m"), T, "m keeps its rows under epsilon_std");
    driver_free(&c);
    free(text);
    text = network_text(wpath, "explain plain for rp { m: epsilon(0.01); }\n");
    analyse(&c, &d, text);
    cr_expect_str_eq(slice_reads(&c), "b");
    cr_expect_eq(rows_of(&c, "m"), 1);
    driver_free(&c);
    diag_free(&d);
    fclose(null);
    free(text), free(wpath);
}

static void layernorm(double *v, const float *w, const float *b)
{
    double mean = 0, var = 0;
    for (int i = 0; i < D; i++) mean += v[i] / D;
    for (int i = 0; i < D; i++) var += (v[i] - mean) * (v[i] - mean) / D;
    for (int i = 0; i < D; i++) v[i] = (v[i] - mean) / sqrt(var + 1e-5) * w[i] + b[i];
}

/* the network in double, every row (as written, before any pruning) */
static void naive_forward(const params *p, const double *x, double *out)
{
    double b[T][D], e[T][D];
    for (int o = 0; o < D; o++) { /* b = t + softmax of each column across the tokens */
        double sum = 0;
        for (int r = 0; r < T; r++) sum += exp(x[r * D + o]);
        for (int r = 0; r < T; r++) b[r][o] = x[r * D + o] + exp(x[r * D + o]) / sum;
    }
    for (int r = 0; r < T; r++) {
        double l[D], g[H];
        memcpy(l, b[r], sizeof l);
        layernorm(l, p->l1_w, p->l1_b);
        for (int o = 0; o < H; o++) {
            double s = p->m_b[o];
            for (int i = 0; i < D; i++) s += p->m_w[o * D + i] * l[i];
            g[o] = 0.5 * s * (1 + erf(s / sqrt(2.0)));
        }
        for (int o = 0; o < D; o++) {
            double s = p->m2_b[o];
            for (int i = 0; i < H; i++) s += p->m2_w[o * H + i] * g[i];
            e[r][o] = b[r][o] + s;
        }
        layernorm(e[r], p->l2_w, p->l2_b);
    }
    for (int o = 0; o < C; o++) {
        out[o] = p->h_b[o];
        for (int i = 0; i < D; i++) out[o] += p->h_w[o * D + i] * e[TOKEN][i];
    }
}

Test(rows_prune, forward_and_gradient_against_naive, .timeout = 120)
{
    params p;
    nr_rng rng = { 31 };
    float *all = (float *)&p;
    for (size_t i = 0; i < sizeof p / sizeof(float); i++) all[i] = (float)nr_uniform(&rng, -0.6, 0.6);
    for (int i = 0; i < D; i++) p.l1_w[i] += 1, p.l2_w[i] += 1;
    char *wpath = write_params(&p), *text = network_text(wpath, "");
    char *msg = NULL;
    nr_program prog;
    cr_assert_eq(nr_program_open(&prog, "rp.xai", text, "rp", "grad", &msg), 0, "%s", msg ? msg : "?");
    enum { B = 2 }; /* two samples: each reads its own token */
    float x[B * T * D], y[B * C], g[B * T * D];
    for (int i = 0; i < B * T * D; i++) x[i] = (float)nr_uniform(&rng, -1, 1);
    void *ws = NULL;
    cr_assert_eq(posix_memalign(&ws, 64, (prog.workspace_size(B) + 63) / 64 * 64), 0);
    cr_assert_eq(prog.forward(x, y, B, ws), 0);
    int32_t target[B] = { 2, 0 };
    cr_assert_eq(prog.entry(x, target, g, B, ws), 0);
    for (int b = 0; b < B; b++) {
        double xd[T * D], ref[C], hi[C], lo[C];
        for (int i = 0; i < T * D; i++) xd[i] = x[b * T * D + i];
        naive_forward(&p, xd, ref);
        double max_err, max_ref;
        nr_compare(y + b * C, ref, C, &max_err, &max_ref);
        cr_expect_leq(max_err, 1e-5 * max_ref, "sample %d: forward max error %g of %g", b, max_err, max_ref);
        double worst = 0, scale = 0;
        for (int i = 0; i < T * D; i++) { /* central differences, h = 1e-4 in double */
            double keep = xd[i];
            xd[i] = keep + 1e-4, naive_forward(&p, xd, hi);
            xd[i] = keep - 1e-4, naive_forward(&p, xd, lo);
            xd[i] = keep;
            double fd = (hi[target[b]] - lo[target[b]]) / 2e-4;
            worst = fmax(worst, fabs(fd - g[b * T * D + i]));
            scale = fmax(scale, fabs(fd));
        }
        cr_expect_gt(scale, 0);
        cr_expect_leq(worst, 1e-4 * scale, "sample %d: gradient max error %g of %g", b, worst, scale);
    }
    free(ws), free(text), free(wpath);
    jit_free(prog.jit);
}
