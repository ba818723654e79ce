/* Graph IR: construction, queries and the --dump=graph text form. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

#define NONE 0
#define OP(ID, NAME, SELECTOR, ARITY, FLAGS, PARAMS, REQUIRED, LRP, DEEPLIFT, SEMA, KERNEL, GRADIENT, RULE, RULE_VARS) \
    [OP_##ID] = { NAME, SELECTOR, ARITY, FLAGS, PARAMS, REQUIRED, LRP, DEEPLIFT },
const ir_op_info ir_ops[OP_COUNT] = {
#include "ops.def"
};
#undef OP
#undef NONE

const char *ir_op_name(ir_op op) { return (op >= 0 && op < OP_COUNT) ? ir_ops[op].name : "?"; }

int ir_op_from_name(const char *name)
{
    for (int i = 0; i < OP_COUNT; i++)
        if (ir_op_is(i, OPF_LAYER) && strcmp(ir_ops[i].name, name) == 0) return i;
    return -1;
}

int ir_op_from_selector(const char *selector)
{
    for (int i = 0; i < OP_COUNT; i++)
        if (ir_op_is(i, OPF_RULE) && strcmp(ir_ops[i].selector, selector) == 0) return i;
    return -1;
}

int64_t ir_window_out(int64_t in, int64_t reach, int stride, int pad_lo, int pad_hi, int ceil_mode)
{
    int64_t span = in + pad_lo + pad_hi - reach;
    if (span < 0 || stride < 1) return -1;
    int64_t o = ceil_mode ? (span + stride - 1) / stride + 1 : span / stride + 1;
    if (ceil_mode && (o - 1) * stride >= in + pad_lo) o--;
    return o;
}

int64_t ir_shape_count(const ir_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) n *= s->dims[i];
    return n;
}

int64_t ir_explain_targets(const ir_graph *x)
{
    if (x->am.enabled) return ir_shape_count(&x->nodes[x->am.logits].shape);
    for (int i = 0; i < x->n_nodes; i++)
        if (x->nodes[i].op == OP_SEED) {
            int64_t block = x->nodes[i].seed_block > 1 ? x->nodes[i].seed_block : 1;
            return ir_shape_count(&x->nodes[i].shape) / block;
        }
    return 0;
}

const char *ir_explain_from_layer(const ir_graph *x)
{
    for (int i = 0; i < x->n_nodes; i++)
        if (x->nodes[i].op == OP_SEED && x->nodes[i].seed_block >= 1) return x->nodes[x->nodes[i].inputs[0]].name;
    return NULL;
}

const char *ir_shape_str(const ir_shape *s, char *buf, size_t len)
{
    size_t used = 0;
    used += snprintf(buf + used, len - used, "[");
    for (int i = 0; i < s->rank && used < len; i++)
        used += snprintf(buf + used, len - used, "%s%d", i ? ", " : "", s->dims[i]);
    if (used < len) snprintf(buf + used, len - used, "]");
    return buf;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fputs("xaic: out of memory\n", stderr);
        exit(2);
    }
    return q;
}

ir_graph *ir_graph_new(const char *name)
{
    ir_graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->name = strdup(name);
    g->input = g->output = -1;
    return g;
}

int ir_graph_add_node(ir_graph *g, const ir_node *n)
{
    if (g->n_nodes == g->cap_nodes) {
        g->cap_nodes = g->cap_nodes ? 2 * g->cap_nodes : 16;
        g->nodes = xrealloc(g->nodes, (size_t)g->cap_nodes * sizeof *g->nodes);
    }
    g->nodes[g->n_nodes] = *n;
    g->nodes[g->n_nodes].name = n->name ? strdup(n->name) : NULL;
    g->nodes[g->n_nodes].alias = n->alias ? strdup(n->alias) : NULL;
    return g->n_nodes++;
}

ir_const *ir_graph_new_const(ir_graph *g, const char *name, int rank, const int64_t *shape)
{
    ir_const *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->name = strdup(name);
    c->rank = rank;
    c->count = 1;
    for (int i = 0; i < rank; i++) {
        c->shape[i] = shape[i];
        c->count *= shape[i];
    }
    c->data = calloc((size_t)(c->count ? c->count : 1), sizeof(float));
    c->file_offset = -1;
    if (g->n_consts == g->cap_consts) {
        g->cap_consts = g->cap_consts ? 2 * g->cap_consts : 16;
        g->consts = xrealloc(g->consts, (size_t)g->cap_consts * sizeof *g->consts);
    }
    g->consts[g->n_consts++] = c;
    return c;
}

void ir_graph_free(ir_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) {
        free(g->nodes[i].name);
        free(g->nodes[i].alias);
    }
    for (int i = 0; i < g->n_consts; i++) {
        free(g->consts[i]->name);
        free(g->consts[i]->data);
        free(g->consts[i]->recipe);
        free(g->consts[i]);
    }
    free(g->consts);
    for (int i = 0; i < g->n_ews; i++) free(g->ews[i]);
    free(g->ews);
    free(g->explain_name);
    free(g->explain_note);
    free(g->relevance_of);
    free(g->nodes);
    free(g->name);
    free(g->output_name);
    free(g->weights_path);
    free(g);
}

void ir_module_free(ir_module *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_explanations; i++) ir_graph_free(m->explanations[i]);
    free(m->explanations);
    for (int i = 0; i < m->n_graphs; i++) ir_graph_free(m->graphs[i]);
    free(m->graphs);
    free(m);
}

int ir_consumers(const ir_graph *g, int i)
{
    int n = 0;
    for (int j = i + 1; j < g->n_nodes; j++)
        for (int k = 0; k < g->nodes[j].n_inputs; k++) n += g->nodes[j].inputs[k] == i;
    return n;
}

void ir_dump_graph(const ir_graph *g, FILE *out)
{
    char sb[64];
    fprintf(out, "graph %s {\n", g->name);
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        fprintf(out, "  %%%d = %s(", i, ir_op_name(n->op));
        for (int k = 0; k < n->n_inputs; k++) fprintf(out, "%s%%%d", k ? ", " : "", n->inputs[k]);
        fprintf(out, ") %s", ir_shape_str(&n->shape, sb, sizeof sb));
        if (n->mult > 1) fprintf(out, " x%d", n->mult);
        switch (n->op) {
        case OP_DENSE: fprintf(out, " units=%d", n->units); break;
        case OP_CONV2D:
            fprintf(out, " filters=%d k=%dx%d s=%dx%d pad=%d,%d,%d,%d", n->units, n->kh, n->kw, n->sh, n->sw, n->pad_t,
                    n->pad_l, n->pad_b, n->pad_r);
            if (n->groups > 1) fprintf(out, " groups=%d", n->groups);
            if (n->dh > 1 || n->dw > 1) fprintf(out, " dilation=%dx%d", n->dh, n->dw);
            break;
        case OP_TRANSPOSE:
            fprintf(out, " perm=");
            for (int k = 0; k < n->shape.rank; k++) fprintf(out, "%s%d", k ? "," : "", n->perm[k]);
            break;
        case OP_CONCAT: fprintf(out, " axis=%d", n->axis); break;
        case OP_SLICE:
        case OP_SLICE_T: fprintf(out, " axis=%d start=%d step=%d", n->axis, n->start, n->step); break;
        case OP_MAXPOOL:
        case OP_AVGPOOL:
            fprintf(out, " k=%dx%d s=%dx%d pad=%d,%d,%d,%d%s%s%s", n->kh, n->kw, n->sh, n->sw, n->pad_t, n->pad_l,
                    n->pad_b, n->pad_r, n->pad_same ? " same" : "", n->ceil_mode ? " ceil_mode" : "",
                    n->exclude_pad ? " exclude_pad" : "");
            break;
        case OP_BATCHNORM: fprintf(out, " eps=%g", n->eps); break;
        case OP_LAYERNORM:
            fprintf(out, " axis=%d eps=%g%s%s", n->axis, n->eps, n->weight ? "" : " no weight", n->bias ? " bias" : "");
            break;
        case OP_SUMPOOL:
        case OP_SUMPOOL_T:
        case OP_MAXPOOL_T:
            if (n->global)
                fprintf(out, " global");
            else
                fprintf(out, " k=%dx%d s=%dx%d pad=%d,%d,%d,%d", n->kh, n->kw, n->sh, n->sw, n->pad_t, n->pad_l,
                        n->pad_b, n->pad_r);
            break;
        case OP_CONV2D_T:
            fprintf(out, " k=%dx%d s=%dx%d pad=%d,%d,%d,%d", n->kh, n->kw, n->sh, n->sw, n->pad_t, n->pad_l, n->pad_b,
                    n->pad_r);
            break;
        case OP_SOFTMAX:
            if (n->axis >= 0) fprintf(out, " axis=%d", n->axis);
            break;
        case OP_SEED: {
            static const char *const seeds[] = { "logit",
                                                 "one",
                                                 "softmax",
                                                 "relu_logit",
                                                 "sum",
                                                 "softmax_gradient",
                                                 "log_softmax_gradient",
                                                 "relu_gradient",
                                                 "sum_gradient" };
            fprintf(out, " %s", seeds[n->seed]);
            if (n->argmax_from > 0) fprintf(out, " arg-max of input %d", n->argmax_from);
            if (n->seed_block > 1) fprintf(out, " per channel (%lld values each)", (long long)n->seed_block);
            break;
        }
        case OP_EXPAND:
            if (n->expand == EXPAND_PATH)
                fprintf(out, " path");
            else
                fprintf(out, " noise sigma=%g seed=%llu", n->sigma, (unsigned long long)n->rng_seed);
            break;
        case OP_LAYER_STAT: {
            static const char *const stats[] = { "sum", "mean", "std", "max", "min", "quantile" };
            fprintf(out, " %s", stats[n->stat]);
            if (n->stat == STAT_QUANTILE) fprintf(out, " %g", n->stat_q);
            if (n->stat_along)
                fprintf(out, " along axis %d", n->stat_along - 1);
            else
                fprintf(out, " per %s", n->stat_per_channel ? "channel" : "sample");
            break;
        }
        case OP_REDUCE: {
            static const char *const kinds[] = { "path", "mean", "mean_sq", "var" };
            fprintf(out, " %s", kinds[n->reduce]);
            break;
        }
        case OP_REFERENCE: fprintf(out, " %g unless given", n->ref_value); break;
        case OP_UPSAMPLE: fprintf(out, " bilinear%s", n->global ? " align_corners" : ""); break;
        case OP_ELTWISE:
            fprintf(out, " ");
            ir_ew_dump(n->expr, out);
            break;
        case OP_FUSED: fprintf(out, " %s in %%%d's kernel", ir_op_name((ir_op)(n->fused - 1)), n->inputs[0]); break;
        case OP_INPUT:
            if (g->has_range) fprintf(out, " range=[%g, %g]", g->range_low, g->range_high);
            break;
        default: break;
        }
        if (n->expr && n->op != OP_ELTWISE && !n->epilogue_from) { /* activations, binary ops with a number */
            fprintf(out, " ");
            ir_ew_dump(n->expr, out);
        }
        if (n->epilogue_from) { /* a fused consumer: the expression the kernel stores */
            fprintf(out, " then ");
            ir_ew_dump(n->expr, out);
        }
        if (n->weight) fprintf(out, " w=%s", n->weight->name);
        if (n->bias) fprintf(out, " b=%s", n->bias->name);
        fprintf(out, "  # %s%s%s%s\n", n->name ? n->name : "", n->alias ? " = " : "", n->alias ? n->alias : "",
                i == g->output ? " (output)" : "");
    }
    fprintf(out, "}\n");
}

