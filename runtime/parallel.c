/* xai_parallel_for: the process-wide thread pool behind the parallel loops of generated code.
 *
 * One job at a time owns the pool: a caller takes it with an atomic exchange on `busy`; a call made while
 * another application thread owns it (or from inside a loop body) runs its loop inline on the calling
 * thread. So concurrent callers never wait for each other, never deadlock and share no per-call state.
 *
 * A job is n iterations cut into nchunks contiguous chunks. `state` packs the job's generation, the next
 * unclaimed chunk and the chunk count; the owner and the workers claim chunks with a compare-and-swap that
 * also checks the generation, so a worker that wakes late can never run a chunk of a finished job, and the
 * job's fields (body, ctx, n, chunk) are read only after a successful claim. The owner runs chunks too and
 * returns when every chunk has finished (`done`): it never depends on a worker to start, so a pool whose
 * threads could not be created, or a forked child without them, simply runs everything on the caller.
 *
 * Workers spin for a short while after each job (kernels of one entry follow each other within
 * microseconds), then sleep on a condition variable; the owner, once no chunk is left to claim, spins
 * briefly for the workers' last chunks, then sleeps too. Threads are created on first use (or by
 * xai_set_num_threads) and live until the process exits; they block every signal. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "xairt.h"

#define MAX_THREADS       256
#define CHUNKS_PER_THREAD 4     /* dynamic balance against other load; chunks are still >= grain */
#define MAX_CHUNKS        0xfff /* 12 bits of `state` */
#define SPIN_NS           50000 /* a worker spins this long after a job before sleeping */

/* state: generation << 24 | next chunk << 12 | chunk count */
#define ST_GEN(s)   ((s) >> 24)
#define ST_NEXT(s)  (((s) >> 12) & MAX_CHUNKS)
#define ST_COUNT(s) ((s)&MAX_CHUNKS)

typedef void (*body_fn)(void *ctx, int64_t begin, int64_t end);

static struct {
    pthread_once_t once;
    int default_threads;  /* XAI_NUM_THREADS, else the CPUs this process may run on */
    atomic_int requested; /* xai_set_num_threads (0: the default) */
    atomic_int busy;      /* 1 while a caller owns the pool */
    pthread_mutex_t lock; /* starting threads; sleeping workers */
    pthread_cond_t wake;
    pthread_cond_t finished; /* the owner sleeps on it while workers finish their last chunks */
    atomic_int owner_waiting;
    atomic_int started; /* worker threads running */
    atomic_int sleepers;
    /* the current job: written by the owner before `state` publishes it */
    body_fn body;
    void *ctx;
    int64_t n, chunk;
    _Atomic uint64_t state;
    atomic_int done; /* chunks of the current job finished */
} pool = { .once = PTHREAD_ONCE_INIT,
           .lock = PTHREAD_MUTEX_INITIALIZER,
           .wake = PTHREAD_COND_INITIALIZER,
           .finished = PTHREAD_COND_INITIALIZER };

static void init_defaults(void)
{
    int n = 0;
    const char *env = getenv("XAI_NUM_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (!*end && v >= 1) n = v > MAX_THREADS ? MAX_THREADS : (int)v;
    }
#ifdef CPU_COUNT
    if (!n) {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    }
#endif
    if (!n) {
        long v = sysconf(_SC_NPROCESSORS_ONLN);
        n = v >= 1 ? (v > MAX_THREADS ? MAX_THREADS : (int)v) : 1;
    }
    pool.default_threads = n;
}

