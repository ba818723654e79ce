/* Journals of streaming jobs (journal.h). Each line carries its own CRC, so a line half-written when the power
 * went is recognised and dropped, and with it everything after it. Writes are append-only and each record is
 * synced before the next chunk is taken. */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xairt.h"

struct journal {
    char *path;
    int fd, n_outputs, n_extra;
};

/* ---- escaping ---- */

char *journal_escape(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += *p > ' ' && *p < 0x7f && *p != '%' && *p != '#' ? 1 : 3;
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p > ' ' && *p < 0x7f && *p != '%' && *p != '#')
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    *o = 0;
    return out;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
        : c >= 'A' && c <= 'F'  ? c - 'A' + 10
        : c >= 'a' && c <= 'f'  ? c - 'a' + 10
                                : -1;
}

char *journal_unescape(const char *s, size_t len)
{
    char *out = malloc(len + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        int hi = i + 2 < len ? hex_digit(s[i + 1]) : -1, lo = i + 2 < len ? hex_digit(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = 0;
    return out;
}

/* ---- parsing ---- */

/* The fields of one line (at most 2 + outputs + extra), split at single spaces. */
#define MAX_FIELDS (4 + JOURNAL_MAX_OUTPUTS + JOURNAL_MAX_EXTRA)
typedef struct fields {
    const char *at[MAX_FIELDS];
    size_t len[MAX_FIELDS];
    int n;
} fields;

/* Checks a line's " #CRC" and splits it; 0 if it does not check. */
static int split_line(const char *line, size_t len, fields *f)
{
    if (len < 10 || line[len - 10] != ' ' || line[len - 9] != '#') return 0;
    uint32_t want = 0;
    for (int i = 0; i < 8; i++) {
        int d = hex_digit(line[len - 8 + i]);
        if (d < 0 || (line[len - 8 + i] >= 'a' && line[len - 8 + i] <= 'f')) return 0; /* written in upper case */
        want = want << 4 | (uint32_t)d;
    }
    size_t body = len - 10;
    if (xai_crc32(line, body) != want) return 0;
    f->n = 0;
    for (size_t i = 0; i < body;) {
        size_t j = i;
        while (j < body && line[j] != ' ') j++;
        if (j == i || f->n == MAX_FIELDS) return 0; /* two spaces, or too many fields */
        f->at[f->n] = line + i;
        f->len[f->n++] = j - i;
        i = j + 1;
        if (j + 1 == body) return 0; /* a trailing space */
    }
    return f->n > 0;
}

static int field_is(const fields *f, int i, const char *s)
{
    return f->len[i] == strlen(s) && !memcmp(f->at[i], s, f->len[i]);
}

/* A decimal integer in [0, max]; -1 if the field is not one. */
static int64_t field_int(const fields *f, int i, int64_t max)
{
    if (f->len[i] == 0 || f->len[i] > 19) return -1;
    int64_t v = 0;
    for (size_t k = 0; k < f->len[i]; k++) {
        char c = f->at[i][k];
        if (c < '0' || c > '9' || (f->len[i] > 1 && k == 0 && c == '0')) return -1;
        if (v > (INT64_MAX - (c - '0')) / 10) return -1;
        v = v * 10 + (c - '0');
    }
    return v > max ? -1 : v;
}

/* "key=value" with an integer value in [0, max] */
static int64_t field_setting(const fields *f, int i, const char *key, int64_t max)
{
    size_t k = strlen(key);
    if (f->len[i] <= k + 1 || memcmp(f->at[i], key, k) || f->at[i][k] != '=') return -1;
    fields one = { .n = 1 };
    one.at[0] = f->at[i] + k + 1;
    one.len[0] = f->len[i] - k - 1;
    return field_int(&one, 0, max);
}

static int add_bad(journal_state *st, journal_bad b)
{
    if (st->n_bad == st->cap_bad) {
        int64_t cap = st->cap_bad ? st->cap_bad * 2 : 64;
        journal_bad *p = realloc(st->bad, sizeof *p * (size_t)cap);
        if (!p) return 0;
        st->bad = p;
        st->cap_bad = cap;
    }
    st->bad[st->n_bad++] = b;
    return 1;
}

/* A done line: its chunk's pending bad records replace any it had from an earlier pass. */
static int apply_done(journal_state *st, const fields *f, journal_state *pending)
{
    if (f->n != 2 + st->n_outputs + st->n_extra) return 0;
    int64_t chunk = field_int(f, 1, st->chunks - 1);
    if (chunk < 0) return 0;
    uint32_t crc[JOURNAL_MAX_OUTPUTS];
    double extra[JOURNAL_MAX_EXTRA];
    for (int k = 0; k < st->n_outputs; k++) {
        const fields *g = f;
        if (g->len[2 + k] != 8) return 0;
        uint32_t v = 0;
        for (int i = 0; i < 8; i++) {
            int d = hex_digit(g->at[2 + k][i]);
            if (d < 0) return 0;
            v = v << 4 | (uint32_t)d;
        }
        crc[k] = v;
    }
    for (int k = 0; k < st->n_extra; k++) {
        char buf[64], *end;
        size_t n = f->len[2 + st->n_outputs + k];
        if (n >= sizeof buf) return 0;
        memcpy(buf, f->at[2 + st->n_outputs + k], n);
        buf[n] = 0;
        extra[k] = strtod(buf, &end);
        if (end != buf + n) return 0;
    }
    int64_t keep = 0;
    for (int64_t i = 0; i < st->n_bad; i++) {
        if (st->bad[i].chunk == chunk)
            free(st->bad[i].reason);
        else
            st->bad[keep++] = st->bad[i];
    }
    st->n_bad = keep;
    int64_t still = 0;
    for (int64_t i = 0; i < pending->n_bad; i++) {
        if (pending->bad[i].chunk != chunk) {
            pending->bad[still++] = pending->bad[i];
        } else if (!add_bad(st, pending->bad[i])) {
            return 0;
        }
    }
    pending->n_bad = still;
    st->done[chunk] = 1;
    memcpy(st->crc + chunk * st->n_outputs, crc, sizeof(uint32_t) * (size_t)st->n_outputs);
    memcpy(st->extra + chunk * st->n_extra, extra, sizeof(double) * (size_t)st->n_extra);
    return 1;
}

static int apply_line(journal_state *st, const fields *f, journal_state *pending)
{
    if (st->complete) return 0; /* nothing may follow `complete` */
    if (field_is(f, 0, "done")) return apply_done(st, f, pending);
    if (field_is(f, 0, "complete")) {
        for (int64_t c = 0; c < st->chunks; c++)
            if (!st->done[c]) return 0;
        return f->n == 1 && (st->complete = 1);
    }
    if (field_is(f, 0, "bad") && f->n == 4) {
        journal_bad b = { field_int(f, 1, st->chunks - 1), field_int(f, 2, INT64_MAX - 1), NULL };
        if (b.chunk < 0 || b.record < 0 || !(b.reason = journal_unescape(f->at[3], f->len[3]))) return 0;
        if (!add_bad(pending, b)) {
            free(b.reason);
            return 0;
        }
        return 1;
    }
    return 0;
}

int journal_parse(const char *text, size_t len, const char *label, int64_t max_chunks, journal_state *st, char *err,
                  size_t errlen)
{
    memset(st, 0, sizeof *st);
    journal_state pending = { 0 };
    fields f;
    int64_t line = 0;
    size_t at = 0;
    int ok = 1;
    while (at < len && ok) {
        const char *nl = memchr(text + at, '\n', len - at);
        if (!nl) break; /* a last line without its newline was cut short */
        size_t n = (size_t)(nl - (text + at));
        ok = !memchr(text + at, 0, n) && split_line(text + at, n, &f);
        if (ok && line == 0) {
            int64_t chunks = f.n == 5 && field_is(&f, 0, "xaic-journal") && field_is(&f, 1, "1")
                ? field_setting(&f, 2, "chunks", max_chunks)
                : -1;
            st->n_outputs = chunks > 0 ? (int)field_setting(&f, 3, "outputs", JOURNAL_MAX_OUTPUTS) : -1;
            st->n_extra = chunks > 0 ? (int)field_setting(&f, 4, "extra", JOURNAL_MAX_EXTRA) : -1;
            if (chunks < 1 || st->n_outputs < 0 || st->n_extra < 0) {
                snprintf(err, errlen,
                         "%s: not a journal of this version of xaic, or one of more than %lld chunks (its first line "
                         "does not check)",
                         label, (long long)max_chunks);
                journal_state_free(st);
                return XAI_EFORMAT;
            }
            st->chunks = chunks;
            st->done = calloc((size_t)chunks, 1);
            st->crc = calloc((size_t)chunks * (size_t)st->n_outputs + 1, sizeof(uint32_t));
            st->extra = calloc((size_t)chunks * (size_t)st->n_extra + 1, sizeof(double));
            if (!st->done || !st->crc || !st->extra) {
                snprintf(err, errlen, "%s: out of memory", label);
                journal_state_free(st);
                return XAI_ENOMEM;
            }
        } else if (ok && line == 1) {
            ok = f.n == 2 && field_is(&f, 0, "job") && (st->job = journal_unescape(f.at[1], f.len[1])) != NULL;
        } else if (ok) {
            ok = apply_line(st, &f, &pending);
        }
        if (!ok && line < 2) {
            snprintf(err, errlen, "%s: line %lld is damaged; this journal cannot be used", label, (long long)line + 1);
            journal_state_free(st);
            journal_state_free(&pending);
            return XAI_EFORMAT;
        }
        if (ok) {
            at += n + 1;
            st->valid_bytes = at;
            line++;
        }
    }
    if (line < 2) {
        snprintf(err, errlen, "%s: the journal ends before its header; it cannot be used", label);
        journal_state_free(st);
        journal_state_free(&pending);
        return XAI_EFORMAT;
    }
    for (size_t i = at; i < len; i++) st->dropped_lines += text[i] == '\n' || i + 1 == len;
    journal_state_free(&pending); /* bad records of chunks that never finished */
    return XAI_OK;
}

void journal_state_free(journal_state *st)
{
    for (int64_t i = 0; i < st->n_bad; i++) free(st->bad[i].reason);
    free(st->bad);
    free(st->job);
    free(st->done);
    free(st->crc);
    free(st->extra);
    memset(st, 0, sizeof *st);
}

/* ---- writing ---- */

/* Appends `body` + " #CRC\n" (one write) */
static int append(journal *j, const char *body, char *err, size_t errlen)
{
    size_t n = strlen(body);
    char *line = malloc(n + 12);
    if (!line) return snprintf(err, errlen, "%s: out of memory", j->path), XAI_ENOMEM;
    memcpy(line, body, n);
    snprintf(line + n, 12, " #%08" PRIX32 "\n", xai_crc32(body, n));
    size_t total = n + 11, done = 0;
    while (done < total) {
        ssize_t k = write(j->fd, line + done, total - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            free(line);
            return snprintf(err, errlen, "%s: cannot write the journal: %s", j->path, strerror(k < 0 ? errno : ENOSPC)),
                   XAI_EIO;
        }
        done += (size_t)k;
    }
    free(line);
    return XAI_OK;
}

static int sync_journal(journal *j, char *err, size_t errlen)
{
    if (fdatasync(j->fd) == 0) return XAI_OK;
    snprintf(err, errlen, "%s: cannot sync the journal: %s", j->path, strerror(errno));
    return XAI_EIO;
}

static journal *journal_new(const char *path, int n_outputs, int n_extra)
{
    journal *j = calloc(1, sizeof *j);
    if (j && !(j->path = strdup(path))) {
        free(j);
        j = NULL;
    }
    if (j) j->fd = -1, j->n_outputs = n_outputs, j->n_extra = n_extra;
    return j;
}

int journal_create(const char *path, const char *job, int64_t chunks, int n_outputs, int n_extra, journal **out,
                   char *err, size_t errlen)
{
    *out = NULL;
    journal *j = journal_new(path, n_outputs, n_extra);
    char *escaped = journal_escape(job), head[160];
    if (!j || !escaped) {
        free(escaped);
        journal_close(j);
        return snprintf(err, errlen, "%s: out of memory", path), XAI_ENOMEM;
    }
    do j->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOCTTY, 0666);
    while (j->fd < 0 && errno == EINTR);
    int st = XAI_OK;
    if (j->fd < 0) st = (snprintf(err, errlen, "%s: cannot create the journal: %s", path, strerror(errno)), XAI_EIO);
    snprintf(head, sizeof head, "xaic-journal 1 chunks=%lld outputs=%d extra=%d", (long long)chunks, n_outputs,
             n_extra);
    char *job_line = malloc(strlen(escaped) + 8);
    if (!st && !job_line) st = (snprintf(err, errlen, "%s: out of memory", path), XAI_ENOMEM);
    if (!st) sprintf(job_line, "job %s", escaped);
    if (!st) st = append(j, head, err, errlen);
    if (!st) st = append(j, job_line, err, errlen);
    if (!st) st = sync_journal(j, err, errlen);
    free(job_line);
    free(escaped);
    if (st) {
        journal_close(j);
        return st;
    }
    *out = j;
    return XAI_OK;
}

int journal_reopen(const char *path, size_t valid_bytes, int n_outputs, int n_extra, journal **out, char *err,
                   size_t errlen)
{
    *out = NULL;
    journal *j = journal_new(path, n_outputs, n_extra);
    if (!j) return snprintf(err, errlen, "%s: out of memory", path), XAI_ENOMEM;
    do j->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
    while (j->fd < 0 && errno == EINTR);
    if (j->fd < 0 || ftruncate(j->fd, (off_t)valid_bytes) != 0 || fdatasync(j->fd) != 0) {
        snprintf(err, errlen, "%s: cannot reopen the journal: %s", path, strerror(errno));
        journal_close(j);
        return XAI_EIO;
    }
    *out = j;
    return XAI_OK;
}

int journal_record(journal *j, int64_t chunk, const uint32_t *crc, const double *extra, const journal_bad *bad,
                   int64_t n_bad, char *err, size_t errlen)
{
    int st = XAI_OK;
    for (int64_t i = 0; i < n_bad && !st; i++) {
        char *why = journal_escape(bad[i].reason[0] ? bad[i].reason : "?"), *line = NULL;
        if (!why || asprintf(&line, "bad %lld %lld %s", (long long)chunk, (long long)bad[i].record, why) < 0)
            st = (snprintf(err, errlen, "%s: out of memory", j->path), XAI_ENOMEM);
        else
            st = append(j, line, err, errlen);
        free(why);
        free(line);
    }
    if (st) return st;
    size_t cap = 64 + 9 * (size_t)j->n_outputs + 40 * (size_t)j->n_extra, used;
    char *line = malloc(cap);
    if (!line) return snprintf(err, errlen, "%s: out of memory", j->path), XAI_ENOMEM;
    used = (size_t)snprintf(line, cap, "done %lld", (long long)chunk);
    for (int k = 0; k < j->n_outputs; k++) used += (size_t)snprintf(line + used, cap - used, " %08" PRIX32, crc[k]);
    for (int k = 0; k < j->n_extra; k++) used += (size_t)snprintf(line + used, cap - used, " %a", extra[k]);
    st = append(j, line, err, errlen);
    free(line);
    return st ? st : sync_journal(j, err, errlen);
}

int journal_complete(journal *j, char *err, size_t errlen)
{
    int st = append(j, "complete", err, errlen);
    return st ? st : sync_journal(j, err, errlen);
}

void journal_close(journal *j)
{
    if (!j) return;
    if (j->fd >= 0) close(j->fd);
    free(j->path);
    free(j);
}
