/* `input x[C, H, W] image(resize=..., crop=..., mean=[...], std=[...])`: how image files become the input
 * (docs/language.md). Checked here against the input's shape; tools hand the result (ir_graph.image) to the
 * runtime's image preparation. */
#include "sema_image.h"

#include <math.h>
#include <string.h>

#include "sema_args.h"

/* A number, or a list of 1 or `channels` numbers (one broadcast to every channel) into v[channels]. */
static int per_channel(xai_diag *d, const ast_expr *e, const char *what, int channels, int positive, float *v)
{
    const ast_expr *const *items = e->kind == EX_LIST ? (const ast_expr *const *)e->items : &e;
    int n = e->kind == EX_LIST ? e->n_items : 1;
    if (n != 1 && n != channels) {
        diag_error(d, e->loc, "%s has %d values; give one per channel (%d) or one for all", what, n, channels);
        return 0;
    }
    for (int c = 0; c < channels; c++) {
        const ast_expr *x = items[n == 1 ? 0 : c];
        double value;
        if (x->kind == EX_NUMBER)
            value = x->number;
        else if (x->kind == EX_UNARY && x->op == '-' && x->lhs->kind == EX_NUMBER)
            value = -x->lhs->number;
        else {
            diag_error(d, x->loc, "%s must be numbers", what);
            return 0;
        }
        if (!isfinite((float)value) || (positive && !(value > 0))) {
            diag_error(d, x->loc, "%s value %g must be %s", what, value, positive ? "positive" : "finite");
            return 0;
        }
        v[c] = (float)value;
    }
    return 1;
}

int sema_image(xai_diag *d, const ast_expr *call, const ir_shape *in, ir_image *out)
{
    memset(out, 0, sizeof *out);
    if (call->kind != EX_CALL || strcmp(call->text, "image")) {
        diag_error(d, call->loc, "expected image(...) after the input's shape, not '%s'", call->text);
        return 0;
    }
    if (in->rank != 3 || (in->dims[0] != 1 && in->dims[0] != 3)) {
        diag_error(d, call->loc, "image(...) needs an input [C, H, W] with C = 1 (gray) or 3 (RGB)");
        return 0;
    }
    int channels = in->dims[0], ok = 1, has_mean = 0, has_std = 0;
    for (int i = 0; i < call->n_args && ok; i++) {
        const ast_arg *a = &call->args[i];
        if (!a->name) {
            diag_error(d, a->value->loc, "image(...) takes named arguments: resize, crop, mean, std");
            ok = 0;
        } else if (!strcmp(a->name, "resize")) {
            if (a->value->kind == EX_LIST)
                ok = sema_pair(d, a->value, "resize", &out->resize_h, &out->resize_w);
            else
                ok = sema_positive_int(d, a->value, "resize", &out->resize);
        } else if (!strcmp(a->name, "crop")) {
            ok = sema_pair(d, a->value, "crop", &out->crop_h, &out->crop_w);
        } else if (!strcmp(a->name, "mean")) {
            ok = per_channel(d, a->value, "mean", channels, 0, out->mean), has_mean = 1;
        } else if (!strcmp(a->name, "std")) {
            ok = per_channel(d, a->value, "std", channels, 1, out->std), has_std = 1;
        } else {
            diag_error(d, a->name_loc, "image(...) has no argument '%s'; it takes resize, crop, mean, std", a->name);
            ok = 0;
        }
    }
    if (!ok) return 0;
    int max = 1 << 16;
    if (out->resize > max || out->resize_h > max || out->resize_w > max || out->crop_h > max || out->crop_w > max ||
        out->crop_h < 0 || out->resize_h < 0) {
        diag_error(d, call->loc, "image(...) sizes must be between 1 and %d pixels", max);
        return 0;
    }
    if (has_mean && !has_std) {
        for (int c = 0; c < channels; c++) out->std[c] = 1; /* mean alone: subtract it */
    } else if (has_std && !has_mean) {
        for (int c = 0; c < channels; c++) out->mean[c] = 0;
    }
    /* what comes out must be the input's H x W */
    int h = in->dims[1], w = in->dims[2];
    int final_h = out->crop_h ? out->crop_h : out->resize_h, final_w = out->crop_w ? out->crop_w : out->resize_w;
    if (final_h && (final_h != h || final_w != w)) {
        diag_error(d, call->loc, "image(...) gives %dx%d images (%s), but the input is %dx%d", final_h, final_w,
                   out->crop_h ? "crop" : "resize", h, w);
        return 0;
    }
    out->enabled = 1;
    return 1;
}
