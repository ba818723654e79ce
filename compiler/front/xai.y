/* Parser for .xai files (language v1, see docs/language.md). Builds the AST of compiler/ast.h.
 *
 * Error handling: syntax errors are reported through the xai_diag of the parse state and the parser
 * recovers at ';' (statements) and at '}' (blocks and top-level items), so one run reports every
 * error of a file. Messages are produced by yyreport_syntax_error below: they name what was expected
 * and what was found ("expected ';' after the layer definition, found identifier 'act1'").
 *
 * Memory: every node lives in the file's arena, so error recovery never has to free anything and a
 * failed parse cannot leak. */

%define api.pure full
%define api.prefix {xai_}
%define parse.error custom
%define parse.lac full
%locations
%param {yyscan_t scanner}
%parse-param {xai_parse_state *ps}

%code requires {
#include <setjmp.h>
#include "ast.h"

#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

/* A growable array whose storage lives in the arena (old storage is simply abandoned on growth). */
typedef struct xai_vec {
    void *data;
    int n, cap;
} xai_vec;

/* One statement of a rule body before the body is checked: a local binding or an expression. */
typedef struct xai_rule_stmt {
    const char *name;   /* NULL for a bare expression */
    xai_loc loc;
    ast_expr *value;
} xai_rule_stmt;

/* State shared by the scanner (as its yyextra) and the parser (as a parse parameter). */
typedef struct xai_parse_state {
    xai_diag *diag;
    ast_arena *arena;
    const xai_source *src;
    jmp_buf out_of_memory;      /* ast_parse's landing point when the arena cannot grow */
    xai_vec items;              /* ast_top, the file's top-level items in order */

    /* scanner position: line/col of the next character to read (1-based) */
    int line, col;
    /* where the token before the current one ended, so that "expected ';'" can point just after it */
    int prev_end_line, prev_end_col;
    int cur_end_line, cur_end_col;
    /* the current token as written (truncated), for "found identifier 'act1'" */
    char token_text[40];

    /* what is being parsed, for "expected ';' after <context>"; set by mid-rule actions */
    const char *context;
    /* tokens returned so far, and the number of the first token after the last lexical error */
    int tokens, lex_error_token;
    int last_syntax_error_line;
} xai_parse_state;

/* Maximum nesting of an expression; deeper ones are rejected so later (recursive) stages are safe. */
#define XAI_MAX_EXPR_DEPTH 1000
}

%code provides {
int xai_lex(XAI_STYPE *lvalp, XAI_LTYPE *llocp, yyscan_t scanner);
/* Arena allocation that never returns NULL: on out-of-memory it jumps back to ast_parse. */
void *xai_parse_alloc(xai_parse_state *ps, size_t size);
const char *xai_parse_strdup(xai_parse_state *ps, const char *s, size_t n);
}

%code {
#include <stdio.h>
#include <string.h>

static void xai_error(XAI_LTYPE *loc, yyscan_t scanner, xai_parse_state *ps, const char *msg);

/* An expression node plus its nesting depth (private to the parser; ast_expr is the first member so
 * a pointer to one is a pointer to the other). */
typedef struct expr_node {
    ast_expr expr;
    int depth;
} expr_node;

static xai_loc to_loc(const xai_parse_state *ps, XAI_LTYPE l)
{
    xai_loc loc = { ps->src, l.first_line, l.first_column, l.last_line == l.first_line ? l.last_column : 0 };
    return loc;
}
#define LOC(l) to_loc(ps, (l))

static XAI_LTYPE span(XAI_LTYPE first, XAI_LTYPE last)
{
    XAI_LTYPE l = { first.first_line, first.first_column, last.last_line, last.last_column };
    return l;
}

static void vec_push(xai_parse_state *ps, xai_vec *v, const void *elem, size_t size)
{
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 4;
        void *data = xai_parse_alloc(ps, (size_t)cap * size);
        if (v->n) memcpy(data, v->data, (size_t)v->n * size);
        v->data = data;
        v->cap = cap;
    }
    memcpy((char *)v->data + (size_t)v->n * size, elem, size);
    v->n++;
}
static xai_vec vec_empty(void) { xai_vec v = { NULL, 0, 0 }; return v; }