int xai_get_num_threads(void)
{
    pthread_once(&pool.once, init_defaults);
    int r = atomic_load_explicit(&pool.requested, memory_order_relaxed);
    return r > 0 ? r : pool.default_threads;
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Claims and runs chunks of the current job (generation gen) until none is left. */
static void run_chunks(uint64_t gen)
{
    uint64_t s = atomic_load_explicit(&pool.state, memory_order_acquire);
    for (;;) {
        if (ST_GEN(s) != gen || ST_NEXT(s) >= ST_COUNT(s)) return;
        if (!atomic_compare_exchange_weak_explicit(&pool.state, &s, s + (1u << 12), memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        int64_t k = (int64_t)ST_NEXT(s);
        int64_t begin = k * pool.chunk, end = begin + pool.chunk;
        if (end > pool.n) end = pool.n;
        pool.body(pool.ctx, begin, end);
        if (atomic_fetch_add(&pool.done, 1) + 1 == (int)ST_COUNT(s) && atomic_load(&pool.owner_waiting)) {
            pthread_mutex_lock(&pool.lock); /* the last chunk: wake the owner if it sleeps */
            pthread_cond_broadcast(&pool.finished);
            pthread_mutex_unlock(&pool.lock);
        }
        s = atomic_load_explicit(&pool.state, memory_order_acquire);
    }
}

static void *worker(void *arg)
{
    int index = (int)(intptr_t)arg; /* worker i takes part while the pool has more than i + 1 threads */
    uint64_t seen = 0;
    for (;;) {
        uint64_t s = atomic_load_explicit(&pool.state, memory_order_acquire);
        if (ST_GEN(s) != seen) {
            seen = ST_GEN(s);
            if (index + 1 < xai_get_num_threads()) run_chunks(seen);
            continue;
        }
        /* wait for the next job: spin, then sleep */
        uint64_t t0 = now_ns();
        for (int i = 1;; i++) {
            cpu_relax();
            if (ST_GEN(atomic_load_explicit(&pool.state, memory_order_relaxed)) != seen) break;
            if (!(i & 255) && now_ns() - t0 > SPIN_NS) {
                pthread_mutex_lock(&pool.lock);
                atomic_fetch_add(&pool.sleepers, 1);
                while (ST_GEN(atomic_load(&pool.state)) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
                atomic_fetch_sub(&pool.sleepers, 1);
                pthread_mutex_unlock(&pool.lock);
                break;
            }
        }
    }
    return NULL;
}

/* Starts workers until `want` run (as many as can be created). Called by the pool's owner. */
static int start_workers(int want)
{
    int have = atomic_load_explicit(&pool.started, memory_order_relaxed);
    if (have >= want) return have;
    pthread_mutex_lock(&pool.lock);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* inherited by the workers */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (have = atomic_load(&pool.started); have < want; have++) {
        pthread_t t;
        if (pthread_create(&t, &attr, worker, (void *)(intptr_t)have)) break;
        atomic_store(&pool.started, have + 1);
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_mutex_unlock(&pool.lock);
    return have;
}

void xai_set_num_threads(int n)
{
    pthread_once(&pool.once, init_defaults);
    atomic_store(&pool.requested, n > 0 ? (n > MAX_THREADS ? MAX_THREADS : n) : 0);
    int threads = xai_get_num_threads();
    if (threads > 1 && !atomic_exchange(&pool.busy, 1)) {
        start_workers(threads - 1);
        atomic_store_explicit(&pool.busy, 0, memory_order_release);
    }
}

void xai_parallel_for(void (*body)(void *ctx, int64_t begin, int64_t end), void *ctx, int64_t n, int64_t grain)
{
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int threads = xai_get_num_threads();
    if (threads <= 1 || n / grain < 2) {
        body(ctx, 0, n);
        return;
    }
    if (atomic_exchange_explicit(&pool.busy, 1, memory_order_acquire)) { /* in use: run inline */
        body(ctx, 0, n);
        return;
    }
    int workers = start_workers(threads - 1);
    if (workers < 1) {
        atomic_store_explicit(&pool.busy, 0, memory_order_release);
        body(ctx, 0, n);
        return;
    }
    int64_t max_chunks = (int64_t)threads * CHUNKS_PER_THREAD;
    if (max_chunks > MAX_CHUNKS) max_chunks = MAX_CHUNKS;
    int64_t nchunks = n / grain; /* so that every chunk but the last holds at least grain iterations */
    if (nchunks > max_chunks) nchunks = max_chunks;
    int64_t chunk = (n + nchunks - 1) / nchunks;
    nchunks = (n + chunk - 1) / chunk;
    pool.body = body;
    pool.ctx = ctx;
    pool.n = n;
    pool.chunk = chunk;
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    uint64_t gen = ST_GEN(atomic_load_explicit(&pool.state, memory_order_relaxed)) + 1;
    gen &= (1ull << 40) - 1;
    if (!gen) gen = 1;
    atomic_store(&pool.state, gen << 24 | (uint64_t)nchunks); /* seq_cst: publishes the job */
    if (atomic_load(&pool.sleepers)) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    run_chunks(gen);
    /* chunks still running on workers: spin briefly, then sleep (a worker preempted by other load gets
     * this CPU back sooner than if the owner kept spinning) */
    for (int i = 1; atomic_load_explicit(&pool.done, memory_order_acquire) < nchunks; i++) {
        if (i < 2048) {
            cpu_relax();
            continue;
        }
        pthread_mutex_lock(&pool.lock);
        atomic_store(&pool.owner_waiting, 1);
        while (atomic_load(&pool.done) < nchunks) pthread_cond_wait(&pool.finished, &pool.lock);
        atomic_store(&pool.owner_waiting, 0);
        pthread_mutex_unlock(&pool.lock);
    }
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
}
