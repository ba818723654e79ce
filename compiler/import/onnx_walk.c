/* The walk over an ONNX graph: values and their uses, the network input, every unsupported node
 * reported at once, then the nodes in order (folded, or mapped to layers), the output, liveness and
 * the shapes the model itself declares (checked against the ones inferred here). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

static const struct {
    const char *name;
    int kind;
} op_table[] = {
    /* kind 0: layers (onnx_map_nn.c), 1: elementwise (onnx_map_ew.c), 2: shapes (onnx_map_shape.c),
     * 3: only on constants (folded) */
    { "Add", 1 },
    { "AveragePool", 0 },
    { "BatchNormalization", 0 },
    { "Cast", 2 },
    { "Clip", 1 },
    { "Concat", 2 },
    { "Constant", 3 },
    { "ConstantOfShape", 3 },
    { "Conv", 0 },
    { "Div", 1 },
    { "Dropout", 2 },
    { "Elu", 1 },
    { "Equal", 3 },
    { "Erf", 1 }, /* only in GELU's pattern */
    { "Expand", 2 },
    { "Flatten", 2 },
    { "Gather", 2 },
    { "Gemm", 0 },
    { "GlobalAveragePool", 0 },
    { "HardSigmoid", 1 },
    { "HardSwish", 1 },
    { "Identity", 2 },
    { "LayerNormalization", 0 },
    { "LeakyRelu", 1 },
    { "MatMul", 0 },
    { "MaxPool", 0 },
    { "Mul", 1 },
    { "Pad", 0 },
    { "Pow", 1 }, /* only in a LayerNorm's pattern */
    { "ReduceMean", 0 },
    { "Relu", 1 },
    { "Reshape", 2 },
    { "Shape", 2 },
    { "Sigmoid", 1 },
    { "Slice", 2 },
    { "Softmax", 1 },
    { "Split", 2 },
    { "Sqrt", 1 }, /* only in a LayerNorm's pattern */
    { "Squeeze", 2 },
    { "Sub", 1 },
    { "Tanh", 1 },
    { "Transpose", 2 },
    { "Unsqueeze", 2 },
    { "Where", 3 },
};
#define N_OPS (int)(sizeof op_table / sizeof op_table[0])

static int op_kind(const char *op)
{
    for (int i = 0; i < N_OPS; i++)
        if (!strcmp(op_table[i].name, op)) return op_table[i].kind;
    return -1;
}

int is_supported_op(const char *op) { return op_kind(op) >= 0; }

/* "Add, AveragePool, ..." into buf */
static void supported_ops(char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < N_OPS && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? ", " : "", op_table[i].name);
}

static int node_domain_ok(const Onnx__NodeProto *n)
{
    return !n->domain || !n->domain[0] || !strcmp(n->domain, "ai.onnx");
}

/* Every node with an op xaic does not know, in one message. */
static int check_supported(imp *im)
{
    const Onnx__GraphProto *g = im->graph;
    int bad = 0;
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if (!n->op_type || !node_domain_ok(n) || !is_supported_op(n->op_type)) bad++;
    }
    if (!bad) return 0;
    size_t cap = im->errlen, at = 0;
    char *e = im->err;
    char ops[600];
    supported_ops(ops, sizeof ops);
    size_t reserve = strlen(ops) + 120; /* room for the last lines */
    int shown = 0;
    for (size_t i = 0; i < g->n_node && e; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if (n->op_type && node_domain_ok(n) && is_supported_op(n->op_type)) continue;
        char line[700], who[300];
        if (n->name && n->name[0])
            snprintf(who, sizeof who, "'%.250s'", n->name);
        else
            snprintf(who, sizeof who, "#%zu", i);
        int plain = node_domain_ok(n);
        snprintf(line, sizeof line, "%s: node %s (op %s%s%.100s) is not supported\n", im->label, who,
                 plain ? "" : n->domain, plain ? "" : ".", n->op_type ? n->op_type : "(none)");
        if (at + strlen(line) + reserve >= cap) break;
        at += (size_t)snprintf(e + at, cap - at, "%s", line);
        shown++;
    }
    if (e && cap) {
        if (shown < bad && at < cap)
            at += (size_t)snprintf(e + at, cap - at, "... and %d more unsupported nodes\n", bad - shown);
        if (at < cap) snprintf(e + at, cap - at, "supported: %s", ops);
    }
    im->failed = 1;
    return -1;
}

