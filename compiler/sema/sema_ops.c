/* Semantic analysis of one layer: argument binding, shape inference and parameters, per op.
 * Semantics follow PyTorch (NCHW, floor output sizes); `same` pads as TensorFlow does. */
#include <stdlib.h>
#include <string.h>

#include "sema.h"
#include "weights.h"

int sema_op_arity(ir_op op) { return op == OP_ADD ? 2 : 1; }

/* Parameters an op accepts after its layer inputs, in positional order. */
typedef struct op_sig {
    const char *params[6];
    int n_required;
} op_sig;

static const op_sig sigs[OP_COUNT] = {
    [OP_DENSE] = {{"units", "bias"}, 1},
    [OP_CONV2D] = {{"filters", "kernel", "stride", "pad", "bias"}, 2},
    [OP_MAXPOOL] = {{"size", "stride", "pad"}, 1},
    [OP_AVGPOOL] = {{"size", "stride", "pad"}, 1},
    [OP_BATCHNORM] = {{"eps"}, 0},
};

static int n_params(const op_sig *s)
{
    int n = 0;
    while (n < 6 && s->params[n]) n++;
    return n;
}

/* Binds call arguments (after the `skip` layer inputs) to the op's parameters. */
static int bind_args(xai_diag *d, const ast_expr *call, int skip, const op_sig *sig, const ast_expr **slots)
{
    int np = n_params(sig), ok = 1, positional = 0, seen_named = 0;
    for (int i = 0; i < np; i++) slots[i] = NULL;
    for (int a = skip; a < call->n_args; a++) {
        const ast_arg *arg = &call->args[a];
        int slot = -1;
        if (!arg->name) {
            if (seen_named) {
                diag_error(d, arg->value->loc, "positional argument after a named one in %s(...)", call->text);
                ok = 0;
                continue;
            }
            slot = positional++;
            if (slot >= np) {
                if (np == 0)
                    diag_error(d, arg->value->loc, "%s takes no arguments besides its input%s", call->text,
                               skip == 2 ? "s" : "");
                else
                    diag_error(d, arg->value->loc, "%s takes at most %d argument%s after its input", call->text, np,
                               np == 1 ? "" : "s");
                ok = 0;
                continue;
            }
        } else {
            seen_named = 1;
            for (int i = 0; i < np; i++)
                if (strcmp(sig->params[i], arg->name) == 0) slot = i;
            if (slot < 0) {
                char list[128] = "";
                size_t used = 0;
                for (int i = 0; i < np; i++) used += snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", sig->params[i]);
                diag_error(d, arg->name_loc, "%s has no parameter '%s'%s%s", call->text, arg->name,
                           np ? "; it takes " : "", list);
                ok = 0;
                continue;
            }
        }
        if (slots[slot]) {
            diag_error(d, arg->name ? arg->name_loc : arg->value->loc, "parameter '%s' of %s is given twice",
                       sig->params[slot], call->text);
            ok = 0;
            continue;
        }
        slots[slot] = arg->value;
    }
    for (int i = 0; i < sig->n_required; i++)
        if (!slots[i] && ok) {
            diag_error(d, call->loc, "%s needs the parameter '%s'", call->text, sig->params[i]);
            ok = 0;
        }
    return ok;
}

static int positive_int(xai_diag *d, const ast_expr *e, const char *what, int *out)
{
    if (e->kind != EX_NUMBER || !e->is_int || e->number < 1 || e->number > 1 << 24) {
        diag_error(d, e->loc, "%s must be a positive integer", what);
        return 0;
    }
    *out = (int)e->number;
    return 1;
}

static int nonneg_int(xai_diag *d, const ast_expr *e, const char *what, int *out)
{
    if (e->kind != EX_NUMBER || !e->is_int || e->number < 0 || e->number > 1 << 24) {
        diag_error(d, e->loc, "%s must be a non-negative integer", what);
        return 0;
    }
    *out = (int)e->number;
    return 1;
}

/* int | [h, w] */
static int pair(xai_diag *d, const ast_expr *e, const char *what, int *h, int *w)
{
    if (e->kind == EX_LIST) {
        if (e->n_items != 2) {
            diag_error(d, e->loc, "%s must be an integer or [height, width]", what);
            return 0;
        }
        return positive_int(d, e->items[0], what, h) && positive_int(d, e->items[1], what, w);
    }
    if (!positive_int(d, e, what, h)) return 0;
    *w = *h;
    return 1;
}

static int boolean(xai_diag *d, const ast_expr *e, const char *what, int *out)
{
    if (e->kind == EX_IDENT && (!strcmp(e->text, "true") || !strcmp(e->text, "false"))) {
        *out = e->text[0] == 't';
        return 1;
    }
    diag_error(d, e->loc, "%s must be true or false", what);
    return 0;
}

