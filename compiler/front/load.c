/* Loading a program: the prelude, the main file and, depth first, every file it imports.
 *
 * Files are identified by realpath so that `import "a.xai"` and `import "./lib/../a.xai"` load one
 * file once. A file is appended to the program after its imports (post-order), which gives later
 * stages a dependency order: whatever a file uses from its imports is defined earlier. */
#include "load.h"

#include "policy.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

extern const char xai_prelude_text[];
extern const size_t xai_prelude_length;

typedef enum { FILE_LOADING, FILE_DONE } file_state;

typedef struct seen_file {
    char *key;                /* realpath (or the path as given when it has none) */
    const char *display_path; /* the path used in messages (owned by the xai_source) */
    file_state state;
} seen_file;

typedef struct loader {
    xai_diag *d;
    xai_program *prog;
    int files_cap;
    seen_file *seen;
    int n_seen, seen_cap;
    int *chain; /* indices into seen of the files being loaded, outermost first */
    int n_chain, chain_cap;
    int out_of_memory;
} loader;

static int grow(void **data, int *cap, int needed, size_t elem)
{
    if (needed <= *cap) return 1;
    int new_cap = *cap ? *cap * 2 : 8;
    while (new_cap < needed) new_cap *= 2;
    void *p = realloc(*data, (size_t)new_cap * elem);
    if (!p) return 0;
    *data = p;
    *cap = new_cap;
    return 1;
}

static int add_file(loader *L, ast_file *f)
{
    if (!grow((void **)&L->prog->files, &L->files_cap, L->prog->n_files + 1, sizeof(ast_file *))) {
        L->out_of_memory = 1;
        return 0;
    }
    L->prog->files[L->prog->n_files++] = f;
    return 1;
}

static int find_seen(const loader *L, const char *key)
{
    for (int i = 0; i < L->n_seen; i++)
        if (strcmp(L->seen[i].key, key) == 0) return i;
    return -1;
}

/* "import cycle: a.xai -> b.xai -> a.xai", from the file that is imported again to the importer. */
static void report_cycle(loader *L, int again, xai_loc where)
{
    size_t size = 32;
    int start = 0;
    while (start < L->n_chain && L->chain[start] != again) start++;
    for (int i = start; i < L->n_chain; i++) size += strlen(L->seen[L->chain[i]].display_path) + 4;
    size += strlen(L->seen[again].display_path);
    char *chain = malloc(size);
    if (!chain) {
        L->out_of_memory = 1;
        return;
    }
    chain[0] = 0;
    for (int i = start; i < L->n_chain; i++) {
        strcat(chain, L->seen[L->chain[i]].display_path);
        strcat(chain, " -> ");
    }
    strcat(chain, L->seen[again].display_path);
    diag_error(L->d, where, "import cycle: %s; a file cannot import itself, directly or through others", chain);
    free(chain);
}

static void load_file(loader *L, const xai_source *src, char *key);

/* `dir/of/importer/` + `imported`, or `imported` alone when it is absolute or the importer has no
 * directory part. */
static char *resolve_import(const char *importer, const char *imported)
{
    const char *slash = strrchr(importer, '/');
    size_t dir_len = imported[0] == '/' || !slash ? 0 : (size_t)(slash - importer) + 1;
    size_t n = strlen(imported);
    char *path = malloc(dir_len + n + 1);
    if (!path) return NULL;
    memcpy(path, importer, dir_len);
    memcpy(path + dir_len, imported, n + 1);
    return path;
}

static int is_xai_path(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && !strcmp(path + n - 4, ".xai");
}

static void load_import(loader *L, const ast_file *importer, const ast_import *imp)
{
    /* a diagnostic shows lines of the files it points into: only .xai sources may become one */
    if (!is_xai_path(imp->path)) {
        diag_error(L->d, imp->loc, "imported file '%s' is not a .xai file; only .xai sources can be imported",
                   imp->path);
        return;
    }
    char *path = resolve_import(importer->src->path, imp->path);
    if (!path) {
        L->out_of_memory = 1;
        return;
    }
    char *key = realpath(path, NULL);
    if (!key) {
        int err = errno;
        if (err == ENOMEM) L->out_of_memory = 1;
        diag_error(L->d, imp->loc, "cannot read imported file '%s': %s", imp->path, strerror(err));
        free(path);
        return;
    }
    char why[512];
    if (policy_check_read(key, why, sizeof why)) {
        diag_error(L->d, imp->loc, "cannot import '%s': %s", imp->path, why);
        free(key);
        free(path);
        return;
    }
    int seen = find_seen(L, key);
    if (seen >= 0) {
        if (L->seen[seen].state == FILE_LOADING) report_cycle(L, seen, imp->loc);
        free(key); /* FILE_DONE: already in the program (a diamond) */
        free(path);
        return;
    }
    int err = 0;
    xai_source *src = diag_load_file(L->d, path, &err);
    free(path);
    if (!src) {
        if (err == ENOMEM) L->out_of_memory = 1;
        diag_error(L->d, imp->loc, "cannot read imported file '%s': %s", imp->path, diag_strerror(err));
        free(key);
        return;
    }
    load_file(L, src, key);
}

