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
    default: return one;
    }
}