static int depth_of(const ast_expr *e) { return e ? ((const expr_node *)e)->depth : 0; }

static ast_expr *new_expr(xai_parse_state *ps, ast_expr_kind kind, XAI_LTYPE l, int child_depth)
{
    expr_node *n = xai_parse_alloc(ps, sizeof *n);
    n->expr.kind = kind;
    n->expr.loc = LOC(l);
    n->depth = child_depth + 1;
    /* Report only at the exact limit: one error per offending expression, not one per level. */
    if (n->depth == XAI_MAX_EXPR_DEPTH + 1)
        diag_error(ps->diag, n->expr.loc, "expression is nested too deeply (more than %d levels); "
                   "split it into named parts", XAI_MAX_EXPR_DEPTH);
    return &n->expr;
}

static ast_expr *new_binary(xai_parse_state *ps, int op, ast_expr *lhs, ast_expr *rhs, XAI_LTYPE l)
{
    int d = depth_of(lhs) > depth_of(rhs) ? depth_of(lhs) : depth_of(rhs);
    ast_expr *e = new_expr(ps, EX_BINARY, l, d);
    e->op = op;
    e->lhs = lhs;
    e->rhs = rhs;
    return e;
}

static void push_item(xai_parse_state *ps, const ast_top *item) { vec_push(ps, &ps->items, item, sizeof *item); }

static void add_network(xai_parse_state *ps, const char *name, XAI_LTYPE name_loc, xai_vec stmts)
{
    ast_top t = { .kind = TOP_NETWORK };
    t.u.network.name = name;
    t.u.network.loc = LOC(name_loc);
    t.u.network.stmts = stmts.data;
    t.u.network.n_stmts = stmts.n;
    push_item(ps, &t);
}

static void add_preset(xai_parse_state *ps, const char *name, XAI_LTYPE name_loc, xai_vec params, xai_vec stmts)
{
    ast_top t = { .kind = TOP_PRESET };
    t.u.preset.name = name;
    t.u.preset.loc = LOC(name_loc);
    t.u.preset.params = params.data;
    t.u.preset.n_params = params.n;
    t.u.preset.stmts = stmts.data;
    t.u.preset.n_stmts = stmts.n;
    push_item(ps, &t);
}

static void add_explain(xai_parse_state *ps, const char *name, XAI_LTYPE name_loc, const char *network,
                        XAI_LTYPE network_loc, xai_vec stmts)
{
    ast_top t = { .kind = TOP_EXPLAIN };
    t.u.explain.name = name;
    t.u.explain.loc = LOC(name_loc);
    t.u.explain.network = network;
    t.u.explain.network_loc = LOC(network_loc);
    t.u.explain.stmts = stmts.data;
    t.u.explain.n_stmts = stmts.n;
    push_item(ps, &t);
}

static void build_rule_body(xai_parse_state *ps, ast_rule *r, xai_vec stmts, XAI_LTYPE close_brace,
                            int report);

/* `ops` is an xai_vec of ast_param (names with locations, see ident_list). `check_body` is false when
 * the body had syntax errors: its shape then says nothing, and more messages would only pile on. */
static void add_rule(xai_parse_state *ps, const char *name, XAI_LTYPE name_loc, xai_vec params,
                     xai_vec ops, xai_vec requires, xai_vec body, XAI_LTYPE close_brace, int check_body)
{
    ast_top t = { .kind = TOP_RULE };
    ast_rule *r = &t.u.rule;
    r->name = name;
    r->loc = LOC(name_loc);
    r->params = params.data;
    r->n_params = params.n;
    r->requires = requires.data;
    r->n_requires = requires.n;
    r->n_ops = ops.n;
    r->ops = xai_parse_alloc(ps, sizeof(const char *) * (size_t)ops.n);
    r->op_locs = xai_parse_alloc(ps, sizeof(xai_loc) * (size_t)ops.n);
    const ast_param *names = ops.data;
    for (int i = 0; i < ops.n; i++) {
        r->ops[i] = names[i].name;
        r->op_locs[i] = names[i].loc;
    }
    build_rule_body(ps, r, body, close_brace, check_body);
    push_item(ps, &t);
}