/* pad = int | [h, w] | [t, l, b, r] | same. Sets *same for `same` (resolved by the caller). */
static int padding(xai_diag *d, const ast_expr *e, ir_node *n, int *same)
{
    *same = 0;
    if (!e) return 1;
    if (e->kind == EX_IDENT && !strcmp(e->text, "same")) { *same = 1; return 1; }
    if (e->kind == EX_IDENT && !strcmp(e->text, "valid")) return 1;
    if (e->kind == EX_LIST && (e->n_items == 2 || e->n_items == 4)) {
        int v[4];
        for (int i = 0; i < e->n_items; i++)
            if (!nonneg_int(d, e->items[i], "padding", &v[i])) return 0;
        if (e->n_items == 2) { n->pad_t = n->pad_b = v[0]; n->pad_l = n->pad_r = v[1]; }
        else { n->pad_t = v[0]; n->pad_l = v[1]; n->pad_b = v[2]; n->pad_r = v[3]; }
        return 1;
    }
    if (e->kind == EX_NUMBER) {
        int p;
        if (!nonneg_int(d, e, "padding", &p)) return 0;
        n->pad_t = n->pad_l = n->pad_b = n->pad_r = p;
        return 1;
    }
    diag_error(d, e->loc, "pad must be an integer, [h, w], [top, left, bottom, right], same or valid");
    return 0;
}

/* TensorFlow SAME: out = ceil(in / stride); the odd pixel of padding goes to the bottom/right. */
static void same_padding(int in, int k, int s, int *lo, int *hi)
{
    int out = (in + s - 1) / s;
    int total = (out - 1) * s + k - in;
    if (total < 0) total = 0;
    *lo = total / 2;
    *hi = total - *lo;
}

static int spatial_input(xai_diag *d, const ir_node *n, const ast_net_stmt *st, const ir_shape *in)
{
    char sb[64];
    if (in->rank != 3) {
        diag_error(d, st->value->args[0].value->loc,
                   "%s '%s' needs a [C, H, W] input, but '%s' has shape %s", ir_op_name(n->op), n->name,
                   st->value->args[0].value->text, ir_shape_str(in, sb, sizeof sb));
        return 0;
    }
    return 1;
}

/* Output size of a window op along one axis; reports when the window does not fit. */
static int window_out(xai_diag *d, const ir_node *n, xai_loc loc, int in, int k, int s, int lo, int hi, int *out)
{
    int span = in + lo + hi - k;
    if (span < 0) {
        diag_error(d, loc, "%s '%s': window %d does not fit the padded input size %d", ir_op_name(n->op), n->name, k,
                   in + lo + hi);
        return 0;
    }
    *out = span / s + 1;
    return 1;
}

static int load_param(xai_diag *d, ir_graph *g, ir_node *n, const ast_net_stmt *st, weights_file *wf,
                      const char *suffix, int rank, const int64_t *shape, ir_const **dst)
{
    char name[512];
    snprintf(name, sizeof name, "%s.%s", st->from ? st->from : st->name, suffix);
    if (!wf) {
        diag_error(d, st->name_loc, "layer '%s' needs the tensor '%s', but the network has no `weights` statement",
                   n->name, name);
        return 0;
    }
    *dst = weights_fetch(d, st->from ? st->from_loc : st->name_loc, wf, g, name, rank, shape, n->name);
    return *dst != NULL;
}

static int layer_window(xai_diag *d, ir_node *n, const ast_net_stmt *st, const ir_shape *in, const ast_expr **slots,
                        int is_conv)
{
    const ast_expr *kernel = slots[is_conv ? 1 : 0], *stride = slots[is_conv ? 2 : 1], *pad = slots[is_conv ? 3 : 2];
    if (!pair(d, kernel, is_conv ? "kernel" : "size", &n->kh, &n->kw)) return 0;
    if (stride) { if (!pair(d, stride, "stride", &n->sh, &n->sw)) return 0; }
    else if (is_conv) n->sh = n->sw = 1;
    else { n->sh = n->kh; n->sw = n->kw; }   /* PyTorch pools: stride defaults to the size */
    int same;
    if (!padding(d, pad, n, &same)) return 0;
    if (same) {
        same_padding(in->dims[1], n->kh, n->sh, &n->pad_t, &n->pad_b);
        same_padding(in->dims[2], n->kw, n->sw, &n->pad_l, &n->pad_r);
        n->pad_same = 1;
    } else if (!is_conv && (2 * n->pad_t > n->kh || 2 * n->pad_b > n->kh || 2 * n->pad_l > n->kw ||
                            2 * n->pad_r > n->kw)) {
        diag_error(d, pad->loc, "pool padding must be at most half the window (as in PyTorch); use pad=same for "
                                "TensorFlow-style padding");
        return 0;
    }
    n->shape.rank = 3;
    return window_out(d, n, st->value->loc, in->dims[1], n->kh, n->sh, n->pad_t, n->pad_b, &n->shape.dims[1]) &&
           window_out(d, n, st->value->loc, in->dims[2], n->kw, n->sw, n->pad_l, n->pad_r, &n->shape.dims[2]);
}

