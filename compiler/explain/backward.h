/* Backward graphs, the internal interface of the explain stage's lower half. From the bottom up:
 *   rule_form.c, rule_basis.c   what a rule body is (shares, masks, weight transforms; the W / W+ basis)
 *   backward_graph.c            appending nodes, summing relevance, rule expressions as elementwise code
 *   backward_linear.c           share rules of linear layers and sums, the layers' linear maps
 *   backward_gradient.c         each op's chain rule (ops.def GRADIENT)
 *   backward_rules.c            a layer's rule applied
 *   backward_pass.c             the skeleton methods build on (begin, forward copies, seed, propagate, finish)
 * The methods (method_*.c) sit above all of these. */
#ifndef XAIC_BACKWARD_H
#define XAIC_BACKWARD_H

#include "explain.h"
#include "ir.h"

#define MAX_GROUPS   8 /* distinct input factors f(a) in one share */
#define MAX_BRANCHES 8 /* shares in one rule */
#define MAX_MASKS    4 /* nested where() conditions on one share */

/* Allocations of the rules stage that live only while one rule is analysed. */
typedef struct rx_pool {
    void **items;
    int n, cap;
} rx_pool;

rx *rx_pool_new(rx_pool *p, rx_kind kind);
void rx_pool_free(rx_pool *p);

/* One input factor f(a) of a share and the weight transform g(w) that multiplies it:
 * z_j = sum_groups sum_i f(a_i) g(w_ij) + h(b_j). */
typedef struct share_group {
    char *f_key; /* canonical text of f ("1" when the term has no input factor) */
    const rx *f; /* NULL for 1 */
    rx *g;       /* the weight transform, an expression over w and numbers */
    char *g_key;
} share_group;

typedef struct share_info {
    share_group groups[MAX_GROUPS];
    int n_groups;
    rx *h; /* bias transform over b and numbers, NULL if none */
    char *h_key;
    double stabilize;         /* 0: none (a zero denominator gives 0) */
    const rx *stabilize_expr; /* or an expression e of z (and reductions): the denominator is z + e * sign(z) */
    struct share_info *den;   /* share(C, denominator = D): D's groups give z (malloc'd); NULL: C's own */
} share_info;

/* coef * mask * share */
typedef struct branch {
    double coef;
    const rx *masks[MAX_MASKS]; /* conditions on z (comparisons), all must hold */
    int mask_negated[MAX_MASKS];
    int n_masks;
    share_info share;
} branch;

typedef struct rule_form {
    int is_gradient;
    branch branches[MAX_BRANCHES];
    int n_branches;
} rule_form;

/* Analyses the body of a rule for a linear op (dense, conv2d, pools, add). `input_nonneg` lets pos(a) be a
 * and neg(a) be 0. Reports at the body's locations and returns 0 when the body is not a gradient, a share,
 * a linear combination of shares or where(...) of those, or when a share is not separable. */
int rules_linear_form(xai_diag *d, rx_pool *p, const rx *body, int input_nonneg, const char *layer, rule_form *out);
void rule_form_free(rule_form *f);

/* A linear layer's rule over the weight sets W and W+ (rules_basis.c): z_b = sum_k alpha[b][k] LIN(f_k; W)
 * + beta[b][k] LIN(f_k; W+) + h_b; transposed product t = LIN^T(sum_b t_coef[t][b] s_b; t_pos[t] ? W+ : W);
 * R_in = sum_k f_k * sum_t use[k][t] T_t. */
#define BASIS_MAX_T 16
typedef struct basis_form {
    int n_factors;
    const share_group *factor[MAX_GROUPS]; /* a group with each distinct input factor f_k */
    int is_input[MAX_GROUPS];              /* f_k = a: LIN(a; W) is the forward's output minus its bias */
    int need_w[MAX_GROUPS], need_pos[MAX_GROUPS];
    double alpha[MAX_BRANCHES][MAX_GROUPS], beta[MAX_BRANCHES][MAX_GROUPS];
    int n_t;
    int t_pos[BASIS_MAX_T];
    double t_coef[BASIS_MAX_T][MAX_BRANCHES];
    double use[MAX_GROUPS][BASIS_MAX_T];
} basis_form;

/* 1 when the weight transform g is alpha * w + beta * pos(w) exactly (structurally) */
int rules_weight_basis(const rx *g, double *alpha, double *beta);
/* 1 when every weight transform of f is alpha * w + beta * pos(w) (and the form fits the limits above) */
int rules_basis_form(const rule_form *f, basis_form *bf);
/* forward-like + transposed kernels the basis form costs */
int rules_basis_kernels(const basis_form *bf);