/* The parsed explain/preset statements (an xai_vec of ast_explain_stmt). */
static void push_setting(xai_parse_state *ps, xai_vec *v, ast_explain_stmt_kind kind, const char *key,
                         XAI_LTYPE key_loc, ast_expr *value, XAI_LTYPE whole)
{
    ast_explain_stmt s = { kind, LOC(whole), key, LOC(key_loc), value };
    vec_push(ps, v, &s, sizeof s);
}

/* A rule body is a list of `name = expr;` bindings followed by exactly one expression. Checked here,
 * after parsing, so that the grammar stays LALR(1) and the message can say what to do. */
static void build_rule_body(xai_parse_state *ps, ast_rule *r, xai_vec stmts, XAI_LTYPE close_brace,
                            int report)
{
    xai_rule_stmt *s = stmts.data;
    r->lets = xai_parse_alloc(ps, sizeof(ast_let) * (size_t)(stmts.n ? stmts.n : 1));
    for (int i = 0; i < stmts.n; i++) {
        if (s[i].name) {
            ast_let *let = &r->lets[r->n_lets++];
            let->name = s[i].name;
            let->loc = s[i].loc;
            let->value = s[i].value;
        } else if (i == stmts.n - 1) {
            r->body = s[i].value;
        } else if (report) {
            diag_error(ps->diag, s[i].value->loc, "only the last statement of a rule body can be a bare "
                       "expression; give this one a name (name = ...;) or remove it");
        }
    }
    if (!r->body && report)
        diag_error(ps->diag, LOC(close_brace), "rule '%s' must end with an expression (the relevance or "
                   "gradient it computes), e.g. 'share(a * w);'", r->name);
}
}

%union {
    const char *str;
    struct { double value; int is_int; } num;
    int ival;
    ast_expr *expr;
    ast_arg arg;
    ast_param param;
    xai_vec vec;
    xai_rule_stmt rstmt;
    ast_net_stmt nstmt;
}

%token END 0 "end of file"
%token <str> IDENT "identifier"
%token <str> STRING "string"
%token <num> NUMBER "number"
%token IMPORT "'import'" NETWORK "'network'" WEIGHTS "'weights'" INPUT "'input'" OUTPUT "'output'"
       RULE "'rule'" ON "'on'" PRESET "'preset'" EXPLAIN "'explain'" FOR "'for'" RANGE "'range'"
       FROM "'from'" IMAGE "'image'"
%token LE "'<='" GE "'>='" EQ "'=='" NE "'!='"

%nonassoc '<' '>' LE GE EQ NE
%left '+' '-'
%left '*' '/'
%precedence UMINUS

%type <expr> expr primary image_opt
%type <vec> expr_list items_opt args_opt arg_list options_opt option_list ident_list params_opt param_list requires_opt
%type <vec> net_stmts net_body settings settings_body rule_stmts rule_body
%type <arg> arg
%type <param> param
%type <rstmt> rule_stmt
%type <nstmt> net_stmt range_opt
%type <str> from_opt
%type <ival> rule_body_start

%%

file
    : %empty                 { (void)yynerrs; /* keeps clang's unused-but-set warning quiet */ }
    | file item
    ;

item
    : import
    | network
    | rule
    | preset
    | explain
      /* Top-level recovery: skip to the end of the statement, or over a whole { ... } block, or up
       * to the next top-level keyword (after a missing ';' or '}'). */
    | error ';'               { yyerrok; }
    | error '{' skip '}'      { yyerrok; }
    | error import            { yyerrok; }
    | error network           { yyerrok; }
    | error rule              { yyerrok; }
    | error preset            { yyerrok; }
    | error explain           { yyerrok; }
    ;

