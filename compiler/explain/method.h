/* An explanation method as one unit: its parameters (named, typed, bounded, with defaults), the explain-block
 * settings it accepts, the rules its layers get by default, and the backward graph it builds. One file per
 * method family (method_*.c); methods.c lists them all, and every message that names methods comes from
 * that list. What a method's entry needs (a target, options, samples, an optimisation loop) follows from
 * the graph it builds (ir_graph.has_target, has_options, the sample region, am). */
#ifndef XAIC_METHOD_H
#define XAIC_METHOD_H

#include "backward.h"
#include "sema_explain.h"

typedef enum {
    MP_INT,      /* an integer literal in [min, max] */
    MP_NUMBER,   /* a number in [min, max] (min_open / max_open: strict) */
    MP_CHOICE,   /* one of `choices` (space-separated names); the value is its index */
    MP_LAYER,    /* a layer of the network */
    MP_NETWORK,  /* another network of the program */
    MP_BASELINE, /* `zero` or a number (a tensor is given at run time) */
} method_param_kind;

typedef struct method_param {
    const char *name;
    method_param_kind kind;
    double min, max;
    int min_open, max_open;
    const char *choices;
} method_param;

/* A parameter after binding: given (or not) and its value. */
typedef struct method_arg {
    const ast_arg *given; /* NULL: not given (the method's default applies) */
    int bad;              /* given, but not a valid value (reported) */
    double number;        /* MP_INT, MP_NUMBER, MP_BASELINE */
    int choice;           /* MP_CHOICE */
    int node;             /* MP_LAYER: the node in the network */
    int network;          /* MP_NETWORK: the graph in the module */
} method_arg;

#define METHOD_MAX_PARAMS 10

/* given with a valid value: what a method's configure uses rather than its default */
static inline int method_has(const method_arg *a) { return a->given && !a->bad; }

/* Explain-block settings besides `method` a method may accept. */
enum { SETTING_RULES = 1, SETTING_AT = 2, SETTING_POST = 4, SETTING_FROM = 8 };

/* Seeds an explain block may choose (`seed NAME`), as bits 1 << SEED_*. */
#define SEEDS_OUTPUTS                                                                                                  \
    ((1u << SEED_LOGIT) | (1u << SEED_ONE) | (1u << SEED_SOFTMAX) | (1u << SEED_RELU_LOGIT) | (1u << SEED_SUM))

typedef struct method_def {
    const char *name;
    explain_method id;
    const method_param *params;
    int n_params;
    unsigned settings;        /* SETTING_* */
    unsigned seeds;           /* the seeds it accepts; 0: none (it has its own objective) */
    int seed_is_gradient;     /* the chosen output's gradient seeds the backward pass (gradient methods) */
    const char *seed_refusal; /* the message when a seed is refused, or NULL for the generic one */
    ir_seed own_seed;         /* the seed of a method that takes none (its own objective) */
    /* the rule a layer gets when nothing selects one (a prelude rule) */
    const char *(*default_rule)(const ir_node *n);
    /* Sets spec from the bound arguments (defaults where not given) and reports what no single argument
     * shows (arguments that exclude each other); args are in `params` order. */
    void (*configure)(sema_explain_ctx *c, const ast_expr *call, const ir_graph *net, const method_arg *args,
                      explain_spec *spec);
    /* Builds the explanation graph (backward_begin .. backward_finish of backward_pass.c) for c->spec on c->net. */
    ir_graph *(*build)(rules_ctx *c);
} method_def;

/* Binds a method call's named arguments to its parameters, checking types and bounds at the argument;
 * returns 0 after reporting (args then holds what could be bound). */
int method_bind(sema_explain_ctx *c, const method_def *m, const ast_expr *call, const ir_graph *net, method_arg *args);
/* The default-rule functions methods share: LRP's and DeepLIFT's columns of ops.def, and `gradient`. */
const char *method_lrp_default_rule(const ir_node *n);
const char *method_deeplift_default_rule(const ir_node *n);
const char *method_gradient_default_rule(const ir_node *n);

/* The registry (methods.c). */
const method_def *method_find(const char *name);
const method_def *method_of(explain_method id);
/* "a, b and c": the names of the methods (that accept `setting`, when not 0), for messages */
void method_names(unsigned setting, char *buf, size_t len);

/* The methods (one file each). */
extern const method_def method_lrp, method_gradient, method_integrated_gradients, method_smoothgrad, method_deeplift,
    method_cam, method_gradcam, method_gradcam_pp, method_activation_maximization;

#endif
