/* Diagnostics: GCC-style messages with the offending source line and a caret underline.
 *
 *   net.xai:3:13: error: unknown op 'conv3d'; known ops are dense, conv2d, ...
 *       3 |     conv1 = conv3d(x, 32);
 *         |             ^~~~~~
 */
#include "diag.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { TAB_WIDTH = 8, MIN_LINE_NUMBER_WIDTH = 5, EXCERPT_CONTEXT = 100 };

void diag_init(xai_diag *d, FILE *out)
{
    memset(d, 0, sizeof *d);
    d->out = out ? out : stderr;
    d->limit = DIAG_DEFAULT_LIMIT;
}

const char *diag_strerror(int err)
{
    return err == DIAG_ENOTREGULAR ? "not a regular file"
        : err == EFBIG             ? "too large for a source (over 64 MB)"
                                   : strerror(err);
}

void diag_free(xai_diag *d)
{
    for (xai_source *s = d->sources, *next; s; s = next) {
        next = s->next;
        free(s->path);
        free(s->text);
        free(s);
    }
    d->sources = NULL;
}

/* Takes ownership of `text` (length bytes plus a NUL). */
static xai_source *register_source(xai_diag *d, const char *path, char *text, size_t length)
{
    xai_source *s = calloc(1, sizeof *s);
    char *path_copy = strdup(path);
    if (!s || !path_copy) {
        free(s);
        free(path_copy);
        free(text);
        return NULL;
    }
    s->path = path_copy;
    s->text = text;
    s->length = length;
    s->next = d->sources;
    d->sources = s;
    return s;
}

xai_source *diag_add_source(xai_diag *d, const char *path, const char *text, size_t length)
{
    char *copy = malloc(length + 1);
    if (!copy) return NULL;
    if (length) memcpy(copy, text, length);
    copy[length] = 0;
    return register_source(d, path, copy, length);
}

xai_source *diag_load_file(xai_diag *d, const char *path, int *err)
{
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        *err = errno;
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        /* Reading a FIFO or device could block or never end; a directory cannot be read at all. */
        *err = S_ISDIR(st.st_mode) ? EISDIR : DIAG_ENOTREGULAR;
        close(fd);
        return NULL;
    }
    if (st.st_size > DIAG_MAX_SOURCE) {
        *err = EFBIG;
        close(fd);
        return NULL;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    size_t cap = (size_t)st.st_size + 1, length = 0;
    char *text = malloc(cap);
    if (!text) {
        *err = ENOMEM;
        close(fd);
        return NULL;
    }
    for (;;) { /* the file may change size while we read: read until EOF, growing as needed */
        if (length + 1 == cap) {
            char *bigger = realloc(text, cap * 2);
            if (!bigger) {
                *err = ENOMEM;
                free(text);
                close(fd);
                return NULL;
            }
            text = bigger;
            cap *= 2;
        }
        ssize_t got = read(fd, text + length, cap - 1 - length);
        if (got < 0) {
            if (errno == EINTR) continue;
            *err = errno;
            free(text);
            close(fd);
            return NULL;
        }
        if (got == 0) break;
        length += (size_t)got;
        if (length > DIAG_MAX_SOURCE) { /* grown while we read */
            *err = EFBIG;
            free(text);
            close(fd);
            return NULL;
        }
    }
    close(fd);
    text[length] = 0;
    xai_source *s = register_source(d, path, text, length);
    if (!s) *err = ENOMEM;
    return s;
}

/* The bytes of line `line` (1-based) of `src`, without the line break; NULL if there is no such line. */
static const char *find_line(const xai_source *src, int line, size_t *len)
{
    const char *p = src->text, *end = src->text + src->length;
    for (int l = 1; l < line; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return NULL;
        p = nl + 1;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)((nl ? nl : end) - p);
    if (n && p[n - 1] == '\r') n--;
    *len = n;
    return p;
}

