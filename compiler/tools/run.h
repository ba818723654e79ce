/* `xaic run`: JIT-compile, read the input (.npy or .png), call the entry point, write the output. */
#ifndef XAIC_RUN_H
#define XAIC_RUN_H
#include "driver.h"
#include "xairt.h"

typedef struct run_request {
    const char *input, *output;
    const char *network; /* NULL: the only network of the file */
    const char *explain; /* explanation name (NULL with forward) */
    int forward;
    int class_target; /* -1: arg-max */
    int opt_level;
    int stats;            /* print the relevance sum at every layer (conservation report) */
    int overlay;          /* a .png output blends the heatmap over the input */
    int colormap;         /* XAI_COLORMAP_* of a .png heatmap */
    const char *baseline; /* .npy: IG baseline / DeepLIFT reference (one sample or one per input sample) */
    const char *noise;    /* .npy: SmoothGrad noise to replay, [batch, samples, ...input] */
    uint64_t seed;        /* SmoothGrad seed at run time (has_seed), else the compiled one */
    int has_seed;
    int steps; /* activation maximisation: iterations (0: as compiled) */
    /* data sets (run_stream.c): 0 / NULL: the defaults */
    int batch, chunk, resume, progress_every;
    const char *skip_bad;
} run_request;

/* Returns the process exit status (0, 1 for bad input, 2 for bad usage); messages go to stderr. */
int run_command(compilation *c, const run_request *r);
/* Reads r->input whole (a .npy / IDX file, an image, a directory or list of images) for network `net`; returns
 * the batch or -1 after a message (run_input.c). */
int run_read_input(const run_request *r, const ir_graph *net, xai_array *x);
/* 1 when path may be read (--root); else 0 after a message */
int run_may_read(const char *path);
/* 1 when every value of a is finite; else 0 after a message naming the file, the sample and the element */
int run_check_finite(const char *path, const xai_array *a, int64_t per_sample);
/* 1 when writing path replaces none of the run's inputs (sources, weights, --input, --baseline, --noise);
 * else 0 after a message */
int run_output_allowed(const compilation *c, const run_request *r, const char *path);
/* 1 when --target t names one of explanation expl's targets (a class of network `net`, or a channel of its
 * `from` layer); else 0 after a message */
int run_target_ok(const ir_graph *expl, const char *net, int t);
/* s ends with suffix, ignoring case */
int run_ends_with(const char *s, const char *suffix);
/* 1 when the request streams its input through the data set machinery (run_stream.c): a .npy output without
 * --stats or --noise */
int run_streams(const run_request *r);
/* xaic run over a data set, a chunk at a time, on every rank (run_stream.c) */
int run_stream(compilation *c, const run_request *r);
/* xaic run --explain NAME for an activation_maximization explanation (run_actmax.c). */
int run_actmax(compilation *c, const run_request *r, const ir_graph *expl);
/* xaic run --explain NAME for a smoothgrad sweep: one grid of its members (run_sweep.c). */
int run_sweep(compilation *c, const run_request *r);
#endif
