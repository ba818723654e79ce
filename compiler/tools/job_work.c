/* The chunks of a job (job_internal.h): read, computed and written on any rank, reported to rank 0, which records
 * them in the journal; and the in-order mode for outputs that cannot be filled by regions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_internal.h"
#include "xairt_io.h"

int64_t job_first(const job_state *st, int64_t chunk) { return chunk * st->j->chunk; }

int32_t job_count(const job_state *st, int64_t chunk)
{
    int64_t left = st->j->records - chunk * st->j->chunk;
    return (int32_t)(left < st->j->chunk ? left : st->j->chunk);
}

int job_buffers(job_state *st)
{
    const job *j = st->j;
    size_t n = (size_t)j->chunk;
    st->x = malloc(sizeof(float) * n * (size_t)j->ds->values);
    st->bad_flags = malloc(n);
    st->reasons = malloc(sizeof *st->reasons * n);
    int ok = st->x && st->bad_flags && st->reasons;
    for (int o = 0; o < j->n_out && ok; o++)
        ok = (st->rows[o] = malloc(sizeof(float) * n * (size_t)j->out[o].row_values + 1)) != NULL;
    if (!ok)
        fprintf(stderr, "xaic: error: out of memory for a chunk of %lld records (use a smaller --chunk)\n",
                (long long)j->chunk);
    return !ok;
}

int job_compute(job_state *st, int64_t chunk, double *extra)
{
    job *j = st->j;
    int64_t first = job_first(st, chunk);
    int32_t n = job_count(st, chunk);
    if (dataset_read(j->ds, first, n, st->x, st->bad_flags, st->reasons)) return 1;
    for (int32_t i = 0; i < n; i++)
        if (st->bad_flags[i] && st->warned++ < 10)
            fprintf(stderr, "xaic: warning: skipping record %lld: %s%s\n", (long long)(first + i), st->reasons[i],
                    st->warned == 10 ? " (further skipped records are only listed)" : "");
    memset(extra, 0, sizeof(double) * (size_t)(j->n_extra ? j->n_extra : 1));
    if (j->process(j->ctx, first, n, st->x, st->bad_flags, st->rows, extra)) return 1;
    for (int o = 0; o < j->n_out; o++) /* a skipped record's rows are NaN, whatever was computed for its zeros */
        for (int32_t i = 0; i < n; i++)
            if (st->bad_flags[i])
                for (int64_t k = 0; k < j->out[o].row_values; k++) st->rows[o][i * j->out[o].row_values + k] = NAN;
    return 0;
}

int job_add_bad(job_state *st, int64_t chunk, int64_t record, const char *reason)
{
    if (st->n_bad == st->cap_bad) {
        int64_t cap = st->cap_bad ? st->cap_bad * 2 : 64;
        journal_bad *p = realloc(st->bad, sizeof *p * (size_t)cap);
        if (!p) return 0;
        st->bad = p;
        st->cap_bad = cap;
    }
    char *copy = strdup(reason);
    if (!copy) return 0;
    st->bad[st->n_bad++] = (journal_bad){ chunk, record, copy };
    return 1;
}

/* ---- the report of a chunk: crc[n_out], extra[n_extra], n_bad, then (record, length, reason) per bad record ---- */

static int work(void *wctx, int64_t chunk, void **report, size_t *len)
{
    job_state *st = wctx;
    job *j = st->j;
    double extra[JOURNAL_MAX_EXTRA];
    if (job_compute(st, chunk, extra)) return 1;
    int64_t first = job_first(st, chunk);
    int32_t n = job_count(st, chunk);
    uint32_t crc[JOB_MAX_OUTPUTS];
    char err[600];
    for (int o = 0; o < j->n_out; o++) {
        size_t bytes = sizeof(float) * (size_t)n * (size_t)j->out[o].row_values;
        if (xai_npy_sized_write(st->files[o], first, n, st->rows[o], err, sizeof err) ||
            xai_npy_sized_sync(st->files[o], err, sizeof err)) {
            fprintf(stderr, "xaic: error: %s\n", err);
            return 1;
        }
        crc[o] = xai_crc32(st->rows[o], bytes);
    }
    int64_t n_bad = 0;
    size_t size = sizeof(uint32_t) * (size_t)j->n_out + sizeof(double) * (size_t)j->n_extra + sizeof n_bad;
    for (int32_t i = 0; i < n; i++)
        if (st->bad_flags[i]) n_bad++, size += sizeof(int64_t) + sizeof(uint32_t) + strlen(st->reasons[i]);
    char *r = malloc(size), *p = r;
    if (!r) {
        fprintf(stderr, "xaic: error: out of memory\n");
        return 1;
    }
    memcpy(p, crc, sizeof(uint32_t) * (size_t)j->n_out), p += sizeof(uint32_t) * (size_t)j->n_out;
    memcpy(p, extra, sizeof(double) * (size_t)j->n_extra), p += sizeof(double) * (size_t)j->n_extra;
    memcpy(p, &n_bad, sizeof n_bad), p += sizeof n_bad;
    for (int32_t i = 0; i < n; i++) {
        if (!st->bad_flags[i]) continue;
        int64_t record = first + i;
        uint32_t l = (uint32_t)strlen(st->reasons[i]);
        memcpy(p, &record, sizeof record), p += sizeof record;
        memcpy(p, &l, sizeof l), p += sizeof l;
        memcpy(p, st->reasons[i], l), p += l;
    }
    *report = r;
    *len = size;
    return 0;
}

static int64_t next(void *ctx)
{
    job_state *st = ctx;
    while (st->next < st->chunks && st->done[st->next]) st->next++;
    return st->next < st->chunks ? st->next++ : -1;
}