/* Parses `src`, loads its imports, then appends it. Takes ownership of `key`. */
static void load_file(loader *L, const xai_source *src, char *key)
{
    if (!grow((void **)&L->seen, &L->seen_cap, L->n_seen + 1, sizeof *L->seen) ||
        !grow((void **)&L->chain, &L->chain_cap, L->n_chain + 1, sizeof *L->chain)) {
        free(key);
        L->out_of_memory = 1;
        return;
    }
    int index = L->n_seen++;
    L->seen[index] = (seen_file){ key, src->path, FILE_LOADING };
    L->chain[L->n_chain++] = index;

    ast_file *f = ast_parse(L->d, src);
    if (!f) {
        L->out_of_memory = 1;
        return;
    }
    for (int i = 0; i < f->n_items && !L->out_of_memory; i++)
        if (f->items[i].kind == TOP_IMPORT) load_import(L, f, &f->items[i].u.import);
    if (!add_file(L, f)) ast_free(f);

    L->n_chain--;
    L->seen[index].state = FILE_DONE;
}

static int load_prelude(loader *L)
{
    xai_source *src = diag_add_source(L->d, XAI_PRELUDE_PATH, xai_prelude_text, xai_prelude_length);
    ast_file *f = src ? ast_parse(L->d, src) : NULL;
    if (!f || !add_file(L, f)) {
        ast_free(f);
        L->out_of_memory = 1;
        return 0;
    }
    for (int i = 0; i < f->n_items; i++)
        if (f->items[i].kind == TOP_IMPORT)
            diag_error(L->d, f->items[i].u.import.loc, "the prelude cannot import files");
    return 1;
}

/* Loads the prelude and then the main file: from `text` if given, else from the file `path`. */
static xai_program *load(xai_diag *d, const char *path, const char *text)
{
    loader L = { .d = d };
    L.prog = calloc(1, sizeof *L.prog);
    if (!L.prog) return NULL;

    if (load_prelude(&L)) {
        xai_source *src;
        int err = 0;
        char why[512];
        if (text) {
            src = diag_add_source(d, path, text, strlen(text));
            if (!src) err = ENOMEM;
        } else if (policy_check_read(path, why, sizeof why)) {
            diag_error(d, loc_none(), "cannot read '%s': %s", path, why);
            src = NULL;
            err = -2; /* reported */
        } else {
            src = diag_load_file(d, path, &err);
        }
        if (src) {
            /* A main file given as text may not exist on disk: then its path is its identity. */
            char *key = realpath(path, NULL);
            if (!key) key = strdup(path);
            if (key)
                load_file(&L, src, key);
            else
                L.out_of_memory = 1;
        } else if (err == ENOMEM) {
            L.out_of_memory = 1;
        } else if (err != -2) {
            diag_error(d, loc_none(), "cannot read '%s': %s", path, diag_strerror(err));
        }
    }

    for (int i = 0; i < L.n_seen; i++) free(L.seen[i].key);
    free(L.seen);
    free(L.chain);
    if (L.out_of_memory) {
        program_free(L.prog);
        return NULL;
    }
    return L.prog;
}

xai_program *load_program(xai_diag *d, const char *path) { return load(d, path, NULL); }

xai_program *load_program_text(xai_diag *d, const char *path, const char *text)
{
    return load(d, path, text ? text : "");
}

int program_append_text(xai_program *p, xai_diag *d, const char *name, const char *text)
{
    xai_source *src = diag_add_source(d, name, text, strlen(text));
    ast_file *f = src ? ast_parse(d, src) : NULL;
    ast_file **files = f ? realloc(p->files, sizeof *files * (p->n_files + 1)) : NULL;
    if (!files) {
        ast_free(f);
        return -1;
    }
    p->files = files;
    p->files[p->n_files++] = f;
    for (int i = 0; i < f->n_items; i++)
        if (f->items[i].kind == TOP_IMPORT) diag_error(d, f->items[i].u.import.loc, "%s cannot import files", name);
    return 0;
}

void program_free(xai_program *p)
{
    if (!p) return;
    for (int i = 0; i < p->n_files; i++) ast_free(p->files[i]);
    free(p->files);
    free(p);
}
