/* Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions (Lavin & Gray, "Fast Algorithms for Convolutional Neural
 * Networks", CVPR 2016): a 2x2 block of outputs from a 4x4 block of inputs with 16 multiplies per channel pair
 * instead of 36. This stage decides which convolutions take it and makes their transformed filters
 * U = G w G^T once, as derived constants with recipes (so --weights=external computes them when the weights are
 * bound); codegen/cg_winograd.c runs the transforms and the 16 products. */
#ifndef XAIC_WINOGRAD_H
#define XAIC_WINOGRAD_H

#include "ir.h"

/* A unit is 16 tiles (one vector). On planes at least WINOGRAD_MIN_WIDTH wide, a unit is 16 consecutive tiles of one
 * row of tiles; planes WINOGRAD_ROWS_MIN_WIDTH to WINOGRAD_ROWS_MAX_WIDTH wide (VGG-16's and ResNet-50's 14x14 stages,
 * 7x7 planes) have 4 to 7 tiles per row, whose inputs (2 TX + 2 <= 16 columns) fit one vector: a unit takes
 * P = 16 / TX rows of tiles (7x7: all 16 tiles, 14x14: 2 rows of 7). Widths between the two would leave most lanes
 * idle. */
#define WINOGRAD_MIN_WIDTH      28
#define WINOGRAD_ROWS_MIN_WIDTH 7
#define WINOGRAD_ROWS_MAX_WIDTH 14
#define WINOGRAD_UNIT           16
/* The threads split a conv's (sample, chunk of units) pairs into this many slots, each with its own scratch in the
 * workspace (transformed inputs and products of one chunk); the workspace holds one set, shared by every conv of the
 * network, as they run one after the other. */
#define WINOGRAD_SLOTS 4
/* A chunk's scratch aims at half of a core's L2 (the transformed filters are read beside it) but holds at least one
 * unit, at most WINOGRAD_MAX_SLOT_BYTES: which bounds the channels a conv may have (input + output <= 1024). */
#define WINOGRAD_CHUNK_BYTES     (512 << 10)
#define WINOGRAD_MAX_SLOT_BYTES  (1 << 20)
#define WINOGRAD_MAX_CHUNK_UNITS 8
/* Filters of at least this many transformed bytes (512 x 256 channels and more) would be read from memory once per
 * chunk, not from L3: such a conv takes all its tiles at once instead (the whole layer's transformed inputs and
 * products as scratch, at most WINOGRAD_WHOLE_MAX_BYTES), the threads splitting it by tiles for the input
 * transform, then by blocks of WINOGRAD_WHOLE_BLOCK output channels for the products and the output transform. */
#define WINOGRAD_WHOLE_MIN_FILTER_BYTES (8 << 20)
#define WINOGRAD_WHOLE_MAX_BYTES        (32 << 20)
#define WINOGRAD_WHOLE_BLOCK            64
/* A plane of one unit (8x8 outputs or fewer: ResNet-50's layer4) reads each transformed filter for 16 tiles only;
 * filters whose transform reaches this size stay direct there: their transform (16/9 of the weights, bound in the
 * workspace for every map a rule reads) would cost more memory than its multiplies save time (ResNet-50's layer4:
 * 67 MB for ~2% of its forward). */
#define WINOGRAD_BIG_FILTER_BYTES (8 << 20)

/* How a conv's tiles are cut: C input and K output channels, TX tiles per row, GX units per row, TY rows of tiles,
 * P rows of tiles per unit (1, or for narrow planes 16 / TX with GX = 1), UC units per chunk, T = 16 UC tiles per
 * chunk; slot_floats: one slot's scratch, V [16][C][T] then M [16][K][T]; whole: one chunk of every unit
 * (WINOGRAD_WHOLE_MIN_FILTER_BYTES), one scratch; scratch_floats: all of it. */
typedef struct winograd_tiling {
    int64_t C, K, TX, GX, TY, P, units, UC, T, chunks, slot_floats;
    int whole;
    int64_t scratch_floats;
} winograd_tiling;
winograd_tiling winograd_tile(int64_t C, int64_t K, int64_t OH, int64_t OW);

/* Whether node n of g (a conv2d, or the transposed conv of a gradient or relevance pass, itself a correlation
 * with the filters flipped) takes the transform: 3x3, stride 1, no dilation, one group, at least 16 input and output
 * channels, output planes at least WINOGRAD_MIN_WIDTH wide or WINOGRAD_ROWS_MIN_WIDTH to WINOGRAD_ROWS_MAX_WIDTH
 * wide, at least 2 high, and not one unit of large filters (WINOGRAD_BIG_FILTER_BYTES). Filters read as pos(w) /
 * neg(w) (z+ rules) are transformed as such. */
int winograd_applies(const ir_graph *g, const ir_node *n);
/* Makes the transformed filters of every convolution that takes the transform, in every graph of m (owned by
 * the network; made once per filter tensor). */
void winograd_prepare(ir_module *m);
/* The transformed filters of node n ([16][outputs][inputs]), or NULL when winograd_prepare made none. */
const ir_const *winograd_weights(const ir_graph *g, const ir_node *n);
/* The workspace scratch node n needs when it runs by Winograd (floats, all slots), else 0 (plan.c reserves the
 * largest of a graph's, codegen puts it before the arena). */
int64_t winograd_scratch_floats(const ir_graph *g, const ir_node *n);

#endif
