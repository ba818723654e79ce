/* xai_import_onnx / xai_import_onnx_memory: read, walk, name, write. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx_internal.h"
#include "xairt.h"

#define MAX_MODEL_BYTES ((size_t)2 << 30) /* protobuf's own limit; larger models keep weights outside */

static void progress(const imp *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(const imp *im, const char *fmt, ...)
{
    if (!im->opt->progress) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("xaic import: ", im->opt->progress);
    vfprintf(im->opt->progress, fmt, ap);
    fputc('\n', im->opt->progress);
    fflush(im->opt->progress);
    va_end(ap);
}

static void imp_free(imp *im)
{
    for (int l = 0; l < im->n_layers; l++) {
        free(im->layers[l].in);
        free(im->layers[l].name);
        free(im->layers[l].hint);
    }
    free(im->layers);
    free(im->values);
    free(im->fates);
    str_map_free(&im->names);
    ct_free_all(im);
    free_model(im);
}

/* path without directory and extension, malloc'd */
static char *path_stem(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot > base ? (size_t)(dot - base) : strlen(base);
    return strndup(base, n);
}

static char *replace_ext(const char *path, const char *ext)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    size_t stem = dot && (!slash || dot > slash + 1) ? (size_t)(dot - path) : strlen(path);
    char *out = malloc(stem + strlen(ext) + 1);
    if (out) {
        memcpy(out, path, stem);
        strcpy(out + stem, ext);
    }
    return out;
}

typedef struct names {
    char *net, *weights, *output;
} names;

static int pick_names(imp *im, names *n)
{
    const xai_import_options *o = im->opt;
    memset(n, 0, sizeof *n);
    if (o->output_path)
        n->output = strdup(o->output_path);
    else if (o->model_path)
        n->output = replace_ext(o->model_path, ".xai");
    const char *from = n->output ? n->output : "net";
    char *stem = path_stem(from);
    if (!stem) return imp_fail(im, "out of memory");
    if (o->name) {
        char *s = sanitize_identifier(o->name);
        int ok = s && !strcmp(s, o->name) && !is_reserved_name(o->name);
        free(s);
        if (!ok) {
            free(stem);
            return imp_fail(im, "--name '%s' is not a valid network name (an identifier, not a keyword)", o->name);
        }
        n->net = strdup(o->name);
    } else {
        n->net = sanitize_identifier(stem[0] ? stem : "net");
        if (n->net && is_reserved_name(n->net)) {
            char *q = malloc(strlen(n->net) + 5);
            if (q) sprintf(q, "%s_net", n->net);
            free(n->net);
            n->net = q;
        }
    }
    if (o->weights_file)
        n->weights = strdup(o->weights_file);
    else if ((n->weights = malloc(strlen(stem) + 13)))
        sprintf(n->weights, "%s.safetensors", stem[0] ? stem : "net");
    free(stem);
    if (!n->net || !n->weights) return imp_fail(im, "out of memory");
    return 0;
}

static void free_names(names *n)
{
    free(n->net);
    free(n->weights);
    free(n->output);
}

/* Decodes, maps and writes the text results; the weights are left to the caller (memory or file). */
static int import_core(imp *im, const void *bytes, size_t size, const names *nm, xai_import_result *out)
{
    progress(im, "decoding %s (%.1f MB)", im->label, (double)size / 1e6);
    if (read_model(im, bytes, size)) return -1;
    progress(im, "mapping %zu nodes, %zu initializers", im->graph->n_node, im->graph->n_initializer);
    if (walk_graph(im) || name_layers(im)) return -1;
    if (emit_xai(im, nm->net, nm->weights, &out->xai, &out->xai_len) || emit_node_map(im, &out->node_map)) return -1;
    return 0;
}

static int status_of(const char *err)
{
    return strstr(err, "out of memory")                            ? XAI_ENOMEM
        : strstr(err, "cannot open") || strstr(err, "cannot read") ? XAI_EIO
                                                                   : XAI_EFORMAT;
}

int xai_import_onnx_memory(const void *model, size_t size, const char *base_dir, const xai_import_options *o,
                           xai_import_result *out, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    if (!out) return XAI_ENULL;
    memset(out, 0, sizeof *out);
    if (!model || !o) {
        if (err && errlen) snprintf(err, errlen, "xai_import_onnx_memory: null argument");
        return XAI_ENULL;
    }
    imp im = { .opt = o,
               .label = o->model_path ? o->model_path : "model",
               .base_dir = base_dir,
               .err = err,
               .errlen = errlen,
               .model_size = size,
               .static_batch = -1 };
    names nm;
    int rc = pick_names(&im, &nm) || import_core(&im, model, size, &nm, out) ||
        emit_weights(&im, NULL, &out->weights, &out->weights_len);
    free_names(&nm);
    imp_free(&im);
    if (rc) {
        xai_import_result_free(out);
        return status_of(err ? err : "");
    }
    return XAI_OK;
}

