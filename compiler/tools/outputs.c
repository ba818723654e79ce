/* Outputs checked against inputs (outputs.h). */
#include "outputs.h"

#include <string.h>
#include <sys/stat.h>

void outputs_add_input(tool_inputs *in, const char *path, const char *what)
{
    if (!path || in->n == OUTPUTS_MAX_INPUTS) return;
    in->path[in->n] = path;
    in->what[in->n++] = what;
}

void outputs_inputs_of(tool_inputs *in, const compilation *c)
{
    memset(in, 0, sizeof *in);
    for (int i = 1; c->program && i < c->program->n_files; i++) /* [0]: the prelude, in memory */
        outputs_add_input(in, c->program->files[i]->src->path, "a source file");
    for (int i = 0; c->ir && i < c->ir->n_graphs; i++)
        outputs_add_input(in, c->ir->graphs[i]->weights_path, "a weights file");
}

int outputs_check(const tool_inputs *in, const char *path, const char *flag)
{
    struct stat out;
    if (!path || !strcmp(path, "-") || stat(path, &out) || !S_ISREG(out.st_mode)) return 0; /* nothing to clobber */
    for (int i = 0; i < in->n; i++) {
        struct stat st;
        if (stat(in->path[i], &st) == 0 && st.st_dev == out.st_dev && st.st_ino == out.st_ino) {
            fprintf(stderr, "xaic: error: %s '%s' is %s of this command ('%s'); writing it would destroy that input\n",
                    flag, path, in->what[i], in->path[i]);
            return 1;
        }
    }
    return 0;
}
