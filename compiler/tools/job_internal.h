/* Shared by job.c (setting up, resuming, verifying, committing) and job_work.c (computing chunks on any rank,
 * recording them on rank 0, and the in-order mode for outputs that are devices). */
#ifndef XAIC_JOB_INTERNAL_H
#define XAIC_JOB_INTERNAL_H

#include "job.h"
#include "progress.h"

typedef struct job_state {
    job *j;
    sched *s;
    int64_t chunks;
    /* rank 0 */
    unsigned char *done; /* [chunks] */
    uint32_t *crc;       /* [chunks * n_out] */
    double *extra;       /* [chunks * n_extra] */
    journal *jr;
    int complete; /* the journal said so already */
    int64_t next;
    progress prog;
    journal_bad *bad; /* every skipped record (earlier runs' too) */
    int64_t n_bad, cap_bad;
    /* every rank */
    xai_npy_sized *files[JOB_MAX_OUTPUTS];
    float *x, *rows[JOB_MAX_OUTPUTS];
    unsigned char *bad_flags;
    char (*reasons)[DATASET_REASON];
    int warned;
} job_state;

/* records [first, first + n) of chunk c */
int64_t job_first(const job_state *st, int64_t chunk);
int32_t job_count(const job_state *st, int64_t chunk);
/* the per-rank buffers of one chunk; 0 or 1 after a message */
int job_buffers(job_state *st);
/* reads and computes chunk c into st->rows (bad rows NaN), extra[n_extra] filled; 0 or 1 after a message */
int job_compute(job_state *st, int64_t chunk, double *extra);
/* the sched_work of the job: next / done on rank 0, work on every rank */
void job_work_of(job_state *st, sched_work *w);
/* adds a skipped record to rank 0's list; 0 when out of memory */
int job_add_bad(job_state *st, int64_t chunk, int64_t record, const char *reason);
/* outputs that are devices or FIFOs: one process, chunks in order, rows streamed through xai_outfile */
int job_run_in_order(job_state *st);
/* --skip-bad LIST: the skipped records, in order, through xai_outfile (rank 0) */
int job_write_skip_list(job_state *st);

#endif
