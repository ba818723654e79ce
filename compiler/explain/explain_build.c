/* The explain stage's second half: each checked explain block built into its explanation graph by its
 * method (methods.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "method.h"

int explain_build(xai_diag *d, ir_module *m, const explain_set *s)
{
    int errors = d->errors;
    wcache *cache = NULL; /* weight transforms are shared by every explanation of the module */
    int n_cache = 0;
    for (int e = 0; e < s->n_specs; e++) {
        const explain_spec *spec = &s->specs[e];
        rules_ctx c = {
            .d = d, .spec = spec, .module = m, .net = m->graphs[spec->network], .cache = cache, .n_cache = n_cache
        };
        ir_graph *g = method_of(spec->method)->build(&c);
        if (spec->sweep && g) {
            char params[160], note[400];
            explain_smoothgrad_text(spec, params, sizeof params);
            snprintf(note, sizeof note, "member %d of smoothgrad sweep %s (row %d of %d, column %d of %d): %s",
                     spec->sweep_row * spec->sweep_cols + spec->sweep_col, spec->sweep, spec->sweep_row + 1,
                     spec->sweep_rows, spec->sweep_col + 1, spec->sweep_cols, params);
            g->explain_note = strdup(note);
        }
        cache = c.cache;
        n_cache = c.n_cache;
        free(c.R);
        free(c.fwd);
        free(c.fwd0);
        rx_pool_free(&c.pool);
        m->explanations = realloc(m->explanations, sizeof *m->explanations * (m->n_explanations + 1));
        m->explanations[m->n_explanations++] = g;
    }
    for (int i = 0; i < n_cache; i++) free(cache[i].key);
    free(cache);
    return d->errors - errors;
}