/* Any tokens with balanced braces (what a broken top-level item's block contains). */
skip
    : %empty
    | skip skip_token
    | skip '{' skip '}'
    ;
skip_token
    : IDENT | STRING | NUMBER | IMPORT | NETWORK | WEIGHTS | INPUT | OUTPUT | RULE | ON | PRESET
    | EXPLAIN | FOR | RANGE | FROM | LE | GE | EQ | NE | '<' | '>' | '+' | '-' | '*' | '/' | '='
    | ':' | ';' | ',' | '(' | ')' | '[' | ']'
    ;

import
    : IMPORT { ps->context = "the import"; } STRING import_end
        {
            ast_top t = { .kind = TOP_IMPORT };
            t.u.import.path = $3;
            t.u.import.loc = LOC(@3);
            push_item(ps, &t);
        }
    ;

import_end
    : ';'
    | error                  /* a missing ';': keep the import, resume at the next item */
    ;

/* ---- network ---- */

network
    : NETWORK IDENT '{' net_body '}'       { add_network(ps, $2, @2, $4); }
      /* A missing '}': recovery from the error it causes stops at the next top-level keyword. */
    | NETWORK IDENT '{' net_stmts error    { add_network(ps, $2, @2, $4); }
    ;

net_body
    : net_stmts
    | net_stmts error        { $$ = $1; }   /* an error just before '}' */
    ;

net_stmts
    : %empty                 { $$ = vec_empty(); }
    | net_stmts net_stmt     { $$ = $1; $2.loc = LOC(@2); vec_push(ps, &$$, &$2, sizeof $2); }
    | net_stmts error ';'    { $$ = $1; yyerrok; }
    ;

net_stmt
    : WEIGHTS { ps->context = "the weights statement"; } STRING options_opt ';'
        {
            memset(&$$, 0, sizeof $$);
            $$.kind = NS_WEIGHTS;
            $$.path = $3;
            $$.path_loc = LOC(@3);
            $$.options = $4.data;
            $$.n_options = $4.n;
        }
    | INPUT { ps->context = "the input declaration"; } IDENT '[' expr_list ']' range_opt image_opt ';'
        {
            $$ = $7;
            $$.image = $8;
            $$.kind = NS_INPUT;
            $$.name = $3;
            $$.name_loc = LOC(@3);
            $$.dims = $5.data;
            $$.n_dims = $5.n;
        }
    | IDENT '=' { ps->context = "the layer definition"; } expr from_opt ';'
        {
            memset(&$$, 0, sizeof $$);
            $$.kind = NS_LAYER;
            $$.name = $1;
            $$.name_loc = LOC(@1);
            $$.value = $4;
            $$.from = $5;
            if ($5) $$.from_loc = LOC(@5);
        }
    | OUTPUT { ps->context = "the output statement"; } ident_list ';'
        {
            memset(&$$, 0, sizeof $$);
            $$.kind = NS_OUTPUT;
            $$.n_outputs = $3.n;
            $$.outputs = xai_parse_alloc(ps, sizeof(const char *) * (size_t)$3.n);
            $$.output_locs = xai_parse_alloc(ps, sizeof(xai_loc) * (size_t)$3.n);
            const ast_param *names = $3.data;
            for (int i = 0; i < $3.n; i++) {
                $$.outputs[i] = names[i].name;
                $$.output_locs[i] = names[i].loc;
            }
        }
    ;

range_opt
    : %empty                          { memset(&$$, 0, sizeof $$); }
    | RANGE '[' expr ',' expr ']'     { memset(&$$, 0, sizeof $$); $$.has_range = 1; $$.range_low = $3; $$.range_high = $5; }
    ;

/* image(resize=..., crop=..., mean=..., std=...): how image files become this input (checked by sema) */
image_opt
    : %empty                 { $$ = NULL; }
    | IMAGE '(' args_opt ')'
        {
            int d = 0;
            const ast_arg *args = $3.data;
            for (int i = 0; i < $3.n; i++)
                if (depth_of(args[i].value) > d) d = depth_of(args[i].value);
            $$ = new_expr(ps, EX_CALL, @1, d);
            $$->text = "image";
            $$->args = $3.data;
            $$->n_args = $3.n;
        }
    ;

