/* Epilogue fusion (see fuse.h). The LRP passes are chains of a linear kernel and an elementwise one:
 * z+ = W+ a then s = R / stab(z+); c = W^T s then R_in = a * c; and the forward's conv then relu. Fused,
 * the elementwise work happens while the kernel's results are still in registers: one pass over memory
 * and one kernel call fewer each, and no buffer for the intermediate.
 *
 * Kernel P is fused into elementwise node E when E reads P and nothing else does, P is not a value the
 * caller reads (the output, a layer's relevance), E's other operands exist before P runs (they are
 * computed earlier), P and E work on the same samples, and P's kernel has an epilogue: the blocked conv2d
 * and stride-1 conv2d transpose, dense, and the dense transpose (without per-channel constants). E is an
 * elementwise node, a ReLU or another activation (ReLU6 = clamp, SiLU, ...: OPF_ACTIVATION), or the add of
 * two layers of one shape (a residual connection: ResNet's conv3 + identity).
 * A one-operand E whose operand is itself fused (the ReLU after that add) is composed into the same kernel's
 * expression, under the same conditions on the fused node: relu(conv3 + identity) is one pass. */
#include <stdlib.h>
#include <string.h>

#include "fuse.h"

static int uses_channel(const ir_ew *e)
{
    return e && (e->kind == EW_CHANNEL || uses_channel(e->a) || uses_channel(e->b) || uses_channel(e->c));
}

static int has_epilogue(const ir_node *p, const ir_ew *expr)
{
    if (p->epilogue_from) return 0;
    switch (p->op) {
    case OP_CONV2D: return p->kh <= 32 && p->kw <= 64;
    case OP_CONV2D_T: return p->kh <= 32 && p->kw <= 64 && p->sh == 1 && p->sw == 1;
    case OP_DENSE: return p->shape.rank == 1 || !uses_channel(expr); /* tokens: EW_CHANNEL is the token */
    case OP_DENSE_T: return !uses_channel(expr);                     /* vector epilogue: the channel differs per lane */
    default: return 0;
    }
}

static int same_shape(const ir_shape *a, const ir_shape *b)
{
    return a->rank == b->rank && !memcmp(a->dims, b->dims, sizeof(int) * a->rank);
}

/* an add of two layers of its own shape (no broadcasting): elementwise, though sema gives it no expression */
static int same_shape_add(const ir_graph *g, const ir_node *E)
{
    return E->op == OP_ADD && E->n_inputs == 2 && same_shape(&g->nodes[E->inputs[0]].shape, &E->shape) &&
        same_shape(&g->nodes[E->inputs[1]].shape, &E->shape);
}

static int is_elementwise(const ir_graph *g, const ir_node *E)
{
    return E->op == OP_RELU || E->op == OP_ELTWISE || ir_op_is(E->op, OPF_ACTIVATION) || same_shape_add(g, E);
}

/* E's value as an expression of its inputs (E is_elementwise). The rules find a same-shape add by its op, so it
 * has none from sema; float addition commutes, so $0 + $1 is its kernel's sum bit for bit. */
static ir_ew *elementwise_expr(ir_graph *g, const ir_node *E)
{
    if (E->op == OP_RELU) return ir_ew_new(g, EW_POS, ir_ew_input(g, 0), NULL);
    if (same_shape_add(g, E)) return ir_ew_new(g, EW_ADD, ir_ew_input(g, 0), ir_ew_input(g, 1));
    return E->expr;
}

/* a copy of expression e with every $0 replaced by x (a one-operand step applied to a kernel's epilogue) */
static ir_ew *substitute(ir_graph *g, const ir_ew *e, ir_ew *x)
{
    if (!e) return NULL;
    if (e->kind == EW_INPUT) return x;
    ir_ew *copy = ir_ew_new(g, e->kind, NULL, NULL);
    *copy = *e;
    copy->a = substitute(g, e->a, x);
    copy->b = substitute(g, e->b, x);
    copy->c = substitute(g, e->c, x);
    return copy;
}

static void make_alias(ir_node *E, int kernel)
{
    E->fused = 1 + (int)E->op;
    E->op = OP_FUSED;
    E->expr = NULL;
    E->n_inputs = 1;
    E->inputs[0] = kernel;
}

void fuse_epilogues(ir_graph *g)
{
    int n = g->n_nodes;
    int *readers = calloc(n, sizeof *readers);
    char *kept = calloc(n, 1);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) readers[g->nodes[i].inputs[k]]++;
    kept[g->output] = 1;
    if (g->relevance_of)
        for (int l = 0; l < g->n_forward; l++)
            if (g->relevance_of[l] >= 0) kept[g->relevance_of[l]] = 1;
    for (int e = 0; e < n; e++) {
        ir_node *E = &g->nodes[e];
        if (!is_elementwise(g, E)) continue;
        /* the operand computed last: every other one must exist when it runs */
        int slot = -1;
        for (int k = 0; k < E->n_inputs; k++)
            if (slot < 0 || E->inputs[k] > E->inputs[slot]) slot = k;
        if (slot < 0) continue;
        int p = E->inputs[slot];
        ir_node *P = &g->nodes[p];
        if (P->op == OP_FUSED) { /* E on top of a kernel's epilogue: one operand, P's value, that only E reads */
            ir_node *K = &g->nodes[P->inputs[0]];
            if (E->n_inputs != 1 || readers[p] != 1 || kept[p] || P->mult != E->mult ||
                !same_shape(&E->shape, &K->shape))
                continue;
            K->expr = substitute(g, elementwise_expr(g, E), K->expr);
            make_alias(E, P->inputs[0]);
            continue;
        }
        int distinct = 1;
        for (int k = 0; k < E->n_inputs; k++) distinct &= k == slot || E->inputs[k] != p;
        if (!distinct || readers[p] != 1 || kept[p] || P->mult != E->mult || !has_epilogue(P, E->expr) ||
            P->n_inputs + E->n_inputs - 1 > IR_MAX_INPUTS)
            continue;
        /* an epilogue's channel is P's; E's is its own (a layernorm's weight over flattened values) */
        if (uses_channel(E->expr) && !same_shape(&E->shape, &P->shape)) continue;
        P->epilogue_from = P->n_inputs;
        P->epilogue_acc = slot;
        /* an activation's expr is f($0) (ir_activation), $0 being P's result as an epilogue's accumulator is */
        P->expr = elementwise_expr(g, E);
        for (int k = 0; k < E->n_inputs; k++)
            if (k != slot) P->inputs[P->n_inputs++] = E->inputs[k];
        make_alias(E, p);
    }
    free(readers);
    free(kept);
}
