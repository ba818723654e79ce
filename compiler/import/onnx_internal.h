/* Internals of the ONNX importer, shared by the sources of compiler/import.
 *
 * The graph is walked once in node order (ONNX requires a topological order). Every ONNX value is
 *   - a constant (an initializer, a Constant node, or a node folded at import: shape arithmetic), whose
 *     integer elements may stand for the batch size (SYM_BATCH), a known multiple of it (SYM_SCALED) or
 *     something else derived from it (SYM_DYNAMIC) - the batch is the only dynamic dimension;
 *   - or a network tensor, produced by a layer (the input is layer 0), with a per-sample shape;
 *   - or a zero Pad of a network tensor waiting for the Conv / AveragePool that absorbs it.
 * Layers become the lines of the .xai file; constants read by layers go into the safetensors file. */
#ifndef XAI_ONNX_INTERNAL_H
#define XAI_ONNX_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "import.h"
#include "onnx.pb-c.h"

#define CT_MAX_RANK       8         /* rank of constants the importer computes with */
#define MAX_NODES         (1 << 20) /* graph size bounds (hostile files) */
#define MAX_VALUES        (1 << 22)
#define FOLD_MAX_ELEMS    (1 << 24)          /* one folded constant */
#define MAX_SAMPLE_ELEMS  ((int64_t)1 << 40) /* elements of one sample of a network tensor */
#define FOLD_BUDGET_ELEMS (1 << 26)          /* every folded constant together */

/* ONNX TensorProto.DataType values the importer knows */
enum {
    OT_FLOAT = 1,
    OT_UINT8 = 2,
    OT_INT8 = 3,
    OT_UINT16 = 4,
    OT_INT16 = 5,
    OT_INT32 = 6,
    OT_INT64 = 7,
    OT_STRING = 8,
    OT_BOOL = 9,
    OT_FLOAT16 = 10,
    OT_DOUBLE = 11,
    OT_UINT32 = 12,
    OT_UINT64 = 13,
    OT_BFLOAT16 = 16
};

/* SYM_SCALED: k times the batch, k (>= 2) in the element's value (the heads merged with the batch, N * H) */
enum { SYM_KNOWN = 0, SYM_BATCH = 1, SYM_DYNAMIC = 2, SYM_SCALED = 3 };

typedef struct ctensor {
    int is_float;      /* values in f (float types) or in i (integer and bool types) */
    int32_t onnx_type; /* the ONNX element type it has */
    int rank;
    int64_t dims[CT_MAX_RANK];
    int64_t count;
    float *f;
    int64_t *i;
    uint8_t *sym;         /* NULL when every element is a known number, else SYM_* per element */
    char *store_name;     /* the safetensors name when a layer reads it (owned) */
    struct ctensor *next; /* every tensor of an import, freed together */
} ctensor;

typedef enum {
    L_INPUT,
    L_CONV,
    L_DENSE,
    L_MAXPOOL,
    L_AVGPOOL,
    L_GAP,
    L_RELU,
    L_SIGMOID,
    L_TANH,
    L_SILU,
    L_HARDSWISH,
    L_HARDSIGMOID,
    L_CLAMP,
    L_ELU,
    L_LEAKY_RELU,
    L_FLATTEN,
    L_RESHAPE,
    L_TRANSPOSE,
    L_CONCAT,
    L_SLICE,
    L_ADD,
    L_SUB,
    L_MUL,
    L_DIV,
    L_BATCHNORM,
    L_SOFTMAX,
    L_GELU,
    L_ERF,   /* an Erf node; only GELU's pattern uses it (onnx_map_ew.c), never emitted */
    L_GELU2, /* x (1 + erf(x / sqrt 2)) (or the tanh form's) awaiting the product by 0.5 that makes it a GELU */
    L_MATMUL,
    L_PARAMETER,
    L_LAYERNORM
} layer_op;

enum { P_WEIGHT, P_BIAS, P_MEAN, P_VAR, N_PARAMS };

typedef struct layer {
    layer_op op;
    int node;      /* the ONNX node it was made from (names, messages); -1: the input */
    char *name;    /* assigned by name_layers */
    char *hint;    /* a name suffix within the node's scope (Split outputs), or NULL */
    int *in, n_in; /* input layers */
    int rank;
    int64_t shape[XAI_IMPORT_MAX_RANK]; /* per-sample output shape */
    int live;                           /* the output depends on it */
    /* op attributes (what each op uses is in onnx_emit.c) */
    int64_t units, kernel[2], stride[2], pad[4], dilation[2], groups;
    int ceil_mode, count_include_pad, keepdims, has_min, has_max, approximate; /* gelu: 1 = the tanh form */
    int64_t axis, start, end, step;
    int64_t list[XAI_IMPORT_MAX_RANK]; /* reshape target / transpose permutation */
    double alpha, beta, eps, min, max;
    int split_from;  /* a dense layer made of some units of dense layer split_from (0: none; onnx_map_shape.c) */
    int number_side; /* binary op with a number: 1 = b is the number, 2 = a is */
    double number;
    ctensor *param[N_PARAMS];
} layer;

