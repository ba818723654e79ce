/* Reading a layer's arguments: integers, pairs, booleans, padding, window geometry and parameter tensors.
 * Semantics follow PyTorch (NCHW, floor output sizes); `same` pads as TensorFlow does. */
#include <stdio.h>
#include <string.h>

#include "sema_args.h"

int sema_positive_int(xai_diag *d, const ast_expr *e, const char *what, int *out)
{
    if (e->kind != EX_NUMBER || !e->is_int || e->number < 1 || e->number > 1 << 24) {
        diag_error(d, e->loc, "%s must be a positive integer", what);
        return 0;
    }
    *out = (int)e->number;
    return 1;
}

int sema_nonneg_int(xai_diag *d, const ast_expr *e, const char *what, int *out)
{
    if (e->kind != EX_NUMBER || !e->is_int || e->number < 0 || e->number > 1 << 24) {
        diag_error(d, e->loc, "%s must be a non-negative integer", what);
        return 0;
    }
    *out = (int)e->number;
    return 1;
}

int sema_pair(xai_diag *d, const ast_expr *e, const char *what, int *h, int *w)
{
    if (e->kind == EX_LIST) {
        if (e->n_items != 2) {
            diag_error(d, e->loc, "%s must be an integer or [height, width]", what);
            return 0;
        }
        return sema_positive_int(d, e->items[0], what, h) && sema_positive_int(d, e->items[1], what, w);
    }
    if (!sema_positive_int(d, e, what, h)) return 0;
    *w = *h;
    return 1;
}

int sema_boolean(xai_diag *d, const ast_expr *e, const char *what, int *out)
{
    if (e->kind == EX_IDENT && (!strcmp(e->text, "true") || !strcmp(e->text, "false"))) {
        *out = e->text[0] == 't';
        return 1;
    }
    diag_error(d, e->loc, "%s must be true or false", what);
    return 0;
}

