/* Semantic analysis of rules, presets and explain blocks (internal to the explain stage): the state of the
 * check, and rule instantiation (sema_rules.c). */
#ifndef XAIC_SEMA_EXPLAIN_H
#define XAIC_SEMA_EXPLAIN_H

#include "ast.h"
#include "explain.h"
#include "load.h"
#include "rx.h"

typedef struct sema_explain_ctx {
    xai_diag *d;
    explain_set *set;
    const ast_rule **rules;
    int n_rules;
    const ast_preset **presets;
    int n_presets;
    const ir_module *module;       /* the networks (a generator is one of them) */
    const ir_graph *net;           /* the network of the explain block being checked */
    const struct sweep_cell *cell; /* the smoothgrad sweep member being checked (sema_explain.c), or NULL */
} sema_explain_ctx;

/* Names bound to values: a rule's or preset's parameters. */
typedef struct sx_env {
    const char **names;
    rx **values;
    int n;
    const struct sx_env *parent;
} sx_env;

rx *sx_eval_arg(sema_explain_ctx *c, const ast_expr *e, const sx_env *env);
int sx_bind(sema_explain_ctx *c, const char *what, const char *name, const ast_param *params, int n_params,
            const ast_expr *call, const sx_env *env, sx_env *out);
/* The body of `rule` called with `call`'s arguments (NULL: defaults), or NULL after reporting; its `requires`
 * are checked with those arguments and reported at `site` (where the user chose the rule or its preset). */
rx *sx_instantiate(sema_explain_ctx *c, const ast_rule *rule, const ast_expr *call, const sx_env *env, xai_loc site);
/* The rule's `requires` conditions hold for these parameter values (rule_requires.c); 0 after reporting. */
int sx_check_requires(sema_explain_ctx *c, const ast_rule *rule, const sx_env *params, xai_loc site);
void sx_collect_definitions(sema_explain_ctx *c, const xai_program *p);
const ast_rule *sx_find_rule(const sema_explain_ctx *c, const char *name);
const ast_preset *sx_find_preset(const sema_explain_ctx *c, const char *name);
int sx_rule_applies(const ast_rule *r, const char *op);
/* "dense, conv2d, ...": the ops a rule can be declared on (their selectors), for messages */
void sx_rule_ops(char *buf, size_t len);
/* node i of g takes a rule (not the input or a softmax) */
static inline int sx_takes_rule(const ir_graph *g, int i) { return ir_op_is(g->nodes[i].op, OPF_RULE); }
/* the name rules and selectors use for node n's op ("batchnorm" for an unfoldable batchnorm) */
static inline const char *sx_selector(const ir_node *n) { return ir_ops[n->op].selector; }

#endif
