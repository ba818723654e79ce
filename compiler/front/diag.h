/* Diagnostics: every error carries file:line:col, the offending source line and a caret.
 * Errors are collected (not fatal) so that one run reports all errors of a file. */
#ifndef XAIC_DIAG_H
#define XAIC_DIAG_H

#include <stdarg.h>
#include <stdio.h>

/* A loaded source file; its text stays alive for the whole compilation so carets can be printed. */
typedef struct xai_source {
    char *path; /* as given (used in messages) */
    char *text; /* NUL-terminated contents */
    size_t length;
    struct xai_source *next;
} xai_source;

/* A position in a source file; line and col are 1-based. src == NULL means "no location". */
typedef struct xai_loc {
    const xai_source *src;
    int line, col;
    int end_col; /* last column of the token/range on `line` (for the ~~~ underline); 0 = just a caret */
} xai_loc;

typedef struct xai_diag {
    FILE *out; /* where messages go: stderr by default, a memstream in tests */
    int errors;
    int warnings;
    int limit;           /* errors printed at most (DIAG_DEFAULT_LIMIT; 0: no limit); later ones are only counted */
    int muted;           /* the last error was over the limit: its notes are dropped too */
    xai_source *sources; /* every file loaded in this compilation (owned) */
} xai_diag;

#define DIAG_DEFAULT_LIMIT 50

void diag_init(xai_diag *d, FILE *out);
/* The error limit has been reached: what a message would say is no longer printed, so callers may skip
 * work that only serves the message (suggestions). */
static inline int diag_over_limit(const xai_diag *d) { return d->limit > 0 && d->errors >= d->limit; }
void diag_free(xai_diag *d); /* frees the sources */

/* Registers a source held in memory (text is copied). Returns NULL only on out-of-memory. */
xai_source *diag_add_source(xai_diag *d, const char *path, const char *text, size_t length);

/* Reads a regular file (not a FIFO, device or directory; at most DIAG_MAX_SOURCE bytes) and registers it; on
 * failure returns NULL and reports nothing (the caller reports, with the location of whatever asked for the
 * file). *err gets errno, or DIAG_ENOTREGULAR; diag_strerror says it in words. */
xai_source *diag_load_file(xai_diag *d, const char *path, int *err);
#define DIAG_ENOTREGULAR (-1)
#define DIAG_MAX_SOURCE  ((long long)64 << 20)
const char *diag_strerror(int err);

/* "file:line:col: error: message" + source line + caret. Message style: say what is wrong and what to do. */
void diag_error(xai_diag *d, xai_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_warning(xai_diag *d, xai_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A follow-up line attached to the previous error ("note: defined here"), with its own location. */
void diag_note(xai_diag *d, xai_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_verror(xai_diag *d, xai_loc loc, const char *fmt, va_list ap);

static inline xai_loc loc_none(void)
{
    xai_loc l = { 0, 0, 0, 0 };
    return l;
}

#endif