/* pad = int | [h, w] | [t, l, b, r] | same | valid. Sets *same for `same` (resolved by the caller). */
static int padding(xai_diag *d, const ast_expr *e, ir_node *n, int *same)
{
    *same = 0;
    if (!e) return 1;
    if (e->kind == EX_IDENT && !strcmp(e->text, "same")) {
        *same = 1;
        return 1;
    }
    if (e->kind == EX_IDENT && !strcmp(e->text, "valid")) return 1;
    if (e->kind == EX_LIST && (e->n_items == 2 || e->n_items == 4)) {
        int v[4];
        for (int i = 0; i < e->n_items; i++)
            if (!sema_nonneg_int(d, e->items[i], "padding", &v[i])) return 0;
        if (e->n_items == 2) {
            n->pad_t = n->pad_b = v[0];
            n->pad_l = n->pad_r = v[1];
        } else {
            n->pad_t = v[0];
            n->pad_l = v[1];
            n->pad_b = v[2];
            n->pad_r = v[3];
        }
        return 1;
    }
    if (e->kind == EX_NUMBER) {
        int p;
        if (!sema_nonneg_int(d, e, "padding", &p)) return 0;
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

int sema_spatial_input(const sema_layer_ctx *l, const ir_shape *in)
{
    char sb[64];
    if (in->rank != 3) {
        diag_error(l->d, l->call->args[0].value->loc, "%s '%s' needs a [C, H, W] input, but '%s' has shape %s",
                   ir_op_name(l->n->op), l->n->name, l->call->args[0].value->text, ir_shape_str(in, sb, sizeof sb));
        return 0;
    }
    return 1;
}

/* Output size of a window op along one axis (ir_window_out); reports when the window does not fit. */
static int window_out(const sema_layer_ctx *l, int in, int k, int dil, int s, int lo, int hi, int *out)
{
    int64_t reach = (int64_t)dil * (k - 1) + 1, o = ir_window_out(in, reach, s, lo, hi, l->n->ceil_mode);
    if (o < 0) {
        diag_error(l->d, l->call->loc, "%s '%s': window %lld does not fit the padded input size %lld",
                   ir_op_name(l->n->op), l->n->name, (long long)reach, (long long)in + lo + hi);
        return 0;
    }
    *out = (int)o;
    return 1;
}

int64_t sema_checked_count(const ir_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) {
        if (s->dims[i] < 0 || __builtin_mul_overflow(n, (int64_t)s->dims[i], &n) || n > SEMA_MAX_ELEMENTS) return -1;
    }
    return n;
}

int sema_window(sema_layer_ctx *l, const ast_expr *kernel, const ast_expr *stride, const ast_expr *pad, int is_conv)
{
    ir_node *n = l->n;
    const ir_shape *in = &l->in[0];
    if (!sema_pair(l->d, kernel, is_conv ? "kernel" : "size", &n->kh, &n->kw)) return 0;
    if ((int64_t)n->kh * n->kw > SEMA_MAX_TAPS) {
        diag_error(l->d, kernel->loc,
                   "a %dx%d window has %lld taps; xaic unrolls windows and takes at most %d (64x64)%s", n->kh, n->kw,
                   (long long)n->kh * n->kw, SEMA_MAX_TAPS,
                   is_conv ? ""
                           : "; use global_avgpool for a "
                             "whole-plane average");
        return 0;
    }
    if (stride) {
        if (!sema_pair(l->d, stride, "stride", &n->sh, &n->sw)) return 0;
    } else if (is_conv)
        n->sh = n->sw = 1;
    else {
        n->sh = n->kh;
        n->sw = n->kw;
    } /* PyTorch pools: stride defaults to the size */
    int same;
    if (!padding(l->d, pad, n, &same)) return 0;
    if (same) {
        same_padding(in->dims[1], (n->dh ? n->dh : 1) * (n->kh - 1) + 1, n->sh, &n->pad_t, &n->pad_b);
        same_padding(in->dims[2], (n->dw ? n->dw : 1) * (n->kw - 1) + 1, n->sw, &n->pad_l, &n->pad_r);
        n->pad_same = 1;
    } else if (!is_conv &&
               (2 * n->pad_t > n->kh || 2 * n->pad_b > n->kh || 2 * n->pad_l > n->kw || 2 * n->pad_r > n->kw)) {
        diag_error(l->d, pad->loc,
                   "pool padding must be at most half the window (as in PyTorch); use pad=same for "
                   "TensorFlow-style padding");
        return 0;
    } else if (n->pad_t > in->dims[1] + n->kh || n->pad_b > in->dims[1] + n->kh || n->pad_l > in->dims[2] + n->kw ||
               n->pad_r > in->dims[2] + n->kw) {
        /* bounded by what it pads: a 5-line file must not ask for a plane of 10^10 values */
        diag_error(l->d, pad->loc, "padding %d,%d,%d,%d is larger than the %dx%d input plus the %dx%d kernel", n->pad_t,
                   n->pad_l, n->pad_b, n->pad_r, in->dims[1], in->dims[2], n->kh, n->kw);
        return 0;
    }
    n->shape.rank = 3;
    return window_out(l, in->dims[1], n->kh, n->dh ? n->dh : 1, n->sh, n->pad_t, n->pad_b, &n->shape.dims[1]) &&
        window_out(l, in->dims[2], n->kw, n->dw ? n->dw : 1, n->sw, n->pad_l, n->pad_r, &n->shape.dims[2]);
}

int sema_number(xai_diag *d, const ast_expr *e, const char *what, double *out)
{
    if (e->kind == EX_NUMBER) {
        *out = e->number;
        return 1;
    }
    if (e->kind == EX_UNARY && e->op == '-' && e->lhs->kind == EX_NUMBER) {
        *out = -e->lhs->number;
        return 1;
    }
    diag_error(d, e->loc, "%s must be a number", what);
    return 0;
}

int sema_int_list(xai_diag *d, const ast_expr *e, const char *what, int lo, int *out, int max, int *n)
{
    if (e->kind != EX_LIST || e->n_items < 1 || e->n_items > max) {
        diag_error(d, e->loc, "%s must be a list of 1 to %d integers, e.g. [0, 2, 1]", what, max);
        return 0;
    }
    for (int i = 0; i < e->n_items; i++) {
        const ast_expr *v = e->items[i];
        int neg = v->kind == EX_UNARY && v->op == '-' && v->lhs->kind == EX_NUMBER;
        const ast_expr *lit = neg ? v->lhs : v;
        if (lit->kind != EX_NUMBER || !lit->is_int || lit->number > 1 << 24 ||
            (neg ? -lit->number : lit->number) < lo) {
            diag_error(d, v->loc, "%s must hold integers >= %d", what, lo);
            return 0;
        }
        out[i] = (int)(neg ? -lit->number : lit->number);
    }
    *n = e->n_items;
    return 1;
}

int sema_param(sema_layer_ctx *l, const char *suffix, const ast_expr *given, int rank, const int64_t *shape,
               ir_const **dst)
{
    const ast_net_stmt *st = l->st;
    char name[512];
    xai_loc at = st->from ? st->from_loc : st->name_loc;
    if (given && given->kind == EX_STRING) { /* `weight="onnx::Conv_193"`: the tensor named explicitly */
        snprintf(name, sizeof name, "%s", given->text);
        at = given->loc;
    } else {
        snprintf(name, sizeof name, "%s.%s", st->from ? st->from : st->name, suffix);
    }
    if (!l->wf) {
        diag_error(l->d, st->name_loc, "layer '%s' needs the tensor '%s', but the network has no `weights` statement",
                   l->n->name, name);
        return 0;
    }
    *dst = weights_fetch(l->d, at, l->wf, l->g, name, rank, shape, l->n->name);
    return *dst != NULL;
}
