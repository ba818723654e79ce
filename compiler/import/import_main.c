/* `xaic import`: the command line of the ONNX importer. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "import.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: xaic import MODEL.onnx [-o NET.xai] [--name NAME] [--input-shape C,H,W] [--input-range LOW,HIGH]\n"
            "                   [--node-map FILE]\n"
            "  reads an ONNX model (opsets 11 to 17) and writes NET.xai, the network one layer a line, and\n"
            "  NET.safetensors beside it with the parameters it reads (docs/import.md)\n"
            "  -o NET.xai             output (default: MODEL.xai beside the model)\n"
            "  --name NAME            network name (default: the output file's stem)\n"
            "  --input-shape C,H,W    the per-sample input shape, for models whose dims (other than the batch) are "
            "dynamic\n"
            "  --input-range LOW,HIGH the valid input range, written as `range [LOW, HIGH]` on the input\n"
            "  --node-map FILE        also write what became of every ONNX node (tab-separated)\n");
}

/* "3,224,224" -> up to max positive integers */
static int parse_shape(const char *s, int64_t *out, int max)
{
    int n = 0;
    while (*s) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || errno || v < 1 || v > 0x7fffffff || n == max || (*end && *end != ',')) return -1;
        out[n++] = v;
        s = *end ? end + 1 : end;
        if (*end && !*s) return -1;
    }
    return n;
}

static int parse_range(const char *s, double *lo, double *hi)
{
    char *end;
    *lo = strtod(s, &end);
    if (end == s || *end != ',') return -1;
    const char *h = end + 1;
    *hi = strtod(h, &end);
    if (end == h || *end || !isfinite(*lo) || !isfinite(*hi) || !(*lo < *hi)) return -1;
    return 0;
}

/* The command as typed, for the header comment (arguments with spaces or quotes single-quoted). */
static char *command_line(int argc, char **argv)
{
    size_t len = 8;
    for (int i = 0; i < argc; i++) len += 4 * strlen(argv[i]) + 3;
    char *s = malloc(len), *p = s;
    if (!s) return NULL;
    p += sprintf(p, "xaic");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int quote = !*a || strpbrk(a, " \t'\"\\$`;&|<>()*?") != NULL;
        *p++ = ' ';
        if (quote) *p++ = '\'';
        for (; *a; a++) {
            if (*a == '\'') {
                memcpy(p, "'\\''", 4);
                p += 4;
            } else
                *p++ = *a;
        }
        if (quote) *p++ = '\'';
    }
    *p = 0;
    return s;
}

int import_main(int argc, char **argv)
{
    xai_import_options o = { 0 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        const char *opts[] = { "-o", "--name", "--input-shape", "--input-range", "--node-map" };
        int which = -1;
        for (int k = 0; k < 5; k++) {
            size_t n = strlen(opts[k]);
            if (!strcmp(a, opts[k])) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "xaic: error: %s needs a value\n", a);
                    return 2;
                }
                v = argv[++i];
                which = k;
            } else if (k && !strncmp(a, opts[k], n) && a[n] == '=') {
                v = a + n + 1;
                which = k;
            }
            if (which >= 0) break;
        }
        if (which == 0)
            o.output_path = v;
        else if (which == 1)
            o.name = v;
        else if (which == 2) {
            int n = parse_shape(v, o.input_shape, XAI_IMPORT_MAX_RANK);
            if (n < 1) {
                fprintf(stderr, "xaic: error: --input-shape takes 1 to %d positive integers (C,H,W), not '%s'\n",
                        XAI_IMPORT_MAX_RANK, v);
                return 2;
            }
            o.input_rank = n;
        } else if (which == 3) {
            if (parse_range(v, &o.input_low, &o.input_high)) {
                fprintf(stderr, "xaic: error: --input-range takes LOW,HIGH with LOW < HIGH, not '%s'\n", v);
                return 2;
            }
            o.has_input_range = 1;
        } else if (which == 4)
            o.node_map_path = v;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "xaic: error: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!o.model_path)
            o.model_path = a;
        else {
            fprintf(stderr, "xaic: error: more than one model ('%s' and '%s')\n", o.model_path, a);
            return 2;
        }
    }
    if (!o.model_path) {
        fprintf(stderr, "xaic: error: no model given\n");
        usage(stderr);
        return 2;
    }
    char *cmd = command_line(argc, argv);
    o.command_line = cmd;
    if (isatty(STDERR_FILENO)) o.progress = stderr;
    static char err[1 << 16];
    int rc = xai_import_onnx(&o, err, sizeof err);
    free(cmd);
    if (rc) {
        fprintf(stderr, "xaic: error: %s\n", err[0] ? err : "import failed");
        return 1;
    }
    return 0;
}
