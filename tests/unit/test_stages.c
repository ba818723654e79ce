/* Single stages of the pipeline, each driven on its own: sema on a snippet, canon's batchnorm folding, the
 * explain stage's backward graphs, fusion's decisions and the planner's buffer reuse. Expected values come
 * from the definitions (shapes by PyTorch's formulas, folded weights computed here in double), not from
 * the code under test. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "driver.h"
#include "fuse.h"
#include "sema.h"
#include "testutil.h"

/* A whole compilation up to planning, or stages of it; messages go to a memstream. */
typedef struct staged {
    xai_diag d;
    char *messages;
    size_t length;
    FILE *out;
    compilation c;
} staged;

static void open_diag(staged *s)
{
    memset(s, 0, sizeof *s);
    s->out = open_memstream(&s->messages, &s->length);
    diag_init(&s->d, s->out);
}

static void close_staged(staged *s)
{
    driver_free(&s->c);
    diag_free(&s->d);
    fclose(s->out);
    free(s->messages);
}

static int find_node(const ir_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if ((g->nodes[i].name && !strcmp(g->nodes[i].name, name)) ||
            (g->nodes[i].alias && !strcmp(g->nodes[i].alias, name)))
            return i;
    return -1;
}

static int count_op(const ir_graph *g, ir_op op, int from)
{
    int n = 0;
    for (int i = from; i < g->n_nodes; i++) n += g->nodes[i].op == op;
    return n;
}

static void expect_shape(const ir_graph *g, const char *layer, int rank, int d0, int d1, int d2)
{
    int i = find_node(g, layer);
    cr_assert(i >= 0, "no layer %s", layer);
    const ir_shape *s = &g->nodes[i].shape;
    int want[3] = { d0, d1, d2 };
    cr_expect_eq(s->rank, rank, "%s: rank %d, want %d", layer, s->rank, rank);
    for (int k = 0; k < rank; k++)
        cr_expect_eq(s->dims[k], want[k], "%s: dim %d is %d, want %d", layer, k, s->dims[k], want[k]);
}

/* ---- sema alone: shapes by PyTorch's formulas, dead layers dropped with a warning ---- */
Test(stages, sema_infers_shapes_and_drops_dead_layers)
{
    staged s;
    open_diag(&s);
    xai_program *p = load_program_text(
        &s.d, "snippet.xai",
        "network n {\n"
        "  input x[3, 9, 7];\n"
        "  mp = maxpool(x, 2);\n"                  /* floor((9-2)/2)+1 = 4, floor((7-2)/2)+1 = 3 */
        "  ap = avgpool(x, 3, stride=2, pad=1);\n" /* floor((9+2-3)/2)+1 = 5, floor((7+2-3)/2)+1 = 4 */
        "  sp = avgpool(x, 2, pad=same);\n"        /* TensorFlow SAME: ceil(9/2) = 5, ceil(7/2) = 4 */
        "  s = add(ap, sp);\n"
        "  r = relu(s);\n"
        "  unused = sigmoid(mp);\n"
        "  g = global_avgpool(r);\n"
        "  f = flatten(r);\n"
        "  output g;\n"
        "}\n");
    cr_assert_eq(s.d.errors, 0);
    ir_module *m = sema_program(&s.d, p);
    fflush(s.out);
    cr_assert_eq(s.d.errors, 0, "%s", s.messages);
    cr_assert_eq(m->n_graphs, 1);
    const ir_graph *g = m->graphs[0];
    expect_shape(g, "ap", 3, 3, 5, 4);
    expect_shape(g, "sp", 3, 3, 5, 4);
    expect_shape(g, "s", 3, 3, 5, 4);
    expect_shape(g, "g", 1, 3, 0, 0);
    cr_expect_lt(find_node(g, "mp"), 0, "mp does not reach the output: not computed");
    cr_expect_lt(find_node(g, "unused"), 0);
    cr_expect_lt(find_node(g, "f"), 0);
    cr_expect(strstr(s.messages, "'unused' does not contribute to the output") != NULL, "%s", s.messages);
    cr_expect_eq(s.d.warnings, 3, "mp, unused and f are dead: %s", s.messages);
    for (int i = 0; i < g->n_nodes; i++) /* topological order */
        for (int k = 0; k < g->nodes[i].n_inputs; k++) cr_expect_lt(g->nodes[i].inputs[k], i);
    ir_module_free(m);
    program_free(p);
    close_staged(&s);
}

