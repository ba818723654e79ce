/* The image(...) clause of an input statement (sema_image.c). */
#ifndef XAIC_SEMA_IMAGE_H
#define XAIC_SEMA_IMAGE_H

#include "ast.h"
#include "diag.h"
#include "ir.h"

/* Checks `call` (image(resize=, crop=, mean=, std=)) against the input shape `in` and fills out; 0 after
 * reporting an error at the argument. */
int sema_image(xai_diag *d, const ast_expr *call, const ir_shape *in, ir_image *out);

#endif
