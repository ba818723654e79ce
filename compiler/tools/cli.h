/* xaic's command line for compile, check and run (cli.c); `xaic eval` and `xaic import` parse their own. */
#ifndef XAIC_CLI_H
#define XAIC_CLI_H

#include <stdint.h>
#include <stdio.h>

#define XAIC_VERSION "0.1.0"

typedef struct cli {
    const char *command, *file, *out, *emit, *triple, *cpu, *dump, *input, *network, *explain, *baseline, *noise;
    const char *root;                      /* --root DIR */
    const char *input_range, *input_shape; /* a MODEL.onnx: as `xaic import` takes them (tool_program.h) */
    uint64_t seed;
    int has_seed;
    int steps;
    /* run over a data set (docs/scaling.md) */
    int batch, chunk, resume, progress_every;
    const char *skip_bad;
    int opt_level, external, forward, class_target, sanitize_address, stats, overlay;
    int colormap; /* --colormap: XAI_COLORMAP_* of a .png heatmap */
    int threads_off;
    int conv_direct; /* --conv=direct: no Winograd F(2x2, 3x3) (cg_options.winograd_off) */
    int jobs;        /* -j N: threads that optimise and compile (0: the CPUs) */
    int error_limit; /* -1: the default */
    int allow_nonfinite_weights;
    int keep_values;     /* --keep-values: every value keeps its workspace slot (relevance per layer, shared objects) */
    const char *runtime; /* --runtime LIB: the libxairt.a a shared object links (else XAIC_RUNTIME, then found) */
    int help, version;   /* --help / --version: print and stop */
} cli;

/* Fills o from argv; returns 0, or 2 after printing what is wrong to err. */
int cli_parse(int argc, char **argv, cli *o, FILE *err);
void cli_usage(FILE *f);

#endif
