/* The graph walk: values and their uses, the network input, the nodes in order (folded, or mapped to
 * layers by onnx_map_*.c), then the output, liveness and the shapes the model declares. Also the
 * small helpers every handler uses: inputs, outputs, attributes (messages: onnx_messages.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

/* ---- inputs, outputs ---- */

int node_has_input(const imp *im, int node, int k)
{
    const Onnx__NodeProto *n = node_at(im, node);
    return k < (int)n->n_input && n->input[k] && n->input[k][0];
}

value *node_in(imp *im, int node, int k)
{
    if (!node_has_input(im, node, k)) return NULL;
    return &im->values[str_map_get(&im->names, node_at(im, node)->input[k])]; /* checked in build_values */
}

ctensor *value_const(imp *im, value *v)
{
    if (v->kind == V_INIT) {
        char what[300];
        snprintf(what, sizeof what, "%s: initializer '%.200s'", im->label, v->name);
        ctensor *c = decode_tensor(im, v->init, what);
        if (!c) return NULL;
        if (!(c->store_name = strdup(v->name))) {
            imp_fail(im, "out of memory");
            return NULL;
        }
        v->kind = V_CONST;
        v->c = c;
    }
    return v->kind == V_CONST ? v->c : NULL;
}

int in_layer(imp *im, int node, int k)
{
    value *v = node_in(im, node, k);
    if (!v) return node_fail(im, node, "input %d is missing", k);
    if (v->kind == V_LAYER) return v->layer;
    if (v->kind == V_PADDED)
        return node_fail(im, node, "input '%s' is a Pad, which xaic only folds into a Conv or AveragePool", v->name);
    return node_fail(im, node, "input '%s' is a constant; xaic needs it computed from the network input", v->name);
}

ctensor *in_const(imp *im, int node, int k)
{
    value *v = node_in(im, node, k);
    if (!v) {
        node_fail(im, node, "input %d is missing", k);
        return NULL;
    }
    ctensor *c = value_const(im, v);
    if (!c && !im->failed)
        node_fail(im, node,
                  "input '%s' must be a constant (an initializer or computable at import), "
                  "not a network tensor",
                  v->name);
    return c;
}

value *node_out_value(imp *im, int node, int k)
{
    const Onnx__NodeProto *n = node_at(im, node);
    if (k >= (int)n->n_output || !n->output[k] || !n->output[k][0]) return NULL;
    return &im->values[str_map_get(&im->names, n->output[k])];
}

int output_used(const imp *im, int node, int k)
{
    const Onnx__NodeProto *n = node_at(im, node);
    if (k >= (int)n->n_output || !n->output[k] || !n->output[k][0]) return 0;
    return im->values[str_map_get(&im->names, n->output[k])].uses > 0;
}

void set_fate(imp *im, int node, fate_kind kind, int layer)
{
    node_fate *f = &im->fates[node];
    f->kind = kind;
    f->layer = layer;
}

static void snapshot_shape(imp *im, int node, int layer)
{
    node_fate *f = &im->fates[node];
    f->rank = im->layers[layer].rank;
    memcpy(f->shape, im->layers[layer].shape, sizeof f->shape);
}

/* Every network tensor: dims in [1, 2^31), at most MAX_SAMPLE_ELEMS elements per sample. */
static int check_layer_shape(imp *im, int node, int l)
{
    const layer *L = &im->layers[l];
    int64_t n = 1;
    for (int d = 0; d < L->rank; d++) {
        if (L->shape[d] < 1 || L->shape[d] > INT32_MAX || (n *= L->shape[d]) > MAX_SAMPLE_ELEMS) {
            char s[160];
            format_dims(s, sizeof s, L->shape, L->rank);
            return node_fail(im, node, "its output would have the per-sample shape %s, which xaic cannot hold", s);
        }
    }
    return 0;
}

static void set_layer_value(imp *im, value *v, int layer)
{
    v->kind = V_LAYER;
    v->layer = layer;
    v->rank = im->layers[layer].rank;
    memcpy(v->shape, im->layers[layer].shape, sizeof v->shape);
}

int out_layer(imp *im, int node, int k, int layer)
{
    if (check_layer_shape(im, node, layer)) return -1;
    value *v = node_out_value(im, node, k);
    if (v) set_layer_value(im, v, layer);
    if (k == 0) {
        set_fate(im, node, F_LAYER, layer);
        snapshot_shape(im, node, layer);
    }
    return 0;
}

