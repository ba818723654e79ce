/* Graph IR: a typed DAG with static per-sample shapes (the batch size is the only run-time dimension).
 * Produced by sema, rewritten by canon (and later by rules), consumed by plan and codegen.
 * Nodes are stored in topological order: a node's inputs always have smaller indices. */
#ifndef XAIC_IR_H
#define XAIC_IR_H

#include <stdint.h>
#include <stdio.h>
#include "diag.h"

#define IR_MAX_RANK   4
#define IR_MAX_INPUTS 64 /* inputs of a node: a concat of DenseNet's blocks, OP_ELTWISE's buffers */

/* The ops and what every stage may assume about each: ops.def is the table (one row per op). */
typedef enum {
#define OP(ID, ...) OP_##ID,
#include "ops.def"
#undef OP
    OP_COUNT
} ir_op;

/* Properties of an op (FLAGS of ops.def). */
enum {
    OPF_LAYER = 1 << 0,       /* can be written in a network */
    OPF_RULE = 1 << 1,        /* takes a propagation rule; explain blocks select it by its SELECTOR name */
    OPF_WEIGHTED = 1 << 2,    /* W a + b with a weight tensor: `first` selects it, a batchnorm after it folds into it */
    OPF_PARAMS = 1 << 3,      /* reads parameter tensors from the weights file */
    OPF_SHARE = 1 << 4,       /* share rules apply: z is a sum of contributions of its input (dense, conv, pools) */
    OPF_SUM = 1 << 5,         /* share rules over its inputs (add) */
    OPF_WINDOW = 1 << 6,      /* a pooling window: rules may also be expressions over r, x, y with unpool() */
    OPF_ELEMENTWISE = 1 << 7, /* rules are elementwise expressions over r, x, y */
    OPF_IN_PLACE = 1 << 8,    /* elementwise: the planner may give it input 0's buffer, so its kernel's output
                                   may alias that input (no noalias) */
    OPF_VIEW = 1 << 9,        /* no kernel: its value is input 0's buffer (flatten; a fused epilogue's result) */
    OPF_NONNEG = 1 << 10,     /* its output is never negative */
    OPF_KEEPS_NONNEG = 1 << 11,  /* its output is non-negative when its inputs are (all of a concat's) */
    OPF_HEAD = 1 << 12,          /* as the network's output, explanations start at its input (softmax: the logits) */
    OPF_BACKWARD = 1 << 13,      /* an op of explanation graphs only */
    OPF_TRANSPOSED = 1 << 14,    /* the transpose of a forward op (a relevance or gradient pass) */
    OPF_READS_SAMPLES = 1 << 15, /* its kernel reads the sample count itself (not only batch * mult) */
    OPF_ACTIVATION = 1 << 16,    /* elementwise y = f(x) given by node.expr over $0 (ir_activation) */
    OPF_ROUTE = 1 << 17,         /* moves values (transpose, concat, slice): relevance is routed back exactly */
    OPF_GATE = 1 << 18,          /* its output lies in [0, 1]: a gate when it multiplies another value */
    OPF_BINARY = 1 << 19,        /* two operands with broadcasting, or one and a number (node.number_side) */
    OPF_GROUPED = 1 << 20,       /* each output depends on its group along node.axis (softmax): rules are expressions
                                    over r, x, y whose reductions may run per = axis */
    OPF_ROWWISE = 1 << 21        /* on a [T, D] value, each row of the output depends on the same row of its operands
                                    only (softmax and layernorm along the last axis; opt/rows.c checks the shapes) */
};

typedef struct ir_op_info {
    const char *name;     /* spelling in .xai files and dumps */
    const char *selector; /* name in explain blocks and `rule ... on` */
    int arity;            /* layer inputs before the parameters */
    unsigned flags;
    const char *params;        /* parameters after the inputs, positional order, space-separated */
    int required;              /* leading params that must be given */
    const char *lrp_rule;      /* LRP's default rule for it (a prelude rule), or NULL */
    const char *deeplift_rule; /* DeepLIFT's default rule, or NULL */
} ir_op_info;

