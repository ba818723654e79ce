/* AST support: the node arena and the --dump=ast text form. The parser itself is grammar/xai.y. */
#include "ast.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena: nodes are never freed one by one, so a bump allocator over a chunk list suffices ---- */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    alignas(max_align_t) unsigned char data[];
} arena_chunk;

struct ast_arena {
    arena_chunk *chunks; /* the newest first; allocation happens in the newest */
};

enum { ARENA_CHUNK_SIZE = 16 * 1024 };

ast_arena *ast_arena_new(void) { return calloc(1, sizeof(ast_arena)); }

void ast_arena_free(ast_arena *a)
{
    if (!a) return;
    for (arena_chunk *c = a->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

void *ast_alloc(ast_arena *a, size_t size)
{
    const size_t align = alignof(max_align_t);
    size = (size + align - 1) & ~(align - 1);
    if (size == 0) size = align;
    arena_chunk *c = a->chunks;
    if (!c || c->size - c->used < size) {
        /* A big request gets a chunk of its own behind the current one, so the current chunk's free
         * space is not wasted. */
        size_t cap = size > ARENA_CHUNK_SIZE / 4 ? size : ARENA_CHUNK_SIZE;
        arena_chunk *fresh = malloc(sizeof *fresh + cap);
        if (!fresh) return NULL;
        fresh->used = 0;
        fresh->size = cap;
        if (c && cap == size) {
            fresh->next = c->next;
            c->next = fresh;
        } else {
            fresh->next = c;
            a->chunks = fresh;
        }
        c = fresh;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

const char *ast_strdup(ast_arena *a, const char *s, size_t n)
{
    char *p = ast_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void ast_free(ast_file *f)
{
    if (f) ast_arena_free(f->arena); /* f itself lives in its arena */
}

/* ---- dump ----
 *
 * Format (one node per line, two spaces of indentation per level, `@line:col` = the node's location):
 *
 *   file PATH
 *     import "PATH" @L:C
 *     network NAME @L:C
 *       weights "PATH" NAME=VALUE ... @L:C                 (options only if given)
 *       input NAME [DIM, ...] range [LOW, HIGH] @L:C        (range part only if given)
 *       layer NAME = EXPR from "PREFIX" @L:C                (from part only if given)
 *       output NAME, ... @L:C
 *     rule NAME(PARAM = DEFAULT, PARAM) on OP, ... @L:C
 *       let NAME = EXPR @L:C
 *       body EXPR @L:C                                      (absent if the body had errors)
 *     preset NAME(PARAMS) @L:C
 *       setting KEY VALUE @L:C   |   assign SELECTOR: RULE @L:C
 *     explain NAME for NETWORK @L:C
 *       setting KEY VALUE @L:C   |   assign SELECTOR: RULE @L:C
 *
 * Expressions are printed by ast_dump_expr: numbers in the shortest form that reads back exactly
 * (a non-integer literal always shows a '.' or an exponent: 1.0 stays "1.0"), strings quoted with
 * \" \\ \n \t escapes, calls as f(x, name=value), lists as [a, b], every binary operation and unary
 * minus in parentheses: "((a * w) + b)", "(-x)". */

static void dump_number(double v, int is_int, FILE *out)
{
    char buf[40];
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(buf, sizeof buf, "%.*g", precision, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (!is_int && !strpbrk(buf, ".eEni")) strcat(buf, ".0"); /* keep 1.0 distinct from 1 */
    fputs(buf, out);
}

static void dump_string(const char *s, FILE *out)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static const char *binary_op_text(int op)
{
    switch (op) {
    case 'G': return ">=";
    case 'L': return "<=";
    case 'E': return "==";
    case 'N': return "!=";
    case '+': return "+";
    case '-': return "-";
    case '*': return "*";
    case '/': return "/";
    case '<': return "<";
    case '>': return ">";
    default: return "?";
    }
}

void ast_dump_expr(const ast_expr *e, FILE *out)
{
    if (!e) {
        fputs("<none>", out);
        return;
    }
    switch (e->kind) {
    case EX_NUMBER: dump_number(e->number, e->is_int, out); break;
    case EX_STRING: dump_string(e->text, out); break;
    case EX_IDENT: fputs(e->text, out); break;
    case EX_LIST:
        fputc('[', out);
        for (int i = 0; i < e->n_items; i++) {
            if (i) fputs(", ", out);
            ast_dump_expr(e->items[i], out);
        }
        fputc(']', out);
        break;
    case EX_CALL:
        fprintf(out, "%s(", e->text);
        for (int i = 0; i < e->n_args; i++) {
            if (i) fputs(", ", out);
            if (e->args[i].name) fprintf(out, "%s=", e->args[i].name);
            ast_dump_expr(e->args[i].value, out);
        }
        fputc(')', out);
        break;
    case EX_UNARY:
        fprintf(out, "(%c", e->op);
        ast_dump_expr(e->lhs, out);
        fputc(')', out);
        break;
    case EX_BINARY:
        fputc('(', out);
        ast_dump_expr(e->lhs, out);
        fprintf(out, " %s ", binary_op_text(e->op));
        ast_dump_expr(e->rhs, out);
        fputc(')', out);
        break;
    }
}

static void dump_loc(xai_loc loc, FILE *out) { fprintf(out, " @%d:%d\n", loc.line, loc.col); }

static void dump_params(const ast_param *params, int n, FILE *out)
{
    if (!n) return;
    fputc('(', out);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", out);
        fputs(params[i].name, out);
        if (params[i].default_value) {
            fputs(" = ", out);
            ast_dump_expr(params[i].default_value, out);
        }
    }
    fputc(')', out);
}

static void dump_settings(const ast_explain_stmt *stmts, int n, FILE *out)
{
    for (int i = 0; i < n; i++) {
        const ast_explain_stmt *s = &stmts[i];
        fprintf(out, s->kind == ES_SETTING ? "    setting %s " : "    assign %s: ", s->key);
        ast_dump_expr(s->value, out);
        dump_loc(s->loc, out);
    }
}

static void dump_network(const ast_network *n, FILE *out)
{
    fprintf(out, "  network %s", n->name);
    dump_loc(n->loc, out);
    for (int i = 0; i < n->n_stmts; i++) {
        const ast_net_stmt *s = &n->stmts[i];
        switch (s->kind) {
        case NS_WEIGHTS:
            fputs("    weights ", out);
            dump_string(s->path, out);
            for (int k = 0; k < s->n_options; k++) {
                fprintf(out, " %s=", s->options[k].name);
                ast_dump_expr(s->options[k].value, out);
            }
            break;
        case NS_INPUT:
            fprintf(out, "    input %s [", s->name);
            for (int k = 0; k < s->n_dims; k++) {
                if (k) fputs(", ", out);
                ast_dump_expr(s->dims[k], out);
            }
            fputc(']', out);
            if (s->has_range) {
                fputs(" range [", out);
                ast_dump_expr(s->range_low, out);
                fputs(", ", out);
                ast_dump_expr(s->range_high, out);
                fputc(']', out);
            }
            if (s->image) {
                fputc(' ', out);
                ast_dump_expr(s->image, out);
            }
            break;
        case NS_LAYER:
            fprintf(out, "    layer %s = ", s->name);
            ast_dump_expr(s->value, out);
            if (s->from) {
                fputs(" from ", out);
                dump_string(s->from, out);
            }
            break;
        case NS_OUTPUT:
            fputs("    output ", out);
            for (int k = 0; k < s->n_outputs; k++) fprintf(out, "%s%s", k ? ", " : "", s->outputs[k]);
            break;
        }
        dump_loc(s->loc, out);
    }
}

static void dump_rule(const ast_rule *r, FILE *out)
{
    fprintf(out, "  rule %s", r->name);
    dump_params(r->params, r->n_params, out);
    fputs(" on ", out);
    for (int i = 0; i < r->n_ops; i++) fprintf(out, "%s%s", i ? ", " : "", r->ops[i]);
    dump_loc(r->loc, out);
    for (int i = 0; i < r->n_requires; i++) {
        fputs("    requires ", out);
        ast_dump_expr(r->requires[i], out);
        dump_loc(r->requires[i] -> loc, out);
    }
    for (int i = 0; i < r->n_lets; i++) {
        fprintf(out, "    let %s = ", r->lets[i].name);
        ast_dump_expr(r->lets[i].value, out);
        dump_loc(r->lets[i].loc, out);
    }
    if (r->body) {
        fputs("    body ", out);
        ast_dump_expr(r->body, out);
        dump_loc(r->body->loc, out);
    }
}

void ast_dump(const ast_file *f, FILE *out)
{
    fprintf(out, "file %s\n", f->src ? f->src->path : "?");
    for (int i = 0; i < f->n_items; i++) {
        const ast_top *t = &f->items[i];
        switch (t->kind) {
        case TOP_IMPORT:
            fputs("  import ", out);
            dump_string(t->u.import.path, out);
            dump_loc(t->u.import.loc, out);
            break;
        case TOP_NETWORK: dump_network(&t->u.network, out); break;
        case TOP_RULE: dump_rule(&t->u.rule, out); break;
        case TOP_PRESET:
            fprintf(out, "  preset %s", t->u.preset.name);
            dump_params(t->u.preset.params, t->u.preset.n_params, out);
            dump_loc(t->u.preset.loc, out);
            dump_settings(t->u.preset.stmts, t->u.preset.n_stmts, out);
            break;
        case TOP_EXPLAIN:
            fprintf(out, "  explain %s for %s", t->u.explain.name, t->u.explain.network);
            dump_loc(t->u.explain.loc, out);
            dump_settings(t->u.explain.stmts, t->u.explain.n_stmts, out);
            break;
        }
    }
}