/* Where a network tensor's batch axis is (onnx_batch.c): ONNX axis `axis`, alone, or merged with the sample's
 * axis there (N * k: the batch outer; k * N: inner). {0, B_ALONE} (zeroed) is the batch first. */
typedef enum { B_ALONE, B_OUTER, B_INNER } batch_merge;
typedef struct batch_place {
    int axis;
    batch_merge merge;
} batch_place;

typedef enum { V_NONE, V_INIT, V_CONST, V_LAYER, V_PADDED } value_kind;

typedef struct value {
    const char *name; /* points into the model */
    value_kind kind;
    const Onnx__TensorProto *init;      /* V_INIT: decoded on first use */
    ctensor *c;                         /* V_CONST */
    int layer;                          /* V_LAYER, V_PADDED */
    int64_t pads[4];                    /* V_PADDED: top, left, bottom, right */
    int producer;                       /* node index, -1 for initializers and the input */
    int uses;                           /* consuming node inputs (+1 for the graph output) */
    int rank;                           /* V_LAYER: the per-sample shape when it was made (a later merge may change */
    int64_t shape[XAI_IMPORT_MAX_RANK]; /* the layer's: global_avgpool absorbing a Flatten) */
    batch_place place;                  /* V_LAYER, V_PADDED: where the batch is */
} value;

typedef enum { F_NONE, F_LAYER, F_MERGED, F_ALIAS, F_FOLDED } fate_kind;

typedef struct node_fate {
    fate_kind kind;
    int claimed; /* part of a pattern mapped from its first node (onnx_layernorm.c): skipped when reached */
    int layer;   /* the layer it is, was merged into, or aliases */
    int rank;    /* per-sample shape of its first output when a network tensor (rank 0: not) */
    int64_t shape[XAI_IMPORT_MAX_RANK];
} node_fate;

typedef struct str_map {
    char **keys;
    int *vals;
    size_t cap, n;
} str_map;

typedef struct imp {
    ProtobufCAllocator pb_alloc; /* protobuf-c allocates through a budget (hostile files) */
    size_t pb_used, pb_limit;
    int pb_exceeded;
    const xai_import_options *opt;
    const char *label;    /* the model's path for messages */
    const char *base_dir; /* external data; NULL: none allowed */
    size_t model_size;
    Onnx__ModelProto *model;
    const Onnx__GraphProto *graph;
    int64_t opset;
    value *values;
    int n_values, cap_values;
    str_map names; /* value name -> index */
    layer *layers;
    int n_layers, cap_layers;
    node_fate *fates; /* per node */
    int input_value, output_value, output_layer;
    int64_t static_batch; /* the input's batch dimension when the model fixes it, else -1 */
    ctensor *tensors;     /* every ctensor (list) */
    int64_t folded_elems;
    batch_place in_place, out_place; /* the node being mapped: its inputs' batch place, its outputs' */
    char *err;
    size_t errlen;
    int failed;
} imp;