/* ---- canon alone: a batchnorm after a conv folds into it, one after a relu becomes an affine ---- */
Test(stages, canon_folds_batchnorm)
{
    float w[3 * 2] = { 0.5f, -1.0f, 2.0f, 0.25f, -0.75f, 1.5f }; /* conv 1x1: [3, 2, 1, 1] */
    float g1[3] = { 1.5f, 0.5f, -2.0f }, b1[3] = { 0.1f, -0.2f, 0.3f }, m1[3] = { 0.4f, -0.1f, 0.0f },
          v1[3] = { 2.0f, 0.5f, 1.0f };
    float g2[3] = { 0.9f, 1.1f, 1.3f }, b2[3] = { 0.0f, 0.5f, -0.5f }, m2[3] = { 0.2f, 0.3f, 0.4f },
          v2[3] = { 1.0f, 4.0f, 0.25f };
    tu_tensor t[] = {
        { "c.weight", 4, { 3, 2, 1, 1 }, w }, { "bn1.weight", 1, { 3 }, g1 },       { "bn1.bias", 1, { 3 }, b1 },
        { "bn1.running_mean", 1, { 3 }, m1 }, { "bn1.running_var", 1, { 3 }, v1 },  { "bn2.weight", 1, { 3 }, g2 },
        { "bn2.bias", 1, { 3 }, b2 },         { "bn2.running_mean", 1, { 3 }, m2 }, { "bn2.running_var", 1, { 3 }, v2 },
    };
    char *weights = tu_write_weights("canon.safetensors", t, 9);
    char text[1024];
    snprintf(text, sizeof text,
             "network n { weights \"%s\"; input x[2, 4, 4];\n"
             "  c = conv2d(x, 3, kernel=1, bias=false);\n  bn1 = batchnorm(c, eps=0.001);\n"
             "  r = relu(bn1);\n  bn2 = batchnorm(r);\n  output bn2; }\n",
             weights);
    staged s;
    open_diag(&s);
    xai_program *p = load_program_text(&s.d, "snippet.xai", text);
    ir_module *m = sema_program(&s.d, p);
    fflush(s.out);
    cr_assert_eq(s.d.errors, 0, "%s", s.messages);
    cr_assert_eq(count_op(m->graphs[0], OP_BATCHNORM, 0), 2);
    canon_module(m);
    const ir_graph *g = m->graphs[0];
    cr_expect_eq(count_op(g, OP_BATCHNORM, 0), 0);
    int c = find_node(g, "c"), bn2 = find_node(g, "bn2");
    cr_assert(c >= 0 && bn2 >= 0);
    cr_expect_eq(find_node(g, "bn1"), c, "bn1 is the conv's alias now");
    cr_expect_eq(g->nodes[bn2].op, OP_AFFINE);
    for (int o = 0; o < 3; o++) { /* y = g (z - mean) / sqrt(var + eps) + b, z = W x */
        double scale = g1[o] / sqrt((double)v1[o] + 0.001), shift = b1[o] - m1[o] * scale;
        for (int i = 0; i < 2; i++)
            cr_expect_float_eq(g->nodes[c].weight->data[o * 2 + i], (float)(w[o * 2 + i] * scale), 1e-6);
        cr_expect_float_eq(g->nodes[c].bias->data[o], (float)shift, 1e-6);
        double s2 = g2[o] / sqrt((double)v2[o] + 1e-5);
        cr_expect_float_eq(g->nodes[bn2].weight->data[o], (float)s2, 1e-6);
        cr_expect_float_eq(g->nodes[bn2].bias->data[o], (float)(b2[o] - m2[o] * s2), 1e-6);
    }
    ir_module_free(m);
    program_free(p);
    close_staged(&s);
    free(weights);
}

/* ---- the explain stage: the backward graph each rule or method builds, before fusion ---- */
static const ir_graph *explanation(compilation *c, const char *name)
{
    const ir_graph *e = driver_explanation(c, name, NULL);
    cr_assert_not_null(e, "no explanation %s", name);
    return e;
}

