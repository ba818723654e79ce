/* Loading a program: the prelude, the main file and everything it imports, each parsed once. */
#ifndef XAIC_LOAD_H
#define XAIC_LOAD_H

#include "ast.h"
#include "diag.h"

typedef struct xai_program {
    ast_file **files; /* files[0] = the prelude, then imported files in dependency order, the main file last */
    int n_files;
} xai_program;

/* Parses the prelude (xai_prelude_text), `path` and, recursively, every file it imports (import paths are
 * relative to the importing file's directory; each file is parsed once even if imported twice — compare
 * realpath; an import cycle is an error showing the chain). An unreadable import is an error at the
 * import statement's location: "cannot read imported file 'x.xai': No such file or directory". An
 * unreadable main file: error without location "cannot read 'x.xai': ...". Returns the program even when
 * there were errors (check d->errors), NULL only on out-of-memory. */
xai_program *load_program(xai_diag *d, const char *path);
/* Same, but the main file's text is given (imports resolve relative to the directory of `path`). */
xai_program *load_program_text(xai_diag *d, const char *path, const char *text);
/* Parses `text` (registered as a source named `name`, which messages show as its path) and appends it to the
 * program as its last file; it may not import. Syntax errors go to d. Returns 0, or -1 on out-of-memory. */
int program_append_text(xai_program *p, xai_diag *d, const char *name, const char *text);
void program_free(xai_program *p);

/* The path messages use for the prelude's locations. */
#define XAI_PRELUDE_PATH "<prelude>"

#endif
