/* Randomised differential tests: small random networks covering every op of language v1, compiled
 * in-process (driver_analyse_text + jit_create at -O0 and -O3) and compared with the naive double
 * reference of naive_ref.c, written straight from PyTorch semantics.
 *
 * Each network is generated from a fixed seed (DIFF_SEED ^ index), so a failure is reproducible: the
 * message gives the seed, the .xai text and where the largest error is. DIFF_SHOW=1 prints every
 * generated network. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naive_ref.c"
#include "testutil.h"

#define N_NETS    64
#define DIFF_SEED 0x5eed2024c0ffeeULL

/* What a network exercises; each network focuses on one (index % F_COUNT) and adds random others. */
enum {
    F_DENSE_BIAS,
    F_DENSE_NOBIAS,
    F_CONV_BIAS,
    F_CONV_NOBIAS,
    F_CONV_PAD_INT,
    F_CONV_PAD_4,
    F_CONV_PAD_SAME,
    F_MAXPOOL_PAD,
    F_MAXPOOL_SAME,
    F_AVGPOOL_PAD,
    F_AVGPOOL_SAME,
    F_GAP,
    F_RELU,
    F_SIGMOID_LAYER,
    F_FLATTEN,
    F_BN_CONV,
    F_BN_DENSE,
    F_BN_RELU,
    F_BN_SHARED_CONV,
    F_ADD,
    F_SOFTMAX,
    F_COUNT
};
static const char *feature_names[F_COUNT] = { "dense+bias",
                                              "dense no bias",
                                              "conv+bias",
                                              "conv no bias",
                                              "conv pad=int",
                                              "conv pad=[t,l,b,r]",
                                              "conv pad=same",
                                              "maxpool explicit pad",
                                              "maxpool same",
                                              "avgpool explicit pad",
                                              "avgpool same",
                                              "global_avgpool",
                                              "relu",
                                              "sigmoid",
                                              "flatten",
                                              "batchnorm after conv (folded)",
                                              "batchnorm after dense (folded)",
                                              "batchnorm after relu (affine)",
                                              "batchnorm after a conv with two readers (affine)",
                                              "add",
                                              "softmax" };

typedef struct gen {
    nr_net *net;
    nr_rng rng;
    int used[F_COUNT];
} gen;

static float *rand_floats(gen *g, int64_t n, double lo, double hi)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (int64_t i = 0; i < n; i++) p[i] = (float)nr_uniform(&g->rng, lo, hi);
    return p;
}

static int add_layer(gen *g, nr_op op, int in0, int in1)
{
    nr_net *net = g->net;
    if (net->n >= NR_MAX_LAYERS) cr_assert_fail("generator: too many layers");
    int i = net->n++;
    nr_layer *l = &net->L[i];
    memset(l, 0, sizeof *l);
    l->op = op;
    l->in[0] = in0;
    l->in[1] = in1;
    snprintf(l->name, sizeof l->name, "l%d", i);
    const nr_layer *a = &net->L[in0];
    l->rank = a->rank;
    memcpy(l->dims, a->dims, sizeof l->dims);
    return i;
}

static void appendf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

/* ---- layer generators; each returns the index of the layer it added ---- */

static int g_dense(gen *g, int cur, int units, int bias)
{
    int i = add_layer(g, NR_DENSE, cur, 0);
    nr_layer *l = &g->net->L[i];
    int64_t fan_in = nr_count(&g->net->L[cur]);
    l->units = units;
    l->rank = 1;
    l->dims[0] = units;
    l->wcount = units * fan_in;
    double s = 1.7 / sqrt((double)fan_in);
    l->w = rand_floats(g, l->wcount, -s, s);
    if (bias) l->b = rand_floats(g, units, -0.5, 0.5);
    int form = nr_int(&g->rng, 0, 3);
    if (form == 0)
        snprintf(l->args, sizeof l->args, "units=%d", units);
    else
        snprintf(l->args, sizeof l->args, "%d", units);
    if (!bias)
        appendf(l->args, sizeof l->args, ", bias=false");
    else if (form == 3)
        appendf(l->args, sizeof l->args, ", bias=true");
    g->used[bias ? F_DENSE_BIAS : F_DENSE_NOBIAS]++;
    return i;
}

/* pad kinds */
enum { PAD_NONE, PAD_INT, PAD_4, PAD_SAME, PAD_2, PAD_KINDS };

/* conv2d: random kernel/stride/pad unless forced (pad_kind >= 0, bias >= 0). keep_shape: 1 or 3 kernel,
 * stride 1, padding that keeps H x W, filters = C. */
