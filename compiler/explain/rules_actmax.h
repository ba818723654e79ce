/* Activation maximisation in a generator's code space: the composed network (rules_actmax.c). */
#ifndef XAIC_RULES_ACTMAX_H
#define XAIC_RULES_ACTMAX_H

#include "explain.h"
#include "ir.h"

/* generator -> classifier as one network: the generator's layers (named "GEN.layer", weights copied and
 * embedded), then the classifier's (its input replaced by the generator's output, through a view when
 * the shapes differ). *rules_out gets the rule of every node (free it); *image the node of the image. */
ir_graph *actmax_compose(const ir_graph *gen, const ir_graph *cls, const rule_use *gen_rules,
                         const rule_use *cls_rules, rule_use **rules_out, int *image);
/* Moves the composed network's constants into the explanation graph built on it and frees it. */
void actmax_adopt(ir_graph *expl, ir_graph *composed);

#endif
