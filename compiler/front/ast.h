/* AST of a .xai file, as produced by grammar/xai.y. Pure syntax: no name resolution, no meaning.
 * Every node carries its source location. Nodes are allocated from one arena per program and freed
 * together by ast_free. */
#ifndef XAIC_AST_H
#define XAIC_AST_H

#include <stddef.h>
#include "diag.h"

typedef struct ast_arena ast_arena;

/* ---- expressions (layer definitions, call arguments, rule bodies, explain settings) ---- */
typedef enum {
    EX_NUMBER, /* number: 3, 0.25, 1e-6 (is_int says whether it was written without '.' or exponent) */
    EX_STRING, /* "text" (escapes resolved) */
    EX_IDENT,  /* name */
    EX_LIST,   /* [e, e, ...] */
    EX_CALL,   /* name(args) */
    EX_UNARY,  /* op: '-' */
    EX_BINARY, /* op: '+', '-', '*', '/', '>', '<', 'G' (>=), 'L' (<=), 'E' (==), 'N' (!=) */
} ast_expr_kind;

typedef struct ast_expr ast_expr;
typedef struct ast_arg {
    const char *name; /* NULL for a positional argument; "stabilize" in share(C, stabilize=1e-6) */
    xai_loc name_loc;
    ast_expr *value;
} ast_arg;

struct ast_expr {
    ast_expr_kind kind;
    xai_loc loc;
    double number;       /* EX_NUMBER */
    int is_int;          /* EX_NUMBER */
    const char *text;    /* EX_STRING contents, EX_IDENT name, EX_CALL callee name */
    int op;              /* EX_UNARY / EX_BINARY */
    ast_expr *lhs, *rhs; /* EX_BINARY: both; EX_UNARY: lhs */
    ast_expr **items;    /* EX_LIST */
    int n_items;
    ast_arg *args; /* EX_CALL */
    int n_args;
};

/* ---- network ---- */
typedef enum {
    NS_WEIGHTS, /* weights "file.safetensors" [strict=false]; */
    NS_INPUT,   /* input x[1, 28, 28] range [0, 1] image(...); */
    NS_LAYER,   /* name = expr [from "prefix"]; */
    NS_OUTPUT,  /* output name [, name ...]; */
} ast_net_stmt_kind;

typedef struct ast_net_stmt {
    ast_net_stmt_kind kind;
    xai_loc loc;
    const char *name; /* NS_INPUT, NS_LAYER: the defined name */
    xai_loc name_loc;
    const char *path; /* NS_WEIGHTS: the file as written */
    xai_loc path_loc;
    ast_arg *options; /* NS_WEIGHTS: named options, `strict=false` (checked by sema) */
    int n_options;
    ast_expr **dims; /* NS_INPUT: shape without batch (number expressions) */
    int n_dims;
    int has_range; /* NS_INPUT */
    ast_expr *range_low, *range_high;
    ast_expr *image;  /* NS_INPUT: image(...) preprocessing (an EX_CALL), or NULL */
    ast_expr *value;  /* NS_LAYER: the right-hand side, normally an EX_CALL */
    const char *from; /* NS_LAYER: parameter prefix given with `from`, or NULL */
    xai_loc from_loc;
    const char **outputs; /* NS_OUTPUT */
    xai_loc *output_locs;
    int n_outputs;
} ast_net_stmt;

typedef struct ast_network {
    const char *name;
    xai_loc loc;
    ast_net_stmt *stmts;
    int n_stmts;
} ast_network;

/* ---- rule definitions:  rule NAME(p = default, q) on op, op { local = expr; ...; expr; } ---- */
typedef struct ast_param {
    const char *name;
    xai_loc loc;
    ast_expr *default_value; /* NULL if required */
} ast_param;

typedef struct ast_let { /* a local binding inside a rule body */
    const char *name;
    xai_loc loc;
    ast_expr *value;
} ast_let;

typedef struct ast_rule {
    const char *name;
    xai_loc loc;
    ast_param *params;
    int n_params;
    const char **ops; /* op types it applies to */
    xai_loc *op_locs;
    int n_ops;
    ast_expr **requires; /* `requires c1, c2`: conditions on the parameters, checked where the rule is used */
    int n_requires;
    ast_let *lets;
    int n_lets;
    ast_expr *body; /* the final expression */
} ast_rule;

/* ---- settings shared by explain blocks and presets ----
 *   key value;       e.g.  method gradient;  seed logit;  rules epsilon_plus;  post square;  at act2;
 *   selector: rule;  e.g.  relu: guided;  fc2: epsilon(0.01);  first: zbox(0, 1);             */
typedef enum { ES_SETTING, ES_ASSIGN } ast_explain_stmt_kind;

typedef struct ast_explain_stmt {
    ast_explain_stmt_kind kind;
    xai_loc loc;
    const char *key; /* ES_SETTING: the keyword; ES_ASSIGN: the selector (layer, op type, `first`) */
    xai_loc key_loc;
    ast_expr *value; /* the value / the rule (EX_IDENT or EX_CALL) */
} ast_explain_stmt;

typedef struct ast_explain {
    const char *name;
    xai_loc loc;
    const char *network; /* `for NET` */
    xai_loc network_loc;
    ast_explain_stmt *stmts;
    int n_stmts;
} ast_explain;

/* preset NAME(p = default, ...) { selector: rule; ... }  -- a named set of rule assignments */
typedef struct ast_preset {
    const char *name;
    xai_loc loc;
    ast_param *params;
    int n_params;
    ast_explain_stmt *stmts;
    int n_stmts;
} ast_preset;

typedef struct ast_import {
    const char *path; /* as written, relative to the importing file */
    xai_loc loc;
} ast_import;

/* ---- a whole file ---- */
typedef enum { TOP_IMPORT, TOP_NETWORK, TOP_RULE, TOP_PRESET, TOP_EXPLAIN } ast_top_kind;

typedef struct ast_top {
    ast_top_kind kind;
    union {
        ast_import import;
        ast_network network;
        ast_rule rule;
        ast_preset preset;
        ast_explain explain;
    } u;
} ast_top;

typedef struct ast_file {
    const xai_source *src;
    ast_top *items;
    int n_items;
    ast_arena *arena;
} ast_file;

/* Parses one source. Syntax errors go to `d` (all of them: the parser recovers at ';' and '}').
 * Returns NULL on out-of-memory only; check d->errors for syntax errors. */
ast_file *ast_parse(xai_diag *d, const xai_source *src);
void ast_free(ast_file *f);

/* --dump=ast: a stable, indented text form (tests compare against it). */
void ast_dump(const ast_file *f, FILE *out);
void ast_dump_expr(const ast_expr *e, FILE *out);

/* Arena helpers for the parser. ast_alloc returns zeroed memory aligned for any type, or NULL on
 * out-of-memory; ast_strdup copies n bytes and adds a NUL. */
void *ast_alloc(ast_arena *a, size_t size);
const char *ast_strdup(ast_arena *a, const char *s, size_t n);
/* Creating and freeing an arena (ast_parse makes one per file; ast_free frees it). */
ast_arena *ast_arena_new(void);
void ast_arena_free(ast_arena *a);

#endif
