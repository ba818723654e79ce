/* libFuzzer target for the rule language past the parser: any byte string is appended to a program that
 * imports a small network (tests/fixtures/forward/bn_net: conv2d, batchnorm, relu, flatten, dense), then
 * checked as `xaic check` does: sema, the explain blocks and rules (sema_rules, rule_form, the backward graph
 * of every explanation: shares, denominators, stabiliser expressions, reductions, math functions), fusion and
 * planning. Networks of weight-free ops (pools, routes, binary ops) can be written by the input itself.
 * Diagnostics go to /dev/null. Must never crash, leak or trip a sanitizer. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

static FILE *null_out;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char prefix[] = "import \"bn_net.xai\";\n";
    if (size > 1 << 16) return 0; /* rules are short; long inputs only slow the search */
    if (!null_out) null_out = fopen("/dev/null", "w");
    if (!null_out) abort();
    char *text = malloc(sizeof prefix + size);
    if (!text) abort();
    memcpy(text, prefix, sizeof prefix - 1);
    memcpy(text + sizeof prefix - 1, data, size);
    text[sizeof prefix - 1 + size] = 0;
    xai_diag d;
    diag_init(&d, null_out);
    compilation c;
    driver_analyse_text(&c, &d, XAIC_SOURCE_DIR "/tests/fixtures/forward/fuzz_rules.xai", text);
    driver_free(&c);
    diag_free(&d);
    free(text);
    return 0;
}