static int g_conv(gen *g, int cur, int pad_kind, int bias, int keep_shape)
{
    const nr_layer *a = &g->net->L[cur];
    int C = a->dims[0], H = a->dims[1], W = a->dims[2];
    if (bias < 0) bias = nr_int(&g->rng, 0, 2) != 0;
    int filters, kh, kw, sh, sw, pt = 0, pl = 0, pb = 0, pr = 0, kind;
    char args[160] = "";
    if (keep_shape) {
        filters = C;
        kh = kw = nr_int(&g->rng, 0, 1) ? 3 : 1;
        sh = sw = 1;
        kind = pad_kind >= 0 ? pad_kind : (nr_int(&g->rng, 0, 1) ? PAD_SAME : PAD_INT);
        if (kind != PAD_SAME) kind = PAD_INT;
        pt = pl = pb = pr = (kh - 1) / 2;
        snprintf(args, sizeof args, "%d, kernel=%d", filters, kh);
        if (kind == PAD_SAME)
            appendf(args, sizeof args, ", pad=same");
        else
            appendf(args, sizeof args, ", pad=%d", pt);
    } else {
        filters = nr_int(&g->rng, 1, 4);
        for (int tries = 0;; tries++) {
            kh = nr_int(&g->rng, 1, 4);
            kw = nr_int(&g->rng, 0, 3) ? kh : nr_int(&g->rng, 1, 4);
            sh = nr_int(&g->rng, 1, 3);
            sw = nr_int(&g->rng, 0, 3) ? sh : nr_int(&g->rng, 1, 3);
            kind = pad_kind >= 0 ? pad_kind : nr_int(&g->rng, 0, PAD_KINDS - 1);
            switch (kind) {
            case PAD_NONE: pt = pl = pb = pr = 0; break;
            case PAD_INT: pt = pl = pb = pr = nr_int(&g->rng, 0, 2); break;
            case PAD_2:
                pt = pb = nr_int(&g->rng, 0, 2);
                pl = pr = nr_int(&g->rng, 0, 2);
                break;
            case PAD_4:
                pt = nr_int(&g->rng, 0, 2);
                pl = nr_int(&g->rng, 0, 2);
                pb = nr_int(&g->rng, 0, 2);
                pr = nr_int(&g->rng, 0, 2);
                break;
            case PAD_SAME:
                nr_same_pad(H, kh, sh, &pt, &pb);
                nr_same_pad(W, kw, sw, &pl, &pr);
                break;
            }
            if (H + pt + pb >= kh && W + pl + pr >= kw) break;
            if (tries > 100) {
                kh = kw = 1;
                sh = sw = 1;
                kind = PAD_INT;
                pt = pl = pb = pr = 0;
                break;
            }
        }
        if (nr_int(&g->rng, 0, 5) == 0)
            snprintf(args, sizeof args, "filters=%d", filters);
        else
            snprintf(args, sizeof args, "%d", filters);
        if (kh == kw)
            appendf(args, sizeof args, ", kernel=%d", kh);
        else
            appendf(args, sizeof args, ", kernel=[%d, %d]", kh, kw);
        if (sh != sw)
            appendf(args, sizeof args, ", stride=[%d, %d]", sh, sw);
        else if (sh != 1 || nr_int(&g->rng, 0, 3) == 0)
            appendf(args, sizeof args, ", stride=%d", sh);
        switch (kind) {
        case PAD_NONE:
            if (nr_int(&g->rng, 0, 3) == 0) appendf(args, sizeof args, ", pad=0");
            break;
        case PAD_INT: appendf(args, sizeof args, ", pad=%d", pt); break;
        case PAD_2: appendf(args, sizeof args, ", pad=[%d, %d]", pt, pl); break;
        case PAD_4: appendf(args, sizeof args, ", pad=[%d, %d, %d, %d]", pt, pl, pb, pr); break;
        case PAD_SAME: appendf(args, sizeof args, ", pad=same"); break;
        }
    }
    if (!bias) appendf(args, sizeof args, ", bias=false");
    int i = add_layer(g, NR_CONV, cur, 0);
    nr_layer *l = &g->net->L[i];
    l->units = filters;
    l->kh = kh;
    l->kw = kw;
    l->sh = sh;
    l->sw = sw;
    l->pt = pt;
    l->pl = pl;
    l->pb = pb;
    l->pr = pr;
    l->same = kind == PAD_SAME;
    l->dims[0] = filters;
    if (l->same) {
        l->dims[1] = (H + sh - 1) / sh;
        l->dims[2] = (W + sw - 1) / sw;
    } else {
        l->dims[1] = (H + pt + pb - kh) / sh + 1;
        l->dims[2] = (W + pl + pr - kw) / sw + 1;
    }
    snprintf(l->args, sizeof l->args, "%s", args);
    l->wcount = (int64_t)filters * C * kh * kw;
    double s = 1.7 / sqrt((double)C * kh * kw);
    l->w = rand_floats(g, l->wcount, -s, s);
    if (bias) l->b = rand_floats(g, filters, -0.5, 0.5);
    g->used[bias ? F_CONV_BIAS : F_CONV_NOBIAS]++;
    if (kind == PAD_INT && pt > 0) g->used[F_CONV_PAD_INT]++;
    if (kind == PAD_4) g->used[F_CONV_PAD_4]++;
    if (kind == PAD_SAME) g->used[F_CONV_PAD_SAME]++;
    return i;
}

