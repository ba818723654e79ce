/* Progress lines (progress.h). */
#include "progress.h"

#include "driver.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double progress_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void duration(double s, char *buf, size_t len)
{
    if (!(s >= 0) || s > 1e9) {
        snprintf(buf, len, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 86400)
        snprintf(buf, len, "%ldd %02ldh", t / 86400, t % 86400 / 3600);
    else if (t >= 3600)
        snprintf(buf, len, "%ldh %02ldmin", t / 3600, t % 3600 / 60);
    else if (t >= 60)
        snprintf(buf, len, "%ldmin %02lds", t / 60, t % 60);
    else
        snprintf(buf, len, "%.1fs", s);
}

static void print(progress *p, int final)
{
    double elapsed = progress_now() - p->start, rate = elapsed > 0 ? p->session_records / elapsed : 0;
    char took[32], left[32];
    duration(elapsed, took, sizeof took);
    duration(rate > 0 ? (double)(p->records - p->done_records) / rate : -1, left, sizeof left);
    fprintf(stderr, "%s%s: chunk %lld/%lld, %lld/%lld inputs (%.1f%%), %.3g inputs/s, %s elapsed%s%s%s",
            p->tty ? "\r\033[K" : "", p->what, (long long)p->done_chunks, (long long)p->chunks,
            (long long)p->done_records, (long long)p->records,
            p->records ? 100.0 * (double)p->done_records / (double)p->records : 100.0, rate, took, final ? "" : ", ",
            final ? "" : left, final ? "" : " left");
    fputs(p->tty && !final ? "" : "\n", stderr);
    fflush(stderr);
    p->last_print = progress_now();
}

void progress_begin(progress *p, const char *what, int64_t chunks, int64_t records, int64_t done_chunks,
                    int64_t done_records, int every)
{
    *p = (progress){ .what = what,
                     .chunks = chunks,
                     .records = records,
                     .done_chunks = done_chunks,
                     .done_records = done_records,
                     .every = every > 0 ? every : 0,
                     .tty = isatty(STDERR_FILENO) };
    p->start = p->last_print = progress_now();
    if (done_chunks)
        fprintf(stderr, "%s: resuming: %lld of %lld chunks (%lld inputs) were done before\n", what,
                (long long)done_chunks, (long long)chunks, (long long)done_records);
}

void progress_step(progress *p, int64_t records)
{
    p->done_chunks++;
    p->done_records += records;
    p->session_records += records;
    p->since_line++;
    if (p->tty ? progress_now() - p->last_print >= 0.5 : p->every && p->since_line >= p->every) {
        print(p, 0);
        p->since_line = 0;
    }
}

void progress_end(progress *p)
{
    if (p->tty || (p->every && p->since_line)) print(p, 1);
}

/* ---- compile progress (progress_compile_attach): a ticker thread while the back end works ---- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int running, stop, functions;
    const char *phase;
    char what[128];
    double start;
} ticker = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static void *tick(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&ticker.lock);
    while (!ticker.stop) {
        char took[32];
        duration(progress_now() - ticker.start, took, sizeof took);
        fprintf(stderr, "\r\033[Kxaic: compiling %s: %s", ticker.what, ticker.phase);
        if (ticker.functions) fprintf(stderr, ", %d functions", ticker.functions);
        fprintf(stderr, ", %s", took);
        fflush(stderr);
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += 500000000L;
        if (t.tv_nsec >= 1000000000L) t.tv_sec++, t.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&ticker.wake, &ticker.lock, &t);
    }
    fputs("\r\033[K", stderr); /* the line goes: what follows starts at the margin */
    fflush(stderr);
    pthread_mutex_unlock(&ticker.lock);
    return NULL;
}

static void on_phase(void *ctx, const char *phase, int functions)
{
    (void)ctx;
    pthread_mutex_lock(&ticker.lock);
    if (functions) ticker.functions = functions; /* 0 once the JIT owns the module: keep the last count */
    if (phase) {
        ticker.phase = phase;
        if (!ticker.running) {
            ticker.stop = 0;
            ticker.start = progress_now();
            ticker.running = !pthread_create(&ticker.thread, NULL, tick, NULL);
        } else
            pthread_cond_signal(&ticker.wake); /* show the new phase now */
        pthread_mutex_unlock(&ticker.lock);
        return;
    }
    int join = ticker.running;
    ticker.stop = 1;
    ticker.running = 0;
    ticker.functions = 0;
    pthread_cond_signal(&ticker.wake);
    pthread_mutex_unlock(&ticker.lock);
    if (join) pthread_join(ticker.thread, NULL);
}

void progress_compile_attach(struct compilation *c, const char *what)
{
    if (!isatty(STDERR_FILENO)) return;
    const char *base = strrchr(what, '/');
    snprintf(ticker.what, sizeof ticker.what, "%s", base ? base + 1 : what);
    c->phase = on_phase;
    c->phase_ctx = NULL;
}