extern const ir_op_info ir_ops[OP_COUNT];
static inline int ir_op_is(ir_op op, unsigned flags) { return (ir_ops[op].flags & flags) != 0; }

/* Output relevance at the top of an explanation: one-hot(target) times the logit, 1, the softmax
 * probability, max(logit, 0); or, for SEED_SOFTMAX_GRAD, the gradient of the target's softmax probability
 * with respect to the logits, p_t * (onehot(t) - p). */
typedef enum {
    SEED_LOGIT,
    SEED_ONE,
    SEED_SOFTMAX,
    SEED_RELU_LOGIT,
    SEED_SUM, /* every output at once: out = the logits (all classes), the target ignored */
    SEED_SOFTMAX_GRAD,
    SEED_LOG_SOFTMAX_GRAD,
    SEED_RELU_GRAD,
    SEED_SUM_GRAD /* the gradient of the sum of the logits: 1 at every output */
} ir_seed;
/* SEED_LOG_SOFTMAX_GRAD: the gradient of log p_t with respect to the logits, onehot(t) - p (activation
 * maximisation's objective). SEED_RELU_GRAD: that of max(logit_t, 0), onehot(t) * [logit_t > 0] (the seed's
 * 5.1 / 5.2 explain f = ReLU(logit)). */

/* Activation maximisation: the optimisation an explanation graph's entry runs around its gradient pass.
 * Maximises log p(t | x) - lambda/2 ||x - c||^2 over x (the network input, or a generator's code), from the
 * entry's x; c = x itself (AM_CENTER_START), 0 (AM_CENTER_ZERO) or xai_options.baseline. */
typedef enum { AM_ADAM, AM_GRADIENT_ASCENT } am_optimizer;
typedef enum { AM_CENTER_START, AM_CENTER_ZERO } am_center;
typedef struct ir_am {
    int enabled;
    int steps;
    double lambda, lr, beta1, beta2, epsilon;
    am_optimizer optimizer;
    am_center center;
    int objective_logit;   /* 1: maximise the target's logit (the seed's 3.2 class model), 0: log p(class | x) */
    int image;             /* the node holding the synthesised image: the generator's output, or the input */
    int logits;            /* the node of the logits (the starting point's arg-max is the default target) */
    const char *generator; /* the generator network's name, or NULL */
} ir_am;

/* OP_EXPAND: input 0 = x [per sample], input 1 = the reference (OP_REFERENCE, IG only); output = `mult`
 * samples per input sample, sample k of input b at row b * mult + k:
 *   EXPAND_PATH:  ref + alpha[k] * (x - ref)                         (alphas: node->weight, mult values)
 *   EXPAND_NOISE: x + noise, noise = options->noise[b, k] if given, else sigma * N(0,1) numbers
 *                 (xai_normal_fill with the seed, offset (b * mult + k) * count)  (sigma: node->sigma) */
typedef enum { EXPAND_PATH, EXPAND_NOISE } ir_expand;

/* OP_REDUCE: input 0 = g with `mult` samples per result (rows b * mult + k), inputs 1, 2 = x and the
 * reference for REDUCE_PATH:
 *   REDUCE_PATH:     (x - ref) * sum_k weight[k] * g[b, k]        (the IG quadrature; weights: node->weight)
 *   REDUCE_MEAN:     mean_k g[b, k]                                (SmoothGrad)
 *   REDUCE_MEAN_SQ:  mean_k g[b, k]^2                              (SmoothGrad squared)
 *   REDUCE_VAR:      mean_k g[b, k]^2 - (mean_k g[b, k])^2         (VarGrad) */
typedef enum { REDUCE_PATH, REDUCE_MEAN, REDUCE_MEAN_SQ, REDUCE_VAR } ir_reduce;

/* OP_LAYER_STAT: out[b, ...] = the statistic of input 0 over sample b (per_channel: over each channel of it;
 * stat_along: over each line along one axis), in every element; STAT_STD is unbiased (n - 1, as torch.std; 0 for a single value); STAT_QUANTILE the
 * stat_q-quantile, linear between order statistics (torch.quantile's and numpy's default). */