/* Numeric value of an expression over w and b (and numbers). */
double rx_eval(const rx *e, double w, double b);
int rx_is_var(const rx *e, rx_var v);

/* ---- the state of one explanation being built ---- */

typedef struct wcache {
    const ir_const *src;
    char *key;
    ir_const *derived;
} wcache;

typedef struct rules_ctx {
    xai_diag *d;
    const explain_spec *spec;
    const ir_module *module; /* every network (activation maximisation composes a generator) */
    const ir_graph *net;     /* the network explained */
    ir_graph *g;             /* the explanation graph being built */
    int top;                 /* the network node explained: its output, or the logits under a softmax */
    int *R;                  /* per forward node: node holding the relevance at its output, or -1 */
    int *fwd;                /* per network node: its copy in the graph that the backward pass reads */
    int *fwd0;               /* per network node: its copy in the reference pass (DeepLIFT), or NULL */
    int mult;                /* samples per input of the backward pass (IG steps, SmoothGrad samples) */
    rx_pool pool;
    wcache *cache; /* weight transforms computed so far (shared by a module's explanations) */
    int n_cache;
    int failed;
    int layer; /* 1 + the forward node whose rule is being applied (0: none) */
} rules_ctx;

/* A weight set as a kernel reads it: a tensor, possibly through pos() or neg() at load time. */
typedef struct wset {
    ir_const *k;
    ir_weight_map map;
} wset;

static inline wset rules_plain_set(ir_const *k) { return (wset){ k, WMAP_NONE }; }
/* the graph node holding network node i's output in the pass the backward reads */
static inline int rules_fwd(const rules_ctx *c, int i) { return c->fwd[i]; }
static inline ir_ew *rules_ew(rules_ctx *c, ir_ew_kind k, ir_ew *a, ir_ew *b) { return ir_ew_new(c->g, k, a, b); }
static inline ir_ew *rules_ew_in(rules_ctx *c, int i) { return ir_ew_input(c->g, i); }
static inline ir_ew *rules_ew_num(rules_ctx *c, double v) { return ir_ew_num(c->g, v); }

/* ---- backward_graph.c ---- */
/* Appends a node (on the current samples and layer) and returns its index. */
int rules_node(rules_ctx *c, const ir_node *n);
int rules_eltwise(rules_ctx *c, const ir_shape *shape, const int *inputs, int n, ir_ew *expr);
/* Adds relevance r to what has reached node i so far. */
void rules_give(rules_ctx *c, int i, int r);
/* sum_k factors[k] * cs[k] (factor -1: 1), split so that no node reads more than IR_MAX_INPUTS */
int rules_sum_of_products(rules_ctx *c, const ir_shape *shape, const int *factors, const int *cs, int n);
/* What an elementwise expression of a rule reads: var_input maps a variable to an input slot (-1: not allowed
 * at the top level); var_node gives the node holding each variable (-1: none), which reductions read even
 * where the variable itself is not allowed (std(z) in a stabiliser); inputs[0 .. n) are the slots' nodes. */
typedef struct ew_frame {
    int var_input[V_COUNT];
    int var_node[V_COUNT];
    int inputs[IR_MAX_INPUTS];
    int n;
    const ir_shape *shape; /* of the expression's values */
    const char *layer;
    const float *op_args; /* the layer's own numbers (V_ARG0, V_ARG1), or NULL */
    int grouped;          /* the rule is on an OPF_GROUPED op: reductions may run per = axis ... */
    int axis;             /* ... along this axis of `shape` (-1: all of a sample's values) */
} ew_frame;
void rules_frame_init(ew_frame *f, const ir_shape *shape, const char *layer);
/* v readable at the top level from `node` (its slot), and by reductions */
int rules_frame_var(ew_frame *f, rx_var v, int node);
/* rx -> elementwise expression over f's slots; a reduction becomes an OP_LAYER_STAT node appended as a slot. */
ir_ew *rules_to_ew(rules_ctx *c, const rx *e, ew_frame *f);
/* a math function (pos ... softplus, pow, two-argument max and min) applied to lowered arguments */
ir_ew *rules_ew_call(rules_ctx *c, const rx *call, ir_ew *a, ir_ew *b);
/* the OP_LAYER_STAT node of reduction `call` over node v, its value spread over out_shape; along: 1 + the axis of
 * a per = axis reduction (its lines written back over themselves), 0 otherwise */
