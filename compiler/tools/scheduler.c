/* Chunks to ranks (scheduler.h). Under MPI, rank 0's main thread is the dispatcher: it polls for requests (a
 * request carries the report of the chunk the rank just finished) with MPI_Iprobe and a short sleep, so it costs
 * no core of its own, and answers each with the next chunk; rank 0's own chunks run on a second thread, which
 * never calls MPI (MPI_THREAD_FUNNELED is all that is needed). next() and done() are called under one mutex,
 * so they need no locking of their own. */
#include "scheduler.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef XAIC_HAVE_MPI
#include <mpi.h>
#endif

struct sched {
    int rank, size, mpi;
    int saved_stderr; /* sched_quiet: the real stderr, or -1 */
    char host[256];
};

enum { TAG_REQUEST = 1, TAG_NEXT = 2 };

int sched_mpi_available(void)
{
#ifdef XAIC_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

/* Launched by mpirun (Open MPI), or by srun / another launcher with PMIx or PMI, as more than one process? */
int sched_launched(void)
{
    const char *vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK" };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

sched *sched_start(void)
{
    sched *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "xaic: error: out of memory\n");
        return NULL;
    }
    s->size = 1;
    s->saved_stderr = -1;
    if (gethostname(s->host, sizeof s->host - 1) != 0) strcpy(s->host, "?");
    if (!sched_launched()) return s;
#ifdef XAIC_HAVE_MPI
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "xaic: error: MPI_Init_thread failed\n");
        free(s);
        return NULL;
    }
    s->mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &s->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &s->size);
    return s;
#else
    fprintf(
        stderr,
        "xaic: error: this process was started by mpirun or srun, but this xaic was built without MPI; install Open "
        "MPI (Debian: apt-get install libopenmpi-dev openmpi-bin, or bash scripts/install-deps.sh) and rebuild "
        "xaic, or run it without mpirun\n");
    free(s);
    return NULL;
#endif
}

void sched_end(sched *s)
{
    if (!s) return;
#ifdef XAIC_HAVE_MPI
    if (s->mpi) MPI_Finalize();
#endif
    free(s);
}

int sched_rank(const sched *s) { return s->rank; }

void sched_quiet(sched *s, int on)
{
    if (s->rank == 0) return;
    fflush(stderr);
    if (on && s->saved_stderr < 0) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        s->saved_stderr = null >= 0 ? dup(STDERR_FILENO) : -1;
        if (s->saved_stderr >= 0) dup2(null, STDERR_FILENO);
        if (null >= 0) close(null);
    } else if (!on && s->saved_stderr >= 0) {
        dup2(s->saved_stderr, STDERR_FILENO);
        close(s->saved_stderr);
        s->saved_stderr = -1;
    }
}
int sched_size(const sched *s) { return s->size; }
const char *sched_host(const sched *s) { return s->host; }

int sched_agree(sched *s, int status, int *first_failed)
{
    *first_failed = status ? s->rank : -1;
#ifdef XAIC_HAVE_MPI
    if (s->mpi) {
        int worst, first, mine = status ? s->rank : s->size;
        MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        *first_failed = first < s->size ? first : -1;
        return worst;
    }
#endif
    return status;
}

void sched_broadcast(sched *s, int64_t *values, int n)
{
#ifdef XAIC_HAVE_MPI
    if (s->mpi) MPI_Bcast(values, n, MPI_INT64_T, 0, MPI_COMM_WORLD);
#else
    (void)s, (void)values, (void)n;
#endif
}

void sched_abort(sched *s, int status)
{
    fflush(stderr);
#ifdef XAIC_HAVE_MPI
    if (s && s->mpi) MPI_Abort(MPI_COMM_WORLD, status);
#endif
    (void)s;
    exit(status);
}

/* ---- one process ---- */

static int run_alone(const sched_work *w)
{
    for (;;) {
        int64_t chunk = w->next(w->ctx);
        if (chunk < 0) return 0;
        void *report = NULL;
        size_t len = 0;
        int st = w->work(w->wctx, chunk, &report, &len);
        if (!st) st = w->done(w->ctx, 0, chunk, report, len);
        free(report);
        if (st) return st;
    }
}

#ifdef XAIC_HAVE_MPI

/* ---- rank 0: a worker thread beside the dispatcher ---- */

typedef struct local {
    const sched_work *w;
    pthread_mutex_t lock;
    int status, finished; /* under lock */
} local;

