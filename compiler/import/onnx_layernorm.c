/* LayerNorm as exports before opset 17 spell it (torch.onnx at opset 11 to 16: nn.LayerNorm decomposed):
 *   mean = ReduceMean(x, axes=[-1]); d = Sub(x, mean); var = ReduceMean(Pow(d, 2), axes=[-1]);
 *   y = Div(d, Sqrt(Add(var, eps))) [; Mul(y, weight) [; Add(., bias)]]
 * Found from its first node, every intermediate value used by the pattern only, it becomes one layernorm layer
 * (the later nodes claimed: walk_nodes skips them), so that rules see the normalisation as one op. */
#include <string.h>

#include "onnx_internal.h"

static int is_op(const imp *im, int node, const char *op)
{
    return node >= 0 && !strcmp(node_at(im, node)->op_type, op);
}

/* The nodes reading output 0 of `node` (up to max of them): their count, or -1 if it has more or other uses (the
 * graph output). */
static int consumers(const imp *im, int node, int *out, int max)
{
    const Onnx__NodeProto *nd = node_at(im, node);
    if (nd->n_output < 1 || !nd->output[0] || !nd->output[0][0]) return -1;
    const char *name = nd->output[0];
    int id = str_map_get(&im->names, name), n = 0;
    if (id < 0) return -1;
    int uses = im->values[id].uses;
    for (int j = node + 1; j < (int)im->graph->n_node && n <= max; j++) {
        const Onnx__NodeProto *c = im->graph->node[j];
        for (size_t k = 0; k < c->n_input; k++)
            if (c->input[k] && !strcmp(c->input[k], name)) {
                if (n < max) out[n] = j;
                n++;
                break;
            }
    }
    int counted = 0; /* a node reading the value twice counts twice in uses */
    for (int q = 0; q < n && q < max; q++) {
        const Onnx__NodeProto *c = im->graph->node[out[q]];
        for (size_t k = 0; k < c->n_input; k++) counted += c->input[k] && !strcmp(c->input[k], name);
    }
    return n > max || counted != uses ? -1 : n;
}

/* The sole consumer of node's output when it is an `op`; else -1 */
static int sole(const imp *im, int node, const char *op)
{
    int c;
    return consumers(im, node, &c, 1) == 1 && is_op(im, c, op) ? c : -1;
}

/* Input k of node is output 0 of node `src` */
static int reads(const imp *im, int node, int k, int src)
{
    const Onnx__NodeProto *n = node_at(im, node), *s = node_at(im, src);
    return k < (int)n->n_input && n->input[k] && s->n_output && !strcmp(n->input[k], s->output[0]);
}

/* Input k of node as a constant, folding a later Constant node that makes it (the exponent, epsilon) now */
static ctensor *ahead_const(imp *im, int node, int k)
{
    value *v = node_in(im, node, k);
    if (!v) return NULL;
    if (v->kind == V_NONE && v->producer >= 0 && is_op(im, v->producer, "Constant") &&
        !im->fates[v->producer].claimed) {
        if (fold_node(im, v->producer)) return NULL;
        im->fates[v->producer].claimed = 1;
    }
    return value_const(im, v);
}

/* The index of the scalar constant input (value in *v) of a binary node whose other input is output 0 of src
 * (Sub's and Div's constant second only); -1 if there is none. */
static int scalar_operand(imp *im, int node, int src, double *v)
{
    for (int k = 0; k < 2; k++)
        if (reads(im, node, k, src) && (int)node_at(im, node)->n_input == 2) {
            ctensor *c = ahead_const(im, node, 1 - k);
            return c && !ct_scalar(c, v) && (k == 0 || !is_op(im, node, "Sub")) ? 1 - k : -1;
        }
    return -1;
}

/* ReduceMean over the last axis only, keeping it: 1, else 0 */
static int mean_of_last(imp *im, int node, int rank)
{
    int64_t axes[CT_MAX_RANK], keep;
    int n = -1;
    if (node_has_input(im, node, 1)) {
        ctensor *c = value_const(im, node_in(im, node, 1));
        if (!c || c->is_float || c->count != 1 || ct_has_sym(c)) return 0;
        axes[0] = c->i[0];
        n = 1;
    } else if (attr_ints(im, node, "axes", axes, CT_MAX_RANK, &n)) {
        return 0;
    }
    if (attr_int(im, node, "keepdims", 1, &keep) || !keep || n != 1) return 0;
    return axes[0] == -1 || axes[0] == rank;
}

