/* Activations as elementwise expressions (PyTorch's definitions): the forward f(x) that becomes the op's
 * kernel, and the derivative f'(x) (over x and y = f(x)) that its gradient multiplies by. Adding an
 * activation is a row of ops.def plus its two cases here. */
#include "ir.h"

static ir_ew *num(ir_graph *g, double v) { return ir_ew_num(g, v); }
static ir_ew *op(ir_graph *g, ir_ew_kind k, ir_ew *a, ir_ew *b) { return ir_ew_new(g, k, a, b); }

/* cond != 0 ? a : b */
static ir_ew *pick(ir_graph *g, ir_ew *cond, ir_ew *a, ir_ew *b)
{
    ir_ew *s = op(g, EW_SELECT, cond, a);
    s->c = b;
    return s;
}

/* min(max(v, lo), hi) */
static ir_ew *clamp(ir_graph *g, ir_ew *v, double lo, double hi)
{
    ir_ew *low = pick(g, op(g, EW_LT, v, num(g, lo)), num(g, lo), v);
    return pick(g, op(g, EW_GT, low, num(g, hi)), num(g, hi), low);
}

/* GELU (PyTorch's F.gelu): erf(x / sqrt 2), or for approximate=tanh (node.arg[0] = 1)
 * tanh(sqrt(2 / pi) (x + 0.044715 x^3)) */
#define GELU_KAPPA 0.044715
#define GELU_BETA  0.79788456080286535588 /* sqrt(2 / pi) */
static ir_ew *gelu_core(ir_graph *g, const ir_node *n, ir_ew *x)
{
    if (n->arg[0] == 0) return op(g, EW_ERF, op(g, EW_MUL, x, num(g, 0.70710678118654752440)), NULL);
    ir_ew *cube = op(g, EW_MUL, op(g, EW_MUL, x, x), x);
    return op(g, EW_TANH, op(g, EW_MUL, num(g, GELU_BETA), op(g, EW_ADD, x, op(g, EW_MUL, num(g, GELU_KAPPA), cube))),
              NULL);
}

ir_ew *ir_activation(ir_graph *g, const ir_node *n, ir_ew *x)
{
    switch (n->op) {
    case OP_TANH: return op(g, EW_TANH, x, NULL);
    case OP_SILU: return op(g, EW_MUL, x, op(g, EW_SIGMOID, x, NULL));
    case OP_HARDSWISH: /* x * relu6(x + 3) / 6 */
        return op(g, EW_MUL, x, op(g, EW_DIV, clamp(g, op(g, EW_ADD, x, num(g, 3)), 0, 6), num(g, 6)));
    case OP_HARDSIGMOID: /* clamp(alpha x + beta, 0, 1) */
        return clamp(g, op(g, EW_ADD, op(g, EW_MUL, num(g, n->arg[0]), x), num(g, n->arg[1])), 0, 1);
    case OP_CLAMP: return clamp(g, x, n->arg[0], n->arg[1]);
    case OP_ELU: /* x > 0 ? x : alpha (exp(x) - 1) */
        return pick(g, op(g, EW_GT, x, num(g, 0)), x,
                    op(g, EW_MUL, num(g, n->arg[0]), op(g, EW_SUB, op(g, EW_EXP, x, NULL), num(g, 1))));
    case OP_LEAKY_RELU: return pick(g, op(g, EW_GT, x, num(g, 0)), x, op(g, EW_MUL, num(g, n->arg[0]), x));
    case OP_GELU: /* 0.5 x (1 + erf(x / sqrt 2)), or the tanh form 0.5 x (1 + tanh(...)) (gelu_core) */
        return op(g, EW_MUL, op(g, EW_MUL, x, num(g, 0.5)), op(g, EW_ADD, num(g, 1), gelu_core(g, n, x)));
    default: return x;
    }
}

ir_ew *ir_activation_derivative(ir_graph *g, const ir_node *n, ir_ew *x, ir_ew *y)
{
    ir_ew *zero = num(g, 0), *one = num(g, 1);
    switch (n->op) {
    case OP_TANH: return op(g, EW_SUB, one, op(g, EW_MUL, y, y)); /* 1 - y^2 */
    case OP_SILU: {                                               /* s (1 + x (1 - s)), s = sigmoid(x) */
        ir_ew *s = op(g, EW_SIGMOID, x, NULL);
        return op(g, EW_MUL, s, op(g, EW_ADD, one, op(g, EW_MUL, x, op(g, EW_SUB, one, s))));
    }
    case OP_HARDSWISH: /* PyTorch's hardswish_backward: 0 below -3, x / 3 + 1/2 on [-3, 3], 1 above */
        return pick(g, op(g, EW_LT, x, num(g, -3)), zero,
                    pick(g, op(g, EW_LE, x, num(g, 3)), op(g, EW_ADD, op(g, EW_DIV, x, num(g, 3)), num(g, 0.5)), one));
    case OP_HARDSIGMOID: { /* alpha inside (0, 1), 0 where clamped (PyTorch: -3 < x < 3 for the defaults) */
        ir_ew *t = op(g, EW_ADD, op(g, EW_MUL, num(g, n->arg[0]), x), num(g, n->arg[1]));
        ir_ew *inside = op(g, EW_MUL, op(g, EW_GT, t, zero), op(g, EW_LT, t, one));
        return op(g, EW_MUL, inside, num(g, n->arg[0]));
    }
    case OP_CLAMP: /* 1 where min <= x <= max, as PyTorch's clamp backward */
        return op(g, EW_MUL, op(g, EW_GE, x, num(g, n->arg[0])), op(g, EW_LE, x, num(g, n->arg[1])));
    case OP_ELU: return pick(g, op(g, EW_GT, x, zero), one, op(g, EW_ADD, y, num(g, n->arg[0]))); /* y + alpha */
    case OP_LEAKY_RELU: return pick(g, op(g, EW_GT, x, zero), one, num(g, n->arg[0]));
    case OP_GELU: {
        ir_ew *t = gelu_core(g, n, x);
        ir_ew *half_right = op(g, EW_MUL, num(g, 0.5), op(g, EW_ADD, one, t));
        if (n->arg[0] == 0) /* Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi) */
            return op(g, EW_ADD, half_right,
                      op(g, EW_MUL, x,
                         op(g, EW_MUL, op(g, EW_EXP, op(g, EW_MUL, num(g, -0.5), op(g, EW_MUL, x, x)), NULL),
                            num(g, 0.39894228040143267794))));
        /* PyTorch's gelu_backward (tanh): 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2 / pi) (1 + 3 kappa x^2) */
        ir_ew *dinner = op(g, EW_MUL, num(g, GELU_BETA),
                           op(g, EW_ADD, one, op(g, EW_MUL, num(g, 3 * GELU_KAPPA), op(g, EW_MUL, x, x))));
        return op(g, EW_ADD, half_right,
                  op(g, EW_MUL, op(g, EW_MUL, op(g, EW_MUL, num(g, 0.5), x), op(g, EW_SUB, one, op(g, EW_MUL, t, t))),
                     dinner));
    }
    default: return one;
    }
}