Test(stages, backward_graphs_follow_the_rules)
{
    float w[3 * 4], b[3] = { 0.1f, -0.2f, 0.3f };
    for (int i = 0; i < 12; i++) w[i] = (float)((i % 5) - 2) * 0.5f;
    tu_tensor t[] = { { "fc.weight", 2, { 3, 4 }, w }, { "fc.bias", 1, { 3 }, b } };
    char *weights = tu_write_weights("dense.safetensors", t, 2);
    char text[1024];
    snprintf(text, sizeof text,
             "network n { weights \"%s\"; input x[4] range [0, 1]; fc = dense(x, 3); output fc; }\n"
             "explain grad for n { method gradient; }\n"
             "explain eps for n { fc: epsilon(0.01); }\n"
             "explain zp for n { fc: zplus; }\n"
             "explain ig for n { method integrated_gradients(steps=4); }\n",
             weights);
    staged s;
    open_diag(&s);
    s.c.diag = &s.d;
    s.c.program = load_program_text(&s.d, "snippet.xai", text);
    s.c.ir = sema_program(&s.d, s.c.program);
    canon_module(s.c.ir);
    s.c.explain = sema_explanations(&s.d, s.c.program, s.c.ir);
    cr_assert_eq(explain_build(&s.d, s.c.ir, s.c.explain), 0);
    fflush(s.out);
    cr_assert_eq(s.d.errors, 0, "%s", s.messages);
    int f = s.c.ir->graphs[0]->n_nodes;
    /* gradient: seed, W^T */
    const ir_graph *g = explanation(&s.c, "grad");
    cr_expect_eq(g->n_nodes - f, 2);
    cr_expect_eq(count_op(g, OP_SEED, f), 1);
    cr_expect_eq(count_op(g, OP_DENSE_T, f), 1);
    cr_expect_eq(g->nodes[g->output].op, OP_DENSE_T);
    /* epsilon reuses the forward's z: s = R / stab(z), c = W^T s, R_in = a * c */
    g = explanation(&s.c, "eps");
    cr_expect_eq(count_op(g, OP_DENSE, f), 0, "epsilon recomputes no z");
    cr_expect_eq(count_op(g, OP_DENSE_T, f), 1);
    cr_expect_eq(count_op(g, OP_ELTWISE, f), 2);
    /* z+ on an input known to be >= 0 (range [0, 1]): z+ = W+ a + b+ recomputed, W+ read through pos() */
    g = explanation(&s.c, "zp");
    cr_expect_eq(count_op(g, OP_DENSE, f), 1);
    int wplus = 0;
    for (int i = f; i < g->n_nodes; i++)
        if (g->nodes[i].op == OP_DENSE || g->nodes[i].op == OP_DENSE_T) wplus += g->nodes[i].weight_map == WMAP_POS;
    cr_expect_eq(wplus, 2, "both kernels read pos(w)");
    /* IG: reference, expanded path points, a forward copy on them, seed, W^T, the quadrature */
    g = explanation(&s.c, "ig");
    cr_expect_eq(count_op(g, OP_REFERENCE, f), 1);
    cr_expect_eq(count_op(g, OP_EXPAND, f), 1);
    cr_expect_eq(count_op(g, OP_DENSE, f), 1, "the forward pass on the 4 path points");
    cr_expect_eq(g->nodes[g->output].op, OP_REDUCE);
    cr_expect_eq(g->samples, 4);
    close_staged(&s);
    free(weights);
}

/* ---- fusion: an elementwise consumer is fused into the kernel that feeds it, unless its operand is read
 * elsewhere ---- */