/* Length of the valid UTF-8 sequence starting at p (at most n bytes available), or 0 if invalid. */
static size_t utf8_sequence_length(const unsigned char *p, size_t n)
{
    size_t len = p[0] >= 0xF0 && p[0] <= 0xF4 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 && p[0] <= 0xDF ? 2 : 0;
    if (p[0] > 0xF4 || len == 0 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    return len;
}

/* Prints the source line and the caret line. Locations count bytes; the line is printed with tabs
 * expanded to multiples of 8, a UTF-8 character as one column and control characters as '?', and the
 * caret and underline are placed by the same measure so they line up. */
static void print_excerpt(xai_diag *d, xai_loc loc)
{
    size_t len;
    const char *line = find_line(loc.src, loc.line, &len);
    if (!line) return;
    char number[16];
    int width = snprintf(number, sizeof number, "%d", loc.line);
    if (width < MIN_LINE_NUMBER_WIDTH) width = MIN_LINE_NUMBER_WIDTH;

    fprintf(d->out, "%*d | ", width, loc.line);
    int display_col = 0;
    int caret_start = -1, caret_end = -1; /* display columns: first of the caret, one past the ~ */
    size_t first = loc.col > 0 ? (size_t)loc.col - 1 : 0;
    size_t last = loc.end_col >= loc.col ? (size_t)loc.end_col - 1 : first;
    size_t start = loc.line == 1 && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3) ? 3 : 0; /* a BOM: not shown */
    /* a very long line is shown around the spot: up to EXCERPT_CONTEXT bytes before it and after it */
    if (first > start + EXCERPT_CONTEXT) {
        size_t skip = first - EXCERPT_CONTEXT;
        while (skip > start && ((unsigned char)line[skip] & 0xC0) == 0x80) skip--; /* a character's start */
        fputs("...", d->out);
        display_col += 3;
        start = skip;
    }
    if (len > last + EXCERPT_CONTEXT + 1) len = last + EXCERPT_CONTEXT + 1;
    for (size_t i = start; i < len;) {
        unsigned char c = (unsigned char)line[i];
        /* One character: a byte, or a whole UTF-8 sequence (one column, caret on its first byte);
         * bytes that are not valid UTF-8 show as '?', like control characters. */
        size_t n = c >= 0x80 ? utf8_sequence_length((const unsigned char *)line + i, len - i) : 1;
        int w = c == '\t' ? TAB_WIDTH - display_col % TAB_WIDTH : 1;
        if (first >= i && first < i + (n ? n : 1)) caret_start = display_col;
        if (c == '\t')
            fprintf(d->out, "%*s", w, "");
        else if (n > 1)
            fwrite(line + i, 1, n, d->out);
        else if (c < 0x20 || c >= 0x7f)
            fputc('?', d->out);
        else
            fputc(c, d->out);
        display_col += w;
        i += n ? n : 1;
        if (last < i && caret_end < 0) caret_end = display_col;
    }
    fputc('\n', d->out);

    /* A location past the end of the line (a missing ';' at the end) continues in plain columns. */
    if (caret_start < 0) caret_start = display_col + (int)(first - len);
    if (caret_end < 0 && last >= len) caret_end = display_col + (int)(last + 1 - len);
    if (caret_end <= caret_start) caret_end = caret_start + 1;
    fprintf(d->out, "%*s | %*s^", width, "", caret_start, "");
    for (int i = caret_start + 1; i < caret_end; i++) fputc('~', d->out);
    fputc('\n', d->out);
}

static void report(xai_diag *d, const char *kind, xai_loc loc, const char *fmt, va_list ap)
{
    if (loc.src && loc.line > 0)
        fprintf(d->out, "%s:%d:%d: %s: ", loc.src->path, loc.line, loc.col, kind);
    else if (loc.src)
        fprintf(d->out, "%s: %s: ", loc.src->path, kind);
    else
        fprintf(d->out, "xaic: %s: ", kind);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    if (loc.src && loc.line > 0) print_excerpt(d, loc);
    fflush(d->out);
}

void diag_verror(xai_diag *d, xai_loc loc, const char *fmt, va_list ap)
{
    d->muted = diag_over_limit(d);
    d->errors++;
    if (!d->muted)
        report(d, "error", loc, fmt, ap);
    else if (d->errors == d->limit + 1) { /* said once */
        fprintf(d->out,
                "xaic: error: too many errors; only the first %d are shown (--error-limit=N shows more, 0 "
                "all)\n",
                d->limit);
        fflush(d->out);
    }
}

void diag_error(xai_diag *d, xai_loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(d, loc, fmt, ap);
    va_end(ap);
}

void diag_warning(xai_diag *d, xai_loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    d->warnings++;
    d->muted = diag_over_limit(d);
    if (!d->muted) report(d, "warning", loc, fmt, ap);
    va_end(ap);
}

void diag_note(xai_diag *d, xai_loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!d->muted) report(d, "note", loc, fmt, ap);
    va_end(ap);
}
