/* In-memory compilation with the LLVM ORC JIT (`xaic run`): same code as the object file, no linking. */
#ifndef XAIC_JIT_H
#define XAIC_JIT_H

#include "driver.h"

typedef struct xai_jit xai_jit;

/* Generates, optimises (at opt_level) and JIT-compiles the analysed compilation for the host.
 * Returns NULL and sets *err on failure. */
xai_jit *jit_create(compilation *c, int opt_level, char **err);
/* The same with code generation options (e.g. threads_off, parallel_min_work). */
xai_jit *jit_create_opts(compilation *c, int opt_level, const cg_options *opt, char **err);
/* Address of a generated symbol (e.g. "mnist_cnn_forward"), or NULL. */
void *jit_lookup(xai_jit *j, const char *symbol);
void jit_free(xai_jit *j);
#endif
