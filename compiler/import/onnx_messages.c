/* Messages of the importer: every error names the model, the node and, where it helps, the type or shape.
 * At the bottom of the importer: every other file reports through these. */
#include <stdarg.h>
#include <stdio.h>

#include "onnx_internal.h"

int imp_fail(imp *im, const char *fmt, ...)
{
    if (!im->failed && im->err && im->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(im->err, im->errlen, fmt, ap);
        va_end(ap);
    }
    im->failed = 1;
    return -1;
}

const Onnx__NodeProto *node_at(const imp *im, int node) { return im->graph->node[node]; }

const char *node_label(const imp *im, int node)
{
    static _Thread_local char buf[400];
    const Onnx__NodeProto *n = node_at(im, node);
    const char *op = n->op_type ? n->op_type : "?";
    if (n->name && n->name[0])
        snprintf(buf, sizeof buf, "'%.250s' (%.60s)", n->name, op);
    else if (n->n_output && n->output[0])
        snprintf(buf, sizeof buf, "#%d (%.60s, output '%.200s')", node, op, n->output[0]);
    else
        snprintf(buf, sizeof buf, "#%d (%.60s)", node, op);
    return buf;
}

int node_fail(imp *im, int node, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return imp_fail(im, "%s: node %s: %s", im->label, node_label(im, node), msg);
}

void format_dims(char *buf, size_t len, const int64_t *dims, int rank)
{
    size_t at = 0;
    at += (size_t)snprintf(buf + at, len - at, "[");
    for (int k = 0; k < rank && at < len; k++)
        at += (size_t)snprintf(buf + at, len - at, "%s%lld", k ? ", " : "", (long long)dims[k]);
    if (at < len) snprintf(buf + at, len - at, "]");
}

const char *onnx_type_name(int32_t t)
{
    static const char *names[] = { "UNDEFINED", "FLOAT",  "UINT8",     "INT8",       "UINT16",  "INT16",
                                   "INT32",     "INT64",  "STRING",    "BOOL",       "FLOAT16", "DOUBLE",
                                   "UINT32",    "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16" };
    if (t >= 0 && t < (int32_t)(sizeof names / sizeof names[0])) return names[t];
    return "an unknown type";
}