/* the weights statement's options: strict=false (named only; sema checks them) */
options_opt
    : %empty                         { $$ = vec_empty(); }
    | option_list
    ;

option_list
    : IDENT '=' expr                 { $$ = vec_empty(); ast_arg a = { $1, LOC(@1), $3 }; vec_push(ps, &$$, &a, sizeof a); }
    | option_list ',' IDENT '=' expr { $$ = $1; ast_arg a = { $3, LOC(@3), $5 }; vec_push(ps, &$$, &a, sizeof a); }
    ;

from_opt
    : %empty                 { $$ = NULL; }
    | FROM STRING            { $$ = $2; @$ = @2; }
    ;

/* A comma-separated list of names with their locations (stored as ast_param, default unused). */
ident_list
    : IDENT                  { $$ = vec_empty(); ast_param p = { $1, LOC(@1), NULL }; vec_push(ps, &$$, &p, sizeof p); }
    | ident_list ',' IDENT   { $$ = $1; ast_param p = { $3, LOC(@3), NULL }; vec_push(ps, &$$, &p, sizeof p); }
    ;

/* ---- rule ---- */

rule
    : RULE IDENT params_opt ON ident_list requires_opt '{' rule_body_start rule_body '}'
        { add_rule(ps, $2, @2, $3, $5, $6, $9, @10, ps->diag->errors == $8); }
    | RULE IDENT params_opt ON ident_list requires_opt '{' rule_body_start rule_stmts error
        { add_rule(ps, $2, @2, $3, $5, $6, $9, @10, 0); }
    ;

/* `requires cond, cond, ...`: what the rule's parameters must satisfy (checked where the rule is used) */
requires_opt
    : %empty                 { $$ = vec_empty(); }
    | IDENT { ps->context = "the rule's requirements"; } expr_list
        {
            $$ = $3;
            if (strcmp($1, "requires"))
                diag_error(ps->diag, LOC(@1), "expected 'requires' or '{' after the op list, found identifier '%s'", $1);
        }
    ;

/* The error count when a block opens (lets an action know whether its block had syntax errors). */
rule_body_start
    : %empty                 { $$ = ps->diag->errors; ps->context = "the rule's expression"; }
    ;

rule_body
    : rule_stmts
    | rule_stmts error       { $$ = $1; }
    ;

rule_stmts
    : %empty                 { $$ = vec_empty(); }
    | rule_stmts rule_stmt   { $$ = $1; vec_push(ps, &$$, &$2, sizeof $2); ps->context = "the rule's expression"; }
    | rule_stmts error ';'   { $$ = $1; yyerrok; ps->context = "the rule's expression"; }
    ;

rule_stmt
    : IDENT '=' { ps->context = "the local definition"; } expr ';'
        { $$.name = $1; $$.loc = LOC(@1); $$.value = $4; }
    | expr ';'
        { $$.name = NULL; $$.loc = $1->loc; $$.value = $1; }
    ;

params_opt
    : %empty                 { $$ = vec_empty(); }
    | '(' ')'                { $$ = vec_empty(); }
    | '(' param_list ')'     { $$ = $2; }
    ;

param_list
    : param                  { $$ = vec_empty(); vec_push(ps, &$$, &$1, sizeof $1); }
    | param_list ',' param   { $$ = $1; vec_push(ps, &$$, &$3, sizeof $3); }
    ;

param
    : IDENT                  { $$.name = $1; $$.loc = LOC(@1); $$.default_value = NULL; }
    | IDENT '=' expr         { $$.name = $1; $$.loc = LOC(@1); $$.default_value = $3; }
    ;

/* ---- preset and explain: lists of `key value;` and `selector: rule;` ---- */

preset
    : PRESET IDENT params_opt '{' settings_body '}'  { add_preset(ps, $2, @2, $3, $5); }
    | PRESET IDENT params_opt '{' settings error     { add_preset(ps, $2, @2, $3, $5); }
    ;