static int add_value(imp *im, const char *name, value_kind kind, int producer)
{
    if (str_map_get(&im->names, name) >= 0) return imp_fail(im, "%s: value '%.200s' is defined twice", im->label, name);
    if (im->n_values >= MAX_VALUES) return imp_fail(im, "%s: more than %d values", im->label, MAX_VALUES);
    if (im->n_values == im->cap_values) {
        int cap = im->cap_values ? im->cap_values * 2 : 256;
        value *v = realloc(im->values, (size_t)cap * sizeof *v);
        if (!v) return imp_fail(im, "out of memory");
        im->values = v;
        im->cap_values = cap;
    }
    value *v = &im->values[im->n_values];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->kind = kind;
    v->producer = producer;
    v->layer = -1;
    if (str_map_put(&im->names, name, im->n_values)) return imp_fail(im, "out of memory");
    return im->n_values++;
}

/* The one real input (a graph input that is not an initializer) as layer 0, with its per-sample shape. */
static int setup_input(imp *im, const Onnx__ValueInfoProto *vi)
{
    const Onnx__TypeProto *t = vi->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type)
        return imp_fail(im, "%s: input '%s' is not a tensor", im->label, vi->name);
    int32_t et = t->tensor_type->has_elem_type ? t->tensor_type->elem_type : 0;
    if (et != OT_FLOAT && et != OT_FLOAT16 && et != OT_DOUBLE)
        return imp_fail(im, "%s: input '%s' has element type %s; xaic imports networks of float inputs", im->label,
                        vi->name, onnx_type_name(et));
    const Onnx__TensorShapeProto *s = t->tensor_type->shape;
    const xai_import_options *o = im->opt;
    int rank = s ? (int)s->n_dim : -1, dynamic = 0;
    char dims[400] = "[";
    for (int k = 0; s && k < rank && k < 16; k++) {
        const Onnx__TensorShapeProto__Dimension *d = s->dim[k];
        size_t at = strlen(dims);
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value > 0)
            snprintf(dims + at, sizeof dims - at, "%s%lld", k ? ", " : "", (long long)d->dim_value);
        else {
            const char *p =
                d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param && d->dim_param[0]
                ? d->dim_param
                : "?";
            snprintf(dims + at, sizeof dims - at, "%s%.40s", k ? ", " : "", p);
            if (k) dynamic = 1;
        }
    }
    strncat(dims, rank > 16 ? ", ...]" : "]", sizeof dims - strlen(dims) - 1);
    if (rank == 0 || rank == 1 || rank > XAI_IMPORT_MAX_RANK + 1)
        return imp_fail(im, "%s: input '%s' has rank %d %s; xaic imports inputs of a batch axis and 1 to %d more",
                        im->label, vi->name, rank, dims, XAI_IMPORT_MAX_RANK);
    int l = new_layer(im, L_INPUT, -1, 0, NULL);
    if (l < 0) return -1;
    layer *in = &im->layers[l];
    const Onnx__TensorShapeProto__Dimension *b0 = rank > 0 ? s->dim[0] : NULL;
    im->static_batch = b0 && b0->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && b0->dim_value > 0
        ? b0->dim_value
        : -1;
    if (o->input_rank > 0) {
        if (rank > 0 && o->input_rank != rank - 1)
            return imp_fail(im, "%s: input '%s' has %d dimensions after the batch %s, --input-shape gives %d",
                            im->label, vi->name, rank - 1, dims, o->input_rank);
        in->rank = o->input_rank;
        for (int k = 0; k < in->rank; k++) {
            in->shape[k] = o->input_shape[k];
            if (in->shape[k] < 1 || in->shape[k] > INT32_MAX)
                return imp_fail(im, "%s: --input-shape dimensions must be in [1, 2^31)", im->label);
            const Onnx__TensorShapeProto__Dimension *d = rank > 0 ? s->dim[k + 1] : NULL;
            if (d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value > 0 &&
                d->dim_value != in->shape[k])
                return imp_fail(im, "%s: input '%s' has the static shape %s, which --input-shape contradicts",
                                im->label, vi->name, dims);
        }
        return 0;
    }
    if (rank < 0 || dynamic)
        return imp_fail(im,
                        "%s: input '%s' has dynamic dimensions %s: give them with --input-shape (e.g. "
                        "--input-shape 3,224,224); only the batch may stay dynamic",
                        im->label, vi->name, rank < 0 ? "(no shape)" : dims);
    in->rank = rank - 1;
    int64_t n = 1;
    for (int k = 0; k < in->rank; k++) {
        in->shape[k] = s->dim[k + 1]->dim_value;
        if (in->shape[k] > INT32_MAX || (n *= in->shape[k]) > MAX_SAMPLE_ELEMS)
            return imp_fail(im, "%s: input '%s' of shape %s is too large", im->label, vi->name, dims);
    }
    return 0;
}

