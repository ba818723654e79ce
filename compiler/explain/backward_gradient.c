/* Each op's true chain rule (the GRADIENT column of ops.def): the gradient at the op's output, c->R[i],
 * taken back to its inputs. Rules and methods use it through `gradient`. */
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

void backward_gradient_add(rules_ctx *c, int i)
{
    const ir_node *n = &c->net->nodes[i];
    int R = c->R[i];
    rules_give(c, n->inputs[0], R);
    rules_give(c, n->inputs[1], R);
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