/* rank 0: a chunk's report into the journal (synced) and the progress line */
static int done(void *ctx, int rank, int64_t chunk, const void *report, size_t len)
{
    job_state *st = ctx;
    job *j = st->j;
    const char *p = report, *end = p + len;
    size_t fixed = sizeof(uint32_t) * (size_t)j->n_out + sizeof(double) * (size_t)j->n_extra + sizeof(int64_t);
    int64_t n_bad;
    if (len < fixed || chunk < 0 || chunk >= st->chunks) goto malformed;
    uint32_t *crc = st->crc + chunk * j->n_out;
    double *extra = st->extra + chunk * j->n_extra;
    memcpy(crc, p, sizeof(uint32_t) * (size_t)j->n_out), p += sizeof(uint32_t) * (size_t)j->n_out;
    memcpy(extra, p, sizeof(double) * (size_t)j->n_extra), p += sizeof(double) * (size_t)j->n_extra;
    memcpy(&n_bad, p, sizeof n_bad), p += sizeof n_bad;
    if (n_bad < 0 || n_bad > j->chunk) goto malformed;
    int64_t bad_from = st->n_bad;
    for (int64_t i = 0; i < n_bad; i++) {
        int64_t record;
        uint32_t l;
        if ((size_t)(end - p) < sizeof record + sizeof l) goto malformed;
        memcpy(&record, p, sizeof record), p += sizeof record;
        memcpy(&l, p, sizeof l), p += sizeof l;
        if ((size_t)(end - p) < l) goto malformed;
        char *why = strndup(p, l);
        p += l;
        int ok = why && job_add_bad(st, chunk, record, why);
        free(why);
        if (!ok) {
            fprintf(stderr, "xaic: error: out of memory\n");
            return 1;
        }
    }
    char err[600];
    if (journal_record(st->jr, chunk, crc, extra, n_bad ? st->bad + bad_from : NULL, n_bad, err, sizeof err)) {
        fprintf(stderr, "xaic: error: %s\n", err);
        return 1;
    }
    st->done[chunk] = 1;
    progress_step(&st->prog, job_count(st, chunk));
    return 0;
malformed:
    fprintf(stderr, "xaic: error: rank %d sent a malformed report for chunk %lld\n", rank, (long long)chunk);
    return 1;
}

void job_work_of(job_state *st, sched_work *w)
{
    *w = (sched_work){ .next = next, .done = done, .ctx = st, .work = work, .wctx = st };
}

static int by_record(const void *a, const void *b)
{
    int64_t x = ((const journal_bad *)a)->record, y = ((const journal_bad *)b)->record;
    return (x > y) - (x < y);
}

int job_write_skip_list(job_state *st)
{
    job *j = st->j;
    j->skipped = st->n_bad;
    if (!j->skip_list) return 0;
    if (st->n_bad) qsort(st->bad, (size_t)st->n_bad, sizeof *st->bad, by_record);
    xai_outfile *o;
    char err[600];
    if (outputs_check(j->inputs, j->skip_list, "--skip-bad")) return 1;
    if (xai_outfile_open(&o, j->skip_list, XAI_FILE_DASH, err, sizeof err)) {
        fprintf(stderr, "xaic: error: %s\n", err);
        return 1;
    }
    FILE *f = xai_outfile_stream(o);
    for (int64_t i = 0; i < st->n_bad; i++) fprintf(f, "%lld\t%s\n", (long long)st->bad[i].record, st->bad[i].reason);
    if (xai_outfile_commit(o, err, sizeof err)) {
        fprintf(stderr, "xaic: error: %s\n", err);
        return 1;
    }
    if (st->n_bad)
        fprintf(stderr, "%s: %lld record%s skipped, listed in %s\n", j->what, (long long)st->n_bad,
                st->n_bad == 1 ? "" : "s", j->skip_list);
    return 0;
}

/* ---- outputs that are devices or FIFOs: in order, through xai_outfile ---- */

int job_run_in_order(job_state *st)
{
    job *j = st->j;
    job_output *out = &j->out[0];
    char err[600];
    unsigned char header[XAI_NPY_HEADER_MAX];
    size_t header_len = xai_npy_header_format(out->rank, out->shape, header);
    if (job_buffers(st)) return 1;
    xai_outfile *o;
    if (xai_outfile_open(&o, out->target, 0, err, sizeof err)) {
        fprintf(stderr, "xaic: error: %s\n", err);
        return 1;
    }
    FILE *f = xai_outfile_stream(o);
    fwrite(header, 1, header_len, f);
    progress_begin(&st->prog, j->what, st->chunks, j->records, 0, 0, j->progress_every);
    double extra[JOURNAL_MAX_EXTRA];
    for (int64_t c = 0; c < st->chunks; c++) {
        if (job_compute(st, c, extra)) {
            xai_outfile_abort(o);
            return 1;
        }
        int32_t n = job_count(st, c);
        for (int32_t i = 0; i < n; i++)
            if (st->bad_flags[i] && !job_add_bad(st, c, job_first(st, c) + i, st->reasons[i])) {
                xai_outfile_abort(o);
                fprintf(stderr, "xaic: error: out of memory\n");
                return 1;
            }
        for (int k = 0; k < j->n_extra; k++) j->extra_total[k] += extra[k];
        fwrite(st->rows[0], sizeof(float), (size_t)n * (size_t)out->row_values, f); /* errors: at the commit */
        progress_step(&st->prog, n);
    }
    progress_end(&st->prog);
    if (xai_outfile_commit(o, err, sizeof err)) {
        fprintf(stderr, "xaic: error: %s\n", err);
        return 1;
    }
    return job_write_skip_list(st);
}