typedef enum { STAT_SUM, STAT_MEAN, STAT_STD, STAT_MAX, STAT_MIN, STAT_QUANTILE } ir_stat;

/* Elementwise expressions evaluated by OP_ELTWISE kernels. */
typedef enum {
    EW_INPUT,   /* inputs[input] at this element */
    EW_NUM,     /* num */
    EW_CHANNEL, /* channel->data[c] where c is the element's channel (dim 0 of the per-sample shape) */
    EW_ADD,
    EW_SUB,
    EW_MUL,
    EW_DIV,
    EW_SAFEDIV, /* a / b, and 0 where b == 0 (relevance through a zero denominator is 0, never NaN) */
    EW_STAB,    /* a + num * (a >= 0 ? 1 : -1): Zennit's stabiliser, sign(0) = +1 */
    EW_NEG,
    EW_POS,
    EW_NEGPART,
    EW_ABS,
    EW_SIGN, /* -1 where a < 0, else +1 (sign(0) = +1, as the stabiliser) */
    EW_STEP,
    EW_EXP,
    EW_TANH,
    EW_SIGMOID,
    EW_LOG,
    EW_SQRT,
    EW_ERF, /* the error function, inline (cg_ew.c): +-1 at +-inf, NaN for NaN */
    EW_GT,
    EW_LT,
    EW_GE,
    EW_LE,
    EW_EQ,
    EW_NE,     /* 1 or 0 */
    EW_SELECT, /* a != 0 ? b : c */
} ir_ew_kind;

typedef struct ir_const ir_const;
typedef struct ir_ew {
    ir_ew_kind kind;
    int input;
    double num;
    const ir_const *channel;
    struct ir_ew *a, *b, *c;
} ir_ew;

const char *ir_op_name(ir_op op);              /* the DSL spelling: "conv2d" */
int ir_op_from_name(const char *name);         /* an op that can be written in a network (OPF_LAYER), or -1 */
int ir_op_from_selector(const char *selector); /* an op that takes rules (OPF_RULE) selected by this name, or -1 */

typedef struct ir_shape {
    int rank;
    int dims[IR_MAX_RANK];
} ir_shape;

int64_t ir_shape_count(const ir_shape *s);
/* Output size of a window op along one axis, as PyTorch: floor, or ceil with ceil_mode (where a last window
 * that would start in the end padding is dropped); reach = dilation * (kernel - 1) + 1. -1 if the window does
 * not fit the padded input. Sema and the backward kernels both use it, so their sizes cannot drift apart. */
int64_t ir_window_out(int64_t in, int64_t reach, int stride, int pad_lo, int pad_hi, int ceil_mode);
/* "[32, 14, 14]" into buf */
const char *ir_shape_str(const ir_shape *s, char *buf, size_t len);

/* How a derived constant is computed from others, element by element, so that --weights=external can
 * compute it when the weights are bound instead of storing it in the object (ir_recipe.c). Element i is
 * a stack program over doubles: IR_T_ELEM pushes src[k]->data[i], IR_T_ROW pushes src[k]->data[i / per_row]
 * (a per-output-channel value), the others are arithmetic as rx_eval's (division by 0 gives 0). The
 * result is rounded to float once, at the end. */
typedef enum {
    IR_T_ELEM,
    IR_T_ROW,
    IR_T_NUM,
    IR_T_NEG,
    IR_T_ADD,
    IR_T_SUB,
    IR_T_MUL,
    IR_T_DIV0,
    IR_T_SQRT,
    IR_T_GT,
    IR_T_LT,
    IR_T_GE,
    IR_T_LE,
    IR_T_EQ,
    IR_T_NE,
    IR_T_MAX,
    IR_T_MIN,
    IR_T_POS,
    IR_T_NEGPART,
    IR_T_ABS,
    IR_T_SIGN,
    IR_T_STEP,
    IR_T_EXP,
    IR_T_LOG,
    IR_T_POW, /* x ^ num: a whole num as pow() (0 where x = 0 and num < 0), else exp(num * log(x)) */
    /* pushes element i of the Winograd F(2x2, 3x3) transform of src [K][C][3][3], laid out [16][K][C]:
     * element (xi, k, c) is (G w[k][c] G^T)[xi / 4][xi % 4] (ir_winograd_element); num: an ir_weight_map applied to
     * w first (the filters read as pos(w) or neg(w)); the transposed conv reads the same transform (its flipped
     * filters' is a permutation of it, codegen/cg_winograd.c) */
    IR_T_WINOGRAD
} ir_tape_op;