explain
    : EXPLAIN IDENT FOR IDENT '{' settings_body '}'  { add_explain(ps, $2, @2, $4, @4, $6); }
    | EXPLAIN IDENT FOR IDENT '{' settings error     { add_explain(ps, $2, @2, $4, @4, $6); }
    ;

settings_body
    : settings
    | settings error         { $$ = $1; }
    ;

settings
    : %empty                 { $$ = vec_empty(); }
    | settings IDENT { ps->context = "the setting"; } expr ';'
        { $$ = $1; push_setting(ps, &$$, ES_SETTING, $2, @2, $4, span(@2, @5)); }
    | settings FROM { ps->context = "the setting"; } expr ';' /* `from L`: a keyword, for imports */
        { $$ = $1; push_setting(ps, &$$, ES_SETTING, "from", @2, $4, span(@2, @5)); }
    | settings IDENT ':' { ps->context = "the rule assignment"; } expr ';'
        { $$ = $1; push_setting(ps, &$$, ES_ASSIGN, $2, @2, $5, span(@2, @6)); }
    | settings error ';'     { $$ = $1; yyerrok; }
    ;

/* ---- expressions ---- */

expr
    : expr '+' expr          { $$ = new_binary(ps, '+', $1, $3, @$); }
    | expr '-' expr          { $$ = new_binary(ps, '-', $1, $3, @$); }
    | expr '*' expr          { $$ = new_binary(ps, '*', $1, $3, @$); }
    | expr '/' expr          { $$ = new_binary(ps, '/', $1, $3, @$); }
    | expr '<' expr          { $$ = new_binary(ps, '<', $1, $3, @$); }
    | expr '>' expr          { $$ = new_binary(ps, '>', $1, $3, @$); }
    | expr LE expr           { $$ = new_binary(ps, 'L', $1, $3, @$); }
    | expr GE expr           { $$ = new_binary(ps, 'G', $1, $3, @$); }
    | expr EQ expr           { $$ = new_binary(ps, 'E', $1, $3, @$); }
    | expr NE expr           { $$ = new_binary(ps, 'N', $1, $3, @$); }
    | '-' expr %prec UMINUS
        {
            if ($2->kind == EX_NUMBER) {
                /* Fold `-3` into a negative literal: settings like `range [-1, 1]` then hold numbers. */
                $$ = $2;
                $$->number = -$$->number;
                $$->loc = LOC(@$);
            } else {
                $$ = new_expr(ps, EX_UNARY, @$, depth_of($2));
                $$->op = '-';
                $$->lhs = $2;
            }
        }
    | primary
    ;

primary
    : NUMBER
        {
            $$ = new_expr(ps, EX_NUMBER, @1, 0);
            $$->number = $1.value;
            $$->is_int = $1.is_int;
        }
    | STRING                 { $$ = new_expr(ps, EX_STRING, @1, 0); $$->text = $1; }
    | IDENT                  { $$ = new_expr(ps, EX_IDENT, @1, 0); $$->text = $1; }
    | IDENT '(' args_opt ')'
        {
            int d = 0;
            ast_arg *args = $3.data;
            for (int i = 0; i < $3.n; i++)
                if (depth_of(args[i].value) > d) d = depth_of(args[i].value);
            $$ = new_expr(ps, EX_CALL, @1, d);   /* located at the callee: "unknown op 'conv3d'" */
            $$->text = $1;
            $$->args = args;
            $$->n_args = $3.n;
        }
    | '[' items_opt ']'
        {
            int d = 0;
            ast_expr **items = $2.data;
            for (int i = 0; i < $2.n; i++)
                if (depth_of(items[i]) > d) d = depth_of(items[i]);
            $$ = new_expr(ps, EX_LIST, @$, d);
            $$->items = items;
            $$->n_items = $2.n;
        }
    | '(' expr ')'           { $$ = $2; }
    ;

items_opt
    : %empty                 { $$ = vec_empty(); }
    | expr_list
    ;

