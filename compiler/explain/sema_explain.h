/* Semantic analysis of explain blocks, rules and presets (internal to sema). */
#ifndef XAIC_SEMA_EXPLAIN_H
#define XAIC_SEMA_EXPLAIN_H

#include "ast.h"
#include "explain.h"
#include "load.h"

/* Checks every explain block of the program against the networks of m and returns the specs. */
explain_set *sema_explanations(xai_diag *d, const xai_program *p, const ir_module *m);

/* --- shared by sema_explain.c and sema_rules.c --- */
typedef struct sema_explain_ctx {
    xai_diag *d;
    explain_set *set;
    const ast_rule **rules;
    int n_rules;
    const ast_preset **presets;
    int n_presets;
    const ir_module *module;      /* the networks (a generator is one of them) */
} sema_explain_ctx;

/* Names bound to values: a rule's or preset's parameters. */
typedef struct sx_env {
    const char **names;
    rx **values;
    int n;
    const struct sx_env *parent;
} sx_env;

void *sx_alloc(explain_set *s, size_t size);
rx *rx_new(explain_set *s, rx_kind kind, xai_loc loc);
rx *rx_number(explain_set *s, double v, xai_loc loc);
rx *sx_eval_arg(sema_explain_ctx *c, const ast_expr *e, const sx_env *env);
int sx_bind(sema_explain_ctx *c, const char *what, const char *name, const ast_param *params, int n_params,
            const ast_expr *call, const sx_env *env, sx_env *out);
/* The body of `rule` called with `call`'s arguments (NULL: defaults), or NULL after reporting. */
rx *sx_instantiate(sema_explain_ctx *c, const ast_rule *rule, const ast_expr *call, const sx_env *env);
void sx_collect_definitions(sema_explain_ctx *c, const xai_program *p);
const ast_rule *sx_find_rule(const sema_explain_ctx *c, const char *name);
const ast_preset *sx_find_preset(const sema_explain_ctx *c, const char *name);
int sx_rule_applies(const ast_rule *r, const char *op);
/* node i of g gets a rule (not the input, a flatten or a softmax) */
int sx_takes_rule(const ir_graph *g, int i);
/* a method argument: a number >= lo (an integer if asked) / one of names; 0 or -1 after reporting */
int sx_method_number(sema_explain_ctx *c, const ast_arg *arg, double lo, int integer, double *out);
int sx_method_choice(sema_explain_ctx *c, const ast_arg *arg, const char *const *names, int n);
/* method activation_maximization(...) (sema_actmax.c): fills spec->am, spec->generator and its rules */
void sx_actmax_method(sema_explain_ctx *c, const ast_expr *v, const ir_graph *g, explain_spec *spec);
#endif