/* ---- messages (onnx_graph.c) ---- */
int imp_fail(imp *im, const char *fmt, ...) __attribute__((format(printf, 2, 3))); /* returns -1 */
int node_fail(imp *im, int node, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *node_label(const imp *im, int node); /* "'/layer1/Conv' (Conv)" in a static buffer */
void format_dims(char *buf, size_t len, const int64_t *dims, int rank);

/* ---- strings ---- */
int str_map_put(str_map *m, const char *key, int val); /* -1 out of memory; key is copied */
int str_map_get(const str_map *m, const char *key);    /* -1 if absent */
void str_map_free(str_map *m);

/* ---- reading (onnx_read.c) ---- */
int read_model(imp *im, const void *bytes, size_t size);
void free_model(imp *im);
ctensor *decode_tensor(imp *im, const Onnx__TensorProto *t, const char *what);
const char *onnx_type_name(int32_t t);
int64_t default_opset_version(const Onnx__ModelProto *m);

/* ---- constants (onnx_tensor.c) ---- */
ctensor *ct_new(imp *im, int is_float, int32_t onnx_type, int rank, const int64_t *dims, const char *why);
int ct_checked_count(const int64_t *dims, int rank, int64_t *count); /* 0 ok, -1 negative or overflow */
int ct_has_sym(const ctensor *c);
double ct_get(const ctensor *c, int64_t k);
int ct_int_values(imp *im, int node, const ctensor *c, const char *what, int64_t *out, int max, int *n);
int ct_scalar(const ctensor *c, double *out); /* 0 if c has exactly one element */
void ct_free_all(imp *im);
ctensor *ct_float_copy(imp *im, const ctensor *c, const char *store_name);
ctensor *ct_transpose2d(imp *im, const ctensor *c, const char *store_name);
const char *ct_param_name(imp *im, ctensor *c, const char *fallback);

/* ---- folding (onnx_fold.c): every input constant -> evaluate. 1 done, 0 not foldable, -1 error ---- */
int fold_node(imp *im, int node);
int is_foldable_op(const char *op);
int fold_shape_of(imp *im, int node, int rank, const int64_t *dims, const uint8_t *sym);
int squeeze_axes(imp *im, int node, int64_t *axes, int *n); /* *n = -1: none given */
int fold_slice(imp *im, int node, const ctensor *x);        /* onnx_slice.c */
/* Slice's inputs 1..4 for data of `rank` dims: per sliced axis (normalised, distinct) start, end, step as
 * given (clamp them with slice_clamp). */
int slice_params(imp *im, int node, int rank, int64_t *starts, int64_t *ends, int64_t *axes, int64_t *steps, int *n);
/* Clamps start / end for a dimension of size d as ONNX does; returns the number of elements taken. */
int64_t slice_clamp(int64_t d, int64_t *start, int64_t *end, int64_t step);

/* ---- the graph (onnx_graph.c) ---- */
const Onnx__NodeProto *node_at(const imp *im, int node);
int node_has_input(const imp *im, int node, int k);
value *node_in(imp *im, int node, int k);        /* NULL if absent */
value *node_out_value(imp *im, int node, int k); /* NULL if absent */
int walk_graph(imp *im);                         /* onnx_walk.c */
int in_layer(imp *im, int node, int k);          /* layer index, or -1 (error set) */
ctensor *in_const(imp *im, int node, int k);     /* NULL (error set) if not a constant */
ctensor *value_const(imp *im, value *v);         /* decodes initializers; NULL if not a constant */
int out_layer(imp *im, int node, int k, int layer);
int out_const(imp *im, int node, int k, ctensor *c);
int out_alias(imp *im, int node, int k, int layer);
int output_used(const imp *im, int node, int k);
int new_layer(imp *im, layer_op op, int node, int n_in, const int *in); /* -1 on error */
void set_fate(imp *im, int node, fate_kind kind, int layer);

/* ---- attributes ---- */
const Onnx__AttributeProto *node_attr(const imp *im, int node, const char *name);
int attr_int(imp *im, int node, const char *name, int64_t def, int64_t *out);
int attr_float(imp *im, int node, const char *name, double def, double *out);
int attr_ints(imp *im, int node, const char *name, int64_t *out, int max, int *n); /* *n = -1 if absent */
int attr_string(imp *im, int node, const char *name, const char *def, char *out, size_t outlen);

/* ---- node handlers: 0 ok, -1 error ---- */
/* Input k as a parameter: a float constant of `rank` dims (dims[d] < 0: any), finite. */
ctensor *in_param(imp *im, int node, int k, const char *role, int rank, const int64_t *dims);
/* a `parameter` layer holding constant input k of the node (a leading batch dim of 1 dropped), shaped for an
 * operand of per-sample rank `rank`; -1 (reported) when it cannot be */
int parameter_layer(imp *im, int node, int k, int rank);
int map_nn(imp *im, int node, const char *op);    /* onnx_map_nn.c: Conv, Gemm, MatMul, pools, BN, Pad */
int map_ew(imp *im, int node, const char *op);    /* onnx_map_ew.c: activations, arithmetic, Softmax */
int map_shape(imp *im, int node, const char *op); /* onnx_map_shape.c: reshapes, Concat, Split, Slice, ... */
int match_layernorm(imp *im, int node);           /* onnx_layernorm.c, at a ReduceMean: 1 matched, 0 not, -1 error */
int is_supported_op(const char *op);

/* ---- the batch's place (onnx_batch.c) ---- */
int place_is_first(batch_place p);
int onnx_rank(const layer *L, batch_place p);
int onnx_dims(const imp *im, const layer *L, batch_place p, int64_t *dims, uint8_t *sym); /* returns the rank */
/* The node's network inputs must hold the batch at one place (im->in_place, also im->out_place's default);
 * off the first axis, only ops that follow it are allowed. */
int check_batch_places(imp *im, int node);
/* ONNX axis of the node's input layer x (im->in_place) -> the sample's axis; -1 (reported) for the batch's */
int sample_axis(imp *im, int node, int x, int64_t axis, const char *what);
/* Transpose by the ONNX perm: the sample's perm, and the batch's new place in im->out_place */
int transpose_placed(imp *im, int node, int x, const int64_t *perm, int n, int64_t *sample_perm);
/* Reshape to target t where the batch moves or merges: the sample's dims, the batch's place in im->out_place */
int reshape_placed(imp *im, int node, int x, const ctensor *t, int allowzero, int *rank, int64_t *dims);
int check_output_place(imp *im, const value *v);

/* ---- output (onnx_names.c, onnx_emit.c) ---- */
int name_layers(imp *im);
int emit_xai(imp *im, const char *net_name, const char *weights_file, char **text, size_t *len);
int emit_weights(imp *im, const char *path, unsigned char **bytes, size_t *len); /* path: write there */
int emit_node_map(imp *im, char **text);
char *sanitize_identifier(const char *s); /* malloc'd; NULL: out of memory */
int is_reserved_name(const char *s);

#endif
