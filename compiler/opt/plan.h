/* Planning: where every node's output lives. The input and output nodes live in the caller's buffers;
 * every other value gets a slot in the workspace arena, reused once its last reader has run.
 * Sizes are per sample: a slot at offset o (floats) of size s occupies [o*batch, (o+s)*batch) at run time,
 * so slots that do not overlap per sample do not overlap for any batch. */
#ifndef XAIC_PLAN_H
#define XAIC_PLAN_H
#include "ir.h"

typedef enum { LOC_INPUT, LOC_OUTPUT, LOC_ARENA } plan_loc_kind;

typedef struct plan_value {
    plan_loc_kind kind;
    int64_t offset; /* LOC_ARENA: floats per sample */
} plan_value;

typedef struct graph_plan {
    plan_value *values;       /* per node */
    int *emit;                /* per node: 1 if a kernel computes it (not an alias such as flatten) */
    int copy_input_to_output; /* the output is the input itself (or a view of it) */
    int64_t arena_floats;     /* per sample, a multiple of 16 (64 bytes) */
    int64_t am_offset;        /* activation maximisation: its state (iterate, Adam moments, gradient, targets) */
    int64_t scratch_floats;   /* for the whole call (not per sample): the largest scratch of a kernel (Winograd
                                 convs' slots, opt/winograd.h), before the arena */
    int n_nodes;
} graph_plan;

graph_plan *plan_graph(const ir_graph *g);
/* IG / SmoothGrad: when the samples of one input need more than budget_bytes of workspace, runs them in
 * chunks (the largest divisor of the samples that fits; see ir_graph.chunk). Call before planning. */
void plan_choose_chunk(ir_graph *g, int64_t budget_bytes);
#define PLAN_SAMPLE_BUDGET (8 << 20)
/* Every value keeps its own slot (no reuse): intermediate results can be read after a call (--stats). */
graph_plan *plan_graph_keep_all(const ir_graph *g);
void plan_free(graph_plan *p);
/* The node whose buffer node i uses (follows flatten aliases). */
int plan_root(const ir_graph *g, int i);
void plan_dump(const ir_graph *g, const graph_plan *p, FILE *out);
#endif