/* maxpool / avgpool: same: 1 forces `pad=same`, 0 forces explicit padding (maybe 0), -1 random. */
static int g_pool(gen *g, int cur, nr_op op, int same)
{
    const nr_layer *a = &g->net->L[cur];
    int H = a->dims[1], W = a->dims[2];
    int kh, kw, sh, sw, pt = 0, pl = 0, pb = 0, pr = 0, kind, stride_given;
    for (int tries = 0;; tries++) {
        kh = nr_int(&g->rng, 1, 3);
        kw = nr_int(&g->rng, 0, 3) ? kh : nr_int(&g->rng, 1, 3);
        stride_given = nr_int(&g->rng, 0, 2) != 0;
        if (stride_given) {
            sh = nr_int(&g->rng, 1, 3);
            sw = nr_int(&g->rng, 0, 3) ? sh : nr_int(&g->rng, 1, 3);
        } else {
            sh = kh;
            sw = kw;
        }
        if (same == 1)
            kind = PAD_SAME;
        else {
            kind = nr_int(&g->rng, 0, 3); /* none, int, [t,l,b,r], [h,w]: explicit, each <= size/2 */
            if (kind == 3)
                kind = PAD_2;
            else if (kind == 2)
                kind = PAD_4;
            if (same == -1 && nr_int(&g->rng, 0, 2) == 0) kind = PAD_SAME;
        }
        switch (kind) {
        case PAD_NONE: pt = pl = pb = pr = 0; break;
        case PAD_INT: pt = pl = pb = pr = nr_int(&g->rng, 0, (kh < kw ? kh : kw) / 2); break;
        case PAD_2:
            pt = pb = nr_int(&g->rng, 0, kh / 2);
            pl = pr = nr_int(&g->rng, 0, kw / 2);
            break;
        case PAD_4:
            pt = nr_int(&g->rng, 0, kh / 2);
            pb = nr_int(&g->rng, 0, kh / 2);
            pl = nr_int(&g->rng, 0, kw / 2);
            pr = nr_int(&g->rng, 0, kw / 2);
            break;
        case PAD_SAME:
            nr_same_pad(H, kh, sh, &pt, &pb);
            nr_same_pad(W, kw, sw, &pl, &pr);
            break;
        }
        if (H + pt + pb >= kh && W + pl + pr >= kw) break;
        if (tries > 100) {
            kh = kw = sh = sw = 1;
            stride_given = 0;
            pt = pl = pb = pr = 0;
            kind = PAD_NONE;
            break;
        }
    }
    char args[160] = "";
    if (kh == kw)
        snprintf(args, sizeof args, "%d", kh);
    else
        snprintf(args, sizeof args, "[%d, %d]", kh, kw);
    if (stride_given) {
        if (sh == sw && nr_int(&g->rng, 0, 3) == 0 && kind != PAD_SAME)
            appendf(args, sizeof args, ", %d", sh); /* positional */
        else if (sh == sw)
            appendf(args, sizeof args, ", stride=%d", sh);
        else
            appendf(args, sizeof args, ", stride=[%d, %d]", sh, sw);
    }
    switch (kind) {
    case PAD_NONE:
        if (nr_int(&g->rng, 0, 3) == 0) appendf(args, sizeof args, ", pad=0");
        break;
    case PAD_INT: appendf(args, sizeof args, ", pad=%d", pt); break;
    case PAD_2: appendf(args, sizeof args, ", pad=[%d, %d]", pt, pl); break;
    case PAD_4: appendf(args, sizeof args, ", pad=[%d, %d, %d, %d]", pt, pl, pb, pr); break;
    case PAD_SAME: appendf(args, sizeof args, ", pad=same"); break;
    }
    int i = add_layer(g, op, cur, 0);
    nr_layer *l = &g->net->L[i];
    l->kh = kh;
    l->kw = kw;
    l->sh = sh;
    l->sw = sw;
    l->pt = pt;
    l->pl = pl;
    l->pb = pb;
    l->pr = pr;
    l->same = kind == PAD_SAME;
    if (l->same) {
        l->dims[1] = (H + sh - 1) / sh;
        l->dims[2] = (W + sw - 1) / sw;
    } else {
        l->dims[1] = (H + pt + pb - kh) / sh + 1;
        l->dims[2] = (W + pl + pr - kw) / sw + 1;
    }
    snprintf(l->args, sizeof l->args, "%s", args);
    int padded = pt || pl || pb || pr;
    if (op == NR_MAXPOOL)
        g->used[l->same ? F_MAXPOOL_SAME : F_MAXPOOL_PAD] += l->same || padded;
    else
        g->used[l->same ? F_AVGPOOL_SAME : F_AVGPOOL_PAD] += l->same || padded;
    return i;
}

static int g_bn(gen *g, int cur)
{
    int i = add_layer(g, NR_BN, cur, 0);
    nr_layer *l = &g->net->L[i];
    int c = l->dims[0];
    l->w = rand_floats(g, c, -1.5, 1.5); /* includes negative scales */
    l->b = rand_floats(g, c, -0.5, 0.5);
    l->mean = rand_floats(g, c, -0.5, 0.5);
    l->var = rand_floats(g, c, 0.2, 2.0);
    l->eps = 1e-5;
    if (nr_int(&g->rng, 0, 4) == 0) {
        l->eps = 1e-3;
        snprintf(l->args, sizeof l->args, "eps=0.001");
    }
    const nr_layer *p = &g->net->L[cur];
    if (p->op == NR_CONV) g->used[F_BN_CONV]++;
    if (p->op == NR_DENSE) g->used[F_BN_DENSE]++;
    if (p->op == NR_RELU) g->used[F_BN_RELU]++;
    return i;
}

static int g_unary(gen *g, int cur, nr_op op)
{
    g->used[op == NR_RELU ? F_RELU : op == NR_SIGMOID ? F_SIGMOID_LAYER : op == NR_FLATTEN ? F_FLATTEN : F_GAP]++;
    int i = add_layer(g, op, cur, 0);
    nr_layer *l = &g->net->L[i];
    if (op == NR_FLATTEN) {
        l->dims[0] = (int)nr_count(&g->net->L[cur]);
        l->rank = 1;
    } else if (op == NR_GAP) {
        l->rank = 1;
    }
    return i;
}

/* A shape-preserving branch of cur for an add. */
static int g_branch(gen *g, int cur, int kind)
{
    const nr_layer *a = &g->net->L[cur];
    switch (kind) {
    case 0: return cur;
    case 1: return g_unary(g, cur, NR_RELU);
    case 2: return g_unary(g, cur, NR_SIGMOID);
    case 3: return a->rank == 3 ? g_conv(g, cur, -1, -1, 1) : g_dense(g, cur, a->dims[0], nr_int(&g->rng, 0, 1));
    default: return g_bn(g, cur);
    }
}

static int g_add(gen *g, int cur)
{
    g->used[F_ADD]++;
    if (nr_int(&g->rng, 0, 3) == 0) {
        /* a conv (or dense) read by both a batchnorm and the add: the batchnorm cannot be folded */
        const nr_layer *a = &g->net->L[cur];
        int p = a->rank == 3 ? g_conv(g, cur, -1, -1, 1) : g_dense(g, cur, a->dims[0], 1);
        int bn = g_bn(g, p);
        g->used[F_BN_SHARED_CONV]++;
        return nr_int(&g->rng, 0, 1) ? add_layer(g, NR_ADD, p, bn) : add_layer(g, NR_ADD, bn, p);
    }
    int b1 = g_branch(g, cur, nr_int(&g->rng, 0, 4));
    int b2 = g_branch(g, cur, nr_int(&g->rng, 0, 4));
    return add_layer(g, NR_ADD, b1, b2);
}