Test(stages, fusion_decisions)
{
    float w[2 * 1 * 3 * 3];
    for (int i = 0; i < 18; i++) w[i] = (float)(i % 7) * 0.1f - 0.3f;
    float b[2] = { 0.0f, 0.1f };
    tu_tensor t[] = { { "c1.weight", 4, { 2, 1, 3, 3 }, w },
                      { "c1.bias", 1, { 2 }, b },
                      { "c2.weight", 4, { 2, 1, 3, 3 }, w },
                      { "c2.bias", 1, { 2 }, b } };
    char *weights = tu_write_weights("fuse.safetensors", t, 4);
    char text[2048];
    snprintf(text, sizeof text,
             /* two networks, each reading half of one file */
             "network fused { weights \"%s\" strict=false; input x[1, 6, 6];\n"
             "  c1 = conv2d(x, 2, kernel=3, pad=1); a1 = relu(c1); output a1; }\n"
             "network shared { weights \"%s\" strict=false; input x[1, 6, 6];\n"
             "  c2 = conv2d(x, 2, kernel=3, pad=1); a2 = relu(c2); s = add(c2, a2); output s; }\n"
             /* other activations (OPF_ACTIVATION) fuse as their expression: ReLU6, SiLU */
             "network relu6 { weights \"%s\" strict=false; input x[1, 6, 6];\n"
             "  c1 = conv2d(x, 2, kernel=3, pad=1); a1 = clamp(c1, min=0, max=6); output a1; }\n"
             "network silu { weights \"%s\" strict=false; input x[1, 6, 6];\n"
             "  c1 = conv2d(x, 2, kernel=3, pad=1); a1 = silu(c1); output a1; }\n"
             /* a residual add and the relu after it: both in the conv's epilogue, unless the sum is read again */
             "network residual { weights \"%s\" strict=false; input x[1, 6, 6];\n"
             "  c1 = conv2d(x, 2, kernel=3, pad=1); a1 = relu(c1); c2 = conv2d(x, 2, kernel=3, pad=1);\n"
             "  s = add(c2, a1); r = relu(s); output r; }\n"
             "network read_again { weights \"%s\" strict=false; input x[1, 6, 6];\n"
             "  c1 = conv2d(x, 2, kernel=3, pad=1); a1 = relu(c1); c2 = conv2d(x, 2, kernel=3, pad=1);\n"
             "  s = add(c2, a1); r = relu(s); t = add(r, s); output t; }\n"
             "network broadcast { weights \"%s\" strict=false; input x[1, 6, 6];\n"
             "  c1 = conv2d(x, 2, kernel=3, pad=1); a1 = relu(c1); c2 = conv2d(x, 2, kernel=3, pad=1);\n"
             "  s = add(c2, x); output s; }\n",
             weights, weights, weights, weights, weights, weights, weights);
    staged s;
    open_diag(&s);
    cr_assert_eq(driver_analyse_text(&s.c, &s.d, "snippet.xai", text), 0);
    const ir_graph *g = driver_graph(&s.c, "fused", NULL);
    int c1 = find_node(g, "c1"), a1 = find_node(g, "a1");
    cr_expect_eq(g->nodes[a1].op, OP_FUSED);
    cr_expect_eq(g->nodes[a1].fused - 1, OP_RELU);
    cr_expect_gt(g->nodes[c1].epilogue_from, 0, "the conv stores relu(z)");
    g = driver_graph(&s.c, "shared", NULL);
    cr_expect_eq(g->nodes[find_node(g, "a2")].op, OP_RELU, "c2 is read by the add too: no fusion");
    cr_expect_eq(g->nodes[find_node(g, "c2")].epilogue_from, 0);
    const char *activated[2] = { "relu6", "silu" };
    const ir_op act_ops[2] = { OP_CLAMP, OP_SILU };
    for (int k = 0; k < 2; k++) {
        g = driver_graph(&s.c, activated[k], NULL);
        a1 = find_node(g, "a1");
        cr_expect_eq(g->nodes[a1].op, OP_FUSED, "%s", activated[k]);
        cr_expect_eq(g->nodes[a1].fused - 1, act_ops[k], "%s", activated[k]);
        cr_expect_gt(g->nodes[find_node(g, "c1")].epilogue_from, 0, "%s: the conv stores the activation", activated[k]);
    }
    g = driver_graph(&s.c, "residual", NULL);
    int c2 = find_node(g, "c2");
    cr_expect_eq(g->nodes[find_node(g, "s")].op, OP_FUSED, "the add is in c2's epilogue");
    cr_expect_eq(g->nodes[find_node(g, "r")].op, OP_FUSED, "and so is the relu after it");
    cr_expect_eq(g->nodes[find_node(g, "r")].inputs[0], c2);
    cr_expect_eq(g->nodes[c2].n_inputs, 2, "c2 reads a1 for the sum");
    cr_assert_not_null(g->nodes[c2].expr, "c2 has an epilogue expression");
    char *expr = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&expr, &len);
    ir_ew_dump(g->nodes[c2].expr, f);
    fclose(f);
    cr_expect(strstr(expr, "pos") && strstr(expr, "+"), "c2 stores pos(z + a1), not '%s'", expr);
    free(expr);
    g = driver_graph(&s.c, "read_again", NULL);
    cr_expect_eq(g->nodes[find_node(g, "s")].op, OP_FUSED, "the sum is still the conv's");
    cr_expect_eq(g->nodes[find_node(g, "r")].op, OP_RELU, "s is read by t too: its relu stays a kernel");
    g = driver_graph(&s.c, "broadcast", NULL);
    cr_expect_eq(g->nodes[find_node(g, "s")].op, OP_ADD, "a broadcast add ([2,6,6] + [1,6,6]) is not fused");
    close_staged(&s);
    free(weights);
}

