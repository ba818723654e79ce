/* Graph IR: a typed DAG with static per-sample shapes (the batch size is the only run-time dimension).
 * Produced by sema, rewritten by canon (and later by rules), consumed by plan and codegen.
 * Nodes are stored in topological order: a node's inputs always have smaller indices. */
#ifndef XAIC_IR_H
#define XAIC_IR_H

#include <stdint.h>
#include <stdio.h>
#include "diag.h"

#define IR_MAX_RANK 4

typedef enum {
    OP_INPUT,
    OP_DENSE,           /* y = W a + b; W [out, in] */
    OP_CONV2D,          /* PyTorch cross-correlation; W [cout, cin, kh, kw] */
    OP_MAXPOOL,
    OP_AVGPOOL,
    OP_GLOBAL_AVGPOOL,  /* [C, H, W] -> [C] */
    OP_RELU,
    OP_SIGMOID,
    OP_FLATTEN,         /* channel-major; an alias of its input's buffer */
    OP_BATCHNORM,       /* eval-mode; canon folds it into the producer or turns it into OP_AFFINE */
    OP_AFFINE,          /* per-channel y = scale[c] * x + shift[c] (an unfoldable batchnorm) */
    OP_ADD,
    OP_SOFTMAX,         /* over all features of a sample; output layer only */
    OP_COUNT
} ir_op;

const char *ir_op_name(ir_op op);        /* the DSL spelling: "conv2d" */
int ir_op_from_name(const char *name);   /* -1 when unknown */

typedef struct ir_shape {
    int rank;
    int dims[IR_MAX_RANK];
} ir_shape;

int64_t ir_shape_count(const ir_shape *s);
/* "[32, 14, 14]" into buf */
const char *ir_shape_str(const ir_shape *s, char *buf, size_t len);

/* A constant tensor (weights, biases, folded or transformed sets). Data is owned, float32. */
typedef struct ir_const {
    char *name;                 /* state_dict name it came from, or a derived name ("conv1.weight+bn1") */
    int rank;
    int64_t shape[IR_MAX_RANK];
    int64_t count;
    float *data;
    /* Where the original bytes sit in the weights file (for --weights=external); -1 if derived. */
    int64_t file_offset;
} ir_const;

typedef struct ir_node {
    ir_op op;
    char *name;                 /* layer name as written (the input's name for OP_INPUT) */
    char *alias;                /* a layer folded into this one (batchnorm), same output; or NULL */
    xai_loc loc;
    int inputs[2];
    int n_inputs;
    ir_shape shape;             /* output shape, without batch */
    /* attributes */
    int units;                  /* dense: outputs; conv2d: filters */
    int kh, kw, sh, sw;         /* conv2d, pools */
    int pad_t, pad_l, pad_b, pad_r;
    int pad_same;               /* pools: TF SAME semantics (avg divides by the valid count) */
    int has_bias;
    float eps;                  /* batchnorm */
    ir_const *weight, *bias;    /* dense, conv2d; affine: scale, shift */
    ir_const *bn_mean, *bn_var; /* batchnorm (before canon) */
} ir_node;

typedef struct ir_graph {
    char *name;
    xai_loc loc;
    ir_node *nodes;
    int n_nodes, cap_nodes;
    int input;                  /* index of the OP_INPUT node */
    int output;                 /* index of the output node */
    char *output_name;          /* the layer named by `output` (may be folded into another node) */
    int has_range;
    float range_low, range_high;
    char *weights_path;         /* resolved path of the safetensors file (NULL if the net has no params) */
    uint32_t weights_crc32;
    uint64_t weights_size;
    ir_const **consts;          /* every constant the graph owns */
    int n_consts, cap_consts;
} ir_graph;

/* All networks (and, later, explanations) of a compilation. */
typedef struct ir_module {
    ir_graph **graphs;
    int n_graphs;
} ir_module;

ir_graph *ir_graph_new(const char *name);
int ir_graph_add_node(ir_graph *g, const ir_node *n);          /* copies n; returns its index */
ir_const *ir_graph_new_const(ir_graph *g, const char *name, int rank, const int64_t *shape);
void ir_graph_free(ir_graph *g);
void ir_module_free(ir_module *m);
/* Removes node i (which must come after `replacement`), redirecting its consumers to `replacement`. */
void ir_graph_replace_node(ir_graph *g, int i, int replacement);
/* Number of nodes that read node i. */
int ir_consumers(const ir_graph *g, int i);

/* --dump=graph: one line per node: "%3 = conv2d(%2) [32, 28, 28] k=3x3 s=1x1 pad=1,1,1,1 bias" */
void ir_dump_graph(const ir_graph *g, FILE *out);
void ir_dump_module(const ir_module *m, FILE *out);

#endif
