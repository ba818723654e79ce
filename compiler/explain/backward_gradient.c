/* Each op's true chain rule (the GRADIENT column of ops.def): the gradient at the op's output, c->R[i],
 * taken back to its inputs. Rules and methods use it through `gradient`. */
#include <string.h>

#include "backward.h"

/* dense, conv2d: W^T applied to R */
void backward_gradient_linear(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    rules_give(c, n->inputs[0], rules_lin_t(c, i, c->R[i], rules_plain_set(n->weight)));
}

/* avgpool, global_avgpool: R spread over each window with the pool's weights */
void backward_gradient_avgpool(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    int in = n->inputs[0];
    ir_const *scale = rules_pool_scale(c, n, &c->net->nodes[in].shape, NULL);
    rules_give(c, in, rules_lin_t(c, i, c->R[i], rules_plain_set(scale)));
}

/* maxpool: each window's R to its (first) maximum */
void backward_gradient_maxpool(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    int in = n->inputs[0];
    const ir_shape *in_shape = &c->net->nodes[in].shape;
    ir_node node = *n;
    node.name = node.alias = NULL;
    node.op = OP_MAXPOOL_T;
    node.shape = *in_shape;
    node.in_shape = *in_shape;
    node.n_inputs = 2;
    node.inputs[0] = c->R[i];
    node.inputs[1] = rules_fwd(c, in);
    node.mult = 0;
    rules_give(c, in, rules_node(c, &node));
}

/* r * step(x) */
void backward_gradient_relu(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    int in = n->inputs[0];
    int inputs[2] = { c->R[i], rules_fwd(c, in) };
    rules_give(c, in,
               rules_eltwise(c, &c->net->nodes[in].shape, inputs, 2,
                             rules_ew(c, EW_MUL, rules_ew_in(c, 0), rules_ew(c, EW_STEP, rules_ew_in(c, 1), NULL))));
}

/* r * y * (1 - y) */
void backward_gradient_sigmoid(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    int in = n->inputs[0];
    int inputs[2] = { c->R[i], rules_fwd(c, i) };
    ir_ew *y = rules_ew_in(c, 1);
    rules_give(
        c, in,
        rules_eltwise(c, &c->net->nodes[in].shape, inputs, 2,
                      rules_ew(c, EW_MUL, rules_ew_in(c, 0),
                               rules_ew(c, EW_MUL, y, rules_ew(c, EW_SUB, rules_ew_num(c, 1), rules_ew_in(c, 1))))));
}

/* r * scale[channel] */
void backward_gradient_affine(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    int in = n->inputs[0], R = c->R[i];
    ir_ew *scale = rules_ew(c, EW_CHANNEL, NULL, NULL);
    scale->channel = n->weight;
    rules_give(c, in, rules_eltwise(c, &c->net->nodes[in].shape, &R, 1, rules_ew(c, EW_MUL, rules_ew_in(c, 0), scale)));
}

/* softmax: y * (r - sum(r * y)) with the sum over each line along its axis (over the sample: axis -1) */
void backward_gradient_softmax(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    const ir_shape *shape = &n->shape;
    int ry[2] = { c->R[i], rules_fwd(c, i) };
    int t = rules_eltwise(c, shape, ry, 2, rules_ew(c, EW_MUL, rules_ew_in(c, 0), rules_ew_in(c, 1)));
    ir_node stat = { 0 };
    stat.op = OP_LAYER_STAT;
    stat.shape = stat.in_shape = *shape;
    stat.stat = STAT_SUM;
    stat.stat_along = n->axis >= 0 ? n->axis + 1 : 0;
    stat.n_inputs = 1;
    stat.inputs[0] = t;
    int tys[3] = { t, ry[1], rules_node(c, &stat) };
    rules_give(c, n->inputs[0],
               rules_eltwise(
                   c, shape, tys, 3,
                   rules_ew(c, EW_SUB, rules_ew_in(c, 0), rules_ew(c, EW_MUL, rules_ew_in(c, 1), rules_ew_in(c, 2)))));
}

