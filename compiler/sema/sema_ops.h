/* Sema's function for each network op: the SEMA column of ops.def. Each reads l->slots (the op's PARAMS as
 * given), sets l->n's attributes and output shape, reads its parameters, and returns 0 after reporting. */
#ifndef XAIC_SEMA_OPS_H
#define XAIC_SEMA_OPS_H

#include "sema_args.h"

typedef int (*sema_op_fn)(sema_layer_ctx *l);

int sema_dense(sema_layer_ctx *l);
int sema_conv2d(sema_layer_ctx *l);
int sema_pool(sema_layer_ctx *l);
int sema_global_avgpool(sema_layer_ctx *l);
int sema_batchnorm(sema_layer_ctx *l);
int sema_layernorm(sema_layer_ctx *l);
/* sema_ops_shape.c */
int sema_flatten(sema_layer_ctx *l);
int sema_reshape(sema_layer_ctx *l);
int sema_transpose(sema_layer_ctx *l);
int sema_concat(sema_layer_ctx *l);
int sema_slice(sema_layer_ctx *l);
/* sema_ops_ew.c */
int sema_same_shape(sema_layer_ctx *l);
int sema_softmax(sema_layer_ctx *l);
int sema_matmul(sema_layer_ctx *l);
int sema_parameter(sema_layer_ctx *l);
int sema_activation(sema_layer_ctx *l);
int sema_binary(sema_layer_ctx *l);

#endif