/* One random step of the [C, H, W] part of a network (or the focus feature f when f >= 0). */
static int step3(gen *g, int cur, int f)
{
    if (f < 0) {
        static const int pool[] = { F_CONV_BIAS,   F_CONV_NOBIAS, F_CONV_BIAS,     F_MAXPOOL_PAD,
                                    F_AVGPOOL_PAD, F_RELU,        F_SIGMOID_LAYER, F_ADD,
                                    F_BN_CONV,     F_BN_RELU,     F_MAXPOOL_SAME,  F_AVGPOOL_SAME };
        f = pool[nr_int(&g->rng, 0, (int)(sizeof pool / sizeof *pool) - 1)];
    }
    switch (f) {
    case F_CONV_BIAS: return g_conv(g, cur, -1, 1, 0);
    case F_CONV_NOBIAS: return g_conv(g, cur, -1, 0, 0);
    case F_CONV_PAD_INT: return g_conv(g, cur, PAD_INT, -1, 0);
    case F_CONV_PAD_4: return g_conv(g, cur, PAD_4, -1, 0);
    case F_CONV_PAD_SAME: return g_conv(g, cur, PAD_SAME, -1, 0);
    case F_MAXPOOL_PAD: return g_pool(g, cur, NR_MAXPOOL, 0);
    case F_MAXPOOL_SAME: return g_pool(g, cur, NR_MAXPOOL, 1);
    case F_AVGPOOL_PAD: return g_pool(g, cur, NR_AVGPOOL, 0);
    case F_AVGPOOL_SAME: return g_pool(g, cur, NR_AVGPOOL, 1);
    case F_RELU: return g_unary(g, cur, NR_RELU);
    case F_SIGMOID_LAYER: return g_unary(g, cur, NR_SIGMOID);
    case F_ADD:
    case F_BN_SHARED_CONV: return g_add(g, cur);
    case F_BN_CONV: return g_bn(g, g_conv(g, cur, -1, -1, 0));
    case F_BN_RELU: return g_bn(g, g_unary(g, cur, NR_RELU));
    default: cr_assert_fail("step3: feature %d", f); return cur;
    }
}

/* One random step of the flat part (or the focus feature f). */
static int step1(gen *g, int cur, int f)
{
    if (f < 0) {
        static const int pool[] = {
            F_DENSE_BIAS, F_DENSE_NOBIAS, F_RELU, F_SIGMOID_LAYER, F_ADD, F_BN_DENSE, F_BN_RELU
        };
        f = pool[nr_int(&g->rng, 0, (int)(sizeof pool / sizeof *pool) - 1)];
    }
    switch (f) {
    case F_DENSE_BIAS: return g_dense(g, cur, nr_int(&g->rng, 1, 8), 1);
    case F_DENSE_NOBIAS: return g_dense(g, cur, nr_int(&g->rng, 1, 8), 0);
    case F_RELU: return g_unary(g, cur, NR_RELU);
    case F_SIGMOID_LAYER: return g_unary(g, cur, NR_SIGMOID);
    case F_ADD:
    case F_BN_SHARED_CONV: return g_add(g, cur);
    case F_BN_DENSE: return g_bn(g, g_dense(g, cur, nr_int(&g->rng, 1, 8), nr_int(&g->rng, 0, 1)));
    case F_BN_RELU: return g_bn(g, g_unary(g, cur, NR_RELU));
    default: cr_assert_fail("step1: feature %d", f); return cur;
    }
}

static int is3(int f)
{
    return f == F_CONV_BIAS || f == F_CONV_NOBIAS || f == F_CONV_PAD_INT || f == F_CONV_PAD_4 || f == F_CONV_PAD_SAME ||
        f == F_MAXPOOL_PAD || f == F_MAXPOOL_SAME || f == F_AVGPOOL_PAD || f == F_AVGPOOL_SAME || f == F_BN_CONV;
}
static int is1(int f) { return f == F_DENSE_BIAS || f == F_DENSE_NOBIAS || f == F_BN_DENSE; }
static int is_either(int f)
{
    return f == F_RELU || f == F_SIGMOID_LAYER || f == F_ADD || f == F_BN_RELU || f == F_BN_SHARED_CONV;
}

/* Builds random network `index`; returns its batch size. */
static int generate(int index, nr_net *net, int used[F_COUNT])
{
    gen g = { .net = net };
    g.rng.s = DIFF_SEED ^ ((uint64_t)(index + 1) * 0x100000001B3ULL);
    memset(net, 0, sizeof *net);
    snprintf(net->name, sizeof net->name, "rnd%d", index);
    int focus = index % F_COUNT;
    int flat_input = (is1(focus) || focus == F_SOFTMAX) && nr_int(&g.rng, 0, 1);
    nr_layer *x = &net->L[net->n++];
    snprintf(x->name, sizeof x->name, "x");
    x->op = NR_INPUT;
    if (flat_input) {
        x->rank = 1;
        x->dims[0] = nr_int(&g.rng, 1, 12);
    } else {
        x->rank = 3;
        x->dims[0] = nr_int(&g.rng, 1, 4);
        x->dims[1] = nr_int(&g.rng, 3, 9);
        x->dims[2] = nr_int(&g.rng, 3, 9);
    }
    int batch = nr_int(&g.rng, 1, 3);
    int cur = 0;
    if (!flat_input) {
        int n3 = nr_int(&g.rng, 1, 3);
        int focus_here = is3(focus) || (is_either(focus) && nr_int(&g.rng, 0, 1));
        int at = focus_here ? nr_int(&g.rng, 0, n3) : -1;
        if (nr_int(&g.rng, 0, 9) == 0) cur = g_bn(&g, cur); /* a batchnorm of the input: becomes an affine op */
        for (int s = 0; s <= n3; s++) {
            if (s == at)
                cur = step3(&g, cur, focus);
            else if (s < n3)
                cur = step3(&g, cur, -1);
        }
        if (focus_here && focus != F_SOFTMAX && nr_int(&g.rng, 0, 4) == 0) {
            net->output = cur; /* a [C, H, W] output */
            memcpy(used, g.used, sizeof g.used);
            return batch;
        }
        if (focus == F_GAP || (focus != F_FLATTEN && nr_int(&g.rng, 0, 2) == 0)) {
            cur = g_unary(&g, cur, NR_GAP);
            if (nr_int(&g.rng, 0, 1)) cur = g_unary(&g, cur, NR_FLATTEN); /* a flatten of a flat value */
        } else {
            cur = g_unary(&g, cur, NR_FLATTEN);
        }
    }
    int n1 = nr_int(&g.rng, 0, 2);
    int focus_here = is1(focus) || is_either(focus);
    int at = focus_here ? nr_int(&g.rng, 0, n1) : -1;
    for (int s = 0; s <= n1; s++) {
        if (s == at)
            cur = step1(&g, cur, focus);
        else if (s < n1)
            cur = step1(&g, cur, -1);
    }
    if (focus == F_BN_DENSE && nr_int(&g.rng, 0, 1)) {
        cur = g_bn(&g, g_dense(&g, cur, nr_int(&g.rng, 1, 5), nr_int(&g.rng, 0, 1))); /* batchnorm as the output */
    } else {
        cur = g_dense(&g, cur, nr_int(&g.rng, 1, 5), nr_int(&g.rng, 0, 2) != 0);
        if (focus == F_SOFTMAX || nr_int(&g.rng, 0, 7) == 0) {
            cur = add_layer(&g, NR_SOFTMAX, cur, 0);
            g.used[F_SOFTMAX]++;
        }
    }
    net->output = cur;
    memcpy(used, g.used, sizeof g.used);
    return batch;
}

