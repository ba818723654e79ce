/* Loading programs: prelude first, imports relative to the importer, each file once, cycles, errors. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "load.h"
#include "testutil.h"

/* Writes `text` to tmpdir/`name` (subdirectories created) and returns the full path (malloc'd). */
static char *write_file(const char *name, const char *text)
{
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/%s", tu_tmpdir(), name) > 0);
    for (char *p = path + strlen(tu_tmpdir()) + 1; (p = strchr(p, '/')); p++) {
        *p = 0;
        mkdir(path, 0755);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
    return path;
}

typedef struct loaded {
    xai_diag diag;
    xai_program *prog;
    FILE *stream;
    char *messages;
    size_t len;
} loaded;

static void load_path(loaded *l, const char *path)
{
    l->messages = NULL;
    l->stream = open_memstream(&l->messages, &l->len);
    diag_init(&l->diag, l->stream);
    l->prog = load_program(&l->diag, path);
    cr_assert_not_null(l->prog);
    fflush(l->stream);
}

static void loaded_free(loaded *l)
{
    program_free(l->prog);
    diag_free(&l->diag);
    fclose(l->stream);
    free(l->messages);
}

/* The name of the first network of file i (the test files each define one, named after the file). */
static const char *first_network(const xai_program *p, int i)
{
    const ast_file *f = p->files[i];
    for (int k = 0; k < f->n_items; k++)
        if (f->items[k].kind == TOP_NETWORK) return f->items[k].u.network.name;
    return "";
}

Test(front_load, prelude_first_then_main)
{
    char *path = write_file("single/main.xai", "network main { output x; }\n");
    loaded l;
    load_path(&l, path);
    cr_assert_eq(l.diag.errors, 0, "%s", l.messages);
    cr_assert_eq(l.prog->n_files, 2);
    cr_assert_str_eq(l.prog->files[0]->src->path, XAI_PRELUDE_PATH);
    cr_assert_str_eq(l.prog->files[1]->src->path, path);
    cr_assert_str_eq(first_network(l.prog, 1), "main");
    loaded_free(&l);
    free(path);
}

Test(front_load, relative_imports_and_a_diamond_loaded_once)
{
    /* main imports lib/a and lib/b; both import common (a via "common.xai", b via "../lib/./common.xai") */
    char *common = write_file("diamond/lib/common.xai", "network common { output x; }\n");
    char *a = write_file("diamond/lib/a.xai", "import \"common.xai\";\nnetwork a { output x; }\n");
    char *b = write_file("diamond/lib/b.xai", "import \"../lib/./common.xai\";\nnetwork b { output x; }\n");
    char *main_path =
        write_file("diamond/main.xai", "import \"lib/a.xai\";\nimport \"lib/b.xai\";\nnetwork main { output x; }\n");
    loaded l;
    load_path(&l, main_path);
    cr_assert_eq(l.diag.errors, 0, "%s", l.messages);
    cr_assert_eq(l.prog->n_files, 5); /* prelude, common, a, b, main */
    cr_assert_str_eq(first_network(l.prog, 1), "common");
    cr_assert_str_eq(first_network(l.prog, 2), "a");
    cr_assert_str_eq(first_network(l.prog, 3), "b");
    cr_assert_str_eq(first_network(l.prog, 4), "main");
    /* paths in messages are the importer's directory + the import as written */
    char *expected_a = NULL;
    cr_assert(asprintf(&expected_a, "%s/diamond/lib/a.xai", tu_tmpdir()) > 0);
    cr_assert_str_eq(l.prog->files[2]->src->path, expected_a);
    loaded_free(&l);
    free(expected_a);
    free(common);
    free(a);
    free(b);
    free(main_path);
}

Test(front_load, a_file_importing_itself_through_others_is_a_cycle)
{
    free(write_file("cycle/a.xai", "import \"b.xai\";\nnetwork a { output x; }\n"));
    free(write_file("cycle/b.xai", "network b { output x; }\nimport \"c.xai\";\n"));
    free(write_file("cycle/c.xai", "import \"a.xai\";\n"));
    char *dir = NULL;
    cr_assert(asprintf(&dir, "%s/cycle", tu_tmpdir()) > 0);
    char *a = NULL;
    cr_assert(asprintf(&a, "%s/a.xai", dir) > 0);
    loaded l;
    load_path(&l, a);
    cr_assert_eq(l.diag.errors, 1, "%s", l.messages);
    char *expected = NULL;
    cr_assert(asprintf(&expected,
                       "%s/c.xai:1:8: error: import cycle: %s/a.xai -> %s/b.xai -> %s/c.xai -> %s/a.xai; "
                       "a file cannot import itself, directly or through others\n"
                       "    1 | import \"a.xai\";\n"
                       "      |        ^~~~~~~\n",
                       dir, dir, dir, dir, dir) > 0);
    cr_assert_str_eq(l.messages, expected);
    cr_assert_eq(l.prog->n_files, 4); /* each file still parsed once */
    loaded_free(&l);
    free(expected);
    free(a);
    free(dir);
}

Test(front_load, self_import)
{
    char *path = write_file("self/s.xai", "import \"s.xai\";\n");
    loaded l;
    load_path(&l, path);
    cr_assert_eq(l.diag.errors, 1);
    cr_assert(strstr(l.messages, "s.xai:1:8: error: import cycle: "), "%s", l.messages);
    cr_assert(strstr(l.messages, "self/s.xai -> "), "%s", l.messages);
    loaded_free(&l);
    free(path);
}

Test(front_load, unreadable_import_is_reported_at_the_import)
{
    char *path = write_file("missing/m.xai", "network m { output x; }\nimport   \"nope.xai\";\nimport \"sub.xai\";\n");
    free(write_file("missing/sub.xai/placeholder.xai", "")); /* makes "sub.xai" a directory */
    loaded l;
    load_path(&l, path);
    cr_assert_eq(l.diag.errors, 2, "%s", l.messages);
    char *expected = NULL;
    cr_assert(asprintf(&expected,
                       "%s:2:10: error: cannot read imported file 'nope.xai': No such file or directory\n"
                       "    2 | import   \"nope.xai\";\n"
                       "      |          ^~~~~~~~~~\n"
                       "%s:3:8: error: cannot read imported file 'sub.xai': Is a directory\n"
                       "    3 | import \"sub.xai\";\n"
                       "      |        ^~~~~~~~~\n",
                       path, path) > 0);
    cr_assert_str_eq(l.messages, expected);
    cr_assert_eq(l.prog->n_files, 2); /* the main file is still there */
    loaded_free(&l);
    free(expected);
    free(path);
}

Test(front_load, unreadable_main_file)
{
    loaded l;
    load_path(&l, "tests/data/does_not_exist.xai");
    cr_assert_eq(l.diag.errors, 1);
    cr_assert_str_eq(l.messages,
                     "xaic: error: cannot read 'tests/data/does_not_exist.xai': No such file or directory\n");
    cr_assert_eq(l.prog->n_files, 1); /* just the prelude */
    loaded_free(&l);

    load_path(&l, tu_tmpdir());
    cr_assert_eq(l.diag.errors, 1);
    cr_assert(strstr(l.messages, "': Is a directory\n"), "%s", l.messages);
    loaded_free(&l);
}

Test(front_load, text_main_file_resolves_imports_next_to_its_path)
{
    free(write_file("text/helper.xai", "rule helper on relu { r; }\n"));
    char *main_path = NULL;
    cr_assert(asprintf(&main_path, "%s/text/virtual.xai", tu_tmpdir()) > 0); /* not on disk */
    xai_diag d;
    FILE *null = fopen("/dev/null", "w");
    diag_init(&d, null);
    xai_program *p = load_program_text(&d, main_path, "import \"helper.xai\";\nimport \"helper.xai\";\n");
    cr_assert_not_null(p);
    cr_assert_eq(d.errors, 0);
    cr_assert_eq(p->n_files, 3); /* prelude, helper (once), main */
    cr_assert_eq(p->files[1]->items[0].kind, TOP_RULE);
    cr_assert_str_eq(p->files[1]->items[0].u.rule.name, "helper");
    cr_assert_str_eq(p->files[2]->src->path, main_path);
    program_free(p);
    diag_free(&d);
    fclose(null);
    free(main_path);
}

Test(front_load, syntax_errors_in_imported_files_are_reported_with_their_path)
{
    char *bad = write_file("errs/bad.xai", "network b { y = ; }\n");
    char *main_path = write_file("errs/main.xai", "import \"bad.xai\";\nnetwork m { z = ; }\n");
    loaded l;
    load_path(&l, main_path);
    cr_assert_eq(l.diag.errors, 2);
    char *e1 = NULL, *e2 = NULL;
    cr_assert(asprintf(&e1, "%s:1:17: error: expected an expression, found ';'", bad) > 0);
    cr_assert(asprintf(&e2, "%s:2:17: error: expected an expression, found ';'", main_path) > 0);
    cr_assert(strstr(l.messages, e1), "%s", l.messages);
    cr_assert(strstr(l.messages, e2), "%s", l.messages);
    cr_assert_eq(l.prog->n_files, 3);
    loaded_free(&l);
    free(e1);
    free(e2);
    free(bad);
    free(main_path);
}

Test(front_load, relative_main_path_and_absolute_import)
{
    char *abs = write_file("abs/lib.xai", "network lib { output x; }\n");
    char *text = NULL;
    cr_assert(asprintf(&text, "import \"%s\";\n", abs) > 0);
    xai_diag d;
    FILE *null = fopen("/dev/null", "w");
    diag_init(&d, null);
    xai_program *p = load_program_text(&d, "relative.xai", text);
    cr_assert_eq(d.errors, 0);
    cr_assert_eq(p->n_files, 3);
    cr_assert_str_eq(p->files[1]->src->path, abs);
    program_free(p);
    diag_free(&d);
    fclose(null);
    free(text);
    free(abs);
}
