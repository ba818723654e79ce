/* Compiles a naive-reference network (naive_ref.h) with explain blocks in-process, for the property tests
 * that compare explanations with the naive double forward pass. Header-only: include it once, after
 * explain_util.h and naive_ref.c. */
#ifndef XAIC_EXPLAIN_NR_UTIL_H
#define XAIC_EXPLAIN_NR_UTIL_H

#include "explain_util.h"
#include "naive_ref.h"
#include "testutil.h"

/* net's .xai text and weights written to temporary files NAME_TAG.*, then `explains` appended and compiled;
 * must_compile: fail the test when it does not (else the caller reads p.ok and eu_messages) */
static __attribute__((unused)) eu_program eu_open_nr(const nr_net *net, const char *explains, const char *tag,
                                                     int must_compile)
{
    char wname[64], sname[64];
    snprintf(wname, sizeof wname, "%s_%s.safetensors", net->name, tag);
    snprintf(sname, sizeof sname, "%s_%s.xai", net->name, tag);
    char *wpath = tu_write_temp(wname, "", 0);
    cr_assert_eq(nr_write_safetensors(net, wpath), 0);
    char *text = nr_xai_text(net, wname), *full = NULL;
    cr_assert(asprintf(&full, "%s\n%s\n", text, explains) > 0);
    char *src = tu_write_temp(sname, "", 0);
    eu_program p;
    eu_open(&p, src, full, 3, 0);
    if (must_compile) cr_assert(p.ok, "%s\n%s", eu_messages(&p), full);
    free(wpath);
    free(text);
    free(full);
    free(src);
    return p;
}

#endif
