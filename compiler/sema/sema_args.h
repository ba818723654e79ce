/* What sema's per-op functions share: the layer being checked and helpers that read its arguments. */
#ifndef XAIC_SEMA_ARGS_H
#define XAIC_SEMA_ARGS_H

#include "ast.h"
#include "ir.h"
#include "weights.h"

#define SEMA_MAX_PARAMS 8
/* Values per sample of any layer (8 GB of floats): beyond it a shape is a mistake or an attack, and counts
 * would overflow the 32-bit sizes of some targets. */
#define SEMA_MAX_ELEMENTS 2147483647LL
/* Window taps (kh * kw) of a conv or pool: taps are unrolled at compile time. */
#define SEMA_MAX_TAPS 4096

/* One layer definition `name = op(inputs, params) [from "prefix"]` being checked. */
typedef struct sema_layer_ctx {
    xai_diag *d;
    ir_graph *g;
    ir_node *n; /* the node being built: op, name, inputs set; the op fills the rest */
    const ast_net_stmt *st;
    const ast_expr *call;                   /* st->value */
    const ir_shape *in;                     /* the input layers' shapes */
    weights_file *wf;                       /* NULL when the network has no `weights` statement */
    const ast_expr *slots[SEMA_MAX_PARAMS]; /* the op's PARAMS (ops.def) as given, NULL where not given */
} sema_layer_ctx;

/* Number checks: report at the argument and return 0 when it is not what is asked. */
int sema_positive_int(xai_diag *d, const ast_expr *e, const char *what, int *out);
int sema_nonneg_int(xai_diag *d, const ast_expr *e, const char *what, int *out);
int sema_pair(xai_diag *d, const ast_expr *e, const char *what, int *h, int *w); /* int | [h, w] */
int sema_boolean(xai_diag *d, const ast_expr *e, const char *what, int *out);    /* true | false */
/* The layer's input must be [C, H, W]. */
int sema_spatial_input(const sema_layer_ctx *l, const ir_shape *in);
/* kernel/size, stride, pad of a window op (conv2d or pooling) into n, and the output's H, W */
int sema_window(sema_layer_ctx *l, const ast_expr *kernel, const ast_expr *stride, const ast_expr *pad, int is_conv);
/* The shape's element count, or -1 when it exceeds SEMA_MAX_ELEMENTS (no overflow on the way). */
int64_t sema_checked_count(const ir_shape *s);
/* Reads a parameter tensor of the given shape: the one a string argument names (`weight="onnx::Conv_7"`, the
 * argument `given`), else `<prefix>.<suffix>` (prefix: `from` or the layer name). */
int sema_param(sema_layer_ctx *l, const char *suffix, const ast_expr *given, int rank, const int64_t *shape,
               ir_const **dst);
/* A number (a literal, possibly negated). */
int sema_number(xai_diag *d, const ast_expr *e, const char *what, double *out);
/* A list of 1..max integers >= lo into out (*n of them). */
int sema_int_list(xai_diag *d, const ast_expr *e, const char *what, int lo, int *out, int max, int *n);

#endif
