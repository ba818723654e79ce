/* What `xaic run`, `eval`, `check` and compile analyse: a .xai file, or an ONNX model imported on the fly into a
 * temporary directory; and, for every `--explain NAME` that is no explain block of the file but an LRP preset
 * (prelude.xai or the file's own) or a method, an explain block `explain NAME for NET { rules NAME; }` /
 * `{ method NAME; }` added to the program as if written (parsed from a source named "<--explain NAME>", so
 * messages point at it). Explaining a model needs no hand-written file (docs/import.md). */
#ifndef XAIC_TOOL_PROGRAM_H
#define XAIC_TOOL_PROGRAM_H

#include <stdint.h>

#include "driver.h"
#include "import.h"

typedef struct tool_program {
    const char *file;    /* FILE.xai or MODEL.onnx */
    const char *explain; /* --explain E1,E2,..., or NULL */
    const char *network; /* --network, or NULL */
    /* a .onnx file: what `xaic import` would take */
    int has_input_range;
    double input_low, input_high;
    int input_rank;
    int64_t input_shape[XAI_IMPORT_MAX_RANK];
    /* set by tool_analyse: the imported copy, removed by tool_program_cleanup */
    char *tmpdir, *imported;
} tool_program;

/* 1 when path names an ONNX model (ends with .onnx, any case) */
int tool_is_onnx(const char *path);
/* driver_analyse on p->file (imported first when it is ONNX), with the explain blocks --explain asks for.
 * Returns non-zero after messages (diagnostics to d, the rest to stderr). */
int tool_analyse(compilation *c, xai_diag *d, tool_program *p);
/* Removes the imported copy (if any). */
void tool_program_cleanup(tool_program *p);
/* "xaic: error: no explanation named 'X'; ..." with every name --explain takes: the file's explain blocks,
 * the presets and the methods. */
void tool_explain_unknown(const compilation *c, const char *name);
/* 0 when every name of the comma list is an explanation of c; else 1 after tool_explain_unknown's message */
int tool_check_explain_names(const compilation *c, const char *list);
/* "--input-range LOW,HIGH" / "--input-shape C,H,W" values for p (0, or 2 after a message) */
int tool_parse_input_range(tool_program *p, const char *v);
int tool_parse_input_shape(tool_program *p, const char *v);

#endif