/* ---- running one network ---- */

static char *where_text(const nr_net *net, int64_t k)
{
    const nr_layer *o = &net->L[net->output];
    int64_t n = nr_count(o);
    char *s = NULL;
    if (o->rank == 3) {
        int64_t r = k % n;
        if (asprintf(&s, "sample %lld, [%lld, %lld, %lld]", (long long)(k / n),
                     (long long)(r / (o->dims[1] * o->dims[2])), (long long)(r / o->dims[2] % o->dims[1]),
                     (long long)(r % o->dims[2])) < 0)
            s = NULL;
    } else if (asprintf(&s, "sample %lld, [%lld]", (long long)(k / n), (long long)(k % n)) < 0) {
        s = NULL;
    }
    return s;
}

/* Compiles net at -O0 and -O3, runs it on a uniform [-1, 1] input of `batch` samples (from `seed`) and
 * compares with the naive reference. Frees the network's parameters. */
/* The network compiled at -O3 with `opt` and run on `threads` pool threads (0: the default) gives `want` bit
 * for bit. */
static void expect_same_output(const cg_options *opt, int threads, const char *what, int index, uint64_t seed,
                               int batch, const char *xpath, const char *text, const nr_net *net, const float *x,
                               int64_t out_count, const float *want)
{
    nr_jit j;
    char *msg = NULL;
    nr_jit_options = opt;
    int failed = nr_jit_open(&j, xpath, text, net->name, 3, &msg);
    nr_jit_options = NULL;
    if (failed) cr_assert_fail("network %d, -O3 %s: %s\n%s", index, what, msg ? msg : "", text);
    float *y;
    xai_set_num_threads(threads);
    int status = nr_run(&j, x, batch, out_count, &y);
    xai_set_num_threads(0);
    cr_assert_eq(status, 0, "network %d -O3 %s: forward returned %d", index, what, status);
    int64_t bad = -1;
    for (int64_t k = 0; k < out_count * batch && bad < 0; k++)
        if (memcmp(&y[k], &want[k], sizeof(float))) bad = k;
    cr_expect_eq(bad, -1, "network %d (seed 0x%llx, batch %d): %s, output %lld is %.9g instead of %.9g\n%s", index,
                 (unsigned long long)seed, batch, what, (long long)bad, bad >= 0 ? y[bad] : 0.0,
                 bad >= 0 ? want[bad] : 0.0, text);
    free(y);
    nr_jit_close(&j);
    free(msg);
}

