/* Shared by eval.c (arguments, set-up, the job), eval_chunk.c (a chunk's metrics, the first input's strips) and
 * eval_report.c (curves.csv, per_image.csv, results.json, plots and strips, from per_input.npy). */
#ifndef XAIC_EVAL_INTERNAL_H
#define XAIC_EVAL_INTERNAL_H

#include "dataset.h"
#include "driver.h"
#include "jit.h"
#include "job.h"
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
    int chunk, resume, progress_every; /* data sets (docs/scaling.md); 0: the defaults */
    const char *skip_bad;
    int colormap;                          /* --colormap of the strip_*.png heatmaps (XAI_COLORMAP_*) */
    const char *input_range, *input_shape; /* a MODEL.onnx (tool_program.h) */
} eval_args;

typedef struct eval_method {
    const char *name;
    const ir_graph *graph;
    xai_explain_fn fn;
    int32_t relevance_channels;
} eval_method;

/* mean and standard deviation over the inputs of one column, NaN skipped */
typedef struct eval_stats {
    double mean, std, max;
    int64_t count;
} eval_stats;

/* one explanation (and, for selectivity, one flipping order) over every input */
typedef struct eval_result {
    const eval_method *method;
    int order;      /* XAI_FLIP_*; 0 for continuity */
    int64_t points; /* per input: steps + 1, or the number of shifts */
    int64_t column; /* its first column in per_input.npy: score, then f at each point, then continuity's quadrants */
    /* from per_input.npy (eval_report.c) */
    eval_stats score;
    eval_stats *curve;     /* [points] */
    eval_stats *quadrants; /* continuity: [points * 4] */
    /* the first input's heatmaps (eval_chunk.c) */
    float *strip;           /* [steps or shifts, relevance_channels, H, W] */
    int32_t *strip_removed; /* selectivity: its removed patches [steps] */
    double seconds;         /* summed over the chunks (and ranks) */
} eval_result;

typedef struct eval_setup {
    const ir_graph *net;
    eval_method methods[EVAL_MAX_METHODS];
    int n_methods;
    xai_eval_model m;    /* without explain: set per method */
    int64_t in_count, n; /* values per input; inputs in the job (before skipping) */
    dataset ds;
    int32_t *labels; /* [n], or NULL: each input's arg-max */
    int has_labels;
    int64_t evaluated, correct; /* inputs not skipped; predictions equal to the targets */
    xai_jit *jit;
    void *workspace;
    eval_result results[2 * EVAL_MAX_METHODS];
    int n_results;
    int64_t row_values; /* per_input.npy's columns: target, predicted, then each result's */
    char *per_input;    /* DIR/per_input.npy */
    float *image0;      /* the first input evaluated (the strips') */
    int64_t image0_index;
    int32_t image0_target;
    double started, seconds; /* this run's wall time */
    tool_inputs inputs;      /* what the report may not overwrite: sources, weights, data, labels */
    const eval_args *args;
    /* a chunk's scratch (eval_chunk.c) */
    float *curves, *quads, *score, *logits;
    int32_t *targets, *predicted;
} eval_setup;

/* mkdir -p DIR (before any work, so a bad DIR fails fast); 0 or 1 after a message. */
int eval_make_output_dir(const char *dir);
/* per_input.npy's columns of one result */
int64_t eval_result_values(const eval_args *a, const eval_result *r);

/* The job's callbacks (eval_chunk.c): one chunk's predictions and metrics into per_input rows; the finish
 * (rank 0): the strips of the first input evaluated, then the report. */
int eval_chunk_buffers(eval_setup *s, int32_t chunk);
int eval_process(void *ctx, int64_t first, int32_t n, const float *x, const unsigned char *bad, float *const *rows,
                 double *extra);
int eval_finish(void *ctx, job *j);

/* Reads per_input.npy into the results' statistics and the accuracy (eval_report.c). */
int eval_collect(eval_setup *s);
/* Writes DIR/curves.csv, per_image.csv, results.json, the SVG plots and the heatmap strips; 0 or 1. */
int eval_write_report(const eval_args *a, const eval_setup *s);
#endif
