/* Analysing a .xai text in-process (front end + sema, no code generation) with its diagnostics captured:
 * for tests of the messages a network gets. Header-only: include it once. */
#ifndef XAIC_ANALYSE_UTIL_H
#define XAIC_ANALYSE_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "driver.h"
#include "testutil.h"

typedef struct analysed {
    char *xai_path; /* where the .xai "is" (weights resolve next to it) */
    char *out;      /* the diagnostics printed */
    int errors, failed;
} analysed;

static analysed analyse(const char *xai_name, const char *text)
{
    analysed r = { 0 };
    cr_assert(asprintf(&r.xai_path, "%s/%s", tu_tmpdir(), xai_name) > 0);
    size_t len = 0;
    FILE *f = open_memstream(&r.out, &len);
    xai_diag d;
    diag_init(&d, f);
    compilation c;
    r.failed = driver_analyse_text(&c, &d, r.xai_path, text);
    r.errors = d.errors;
    driver_free(&c);
    diag_free(&d);
    fclose(f);
    return r;
}

static void analysed_free(analysed *r)
{
    free(r->out);
    free(r->xai_path);
}

#endif