static ctensor *vector_operand(imp *im, int node, int src, int64_t d, int *k)
{
    for (int q = 0; q < 2; q++) {
        if (!reads(im, node, q, src)) continue;
        ctensor *c = ahead_const(im, node, 1 - q);
        if (!c || !c->is_float || c->rank != 1 || c->dims[0] != d) return NULL;
        *k = 1 - q;
        return c;
    }
    return NULL;
}

static int broken(imp *im, int node, const char *what)
{
    return node_fail(
        im, node,
        "it starts a LayerNorm as exports before opset 17 spell it (ReduceMean, Sub, Pow, ReduceMean, Add, "
        "Sqrt, Div over the last axis), but %s; xaic supports ReduceMean of tokens only there",
        what);
}

int match_layernorm(imp *im, int node)
{
    value *xv = node_in(im, node, 0);
    if (!xv || xv->kind != V_LAYER || !place_is_first(xv->place)) return 0;
    int x = xv->layer;
    const layer *X = &im->layers[x];
    if (!mean_of_last(im, node, X->rank)) return 0;
    int sub = sole(im, node, "Sub");
    if (sub < 0 || !reads(im, sub, 1, node) || node_in(im, sub, 0) != xv) return 0;
    int dc[2];
    if (consumers(im, sub, dc, 2) != 2) return broken(im, node, "x - mean must feed one Pow and one Div, only");
    int pow = is_op(im, dc[0], "Pow") ? dc[0] : dc[1], div = pow == dc[0] ? dc[1] : dc[0];
    double two, eps;
    if (!is_op(im, pow, "Pow") || !is_op(im, div, "Div") || !reads(im, pow, 0, sub) ||
        scalar_operand(im, pow, sub, &two) != 1 || two != 2)
        return broken(im, node, "x - mean must feed Pow(x - mean, 2) and a Div");
    int var = sole(im, pow, "ReduceMean");
    if (var < 0 || !mean_of_last(im, var, X->rank))
        return broken(im, node, "the square must feed only a ReduceMean over the last axis");
    int add = sole(im, var, "Add");
    if (add < 0 || scalar_operand(im, add, var, &eps) < 0 || !(eps > 0))
        return broken(im, node, "the variance must feed only an Add of a positive epsilon");
    int sqrt = sole(im, add, "Sqrt");
    if (sqrt < 0 || sole(im, sqrt, "Div") != div || !reads(im, div, 0, sub) || !reads(im, div, 1, sqrt))
        return broken(im, node, "the variance plus epsilon must feed only Sqrt, dividing x - mean");
    int64_t d = X->shape[X->rank - 1];
    int mul = sole(im, div, "Mul"), wk = -1, bk = -1, bias = -1;
    ctensor *w = mul >= 0 ? vector_operand(im, mul, div, d, &wk) : NULL;
    if (!w) mul = -1;
    if (mul >= 0 && (bias = sole(im, mul, "Add")) >= 0 && !vector_operand(im, bias, mul, d, &bk)) bias = -1;
    int last = bias >= 0 ? bias : mul >= 0 ? mul : div;
    int l = new_layer(im, L_LAYERNORM, last, 1, &x);
    if (l < 0) return -1;
    layer *L = &im->layers[l];
    L->eps = eps;
    int64_t dims[1] = { d };
    if (mul >= 0 && !(L->param[P_WEIGHT] = in_param(im, mul, wk, "scale", 1, dims))) return -1;
    if (bias >= 0 && !(L->param[P_BIAS] = in_param(im, bias, bk, "bias", 1, dims))) return -1;
    const int claimed[] = { node, sub, pow, var, add, sqrt, div, mul, bias };
    for (size_t k = 0; k < sizeof claimed / sizeof claimed[0]; k++) {
        if (claimed[k] < 0) continue;
        if (claimed[k] != last) set_fate(im, claimed[k], F_MERGED, l);
        im->fates[claimed[k]].claimed = 1;
    }
    return out_layer(im, last, 0, l) ? -1 : 1;
}
