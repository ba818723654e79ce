/* Reading a network's parameters from its safetensors file into IR constants (part of sema). */
#ifndef XAIC_WEIGHTS_H
#define XAIC_WEIGHTS_H

#include "ir.h"
#include "xairt.h"

typedef struct weights_file {
    char *path;  /* resolved path */
    xai_loc loc; /* the `weights` statement, for messages */
    xai_safetensors st;
    int ok;     /* opened and valid */
    char *used; /* per tensor of st: read by some layer (or implied by one, e.g. num_batches_tracked) */
} weights_file;

/* Opens and validates the file; reports a diagnostic at `loc` and returns 0 on failure. */
int weights_open(xai_diag *d, xai_loc loc, const char *path, weights_file *wf);
void weights_close(weights_file *wf);

/* Fetches tensor `name` as float32 into a new constant of graph g, checking that its shape equals
 * `shape` (rank entries). `layer` names the layer in messages. Reports at `loc` and returns NULL on
 * failure. F64, F16 and BF16 tensors are converted; any other dtype is an error. */
ir_const *weights_fetch(xai_diag *d, xai_loc loc, weights_file *wf, ir_graph *g, const char *name, int rank,
                        const int64_t *shape, const char *layer);

/* Marks tensor `name` as used without reading it (a buffer PyTorch's module owns but the layer ignores, e.g.
 * BatchNorm's num_batches_tracked). Absent names are fine. */
void weights_mark_used(weights_file *wf, const char *name);

/* Strict weights (PyTorch's load_state_dict(strict=True)): reports at the `weights` statement, as one
 * error, every tensor of the file that no layer used. Returns the number of unused tensors. */
int weights_report_unused(xai_diag *d, const weights_file *wf, const char *network);

#endif
