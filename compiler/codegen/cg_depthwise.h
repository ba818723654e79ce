/* Depthwise and narrow grouped correlation (cg_depthwise.c): the groups > 1 correlations whose groups have
 * at most two input and two output channels (MobileNet / EfficientNet depthwise convs, channel multiplier
 * 1 or 2, and their transposes), vectorised along the output row with threads over planes x rows.
 * cg_emit_corr hands such a correlation here after filling in its defaults. */
#ifndef XAIC_CG_DEPTHWISE_H
#define XAIC_CG_DEPTHWISE_H

#include "cg_gemm.h"

/* Whether p (defaults filled in: dh, dw, groups, o_plane set) is one cg_emit_depthwise handles. */
int cg_corr_is_depthwise(const cg_corr *p);
void cg_emit_depthwise(cg *c, const cg_corr *p);
/* The two column phases (o_x0 0 and 1, o_sx 2) of a stride-2 transposed depthwise conv that share their
 * rows (same py) as one kernel: each vector of both is computed, interleaved in registers and stored as
 * two contiguous vectors, rather than two passes of every-other-element stores over the same cache lines.
 * Sums are those of the phases on their own. Returns 0 (nothing emitted) if the pair does not qualify. */
int cg_emit_depthwise_pair(cg *c, const cg_corr *even, const cg_corr *odd);

#endif
