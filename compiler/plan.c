/* Buffer planning by liveness, first-fit, with in-place elementwise ops. */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#define SLOT_ALIGN 16   /* floats: keeps every slot 64-byte aligned for any batch */

int plan_root(const ir_graph *g, int i)
{
    while (g->nodes[i].op == OP_FLATTEN) i = g->nodes[i].inputs[0];
    return i;
}

static int64_t round_up(int64_t v) { return (v + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN; }

static int elementwise(ir_op op) { return op == OP_RELU || op == OP_SIGMOID || op == OP_AFFINE || op == OP_ELTWISE; }

typedef struct slot { int64_t offset, size; int free_after; } slot;

static graph_plan *plan(const ir_graph *g, int keep_all);

graph_plan *plan_graph(const ir_graph *g) { return plan(g, 0); }
graph_plan *plan_graph_keep_all(const ir_graph *g) { return plan(g, 1); }

static graph_plan *plan(const ir_graph *g, int keep_all)
{
    int n = g->n_nodes;
    graph_plan *p = calloc(1, sizeof *p);
    p->values = calloc(n, sizeof *p->values);
    p->emit = calloc(n, sizeof *p->emit);
    p->n_nodes = n;

    /* last reader of each root */
    int *last_use = malloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) last_use[i] = keep_all ? n : i;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) {
            int r = plan_root(g, g->nodes[i].inputs[k]);
            if (last_use[r] < i) last_use[r] = i;
        }
    int out_root = plan_root(g, g->output);

    slot *live = calloc(n, sizeof *live);
    int n_live = 0;
    for (int i = 0; i < n; i++) {
        const ir_node *node = &g->nodes[i];
        /* release slots whose last reader ran before this node */
        for (int s = 0; s < n_live;)
            if (live[s].free_after < i) live[s] = live[--n_live];
            else s++;
        if (node->op == OP_FLATTEN) { p->values[i] = p->values[plan_root(g, i)]; continue; }
        p->emit[i] = node->op != OP_INPUT;
        if (node->op == OP_INPUT) { p->values[i].kind = LOC_INPUT; continue; }
        if (i == out_root) { p->values[i].kind = LOC_OUTPUT; continue; }
        int64_t size = round_up(ir_shape_count(&node->shape) * (node->mult > 1 ? node->mult : 1));
        if (elementwise(node->op) && node->n_inputs > 0 && !keep_all &&
            (g->nodes[plan_root(g, node->inputs[0])].mult > 1 ? g->nodes[plan_root(g, node->inputs[0])].mult : 1) ==
                (node->mult > 1 ? node->mult : 1)) {
            int in = plan_root(g, node->inputs[0]);
            if (last_use[in] == i && p->values[in].kind == LOC_ARENA) {
                /* in place: take over the input's slot */
                p->values[i] = p->values[in];
                for (int s = 0; s < n_live; s++)
                    if (live[s].offset == p->values[in].offset) live[s].free_after = last_use[i];
                continue;
            }
        }
        /* first fit among the gaps between live slots (sorted by offset) */
        for (int a = 1; a < n_live; a++)
            for (int b = a; b > 0 && live[b - 1].offset > live[b].offset; b--) {
                slot t = live[b]; live[b] = live[b - 1]; live[b - 1] = t;
            }
        int64_t at = 0;
        for (int s = 0; s < n_live; s++) {
            if (live[s].offset - at >= size) break;
            if (live[s].offset + live[s].size > at) at = live[s].offset + live[s].size;
        }
        live[n_live++] = (slot){at, size, last_use[i]};
        p->values[i].kind = LOC_ARENA;
        p->values[i].offset = at;
        if (at + size > p->arena_floats) p->arena_floats = at + size;
    }
    p->copy_input_to_output = g->nodes[out_root].op == OP_INPUT;
    free(live);
    free(last_use);
    return p;
}

void plan_free(graph_plan *p)
{
    if (!p) return;
    free(p->values);
    free(p->emit);
    free(p);
}

void plan_dump(const ir_graph *g, const graph_plan *p, FILE *out)
{
    fprintf(out, "plan %s: workspace %lld floats per sample (%lld bytes)\n", g->name, (long long)p->arena_floats,
            (long long)p->arena_floats * 4);
    for (int i = 0; i < g->n_nodes; i++) {
        const plan_value *v = &p->values[i];
        fprintf(out, "  %%%d %-14s %-10s ", i, ir_op_name(g->nodes[i].op), g->nodes[i].name ? g->nodes[i].name : "");
        if (!p->emit[i] && g->nodes[i].op != OP_INPUT) fprintf(out, "alias of %%%d ", plan_root(g, i));
        if (v->kind == LOC_INPUT) fprintf(out, "-> x\n");
        else if (v->kind == LOC_OUTPUT) fprintf(out, "-> y\n");
        else fprintf(out, "-> ws[%lld .. %lld)\n", (long long)v->offset,
                     (long long)(v->offset + ir_shape_count(&g->nodes[i].shape)));
    }
}