/* a product of values a [.., M, K] and b [.., K, N] (transposed as the flags say) */
int rules_matmul(rules_ctx *c, int a, int b, int trans_a, int trans_b, const ir_shape *shape)
{
    ir_node node = { 0 };
    node.op = OP_MATMUL;
    node.shape = *shape;
    node.trans_a = trans_a;
    node.trans_b = trans_b;
    node.n_inputs = 2;
    node.inputs[0] = a;
    node.inputs[1] = b;
    return rules_node(c, &node);
}

/* matmul: d/da = r b^T, d/db = a^T r */
void backward_gradient_matmul(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    int a = n->inputs[0], b = n->inputs[1];
    rules_give(c, a, rules_matmul(c, c->R[i], rules_fwd(c, b), 0, 1, &c->net->nodes[a].shape));
    rules_give(c, b, rules_matmul(c, rules_fwd(c, a), c->R[i], 1, 0, &c->net->nodes[b].shape));
}

/* activations (OPF_ACTIVATION): r * f'(x, y) */
void backward_gradient_activation(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    int in = n->inputs[0];
    int inputs[3] = { c->R[i], rules_fwd(c, in), rules_fwd(c, i) };
    ir_ew *d = ir_activation_derivative(c->g, n, rules_ew_in(c, 1), rules_ew_in(c, 2));
    rules_give(c, in, rules_eltwise(c, &c->net->nodes[in].shape, inputs, 3, rules_ew(c, EW_MUL, rules_ew_in(c, 0), d)));
}

/* transpose: the inverse permutation */
void backward_gradient_transpose(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    ir_node node = { 0 };
    node.op = OP_TRANSPOSE;
    node.shape = c->net->nodes[n->inputs[0]].shape;
    for (int k = 0; k < n->shape.rank; k++) node.perm[n->perm[k]] = k;
    node.n_inputs = 1;
    node.inputs[0] = c->R[i];
    rules_give(c, n->inputs[0], rules_node(c, &node));
}

/* concat: each input gets its part of r */
void backward_gradient_concat(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    int at = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        ir_node node = { 0 };
        node.op = OP_SLICE;
        node.shape = c->net->nodes[n->inputs[k]].shape;
        node.axis = n->axis;
        node.start = at;
        node.step = 1;
        node.n_inputs = 1;
        node.inputs[0] = c->R[i];
        at += node.shape.dims[n->axis];
        rules_give(c, n->inputs[k], rules_node(c, &node));
    }
}

/* slice: r where the slice took its values, 0 elsewhere */
void backward_gradient_slice(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    ir_node node = { 0 };
    node.op = OP_SLICE_T;
    node.shape = c->net->nodes[n->inputs[0]].shape;
    node.axis = n->axis;
    node.start = n->start;
    node.step = n->step;
    node.n_inputs = 1;
    node.inputs[0] = c->R[i];
    rules_give(c, n->inputs[0], rules_node(c, &node));
}

/* a binary op of two values of shapes a and b broadcast to `shape` */
static int binary_node(rules_ctx *c, ir_op op, int a, int b, const ir_shape *shape)
{
    ir_node node = { 0 };
    node.op = op;
    node.shape = *shape;
    node.n_inputs = 2;
    node.inputs[0] = a;
    node.inputs[1] = b;
    return rules_node(c, &node);
}

static int same_shape(const ir_shape *a, const ir_shape *b)
{
    return a->rank == b->rank && !memcmp(a->dims, b->dims, sizeof(int) * a->rank);
}

/* v (the output's shape) summed over the axes input k was broadcast along */
static int to_operand(rules_ctx *c, int i, int k, int v)
{
    const ir_node *n = &c->net->nodes[i];
    const ir_shape *s = &c->net->nodes[n->inputs[k]].shape;
    if (same_shape(s, &n->shape)) return v;
    ir_node node = { 0 };
    node.op = OP_UNBROADCAST;
    node.shape = *s;
    node.n_inputs = 1;
    node.inputs[0] = v;
    return rules_node(c, &node);
}

