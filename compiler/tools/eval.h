/* `xaic eval`: explanation quality (selectivity / pixel flipping with AOPC, continuity under translation)
 * over a set of inputs, with the explanations JIT-compiled in memory as `xaic run` does. The metrics
 * themselves are libxairt's (xai_selectivity, xai_continuity); see docs/evaluation.md. */
#ifndef XAIC_EVAL_H
#define XAIC_EVAL_H

/* argv[0] is "eval". Returns the process exit status: 0, 1 for bad input, 2 for bad usage. Messages and
 * the progress line (only when stderr is a terminal) go to stderr. */
int eval_main(int argc, char **argv);
#endif
