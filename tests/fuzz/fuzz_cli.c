/* libFuzzer target for xaic's command line (tools/cli.c): the input is split at NUL bytes into arguments
 * after "xaic"; parsing must never crash, read out of bounds, or leave a half-set option without an error.
 * Messages go to /dev/null. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static FILE *null_out;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!null_out) null_out = fopen("/dev/null", "w");
    if (!null_out) abort();
    char *copy = malloc(size + 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    copy[size] = 0;
    char *argv[65] = { "xaic" };
    int argc = 1;
    for (size_t at = 0; at <= size && argc < 64;) { /* each NUL-terminated piece is an argument */
        argv[argc++] = copy + at;
        at += strlen(copy + at) + 1;
    }
    argv[argc] = NULL;
    cli o;
    int rc = cli_parse(argc, argv, &o, null_out);
    if (rc == 0 && !o.help && !o.version && !o.file) abort(); /* success always names the input file */
    if (rc != 0 && rc != 2) abort();
    free(copy);
    return 0;
}