int out_alias(imp *im, int node, int k, int layer)
{
    value *v = node_out_value(im, node, k);
    if (v) set_layer_value(im, v, layer);
    if (k == 0) {
        set_fate(im, node, F_ALIAS, layer);
        snapshot_shape(im, node, layer);
    }
    return 0;
}

int out_const(imp *im, int node, int k, ctensor *c)
{
    value *v = node_out_value(im, node, k);
    if (v) {
        v->kind = V_CONST;
        v->c = c;
        if (!c->store_name && !(c->store_name = strdup(v->name))) return imp_fail(im, "out of memory");
    }
    if (k == 0) set_fate(im, node, F_FOLDED, -1);
    return 0;
}

int new_layer(imp *im, layer_op op, int node, int n_in, const int *in)
{
    if (im->n_layers == im->cap_layers) {
        int cap = im->cap_layers ? im->cap_layers * 2 : 64;
        layer *l = realloc(im->layers, (size_t)cap * sizeof *l);
        if (!l) return imp_fail(im, "out of memory");
        im->layers = l;
        im->cap_layers = cap;
    }
    layer *l = &im->layers[im->n_layers];
    memset(l, 0, sizeof *l);
    l->op = op;
    l->node = node;
    l->groups = 1;
    l->step = 1;
    if (n_in) {
        if (!(l->in = malloc((size_t)n_in * sizeof *l->in))) return imp_fail(im, "out of memory");
        memcpy(l->in, in, (size_t)n_in * sizeof *in);
    }
    l->n_in = n_in;
    if (n_in) { /* most ops keep their first input's shape; the handlers change what differs */
        l->rank = im->layers[in[0]].rank;
        memcpy(l->shape, im->layers[in[0]].shape, sizeof l->shape);
    }
    return im->n_layers++;
}

/* ---- attributes ---- */

const Onnx__AttributeProto *node_attr(const imp *im, int node, const char *name)
{
    const Onnx__NodeProto *n = node_at(im, node);
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i] && n->attribute[i]->name && !strcmp(n->attribute[i]->name, name)) return n->attribute[i];
    return NULL;
}

static int attr_is(const Onnx__AttributeProto *a, Onnx__AttributeProto__AttributeType t, int present)
{
    return a->has_type ? a->type == t : present;
}

int attr_int(imp *im, int node, const char *name, int64_t def, int64_t *out)
{
    const Onnx__AttributeProto *a = node_attr(im, node, name);
    if (!a) {
        *out = def;
        return 0;
    }
    if (!attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, a->has_i))
        return node_fail(im, node, "attribute '%s' must be an integer", name);
    *out = a->i;
    return 0;
}

int attr_float(imp *im, int node, const char *name, double def, double *out)
{
    const Onnx__AttributeProto *a = node_attr(im, node, name);
    if (!a) {
        *out = def;
        return 0;
    }
    if (!attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, a->has_f))
        return node_fail(im, node, "attribute '%s' must be a float", name);
    *out = a->f;
    return 0;
}

int attr_ints(imp *im, int node, const char *name, int64_t *out, int max, int *n)
{
    const Onnx__AttributeProto *a = node_attr(im, node, name);
    *n = -1;
    if (!a) return 0;
    if (!attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, 1))
        return node_fail(im, node, "attribute '%s' must be a list of integers", name);
    if (a->n_ints > (size_t)max)
        return node_fail(im, node, "attribute '%s' has %zu values, more than %d", name, a->n_ints, max);
    for (size_t i = 0; i < a->n_ints; i++) out[i] = a->ints[i];
    *n = (int)a->n_ints;
    return 0;
}

int attr_string(imp *im, int node, const char *name, const char *def, char *out, size_t outlen)
{
    const Onnx__AttributeProto *a = node_attr(im, node, name);
    if (!a) {
        snprintf(out, outlen, "%s", def);
        return 0;
    }
    if (!attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, a->has_s))
        return node_fail(im, node, "attribute '%s' must be a string", name);
    if (a->s.len >= outlen || (a->s.len && memchr(a->s.data, 0, a->s.len)))
        return node_fail(im, node, "attribute '%s' is not a known value", name);
    if (a->s.len) memcpy(out, a->s.data, a->s.len);
    out[a->s.len] = 0;
    return 0;
}
