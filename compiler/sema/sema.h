/* Semantic analysis: AST -> graph IR. Resolves names, orders layers, infers shapes, reads weights. */
#ifndef XAIC_SEMA_H
#define XAIC_SEMA_H

#include "ast.h"
#include "ir.h"
#include "load.h"

/* Builds one graph per network of the program. Reports every error it finds (d->errors > 0 then);
 * the returned module holds the graphs that were built without errors. */
ir_module *sema_program(xai_diag *d, const xai_program *p);

/* --- shared between sema.c and sema_layer.c --- */
typedef struct weights_file weights_file;

/* Binds a layer's call arguments (after its layer inputs) and fills node attributes, output shape and
 * parameters. `in` holds the input nodes' shapes. Returns 0 after reporting an error. */
int sema_layer(xai_diag *d, ir_graph *g, ir_node *node, const ast_net_stmt *stmt, const ir_shape *in, weights_file *wf);

#endif
