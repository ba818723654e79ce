/* Kernels of the explanation ops (cg_backward.c) on hand-built IR graphs, JIT-compiled at -O0 and -O3
 * and compared with naive double-precision references written here: every elementwise expression kind,
 * sum pooling and its transpose, transposed dense / conv2d (also through the adjoint identity against
 * the forward kernels), max-pool gradient routing (ties, padding) and the output seeds. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "fuse.h"
#include "ir.h"
#include "jit.h"
#include "plan.h"
#include "xairt.h"

/* ---------------- building graphs ---------------- */

static ir_shape shp(int rank, int d0, int d1, int d2)
{
    ir_shape s = { rank, { d0, d1, d2, 0 } };
    return s;
}

/* A network whose only node is its input (its forward is a copy). */
static ir_graph *net_new(const char *name, ir_shape in)
{
    ir_graph *g = ir_graph_new(name);
    ir_node n = { 0 };
    n.op = OP_INPUT;
    n.name = "x";
    n.shape = in;
    g->input = g->output = ir_graph_add_node(g, &n);
    g->output_name = strdup("x");
    return g;
}

/* An explanation NET_e of net; node 0 is a copy of the network's input. */
static ir_graph *expl_new(ir_graph *net, const char *e)
{
    ir_graph *g = ir_graph_new(net->name);
    g->network = net;
    g->explain_name = strdup(e);
    g->input = g->output = ir_graph_add_node(g, &net->nodes[net->input]);
    return g;
}

/* Appends n (which becomes the graph's output). */
static int add(ir_graph *g, ir_node n)
{
    int i = ir_graph_add_node(g, &n);
    g->output = i;
    return i;
}

static ir_node node1(ir_op op, int in0, ir_shape s)
{
    ir_node n = { 0 };
    n.op = op;
    n.inputs[0] = in0;
    n.n_inputs = 1;
    n.shape = s;
    return n;
}

static ir_node node2(ir_op op, int in0, int in1, ir_shape s)
{
    ir_node n = node1(op, in0, s);
    n.inputs[1] = in1;
    n.n_inputs = 2;
    return n;
}

static ir_node window(ir_node n, int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr)
{
    n.kh = kh, n.kw = kw, n.sh = sh, n.sw = sw;
    n.pad_t = pt, n.pad_l = pl, n.pad_b = pb, n.pad_r = pr;
    return n;
}

/* elementwise expressions */
static ir_graph *G; /* graph the expression helpers allocate in */
static ir_ew *IN(int k) { return ir_ew_input(G, k); }
static ir_ew *NUM(double v) { return ir_ew_num(G, v); }
static ir_ew *E1(ir_ew_kind k, ir_ew *a) { return ir_ew_new(G, k, a, NULL); }
static ir_ew *E2(ir_ew_kind k, ir_ew *a, ir_ew *b) { return ir_ew_new(G, k, a, b); }
static ir_ew *STAB(ir_ew *a, double eps)
{
    ir_ew *e = ir_ew_new(G, EW_STAB, a, NULL);
    e->num = eps;
    return e;
}
static ir_ew *SEL(ir_ew *a, ir_ew *b, ir_ew *c)
{
    ir_ew *e = ir_ew_new(G, EW_SELECT, a, b);
    e->c = c;
    return e;
}
static ir_ew *CHAN(const ir_const *k)
{
    ir_ew *e = ir_ew_new(G, EW_CHANNEL, NULL, NULL);
    e->channel = k;
    return e;
}

static ir_node eltwise(ir_ew *e, int in0, int in1, ir_shape s)
{
    ir_node n = in1 < 0 ? node1(OP_ELTWISE, in0, s) : node2(OP_ELTWISE, in0, in1, s);
    n.expr = e;
    return n;
}

/* ---------------- random data ---------------- */

static uint64_t rng_state;
static double urand(void) /* [0, 1) */
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}
static double uni(double lo, double hi) { return lo + (hi - lo) * urand(); }

static float *rand_vec(int64_t n, double lo, double hi)
{
    float *v = malloc(sizeof(float) * (n ? n : 1));
    for (int64_t i = 0; i < n; i++) v[i] = (float)uni(lo, hi);
    return v;
}

/* values k/8 for integer k in [-12, 12]: exact in float, with many zeros, ties and +-0.5 */
static float *grid_vec(int64_t n)
{
    float *v = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) v[i] = (float)((int)(urand() * 25) - 12) / 8.0f;
    return v;
}

static ir_const *rand_const(ir_graph *g, const char *name, int rank, const int64_t *shape, double lo, double hi)
{
    ir_const *k = ir_graph_new_const(g, name, rank, shape);
    for (int64_t i = 0; i < k->count; i++) k->data[i] = (float)uni(lo, hi);
    return k;
}

/* ---------------- compiling and running ---------------- */

#define N_LEVELS 2
static const int levels[N_LEVELS] = { 0, 3 };

typedef struct rig {
    ir_graph *nets[64], *expls[128];
    int n_nets, n_expls;
    compilation c;
    xai_jit *jit[N_LEVELS];
} rig;

static ir_graph *rig_net(rig *r, const char *name, ir_shape in)
{
    cr_assert_lt(r->n_nets, 64);
    return r->nets[r->n_nets++] = net_new(name, in);
}

static ir_graph *rig_expl(rig *r, ir_graph *net, const char *e)
{
    cr_assert_lt(r->n_expls, 128);
    return G = r->expls[r->n_expls++] = expl_new(net, e);
}

/* plans (and lets the caller adjust them) */
static void rig_plan(rig *r)
{
    ir_module *m = calloc(1, sizeof *m);
    m->graphs = calloc(r->n_nets, sizeof *m->graphs);
    m->explanations = calloc(r->n_expls, sizeof *m->explanations);
    memcpy(m->graphs, r->nets, sizeof *r->nets * r->n_nets);
    memcpy(m->explanations, r->expls, sizeof *r->expls * r->n_expls);
    m->n_graphs = r->n_nets;
    m->n_explanations = r->n_expls;
    memset(&r->c, 0, sizeof r->c);
    r->c.ir = m;
    r->c.plans = calloc(r->n_nets + 1, sizeof *r->c.plans);
    r->c.explanation_plans = calloc(r->n_expls + 1, sizeof *r->c.explanation_plans);
    for (int i = 0; i < r->n_nets; i++) r->c.plans[i] = plan_graph(r->nets[i]);
    for (int i = 0; i < r->n_expls; i++) r->c.explanation_plans[i] = plan_graph(r->expls[i]);
}

static void rig_jit(rig *r)
{
    for (int l = 0; l < N_LEVELS; l++) {
        char *err = NULL;
        r->jit[l] = jit_create(&r->c, levels[l], &err);
        cr_assert_not_null(r->jit[l], "-O%d: %s", levels[l], err ? err : "?");
        /* the next jit_create makes its own target machine */
        LLVMDisposeTargetMachine(r->c.tm);
        r->c.tm = NULL;
    }
}

static void rig_compile(rig *r)
{
    rig_plan(r);
    rig_jit(r);
}

static void rig_free(rig *r)
{
    for (int l = 0; l < N_LEVELS; l++) jit_free(r->jit[l]);
    driver_free(&r->c);
}

typedef int (*expl_fn)(const float *x, const int32_t *target, float *out, int32_t batch, void *ws);
typedef size_t (*wsize_fn)(int32_t batch);

/* NET_e(x, target, out, batch, ws) at level l into a fresh buffer (pre-filled with NaN). */
static float *run_rc(rig *r, int l, const char *net, const char *e, const float *x, const int32_t *target, int batch,
                     int64_t out_count, int *rc)
{
    char name[256];
    snprintf(name, sizeof name, "%s_%s", net, e);
    expl_fn f = (expl_fn)jit_lookup(r->jit[l], name);
    cr_assert_not_null(f, "no symbol %s", name);
    snprintf(name, sizeof name, "%s_workspace_size", net);
    wsize_fn ws_size = (wsize_fn)jit_lookup(r->jit[l], name);
    cr_assert_not_null(ws_size);
    size_t bytes = ws_size(batch);
    void *ws = bytes ? aligned_alloc(64, (bytes + 63) / 64 * 64) : NULL;
    float *out = malloc(sizeof(float) * out_count * batch);
    for (int64_t i = 0; i < out_count * batch; i++) out[i] = NAN;
    *rc = f(x, target, out, batch, ws);
    free(ws);
    return out;
}

