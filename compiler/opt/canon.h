/* Canonicalisation: rewrites the graph into the forms later stages expect (BatchNorm folded away). */
#ifndef XAIC_CANON_H
#define XAIC_CANON_H
#include "ir.h"

/* Folds every eval-mode batchnorm into the conv2d/dense that feeds it when that layer has no other
 * consumer (y = s*(Wx + b - mean) + beta with s = gamma/sqrt(var + eps)); any other batchnorm becomes a
 * per-channel affine op. */
void canon_graph(ir_graph *g);
void canon_module(ir_module *m);
#endif
