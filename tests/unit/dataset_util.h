/* Helpers for the data set tests (test_dataset_*.c): xaic run as a user would, in the foreground or in the
 * background to be killed; files compared byte for byte; journals watched. Header-only: include it once. */
#ifndef XAIC_DATASET_UTIL_H
#define XAIC_DATASET_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "xairt.h"

/* MPI inside this VM: shared memory and loopback only; as root (CI) mpirun needs --allow-run-as-root. In the
 * ASan pass, leak checking is off for processes under mpirun: Open MPI's components are unloaded at MPI_Finalize
 * and leave allocations LeakSanitizer can attribute to no module (xaic's own code is leak-checked by the
 * one-process tests, which run the same paths). */
#define DU_MPIRUN                                                                                                      \
    "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 mpirun --allow-run-as-root --oversubscribe --mca btl self,vader "    \
    "--mca btl_tcp_if_include lo "

static __attribute__((unused)) char *du_path(const char *name)
{
    char *p = NULL;
    cr_assert(asprintf(&p, "%s/%s", tu_tmpdir(), name) > 0);
    return p;
}

/* `xaic ARGS` (or `PREFIX xaic ARGS` when prefix is given); exit status, output in *out */
static __attribute__((unused)) int du_xaic(char **out, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static __attribute__((unused)) int du_xaic(char **out, const char *prefix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL, *cmd = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    cr_assert(asprintf(&cmd, "XAI_NUM_THREADS=1 timeout 300 env %s '%s' %s", prefix ? prefix : "", XAIC_EXE, args) > 0);
    int rc = tu_run(cmd, out);
    free(cmd);
    free(args);
    return rc;
}

/* starts `sh -c "exec CMD"` with output to log; returns its pid (the command itself, after exec) */
static __attribute__((unused)) pid_t du_spawn(const char *cmd, const char *log)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0); /* its own group: mpirun and its ranks can be stopped together */
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
        char *full = NULL;
        if (asprintf(&full, "exec %s", cmd) < 0) _exit(127);
        execl("/bin/sh", "sh", "-c", full, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* `done` lines in a journal (0 if it is not there) */
static __attribute__((unused)) int du_done_lines(const char *journal)
{
    size_t len;
    char *text = tu_read_file(journal, &len);
    int n = 0;
    for (char *p = text; p && (p = strstr(p, "\ndone ")); p++) n++;
    free(text);
    return n;
}

/* waits until the journal lists at least `lines` chunks or the process ends; 1 if it got there */
static __attribute__((unused)) int du_wait_for(pid_t pid, const char *journal, int lines, double seconds)
{
    struct timespec nap = { 0, 20000000 };
    for (double t = 0; t < seconds; t += 0.02) {
        if (du_done_lines(journal) >= lines) return 1;
        if (waitpid(pid, NULL, WNOHANG) == pid) return -1;
        nanosleep(&nap, NULL);
    }
    return 0;
}

static __attribute__((unused)) void du_expect_same_file(const char *a, const char *b)
{
    size_t la, lb;
    char *x = tu_read_file(a, &la), *y = tu_read_file(b, &lb);
    cr_assert_not_null(x, "no %s", a);
    cr_assert_not_null(y, "no %s", b);
    cr_expect(la == lb && !memcmp(x, y, la), "%s and %s differ (%zu and %zu bytes)", a, b, la, lb);
    free(x);
    free(y);
}

static __attribute__((unused)) int du_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* `count` inputs [count, 1, 28, 28] of uniform noise in [0, 1) (a fixed LCG) as .npy */
static __attribute__((unused)) char *du_digits(const char *name, int count, unsigned seed)
{
    float *x = malloc(sizeof(float) * 784 * (size_t)count);
    for (int i = 0; i < 784 * count; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / 16777216.0f;
    }
    char *p = du_path(name), err[256];
    int64_t shape[4] = { count, 1, 28, 28 };
    cr_assert_eq(xai_npy_write(p, x, 4, shape, err, sizeof err), XAI_OK, "%s", err);
    free(x);
    return p;
}

#endif