/* add, sub, mul, div: d/da and d/db of each, summed over broadcast axes; with a number, of the one operand */
void backward_gradient_binary(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    int R = c->R[i], a = n->inputs[0];
    const ir_shape *shape = &n->shape;
    if (n->n_inputs == 1) { /* y = x op k or k op x */
        double k = n->arg[0];
        int first = n->number_side == 2, in[2] = { R, rules_fwd(c, a) };
        ir_ew *r = rules_ew_in(c, 0), *x = rules_ew_in(c, 1), *d;
        switch (n->op) {
        case OP_ADD: rules_give(c, a, R); return;
        case OP_SUB: d = first ? rules_ew(c, EW_NEG, r, NULL) : r; break;
        case OP_MUL: d = rules_ew(c, EW_MUL, r, rules_ew_num(c, k)); break;
        default: /* x / k, or k / x: -k / x^2 */
            d = first ? rules_ew(c, EW_DIV, rules_ew(c, EW_MUL, r, rules_ew_num(c, -k)), rules_ew(c, EW_MUL, x, x))
                      : rules_ew(c, EW_DIV, r, rules_ew_num(c, k));
            break;
        }
        if (d == r)
            rules_give(c, a, R);
        else
            rules_give(c, a, rules_eltwise(c, shape, in, 2, d));
        return;
    }
    int b = n->inputs[1];
    const ir_shape *sa = &c->net->nodes[a].shape, *sb = &c->net->nodes[b].shape;
    if (n->op == OP_ADD && same_shape(sa, sb)) { /* as it always was: the same relevance node to both */
        rules_give(c, a, R);
        rules_give(c, b, R);
        return;
    }
    int ra, rb;
    switch (n->op) {
    case OP_ADD: ra = R, rb = R; break;
    case OP_SUB: ra = R, rb = rules_eltwise(c, shape, &R, 1, rules_ew(c, EW_NEG, rules_ew_in(c, 0), NULL)); break;
    case OP_MUL:
        ra = binary_node(c, OP_MUL, R, rules_fwd(c, b), shape);
        rb = binary_node(c, OP_MUL, R, rules_fwd(c, a), shape);
        break;
    default: { /* d(a/b)/da = 1/b, d(a/b)/db = -y/b */
        ra = binary_node(c, OP_DIV, R, rules_fwd(c, b), shape);
        int ry[2] = { R, rules_fwd(c, i) };
        int t = rules_eltwise(c, shape, ry, 2,
                              rules_ew(c, EW_NEG, rules_ew(c, EW_MUL, rules_ew_in(c, 0), rules_ew_in(c, 1)), NULL));
        rb = binary_node(c, OP_DIV, t, rules_fwd(c, b), shape);
        break;
    }
    }
    rules_give(c, a, to_operand(c, i, 0, ra));
    rules_give(c, b, to_operand(c, i, 1, rb));
}

/* ---- layernorm: y = (x - mean) / s * w + b along its axis (the last), s = sqrt(var + eps), var biased ---- */

/* stat of node v (shaped like layernorm i's output) over each line along its axis, written back over the line */
static int line_stat(rules_ctx *c, const ir_node *n, int v, ir_stat stat)
{
    ir_node node = { 0 };
    node.op = OP_LAYER_STAT;
    node.shape = node.in_shape = n->shape;
    node.stat = stat;
    node.stat_along = n->axis + 1;
    node.n_inputs = 1;
    node.inputs[0] = v;
    return rules_node(c, &node);
}

/* k (a [D] tensor: the weight or the bias) at each element of layernorm i's output, or `otherwise` without it: an
 * elementwise node over the flattened values (whose channel is the element) reads k repeated for each line, viewed
 * back in the output's shape. expr: the node's expression, over its inputs and `*k_at`. */
static int with_tensor(rules_ctx *c, const ir_node *n, const ir_const *k, double otherwise, const int *inputs, int ni,
                       ir_ew *(*expr)(rules_ctx *c, ir_ew *k, const ir_node *n))
{
    int64_t count = ir_shape_count(&n->shape), d = n->shape.dims[n->axis];
    ir_ew *at = rules_ew_num(c, otherwise);
    if (k) {
        ir_const *rows = ir_graph_new_const(c->g, k->name, 1, &count);
        for (int64_t i = 0; i < count; i++) rows->data[i] = k->data[i % d];
        at = rules_ew(c, EW_CHANNEL, NULL, NULL);
        at->channel = rows;
    }
    ir_shape flat = { 1, { (int)count } };
    ir_node view = { 0 };
    view.op = OP_FLATTEN;
    view.shape = n->shape;
    view.n_inputs = 1;
    view.inputs[0] = rules_eltwise(c, &flat, inputs, ni, expr(c, at, n));
    return rules_node(c, &view);
}

