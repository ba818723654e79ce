/* Row pruning: a slice of rows of a token tensor [T, D] moved up through the row-wise layers before it, so that they
 * compute only the rows the network reads (a ViT's head reads the class token: its last encoder block's MLP, layer
 * norms and residual adds then run on 1 row of 197). */
#ifndef XAIC_ROWS_H
#define XAIC_ROWS_H
#include "ir.h"

/* For each slice along axis 0 of a [T, D] value: the largest set S of row-wise layers (OPF_ROWWISE, with the
 * conditions rows.c checks) between one node F and the slice such that every value S reads is in S or is F, and
 * every consumer of S is in S or the slice. The slice then reads F and moves to just after it, and S computes only
 * the sliced rows (their shapes shrink); the slice's consumers read the last layer of S. Nodes with keep[i] set are
 * never in S (explanations that read a layer's own values: `at`, `from`, rules with reductions over a layer).
 * Results are the same up to rounding: a layer left with one row may run another kernel (the dense of one sample
 * sums in another order).
 * Returns 1 if the graph changed, with remap[i] the new index of node i (the array has room for g->n_nodes). */
int rows_prune(ir_graph *g, const unsigned char *keep, int *remap);
#endif