static void check_net(nr_net *netp, int batch, uint64_t seed, int index)
{
#define net (*netp)

    char wname[64], xname[64], *wpath = NULL, *xpath = NULL;
    snprintf(wname, sizeof wname, "%s.safetensors", net.name);
    snprintf(xname, sizeof xname, "%s.xai", net.name);
    char *text = nr_xai_text(&net, wname);
    if (getenv("DIFF_SHOW")) fprintf(stderr, "--- network %d, batch %d ---\n%s", index, batch, text);
    xpath = tu_write_temp(xname, text, strlen(text)); /* kept for reproducing by hand */
    if (asprintf(&wpath, "%s/%s", tu_tmpdir(), wname) < 0) abort();
    if (nr_has_params(&net)) cr_assert_eq(nr_write_safetensors(&net, wpath), 0, "cannot write %s", wpath);

    /* input: uniform in [-1, 1] */
    nr_rng r = { seed ^ 0xabcdefULL };
    int64_t in_count = nr_count(&net.L[0]), out_count = nr_count(&net.L[net.output]);
    float *x = malloc(sizeof(float) * in_count * batch);
    for (int64_t k = 0; k < in_count * batch; k++) x[k] = (float)nr_uniform(&r, -1, 1);
    double *ref = nr_forward(&net, x, batch);

    float *y_by_level[4] = { 0 };
    const int levels[2] = { 0, 3 };
    for (int li = 0; li < 2; li++) {
        int opt = levels[li];
        nr_jit j;
        char *msg = NULL;
        if (nr_jit_open(&j, xpath, text, net.name, opt, &msg))
            cr_assert_fail("network %d (seed 0x%llx), -O%d: %s\n--- network ---\n%s", index, (unsigned long long)seed,
                           opt, msg ? msg : "", text);
        /* the output shape the compiler inferred is the reference's */
        const xai_model_info *info = j.info;
        const nr_layer *o = &net.L[net.output];
        cr_expect_eq(info->output.rank, o->rank, "network %d: output rank %d, expected %d\n%s", index,
                     info->output.rank, o->rank, text);
        for (int d = 0; d < o->rank && d < info->output.rank; d++)
            cr_expect_eq(info->output.shape[d], o->dims[d], "network %d: output dim %d is %d, expected %d\n%s", index,
                         d, info->output.shape[d], o->dims[d], text);
        /* every named layer is listed (folded batchnorms too), and the output under its own name */
        cr_expect_eq(info->n_layers, net.n - 1, "network %d: n_layers %d, expected %d\n%s", index, info->n_layers,
                     net.n - 1, text);
        cr_expect_str_eq(info->output.name, o->name, "network %d: output named %s, expected %s\n%s", index,
                         info->output.name, o->name, text);
        float *y;
        int status = nr_run(&j, x, batch, out_count, &y);
        cr_assert_eq(status, 0, "network %d (seed 0x%llx) -O%d: forward returned %d (%s)\n%s", index,
                     (unsigned long long)seed, opt, status, xai_status_string(status), text);
        double max_err, max_ref;
        nr_compare(y, ref, out_count * batch, &max_err, &max_ref);
        double tol = 1e-4 * max_ref + 1e-6;
        if (!(max_err <= tol)) {
            int64_t worst = 0;
            double we = -1;
            for (int64_t k = 0; k < out_count * batch; k++) {
                double e = isnan(y[k]) ? INFINITY : fabs(y[k] - ref[k]);
                if (e > we) {
                    we = e;
                    worst = k;
                }
            }
            char *wt = where_text(&net, worst);
            cr_expect_fail(
                "network %d (seed 0x%llx, batch %d) at -O%d differs from the naive reference: max error %g > "
                "tolerance %g (max |ref| %g); worst at %s: got %.9g, expected %.9g\n--- network (%s) ---\n%s",
                index, (unsigned long long)seed, batch, opt, max_err, tol, max_ref, wt ? wt : "?", y[worst], ref[worst],
                xpath, text);
            free(wt);
        }
        y_by_level[li] = y;
        nr_jit_close(&j);
        free(msg);
    }
    /* -O3 with every parallel loop split (grain 1, 3 pool threads), and -O3 with the tiles for 16 vector
     * registers (AVX2 targets), are bitwise the -O3 result: every output is accumulated in the same order
     * whatever the thread count or the tile shape */
    cg_options split = { .parallel_min_work = 1 }, narrow = { .vector_registers = 16 };
    expect_same_output(&split, 3, "with every loop split across threads", index, seed, batch, xpath, text, &net, x,
                       out_count, y_by_level[1]);
    expect_same_output(&narrow, 0, "with 16-register tiles", index, seed, batch, xpath, text, &net, x, out_count,
                       y_by_level[1]);
    /* both optimisation levels agree with each other as tightly as with the reference */
    double max_err, max_ref;
    double *y0 = malloc(sizeof(double) * out_count * batch);
    for (int64_t k = 0; k < out_count * batch; k++) y0[k] = y_by_level[0][k];
    nr_compare(y_by_level[1], y0, out_count * batch, &max_err, &max_ref);
    cr_expect(max_err <= 1e-4 * max_ref + 1e-6, "network %d: -O0 and -O3 differ by %g\n%s", index, max_err, text);
    free(y0);
    free(y_by_level[0]);
    free(y_by_level[1]);
    free(ref);
    free(x);
    free(text);
    free(xpath);
    free(wpath);
    nr_net_free(&net);
#undef net
}

static void run_case(int index)
{
    nr_net net;
    int used[F_COUNT];
    int batch = generate(index, &net, used);
    check_net(&net, batch, DIFF_SEED ^ ((uint64_t)(index + 1) * 0x100000001B3ULL), index);
}

ParameterizedTestParameters(differential, random_net)
{
    static int ids[N_NETS];
    for (int i = 0; i < N_NETS; i++) ids[i] = i;
    return cr_make_param_array(int, ids, N_NETS);
}

ParameterizedTest(int *index, differential, random_net, .timeout = 120) { run_case(*index); }

/* The generator really covers every op and variant, each in several networks. */
Test(differential, generator_covers_every_op)
{
    int total[F_COUNT] = { 0 }, nets_with[F_COUNT] = { 0 };
    for (int i = 0; i < N_NETS; i++) {
        nr_net net;
        int used[F_COUNT];
        generate(i, &net, used);
        for (int f = 0; f < F_COUNT; f++) {
            total[f] += used[f];
            nets_with[f] += used[f] > 0;
        }
        cr_assert_lt(net.n, NR_MAX_LAYERS);
        nr_net_free(&net);
    }
    for (int f = 0; f < F_COUNT; f++)
        cr_expect_geq(nets_with[f], 3, "only %d random networks exercise %s", nets_with[f], feature_names[f]);
}

