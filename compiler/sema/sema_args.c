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

/* Output size of a window op along one axis; reports when the window does not fit. */
static int window_out(const sema_layer_ctx *l, int in, int k, int s, int lo, int hi, int *out)
{
    int span = in + lo + hi - k;
    if (span < 0) {
        diag_error(l->d, l->call->loc, "%s '%s': window %d does not fit the padded input size %d", ir_op_name(l->n->op),
                   l->n->name, k, in + lo + hi);
        return 0;
    }
    *out = span / s + 1;
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
        same_padding(in->dims[1], n->kh, n->sh, &n->pad_t, &n->pad_b);
        same_padding(in->dims[2], n->kw, n->sw, &n->pad_l, &n->pad_r);
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
    return window_out(l, in->dims[1], n->kh, n->sh, n->pad_t, n->pad_b, &n->shape.dims[1]) &&
        window_out(l, in->dims[2], n->kw, n->sw, n->pad_l, n->pad_r, &n->shape.dims[2]);
}

int sema_param(sema_layer_ctx *l, const char *suffix, int rank, const int64_t *shape, ir_const **dst)
{
    const ast_net_stmt *st = l->st;
    char name[512];
    snprintf(name, sizeof name, "%s.%s", st->from ? st->from : st->name, suffix);
    if (!l->wf) {
        diag_error(l->d, st->name_loc, "layer '%s' needs the tensor '%s', but the network has no `weights` statement",
                   l->n->name, name);
        return 0;
    }
    *dst = weights_fetch(l->d, st->from ? st->from_loc : st->name_loc, l->wf, l->g, name, rank, shape, l->n->name);
    return *dst != NULL;
}