int sema_layer(xai_diag *d, ir_graph *g, ir_node *n, const ast_net_stmt *st, const ir_shape *in, weights_file *wf)
{
    const ast_expr *call = st->value;
    const ast_expr *slots[6] = {0};
    char sa[64], sb[64];
    if (!bind_args(d, call, sema_op_arity(n->op), &sigs[n->op], slots)) return 0;
    if (st->from && n->op != OP_DENSE && n->op != OP_CONV2D && n->op != OP_BATCHNORM)
        diag_warning(d, st->from_loc, "`from` has no effect on %s, which has no parameters", ir_op_name(n->op));

    switch (n->op) {
    case OP_DENSE: {
        if (in[0].rank != 1) {
            diag_error(d, call->args[0].value->loc, "dense '%s' needs a flat input, but '%s' has shape %s; "
                       "insert flatten(%s)", n->name, call->args[0].value->text, ir_shape_str(&in[0], sa, sizeof sa),
                       call->args[0].value->text);
            return 0;
        }
        n->has_bias = 1;
        if (!positive_int(d, slots[0], "units", &n->units)) return 0;
        if (slots[1] && !boolean(d, slots[1], "bias", &n->has_bias)) return 0;
        n->shape.rank = 1;
        n->shape.dims[0] = n->units;
        int64_t ws[2] = {n->units, in[0].dims[0]}, bs[1] = {n->units};
        int ok = load_param(d, g, n, st, wf, "weight", 2, ws, &n->weight);
        if (n->has_bias) ok &= load_param(d, g, n, st, wf, "bias", 1, bs, &n->bias);
        return ok;
    }
    case OP_CONV2D: {
        if (!spatial_input(d, n, st, &in[0])) return 0;
        n->has_bias = 1;
        if (!positive_int(d, slots[0], "filters", &n->units)) return 0;
        if (slots[4] && !boolean(d, slots[4], "bias", &n->has_bias)) return 0;
        if (!layer_window(d, n, st, &in[0], slots, 1)) return 0;
        n->shape.dims[0] = n->units;
        int64_t ws[4] = {n->units, in[0].dims[0], n->kh, n->kw}, bs[1] = {n->units};
        int ok = load_param(d, g, n, st, wf, "weight", 4, ws, &n->weight);
        if (n->has_bias) ok &= load_param(d, g, n, st, wf, "bias", 1, bs, &n->bias);
        return ok;
    }
    case OP_MAXPOOL:
    case OP_AVGPOOL:
        if (!spatial_input(d, n, st, &in[0]) || !layer_window(d, n, st, &in[0], slots, 0)) return 0;
        n->shape.dims[0] = in[0].dims[0];
        return 1;
    case OP_GLOBAL_AVGPOOL:
        if (!spatial_input(d, n, st, &in[0])) return 0;
        n->shape.rank = 1;
        n->shape.dims[0] = in[0].dims[0];
        return 1;
    case OP_RELU:
    case OP_SIGMOID:
    case OP_SOFTMAX:
        n->shape = in[0];
        return 1;
    case OP_FLATTEN:
        n->shape.rank = 1;
        n->shape.dims[0] = (int)ir_shape_count(&in[0]);
        return 1;
    case OP_ADD:
        if (in[0].rank != in[1].rank || memcmp(in[0].dims, in[1].dims, sizeof(int) * in[0].rank) != 0) {
            diag_error(d, call->loc, "add '%s': shapes %s ('%s') and %s ('%s') differ", n->name,
                       ir_shape_str(&in[0], sa, sizeof sa), call->args[0].value->text,
                       ir_shape_str(&in[1], sb, sizeof sb), call->args[1].value->text);
            return 0;
        }
        n->shape = in[0];
        return 1;
    case OP_BATCHNORM: {
        n->eps = 1e-5f;
        if (slots[0]) {
            if (slots[0]->kind != EX_NUMBER || slots[0]->number <= 0) {
                diag_error(d, slots[0]->loc, "eps must be a positive number");
                return 0;
            }
            n->eps = (float)slots[0]->number;
        }
        if (in[0].rank != 1 && in[0].rank != 3) {
            diag_error(d, call->loc, "batchnorm '%s' needs a [C, H, W] or [D] input, got %s", n->name,
                       ir_shape_str(&in[0], sa, sizeof sa));
            return 0;
        }
        n->shape = in[0];
        int64_t cs[1] = {in[0].dims[0]};
        int ok = load_param(d, g, n, st, wf, "weight", 1, cs, &n->weight);
        ok &= load_param(d, g, n, st, wf, "bias", 1, cs, &n->bias);
        ok &= load_param(d, g, n, st, wf, "running_mean", 1, cs, &n->bn_mean);
        ok &= load_param(d, g, n, st, wf, "running_var", 1, cs, &n->bn_var);
        return ok;
    }
    default:
        diag_error(d, call->loc, "op '%s' cannot be used in a network", call->text);
        return 0;
    }
}