static int build_values(imp *im)
{
    const Onnx__GraphProto *g = im->graph;
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        if (!t->name || !t->name[0]) return imp_fail(im, "%s: initializer #%zu has no name", im->label, i);
        int v = add_value(im, t->name, V_INIT, -1);
        if (v < 0) return -1;
        im->values[v].init = t;
    }
    const Onnx__ValueInfoProto *input = NULL;
    int n_inputs = 0;
    char names[300] = "";
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *vi = g->input[i];
        if (!vi->name || !vi->name[0]) return imp_fail(im, "%s: graph input #%zu has no name", im->label, i);
        if (str_map_get(&im->names, vi->name) >= 0) continue; /* an initializer listed as input (IR < 4) */
        size_t at = strlen(names);
        snprintf(names + at, sizeof names - at, "%s'%.60s'", n_inputs ? ", " : "", vi->name);
        if (!input) input = vi;
        n_inputs++;
    }
    if (n_inputs != 1)
        return imp_fail(im, "%s: the graph has %d inputs%s%s; xaic imports networks of exactly one input", im->label,
                        n_inputs, n_inputs ? " " : "", names);
    if (g->n_output != 1)
        return imp_fail(im, "%s: the graph has %zu outputs; xaic imports networks of exactly one output", im->label,
                        g->n_output);
    int v = add_value(im, input->name, V_LAYER, -1);
    if (v < 0 || setup_input(im, input)) return -1;
    im->input_value = v;
    im->values[v].layer = 0;
    for (size_t n = 0; n < g->n_node; n++) {
        const Onnx__NodeProto *node = g->node[n];
        for (size_t k = 0; k < node->n_input; k++) {
            const char *in = node->input[k];
            if (!in || !in[0]) continue;
            int iv = str_map_get(&im->names, in);
            if (iv < 0)
                return node_fail(im, (int)n,
                                 "input '%.200s' is not defined by an earlier node, an initializer or "
                                 "the graph input (the graph is not in topological order, or the value is missing)",
                                 in);
            im->values[iv].uses++;
        }
        for (size_t k = 0; k < node->n_output; k++)
            if (node->output[k] && node->output[k][0] && add_value(im, node->output[k], V_NONE, (int)n) < 0) return -1;
    }
    const char *out = g->output[0]->name;
    if (!out || (im->output_value = str_map_get(&im->names, out)) < 0)
        return imp_fail(im, "%s: the graph output '%.200s' is not computed by any node", im->label, out ? out : "");
    im->values[im->output_value].uses++;
    return 0;
}

static int walk_nodes(imp *im)
{
    const Onnx__GraphProto *g = im->graph;
    for (int n = 0; n < (int)g->n_node; n++) {
        const Onnx__NodeProto *node = g->node[n];
        const char *op = node->op_type;
        if (im->fates[n].claimed) continue; /* mapped with the pattern it belongs to */
        int all_const = 1;
        for (int k = 0; k < (int)node->n_input; k++) {
            value *v = node_in(im, n, k);
            if (v && v->kind != V_INIT && v->kind != V_CONST) all_const = 0;
        }
        int kind = op_kind(op), rc;
        if (check_batch_places(im, n)) return -1;
        if (all_const && (kind == 3 || is_foldable_op(op)))
            rc = fold_node(im, n);
        else if (kind == 3)
            rc = node_fail(im, n, "%s on network tensors is not supported (only on shapes and constants)", op);
        else if (!strcmp(op, "ReduceMean") && (rc = match_layernorm(im, n)) != 0)
            rc = rc < 0 ? -1 : 0; /* a LayerNorm exported before opset 17 */
        else if (kind == 0)
            rc = map_nn(im, n, op);
        else if (kind == 1)
            rc = map_ew(im, n, op);
        else
            rc = map_shape(im, n, op);
        if (rc < 0 || im->failed) return -1;
        for (int k = 0; k < (int)node->n_output; k++) {
            value *v = node_out_value(im, n, k);
            if (v && (v->kind == V_LAYER || v->kind == V_PADDED)) v->place = im->out_place;
            if (v && v->uses && v->kind == V_NONE && !im->fates[n].claimed)
                return node_fail(im, n, "its output %d ('%s') is used, but xaic does not compute it for %s", k, v->name,
                                 op);
        }
    }
    return 0;
}

