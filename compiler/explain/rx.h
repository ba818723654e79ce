/* Rule-body expressions (rx, explain.h): allocated in an explain set, freed with it (rx.c). */
#ifndef XAIC_RX_H
#define XAIC_RX_H

#include "explain.h"

/* zeroed memory owned by s (freed by explain_set_free); exits on out-of-memory */
void *sx_alloc(explain_set *s, size_t size);
rx *rx_new(explain_set *s, rx_kind kind, xai_loc loc);
rx *rx_number(explain_set *s, double v, xai_loc loc);
/* the variable / function spelled `name`, or -1 */
int rx_var_from_name(const char *name);
int rx_fn_from_name(const char *name);

#endif