typedef struct ir_tape_step {
    ir_tape_op op;
    int src;    /* IR_T_ELEM, IR_T_ROW: the index into the recipe's src */
    double num; /* IR_T_NUM */
} ir_tape_step;

#define IR_RECIPE_MAX_SRC   6
#define IR_RECIPE_MAX_STEPS 256
#define IR_RECIPE_MAX_STACK 16

typedef struct ir_recipe {
    const struct ir_const *src[IR_RECIPE_MAX_SRC];
    int n_src;
    int64_t per_row; /* elements per output channel (IR_T_ROW) */
    ir_tape_step steps[IR_RECIPE_MAX_STEPS];
    int n_steps;
} ir_recipe;

/* A constant tensor (weights, biases, folded or transformed sets). Data is owned, float32. */
struct ir_const {
    char *name; /* state_dict name it came from, or a derived name ("conv1.weight+bn1") */
    int rank;
    int64_t shape[IR_MAX_RANK];
    int64_t count;
    float *data;
    /* Where the original bytes sit in the weights file (for --weights=external); -1 if derived. */
    int64_t file_offset;
    ir_recipe *recipe; /* a derived constant's recipe (owned), or NULL */
};

/* Winograd F(2x2, 3x3)'s weight transform G (Lavin & Gray 2016): the 4 x 3 matrix of U = G w G^T */
extern const double ir_winograd_g[4][3];
/* (G w G^T)[a][b] of one 3 x 3 filter w (row-major floats; map: an ir_weight_map applied to each w first), in
 * double: the sum over rows y of G[a][y] times (the sum over columns x of w[y][x] G[b][x]), zero terms skipped, in
 * that order (cg_derive.c emits the same) */
double ir_winograd_element(const float *w, int map, int a, int b);
/* Element i of an IR_T_WINOGRAD transform of w: the filter it reads (its first float's index) and xi */
int64_t ir_winograd_filter(const struct ir_const *w, int64_t i, int *xi);

/* Appends a step; returns 0 when the recipe is full (the caller then gives up on the recipe). */
int ir_recipe_push(ir_recipe *r, ir_tape_op op, int src, double num);
/* Adds a source and returns its index (an existing one is reused), or -1 when full. */
int ir_recipe_source(ir_recipe *r, const struct ir_const *k);
/* Checks r (stack depth, sources' sizes against k's count and per_row) and, if valid, computes k->data from
 * it and gives it to k (k->recipe = r, owned). Returns 0 and frees r when r cannot describe k. */
int ir_recipe_apply(struct ir_const *k, ir_recipe *r);
/* Element i of a recipe, in double (what ir_recipe_apply stores, before rounding to float). */
double ir_recipe_eval(const ir_recipe *r, int64_t i);
/* x ^ p as rule bodies define it: a whole p as pow() but 0 where x = 0 and p < 0, else exp(p log x) */
double ir_pow(double x, double p);

/* How a kernel reads its weights: LRP's W+ and W- are applied as the weights are loaded (a max / min per
 * weight register), so that they cost no copy of the weights. */
typedef enum { WMAP_NONE, WMAP_POS, WMAP_NEG } ir_weight_map;

