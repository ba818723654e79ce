/* Handing a job's chunks to the processes that compute them (scheduler.c, docs/scaling.md). Started by mpirun or
 * srun, every rank runs the same command: rank 0 hands out chunks one at a time, in order, to whichever rank
 * asks (a slow node takes fewer), and is the only one to hear what was done (the journal's single writer);
 * rank 0 computes chunks too, on a thread of its own, while its main thread answers the others. Without MPI
 * (not launched by mpirun, or xaic built without Open MPI) there is one rank and the loop runs in place. */
#ifndef XAIC_SCHEDULER_H
#define XAIC_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

typedef struct sched sched;

/* Starts MPI when the environment says mpirun or srun started this process (Open MPI's OMPI_COMM_WORLD_SIZE,
 * PMIx's PMIX_RANK, PMI's PMI_SIZE); otherwise a one-rank scheduler. NULL after a message if MPI is wanted
 * but this xaic was built without it (the message says how to get it). */
sched *sched_start(void);
/* MPI_Finalize (every rank), frees s. */
void sched_end(sched *s);
int sched_rank(const sched *s);
int sched_size(const sched *s);
const char *sched_host(const sched *s); /* this rank's host name */
int sched_mpi_available(void);          /* built with Open MPI */
int sched_launched(void);               /* started by mpirun / srun */

/* While on, ranks other than 0 send their standard error to /dev/null: their set-up repeats rank 0's, and one
 * copy of each message is enough. */
void sched_quiet(sched *s, int on);
/* Every rank's status (0 ok) combined: the largest, and in *first_failed the lowest rank that failed (-1: none).
 * A collective call: every rank must make it at the same point. */
int sched_agree(sched *s, int status, int *first_failed);
/* Rank 0's int64 values to every rank (collective). */
void sched_broadcast(sched *s, int64_t *values, int n);
/* Stops every rank of the job now with `status` (MPI_Abort; exit without MPI). */
void sched_abort(sched *s, int status) __attribute__((noreturn));

/* The work loop, on every rank:
 *   next(ctx)                  rank 0: the next chunk to compute, -1 when none is left;
 *   work(wctx, chunk, &report) any rank: computes the chunk; its report (malloc'd bytes) goes to rank 0;
 *   done(ctx, rank, chunk, report, len)  rank 0: a chunk finished (called in the order reports arrive, one at
 *                              a time); non-zero stops the job;
 * Returns 0 when every chunk was done, else the first failure's status (after its message; under MPI a rank
 * that fails stops the whole job, naming itself). */
typedef struct sched_work {
    int64_t (*next)(void *ctx);
    int (*done)(void *ctx, int rank, int64_t chunk, const void *report, size_t len);
    void *ctx;
    int (*work)(void *wctx, int64_t chunk, void **report, size_t *len);
    void *wctx;
} sched_work;
int sched_run(sched *s, const sched_work *w);

#endif
