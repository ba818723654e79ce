/* `xaic run`: JIT-compile, read the input (.npy or .png), call the entry point, write the output. */
#ifndef XAIC_RUN_H
#define XAIC_RUN_H
#include "driver.h"
#include "xairt.h"

typedef struct run_request {
    const char *input, *output;
    const char *network;     /* NULL: the only network of the file */
    const char *explain;     /* explanation name (NULL with forward) */
    int forward;
    int class_target;        /* -1: arg-max */
    int opt_level;
    int stats;               /* print the relevance sum at every layer (conservation report) */
    int overlay;             /* a .png output blends the heatmap over the input */
    const char *baseline;    /* .npy: IG baseline / DeepLIFT reference (one sample or one per input sample) */
    const char *noise;       /* .npy: SmoothGrad noise to replay, [batch, samples, ...input] */
    long long seed;          /* SmoothGrad seed at run time; -1: the compiled one */
    int steps;               /* activation maximisation: iterations (0: as compiled) */
} run_request;

/* Returns the process exit status (0, 1 for bad input, 2 for bad usage); messages go to stderr. */
int run_command(compilation *c, const run_request *r);
/* Reads r->input (.npy or one .png) and checks it against the input node's shape; returns the batch or -1
 * after a message (run_input.c). */
int run_read_input(const run_request *r, const ir_node *in, xai_array *x);
/* s ends with suffix, ignoring case */
int run_ends_with(const char *s, const char *suffix);
/* xaic run --explain NAME for an activation_maximization explanation (run_actmax.c). */
int run_actmax(compilation *c, const run_request *r, const ir_graph *expl);
#endif
