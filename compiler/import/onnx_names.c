/* Layer names from ONNX node names. torch 1.13 writes the module path as a scope:
 *   /layer1/layer1.0/conv1/Conv  ->  layer1_0_conv1
 * (a segment repeated as the prefix of the next one, "layer1" before "layer1.0", is dropped; dots become
 * underscores). When several layers share a scope (several uses of one module), or the scope holds
 * other modules (a functional op in a module's forward), the op segment is kept:
 * /layer1/layer1.0/Add -> layer1_0_add. Names are then made valid,
 * unique identifiers that are no keyword, op name or rule selector (docs/import.md). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

static const char *const reserved[] = {
    /* keywords */
    "import",
    "network",
    "weights",
    "input",
    "output",
    "rule",
    "on",
    "preset",
    "explain",
    "for",
    "range",
    "from",
    /* ops */
    "dense",
    "conv2d",
    "maxpool",
    "avgpool",
    "global_avgpool",
    "relu",
    "sigmoid",
    "tanh",
    "silu",
    "hardswish",
    "hardsigmoid",
    "clamp",
    "elu",
    "leaky_relu",
    "flatten",
    "reshape",
    "transpose",
    "concat",
    "slice",
    "add",
    "sub",
    "mul",
    "div",
    "batchnorm",
    "softmax",
    "gelu",
    "matmul",
    "parameter",
    "layernorm",
    /* words with a meaning as argument values or selectors */
    "first",
    "same",
    "valid",
    "true",
    "false",
};

int is_reserved_name(const char *s)
{
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (!strcmp(reserved[i], s)) return 1;
    return !strncmp(s, "first_", 6);
}

char *sanitize_identifier(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n + 8);
    if (!out) return NULL;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        char c = isalnum((unsigned char)s[i]) && !((unsigned char)s[i] & 0x80) ? s[i] : '_';
        if (c == '_' && (at == 0 || out[at - 1] == '_')) continue;
        out[at++] = c;
    }
    while (at && out[at - 1] == '_') at--;
    out[at] = 0;
    if (!at) {
        strcpy(out, "layer");
    } else if (isdigit((unsigned char)out[0]) || !strcmp(out, "first") || !strncmp(out, "first_", 6)) {
        memmove(out + 6, out, at + 1); /* no suffix can make these valid: a prefix does */
        memcpy(out, "layer_", 6);
    }
    return out;
}

/* scope (dots kept) and op segment of node n: "/a/a.0/conv/Conv" -> "a.0/conv", "Conv". */
static void node_scope(const imp *im, int n, char *scope, size_t slen, char *opseg, size_t olen)
{
    const Onnx__NodeProto *nd = node_at(im, n);
    const char *name = nd->name ? nd->name : "";
    scope[0] = opseg[0] = 0;
    if (name[0] != '/') { /* an unscoped name is used as it is; no name: the op type */
        snprintf(scope, slen, "%s", name);
        if (!name[0]) snprintf(opseg, olen, "%s", nd->op_type ? nd->op_type : "node");
        return;
    }
    const char *seg[64];
    size_t len[64];
    int n_seg = 0;
    for (const char *p = name; *p && n_seg < 64;) {
        while (*p == '/') p++;
        if (!*p) break;
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        seg[n_seg] = p;
        len[n_seg++] = l;
        p += l;
    }
    if (!n_seg) return;
    snprintf(opseg, olen, "%.*s", (int)len[n_seg - 1], seg[n_seg - 1]);
    size_t at = 0;
    for (int k = 0; k < n_seg - 1 && at < slen; k++) {
        int prefix_of_next = k + 1 < n_seg - 1 && len[k + 1] > len[k] && !strncmp(seg[k + 1], seg[k], len[k]) &&
            seg[k + 1][len[k]] == '.';
        if (prefix_of_next) continue;
        at += (size_t)snprintf(scope + at, slen - at, "%s%.*s", at ? "/" : "", (int)len[k], seg[k]);
    }
}

/* CamelCase -> snake_case: "GlobalAveragePool_1" -> "global_average_pool_1" */
static void snake(const char *s, char *out, size_t len)
{
    size_t at = 0;
    for (size_t i = 0; s[i] && at + 2 < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isupper(c) && i && (islower((unsigned char)s[i - 1]) || isdigit((unsigned char)s[i - 1]))) out[at++] = '_';
        out[at++] = (char)tolower(c);
    }
    out[at] = 0;
}

/* Claims `base` (sanitized), or base_1, base_2, ... if it is taken or reserved. `next` remembers the
 * last suffix tried per base, so that many equal bases cost linear time. */
static char *claim(str_map *used, str_map *next, const char *base)
{
    char *s = sanitize_identifier(base);
    if (!s) return NULL;
    size_t n = strlen(s) + 24;
    char *name = malloc(n);
    if (!name) {
        free(s);
        return NULL;
    }
    snprintf(name, n, "%s", s);
    int k = str_map_get(next, s);
    if (k > 0)
        snprintf(name, n, "%s_%d", s, k);
    else
        k = 0;
    while (is_reserved_name(name) || str_map_get(used, name) >= 0) snprintf(name, n, "%s_%d", s, ++k);
    if (str_map_put(next, s, k) || str_map_put(used, name, 1)) {
        free(s);
        free(name);
        return NULL;
    }
    free(s);
    return name;
}

int name_layers(imp *im)
{
    str_map used = { 0 }, scopes = { 0 }, containers = { 0 }, next = { 0 };
    char scope[512], opseg[200], base[800];
    int rc = -1;
    /* how many live layers each scope holds, counting a node's several layers (Split) once */
    for (int l = 1; l < im->n_layers; l++) {
        const layer *L = &im->layers[l];
        if (!L->live || (l > 1 && im->layers[l - 1].node == L->node && im->layers[l - 1].live)) continue;
        node_scope(im, L->node, scope, sizeof scope, opseg, sizeof opseg);
        int c = str_map_get(&scopes, scope);
        if (str_map_put(&scopes, scope, c < 0 ? 1 : c + 1)) goto done;
        for (char *p = scope; (p = strchr(p, '/')); *p++ = '/') { /* every enclosing scope is a container */
            *p = 0;
            if (str_map_put(&containers, scope, 1)) goto done;
        }
    }
    const char *in_name = im->values[im->input_value].name;
    if (!(im->layers[0].name = claim(&used, &next, in_name))) goto done;
    for (int l = 1; l < im->n_layers; l++) {
        layer *L = &im->layers[l];
        if (!L->live) continue;
        node_scope(im, L->node, scope, sizeof scope, opseg, sizeof opseg);
        char op_snake[200];
        snake(opseg, op_snake, sizeof op_snake);
        if (!scope[0])
            snprintf(base, sizeof base, "%s", op_snake);
        else if (opseg[0] && (str_map_get(&scopes, scope) > 1 || str_map_get(&containers, scope) >= 0))
            snprintf(base, sizeof base, "%s_%s", scope, op_snake);
        else
            snprintf(base, sizeof base, "%s", scope);
        if (L->hint) snprintf(base + strlen(base), sizeof base - strlen(base), "_%s", L->hint);
        if (!(L->name = claim(&used, &next, base))) goto done;
    }
    rc = 0;
done:
    str_map_free(&used);
    str_map_free(&scopes);
    str_map_free(&containers);
    str_map_free(&next);
    return rc ? imp_fail(im, "out of memory") : 0;
}
