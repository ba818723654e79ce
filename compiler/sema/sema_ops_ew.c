/* Sema of the elementwise ops (the SEMA column of ops.def): activations, whose kernel is an expression
 * (ir_activation), and the binary ops with numpy broadcasting or a number operand. */
#include <math.h>
#include <string.h>

#include "sema_ops.h"

/* relu, sigmoid: the input's shape */
int sema_same_shape(sema_layer_ctx *l)
{
    l->n->shape = l->in[0];
    return 1;
}

/* softmax(in, axis): over each line along `axis` (negative counts from the last, as PyTorch's dim); without
 * one, over all of a sample's values (node.axis -1) */
int sema_softmax(sema_layer_ctx *l)
{
    ir_node *n = l->n;
    const ast_expr *e = l->slots[0];
    int rank = l->in[0].rank;
    n->shape = l->in[0];
    n->axis = -1;
    if (!e) return 1;
    double v;
    if (!sema_number(l->d, e, "axis", &v)) return 0;
    if (v != floor(v) || v < -rank || v >= rank) {
        diag_error(l->d, e->loc,
                   "softmax axis %g: the input has %d axes per sample, so the axis is an integer from %d to %d", v,
                   rank, -rank, rank - 1);
        return 0;
    }
    n->axis = (int)(v < 0 ? v + rank : v);
    return 1;
}

/* gelu(in, approximate): none (the erf form, the default) or tanh, as PyTorch's F.gelu; written as an
 * identifier (approximate=tanh) or a string (approximate="tanh"). Sets node.arg[0] to 0 or 1. */
static int gelu_approximate(sema_layer_ctx *l)
{
    const ast_expr *e = l->slots[0];
    l->n->arg[0] = 0;
    if (!e) return 1;
    if ((e->kind == EX_IDENT || e->kind == EX_STRING) && (!strcmp(e->text, "none") || !strcmp(e->text, "tanh"))) {
        l->n->arg[0] = !strcmp(e->text, "tanh");
        return 1;
    }
    diag_error(l->d, e->loc, "gelu's approximate is none (the erf form, the default) or tanh, as PyTorch's");
    return 0;
}

/* tanh, silu, hardswish, hardsigmoid(alpha, beta), clamp(min, max), elu(alpha), leaky_relu(slope), gelu(approximate) */
int sema_activation(sema_layer_ctx *l)
{
    ir_node *n = l->n;
    if (n->op == OP_GELU) {
        if (!gelu_approximate(l)) return 0;
        n->shape = l->in[0];
        n->expr = ir_activation(l->g, n, ir_ew_input(l->g, 0));
        return 1;
    }
    static const struct {
        ir_op op;
        double defaults[2];
    } ops[] = {
        { OP_HARDSIGMOID, { 1.0 / 6, 0.5 } },
        { OP_CLAMP, { -INFINITY, INFINITY } },
        { OP_ELU, { 1, 0 } },
        { OP_LEAKY_RELU, { 0.01, 0 } },
    };
    double v[2] = { 0, 0 };
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
        if (ops[k].op == n->op) memcpy(v, ops[k].defaults, sizeof v);
    for (int k = 0; k < 2; k++)
        if (l->slots[k] && !sema_number(l->d, l->slots[k], "the argument", &v[k])) return 0;
    if (n->op == OP_CLAMP && !(v[0] <= v[1])) {
        diag_error(l->d, l->call->loc, "clamp '%s': min %g is above max %g", n->name, v[0], v[1]);
        return 0;
    }
    n->arg[0] = (float)v[0], n->arg[1] = (float)v[1];
    n->shape = l->in[0];
    n->expr = ir_activation(l->g, n, ir_ew_input(l->g, 0));
    return 1;
}

/* numpy broadcasting of two per-sample shapes (right-aligned; a dimension of 1 stretches) */
static int broadcast(const ir_shape *a, const ir_shape *b, ir_shape *out)
{
    out->rank = a->rank > b->rank ? a->rank : b->rank;
    for (int k = 0; k < out->rank; k++) {
        int ia = k - (out->rank - a->rank), ib = k - (out->rank - b->rank);
        int da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1) return 0;
        out->dims[k] = da > db ? da : db;
    }
    return 1;
}

static ir_ew_kind ew_of(ir_op op)
{
    return op == OP_ADD ? EW_ADD : op == OP_SUB ? EW_SUB : op == OP_MUL ? EW_MUL : EW_DIV;
}

/* matmul(a, b): a [.., M, K] times b [.., K, N] -> [.., M, N], the leading axes equal (no broadcasting) */
int sema_matmul(sema_layer_ctx *l)
{
    const ir_shape *a = &l->in[0], *b = &l->in[1];
    char sa[64], sb[64];
    int ok = a->rank >= 2 && a->rank == b->rank && a->dims[a->rank - 1] == b->dims[b->rank - 2];
    for (int k = 0; ok && k < a->rank - 2; k++) ok = a->dims[k] == b->dims[k];
    if (!ok) {
        diag_error(l->d, l->call->loc,
                   "matmul '%s': %s times %s; it multiplies [.., M, K] by [.., K, N] with the same leading axes "
                   "(per sample, at least 2 axes each)",
                   l->n->name, ir_shape_str(a, sa, sizeof sa), ir_shape_str(b, sb, sizeof sb));
        return 0;
    }
    l->n->shape = *a;
    l->n->shape.dims[a->rank - 1] = b->dims[b->rank - 1];
    return 1;
}

/* add / sub / mul / div of two layers (broadcast), or of a layer and a number; with a number or two operands
 * of one shape (but add's, kept on its own kernel) the kernel is the elementwise expression node.expr */
int sema_binary(sema_layer_ctx *l)
{
    ir_node *n = l->n;
    const ast_expr *call = l->call;
    ir_graph *g = l->g;
    if (n->n_inputs == 1) { /* one operand is a number: which one, and its value */
        int first = call->args[0].value->kind != EX_IDENT;
        double v;
        if (!sema_number(l->d, call->args[first ? 0 : 1].value, "the number operand", &v)) return 0;
        if (n->op == OP_DIV && !first && v == 0) {
            diag_error(l->d, call->args[1].value->loc, "division by zero");
            return 0;
        }
        n->number_side = first ? 2 : 1;
        n->arg[0] = (float)v;
        n->shape = l->in[0];
        ir_ew *x = ir_ew_input(g, 0), *k = ir_ew_num(g, n->arg[0]);
        n->expr = ir_ew_new(g, ew_of(n->op), first ? k : x, first ? x : k);
        return 1;
    }
    if (!broadcast(&l->in[0], &l->in[1], &n->shape)) {
        char sa[64], sb[64];
        diag_error(l->d, call->loc, "%s '%s': shapes %s ('%s') and %s ('%s') differ%s", ir_op_name(n->op), n->name,
                   ir_shape_str(&l->in[0], sa, sizeof sa), call->args[0].value->text,
                   ir_shape_str(&l->in[1], sb, sizeof sb), call->args[1].value->text,
                   " and do not broadcast (numpy's rule: right-aligned, equal or 1)");
        return 0;
    }
    int same = l->in[0].rank == l->in[1].rank && !memcmp(l->in[0].dims, l->in[1].dims, sizeof(int) * l->in[0].rank);
    if (same && n->op != OP_ADD) n->expr = ir_ew_new(g, ew_of(n->op), ir_ew_input(g, 0), ir_ew_input(g, 1));
    return 1;
}