typedef struct ir_node {
    ir_op op;
    char *name;  /* layer name as written (the input's name for OP_INPUT) */
    char *alias; /* a layer folded into this one (batchnorm), same output; or NULL */
    xai_loc loc;
    int inputs[IR_MAX_INPUTS];
    int n_inputs;
    ir_shape shape; /* output shape, without batch */
    /* attributes */
    int units;          /* dense: outputs; conv2d: filters */
    int kh, kw, sh, sw; /* conv2d, pools */
    int pad_t, pad_l, pad_b, pad_r;
    int pad_same;          /* pools: TF SAME semantics (avg divides by the valid count) */
    int groups;            /* conv2d: groups of channels (0 or 1: none; input channels for a depthwise conv) */
    int dh, dw;            /* conv2d: dilation (0 or 1: none) */
    int ceil_mode;         /* pools: ceil instead of floor for the output size (PyTorch's ceil_mode) */
    int exclude_pad;       /* avgpool: divide by the cells inside the input, not the whole window */
    float arg[2];          /* elementwise ops' numbers: elu alpha, leaky_relu slope, hardsigmoid alpha / beta,
                              clamp min / max, a binary op's number operand (arg[0]) */
    int number_side;       /* binary ops with a number: 1 when the number is the second operand, 2 the first */
    int axis, start, step; /* concat (axis), slice (axis, start, end = start + step * shape[axis]),
                              softmax (axis; -1: over all of a sample's values) */
    int perm[IR_MAX_RANK]; /* transpose: output axis k is input axis perm[k] */
    int trans_a, trans_b;  /* matmul: operand a (b) read with its last two axes swapped (gradients' products) */
    int has_bias;
    float eps;                /* batchnorm */
    ir_const *weight, *bias;  /* dense, conv2d; affine: scale, shift */
    ir_weight_map weight_map; /* dense, conv2d and their transposes: read weight as pos(w) or neg(w) */
    /* dense, conv2d and their transposes with a fused elementwise consumer (fuse.c): the kernel stores
     * expr(...) at each output, where expression input epilogue_acc is the kernel's own result and the
     * others are inputs[epilogue_from ..] in order; epilogue_from = 0: no epilogue */
    int epilogue_from, epilogue_acc;
    int fused;                  /* an OP_FLATTEN standing for an elementwise node fused into its input: 1 + its op */
    ir_const *bn_mean, *bn_var; /* batchnorm (before canon) */
    /* backward ops */
    ir_ew *expr;       /* OP_ELTWISE (owned by the graph's ew list) */
    ir_shape in_shape; /* transposed ops and sumpool: the forward op's input shape */
    int global;        /* OP_SUMPOOL(_T): the window is the whole plane, output [C] */
    ir_seed seed;      /* OP_SEED */
    int mult;          /* samples per input sample this node works on (IG steps, SmoothGrad
                                   samples); 0 or 1: one. Kernels get batch * mult */
    ir_expand expand;  /* OP_EXPAND */
    ir_reduce reduce;  /* OP_REDUCE */
    ir_stat stat;      /* OP_LAYER_STAT, with stat_per_channel, stat_along and stat_q */
    int stat_per_channel;
    int stat_along; /* OP_LAYER_STAT: 1 + the axis it reduces along (a softmax's groups), all others kept; 0: none */
    double stat_q;
    float sigma;        /* OP_EXPAND noise */
    uint64_t rng_seed;  /* OP_EXPAND noise: the compiled seed (xai_options.seed overrides) */
    float ref_value;    /* OP_REFERENCE: the constant when xai_options gives no baseline */
    int argmax_from;    /* OP_SEED: the input whose arg-max is the target when none is given: 0, its
                                   own logits; 1, clean logits with one row per input sample (IG, SmoothGrad) */
    int64_t seed_block; /* OP_SEED: the values one target covers (a channel's H x W when the seed is a layer's
                                   channel, `from`; 1: a unit of a flat `from` layer); 0: a class */
    int layer;          /* backward nodes: 1 + the forward node whose rule made them (0: none) */
    int samples;        /* OP_EXPAND, OP_REDUCE: samples per input in all (IG steps, SmoothGrad samples);
                                   mult is how many of them one pass computes (a chunk, see ir_graph) */
} ir_node;

/* How image files become the input (`input x[C, H, W] image(...)`, docs/language.md): torchvision's Resize,
 * CenterCrop, ToTensor and Normalize; tools hand it to the runtime's xai_image_prep. Sizes 0: not given. */
typedef struct ir_image {
    int enabled;
    int resize;             /* the shorter side */
    int resize_h, resize_w; /* or an exact size */
    int crop_h, crop_w;     /* centre crop */
    float mean[3], std[3];  /* per channel; std all 0: no normalisation */
} ir_image;