void ir_dump_module(const ir_module *m, FILE *out)
{
    for (int i = 0; i < m->n_graphs; i++) ir_dump_graph(m->graphs[i], out);
}

void ir_graph_replace_node(ir_graph *g, int i, int replacement)
{
    for (int j = i + 1; j < g->n_nodes; j++)
        for (int k = 0; k < g->nodes[j].n_inputs; k++)
            if (g->nodes[j].inputs[k] == i) g->nodes[j].inputs[k] = replacement;
    if (g->output == i) g->output = replacement;
    free(g->nodes[i].name);
    free(g->nodes[i].alias);
    memmove(&g->nodes[i], &g->nodes[i + 1], sizeof *g->nodes * (g->n_nodes - i - 1));
    g->n_nodes--;
    for (int j = 0; j < g->n_nodes; j++)
        for (int k = 0; k < g->nodes[j].n_inputs; k++)
            if (g->nodes[j].inputs[k] > i) g->nodes[j].inputs[k]--;
    if (g->output > i) g->output--;
    if (g->input > i) g->input--;
}

ir_ew *ir_ew_new(ir_graph *g, ir_ew_kind kind, ir_ew *a, ir_ew *b)
{
    ir_ew *e = calloc(1, sizeof *e);
    if (!e) {
        fputs("xaic: out of memory\n", stderr);
        exit(2);
    }
    e->kind = kind;
    e->a = a;
    e->b = b;
    if (g->n_ews == g->cap_ews) {
        g->cap_ews = g->cap_ews ? 2 * g->cap_ews : 64;
        g->ews = xrealloc(g->ews, (size_t)g->cap_ews * sizeof *g->ews);
    }
    g->ews[g->n_ews++] = e;
    return e;
}

