/* Epilogue fusion: an elementwise node whose operand comes from a dense / conv2d kernel or their transposes
 * is computed by that kernel as it stores its results (fuse.c). */
#ifndef XAIC_FUSE_H
#define XAIC_FUSE_H

#include "ir.h"

/* Rewrites g in place: each fused elementwise node becomes an alias (OP_FLATTEN, fused = 1 + its former op) of the kernel
 * that now computes it. Nodes a caller reads (the output, the relevance at each layer) keep their values. */
void fuse_epilogues(ir_graph *g);

#endif
