/* The rules stage: explain specs -> explanation graphs (the network's forward nodes followed by the
 * backward nodes its rules generate, on the same IR). */
#ifndef XAIC_RULES_H
#define XAIC_RULES_H

#include "explain.h"
#include "ir.h"

/* Builds an explanation graph for every spec and appends it to m->explanations. Rule bodies that cannot
 * be generated (a non-separable share, a body of the wrong kind for its op) are reported to d.
 * Returns the number of errors reported. */
int rules_build(xai_diag *d, ir_module *m, const explain_set *s);

#endif