static float *run(rig *r, int l, const char *net, const char *e, const float *x, const int32_t *target, int batch,
                  int64_t out_count)
{
    int rc;
    float *out = run_rc(r, l, net, e, x, target, batch, out_count, &rc);
    cr_assert_eq(rc, XAI_OK, "%s_%s -O%d returned %d", net, e, levels[l], rc);
    return out;
}

/* max |got - ref| <= 1e-5 max |ref| + 1e-7 */
static int check(const float *got, const double *ref, int64_t n, const char *what, int l)
{
    double mref = 0, err = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        mref = fmax(mref, fabs(ref[i]));
        double e =
            isnan(got[i]) || isnan(ref[i]) ? (isnan(got[i]) && isnan(ref[i]) ? 0 : INFINITY) : fabs(got[i] - ref[i]);
        if (e > err) err = e, at = i;
    }
    int ok = err <= 1e-5 * mref + 1e-7;
    cr_expect(ok, "%s -O%d: max error %g at %lld (got %.9g, ref %.9g; max |ref| %g)", what, levels[l], err,
              (long long)at, got[at], ref[at], mref);
    return ok;
}

static double dot_ff(const float *a, const float *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* <A x, y> == <x, A^T y> up to float rounding: relative to sum |a_i b_i| */
static void check_adjoint(const float *ax, const float *y, int64_t ny, const float *x, const float *aty, int64_t nx,
                          const char *what, int l)
{
    double lhs = dot_ff(ax, y, ny), rhs = dot_ff(x, aty, nx), mag = 0;
    for (int64_t i = 0; i < ny; i++) mag += fabs((double)ax[i] * y[i]);
    for (int64_t i = 0; i < nx; i++) mag += fabs((double)x[i] * aty[i]);
    cr_expect(fabs(lhs - rhs) <= 1e-5 * mag + 1e-7, "%s -O%d: <Ax, y> = %.9g but <x, A^T y> = %.9g", what, levels[l],
              lhs, rhs);
}

/* ---------------- reference: elementwise expressions ---------------- */

static double ref_ew(const ir_ew *e, const double *in, int64_t ch)
{
    double a = e->a ? ref_ew(e->a, in, ch) : 0, b = e->b ? ref_ew(e->b, in, ch) : 0;
    switch (e->kind) {
    case EW_INPUT: return in[e->input];
    case EW_NUM: return (float)e->num;
    case EW_CHANNEL: return e->channel->data[ch];
    case EW_ADD: return a + b;
    case EW_SUB: return a - b;
    case EW_MUL: return a * b;
    case EW_DIV: return a / b;
    case EW_SAFEDIV: return b == 0 ? 0 : a / b;
    case EW_STAB: return a + (float)e->num * (a >= 0 ? 1 : -1);
    case EW_NEG: return -a;
    case EW_POS: return a > 0 ? a : 0;
    case EW_NEGPART: return a < 0 ? a : 0;
    case EW_ABS: return fabs(a);
    case EW_SIGN: return a < 0 ? -1 : 1; /* Zennit's convention: sign(0) = +1 */
    case EW_STEP: return a > 0;
    case EW_EXP: return exp(a);
    case EW_TANH: return tanh(a);
    case EW_SIGMOID: return 1 / (1 + exp(-a));
    case EW_LOG: return log(a);
    case EW_SQRT: return sqrt(a);
    case EW_ERF: return erf(a);
    case EW_GT: return a > b;
    case EW_LT: return a < b;
    case EW_GE: return a >= b;
    case EW_LE: return a <= b;
    case EW_EQ: return a == b;
    case EW_NE: return a != b;
    case EW_SELECT: return a != 0 ? b : ref_ew(e->c, in, ch);
    }
    return NAN;
}

/* ---------------- elementwise tests ---------------- */

/* Every expression kind, each as NET_<name>: out = expr($0 = x, $1 = y) with y = x*x - 1/4 computed by a
 * first eltwise node. x on a grid of eighths, so y is exact, x and y have exact zeros (x = 0, y at
 * x = +-1/2) and comparisons have ties. */
Test(backward_kernels, eltwise_every_kind, .timeout = 120)
{
    static rig r;
    ir_shape s = shp(3, 3, 4, 5);
    int64_t count = 60;
    ir_graph *net = rig_net(&r, "ew", s);
    const char *names[64];
    ir_ew *ys[64], *exprs[64];
    int n = 0;
#define CASE(NAME, EXPR)                                                                                               \
    do {                                                                                                               \
        ir_graph *e = rig_expl(&r, net, NAME);                                                                         \
        ir_ew *y = E2(EW_SUB, E2(EW_MUL, IN(0), IN(0)), NUM(0.25));                                                    \
        int iy = add(e, eltwise(y, 0, -1, s));                                                                         \
        ir_ew *ex = (EXPR);                                                                                            \
        add(e, eltwise(ex, 0, iy, s));                                                                                 \
        names[n] = NAME, ys[n] = y, exprs[n++] = ex;                                                                   \
    } while (0)
    CASE("add", E2(EW_ADD, IN(0), IN(1)));
    CASE("sub", E2(EW_SUB, IN(0), IN(1)));
    CASE("mul", E2(EW_MUL, IN(0), IN(1)));
    CASE("div", E2(EW_DIV, IN(0), E2(EW_ADD, IN(1), NUM(0.375))));
    CASE("safediv_xy", E2(EW_SAFEDIV, IN(0), IN(1))); /* y == 0 at x = +-0.5 */
    CASE("safediv_yx", E2(EW_SAFEDIV, IN(1), IN(0))); /* -0.25 / 0 */
    CASE("safediv_xx", E2(EW_SAFEDIV, IN(0), IN(0))); /* 0 / 0 */
    CASE("stab", STAB(IN(0), 0.5));                   /* stab(0) = +0.5 */
    CASE("stab_neg", STAB(E1(EW_NEG, IN(0)), 1e-3));  /* -0.0 counts as >= 0 */
    CASE("neg", E1(EW_NEG, IN(1)));
    CASE("pos", E1(EW_POS, IN(0)));
    CASE("negpart", E1(EW_NEGPART, IN(0)));
    CASE("abs", E1(EW_ABS, IN(0)));
    CASE("sign", E1(EW_SIGN, IN(0)));
    CASE("sign_y", E1(EW_SIGN, IN(1)));
    CASE("step", E1(EW_STEP, IN(0)));
    CASE("exp", E1(EW_EXP, IN(0)));
    CASE("tanh", E1(EW_TANH, IN(0)));
    CASE("tanh_y", E1(EW_TANH, E2(EW_MUL, IN(1), NUM(40)))); /* saturates both ways */
    CASE("sigmoid", E1(EW_SIGMOID, IN(1)));
    CASE("log", E1(EW_LOG, E2(EW_ADD, E1(EW_ABS, IN(0)), NUM(0.5))));
    CASE("sqrt", E1(EW_SQRT, E1(EW_ABS, IN(1))));
    CASE("erf", E1(EW_ERF, IN(1)));
    CASE("erf_big", E1(EW_ERF, E2(EW_MUL, IN(1), NUM(40)))); /* saturates both ways */
    CASE("gt", E2(EW_GT, IN(0), IN(1)));
    CASE("lt", E2(EW_LT, IN(0), IN(1)));
    CASE("ge", E2(EW_GE, IN(0), NUM(0.5)));
    CASE("le", E2(EW_LE, IN(0), NUM(-0.5)));
    CASE("eq", E2(EW_EQ, IN(0), NUM(0.5)));
    CASE("ne", E2(EW_NE, IN(0), NUM(0)));
    CASE("gt_tie", E2(EW_GT, IN(0), NUM(0.5)));
    CASE("lt_tie", E2(EW_LT, IN(0), NUM(0.5)));
    CASE("select", SEL(E2(EW_GT, IN(0), NUM(0)), IN(1), E1(EW_NEG, IN(0))));
    CASE("select_raw", SEL(IN(0), IN(1), NUM(3))); /* x == 0 picks the third operand */
    CASE("num", NUM(-2.5));
    CASE("lrp_eps", E2(EW_MUL, IN(0), E2(EW_SAFEDIV, IN(1), STAB(IN(0), 0.25))));
    { /* a subexpression shared twice (a DAG) */
        ir_graph *e = rig_expl(&r, net, "shared");
        ir_ew *y = E2(EW_SUB, E2(EW_MUL, IN(0), IN(0)), NUM(0.25));
        int iy = add(e, eltwise(y, 0, -1, s));
        ir_ew *t = E2(EW_ADD, IN(0), IN(1));
        ir_ew *ex = E2(EW_MUL, t, E1(EW_EXP, E1(EW_NEG, E1(EW_ABS, t))));
        add(e, eltwise(ex, 0, iy, s));
        names[n] = "shared", ys[n] = y, exprs[n++] = ex;
    }
#undef CASE
    rig_compile(&r);
    const int batch = 3;
    rng_state = 11;
    float *x = grid_vec(count * batch);
    x[0] = 0, x[1] = 0.5f, x[2] = -0.5f, x[3] = -0.0f;
    double *ref = malloc(sizeof(double) * count * batch);
    for (int k = 0; k < n; k++) {
        for (int64_t i = 0; i < count * batch; i++) {
            double in[2] = { x[i], 0 };
            in[1] = ref_ew(ys[k], in, 0);
            ref[i] = ref_ew(exprs[k], in, 0);
        }
        for (int l = 0; l < N_LEVELS; l++) {
            float *out = run(&r, l, "ew", names[k], x, NULL, batch, count);
            check(out, ref, count * batch, names[k], l);
            for (int64_t i = 0; i < count * batch; i++)
                cr_expect(!isnan(out[i]), "%s -O%d: NaN at %lld", names[k], levels[l], (long long)i);
            free(out);
        }
    }
    /* spot checks of the edge cases, independent of ref_ew */
    for (int l = 0; l < N_LEVELS; l++) {
        float *o = run(&r, l, "ew", "safediv_xx", x, NULL, batch, count);
        cr_expect_eq(o[0], 0.0f);
        cr_expect_eq(o[1], 1.0f);
        free(o);
        o = run(&r, l, "ew", "safediv_xy", x, NULL, batch, count);
        cr_expect_eq(o[1], 0.0f);
        cr_expect_eq(o[2], 0.0f);
        free(o);
        o = run(&r, l, "ew", "stab", x, NULL, batch, count);
        cr_expect_eq(o[0], 0.5f);
        cr_expect_eq(o[3], 0.5f);
        free(o);
        o = run(&r, l, "ew", "sign", x, NULL, batch, count); /* sign(0) = sign(-0.0) = +1, as the stabiliser */
        cr_expect_eq(o[0], 1.0f);
        cr_expect_eq(o[1], 1.0f);
        cr_expect_eq(o[2], -1.0f);
        cr_expect_eq(o[3], 1.0f);
        free(o);
        o = run(&r, l, "ew", "select_raw", x, NULL, batch, count);
        cr_expect_eq(o[0], 3.0f);
        cr_expect_eq(o[1], 0.0f); /* y(0.5) = 0 */
        free(o);
    }
    free(ref);
    free(x);
    rig_free(&r);
}

/* Random data through a longer chain (three eltwise nodes, three inputs to the last). */
Test(backward_kernels, eltwise_random_chain)
{
    static rig r;
    ir_shape s = shp(1, 1000, 0, 0);
    ir_graph *net = rig_net(&r, "ch", s);
    ir_graph *e = rig_expl(&r, net, "e");
    ir_ew *y = E2(EW_MUL, IN(0), NUM(-1.75));
    int iy = add(e, eltwise(y, 0, -1, s));
    ir_ew *z = E1(EW_EXP, E2(EW_MUL, IN(0), IN(1)));
    int iz = add(e, eltwise(z, 0, iy, s));
    ir_ew *f = E2(EW_SAFEDIV, E2(EW_MUL, IN(2), E1(EW_POS, IN(1))), STAB(E2(EW_ADD, IN(0), IN(1)), 1e-2));
    ir_node n = eltwise(f, 0, iy, s);
    n.inputs[2] = iz;
    n.n_inputs = 3;
    add(e, n);
    rig_compile(&r);
    const int batch = 3;
    rng_state = 5;
    float *x = rand_vec(1000 * batch, -1, 1);
    double *ref = malloc(sizeof(double) * 1000 * batch);
    for (int64_t i = 0; i < 1000 * batch; i++) {
        double in[3] = { x[i], 0, 0 };
        in[1] = ref_ew(y, in, 0);
        double yz[2] = { x[i], in[1] };
        in[2] = ref_ew(z, yz, 0);
        ref[i] = ref_ew(f, in, 0);
    }
    for (int l = 0; l < N_LEVELS; l++) {
        float *out = run(&r, l, "ch", "e", x, NULL, batch, 1000);
        check(out, ref, 1000 * batch, "chain", l);
        free(out);
    }
    free(ref);
    free(x);
    rig_free(&r);
}

/* EW_CHANNEL on [C, H, W], [C] and [C, 1, 1]. */
Test(backward_kernels, eltwise_channel)
{
    static rig r;
    struct {
        ir_shape s;
        const char *name;
    } cases[3] = { { shp(3, 3, 4, 5), "c3" }, { shp(1, 7, 0, 0), "c1" }, { shp(3, 4, 1, 1), "c311" } };
    ir_ew *exprs[3];
    for (int k = 0; k < 3; k++) {
        ir_graph *net = rig_net(&r, cases[k].name, cases[k].s);
        ir_graph *e = rig_expl(&r, net, "e");
        int64_t C = cases[k].s.dims[0];
        ir_const *scale = rand_const(e, "scale", 1, &C, -2, 2), *shift = rand_const(e, "shift", 1, &C, -1, 1);
        exprs[k] = E2(EW_ADD, E2(EW_MUL, IN(0), CHAN(scale)), E1(EW_NEG, CHAN(shift)));
        add(e, eltwise(exprs[k], 0, -1, cases[k].s));
    }
    rig_compile(&r);
    const int batch = 3;
    rng_state = 9;
    for (int k = 0; k < 3; k++) {
        int64_t count = ir_shape_count(&cases[k].s), inner = count / cases[k].s.dims[0];
        float *x = rand_vec(count * batch, -1, 1);
        double *ref = malloc(sizeof(double) * count * batch);
        for (int64_t i = 0; i < count * batch; i++) {
            double in[1] = { x[i] };
            ref[i] = ref_ew(exprs[k], in, (i % count) / inner);
        }
        for (int l = 0; l < N_LEVELS; l++) {
            float *out = run(&r, l, cases[k].name, "e", x, NULL, batch, count);
            check(out, ref, count * batch, cases[k].name, l);
            free(out);
        }
        free(ref);
        free(x);
    }
    rig_free(&r);
}

/* out == in[0]: the plan is adjusted so that the second eltwise node overwrites the first one's slot. */
Test(backward_kernels, eltwise_in_place)
{
    static rig r;
    ir_shape s = shp(3, 2, 5, 7);
    int64_t count = 70;
    ir_graph *net = rig_net(&r, "ip", s);
    ir_graph *e = rig_expl(&r, net, "e");
    ir_ew *y = E2(EW_ADD, E2(EW_MUL, IN(0), NUM(2)), NUM(0.5));
    int iy = add(e, eltwise(y, 0, -1, s));
    /* reads y (in place) and x; the results depend on the element's own y and x only */
    ir_ew *z = E2(EW_SUB, E2(EW_MUL, IN(0), IN(0)), IN(1));
    int iz = add(e, eltwise(z, iy, 0, s));
    add(e, eltwise(E2(EW_MUL, IN(0), NUM(1)), iz, -1, s));
    rig_plan(&r);
    graph_plan *p = r.c.explanation_plans[0];
    cr_assert_eq(p->values[iy].kind, LOC_ARENA);
    cr_assert_eq(p->values[iz].kind, LOC_ARENA);
    p->values[iz] = p->values[iy];
    rig_jit(&r);
    const int batch = 3;
    rng_state = 3;
    float *x = rand_vec(count * batch, -1, 1);
    double *ref = malloc(sizeof(double) * count * batch);
    for (int64_t i = 0; i < count * batch; i++) {
        double yv = 2.0 * x[i] + 0.5;
        ref[i] = yv * yv - x[i];
    }
    for (int l = 0; l < N_LEVELS; l++) {
        float *out = run(&r, l, "ip", "e", x, NULL, batch, count);
        check(out, ref, count * batch, "in place", l);
        free(out);
    }
    free(ref);
    free(x);
    rig_free(&r);
}

/* ---------------- pooling ---------------- */

typedef struct geom {
    int C, H, W, kh, kw, sh, sw, pt, pl, pb, pr, global;
} geom;

static void same_pad(int in, int k, int s, int *lo, int *hi)
{
    int out = (in + s - 1) / s, total = (out - 1) * s + k - in;
    if (total < 0) total = 0;
    *lo = total / 2;
    *hi = total - *lo;
}

static geom tf_same(int C, int H, int W, int k, int s)
{
    geom g = { C, H, W, k, k, s, s, 0, 0, 0, 0, 0 };
    same_pad(H, k, s, &g.pt, &g.pb);
    same_pad(W, k, s, &g.pl, &g.pr);
    return g;
}

static int out_h(const geom *g) { return g->global ? 1 : (g->H + g->pt + g->pb - g->kh) / g->sh + 1; }
static int out_w(const geom *g) { return g->global ? 1 : (g->W + g->pl + g->pr - g->kw) / g->sw + 1; }
static ir_shape pooled_shape(const geom *g)
{
    return g->global ? shp(1, g->C, 0, 0) : shp(3, g->C, out_h(g), out_w(g));
}

static ir_node pool_node(ir_op op, int in0, const geom *g, ir_const *scale)
{
    ir_shape in = shp(3, g->C, g->H, g->W);
    ir_node n = node1(op, in0, op == OP_SUMPOOL ? pooled_shape(g) : in);
    n = window(n, g->kh, g->kw, g->sh, g->sw, g->pt, g->pl, g->pb, g->pr);
    n.in_shape = in;
    n.global = g->global;
    n.weight = scale;
    return n;
}

/* sumpool in double: out[c, k] = scale[k] * sum of the valid cells of window k */
static void ref_sumpool(const geom *g, const float *scale, const double *x, double *y, int batch)
{
    int OH = out_h(g), OW = out_w(g), kh = g->global ? g->H : g->kh, kw = g->global ? g->W : g->kw;
    for (int p = 0; p < batch * g->C; p++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                double s = 0;
                for (int ky = 0; ky < kh; ky++)
                    for (int kx = 0; kx < kw; kx++) {
                        int iy = g->global ? ky : oy * g->sh + ky - g->pt,
                            ix = g->global ? kx : ox * g->sw + kx - g->pl;
                        if (iy >= 0 && iy < g->H && ix >= 0 && ix < g->W) s += x[((int64_t)p * g->H + iy) * g->W + ix];
                    }
                y[((int64_t)p * OH + oy) * OW + ox] = scale[oy * OW + ox] * s;
            }
}

/* the transpose, written as a scatter */
static void ref_sumpool_t(const geom *g, const float *scale, const double *s, double *out, int batch)
{
    int OH = out_h(g), OW = out_w(g), kh = g->global ? g->H : g->kh, kw = g->global ? g->W : g->kw;
    memset(out, 0, sizeof(double) * batch * g->C * g->H * g->W);
    for (int p = 0; p < batch * g->C; p++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int ky = 0; ky < kh; ky++)
                    for (int kx = 0; kx < kw; kx++) {
                        int iy = g->global ? ky : oy * g->sh + ky - g->pt,
                            ix = g->global ? kx : ox * g->sw + kx - g->pl;
                        if (iy >= 0 && iy < g->H && ix >= 0 && ix < g->W)
                            out[((int64_t)p * g->H + iy) * g->W + ix] +=
                                scale[oy * OW + ox] * s[((int64_t)p * OH + oy) * OW + ox];
                    }
}

static double *to_double(const float *v, int64_t n)
{
    double *d = malloc(sizeof(double) * n);
    for (int64_t i = 0; i < n; i++) d[i] = v[i];
    return d;
}

static const geom pool_geoms[] = {
    { 2, 6, 6, 2, 2, 2, 2, 0, 0, 0, 0, 0 }, { 3, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 0 },
    { 2, 9, 8, 3, 2, 3, 2, 1, 0, 1, 1, 0 }, { 1, 5, 7, 1, 1, 1, 1, 0, 0, 0, 0, 0 },
    { 2, 8, 8, 1, 1, 2, 3, 0, 0, 0, 0, 0 }, { 2, 10, 11, 3, 3, 3, 3, 0, 0, 0, 0, 0 },
    { 1, 4, 9, 2, 3, 1, 2, 1, 1, 0, 1, 0 }, { 3, 6, 6, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, /* global */
    { 1, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 1 },                                         /* global */
};

/* SUMPOOL and SUMPOOL_T against the references and the adjoint identity; TF SAME geometries with
 * asymmetric padding (odd pixel at the bottom/right) included. */
Test(backward_kernels, sumpool_and_transpose, .timeout = 120)
{
    static rig r;
    geom gs[32];
    int ng = 0;
    for (size_t k = 0; k < sizeof pool_geoms / sizeof *pool_geoms; k++) gs[ng++] = pool_geoms[k];
    gs[ng++] = tf_same(2, 5, 5, 2, 2);
    gs[ng++] = tf_same(2, 7, 6, 3, 2);
    gs[ng++] = tf_same(1, 6, 7, 3, 3);
    gs[ng++] = tf_same(3, 8, 5, 2, 1);
    gs[ng++] = tf_same(1, 4, 4, 3, 1);
    ir_const *scales[32];
    rng_state = 21;
    for (int k = 0; k < ng; k++) {
        const geom *g = &gs[k];
        char name[32];
        snprintf(name, sizeof name, "spa%d", k);
        ir_graph *na = rig_net(&r, name, shp(3, g->C, g->H, g->W));
        ir_graph *ea = rig_expl(&r, na, "e");
        int64_t ns = g->global ? 1 : (int64_t)out_h(g) * out_w(g);
        scales[k] = rand_const(ea, "scale", 1, &ns, 0.1, 2);
        add(ea, pool_node(OP_SUMPOOL, 0, g, scales[k]));
        snprintf(name, sizeof name, "spb%d", k);
        ir_graph *nb = rig_net(&r, name, pooled_shape(g));
        ir_graph *eb = rig_expl(&r, nb, "e");
        add(eb, pool_node(OP_SUMPOOL_T, 0, g, scales[k]));
    }
    rig_compile(&r);
    const int batch = 3;
    for (int k = 0; k < ng; k++) {
        const geom *g = &gs[k];
        int64_t nx = (int64_t)g->C * g->H * g->W, ny = (int64_t)g->C * out_h(g) * out_w(g);
        float *x = rand_vec(nx * batch, -1, 1), *y = rand_vec(ny * batch, -1, 1);
        double *xd = to_double(x, nx * batch), *yd = to_double(y, ny * batch);
        double *ref_y = malloc(sizeof(double) * ny * batch), *ref_x = malloc(sizeof(double) * nx * batch);
        ref_sumpool(g, scales[k]->data, xd, ref_y, batch);
        ref_sumpool_t(g, scales[k]->data, yd, ref_x, batch);
        char na[32], nb[32], what[128];
        snprintf(na, sizeof na, "spa%d", k);
        snprintf(nb, sizeof nb, "spb%d", k);
        snprintf(what, sizeof what, "geometry %d: C%d %dx%d k%dx%d s%dx%d pad %d,%d,%d,%d%s", k, g->C, g->H, g->W,
                 g->kh, g->kw, g->sh, g->sw, g->pt, g->pl, g->pb, g->pr, g->global ? " global" : "");
        for (int l = 0; l < N_LEVELS; l++) {
            float *py = run(&r, l, na, "e", x, NULL, batch, ny);
            float *px = run(&r, l, nb, "e", y, NULL, batch, nx);
            check(py, ref_y, ny * batch, what, l);
            check(px, ref_x, nx * batch, what, l);
            check_adjoint(py, y, ny * batch, x, px, nx * batch, what, l);
            free(py);
            free(px);
        }
        free(x), free(y), free(xd), free(yd), free(ref_x), free(ref_y);
    }
    rig_free(&r);
}

/* ---------------- max-pool gradient routing ---------------- */

/* out zero except: r[c, k] added to the first maximum of window k over its valid cells */
static void ref_maxpool_t(const geom *g, const double *r, const float *x, double *out, int batch)
{
    int OH = out_h(g), OW = out_w(g);
    memset(out, 0, sizeof(double) * batch * g->C * g->H * g->W);
    for (int p = 0; p < batch * g->C; p++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                int64_t best = -1;
                for (int ky = 0; ky < g->kh; ky++)
                    for (int kx = 0; kx < g->kw; kx++) {
                        int iy = oy * g->sh + ky - g->pt, ix = ox * g->sw + kx - g->pl;
                        if (iy < 0 || iy >= g->H || ix < 0 || ix >= g->W) continue;
                        int64_t at = ((int64_t)p * g->H + iy) * g->W + ix;
                        if (best < 0 || x[at] > x[best]) best = at;
                    }
                if (best >= 0) out[best] += r[((int64_t)p * OH + oy) * OW + ox];
            }
}

/* r = sumpool(x) with random scales (so it is derived from the single input), routed by maxpool_t.
 * x on a coarse integer grid (ties in most windows), once positive and once all negative (padding cells
 * must not act as zeros). */
Test(backward_kernels, maxpool_t_ties_and_padding, .timeout = 120)
{
    static rig r;
    geom gs[16];
    int ng = 0;
    gs[ng++] = (geom){ 2, 6, 6, 2, 2, 2, 2, 0, 0, 0, 0, 0 };
    gs[ng++] = (geom){ 2, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1, 0 };
    gs[ng++] = (geom){ 1, 6, 5, 3, 3, 1, 1, 1, 1, 1, 1, 0 }; /* overlapping windows */
    gs[ng++] = (geom){ 3, 5, 8, 2, 2, 1, 1, 0, 0, 0, 0, 0 };
    gs[ng++] = (geom){ 2, 9, 7, 3, 2, 3, 2, 1, 0, 1, 1, 0 };
    gs[ng++] = tf_same(2, 5, 5, 2, 2);
    gs[ng++] = tf_same(1, 7, 6, 3, 2);
    gs[ng++] = tf_same(2, 6, 6, 3, 1);
    ir_const *scales[16];
    rng_state = 33;
    for (int k = 0; k < ng; k++) {
        const geom *g = &gs[k];
        char name[32];
        snprintf(name, sizeof name, "mp%d", k);
        ir_graph *net = rig_net(&r, name, shp(3, g->C, g->H, g->W));
        ir_graph *e = rig_expl(&r, net, "e");
        int64_t ns = (int64_t)out_h(g) * out_w(g);
        scales[k] = rand_const(e, "scale", 1, &ns, 0.5, 1.5);
        int ir_ = add(e, pool_node(OP_SUMPOOL, 0, g, scales[k]));
        ir_node m = node2(OP_MAXPOOL_T, ir_, 0, shp(3, g->C, g->H, g->W));
        m = window(m, g->kh, g->kw, g->sh, g->sw, g->pt, g->pl, g->pb, g->pr);
        m.in_shape = m.shape;
        add(e, m);
    }
    rig_compile(&r);
    const int batch = 3;
    for (int k = 0; k < ng; k++)
        for (int sign = 0; sign < 2; sign++) {
            const geom *g = &gs[k];
            int64_t nx = (int64_t)g->C * g->H * g->W, nr = (int64_t)g->C * out_h(g) * out_w(g);
            float *x = malloc(sizeof(float) * nx * batch);
            for (int64_t i = 0; i < nx * batch; i++) x[i] = (float)((int)(urand() * 3) + (sign ? -5 : 1));
            double *xd = to_double(x, nx * batch), *rr = malloc(sizeof(double) * nr * batch);
            double *ref = malloc(sizeof(double) * nx * batch);
            ref_sumpool(g, scales[k]->data, xd, rr, batch);
            ref_maxpool_t(g, rr, x, ref, batch);
            char name[32], what[128];
            snprintf(name, sizeof name, "mp%d", k);
            snprintf(what, sizeof what, "maxpool_t geometry %d (%s x)", k, sign ? "negative" : "positive");
            for (int l = 0; l < N_LEVELS; l++) {
                float *out = run(&r, l, name, "e", x, NULL, batch, nx);
                check(out, ref, nx * batch, what, l);
                /* exactly the winners are non-zero (r > 0 everywhere) */
                for (int64_t i = 0; i < nx * batch; i++)
                    cr_expect_eq(out[i] != 0, ref[i] != 0, "%s -O%d: cell %lld", what, levels[l], (long long)i);
                free(out);
            }
            free(x), free(xd), free(rr), free(ref);
        }
    rig_free(&r);
}

/* A hand-checked case: one 1x4 plane, windows of 2 with stride 1 over x = [1, 3, 3, 2], r = [4, 60, 500]:
 * window 0 (cells 0, 1) picks cell 1; window 1 (cells 1, 2, a tie) picks the first, cell 1; window 2
 * (cells 2, 3) picks cell 2. */
Test(backward_kernels, maxpool_t_first_maximum_wins)
{
    static rig r;
    geom g = { 1, 1, 4, 1, 2, 1, 1, 0, 0, 0, 0, 0 };
    ir_graph *net = rig_net(&r, "mpf", shp(3, 1, 1, 4));
    ir_graph *e = rig_expl(&r, net, "e");
    int64_t ns = 3;
    ir_const *scale = ir_graph_new_const(e, "scale", 1, &ns);
    scale->data[0] = 1, scale->data[1] = 10, scale->data[2] = 100;
    int ir_ = add(e, pool_node(OP_SUMPOOL, 0, &g, scale)); /* r = [4, 60, 500] */
    ir_node m = window(node2(OP_MAXPOOL_T, ir_, 0, shp(3, 1, 1, 4)), 1, 2, 1, 1, 0, 0, 0, 0);
    m.in_shape = m.shape;
    add(e, m);
    rig_compile(&r);
    float x[4] = { 1, 3, 3, 2 };
    for (int l = 0; l < N_LEVELS; l++) {
        float *out = run(&r, l, "mpf", "e", x, NULL, 1, 4);
        cr_expect_eq(out[0], 0.0f);
        cr_expect_eq(out[1], 64.0f, "-O%d: %g", levels[l], out[1]);
        cr_expect_eq(out[2], 500.0f, "-O%d: %g", levels[l], out[2]);
        cr_expect_eq(out[3], 0.0f);
        free(out);
    }
    rig_free(&r);
}

/* ---------------- transposed dense ---------------- */

/* NET_f = dense(x) (the forward kernel, no bias) on [in]; NET2_t = dense_t(y) on [units]; also
 * dense_t(pos(y)) so that many s values are exactly zero. 13 samples: two full tiles of 6 (dense and dense_t)
 * and one left over; 600 units: three of dense_t's row blocks of 256. */
Test(backward_kernels, dense_t_reference_and_adjoint)
{
    static rig r;
    int dims[][2] = { { 37, 13 }, { 64, 10 }, { 1, 5 }, { 300, 1 }, { 129, 33 }, { 70, 600 } };
    int nd = sizeof dims / sizeof *dims;
    ir_const *ws[8];
    rng_state = 44;
    for (int k = 0; k < nd; k++) {
        int in = dims[k][0], units = dims[k][1];
        char name[32];
        snprintf(name, sizeof name, "da%d", k);
        ir_graph *na = rig_net(&r, name, shp(1, in, 0, 0));
        ir_graph *ef = rig_expl(&r, na, "f");
        int64_t wshape[2] = { units, in };
        ws[k] = rand_const(ef, "w", 2, wshape, -1, 1);
        ir_node d = node1(OP_DENSE, 0, shp(1, units, 0, 0));
        d.units = units;
        d.weight = ws[k];
        add(ef, d);
        snprintf(name, sizeof name, "db%d", k);
        ir_graph *nb = rig_net(&r, name, shp(1, units, 0, 0));
        ir_graph *et = rig_expl(&r, nb, "t");
        ir_node t = node1(OP_DENSE_T, 0, shp(1, in, 0, 0));
        t.units = units;
        t.weight = ws[k];
        t.in_shape = t.shape;
        add(et, t);
        ir_graph *ep = rig_expl(&r, nb, "tpos");
        int ip = add(ep, eltwise(E1(EW_POS, IN(0)), 0, -1, shp(1, units, 0, 0)));
        t.inputs[0] = ip;
        add(ep, t);
    }
    rig_compile(&r);
    const int batch = 13;
    for (int k = 0; k < nd; k++) {
        int in = dims[k][0], units = dims[k][1];
        float *x = rand_vec((int64_t)in * batch, -1, 1), *y = rand_vec((int64_t)units * batch, -1, 1);
        double *ref = malloc(sizeof(double) * in * batch), *refp = malloc(sizeof(double) * in * batch);
        const float *W = ws[k]->data;
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < in; i++) {
                double s = 0, sp = 0;
                for (int j = 0; j < units; j++) {
                    double yj = y[b * units + j];
                    s += (double)W[(int64_t)j * in + i] * yj;
                    sp += (double)W[(int64_t)j * in + i] * (yj > 0 ? yj : 0);
                }
                ref[b * in + i] = s;
                refp[b * in + i] = sp;
            }
        char na[32], nb[32], what[64];
        snprintf(na, sizeof na, "da%d", k);
        snprintf(nb, sizeof nb, "db%d", k);
        snprintf(what, sizeof what, "dense_t %d -> %d", units, in);
        for (int l = 0; l < N_LEVELS; l++) {
            float *ax = run(&r, l, na, "f", x, NULL, batch, units);
            float *aty = run(&r, l, nb, "t", y, NULL, batch, in);
            float *atp = run(&r, l, nb, "tpos", y, NULL, batch, in);
            check(aty, ref, (int64_t)in * batch, what, l);
            check(atp, refp, (int64_t)in * batch, what, l);
            check_adjoint(ax, y, (int64_t)units * batch, x, aty, (int64_t)in * batch, what, l);
            free(ax), free(aty), free(atp);
        }
        free(x), free(y), free(ref), free(refp);
    }
    rig_free(&r);
}

/* ---------------- transposed conv2d ---------------- */

typedef struct cgeom {
    int CI, H, W, CO, kh, kw, sh, sw, pt, pl, pb, pr;
} cgeom;

static int c_oh(const cgeom *g) { return (g->H + g->pt + g->pb - g->kh) / g->sh + 1; }
static int c_ow(const cgeom *g) { return (g->W + g->pl + g->pr - g->kw) / g->sw + 1; }

static cgeom conv_same(int CI, int H, int W, int CO, int k, int s)
{
    cgeom g = { CI, H, W, CO, k, k, s, s, 0, 0, 0, 0 };
    same_pad(H, k, s, &g.pt, &g.pb);
    same_pad(W, k, s, &g.pl, &g.pr);
    return g;
}

static ir_node conv_node(ir_op op, int in0, const cgeom *g, ir_const *w)
{
    ir_shape in = shp(3, g->CI, g->H, g->W);
    ir_node n = node1(op, in0, op == OP_CONV2D ? shp(3, g->CO, c_oh(g), c_ow(g)) : in);
    n = window(n, g->kh, g->kw, g->sh, g->sw, g->pt, g->pl, g->pb, g->pr);
    n.units = g->CO;
    n.weight = w;
    n.in_shape = in;
    return n;
}

Test(backward_kernels, conv2d_t_reference_and_adjoint, .timeout = 120)
{
    static rig r;
    cgeom gs[16];
    int ng = 0;
    gs[ng++] = (cgeom){ 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1 };
    gs[ng++] = (cgeom){ 2, 7, 9, 3, 3, 2, 2, 3, 0, 1, 1, 0 };
    gs[ng++] = (cgeom){ 2, 8, 8, 3, 3, 3, 2, 2, 0, 0, 0, 0 }; /* last row / column never touched */
    gs[ng++] = (cgeom){ 4, 5, 6, 5, 1, 1, 1, 1, 0, 0, 0, 0 }; /* 1x1 */
    gs[ng++] = (cgeom){ 1, 6, 6, 2, 5, 5, 1, 1, 2, 2, 2, 2 };
    gs[ng++] = (cgeom){ 3, 10, 7, 2, 2, 3, 3, 1, 0, 0, 0, 0 };
    gs[ng++] = (cgeom){ 2, 4, 4, 2, 3, 3, 1, 1, 3, 3, 3, 3 }; /* padding wider than the input reach */
    gs[ng++] = conv_same(3, 7, 7, 4, 3, 2);                   /* asymmetric SAME padding */
    gs[ng++] = conv_same(2, 6, 5, 3, 2, 1);
    gs[ng++] = conv_same(8, 12, 12, 16, 3, 1);
    /* rows wide enough for whole stride-2 vectors (loads + shuffle, shuffles + masked stores; cg_vec.h) and
     * border ones: ResNet's 3x3 / 1x1 stride-2 convs */
    gs[ng++] = (cgeom){ 3, 5, 41, 4, 3, 3, 2, 2, 1, 1, 1, 1 };
    gs[ng++] = (cgeom){ 4, 4, 36, 3, 1, 1, 2, 2, 0, 0, 0, 0 };
    ir_const *ws[16];
    rng_state = 55;
    for (int k = 0; k < ng; k++) {
        const cgeom *g = &gs[k];
        char name[32];
        snprintf(name, sizeof name, "ca%d", k);
        ir_graph *na = rig_net(&r, name, shp(3, g->CI, g->H, g->W));
        ir_graph *ef = rig_expl(&r, na, "f");
        int64_t wshape[4] = { g->CO, g->CI, g->kh, g->kw };
        ws[k] = rand_const(ef, "w", 4, wshape, -1, 1);
        add(ef, conv_node(OP_CONV2D, 0, g, ws[k]));
        snprintf(name, sizeof name, "cb%d", k);
        ir_graph *nb = rig_net(&r, name, shp(3, g->CO, c_oh(g), c_ow(g)));
        ir_graph *et = rig_expl(&r, nb, "t");
        add(et, conv_node(OP_CONV2D_T, 0, g, ws[k]));
    }
    rig_compile(&r);
    const int batch = 3;
    for (int k = 0; k < ng; k++) {
        const cgeom *g = &gs[k];
        int OH = c_oh(g), OW = c_ow(g);
        int64_t nx = (int64_t)g->CI * g->H * g->W, ny = (int64_t)g->CO * OH * OW;
        float *x = rand_vec(nx * batch, -1, 1), *y = rand_vec(ny * batch, -1, 1);
        double *ref = calloc(nx * batch, sizeof(double));
        const float *W = ws[k]->data;
        for (int b = 0; b < batch; b++)
            for (int co = 0; co < g->CO; co++)
                for (int ci = 0; ci < g->CI; ci++)
                    for (int ky = 0; ky < g->kh; ky++)
                        for (int kx = 0; kx < g->kw; kx++)
                            for (int oy = 0; oy < OH; oy++)
                                for (int ox = 0; ox < OW; ox++) {
                                    int iy = oy * g->sh + ky - g->pt, ix = ox * g->sw + kx - g->pl;
                                    if (iy < 0 || iy >= g->H || ix < 0 || ix >= g->W) continue;
                                    ref[((int64_t)(b * g->CI + ci) * g->H + iy) * g->W + ix] +=
                                        (double)W[((co * g->CI + ci) * g->kh + ky) * g->kw + kx] *
                                        y[((int64_t)(b * g->CO + co) * OH + oy) * OW + ox];
                                }
        char na[32], nb[32], what[128];
        snprintf(na, sizeof na, "ca%d", k);
        snprintf(nb, sizeof nb, "cb%d", k);
        snprintf(what, sizeof what, "conv2d_t %d: %dx%dx%d co%d k%dx%d s%dx%d pad %d,%d,%d,%d", k, g->CI, g->H, g->W,
                 g->CO, g->kh, g->kw, g->sh, g->sw, g->pt, g->pl, g->pb, g->pr);
        for (int l = 0; l < N_LEVELS; l++) {
            float *ax = run(&r, l, na, "f", x, NULL, batch, ny);
            float *aty = run(&r, l, nb, "t", y, NULL, batch, nx);
            check(aty, ref, nx * batch, what, l);
            check_adjoint(ax, y, ny * batch, x, aty, nx * batch, what, l);
            free(ax), free(aty);
        }
        free(x), free(y), free(ref);
    }
    rig_free(&r);
}

/* ---------------- seeds ---------------- */

static double ref_seed(ir_seed kind, const float *l, int K, int t)
{
    switch (kind) {
    case SEED_LOGIT: return l[t];
    case SEED_ONE: return 1;
    case SEED_RELU_LOGIT: return l[t] > 0 ? l[t] : 0;
    case SEED_SOFTMAX: {
        double m = -INFINITY, s = 0;
        for (int k = 0; k < K; k++) m = fmax(m, l[k]);
        for (int k = 0; k < K; k++) s += exp(l[k] - m);
        return exp(l[t] - m) / s;
    }
    default: break; /* SEED_SOFTMAX_GRAD is not one-hot: tested through the gradient methods */
    }
    return NAN;
}

/* Every seed kind, with a target array and with NULL (arg-max, the first of tied maxima), batch 1 and 3;
 * the softmax logits include values whose exp overflows float unless shifted. */
Test(backward_kernels, seed_every_kind)
{
    static rig r;
    const int K = 7;
    static const char *names[] = { "logit", "one", "softmax", "relu_logit" };
    ir_graph *net = rig_net(&r, "sd", shp(1, K, 0, 0));
    for (int s = 0; s < 4; s++) {
        ir_graph *e = rig_expl(&r, net, names[s]);
        e->has_target = 1;
        ir_node n = node1(OP_SEED, 0, shp(1, K, 0, 0));
        n.seed = (ir_seed)s;
        add(e, n);
    }
    rig_compile(&r);
    /* sample 0: tie of maxima at 2 and 5 -> 2; sample 1: negative logits, max at 6; sample 2: large */
    float x[3][7] = { { 0.5f, -1, 3, 1, 2, 3, -2 },
                      { -4, -3, -2.5f, -6, -1.25f, -9, -0.5f },
                      { 95, 100, 20, -30, 100, 99, 0 } };
    int32_t targets[3] = { 4, 1, 2 };
    int argmax[3] = { 2, 6, 1 };
    for (int s = 0; s < 4; s++)
        for (int bi = 0; bi < 2; bi++)
            for (int tg = 0; tg < 2; tg++) {
                int batch = bi ? 3 : 1;
                const int32_t *t = tg ? targets : NULL;
                double ref[21] = { 0 };
                for (int b = 0; b < batch; b++) {
                    int tt = t ? t[b] : argmax[b];
                    ref[b * K + tt] = ref_seed((ir_seed)s, x[b], K, tt);
                }
                for (int l = 0; l < N_LEVELS; l++) {
                    char what[64];
                    snprintf(what, sizeof what, "seed %s batch %d %s", names[s], batch, t ? "targets" : "arg-max");
                    float *out = run(&r, l, "sd", names[s], &x[0][0], t, batch, K);
                    check(out, ref, (int64_t)K * batch, what, l);
                    for (int64_t i = 0; i < (int64_t)K * batch; i++)
                        cr_expect(ref[i] != 0 || out[i] == 0, "%s -O%d: out[%lld] = %g", what, levels[l], (long long)i,
                                  out[i]);
                    free(out);
                }
            }
    /* an out-of-range target is refused before any kernel runs */
    int32_t bad[3] = { 0, 7, 0 };
    for (int l = 0; l < N_LEVELS; l++) {
        int rc;
        free(run_rc(&r, l, "sd", "one", &x[0][0], bad, 3, K, &rc));
        cr_expect_eq(rc, XAI_ETARGET);
    }
    rig_free(&r);
}

/* Softmax seed on random logits: the relevance of the arg-max class and its agreement with
 * sum-to-one (softmax over the sample, evaluated class by class through the target array). */
Test(backward_kernels, seed_softmax_sums_to_one)
{
    static rig r;
    const int K = 10, batch = 4;
    ir_graph *net = rig_net(&r, "sm", shp(1, K, 0, 0));
    ir_graph *e = rig_expl(&r, net, "e");
    e->has_target = 1;
    ir_node n = node1(OP_SEED, 0, shp(1, K, 0, 0));
    n.seed = SEED_SOFTMAX;
    add(e, n);
    rig_compile(&r);
    rng_state = 66;
    float *x = rand_vec((int64_t)K * batch, -20, 20);
    for (int l = 0; l < N_LEVELS; l++) {
        double total[4] = { 0 };
        for (int k = 0; k < K; k++) {
            int32_t t[4] = { k, k, k, k };
            float *out = run(&r, l, "sm", "e", x, t, batch, K);
            for (int b = 0; b < batch; b++) total[b] += out[b * K + k];
            free(out);
        }
        for (int b = 0; b < batch; b++) cr_expect(fabs(total[b] - 1) < 1e-5, "-O%d: %g", levels[l], total[b]);
    }
    free(x);
    rig_free(&r);
}

/* ---------------- fused epilogues ---------------- */

/* An elementwise node fused into the dense / conv2d kernel (or transpose) producing its operand (fuse.c)
 * computes what it computes as its own kernel, bit for bit: every producer kind, weights read plain and as
 * pos(w), the operand as the expression's first or second input, per-channel constants (not for the dense
 * transpose, whose epilogue has none), border tiles and partial channel blocks, batch 3. */
Test(backward_kernels, fused_epilogues_equal_separate_kernels, .timeout = 120)
{
    static rig r;
    enum { C = 5, H = 13, W = 11, D = 37 };
    const ir_op ops[4] = { OP_CONV2D, OP_CONV2D_T, OP_DENSE, OP_DENSE_T };
    ir_graph *fused[16];
    int producer[16], n = 0;
    rng_state = 77;
    for (int o = 0; o < 4; o++)
        for (int variant = 0; variant < 4; variant++) {
            int conv = ops[o] == OP_CONV2D || ops[o] == OP_CONV2D_T;
            ir_shape s = conv ? shp(3, C, H, W) : shp(1, D, 0, 0);
            char name[32];
            snprintf(name, sizeof name, "fu%d_%d", o, variant);
            ir_graph *net = rig_net(&r, name, s);
            int64_t wshape[4] = { conv ? C : D, conv ? C : D, 3, 3 };
            ir_const *w = NULL, *k = NULL;
            int64_t kshape[1] = { conv ? C : D };
            for (int g = 0; g < 2; g++) {
                ir_graph *e = rig_expl(&r, net, g ? "fused" : "plain");
                if (!w) {
                    w = rand_const(e, "w", conv ? 4 : 2, wshape, -1, 1);
                    k = rand_const(e, "k", 1, kshape, -2, 2);
                }
                ir_node p;
                if (conv) {
                    cgeom geo = { C, H, W, C, 3, 3, 1, 1, 1, 1, 1, 1 };
                    p = conv_node(ops[o], 0, &geo, w);
                } else {
                    p = node1(ops[o], 0, s);
                    p.units = D;
                    p.weight = w;
                    if (ops[o] == OP_DENSE_T) p.in_shape = s;
                }
                p.weight_map = variant & 1 ? WMAP_POS : WMAP_NONE;
                int ip = add(e, p);
                ir_ew *scaled = ops[o] == OP_DENSE_T ? E2(EW_MUL, IN(0), NUM(-1.5)) : E2(EW_MUL, IN(0), CHAN(k));
                ir_ew *expr = SEL(E2(EW_GT, IN(0), NUM(0)), scaled, E2(EW_SAFEDIV, IN(1), STAB(IN(0), 1e-3)));
                if (variant & 2) { /* the kernel's result as the second operand */
                    ir_ew *swap =
                        SEL(E2(EW_GT, IN(1), NUM(0)), E2(EW_MUL, IN(1), NUM(2)), E2(EW_SUB, IN(0), E1(EW_ABS, IN(1))));
                    add(e, eltwise(swap, 0, ip, s));
                } else {
                    add(e, eltwise(expr, ip, 0, s));
                }
                if (g) {
                    fuse_epilogues(e);
                    cr_assert(e->nodes[ip].epilogue_from > 0, "%s: the elementwise node was not fused", name);
                    fused[n] = e;
                    producer[n++] = ip;
                }
            }
        }
    rig_compile(&r);
    const int batch = 3;
    for (int t = 0; t < n; t++) {
        const ir_graph *net = fused[t]->network;
        int64_t count = ir_shape_count(&net->nodes[net->input].shape);
        float *x = rand_vec(count * batch, -1, 1);
        for (int l = 0; l < N_LEVELS; l++) {
            float *a = run(&r, l, net->name, "plain", x, NULL, batch, count);
            float *b = run(&r, l, net->name, "fused", x, NULL, batch, count);
            int64_t bad = -1;
            for (int64_t i = 0; i < count * batch && bad < 0; i++)
                if (memcmp(&a[i], &b[i], sizeof(float))) bad = i;
            cr_expect_eq(bad, -1, "%s (%s, producer %%%d) -O%d: element %lld is %.9g fused, %.9g as its own kernel",
                         net->name, ir_op_name(fused[t]->nodes[producer[t]].op), producer[t], levels[l], (long long)bad,
                         bad >= 0 ? b[bad] : 0.0, bad >= 0 ? a[bad] : 0.0);
            free(a), free(b);
        }
        free(x);
    }
    rig_free(&r);
}

/* OP_LAYER_STAT: every statistic per sample and per channel against a double-precision loop (std unbiased,
 * as torch.std), and a per-sample statistic spread over another shape (a stabiliser's std(a) at a dense
 * layer's outputs) */
Test(backward_kernels, layer_stat_every_kind, .timeout = 120)
{
    static rig r;
    ir_shape s = shp(3, 3, 4, 5), other = shp(2, 2, 5, 0);
    int64_t count = 60, channels = 3;
    ir_graph *net = rig_net(&r, "st", s);
    static const char *const stat_names[] = { "sum", "mean", "std", "max", "min" };
    char names[16][32];
    int n = 0;
    for (int k = 0; k < 5; k++)
        for (int per = 0; per < 3; per++) {
            snprintf(names[n], sizeof names[n], "%s_%s", stat_names[k],
                     per == 1  ? "channel"
                         : per ? "other"
                               : "sample");
            ir_graph *e = rig_expl(&r, net, names[n++]);
            ir_node node = node1(OP_LAYER_STAT, 0, per == 2 ? other : s);
            node.in_shape = s;
            node.stat = (ir_stat)k;
            node.stat_per_channel = per == 1;
            add(e, node);
        }
    rig_compile(&r);
    const int batch = 3;
    rng_state = 5;
    float *x = rand_vec(count * batch, -2, 3);
    x[7] = 40; /* an outlier, so max / std are not all alike */
    for (int k = 0, e = 0; k < 5; k++)
        for (int per = 0; per < 3; per++, e++) {
            int64_t groups = per == 1 ? channels : 1, size = count / groups, out_count = per == 2 ? 10 : count;
            double *ref = malloc(sizeof(double) * out_count * batch);
            for (int b = 0; b < batch; b++)
                for (int64_t g = 0; g < groups; g++) {
                    const float *v = x + b * count + g * size;
                    double sum = 0, dev = 0, mx = v[0], mn = v[0];
                    for (int64_t i = 0; i < size; i++) sum += v[i], mx = fmax(mx, v[i]), mn = fmin(mn, v[i]);
                    for (int64_t i = 0; i < size; i++) dev += (v[i] - sum / size) * (v[i] - sum / size);
                    double stat[5] = { sum, sum / size, sqrt(dev / (size - 1)), mx, mn };
                    int64_t spread = out_count / groups;
                    for (int64_t i = 0; i < spread; i++) ref[b * out_count + g * spread + i] = stat[k];
                }
            for (int l = 0; l < N_LEVELS; l++) {
                float *out = run(&r, l, "st", names[e], x, NULL, batch, out_count);
                check(out, ref, out_count * batch, names[e], l);
                free(out);
            }
            free(ref);
        }
    free(x);
    rig_free(&r);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* STAT_QUANTILE against sorting: pos = q (n - 1), linear between the order statistics around it (torch.quantile,
 * numpy's default), per sample and per channel, with ties, zeros of both signs and negative values */
Test(backward_kernels, layer_stat_quantile, .timeout = 120)
{
    static rig r;
    ir_shape s = shp(3, 3, 4, 5);
    int64_t count = 60, channels = 3;
    ir_graph *net = rig_net(&r, "q", s);
    static const double qs[] = { 0, 0.3, 0.5, 0.98, 1 };
    char names[10][32];
    int n = 0;
    for (int k = 0; k < 5; k++)
        for (int per = 0; per < 2; per++) {
            snprintf(names[n], sizeof names[n], "q%d_%s", k, per ? "channel" : "sample");
            ir_graph *e = rig_expl(&r, net, names[n++]);
            ir_node node = node1(OP_LAYER_STAT, 0, s);
            node.in_shape = s;
            node.stat = STAT_QUANTILE;
            node.stat_q = qs[k];
            node.stat_per_channel = per;
            add(e, node);
        }
    rig_compile(&r);
    const int batch = 3;
    rng_state = 9;
    float *x = rand_vec(count * batch, -3, 3);
    for (int64_t i = 0; i < count * batch; i += 3) x[i] = (float)(int)x[i]; /* ties, and 0 / -0 */
    x[5] = -0.0f;
    x[6] = 1e30f, x[8] = -1e30f;
    for (int k = 0, e = 0; k < 5; k++)
        for (int per = 0; per < 2; per++, e++) {
            int64_t groups = per ? channels : 1, size = count / groups;
            double *ref = malloc(sizeof(double) * count * batch), *sorted = malloc(sizeof(double) * size);
            for (int b = 0; b < batch; b++)
                for (int64_t g = 0; g < groups; g++) {
                    for (int64_t i = 0; i < size; i++) sorted[i] = x[b * count + g * size + i];
                    qsort(sorted, (size_t)size, sizeof *sorted, cmp_double);
                    double pos = qs[k] * (double)(size - 1), lo = floor(pos);
                    int64_t j = (int64_t)lo;
                    double v = sorted[j] + (j + 1 < size ? (pos - lo) * (sorted[j + 1] - sorted[j]) : 0);
                    for (int64_t i = 0; i < size; i++) ref[b * count + g * size + i] = v;
                }
            for (int l = 0; l < N_LEVELS; l++) {
                float *out = run(&r, l, "q", names[e], x, NULL, batch, count);
                check(out, ref, count * batch, names[e], l);
                free(out);
            }
            free(ref);
            free(sorted);
        }
    free(x);
    rig_free(&r);
}