void xai_import_result_free(xai_import_result *r)
{
    if (!r) return;
    free(r->xai);
    free(r->weights);
    free(r->node_map);
    memset(r, 0, sizeof *r);
}

/* Writes path (and second_path, when given) whole or not at all, the two together (runtime/outfile.c). */
static int write_outputs(const char *path, const void *data, size_t len, const char *second_path, const void *second,
                         size_t second_len, char *err, size_t errlen)
{
    xai_outfile *a = NULL, *b = NULL;
    int rc = xai_outfile_open(&a, path, 0, err, errlen);
    if (!rc && second_path) rc = xai_outfile_open(&b, second_path, 0, err, errlen);
    if (rc) {
        xai_outfile_abort(a);
        return rc;
    }
    fwrite(data, 1, len, xai_outfile_stream(a));
    if (b) fwrite(second, 1, second_len, xai_outfile_stream(b));
    return b ? xai_outfile_commit_pair(a, b, err, errlen) : xai_outfile_commit(a, err, errlen);
}

static int read_whole(const char *path, unsigned char **buf, size_t *size, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0) {
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return XAI_EIO;
    }
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        snprintf(err, errlen, "'%s' is not a regular file", path);
        return XAI_EIO;
    }
    if ((uint64_t)sb.st_size > MAX_MODEL_BYTES) {
        close(fd);
        snprintf(err, errlen, "%s: %lld bytes is more than protobuf's 2 GB limit (save the weights as external data)",
                 path, (long long)sb.st_size);
        return XAI_EFORMAT;
    }
    size_t n = (size_t)sb.st_size, done = 0;
    if (!(*buf = malloc(n ? n : 1))) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return XAI_ENOMEM;
    }
    while (done < n) {
        ssize_t r = read(fd, *buf + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            snprintf(err, errlen, "cannot read '%s': %s", path, r ? strerror(errno) : "the file shrank");
            close(fd);
            free(*buf);
            return XAI_EIO;
        }
        done += (size_t)r;
    }
    close(fd);
    *size = n;
    return XAI_OK;
}

int xai_import_onnx(const xai_import_options *o, char *err, size_t errlen)
{
    char dummy[1];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = 0;
    if (!o || !o->model_path) {
        snprintf(err, errlen, "xai_import_onnx: no model path");
        return XAI_ENULL;
    }
    unsigned char *buf;
    size_t size;
    int rc = read_whole(o->model_path, &buf, &size, err, errlen);
    if (rc) return rc;
    char *dir = strdup(o->model_path);
    if (!dir) {
        free(buf);
        snprintf(err, errlen, "out of memory");
        return XAI_ENOMEM;
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = 0;
    else
        strcpy(dir, ".");
    xai_import_options file_opt = *o;
    file_opt.weights_file = NULL; /* the weights always go beside the .xai under its stem */
    imp im = { .opt = &file_opt,
               .label = o->model_path,
               .base_dir = dir,
               .err = err,
               .errlen = errlen,
               .model_size = size,
               .static_batch = -1 };
    names nm;
    xai_import_result res = { 0 };
    if (pick_names(&im, &nm) || import_core(&im, buf, size, &nm, &res)) rc = status_of(err);
    free(buf);
    char *st_path = rc ? NULL : replace_ext(nm.output, ".safetensors");
    if (!rc && !st_path) {
        snprintf(err, errlen, "out of memory");
        rc = XAI_ENOMEM;
    }
    unsigned char *weights = NULL;
    size_t weights_len = 0;
    if (!rc && emit_weights(&im, NULL, &weights, &weights_len)) rc = status_of(err);
    if (!rc) { /* the .xai names the tensors of its .safetensors: both replaced together or neither */
        progress(&im, "writing %s and %s", nm.output, st_path);
        rc = write_outputs(nm.output, res.xai, res.xai_len, st_path, weights, weights_len, err, errlen);
    }
    free(weights);
    if (!rc && o->node_map_path)
        rc = write_outputs(o->node_map_path, res.node_map, strlen(res.node_map), NULL, NULL, 0, err, errlen);
    free(st_path);
    free(dir);
    free_names(&nm);
    xai_import_result_free(&res);
    imp_free(&im);
    return rc;
}
