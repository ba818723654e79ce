/* What a shared object (--emit shared) says about itself, for bindings such as xaic's Python package: a JSON
 * document in the exported string `xaic_describe` (docs/python.md lists its fields). NET_info holds names and
 * shapes; this adds what a caller needs to prepare a call without the header: each explanation's entry points,
 * its input and output shapes, its classes, what its xai_options may carry, the files the object was built
 * from, and with --keep-values where each layer's relevance lies in the workspace after a call. */
#ifndef XAIC_DESCRIBE_H
#define XAIC_DESCRIBE_H

#include "driver.h"

typedef struct describe_settings {
    int opt_level, keep_values, threads_off, weights_external;
    const char *runtime; /* the libxairt.a linked in (an input of the object), or NULL */
} describe_settings;

/* The JSON text (malloc'd; NULL when out of memory). c must have been analysed without errors. */
char *describe_module(const compilation *c, const describe_settings *s);

#endif
