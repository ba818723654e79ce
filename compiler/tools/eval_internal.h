/* Shared between eval.c (arguments, JIT, running the metrics) and eval_report.c (CSV, JSON, plots). */
#ifndef XAIC_EVAL_INTERNAL_H
#define XAIC_EVAL_INTERNAL_H

#include "driver.h"
#include "jit.h"
#include "outputs.h"
#include "xairt.h"

#define EVAL_MAX_METHODS 12 /* one plot holds at most 12 series */

typedef struct eval_args {
    const char *file, *explain, *data, *labels, *metric, *out_dir, *network;
    int64_t limit; /* 0: every input */
    int batch, opt_level;
    int is_selectivity;
    int orders;                  /* bit 0: most relevant first, bit 1: least relevant first */
    xai_selectivity_options sel; /* patch, steps, baseline, tracked (order per result) */
    xai_continuity_options cont;
} eval_args;

typedef struct eval_method {
    const char *name;
    const ir_graph *graph;
    xai_explain_fn fn;
    int32_t relevance_channels;
} eval_method;

/* one explanation (and, for selectivity, one flipping order) over every input */
typedef struct eval_result {
    const eval_method *method;
    int order;              /* XAI_FLIP_*; 0 for continuity */
    int64_t points;         /* per input: steps + 1, or the number of shifts */
    float *curves;          /* [n, points]: f */
    float *quadrants;       /* continuity: [n, points, 4] */
    float *score;           /* [n]: AOPC, or the continuity number */
    float *strip;           /* input 0's heatmaps: [steps or shifts, relevance_channels, H, W] */
    int32_t *strip_removed; /* selectivity: input 0's removed patches [steps] */
    double seconds;
} eval_result;

typedef struct eval_setup {
    const ir_graph *net;
    eval_method methods[EVAL_MAX_METHODS];
    int n_methods;
    xai_eval_model m;    /* without explain: set per method */
    int64_t in_count, n; /* values per input; inputs evaluated */
    xai_array x;
    int32_t *targets, *predicted;
    int has_labels;
    int64_t correct; /* predictions equal to the targets (the accuracy, with labels) */
    xai_jit *jit;
    void *workspace;
    eval_result results[2 * EVAL_MAX_METHODS];
    int n_results;
    double seconds;
    tool_inputs inputs; /* what the report may not overwrite: sources, weights, data, labels */
} eval_setup;

int eval_result_init(eval_result *r, const eval_args *a, const eval_setup *s, const eval_method *method, int order);
void eval_result_free(eval_result *r);
/* mkdir -p DIR (before any work, so a bad DIR fails fast); 0 or 1 after a message. */
int eval_make_output_dir(const char *dir);
/* Writes DIR/curves.csv, per_image.csv, results.json, the SVG plots and the heatmap strips; 0 or 1. */
int eval_write_report(const eval_args *a, const eval_setup *s);
#endif
