/* The explain stage (compiler/explain): explain blocks checked into specs, then built into explanation graphs.
 * Checked explain blocks: what sema hands to the rules stage. Each layer of the network gets the rule
 * that applies to it (name > first > type > preset > defaults), with the rule's parameters and local
 * names substituted into its body, so the rules stage sees one self-contained expression per layer. */
#ifndef XAIC_EXPLAIN_H
#define XAIC_EXPLAIN_H

#include "diag.h"
#include "ir.h"

/* Rule-body expressions after substitution. */
typedef enum {
    RX_NUM,      /* num */
    RX_VEC,      /* vec[0 .. n_vec): a per-channel constant (e.g. zbox bounds for RGB inputs) */
    RX_VAR,      /* var */
    RX_CALL,     /* fn(args) */
    RX_BIN,      /* op: + - * / > < G(>=) L(<=) E(==) N(!=) */
    RX_NEG,      /* -args[0] */
    RX_GRADIENT, /* the op's true local chain rule */
} rx_kind;

/* x0, y0: the layer's input and output in the reference pass (DeepLIFT) */
/* V_ARG0, V_ARG1: the layer's own numbers (ir_node.arg: leaky_relu's slope, clamp's min and max, ...), named in
 * rule bodies by the op's parameter names (ops.def PARAMS) */
typedef enum { V_A, V_W, V_B, V_LOW, V_HIGH, V_R, V_X, V_Y, V_Z, V_X0, V_Y0, V_ARG0, V_ARG1, V_COUNT } rx_var;
/* unpool(e) / unpool0(e): in a max pooling rule, route an output-shaped value to the window maxima of x
 * (of x0), giving an input-shaped value */
typedef enum {
    F_POS,
    F_NEG,
    F_ABS,
    F_SIGN,
    F_STEP,
    F_SHARE,
    F_WHERE,
    F_MAX,
    F_MIN,
    F_UNPOOL,
    F_UNPOOL0,
    F_EXP, /* math functions of one argument (pow: of two, the exponent a number) */
    F_LOG,
    F_SQRT,
    F_POW,
    F_TANH,
    F_SIGMOID,
    F_SOFTPLUS,
    F_ERF,
    F_SUM, /* reductions over the layer's outputs per sample (or per channel): sum, mean, std (unbiased), and
              max / min with one argument */
    F_MEAN,
    F_STD,
    F_QUANTILE, /* quantile(v, q): the q-quantile (0 <= q <= 1), linear between order statistics as torch.quantile */
    RX_FN_COUNT
} rx_fn;

typedef struct rx {
    rx_kind kind;
    xai_loc loc;
    double num;
    double *vec;
    int n_vec;
    rx_var var;
    rx_fn fn;
    int op;
    struct rx *args[3];
    int n_args;
    double stabilize; /* share(..., stabilize = eps) */
    int has_stabilize;
    struct rx *stabilize_expr; /* share(..., stabilize = e) when e is not a number: an expression of z */
    struct rx *denominator;    /* share(C, denominator = D): contributions D summed into the denominator */
    int per_channel;           /* a reduction (sum, mean, std, max, min) per channel instead of per sample */
    int per_axis;              /* a reduction along the axis of the softmax the rule is on (per = axis) */
} rx;

const char *rx_var_name(rx_var v);
const char *rx_fn_name(rx_fn f);
/* Canonical text of an expression (used to compare and cache weight transforms). */
void rx_print(const rx *e, FILE *out);
char *rx_text(const rx *e); /* malloc'd */
/* sum, mean, std, or max / min with one argument */
int rx_is_reduction(const rx *e);

/* The rule a layer gets. */
typedef struct rule_use {
    const char *rule; /* rule name (for messages and dumps) */
    rx *body;
    xai_loc where; /* the assignment that chose it (or the rule definition for defaults) */
} rule_use;

typedef enum {
    METHOD_LRP,
    METHOD_GRADIENT,
    METHOD_IG,
    METHOD_SMOOTHGRAD,
    METHOD_DEEPLIFT,
    METHOD_CAM,
    METHOD_GRADCAM,
    METHOD_GRADCAM_PP,
    METHOD_ACTMAX,
    METHOD_COUNT
} explain_method;
typedef enum { POST_NONE, POST_ABS, POST_SQUARE, POST_TIMES_INPUT, POST_POWER } explain_post;
/* Captum's integration rules */
typedef enum { QUAD_GAUSSLEGENDRE, QUAD_LEFT, QUAD_RIGHT, QUAD_MIDDLE, QUAD_TRAPEZOID } ig_quadrature;