static void mark_live(imp *im, int l)
{
    /* iterative: layers only refer to earlier layers, so one backward sweep suffices */
    im->layers[l].live = 1;
    for (int i = l; i >= 0; i--) {
        if (!im->layers[i].live) continue;
        for (int k = 0; k < im->layers[i].n_in; k++) im->layers[im->layers[i].in[k]].live = 1;
    }
}

/* A value the model declares (value_info or the output) with static non-batch dims must have the shape
 * inferred here; a difference means the model and xaic disagree about an op. */
static int check_declared(imp *im, const Onnx__ValueInfoProto *vi)
{
    int id = vi->name ? str_map_get(&im->names, vi->name) : -1;
    if (id < 0 || im->values[id].kind != V_LAYER || im->values[id].producer < 0) return 0;
    const Onnx__TypeProto *t = vi->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type || !t->tensor_type->shape)
        return 0;
    const Onnx__TensorShapeProto *s = t->tensor_type->shape;
    const value *v = &im->values[id];
    if (!place_is_first(v->place)) { /* the dims off the batch's axis */
        layer tmp = { .rank = v->rank };
        int64_t dims[XAI_IMPORT_MAX_RANK + 1];
        uint8_t sym[XAI_IMPORT_MAX_RANK + 1];
        memcpy(tmp.shape, v->shape, sizeof tmp.shape);
        int r = onnx_dims(im, &tmp, v->place, dims, sym);
        for (int k = 0; k < r && (int)s->n_dim == r; k++) {
            const Onnx__TensorShapeProto__Dimension *d = s->dim[k];
            if (!sym[k] && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                d->dim_value != dims[k])
                return node_fail(im, v->producer, "xaic computes %lld for axis %d of '%s' but the model declares %lld",
                                 (long long)dims[k], k, v->name, (long long)d->dim_value);
        }
        return 0;
    }
    if ((int)s->n_dim != v->rank + 1) return 0;
    int64_t declared[XAI_IMPORT_MAX_RANK];
    for (int k = 0; k < v->rank; k++) {
        const Onnx__TensorShapeProto__Dimension *d = s->dim[k + 1];
        if (d->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) return 0;
        declared[k] = d->dim_value;
    }
    if (!memcmp(declared, v->shape, (size_t)v->rank * sizeof *declared)) return 0;
    char a[120], b[120];
    format_dims(a, sizeof a, v->shape, v->rank);
    format_dims(b, sizeof b, declared, v->rank);
    return node_fail(im, v->producer, "xaic computes the per-sample shape %s for '%s' but the model declares %s", a,
                     v->name, b);
}

int walk_graph(imp *im)
{
    const Onnx__GraphProto *g = im->graph;
    if (!(im->fates = calloc(g->n_node ? g->n_node : 1, sizeof *im->fates))) return imp_fail(im, "out of memory");
    if (check_supported(im) || build_values(im) || walk_nodes(im)) return -1;
    value *out = &im->values[im->output_value];
    if (out->kind == V_LAYER && check_output_place(im, out)) return -1;
    if (out->kind != V_LAYER || out->layer == 0)
        return imp_fail(im, "%s: the graph output '%s' is %s; xaic needs a layer computed from the input", im->label,
                        out->name, out->kind == V_LAYER ? "the input itself" : "a constant");
    im->output_layer = out->layer;
    mark_live(im, out->layer);
    for (int l = 1; l < im->n_layers; l++) {
        const layer *L = &im->layers[l];
        if (L->live && L->op == L_ERF)
            return node_fail(im, L->node,
                             "Erf is imported only as part of GELU, 0.5 x (1 + erf(x / sqrt 2)) (torch.onnx's "
                             "export of nn.GELU)");
        if (L->live && L->op == L_GELU2)
            return node_fail(im, L->node,
                             "this is GELU's pattern x (1 + erf(x / sqrt 2)) (or its tanh form) but without the "
                             "product by 0.5 that completes it");
    }
    /* the nodes of a dense layer that lives on only in its parts (dense_part) belong to its first live part */
    for (int n = 0; n < (int)g->n_node; n++) {
        node_fate *f = &im->fates[n];
        if (f->kind == F_NONE || f->kind == F_FOLDED || f->layer <= 0 || im->layers[f->layer].live) continue;
        for (int l = f->layer + 1; l < im->n_layers; l++)
            if (im->layers[l].live && im->layers[l].split_from == f->layer) {
                f->kind = F_MERGED;
                f->layer = l;
                break;
            }
    }
    for (size_t i = 0; i < g->n_value_info; i++)
        if (check_declared(im, g->value_info[i])) return -1;
    return check_declared(im, g->output[0]);
}