int rules_stat(rules_ctx *c, const rx *call, int v, const ir_shape *out_shape, int along);
/* used[v] = 1 for each variable v that e reads */
void rules_vars_used(const rx *e, int *used);
/* node i of network g is never negative (what lets a rule read pos(a) as a) */
int rules_nonneg(const ir_graph *g, int i);

/* ---- backward_linear.c ---- */
int rules_lin_t(rules_ctx *c, int i, int s, wset weights);        /* LIN^T(s; weights), shaped like the layer's input */
void rules_share_linear(rules_ctx *c, int i, const rule_form *f); /* dense, conv2d, pools under a share rule */
void rules_share_add(rules_ctx *c, int i, const rule_form *f);
/* a pool's weight per output position (1/N for average pooling), g(weight) when g is given */
ir_const *rules_pool_scale(rules_ctx *c, const ir_node *n, const ir_shape *in, const rx *g);

/* ---- backward_gradient.c: the GRADIENT column of ops.def ---- */
void backward_gradient_linear(rules_ctx *c, int i);
void backward_gradient_avgpool(rules_ctx *c, int i);
void backward_gradient_maxpool(rules_ctx *c, int i);
void backward_gradient_binary(rules_ctx *c, int i);
void backward_gradient_activation(rules_ctx *c, int i);
void backward_gradient_transpose(rules_ctx *c, int i);
void backward_gradient_concat(rules_ctx *c, int i);
void backward_gradient_slice(rules_ctx *c, int i);
void backward_gradient_relu(rules_ctx *c, int i);
void backward_gradient_sigmoid(rules_ctx *c, int i);
void backward_gradient_affine(rules_ctx *c, int i);
void backward_gradient_softmax(rules_ctx *c, int i);
void backward_gradient_matmul(rules_ctx *c, int i);
/* a matmul node of values a and b (operands read transposed as the flags say), shaped `shape` */
int rules_matmul(rules_ctx *c, int a, int b, int trans_a, int trans_b, const ir_shape *shape);
void backward_gradient_layernorm(rules_ctx *c, int i);
/* layernorm i's w and b in rules over it: the slope of each output in its centred input with the standard deviation
 * held constant, weight / sqrt(var + eps), and the bias, at each element of its output */
int rules_layernorm_slope(rules_ctx *c, int i);
int rules_layernorm_bias(rules_ctx *c, int i);
/* the RULE_VARS column of ops.def: binds the op's own variables an elementwise rule body reads (used[V_*]) */
void backward_rule_vars_layernorm(rules_ctx *c, int i, const int *used, ew_frame *f);

/* the RULE column of ops.def: a rule body other than gradient applied to a matmul (backward_rules.c) */
void backward_rule_matmul(rules_ctx *c, int i, const rule_use *use);

/* ---- backward_rules.c ---- */
/* Applies node i's rule: relevance at its output (c->R[i]) to its inputs. */
void rules_apply(rules_ctx *c, int i);

/* ---- backward_pass.c ---- */
/* The explanation graph with the network's forward nodes, c->top and the identity forward map; reports (and sets
 * c->failed) when the network's output cannot seed a class. */
ir_graph *backward_begin(rules_ctx *c);
ir_const *backward_vector(rules_ctx *c, const char *name, const double *v, int n);
/* A copy of the network's forward pass reading `input` instead of the network input, at `mult` samples
 * (malloc'd map: network node -> its copy). */
int *backward_forward_copy(rules_ctx *c, int input, int mult);
/* The baseline / reference input: spec->baseline unless xai_options gives one. */
int backward_reference(rules_ctx *c, const ir_shape *shape);
/* The seed at c->top (spec->seed) on the current samples: c->R[c->top]. */
void backward_seed(rules_ctx *c);
/* Applies the rules from c->top down, stopping at node `stop` (-1: the input). */
void backward_propagate(rules_ctx *c, int stop);
/* The relevance at node at_node (-1: the input; *at gets the node); reports and sets c->failed when none
 * arrives there. */
int backward_result(rules_ctx *c, int at_node, int *at);
/* spec->post (abs, square, times the input x) applied to r */
int backward_post(rules_ctx *c, int r, int x, const ir_shape *shape);
/* out is the graph's output; the graph takes the per-layer relevance (c->R). */
ir_graph *backward_finish(rules_ctx *c, int out);

#endif