ir_ew *ir_ew_num(ir_graph *g, double v)
{
    ir_ew *e = ir_ew_new(g, EW_NUM, NULL, NULL);
    e->num = v;
    return e;
}

ir_ew *ir_ew_input(ir_graph *g, int input)
{
    ir_ew *e = ir_ew_new(g, EW_INPUT, NULL, NULL);
    e->input = input;
    return e;
}

void ir_ew_dump(const ir_ew *e, FILE *out)
{
    static const char *const names[] = {
        [EW_ADD] = "+",     [EW_SUB] = "-",     [EW_MUL] = "*",   [EW_DIV] = "/",       [EW_SAFEDIV] = "/?",
        [EW_GT] = ">",      [EW_LT] = "<",      [EW_GE] = ">=",   [EW_LE] = "<=",       [EW_EQ] = "==",
        [EW_NE] = "!=",     [EW_NEG] = "-",     [EW_POS] = "pos", [EW_NEGPART] = "neg", [EW_ABS] = "abs",
        [EW_SIGN] = "sign", [EW_STEP] = "step", [EW_EXP] = "exp", [EW_TANH] = "tanh",   [EW_SIGMOID] = "sigmoid",
        [EW_LOG] = "log",   [EW_SQRT] = "sqrt", [EW_ERF] = "erf",
    };
    switch (e->kind) {
    case EW_INPUT: fprintf(out, "$%d", e->input); return;
    case EW_NUM: fprintf(out, "%g", e->num); return;
    case EW_CHANNEL: fprintf(out, "%s[c]", e->channel->name); return;
    case EW_STAB:
        fprintf(out, "stab(");
        ir_ew_dump(e->a, out);
        fprintf(out, ", %g)", e->num);
        return;
    case EW_SELECT:
        fprintf(out, "(");
        ir_ew_dump(e->a, out);
        fprintf(out, " ? ");
        ir_ew_dump(e->b, out);
        fprintf(out, " : ");
        ir_ew_dump(e->c, out);
        fprintf(out, ")");
        return;
    case EW_NEG:
    case EW_POS:
    case EW_NEGPART:
    case EW_ABS:
    case EW_SIGN:
    case EW_STEP:
    case EW_EXP:
    case EW_TANH:
    case EW_SIGMOID:
    case EW_LOG:
    case EW_SQRT:
    case EW_ERF:
        fprintf(out, "%s(", names[e->kind]);
        ir_ew_dump(e->a, out);
        fprintf(out, ")");
        return;
    default:
        fprintf(out, "(");
        ir_ew_dump(e->a, out);
        fprintf(out, " %s ", names[e->kind]);
        ir_ew_dump(e->b, out);
        fprintf(out, ")");
        return;
    }
}