typedef struct explain_spec {
    char *name;
    xai_loc loc;
    int network; /* index into ir_module.graphs */
    explain_method method;
    ir_seed seed;
    int at_node;       /* relevance wanted at this node's output; -1: at the input */
    int from_node;     /* `from L`: the backward pass starts at this node, the target one of its channels; -1:
                          at the logits, the target a class */
    rule_use *rules;   /* per node of the network graph (rule NULL where none applies) */
    explain_post post; /* gradient, smoothgrad */
    double post_power; /* POST_POWER: |result|^post_power */
    int steps;         /* integrated gradients */
    ig_quadrature quadrature;
    double baseline; /* IG baseline / DeepLIFT reference when none is given at run time */
    int samples;     /* smoothgrad */
    double sigma;    /* smoothgrad: absolute noise standard deviation */
    uint64_t rng_seed;
    ir_reduce variant; /* smoothgrad: REDUCE_MEAN, REDUCE_MEAN_SQ, REDUCE_VAR */
    double noise;      /* smoothgrad: the noise given (a fraction of the input range); -1: sigma given */
    /* a member of a smoothgrad sweep (`noise=[...]`, `sigma=[...]`, `samples=[...]`; sema_explain.c): the block's
     * name (this spec is NAME_k), and its cell: row = noise level, column = samples, k = row * sweep_cols + col.
     * NULL: not a member. */
    const char *sweep;
    int sweep_row, sweep_col, sweep_rows, sweep_cols;
    int cam_layer;             /* cam, gradcam, gradcam_pp: the spatial layer whose maps are weighted */
    int upsample;              /* the map is resized (bilinear) to the input's H x W */
    int align_corners;         /* bilinear sampling: 0 = half-pixel centres (PyTorch's default), 1 = corners */
    ir_am am;                  /* activation_maximization: its settings (image / logits are set by the rules) */
    int generator;             /* activation_maximization(generator=G): index into ir_module.graphs, or -1 */
    rule_use *generator_rules; /* per node of the generator: its gradient rule */
} explain_spec;

typedef struct explain_set {
    explain_spec *specs;
    int n_specs;
    void **allocations; /* every rx and string allocated for the specs */
    int n_allocations, cap_allocations;
} explain_set;

/* The stage's two passes (sema_explain.c, explain_build.c). */
typedef struct xai_program xai_program;
/* Checks every explain block of the program against the networks of m and returns the specs (reports to d). */
explain_set *sema_explanations(xai_diag *d, const xai_program *p, const ir_module *m);
/* Builds an explanation graph for every spec and appends it to m->explanations. Rule bodies that cannot
 * be generated (a non-separable share, a body of the wrong kind for its op) are reported to d.
 * Returns the number of errors reported. */
int explain_build(xai_diag *d, ir_module *m, const explain_set *s);

void explain_set_free(explain_set *s);
/* For a pass that rewrites network graph `network` (n_nodes nodes) before explain_build (spec_nodes.c): sets keep[i]
 * for the nodes whose own values an explanation reads (`at`, `from`, a CAM's layer, a rule with a reduction over a
 * whole layer). Returns 0 if the graph must not change at all (a generator, activation maximisation). */
int explain_nodes_read(const explain_set *s, int network, int n_nodes, unsigned char *keep);
/* After such a pass moved nodes: node i of the network is now node remap[i]. */
void explain_remap_nodes(explain_set *s, int network, const int *remap, int n_nodes);
/* The members of sweep `name` in row-major order (noise, then samples): up to max spec indices written to
 * members; returns how many there are (0: no such sweep). rows / cols (may be NULL) get the grid's size. */
int explain_sweep_members(const explain_set *s, const char *name, int *members, int max, int *rows, int *cols);
/* "noise 0.1 (sigma 0.1), samples 50" or "sigma 0.2, samples 100": a smoothgrad spec's parameters */
void explain_smoothgrad_text(const explain_spec *sp, char *buf, size_t len);
void explain_dump(const explain_set *s, const ir_module *m, FILE *out);

#endif
