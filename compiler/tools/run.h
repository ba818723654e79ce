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
    const char *baseline; /* .npy: IG baseline / DeepLIFT reference (one sample or one per input sample) */
    const char *noise;    /* .npy: SmoothGrad noise to replay, [batch, samples, ...input] */
    uint64_t seed;        /* SmoothGrad seed at run time (has_seed), else the compiled one */
    int has_seed;
    int steps; /* activation maximisation: iterations (0: as compiled) */
} run_request;

/* Returns the process exit status (0, 1 for bad input, 2 for bad usage); messages go to stderr. */
int run_command(compilation *c, const run_request *r);
/* Reads r->input (.npy or one .png) and checks it against the input node's shape; returns the batch or -1
 * after a message (run_input.c). */
int run_read_input(const run_request *r, const ir_node *in, xai_array *x);
/* 1 when path may be read (--root); else 0 after a message */
int run_may_read(const char *path);
/* 1 when every value of a is finite; else 0 after a message naming the file, the sample and the element */
int run_check_finite(const char *path, const xai_array *a, int64_t per_sample);
/* 1 when writing path replaces none of the run's inputs (sources, weights, --input, --baseline, --noise);
 * else 0 after a message */
int run_output_allowed(const compilation *c, const run_request *r, const char *path);
/* s ends with suffix, ignoring case */
int run_ends_with(const char *s, const char *suffix);
/* xaic run --explain NAME for an activation_maximization explanation (run_actmax.c). */
int run_actmax(compilation *c, const run_request *r, const ir_graph *expl);
#endif
