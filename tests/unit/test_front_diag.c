/* Diagnostics tests: the exact message format (others' tests depend on it) and source loading. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "testutil.h"

typedef struct capture {
    xai_diag diag;
    FILE *stream;
    char *text;
    size_t len;
} capture;

static void capture_start(capture *c)
{
    c->text = NULL;
    c->stream = open_memstream(&c->text, &c->len);
    cr_assert_not_null(c->stream);
    diag_init(&c->diag, c->stream);
}

static const char *capture_text(capture *c)
{
    fflush(c->stream);
    return c->text;
}

static void capture_end(capture *c)
{
    diag_free(&c->diag);
    fclose(c->stream);
    free(c->text);
}

static xai_loc at(const xai_source *src, int line, int col, int end_col)
{
    xai_loc l = { src, line, col, end_col };
    return l;
}

Test(front_diag, error_format_with_caret_and_underline)
{
    capture c;
    capture_start(&c);
    const char *text = "network n {\n    x[1];\n    conv1 = conv3d(x, 32);\n}\n";
    xai_source *src = diag_add_source(&c.diag, "net.xai", text, strlen(text));
    diag_error(&c.diag, at(src, 3, 13, 18), "unknown op '%s'; known ops are dense, conv2d, ...", "conv3d");
    cr_assert_str_eq(capture_text(&c),
                     "net.xai:3:13: error: unknown op 'conv3d'; known ops are dense, conv2d, ...\n"
                     "    3 |     conv1 = conv3d(x, 32);\n"
                     "      |             ^~~~~~\n");
    cr_assert_eq(c.diag.errors, 1);
    cr_assert_eq(c.diag.warnings, 0);
    capture_end(&c);
}

Test(front_diag, caret_only_warning_and_note)
{
    capture c;
    capture_start(&c);
    const char *text = "a\nbb = 1;"; /* no final newline */
    xai_source *src = diag_add_source(&c.diag, "w.xai", text, strlen(text));
    diag_warning(&c.diag, at(src, 2, 4, 0), "unused layer '%s'", "bb");
    diag_note(&c.diag, at(src, 1, 1, 1), "first defined here");
    cr_assert_str_eq(capture_text(&c),
                     "w.xai:2:4: warning: unused layer 'bb'\n"
                     "    2 | bb = 1;\n"
                     "      |    ^\n"
                     "w.xai:1:1: note: first defined here\n"
                     "    1 | a\n"
                     "      | ^\n");
    cr_assert_eq(c.diag.errors, 0);
    cr_assert_eq(c.diag.warnings, 1);
    capture_end(&c);
}

Test(front_diag, without_location)
{
    capture c;
    capture_start(&c);
    diag_error(&c.diag, loc_none(), "cannot read '%s': %s", "x.xai", strerror(ENOENT));
    diag_note(&c.diag, loc_none(), "a note");
    cr_assert_str_eq(capture_text(&c),
                     "xaic: error: cannot read 'x.xai': No such file or directory\n"
                     "xaic: note: a note\n");
    cr_assert_eq(c.diag.errors, 1);
    capture_end(&c);
}

Test(front_diag, tabs_are_expanded_and_the_caret_follows)
{
    capture c;
    capture_start(&c);
    const char *text = "\tx =\trelu(y);\n";
    xai_source *src = diag_add_source(&c.diag, "t.xai", text, strlen(text));
    /* `relu` starts at byte column 6 (after "\tx =\t"), display column 8 + 4 -> tab -> 16 */
    diag_error(&c.diag, at(src, 1, 6, 9), "here");
    cr_assert_str_eq(capture_text(&c),
                     "t.xai:1:6: error: here\n"
                     "    1 |         x =     relu(y);\n"
                     "      |                 ^~~~\n");
    capture_end(&c);
}

Test(front_diag, utf8_counts_one_column_and_control_bytes_are_shown_as_question_marks)
{
    capture c;
    capture_start(&c);
    const char *text = "# \xc3\xa9t\xc3\xa9\x01 x\n";
    xai_source *src = diag_add_source(&c.diag, "u.xai", text, strlen(text));
    diag_error(&c.diag, at(src, 1, 10, 10), "x");
    cr_assert_str_eq(capture_text(&c),
                     "u.xai:1:10: error: x\n"
                     "    1 | # \xc3\xa9t\xc3\xa9? x\n"
                     "      |        ^\n");
    capture_end(&c);
}

Test(front_diag, location_past_the_end_of_the_line)
{
    capture c;
    capture_start(&c);
    const char *text = "x = f(a)\r\ny\n";
    xai_source *src = diag_add_source(&c.diag, "e.xai", text, strlen(text));
    diag_error(&c.diag, at(src, 1, 9, 0), "expected ';'");
    cr_assert_str_eq(capture_text(&c),
                     "e.xai:1:9: error: expected ';'\n"
                     "    1 | x = f(a)\n"
                     "      |         ^\n");
    capture_end(&c);
}

Test(front_diag, wide_line_numbers_keep_the_bars_aligned)
{
    capture c;
    capture_start(&c);
    size_t n = 123456;
    char *text = malloc(n * 2 + 8);
    for (size_t i = 0; i < n; i++) memcpy(text + 2 * i, "a\n", 2);
    strcpy(text + 2 * n, "zz\n");
    xai_source *src = diag_add_source(&c.diag, "big.xai", text, strlen(text));
    diag_error(&c.diag, at(src, 123457, 2, 2), "m");
    cr_assert_str_eq(capture_text(&c),
                     "big.xai:123457:2: error: m\n"
                     "123457 | zz\n"
                     "       |  ^\n");
    free(text);
    capture_end(&c);
}

Test(front_diag, load_file_reads_regular_files_only)
{
    capture c;
    capture_start(&c);
    char *path = tu_write_temp("diag_load.xai", "abc\0def", 7);
    int err = 0;
    xai_source *src = diag_load_file(&c.diag, path, &err);
    cr_assert_not_null(src);
    cr_assert_eq(src->length, 7);
    cr_assert_eq(memcmp(src->text, "abc\0def", 8), 0); /* NUL-terminated, embedded NUL kept */
    cr_assert_str_eq(src->path, path);
    cr_assert_eq(c.diag.sources, src);

    err = 0;
    cr_assert_null(diag_load_file(&c.diag, tu_tmpdir(), &err));
    cr_assert_eq(err, EISDIR);
    err = 0;
    cr_assert_null(diag_load_file(&c.diag, "/nonexistent/dir/x.xai", &err));
    cr_assert_eq(err, ENOENT);
    cr_assert_str_eq(capture_text(&c), ""); /* loading reports nothing itself */
    cr_assert_eq(c.diag.errors, 0);
    free(path);
    capture_end(&c);
}

Test(front_diag, add_source_copies_the_text)
{
    capture c;
    capture_start(&c);
    char text[] = "abc";
    xai_source *src = diag_add_source(&c.diag, "m.xai", text, 3);
    text[0] = 'z';
    cr_assert_str_eq(src->text, "abc");
    cr_assert_eq(src->length, 3);
    xai_source *second = diag_add_source(&c.diag, "n.xai", "", 0);
    cr_assert_str_eq(second->text, "");
    cr_assert_eq(c.diag.sources, second);
    cr_assert_eq(second->next, src);
    capture_end(&c);
}