static void *local_worker(void *arg)
{
    local *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->lock);
        int64_t chunk = l->status ? -1 : l->w->next(l->w->ctx);
        pthread_mutex_unlock(&l->lock);
        if (chunk < 0) break;
        void *report = NULL;
        size_t len = 0;
        int st = l->w->work(l->w->wctx, chunk, &report, &len);
        pthread_mutex_lock(&l->lock);
        if (!st) st = l->w->done(l->w->ctx, 0, chunk, report, len);
        if (st && !l->status) l->status = st;
        pthread_mutex_unlock(&l->lock);
        free(report);
        if (st) break;
    }
    pthread_mutex_lock(&l->lock);
    l->finished = 1;
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

static int dispatch(sched *s, const sched_work *w)
{
    local l = { .w = w };
    pthread_mutex_init(&l.lock, NULL);
    pthread_t thread;
    if (pthread_create(&thread, NULL, local_worker, &l) != 0) {
        fprintf(stderr, "xaic: error: cannot start rank 0's worker thread\n");
        sched_abort(s, 1);
    }
    int remote = s->size - 1, status = 0;
    char *buf = NULL;
    int cap = 0;
    for (;;) {
        pthread_mutex_lock(&l.lock);
        int finished = l.finished;
        status = l.status;
        pthread_mutex_unlock(&l.lock);
        if (status) { /* rank 0's own chunk failed: its message is out; stop everyone */
            fprintf(stderr,
                    "xaic: error: rank 0 on %s failed; the job stops (its finished chunks are kept: the same "
                    "command with --resume finishes it)\n",
                    s->host);
            sched_abort(s, status);
        }
        if (finished && !remote) break;
        int flag = 0;
        MPI_Status ms;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQUEST, MPI_COMM_WORLD, &flag, &ms);
        if (!flag) {
            struct timespec nap = { 0, 200000 }; /* 0.2 ms: answers fast, costs nothing */
            nanosleep(&nap, NULL);
            continue;
        }
        int len;
        MPI_Get_count(&ms, MPI_BYTE, &len);
        if (len > cap) {
            free(buf);
            cap = len;
            if (!(buf = malloc((size_t)cap))) {
                fprintf(stderr, "xaic: error: out of memory\n");
                sched_abort(s, 1);
            }
        }
        MPI_Recv(buf, len, MPI_BYTE, ms.MPI_SOURCE, TAG_REQUEST, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        int64_t chunk;
        memcpy(&chunk, buf, sizeof chunk);
        pthread_mutex_lock(&l.lock);
        int st = chunk >= 0 ? w->done(w->ctx, ms.MPI_SOURCE, chunk, buf + sizeof chunk, (size_t)len - sizeof chunk) : 0;
        int64_t next = st || l.status ? -1 : w->next(w->ctx);
        pthread_mutex_unlock(&l.lock);
        if (st) sched_abort(s, st); /* rank 0 could not record it (the journal): its message is out */
        MPI_Send(&next, 1, MPI_INT64_T, ms.MPI_SOURCE, TAG_NEXT, MPI_COMM_WORLD);
        if (next < 0) remote--;
    }
    pthread_join(thread, NULL);
    pthread_mutex_destroy(&l.lock);
    free(buf);
    return status;
}

/* ---- ranks 1 ..: ask, compute, report ---- */

static int serve(sched *s, const sched_work *w)
{
    int64_t chunk = -1;
    void *report = NULL;
    size_t len = 0;
    for (;;) {
        char *msg = malloc(sizeof chunk + len);
        if (!msg) {
            fprintf(stderr, "xaic: error: rank %d: out of memory\n", s->rank);
            sched_abort(s, 1);
        }
        memcpy(msg, &chunk, sizeof chunk);
        if (len) memcpy(msg + sizeof chunk, report, len);
        MPI_Send(msg, (int)(sizeof chunk + len), MPI_BYTE, 0, TAG_REQUEST, MPI_COMM_WORLD);
        free(msg);
        free(report);
        report = NULL, len = 0;
        MPI_Recv(&chunk, 1, MPI_INT64_T, 0, TAG_NEXT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (chunk < 0) return 0;
        int st = w->work(w->wctx, chunk, &report, &len);
        if (st) {
            fprintf(stderr,
                    "xaic: error: rank %d on %s failed on chunk %lld; the job stops (the finished chunks are kept: the "
                    "same command with --resume finishes it)\n",
                    s->rank, s->host, (long long)chunk);
            sched_abort(s, st);
        }
    }
}

#endif

int sched_run(sched *s, const sched_work *w)
{
#ifdef XAIC_HAVE_MPI
    if (s->mpi && s->size > 1) return s->rank == 0 ? dispatch(s, w) : serve(s, w);
#endif
    (void)s;
    return run_alone(w);
}
