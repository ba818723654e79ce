/* What a command writes may never be what it reads: every output path is checked against the command's
 * inputs (the sources and imports, the weights files, the data) before anything is written. */
#ifndef XAIC_OUTPUTS_H
#define XAIC_OUTPUTS_H

#include "driver.h"

#define OUTPUTS_MAX_INPUTS 256

typedef struct tool_inputs {
    const char *path[OUTPUTS_MAX_INPUTS];
    const char *what[OUTPUTS_MAX_INPUTS]; /* "a source", "the weights", ... for the message */
    int n;
} tool_inputs;

/* The compilation's files: its sources and imports (not the prelude) and its networks' weights. */
void outputs_inputs_of(tool_inputs *in, const compilation *c);
void outputs_add_input(tool_inputs *in, const char *path, const char *what);
/* 0 when writing `path` replaces none of the inputs; else 1 after a message (`flag` is the option that named
 * the output, for it). Files are compared by device and inode, so links and ./a/../b spellings are caught. */
int outputs_check(const tool_inputs *in, const char *path, const char *flag);

#endif