expr_list
    : expr                   { $$ = vec_empty(); vec_push(ps, &$$, &$1, sizeof $1); }
    | expr_list ',' expr     { $$ = $1; vec_push(ps, &$$, &$3, sizeof $3); }
    ;

args_opt
    : %empty                 { $$ = vec_empty(); }
    | arg_list
    ;

arg_list
    : arg                    { $$ = vec_empty(); vec_push(ps, &$$, &$1, sizeof $1); }
    | arg_list ',' arg       { $$ = $1; vec_push(ps, &$$, &$3, sizeof $3); }
    ;

arg
    : expr                   { $$.name = NULL; $$.name_loc = loc_none(); $$.value = $1; }
    | IDENT '=' expr         { $$.name = $1; $$.name_loc = LOC(@1); $$.value = $3; }
    ;

%%

/* ---- syntax error messages ---- */

/* How a token is named in "expected X" lists. */
static const char *expected_name(yysymbol_kind_t sym)
{
    return sym == YYSYMBOL_YYEOF ? "end of file" : yysymbol_name(sym);
}

static int is_keyword(yysymbol_kind_t sym)
{
    switch (sym) {
    case YYSYMBOL_IMPORT: case YYSYMBOL_NETWORK: case YYSYMBOL_WEIGHTS: case YYSYMBOL_INPUT:
    case YYSYMBOL_OUTPUT: case YYSYMBOL_RULE: case YYSYMBOL_ON: case YYSYMBOL_PRESET:
    case YYSYMBOL_EXPLAIN: case YYSYMBOL_FOR: case YYSYMBOL_RANGE: case YYSYMBOL_FROM:
        return 1;
    default:
        return 0;
    }
}

static int is_binary_operator(yysymbol_kind_t sym)
{
    return sym == YYTRANSLATE('+') || sym == YYTRANSLATE('-') || sym == YYTRANSLATE('*')
        || sym == YYTRANSLATE('/') || sym == YYTRANSLATE('<') || sym == YYTRANSLATE('>')
        || sym == YYSYMBOL_LE || sym == YYSYMBOL_GE || sym == YYSYMBOL_EQ || sym == YYSYMBOL_NE;
}

/* "identifier 'act1'", "number '5'", "keyword 'for'", "'}'", "end of file". */
static void describe_found(const xai_parse_state *ps, yysymbol_kind_t sym, char *buf, size_t size)
{
    if (sym == YYSYMBOL_YYEOF)
        snprintf(buf, size, "end of file");
    else if (sym == YYSYMBOL_IDENT || sym == YYSYMBOL_NUMBER)
        snprintf(buf, size, "%s '%s'", sym == YYSYMBOL_IDENT ? "identifier" : "number", ps->token_text);
    else if (sym == YYSYMBOL_STRING)
        snprintf(buf, size, "string %s", ps->token_text);
    else if (is_keyword(sym))
        snprintf(buf, size, "keyword %s", yysymbol_name(sym));
    else
        snprintf(buf, size, "%s", yysymbol_name(sym));
}

/* Builds "expected A, B or C[ after CONTEXT], found TOKEN" (or "unexpected TOKEN" when too many things
 * would fit). Tokens that could merely continue what came before (operators, `from`) are left out when
 * something else is expected too: after `conv2d(x)` the useful hint is "';'", not "'+'". */