/* ---- the planner: values live at the same time never share memory; in-place ops take their input's slot ---- */
static void check_no_overlap(const ir_graph *g, const graph_plan *p)
{
    int n = g->n_nodes;
    int *root = malloc(sizeof(int) * n), *last = malloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) root[i] = plan_root(g, i), last[i] = i;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) {
            int r = root[g->nodes[i].inputs[k]];
            if (last[r] < i) last[r] = i;
        }
    if (g->chunk > 0 && g->chunk < g->samples) /* values read inside the repeated sample region stay live through it */
        for (int j = 0; j < g->sample_first; j++)
            if (last[j] >= g->sample_first && last[j] < g->sample_last) last[j] = g->sample_last;
    for (int i = 0; i < n; i++) {
        if (root[i] != i || p->values[i].kind != LOC_ARENA) continue;
        int64_t si = ir_shape_count(&g->nodes[i].shape) * (g->nodes[i].mult > 1 ? g->nodes[i].mult : 1);
        for (int j = i + 1; j < n && j <= last[i]; j++) {
            if (root[j] != j || p->values[j].kind != LOC_ARENA) continue;
            int64_t sj = ir_shape_count(&g->nodes[j].shape) * (g->nodes[j].mult > 1 ? g->nodes[j].mult : 1);
            int64_t a0 = p->values[i].offset, a1 = a0 + si, b0 = p->values[j].offset, b1 = b0 + sj;
            int overlap = a0 < b1 && b0 < a1;
            /* the one allowed case: j computed in place over i, whose last reader is j */
            int in_place = overlap && last[i] == j && a0 == b0 && ir_op_is(g->nodes[j].op, OPF_IN_PLACE) &&
                root[g->nodes[j].inputs[0]] == i;
            cr_expect(!overlap || in_place, "%s: %%%d [%lld, %lld) and %%%d [%lld, %lld) are live together", g->name, i,
                      (long long)a0, (long long)a1, j, (long long)b0, (long long)b1);
            cr_expect(p->values[j].offset % 16 == 0, "slots are 64-byte aligned");
        }
        cr_expect_leq(p->values[i].offset + si, p->arena_floats);
    }
    free(root);
    free(last);
}

Test(stages, plans_never_overlap_live_values, .timeout = 120)
{
    const char *files[] = { "models/mnist_cnn_lrp.xai", "models/mnist_cnn_gradients.xai", "models/mnist_mlp_am.xai",
                            "models/cluttered_gradcam.xai" };
    for (int f = 0; f < 4; f++) {
        staged s;
        open_diag(&s);
        cr_assert_eq(driver_analyse(&s.c, &s.d, files[f]), 0, "%s", files[f]);
        int in_place = 0;
        for (int i = 0; i < s.c.ir->n_graphs; i++) check_no_overlap(s.c.ir->graphs[i], s.c.plans[i]);
        for (int e = 0; e < s.c.ir->n_explanations; e++) {
            const ir_graph *g = s.c.ir->explanations[e];
            const graph_plan *p = s.c.explanation_plans[e];
            check_no_overlap(g, p);
            for (int i = 0; i < g->n_nodes; i++)
                if (ir_op_is(g->nodes[i].op, OPF_IN_PLACE) && p->values[i].kind == LOC_ARENA &&
                    p->values[plan_root(g, g->nodes[i].inputs[0])].kind == LOC_ARENA)
                    in_place += p->values[i].offset == p->values[plan_root(g, g->nodes[i].inputs[0])].offset;
        }
        if (f < 3) cr_expect_gt(in_place, 0, "%s: some elementwise step runs in place", files[f]);
        close_staged(&s);
    }
}
