/* The journal of a streaming job (journal.c, docs/scaling.md): what is done, so that a job killed at any moment
 * can be finished with --resume. A text file of lines, each ending with ` #` and the CRC-32 of the line before
 * it, appended and synced after a chunk's outputs were synced:
 *     xaic-journal 1 chunks=N outputs=K extra=E
 *     job DESCRIPTION                  what the job is; a resumed job must be the same
 *     bad CHUNK RECORD REASON          a record skipped by --skip-bad (before its chunk's done line)
 *     done CHUNK CRC... EXTRA...       chunk finished: the CRC-32 of each output's region, the tool's numbers
 *     complete                         every chunk done and verified; the outputs are being committed
 * Text is %XX-escaped (bytes outside ! .. ~, and % and #). Reading stops at the first line that does not check
 * (a line torn by a crash): what follows is not trusted, and a resumed job cuts the file there. */
#ifndef XAIC_JOURNAL_H
#define XAIC_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_MAX_OUTPUTS 16
#define JOURNAL_MAX_EXTRA   32

typedef struct journal_bad {
    int64_t chunk, record;
    char *reason;
} journal_bad;

typedef struct journal_state {
    char *job;
    int64_t chunks;
    int n_outputs, n_extra;
    unsigned char *done; /* [chunks] */
    uint32_t *crc;       /* [chunks * n_outputs] */
    double *extra;       /* [chunks * n_extra] */
    journal_bad *bad;    /* records skipped in done chunks */
    int64_t n_bad, cap_bad;
    int complete;
    size_t valid_bytes;    /* the lines that check */
    int64_t dropped_lines; /* lines after them */
} journal_state;

/* Parses a journal's bytes. XAI_OK (the valid lines in st), or XAI_EFORMAT with a message naming `label` when
 * even the first two lines (header and job) do not check, or when the header declares more than max_chunks
 * chunks or more outputs / numbers than the limits above. */
int journal_parse(const char *text, size_t len, const char *label, int64_t max_chunks, journal_state *st, char *err,
                  size_t errlen);
void journal_state_free(journal_state *st);

typedef struct journal journal;
/* Creates path (which must not exist) with its header and job lines, synced. */
int journal_create(const char *path, const char *job, int64_t chunks, int n_outputs, int n_extra, journal **out,
                   char *err, size_t errlen);
/* Opens an existing journal to append after its first valid_bytes (what follows is cut off). */
int journal_reopen(const char *path, size_t valid_bytes, int n_outputs, int n_extra, journal **out, char *err,
                   size_t errlen);
/* Appends the chunk's skipped records and its done line, then fdatasync. */
int journal_record(journal *j, int64_t chunk, const uint32_t *crc, const double *extra, const journal_bad *bad,
                   int64_t n_bad, char *err, size_t errlen);
int journal_complete(journal *j, char *err, size_t errlen);
void journal_close(journal *j);

/* %XX-escaped text into a malloc'd string (and back: NULL on a malformed escape) */
char *journal_escape(const char *s);
char *journal_unescape(const char *s, size_t len);

#endif
