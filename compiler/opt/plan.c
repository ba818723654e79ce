/* Buffer planning by liveness, first-fit, with in-place elementwise ops. */
#include "plan.h"

#include "winograd.h"

#include <stdlib.h>
#include <string.h>

#define SLOT_ALIGN 16 /* floats: keeps every slot 64-byte aligned for any batch */

int plan_root(const ir_graph *g, int i)
{
    while (ir_op_is(g->nodes[i].op, OPF_VIEW)) i = g->nodes[i].inputs[0];
    return i;
}

static int64_t round_up(int64_t v) { return (v + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN; }

typedef struct slot {
    int64_t offset, size;
    int free_after;
} slot;

static graph_plan *plan(const ir_graph *g, int keep_all);

/* Node i gets the first gap of `size` floats among the live slots (sorted by offset), live until free_after. */
static void place(graph_plan *p, slot *live, int *n_live, int i, int64_t size, int free_after)
{
    for (int a = 1; a < *n_live; a++)
        for (int b = a; b > 0 && live[b - 1].offset > live[b].offset; b--) {
            slot t = live[b];
            live[b] = live[b - 1];
            live[b - 1] = t;
        }
    int64_t at = 0;
    for (int s = 0; s < *n_live; s++) {
        if (live[s].offset - at >= size) break;
        if (live[s].offset + live[s].size > at) at = live[s].offset + live[s].size;
    }
    live[(*n_live)++] = (slot){ at, size, free_after };
    p->values[i].kind = LOC_ARENA;
    p->values[i].offset = at;
    if (at + size > p->arena_floats) p->arena_floats = at + size;
}

void plan_choose_chunk(ir_graph *g, int64_t budget_bytes)
{
    if (g->samples <= 1 || g->sample_last <= g->sample_first) return;
    const ir_node *red = &g->nodes[g->sample_last];
    if (red->op != OP_REDUCE || red->reduce == REDUCE_VAR) return; /* VarGrad needs all samples at once */
    for (int i = g->sample_first; i < g->sample_last; i++)
        if (g->nodes[i].mult != g->samples && !ir_op_is(g->nodes[i].op, OPF_VIEW)) return;
    graph_plan *full = plan_graph(g);
    int64_t per_input = full->arena_floats * 4;
    plan_free(full);
    if (per_input <= budget_bytes) return;
    /* the largest chunk that divides the samples and fits (the region dominates the arena) */
    int chunk = 1;
    for (int k = g->samples; k >= 1; k--)
        if (g->samples % k == 0 && per_input / g->samples * k <= budget_bytes) {
            chunk = k;
            break;
        }
    for (int i = g->sample_first; i < g->sample_last; i++)
        if (g->nodes[i].mult == g->samples) g->nodes[i].mult = chunk;
    g->chunk = chunk;
}

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
    /* sample chunks: the entry runs [first, last] several times, so what they read from before the region
     * stays live through it, and OP_REDUCE's accumulator (last) lives from the region's start */
    int chunked = g->chunk > 0 && g->chunk < g->samples && g->sample_last > g->sample_first;
    int first = chunked ? g->sample_first : -1, last = chunked ? g->sample_last : -1;
    int early = chunked && plan_root(g, last) == last && last != out_root ? last : -1;
    for (int j = 0; chunked && j < first; j++)
        if (last_use[j] >= first && last_use[j] < last) last_use[j] = last;

    slot *live = calloc(n, sizeof *live);
    int n_live = 0;
    for (int i = 0; i < n; i++) {
        const ir_node *node = &g->nodes[i];
        /* release slots whose last reader ran before this node */
        for (int s = 0; s < n_live;)
            if (live[s].free_after < i)
                live[s] = live[--n_live];
            else
                s++;
        if (ir_op_is(node->op, OPF_VIEW)) {
            p->values[i] = p->values[plan_root(g, i)];
            continue;
        }
        p->emit[i] = node->op != OP_INPUT;
        int64_t scratch = winograd_scratch_floats(g, node);
        if (scratch > p->scratch_floats) p->scratch_floats = round_up(scratch);
        if (node->op == OP_INPUT) {
            p->values[i].kind = LOC_INPUT;
            continue;
        }
        if (i == out_root) {
            p->values[i].kind = LOC_OUTPUT;
            continue;
        }
        if (i == early) continue; /* placed at the region's start */
        if (i == first && early >= 0)
            place(p, live, &n_live, early, round_up(ir_shape_count(&g->nodes[early].shape)), last_use[early]);
        int64_t size = round_up(ir_shape_count(&node->shape) * (node->mult > 1 ? node->mult : 1));
        if (ir_op_is(node->op, OPF_IN_PLACE) && node->n_inputs > 0 && !keep_all &&
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
        place(p, live, &n_live, i, size, last_use[i]);
    }
    p->copy_input_to_output = g->nodes[out_root].op == OP_INPUT;
    if (g->am.enabled) { /* the iterate, Adam's two moments and the gradient (input-shaped), the targets */
        p->am_offset = p->arena_floats;
        p->arena_floats += 4 * round_up(ir_shape_count(&g->nodes[g->input].shape)) + SLOT_ALIGN;
    }
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

/* Explanation graphs: how many kernels each layer's rule costs, by kind (issue: minimal LRP passes). */
static void dump_kernel_counts(const ir_graph *g, const graph_plan *p, FILE *out)
{
    fprintf(out, "  kernels per layer: forward-like (recomputed z) / transposed / elementwise / other\n");
    int total[4] = { 0 };
    for (int l = 0; l < g->n_forward; l++) {
        int count[4] = { 0 };
        for (int i = g->n_forward; i < g->n_nodes; i++) {
            if (!p->emit[i] || g->nodes[i].layer != l + 1) continue;
            switch (g->nodes[i].op) {
            case OP_DENSE:
            case OP_CONV2D:
            case OP_SUMPOOL: count[0]++; break;
            case OP_DENSE_T:
            case OP_CONV2D_T:
            case OP_SUMPOOL_T:
            case OP_MAXPOOL_T: count[1]++; break;
            case OP_ELTWISE: count[2]++; break;
            default: count[3]++; break;
            }
        }
        if (!count[0] && !count[1] && !count[2] && !count[3]) continue;
        fprintf(out, "    %-12s %-15s %d / %d / %d / %d\n", g->nodes[l].name ? g->nodes[l].name : "",
                ir_op_name(g->nodes[l].fused ? (ir_op)(g->nodes[l].fused - 1) : g->nodes[l].op), count[0], count[1],
                count[2], count[3]);
        for (int k = 0; k < 4; k++) total[k] += count[k];
    }
    fprintf(out, "    %-28s %d / %d / %d / %d\n", "all layers", total[0], total[1], total[2], total[3]);
}

void plan_dump(const ir_graph *g, const graph_plan *p, FILE *out)
{
    fprintf(out, "plan %s%s%s: workspace %lld floats per sample (%lld bytes)\n", g->name,
            g->explain_name ? " explain " : "", g->explain_name ? g->explain_name : "", (long long)p->arena_floats,
            (long long)p->arena_floats * 4);
    if (g->samples > 1)
        fprintf(out, "  %d samples per input, %d at a time (nodes %%%d .. %%%d run %d times)\n", g->samples, g->chunk,
                g->sample_first, g->sample_last, g->chunk ? g->samples / g->chunk : 0);
    for (int i = 0; i < g->n_nodes; i++) {
        const plan_value *v = &p->values[i];
        const ir_node *n = &g->nodes[i];
        fprintf(out, "  %%%d %-14s %-10s ", i, ir_op_name(n->fused ? (ir_op)(n->fused - 1) : n->op),
                n->name ? n->name : "");
        if (n->fused)
            fprintf(out, "fused into %%%d ", n->inputs[0]);
        else if (!p->emit[i] && n->op != OP_INPUT)
            fprintf(out, "alias of %%%d ", plan_root(g, i));
        if (v->kind == LOC_INPUT)
            fprintf(out, "-> x");
        else if (v->kind == LOC_OUTPUT)
            fprintf(out, "-> y");
        else
            fprintf(out, "-> ws[%lld .. %lld)", (long long)v->offset,
                    (long long)(v->offset + ir_shape_count(&g->nodes[i].shape)));
        /* a backward node: the forward layer whose rule made it (bench/perf_kernels.py reads it) */
        if (i >= g->n_forward && n->layer > 0 && g->nodes[n->layer - 1].name)
            fprintf(out, "  (layer %s)", g->nodes[n->layer - 1].name);
        fputc('\n', out);
    }
    if (g->network) dump_kernel_counts(g, p, out);
}
