/* Streaming jobs (job.h): setting up or resuming on rank 0, the work loop on every rank (job_work.c), then on
 * rank 0 the verification of every chunk against the journal, the commit of the outputs and the end of the
 * journal. The order of writes is what makes a kill at any moment harmless:
 *   journal created (header, job) -> partial outputs created at final size -> per chunk: rows written, synced,
 *   then the journal's done line, synced -> all chunks verified -> `complete` -> partials renamed over the
 *   targets -> the tool's finish (eval's report) -> journal removed. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job_internal.h"
#include "xairt_io.h"

/* ---- what an interrupted rank 0 says (async-signal-safe: write(2) only) ---- */

static const progress *volatile interrupted_progress;
static const char *volatile interrupted_journal;

static void put(const char *s) { (void)!write(STDERR_FILENO, s, strlen(s)); }

static void put_number(long v)
{
    char buf[24], *p = buf + sizeof buf - 1;
    *p = 0;
    do *--p = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    put(p);
}

static void on_signal(int sig)
{
    put("\nxaic: stopped (");
    put(sig == SIGINT ? "interrupted" : "terminated: a rank of the job may have failed, see above");
    put(") with ");
    put_number((long)interrupted_progress->done_chunks);
    put(" of ");
    put_number((long)interrupted_progress->chunks);
    put(" chunks done and kept in ");
    put((const char *)interrupted_journal);
    put("; the same command with --resume finishes the job\n");
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- setting up on rank 0 ---- */

static char *suffixed(const char *path, const char *suffix)
{
    char *p = NULL;
    return asprintf(&p, "%s%s", path, suffix) < 0 ? NULL : p;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* The full description: the tool's, the records, the chunking and the outputs' shapes. */
static char *describe(const job *j)
{
    size_t cap = strlen(j->description) + 256 + (size_t)j->n_out * 300, used;
    char *d = malloc(cap);
    if (!d) return NULL;
    used = (size_t)snprintf(d, cap, "%s records=%lld chunk=%d", j->description, (long long)j->records, (int)j->chunk);
    for (int o = 0; o < j->n_out && used < cap; o++) {
        used += (size_t)snprintf(d + used, cap - used, " output=%s:[", j->out[o].target);
        for (int k = 0; k < j->out[o].rank && used < cap; k++)
            used += (size_t)snprintf(d + used, cap - used, "%s%lld", k ? "," : "", (long long)j->out[o].shape[k]);
        if (used < cap) used += (size_t)snprintf(d + used, cap - used, "]");
    }
    return d;
}

/* Reads the journal and takes what it says is done, chunk by chunk, if the partial outputs still hold it. */
static int resume_from(job_state *st, const char *full)
{
    job *j = st->j;
    unsigned char *text;
    size_t len;
    char err[1024];
    if (xai_read_regular(j->journal_path, 0, &text, &len, err, sizeof err)) {
        fprintf(stderr, "xaic: error: %s\n", err);
        return 1;
    }
    journal_state js;
    int rc = journal_parse((const char *)text, len, j->journal_path, st->chunks, &js, err, sizeof err);
    free(text);
    if (rc) {
        fprintf(stderr, "xaic: error: %s; remove it and the .xaic-partial files to start over\n", err);
        return 1;
    }
    if (js.chunks != st->chunks || js.n_outputs != j->n_out || js.n_extra != j->n_extra || strcmp(js.job, full)) {
        fprintf(
            stderr,
            "xaic: error: %s is the journal of a different job; it was written for\n    %s\nand this command is\n    "
            "%s\nrun the command it was written for with --resume, or remove it and the .xaic-partial files to "
            "start over\n",
            j->journal_path, js.job, full);
        journal_state_free(&js);
        return 1;
    }
    if (js.dropped_lines)
        fprintf(stderr, "%s: the journal's last %lld line%s did not check (a crash while it was written); cut off\n",
                j->what, (long long)js.dropped_lines, js.dropped_lines == 1 ? "" : "s");
    /* the outputs: the partial files, or for a job that had committed some, the targets themselves */
    int have_all = 1;
    for (int o = 0; o < j->n_out && have_all; o++) {
        const char *file = exists(j->out[o].partial) || !js.complete ? j->out[o].partial : j->out[o].target;
        if (xai_npy_sized_open(file, j->out[o].rank, j->out[o].shape, XAI_NPY_REOPEN, &st->files[o], err, sizeof err)) {
            have_all = 0;
            fprintf(stderr, "%s: %s; starting over\n", j->what, exists(file) ? err : "the partial outputs are gone");
        }
    }
    int64_t redo = 0;
    float *rows = NULL;
    for (int64_t c = 0; c < st->chunks && have_all; c++) {
        if (!js.done[c]) continue;
        int good = 1;
        for (int o = 0; o < j->n_out && good; o++) {
            int32_t n = job_count(st, c);
            size_t bytes = sizeof(float) * (size_t)n * (size_t)j->out[o].row_values;
            float *more = realloc(rows, bytes + 1);
            if (!more) break;
            rows = more;
            good = !xai_npy_sized_read(st->files[o], job_first(st, c), n, rows, err, sizeof err) &&
                xai_crc32(rows, bytes) == js.crc[c * j->n_out + o];
        }
        if (!good) {
            redo++;
            continue;
        }
        st->done[c] = 1;
        memcpy(st->crc + c * j->n_out, js.crc + c * j->n_out, sizeof(uint32_t) * (size_t)j->n_out);
        memcpy(st->extra + c * j->n_extra, js.extra + c * j->n_extra, sizeof(double) * (size_t)j->n_extra);
    }
    free(rows);
    if (js.complete && (redo || !have_all)) {
        fprintf(
            stderr,
            "xaic: error: %s records a finished job, but its outputs no longer match it (changed since?); remove it "
            "to start over\n",
            j->journal_path);
        journal_state_free(&js);
        return 1;
    }
    if (redo)
        fprintf(stderr, "%s: %lld chunk%s in the journal did not match the outputs; computed again\n", j->what,
                (long long)redo, redo == 1 ? "" : "s");
    for (int64_t i = 0; i < js.n_bad; i++)
        if (st->done[js.bad[i].chunk] && !job_add_bad(st, js.bad[i].chunk, js.bad[i].record, js.bad[i].reason)) rc = 1;
    size_t valid = js.valid_bytes;
    st->complete = js.complete;
    journal_state_free(&js);
    if (rc) {
        fprintf(stderr, "xaic: error: out of memory\n");
        return 1;
    }
    for (int o = 0; o < j->n_out; o++) { /* closed: each rank opens its own below */
        xai_npy_sized_close(st->files[o]);
        st->files[o] = NULL;
        if (!have_all &&
            xai_npy_sized_open(j->out[o].partial, j->out[o].rank, j->out[o].shape, XAI_NPY_CREATE, &st->files[o], err,
                               sizeof err)) {
            fprintf(stderr, "xaic: error: %s\n", err);
            return 1;
        }
        xai_npy_sized_close(st->files[o]);
        st->files[o] = NULL;
    }
    if (!have_all) memset(st->done, 0, (size_t)st->chunks);
    if (journal_reopen(j->journal_path, valid, j->n_out, j->n_extra, &st->jr, err, sizeof err)) {
        fprintf(stderr, "xaic: error: %s\n", err);
        return 1;
    }
    return 0;
}

static int set_up(job_state *st)
{
    job *j = st->j;
    char err[1024];
    char *full = describe(j);
    if (!full) {
        fprintf(stderr, "xaic: error: out of memory\n");
        return 1;
    }
    int rc = 0;
    if (exists(j->journal_path)) {
        if (!j->resume) {
            fprintf(
                stderr,
                "xaic: error: %s exists: an earlier run of this job was stopped before it finished; add --resume to "
                "finish it, or remove %s and its .xaic-partial files to start over\n",
                j->journal_path, j->journal_path);
            rc = 1;
        } else {
            rc = resume_from(st, full);
        }
    } else {
        if (j->resume)
            fprintf(stderr, "%s: no journal %s: nothing to resume, the job starts from the beginning\n", j->what,
                    j->journal_path);
        rc = journal_create(j->journal_path, full, st->chunks, j->n_out, j->n_extra, &st->jr, err, sizeof err);
        if (rc) fprintf(stderr, "xaic: error: %s\n", err);
        for (int o = 0; o < j->n_out && !rc; o++) {
            rc = xai_npy_sized_open(j->out[o].partial, j->out[o].rank, j->out[o].shape, XAI_NPY_CREATE, &st->files[o],
                                    err, sizeof err);
            if (rc) fprintf(stderr, "xaic: error: %s\n", err);
            xai_npy_sized_close(st->files[o]);
            st->files[o] = NULL;
        }
    }
    free(full);
    return rc;
}

/* ---- the end, on rank 0 ---- */

/* Every chunk's rows against the CRCs the journal holds: what is committed is what was computed. */
static int verify(job_state *st)
{
    job *j = st->j;
    char err[600];
    for (int o = 0; o < j->n_out; o++) {
        for (int64_t c = 0; c < st->chunks; c++) {
            int32_t n = job_count(st, c);
            size_t bytes = sizeof(float) * (size_t)n * (size_t)j->out[o].row_values;
            if (xai_npy_sized_read(st->files[o], job_first(st, c), n, st->rows[o], err, sizeof err)) {
                fprintf(stderr, "xaic: error: %s\n", err);
                return 1;
            }
            if (xai_crc32(st->rows[o], bytes) != st->crc[c * j->n_out + o]) {
                fprintf(stderr,
                        "xaic: error: %s: chunk %lld does not hold what was written (its CRC-32 differs from the "
                        "journal's); the same command with --resume computes it again\n",
                        j->out[o].partial, (long long)c);
                return 1;
            }
        }
    }
    return 0;
}

static int finish(job_state *st)
{
    job *j = st->j;
    char err[600];
    if (verify(st)) return 1;
    if (!st->complete && journal_complete(st->jr, err, sizeof err)) {
        fprintf(stderr, "xaic: error: %s\n", err);
        return 1;
    }
    for (int o = 0; o < j->n_out; o++) {
        if (!exists(j->out[o].partial)) { /* committed by an earlier run that stopped after it */
            xai_npy_sized_close(st->files[o]);
        } else if (xai_npy_sized_commit(st->files[o], j->out[o].target, err, sizeof err)) {
            st->files[o] = NULL;
            fprintf(stderr, "xaic: error: %s\n", err);
            return 1;
        }
        st->files[o] = NULL;
    }
    for (int64_t c = 0; c < st->chunks; c++)
        for (int k = 0; k < j->n_extra; k++) j->extra_total[k] += st->extra[c * j->n_extra + k];
    if (job_write_skip_list(st)) return 1;
    if (j->finish && j->finish(j->ctx, j)) return 1;
    journal_close(st->jr);
    st->jr = NULL;
    if (unlink(j->journal_path) != 0 && errno != ENOENT)
        fprintf(stderr, "xaic: warning: %s: cannot remove the journal: %s\n", j->journal_path, strerror(errno));
    return 0;
}

/* ---- the job ---- */

static void free_state(job_state *st)
{
    for (int o = 0; o < JOB_MAX_OUTPUTS; o++) {
        xai_npy_sized_close(st->files[o]);
        free(st->rows[o]);
        free(st->j->out[o].partial);
        st->j->out[o].partial = NULL;
    }
    for (int64_t i = 0; i < st->n_bad; i++) free(st->bad[i].reason);
    free(st->bad);
    free(st->done);
    free(st->crc);
    free(st->extra);
    free(st->x);
    free(st->bad_flags);
    free(st->reasons);
    journal_close(st->jr);
}

/* Outputs may replace none of the inputs; an output that is a device or FIFO is written in order. */
static int check_outputs(job_state *st, int *in_order)
{
    job *j = st->j;
    *in_order = 0;
    for (int o = 0; o < j->n_out; o++) {
        struct stat sb;
        if (outputs_check(j->inputs, j->out[o].target, "-o") ||
            !(j->out[o].partial = suffixed(j->out[o].target, ".xaic-partial")) ||
            outputs_check(j->inputs, j->out[o].partial, "-o"))
            return 1;
        if (stat(j->out[o].target, &sb) == 0 && (S_ISCHR(sb.st_mode) || S_ISFIFO(sb.st_mode)))
            *in_order = 1;
        else if (stat(j->out[o].target, &sb) == 0 && !S_ISREG(sb.st_mode)) {
            fprintf(stderr, "xaic: error: %s is not a regular file; give a file name\n", j->out[o].target);
            return 1;
        }
    }
    if (*in_order && (j->n_out > 1 || j->resume || sched_size(st->s) > 1)) {
        fprintf(stderr,
                "xaic: error: %s is not a regular file: an output that is a device or FIFO is written in "
                "order by one process, one output at a time, without --resume\n",
                j->out[0].target);
        return 1;
    }
    return outputs_check(j->inputs, j->journal_path, "-o");
}

int job_run(job *j, sched *s)
{
    job_state st = { .j = j, .s = s };
    st.chunks = (j->records + j->chunk - 1) / j->chunk;
    int rank = sched_rank(s), rc = 0, in_order = 0, failed;
    for (int o = 0; o < j->n_out; o++) {
        j->out[o].shape[0] = j->records;
        j->out[o].row_values = 1;
        for (int k = 1; k < j->out[o].rank; k++) j->out[o].row_values *= j->out[o].shape[k];
    }
    rc = check_outputs(&st, &in_order);
    if (!rc && in_order) {
        rc = job_run_in_order(&st);
        free_state(&st);
        return rc;
    }
    if (!rc && rank == 0) {
        st.done = calloc((size_t)st.chunks, 1);
        st.crc = calloc((size_t)st.chunks * (size_t)j->n_out + 1, sizeof(uint32_t));
        st.extra = calloc((size_t)st.chunks * (size_t)j->n_extra + 1, sizeof(double));
        rc = !st.done || !st.crc || !st.extra ? (fprintf(stderr, "xaic: error: out of memory\n"), 1) : set_up(&st);
    }
    if (sched_agree(s, rc, &failed)) { /* rank 0 said why; another rank's failure is named */
        if (rank == 0 && failed > 0) fprintf(stderr, "xaic: error: rank %d could not set up the job\n", failed);
        free_state(&st);
        return 1;
    }
    /* every rank: its own descriptors on the partial outputs, and its buffers */
    char err[600];
    for (int o = 0; o < j->n_out && !rc; o++) /* the target itself when a finished job had committed it */
        if ((rc = xai_npy_sized_open(exists(j->out[o].partial) ? j->out[o].partial : j->out[o].target, j->out[o].rank,
                                     j->out[o].shape, XAI_NPY_REOPEN, &st.files[o], err, sizeof err)))
            fprintf(stderr, "xaic: error: rank %d on %s: %s (the outputs must be on a file system every rank sees)\n",
                    rank, sched_host(s), err);
    if (!rc) rc = job_buffers(&st);
    if (sched_agree(s, rc, &failed)) {
        free_state(&st);
        return 1;
    }
    if (rank == 0) {
        int64_t done_chunks = 0, done_records = 0;
        for (int64_t c = 0; c < st.chunks; c++)
            if (st.done[c]) done_chunks++, done_records += job_count(&st, c);
        progress_begin(&st.prog, j->what, st.chunks, j->records, done_chunks, done_records, j->progress_every);
        interrupted_journal = j->journal_path;
        interrupted_progress = &st.prog;
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    }
    sched_work w;
    job_work_of(&st, &w);
    rc = sched_run(s, &w);
    if (rank == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        progress_end(&st.prog);
        if (!rc)
            rc = finish(&st);
        else if (!st.prog.done_chunks) { /* nothing worth keeping: no trace of the job */
            for (int o = 0; o < j->n_out; o++) unlink(j->out[o].partial);
            unlink(j->journal_path);
        } else
            fprintf(stderr,
                    "%s: %lld of %lld chunks are done and kept in %s: once the cause is fixed, the same command "
                    "with --resume finishes the job\n",
                    j->what, (long long)st.prog.done_chunks, (long long)st.chunks, j->journal_path);
    }
    free_state(&st);
    return rc;
}