typedef struct ir_graph {
    char *name;
    xai_loc loc;
    ir_node *nodes;
    int n_nodes, cap_nodes;
    int input;         /* index of the OP_INPUT node */
    int output;        /* index of the output node */
    char *output_name; /* the layer named by `output` (may be folded into another node) */
    int has_range;
    float range_low, range_high;
    ir_image image;     /* image(...) on the input */
    char *weights_path; /* resolved path of the safetensors file (NULL if the net has no params) */
    uint32_t weights_crc32;
    uint64_t weights_size;
    ir_const **consts; /* every constant the graph owns */
    int n_consts, cap_consts;
    ir_ew **ews; /* every elementwise expression node the graph owns */
    int n_ews, cap_ews;
    /* An explanation graph: the forward nodes of `network` followed by backward nodes. Constants of the
     * network are shared (owned by `network`); the explanation owns only what it adds. */
    const struct ir_graph *network;
    char *explain_name; /* E of NET_E */
    char *explain_note; /* a line the generated header adds to its comment (a sweep member's cell), or NULL */
    int has_target;     /* the entry takes a target array (OP_SEED present) */
    int has_options;    /* the explanation also gets NET_E_ex(..., const xai_options *) */
    int n_forward;      /* nodes [0, n_forward) are the network's forward pass */
    int *relevance_of;  /* per forward node: the node holding the relevance at its output, or -1 */
    ir_am am;           /* activation maximisation (am.enabled): the entry optimises its input */
    /* IG / SmoothGrad: nodes [sample_first, sample_last] (OP_EXPAND .. OP_REDUCE) work on the samples of
     * each input; when chunk < samples the entry runs them samples / chunk times, chunk samples at a time
     * (mult = chunk), and OP_REDUCE accumulates: the workspace holds one chunk, not all samples. */
    int sample_first, sample_last, samples, chunk;
} ir_graph;

/* All networks and explanations of a compilation. */
typedef struct ir_module {
    ir_graph **graphs; /* networks */
    int n_graphs;
    ir_graph **explanations; /* each explanation->network is one of graphs */
    int n_explanations;
} ir_module;

ir_graph *ir_graph_new(const char *name);
int ir_graph_add_node(ir_graph *g, const ir_node *n); /* copies n; returns its index */
ir_const *ir_graph_new_const(ir_graph *g, const char *name, int rank, const int64_t *shape);
void ir_graph_free(ir_graph *g);
void ir_module_free(ir_module *m);
ir_ew *ir_ew_new(ir_graph *g, ir_ew_kind kind, ir_ew *a, ir_ew *b);
ir_ew *ir_ew_num(ir_graph *g, double v);
ir_ew *ir_ew_input(ir_graph *g, int input);
void ir_ew_dump(const ir_ew *e, FILE *out);
/* An activation op's (OPF_ACTIVATION) forward expression y = f(x) and its derivative dy/dx, over the
 * expressions x and y (ir_activation.c). */
ir_ew *ir_activation(ir_graph *g, const ir_node *n, ir_ew *x);
ir_ew *ir_activation_derivative(ir_graph *g, const ir_node *n, ir_ew *x, ir_ew *y);

/* Removes node i (which must come after `replacement`), redirecting its consumers to `replacement`. */
void ir_graph_replace_node(ir_graph *g, int i, int replacement);
/* How many targets explanation x takes (classes, or the channels of its `from` layer); 0: none. */
int64_t ir_explain_targets(const ir_graph *x);
/* The layer whose channels explanation x's targets are (`from`), or NULL when they are classes. */
const char *ir_explain_from_layer(const ir_graph *x);
/* Number of nodes that read node i. */
int ir_consumers(const ir_graph *g, int i);

/* --dump=graph: one line per node: "%3 = conv2d(%2) [32, 28, 28] k=3x3 s=1x1 pad=1,1,1,1 bias" */
void ir_dump_graph(const ir_graph *g, FILE *out);
void ir_dump_module(const ir_module *m, FILE *out);

#endif
