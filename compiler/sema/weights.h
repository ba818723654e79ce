/* Reading a network's parameters from its safetensors file into IR constants (part of sema). */
#ifndef XAIC_WEIGHTS_H
#define XAIC_WEIGHTS_H

#include "ir.h"
#include "xairt.h"

typedef struct weights_file {
    char *path;  /* resolved path */
    xai_loc loc; /* the `weights` statement, for messages */
    xai_safetensors st;
    int ok; /* opened and valid */
} weights_file;

/* Opens and validates the file; reports a diagnostic at `loc` and returns 0 on failure. */
int weights_open(xai_diag *d, xai_loc loc, const char *path, weights_file *wf);
void weights_close(weights_file *wf);

/* Fetches tensor `name` as float32 into a new constant of graph g, checking that its shape equals
 * `shape` (rank entries). `layer` names the layer in messages. Reports at `loc` and returns NULL on
 * failure. F64, F16 and BF16 tensors are converted; any other dtype is an error. */
ir_const *weights_fetch(xai_diag *d, xai_loc loc, weights_file *wf, ir_graph *g, const char *name, int rank,
                        const int64_t *shape, const char *layer);

#endif
