/* Row pruning (rows.h). */
#include "rows.h"

#include <stdlib.h>
#include <string.h>

/* Rows of [rows, D] node i are independent of each other, so that a slice of rows commutes with it. */
static int row_wise(const ir_graph *g, int i, int64_t rows)
{
    const ir_node *n = &g->nodes[i];
    if (!ir_op_is(n->op, OPF_ROWWISE) || n->shape.rank != 2 || n->shape.dims[0] != rows) return 0;
    if (ir_op_is(n->op, OPF_GROUPED) && n->axis != 1) return 0; /* softmax, layernorm: along each row only */
    for (int k = 0; k < n->n_inputs; k++) {                     /* no broadcasting: every operand a [rows, D'] value */
        const ir_shape *s = &g->nodes[n->inputs[k]].shape;
        if (s->rank != 2 || s->dims[0] != rows) return 0;
        if (ir_op_is(n->op, OPF_BINARY) && s->dims[1] != n->shape.dims[1]) return 0;
    }
    return n->n_inputs > 0;
}

/* S for the slice s and candidate F (rows.h) in set[] (1 = in S); 0 if F does not qualify */
static int region(const ir_graph *g, int s, int F, const unsigned char *reach, const unsigned char *keep, int64_t rows,
                  unsigned char *set)
{
    memset(set, 0, (size_t)g->n_nodes);
    const ir_shape *fs = &g->nodes[F].shape;
    if (fs->rank != 2 || fs->dims[0] != rows || reach[F] == 0) return 0;
    int any = 0;
    for (int n = F + 1; n < s; n++) {
        if (!reach[n]) continue;
        if (keep[n] || n == g->output || !row_wise(g, n, rows)) return 0;
        set[n] = 1, any = 1;
    }
    for (int n = F + 1; n < s; n++) {
        if (!set[n]) continue;
        for (int k = 0; k < g->nodes[n].n_inputs; k++) {
            int in = g->nodes[n].inputs[k];
            if (in != F && !set[in]) return 0;
        }
    }
    for (int j = F + 1; j < g->n_nodes; j++) /* every consumer of S is in S or the slice */
        for (int k = 0; k < g->nodes[j].n_inputs; k++) {
            int in = g->nodes[j].inputs[k];
            if (in > F && in < g->n_nodes && set[in] && j != s && !set[j]) return 0;
        }
    return any && set[g->nodes[s].inputs[0]];
}

/* moves node s to position to (< s), the nodes between one place on; remap gets old -> new */
static void move_node(ir_graph *g, int s, int to, int *remap)
{
    for (int i = 0; i < g->n_nodes; i++) remap[i] = i < to || i > s ? i : i == s ? to : i + 1;
    ir_node moved = g->nodes[s];
    memmove(&g->nodes[to + 1], &g->nodes[to], sizeof *g->nodes * (size_t)(s - to));
    g->nodes[to] = moved;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) g->nodes[i].inputs[k] = remap[g->nodes[i].inputs[k]];
    g->output = remap[g->output];
    g->input = remap[g->input];
}

/* one slice moved, if any can be; remap as rows_prune's */
static int prune_one(ir_graph *g, const unsigned char *keep, int *remap, unsigned char *reach, unsigned char *set)
{
    for (int s = g->n_nodes - 1; s > 0; s--) {
        ir_node *sl = &g->nodes[s];
        if (sl->op != OP_SLICE || sl->axis != 0 || sl->n_inputs != 1 || sl->shape.rank != 2) continue;
        int last = sl->inputs[0];
        int64_t rows = g->nodes[last].shape.dims[0];
        if (g->nodes[last].shape.rank != 2 || sl->shape.dims[0] >= rows) continue;
        /* reach[n]: n's value flows into the slice through nodes before it */
        memset(reach, 0, (size_t)g->n_nodes);
        reach[s] = 1;
        for (int n = s - 1; n >= 0; n--)
            for (int j = n + 1; j <= s && !reach[n]; j++)
                for (int k = 0; k < g->nodes[j].n_inputs; k++)
                    if (g->nodes[j].inputs[k] == n && reach[j]) reach[n] = 1;
        int best = -1;
        for (int F = 0; F < last && best < 0; F++) /* the earliest F: the largest S */
            if (region(g, s, F, reach, keep, rows, set)) best = F;
        if (best < 0) continue;
        region(g, s, best, reach, keep, rows, set);
        for (int n = best + 1; n < s; n++) { /* S computes the sliced rows, reading them from the slice */
            if (!set[n]) continue;
            g->nodes[n].shape.dims[0] = sl->shape.dims[0];
            for (int k = 0; k < g->nodes[n].n_inputs; k++)
                if (g->nodes[n].inputs[k] == best) g->nodes[n].inputs[k] = s;
        }
        for (int j = s + 1; j < g->n_nodes; j++) /* the slice's consumers read the last layer of S */
            for (int k = 0; k < g->nodes[j].n_inputs; k++)
                if (g->nodes[j].inputs[k] == s) g->nodes[j].inputs[k] = last;
        if (g->output == s) g->output = last;
        sl->inputs[0] = best;
        sl->shape.dims[1] = g->nodes[best].shape.dims[1];
        move_node(g, s, best + 1, remap);
        return 1;
    }
    return 0;
}

int rows_prune(ir_graph *g, const unsigned char *keep, int *remap)
{
    int n = g->n_nodes, changed = 0;
    unsigned char *reach = malloc((size_t)n), *set = malloc((size_t)n), *kept = malloc((size_t)n);
    int *step = malloc(sizeof(int) * (size_t)n);
    if (!reach || !set || !kept || !step) {
        free(reach), free(set), free(kept), free(step);
        return 0;
    }
    for (int i = 0; i < n; i++) remap[i] = i;
    memcpy(kept, keep, (size_t)n);
    while (prune_one(g, kept, step, reach, set)) {
        changed = 1;
        unsigned char *moved = malloc((size_t)n);
        if (!moved) break;
        for (int i = 0; i < n; i++) moved[step[i]] = kept[i];
        memcpy(kept, moved, (size_t)n);
        free(moved);
        for (int i = 0; i < n; i++) remap[i] = step[remap[i]];
    }
    free(reach), free(set), free(kept), free(step);
    return changed;
}
