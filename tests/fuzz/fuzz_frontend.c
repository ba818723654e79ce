/* libFuzzer target for the front end: any byte string is parsed as a .xai source; diagnostics go to
 * /dev/null; the AST is dumped (to exercise ast_dump on whatever recovery produced) and freed.
 * Must never crash, leak or trip a sanitizer. Imports are not followed (no file system access). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ast.h"
#include "diag.h"

static FILE *null_out;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!null_out) null_out = fopen("/dev/null", "w");
    if (!null_out) abort();
    xai_diag d;
    diag_init(&d, null_out);
    xai_source *src = diag_add_source(&d, "fuzz.xai", (const char *)data, size);
    if (src) {
        ast_file *f = ast_parse(&d, src);
        if (f) ast_dump(f, null_out);
        ast_free(f);
    }
    diag_free(&d);
    return 0;
}