/* 1 / sqrt(v + eps) over expression v */
static ir_ew *inv_std(rules_ctx *c, ir_ew *v, const ir_node *n)
{
    return rules_ew(c, EW_DIV, rules_ew_num(c, 1),
                    rules_ew(c, EW_SQRT, rules_ew(c, EW_ADD, v, rules_ew_num(c, n->eps)), NULL));
}

/* the centred input x - mean and the biased variance of each line (spread over it) of layernorm i's input */
static void layernorm_moments(rules_ctx *c, int i, int *centred, int *var)
{
    const ir_node *n = &c->net->nodes[i];
    int x[2] = { rules_fwd(c, n->inputs[0]), -1 };
    x[1] = line_stat(c, n, x[0], STAT_MEAN);
    *centred = rules_eltwise(c, &n->shape, x, 2, rules_ew(c, EW_SUB, rules_ew_in(c, 0), rules_ew_in(c, 1)));
    int sq = rules_eltwise(c, &n->shape, centred, 1, rules_ew(c, EW_MUL, rules_ew_in(c, 0), rules_ew_in(c, 0)));
    *var = line_stat(c, n, sq, STAT_MEAN);
}

static ir_ew *times_in0(rules_ctx *c, ir_ew *k, const ir_node *n)
{
    (void)n;
    return rules_ew(c, EW_MUL, rules_ew_in(c, 0), k);
}

static ir_ew *slope_expr(rules_ctx *c, ir_ew *k, const ir_node *n)
{
    return rules_ew(c, EW_MUL, k, inv_std(c, rules_ew_in(c, 0), n));
}

static ir_ew *just_k(rules_ctx *c, ir_ew *k, const ir_node *n)
{
    (void)n;
    return k;
}

int rules_layernorm_slope(rules_ctx *c, int i)
{
    int centred, var;
    layernorm_moments(c, i, &centred, &var);
    return with_tensor(c, &c->net->nodes[i], c->net->nodes[i].weight, 1, &var, 1, slope_expr);
}

int rules_layernorm_bias(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    int r = c->R[i];
    return with_tensor(c, n, n->bias, 0, &r, 1, just_k);
}

void backward_rule_vars_layernorm(rules_ctx *c, int i, const int *used, ew_frame *f)
{
    if (used[V_W]) rules_frame_var(f, V_W, rules_layernorm_slope(c, i));
    if (used[V_B]) rules_frame_var(f, V_B, rules_layernorm_bias(c, i));
}

/* PyTorch's layer_norm backward: with g = r * w, xh = (x - mean) / s,
 * dx = (g - mean(g) - xh * mean(g * xh)) / s, the means along the axis */
void backward_gradient_layernorm(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    int centred, var;
    layernorm_moments(c, i, &centred, &var);
    int r = c->R[i];
    int g = n->weight ? with_tensor(c, n, n->weight, 1, &r, 1, times_in0) : r;
    int gdv[3] = { g, centred, var };
    ir_ew *xh = rules_ew(c, EW_MUL, rules_ew_in(c, 1), inv_std(c, rules_ew_in(c, 2), n));
    int gx = rules_eltwise(c, &n->shape, gdv, 3, rules_ew(c, EW_MUL, rules_ew_in(c, 0), xh));
    int all[5] = { g, centred, var, line_stat(c, n, g, STAT_MEAN), line_stat(c, n, gx, STAT_MEAN) };
    ir_ew *inv = inv_std(c, rules_ew_in(c, 2), n);
    ir_ew *xhat = rules_ew(c, EW_MUL, rules_ew_in(c, 1), inv);
    ir_ew *dx = rules_ew(c, EW_SUB, rules_ew(c, EW_SUB, rules_ew_in(c, 0), rules_ew_in(c, 3)),
                         rules_ew(c, EW_MUL, xhat, rules_ew_in(c, 4)));
    rules_give(c, n->inputs[0], rules_eltwise(c, &n->shape, all, 5, rules_ew(c, EW_MUL, dx, inv)));
}