/* The naive reference itself, on hand-computed cases (so that a wrong reference cannot hide a bug). */
Test(differential, reference_sanity)
{
    /* 1x3x3 input 1..9; maxpool 2 pad=same: windows [1,2,4,5] [3,6] [7,8] [9] -> 5 6 8 9;
     * avgpool 2 pad=same divides by valid cells: 3 4.5 7.5 9; avgpool 2 stride 1 pad 1: border windows /4. */
    nr_net net;
    memset(&net, 0, sizeof net);
    net.L[0] = (nr_layer){ .op = NR_INPUT, .rank = 3, .dims = { 1, 3, 3 } };
    nr_layer mp = { .op = NR_MAXPOOL,
                    .in = { 0 },
                    .rank = 3,
                    .dims = { 1, 2, 2 },
                    .kh = 2,
                    .kw = 2,
                    .sh = 2,
                    .sw = 2,
                    .pb = 1,
                    .pr = 1,
                    .same = 1 };
    net.L[1] = mp;
    net.n = 2;
    net.output = 1;
    float x[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    double *y = nr_forward(&net, x, 1);
    double want_max[4] = { 5, 6, 8, 9 };
    for (int k = 0; k < 4; k++) cr_expect_float_eq(y[k], want_max[k], 1e-12);
    free(y);
    net.L[1].op = NR_AVGPOOL;
    y = nr_forward(&net, x, 1);
    double want_avg[4] = { 3, 4.5, 7.5, 9 };
    for (int k = 0; k < 4; k++) cr_expect_float_eq(y[k], want_avg[k], 1e-12);
    free(y);
    nr_layer ap = { .op = NR_AVGPOOL,
                    .in = { 0 },
                    .rank = 3,
                    .dims = { 1, 4, 4 },
                    .kh = 2,
                    .kw = 2,
                    .sh = 1,
                    .sw = 1,
                    .pt = 1,
                    .pl = 1,
                    .pb = 1,
                    .pr = 1 };
    net.L[1] = ap;
    y = nr_forward(&net, x, 1);
    cr_expect_float_eq(y[0], 1.0 / 4, 1e-12); /* only the 1 is inside */
    cr_expect_float_eq(y[5], (1 + 2 + 4 + 5) / 4.0, 1e-12);
    cr_expect_float_eq(y[15], 9.0 / 4, 1e-12);
    free(y);
    int lo, hi;
    nr_same_pad(28, 3, 1, &lo, &hi);
    cr_expect(lo == 1 && hi == 1);
    nr_same_pad(7, 2, 2, &lo, &hi); /* out 4, total 1: all of it at the bottom */
    cr_expect(lo == 0 && hi == 1);
    nr_same_pad(5, 1, 3, &lo, &hi); /* out 2, (2-1)*3+1-5 < 0 -> 0 */
    cr_expect(lo == 0 && hi == 0);
}

/* ---- hand-made edge cases: buffer planning (aliases, in-place ops, outputs that are views), odd
 * windows, big batches ---- */

#define EDGE(name, batch)                                                                                              \
    static void build_##name(nr_net *n, nr_rng *r);                                                                    \
    Test(differential_edge, name) { edge(#name, build_##name, batch); }                                                \
    static void build_##name(nr_net *n, nr_rng *r)

static int edge_counter = 1000;

static void edge(const char *name, void (*build)(nr_net *, nr_rng *), int batch)
{
    nr_net net;
    nr_rng r = { 0xed6e0000ULL + (uint64_t)strlen(name) };
    build(&net, &r);
    snprintf(net.name, sizeof net.name, "%s", name);
    check_net(&net, batch, r.s, edge_counter++);
}

/* the output is a flatten of a computed value: the value must be written straight into y */
EDGE(output_is_flatten_of_conv, 3)
{
    int x = nr_input(n, "x", 3, 2, 5, 5);
    int c = nr_conv(n, r, x, 3, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1, "3, kernel=3, pad=1");
    nr_simple(n, NR_FLATTEN, c, 0);
}

/* the output is the input itself (seen through flatten) */
EDGE(output_is_flatten_of_input, 2)
{
    int x = nr_input(n, "x", 3, 3, 4, 4);
    nr_simple(n, NR_FLATTEN, x, 0);
}

/* elementwise ops on the input and as the output (no in-place update of the caller's x) */
EDGE(relu_of_input_is_output, 3)
{
    int x = nr_input(n, "x", 3, 2, 3, 3);
    nr_simple(n, NR_RELU, x, 0);
}

EDGE(sigmoid_relu_chain_on_input, 2)
{
    int x = nr_input(n, "x", 1, 7, 0, 0);
    int a = nr_simple(n, NR_SIGMOID, x, 0);
    int b = nr_simple(n, NR_RELU, a, 0);
    nr_simple(n, NR_ADD, b, x); /* x is still intact */
}

EDGE(add_of_a_value_with_itself, 2)
{
    int x = nr_input(n, "x", 1, 8, 0, 0);
    int d = nr_dense(n, r, x, 5, 1, "5");
    nr_simple(n, NR_ADD, d, d);
}

/* a batchnorm folded into a conv that is the output's producer: the batchnorm is the output */
EDGE(batchnorm_of_conv_is_output, 2)
{
    int x = nr_input(n, "x", 3, 2, 6, 6);
    int c = nr_conv(n, r, x, 3, 3, 3, 1, 1, 0, 0, 0, 0, 1, 0, "3, kernel=3, pad=same, bias=false");
    nr_batchnorm(n, r, c, 1e-5, "");
}

/* a batchnorm of the input: an affine op that must not overwrite x */
EDGE(batchnorm_of_input, 3)
{
    int x = nr_input(n, "x", 3, 3, 4, 4);
    int b = nr_batchnorm(n, r, x, 1e-5, "");
    nr_simple(n, NR_ADD, b, x);
}

/* a long chain of in-place elementwise ops, including two unfoldable batchnorms */
EDGE(in_place_chain, 4)
{
    int x = nr_input(n, "x", 3, 2, 5, 5);
    int c = nr_conv(n, r, x, 4, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1, "4, kernel=3, pad=1");
    int a = nr_simple(n, NR_RELU, c, 0);
    a = nr_batchnorm(n, r, a, 1e-5, "");
    a = nr_simple(n, NR_SIGMOID, a, 0);
    a = nr_batchnorm(n, r, a, 1e-3, "eps=0.001");
    a = nr_simple(n, NR_RELU, a, 0);
    a = nr_simple(n, NR_FLATTEN, a, 0);
    nr_dense(n, r, a, 3, 1, "3");
}

/* a value read after an in-place candidate: relu(c) must not clobber c, which add reads later */
EDGE(value_read_after_elementwise, 3)
{
    int x = nr_input(n, "x", 3, 2, 6, 6);
    int c = nr_conv(n, r, x, 3, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1, "3, kernel=3, pad=1");
    int a = nr_simple(n, NR_RELU, c, 0);
    int s = nr_simple(n, NR_SIGMOID, a, 0);
    int p = nr_pool(n, NR_MAXPOOL, s, 2, 2, 2, 2, 0, 0, 0, 0, 1, "2, pad=same");
    int q = nr_pool(n, NR_AVGPOOL, c, 2, 2, 2, 2, 0, 0, 0, 0, 1, "2, pad=same");
    nr_simple(n, NR_ADD, p, q);
}

/* residual blocks (fuse.c): relu(conv + identity) computed by the conv as it stores, the add alone where the
 * relu's operand is read again, a dense's add of a skip value, and an add whose sum is the output */
EDGE(residual_add_relu_fused, 3)
{
    int x = nr_input(n, "x", 3, 4, 7, 7);
    int c1 = nr_conv(n, r, x, 4, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1, "4, kernel=3, pad=1");
    int a1 = nr_simple(n, NR_RELU, c1, 0);
    int c2 = nr_conv(n, r, a1, 4, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, "4, kernel=1");
    int s1 = nr_simple(n, NR_ADD, c2, a1); /* fused into c2, with the relu below */
    int a2 = nr_simple(n, NR_RELU, s1, 0);
    int c3 = nr_conv(n, r, a2, 4, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, "4, kernel=3, pad=1, bias=false");
    int s2 = nr_simple(n, NR_ADD, a2, c3); /* fused into c3; its relu is not (s2 is read again below) */
    int a3 = nr_simple(n, NR_RELU, s2, 0);
    int m = nr_simple(n, NR_ADD, a3, s2);
    int f = nr_simple(n, NR_FLATTEN, m, 0);
    int d1 = nr_dense(n, r, f, 6, 1, "6");
    int d2 = nr_dense(n, r, d1, 6, 1, "6");
    nr_simple(n, NR_ADD, d1, d2); /* the output is the fused sum */
}

/* stride-2 rows of whole vectors and border ones (cg_vec.h's stride-2 loads), as in ResNet's downsampling */
EDGE(wide_stride2_rows, 2)
{
    int x = nr_input(n, "x", 3, 3, 7, 45);
    int c = nr_conv(n, r, x, 5, 3, 3, 2, 2, 1, 1, 1, 1, 0, 1, "5, kernel=3, stride=2, pad=1"); /* [5, 4, 23] */
    int d = nr_conv(n, r, x, 5, 1, 1, 2, 2, 0, 0, 0, 0, 0, 1, "5, kernel=1, stride=2");        /* [5, 4, 23] */
    nr_simple(n, NR_ADD, c, d);
}

/* windows larger than the input (padding makes them fit), strides larger than the window */
EDGE(odd_windows, 2)
{
    int x = nr_input(n, "x", 3, 2, 3, 3);
    int c = nr_conv(n, r, x, 2, 4, 4, 1, 1, 1, 1, 1, 1, 0, 1, "2, kernel=4, pad=1");    /* [2, 2, 2] */
    int d = nr_conv(n, r, x, 3, 1, 1, 3, 3, 0, 0, 0, 0, 0, 1, "3, kernel=1, stride=3"); /* [3, 1, 1] */
    int e = nr_conv(n, r, x, 2, 4, 1, 1, 2, 1, 0, 0, 0, 0, 0,
                    "2, kernel=[4, 1], stride=[1, 2], pad=[1, 0, 0, 0], bias=false");
    int m = nr_pool(n, NR_MAXPOOL, c, 1, 1, 3, 3, 0, 0, 0, 0, 0, "1, stride=3"); /* [2, 1, 1] */
    int a = nr_simple(n, NR_GAP, m, 0);
    int g = nr_simple(n, NR_GAP, d, 0);
    int h = nr_simple(n, NR_FLATTEN, e, 0);
    int f = nr_dense(n, r, h, 2, 0, "2, bias=false");
    int s = nr_simple(n, NR_ADD, a, f);
    int t = nr_dense(n, r, g, 2, 1, "2");
    nr_simple(n, NR_ADD, s, t);
}

/* SAME pooling where the odd padding cell goes to the bottom/right, with stride < size */
EDGE(same_pooling_stride_smaller_than_size, 2)
{
    int x = nr_input(n, "x", 3, 2, 8, 7);
    int c = nr_conv(n, r, x, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, "2, kernel=1");
    int m = nr_pool(n, NR_MAXPOOL, c, 3, 3, 2, 2, 0, 0, 0, 0, 1, "3, stride=2, pad=same"); /* [2, 4, 4] */
    int a = nr_pool(n, NR_AVGPOOL, c, 3, 3, 2, 2, 0, 0, 0, 0, 1, "3, stride=2, pad=same");
    int s = nr_simple(n, NR_ADD, m, a);
    int b = nr_pool(n, NR_AVGPOOL, s, 3, 2, 1, 2, 1, 1, 1, 0, 0, "[3, 2], stride=[1, 2], pad=[1, 1, 1, 0]");
    nr_simple(n, NR_FLATTEN, b, 0);
}

/* global average pooling of a 1 x 1 map, dense of one feature */
EDGE(tiny_shapes, 3)
{
    int x = nr_input(n, "x", 3, 4, 1, 1);
    int g = nr_simple(n, NR_GAP, x, 0);
    int d = nr_dense(n, r, g, 1, 1, "1");
    int e = nr_dense(n, r, d, 3, 0, "3, bias=false");
    nr_simple(n, NR_SOFTMAX, e, 0);
}

/* a large batch with several live values at once (arena reuse across branches) */
EDGE(big_batch_branches, 17)
{
    int x = nr_input(n, "x", 3, 3, 9, 9);
    int c1 = nr_conv(n, r, x, 4, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1, "4, kernel=3, pad=1");
    int a1 = nr_simple(n, NR_RELU, c1, 0);
    int c2 = nr_conv(n, r, a1, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, "4, kernel=3, pad=same");
    int c3 = nr_conv(n, r, c1, 4, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, "4, kernel=1, bias=false");
    int s1 = nr_simple(n, NR_ADD, c2, c3);
    int b1 = nr_batchnorm(n, r, s1, 1e-5, "");
    int s2 = nr_simple(n, NR_ADD, b1, a1);
    int p1 = nr_pool(n, NR_MAXPOOL, s2, 2, 2, 2, 2, 0, 0, 0, 0, 1, "2, pad=same");        /* [4, 5, 5] */
    int p2 = nr_pool(n, NR_AVGPOOL, s2, 3, 3, 2, 2, 1, 1, 1, 1, 0, "3, stride=2, pad=1"); /* [4, 5, 5] */
    int s3 = nr_simple(n, NR_ADD, p1, p2);
    int f = nr_simple(n, NR_FLATTEN, s3, 0);
    int d1 = nr_dense(n, r, f, 6, 1, "6");
    int g = nr_simple(n, NR_GAP, c1, 0);
    int d2 = nr_dense(n, r, g, 6, 0, "6, bias=false");
    nr_simple(n, NR_ADD, d1, d2);
}