static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, xai_parse_state *ps)
{
    (void)scanner;
    /* The lookahead is the token after a lexical error, or the one after that: most likely the
     * parser trips over the same mistake, which has been reported already. */
    if (ps->lex_error_token && ps->tokens - ps->lex_error_token <= 1 && ps->tokens >= ps->lex_error_token)
        return 0;
    yysymbol_kind_t all[YYNTOKENS];
    int n_all = yypcontext_expected_tokens(ctx, all, YYNTOKENS);
    if (n_all < 0) n_all = 0;

    int want_semicolon = 0, n_ops = 0, n_expr_starts = 0;
    const yysymbol_kind_t expr_starts[] = { YYSYMBOL_IDENT, YYSYMBOL_NUMBER, YYSYMBOL_STRING,
                                            YYTRANSLATE('('), YYTRANSLATE('['), YYTRANSLATE('-') };
    const int n_expr_start_kinds = (int)(sizeof expr_starts / sizeof expr_starts[0]);
    for (int i = 0; i < n_all; i++) {
        if (all[i] == YYTRANSLATE(';')) want_semicolon = 1;
        if (is_binary_operator(all[i])) n_ops++;
        for (int k = 0; k < n_expr_start_kinds; k++)
            if (all[i] == expr_starts[k]) n_expr_starts++;
    }
    int want_expression = n_expr_starts == n_expr_start_kinds;

    const char *names[YYNTOKENS + 1];
    int n = 0;
    if (want_expression) names[n++] = "an expression";
    for (int i = 0; i < n_all; i++) {
        yysymbol_kind_t s = all[i];
        int is_expr_start = 0;
        for (int k = 0; k < n_expr_start_kinds; k++)
            if (s == expr_starts[k]) is_expr_start = 1;
        if (want_expression && is_expr_start) continue;
        if (s == YYSYMBOL_YYEOF) continue;       /* "expected end of file" is never the useful hint */
        if (n_ops && (is_binary_operator(s) || s == YYTRANSLATE('(') || s == YYTRANSLATE('=')))
            continue;                            /* an operand is complete; operators are implied */
        if (want_semicolon && s == YYSYMBOL_FROM) continue;
        names[n++] = expected_name(s);
    }
    if (n == 0 && n_ops)  /* only operators fit: name them after all */
        for (int i = 0; i < n_all && n < YYNTOKENS; i++)
            if (is_binary_operator(all[i])) names[n++] = expected_name(all[i]);

    yysymbol_kind_t found = yypcontext_token(ctx);
    char found_text[96];
    describe_found(ps, found, found_text, sizeof found_text);

    /* A missing ';' or closing bracket is best shown right after the previous token when the next one
     * is on a later line (otherwise the caret lands on the innocent next statement); likewise for end
     * of file. */
    int only_closers = n > 0;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], "';'") && strcmp(names[i], "')'") && strcmp(names[i], "']'")
            && strcmp(names[i], "','") && strcmp(names[i], "'}'"))
            only_closers = 0;
    const XAI_LTYPE *l = yypcontext_location(ctx);
    xai_loc loc = to_loc(ps, *l);
    if ((found == YYSYMBOL_YYEOF || ((want_semicolon || only_closers) && l->first_line > ps->prev_end_line))
        && ps->prev_end_line > 0) {
        loc.line = ps->prev_end_line;
        loc.col = ps->prev_end_col + 1;
        loc.end_col = 0;
    }

    /* A second syntax error on the line of the previous one is nearly always a consequence of it
     * (recovery resumed in the wrong place): one message per line keeps the output trustworthy. */
    if (loc.line == ps->last_syntax_error_line) return 0;
    ps->last_syntax_error_line = loc.line;

    enum { MAX_LISTED = 6 };
    if (n == 0 || n > MAX_LISTED) {
        diag_error(ps->diag, loc, "unexpected %s", found_text);
        return 0;
    }
    char list[512] = "";
    for (int i = 0; i < n; i++) {
        const char *sep = i == 0 ? "" : i == n - 1 ? " or " : ", ";
        strncat(list, sep, sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    if (want_semicolon && ps->context)
        diag_error(ps->diag, loc, "expected %s after %s, found %s", list, ps->context, found_text);
    else
        diag_error(ps->diag, loc, "expected %s, found %s", list, found_text);
    return 0;
}

/* Called by bison for what is not a syntax error: the parser stack outgrew YYMAXDEPTH. */
static void xai_error(XAI_LTYPE *loc, yyscan_t scanner, xai_parse_state *ps, const char *msg)
{
    (void)scanner;
    if (strcmp(msg, "memory exhausted") == 0)
        diag_error(ps->diag, to_loc(ps, *loc), "input is nested too deeply for the parser; simplify it");
    else
        diag_error(ps->diag, to_loc(ps, *loc), "%s", msg);
}
