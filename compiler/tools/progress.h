/* Progress of a streaming job (progress.c): on a terminal one line rewritten in place with the rate and the time
 * left; otherwise nothing, unless asked for (--progress N: `every`), then a plain line every `every` chunks (and
 * at the end), fit for a log file. */
#ifndef XAIC_PROGRESS_H
#define XAIC_PROGRESS_H

#include <stdint.h>

typedef struct progress {
    const char *what;                  /* "xaic run", "xaic eval" */
    int64_t chunks, records;           /* in the job */
    int64_t done_chunks, done_records; /* so far, with those of earlier runs */
    int64_t session_records;           /* computed by this run */
    double start, last_print;
    int every, tty, since_line;
} progress;

void progress_begin(progress *p, const char *what, int64_t chunks, int64_t records, int64_t done_chunks,
                    int64_t done_records, int every);
void progress_step(progress *p, int64_t records);
void progress_end(progress *p);
double progress_now(void); /* a monotonic clock, seconds */

/* Compile progress, on a terminal only: sets c->phase so that while the back end works a line is rewritten in
 * place every half second ("xaic: compiling NAME: optimising, 412 functions, 12s"), erased when the code is
 * ready. Off a terminal it does nothing. */
struct compilation;
void progress_compile_attach(struct compilation *c, const char *what);

#endif
