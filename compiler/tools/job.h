/* A streaming job (job.c, docs/scaling.md): a data set's records, a chunk at a time, through the tool's
 * computation into .npy outputs made at their final size (`TARGET.xaic-partial` until the end) and a journal
 * (`JOURNAL`) of the chunks done, on one process or on every rank of an MPI job (scheduler.h). Guarantees:
 *  - a chunk counts as done only once its rows are synced and its journal line (with the CRC-32 of each
 *    output's rows) is synced; a resumed job checks every chunk the journal lists against the partial files
 *    and computes again any that does not match;
 *  - the outputs are verified in full against the journal, then renamed over their targets: the targets are
 *    untouched until then and complete after;
 *  - a job killed at any moment and resumed gives the bytes an uninterrupted run gives, since each row depends
 *    on its record only (the tool's computation must be so). */
#ifndef XAIC_JOB_H
#define XAIC_JOB_H

#include "dataset.h"
#include "journal.h"
#include "outputs.h"
#include "scheduler.h"

#define JOB_MAX_OUTPUTS JOURNAL_MAX_OUTPUTS

typedef struct job_output {
    char *target;
    int32_t rank;
    int64_t shape[8];   /* shape[0]: one row per record */
    int64_t row_values; /* product of shape[1..] */
    char *partial;      /* job_run's */
} job_output;

typedef struct job job;
struct job {
    /* set by the tool */
    const char *what;        /* "xaic run", "xaic eval": progress lines */
    char *journal_path;      /* malloc'd */
    const char *description; /* what the job is: a resumed job must have the same */
    dataset *ds;
    int64_t records; /* the first `records` of the data set */
    int32_t chunk;   /* records per chunk */
    job_output out[JOB_MAX_OUTPUTS];
    int n_out, n_extra; /* outputs; numbers per chunk the tool keeps in the journal (summed for finish) */
    int resume;
    const char *skip_list; /* --skip-bad LIST */
    int progress_every;
    const tool_inputs *inputs; /* what no output may replace */
    /* one chunk: n records from `first` in x (bad ones zeroed, bad[i] set) -> rows[o] (n * row_values of output o)
     * and extra[n_extra]; 0 or 1 after a message. Called on every rank, one chunk at a time per rank. */
    int (*process)(void *ctx, int64_t first, int32_t n, const float *x, const unsigned char *bad, float *const *rows,
                   double *extra);
    /* rank 0, once the outputs are in place, before the journal is removed (eval's report); 0 or 1 */
    int (*finish)(void *ctx, job *j);
    void *ctx;
    /* for finish: the sums of every chunk's extra numbers and the records skipped */
    double extra_total[JOURNAL_MAX_EXTRA];
    int64_t skipped;
};

/* Runs the job on every rank of s; returns the process exit status (0; 1 after a message). Outputs that exist but
 * are not regular files (/dev/null, a FIFO) are written in order through xai_outfile instead (one process, no
 * resume). */
int job_run(job *j, sched *s);

#endif
