/* Semantic analysis of networks: statements, names, dependency order (cycles), then per-layer checks
 * (sema_ops.c) in that order. Explain blocks are checked for their network here; their meaning is
 * given by the rules stage. */
#include "sema.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "sema_args.h"
#include "sema_image.h"
#include "weights.h"

/* One name defined in a network: the input or a layer. */
typedef struct def {
    const char *name;
    xai_loc loc;
    const ast_net_stmt *stmt; /* NULL for the input */
    int refs[IR_MAX_INPUTS];  /* indices of the defs it reads */
    int n_refs;
    int state; /* DFS: 0 new, 1 on stack, 2 done */
    int node;  /* IR node index, -1 if not built (error upstream) */
    int bad;   /* has an error: dependents are skipped silently */
} def;

typedef struct net_ctx {
    xai_diag *d;
    const ast_network *net;
    def *defs;
    int n_defs;
    int *index; /* open-addressing hash of the defs' names: 1 + def, 0 empty */
    unsigned index_mask;
    int *order; /* topological order of defs */
    int n_order;
    ir_graph *g;
    weights_file wf;
    int have_weights;
} net_ctx;

static unsigned name_hash(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Lookups by name are constant time: a network of 100,000 layers (or as many mistakes) stays linear. */
static int find_def(const net_ctx *c, const char *name)
{
    for (unsigned h = name_hash(name) & c->index_mask;; h = (h + 1) & c->index_mask) {
        int k = c->index[h];
        if (!k) return -1;
        if (!strcmp(c->defs[k - 1].name, name)) return k - 1;
    }
}

static void index_def(net_ctx *c, int i)
{
    unsigned h = name_hash(c->defs[i].name) & c->index_mask;
    while (c->index[h]) h = (h + 1) & c->index_mask;
    c->index[h] = i + 1;
}

/* Levenshtein distance, to suggest a close name in "unknown layer" messages. */
static int edit_distance(const char *a, const char *b)
{
    int la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    int row[65];
    for (int j = 0; j <= lb; j++) row[j] = j;
    for (int i = 1; i <= la; i++) {
        int prev = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            int cur = row[j];
            int best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

static const char *closest_def(const net_ctx *c, const char *name)
{
    const char *best = NULL;
    int best_d = 3;
    for (int i = 0; i < c->n_defs; i++) {
        int dist = edit_distance(name, c->defs[i].name);
        if (dist < best_d) {
            best_d = dist;
            best = c->defs[i].name;
        }
    }
    return best;
}

static void report_unknown_layer(net_ctx *c, const ast_expr *e)
{
    const char *near = diag_over_limit(c->d) ? NULL : closest_def(c, e->text); /* not shown any more */
    if (near)
        diag_error(c->d, e->loc, "unknown layer '%s' in network '%s'; did you mean '%s'?", e->text, c->net->name, near);
    else
        diag_error(c->d, e->loc, "unknown layer '%s' in network '%s'; layers must be defined in this network", e->text,
                   c->net->name);
}

static void list_known_ops(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (int op = 0; op < OP_COUNT && used < len; op++)
        if (ir_op_is(op, OPF_LAYER)) used += snprintf(buf + used, len - used, "%s%s", used ? ", " : "", ir_op_name(op));
}

/* Pass 1: collect the input, weights, layers and output; check duplicates and references. */
static void collect(net_ctx *c, const ast_network *net, const char **output_name, xai_loc *output_loc,
                    const ast_net_stmt **input_stmt, const ast_net_stmt **weights_stmt)
{
    c->defs = calloc(net->n_stmts + 1, sizeof *c->defs);
    unsigned size = 16;
    while (size < 2u * (unsigned)net->n_stmts + 2) size *= 2;
    c->index = calloc(size, sizeof *c->index);
    c->index_mask = size - 1;
    for (int i = 0; i < net->n_stmts; i++) {
        const ast_net_stmt *s = &net->stmts[i];
        switch (s->kind) {
        case NS_WEIGHTS:
            if (*weights_stmt) {
                diag_error(c->d, s->loc, "network '%s' has a second `weights` statement; give one file", net->name);
                diag_note(c->d, (*weights_stmt)->loc, "the first one is here");
            } else
                *weights_stmt = s;
            break;
        case NS_OUTPUT:
            if (*output_name) {
                diag_error(c->d, s->loc, "network '%s' has a second `output` statement", net->name);
                diag_note(c->d, *output_loc, "the first one is here");
            } else if (s->n_outputs != 1) {
                diag_error(c->d, s->loc, "network '%s' names %d outputs; xaic v1 supports exactly one", net->name,
                           s->n_outputs);
                *output_name = s->outputs[0]; /* keeps going, so that no "no output" error follows */
                *output_loc = s->output_locs[0];
            } else {
                *output_name = s->outputs[0];
                *output_loc = s->output_locs[0];
            }
            break;
        case NS_INPUT:
            if (*input_stmt) {
                diag_error(c->d, s->loc, "network '%s' has a second input '%s'; xaic v1 supports one input", net->name,
                           s->name);
                break;
            }
            *input_stmt = s;
            /* the input is a name like the layers */
            __attribute__((fallthrough));
        case NS_LAYER: {
            int prev = find_def(c, s->name);
            if (prev >= 0) {
                diag_error(c->d, s->name_loc, "'%s' is defined twice in network '%s'; rename one of them", s->name,
                           net->name);
                diag_note(c->d, c->defs[prev].loc, "first defined here");
                break;
            }
            def *df = &c->defs[c->n_defs++];
            df->name = s->name;
            index_def(c, c->n_defs - 1);
            df->loc = s->name_loc;
            df->stmt = s->kind == NS_LAYER ? s : NULL;
            df->node = -1;
            break;
        }
        }
    }
}

/* Pass 2: resolve the layer references of each definition. */
static void resolve_refs(net_ctx *c)
{
    char ops[256];
    for (int i = 0; i < c->n_defs; i++) {
        def *df = &c->defs[i];
        if (!df->stmt) continue;
        const ast_expr *rhs = df->stmt->value;
        if (rhs->kind != EX_CALL) {
            diag_error(c->d, rhs->loc, "layer '%s' must be defined by an op call such as relu(x) or dense(x, 10)",
                       df->name);
            df->bad = 1;
            continue;
        }
        int op = ir_op_from_name(rhs->text);
        if (op < 0) {
            list_known_ops(ops, sizeof ops);
            diag_error(c->d, rhs->loc, "unknown op '%s'; known ops are %s", rhs->text, ops);
            df->bad = 1;
            continue;
        }
        /* the layer arguments: `arity` names, or a list of names (concat); a binary op may take a number */
        int arity = ir_ops[op].arity;
        const ast_expr *list = arity < 0 && rhs->n_args ? rhs->args[0].value : NULL;
        int n = arity < 0 ? (list && list->kind == EX_LIST ? list->n_items : 0) : arity;
        if ((arity < 0 && (!list || list->kind != EX_LIST || rhs->args[0].name || n < 1)) ||
            (arity > 0 && (rhs->n_args < arity || rhs->args[0].name || (arity == 2 && rhs->args[1].name)))) {
            diag_error(c->d, rhs->loc, "%s needs %s as its first argument%s", rhs->text,
                       arity < 0        ? "a list of layers"
                           : arity == 2 ? "two layers"
                                        : "a layer",
                       arity < 0        ? ": concat([a, b], axis=0)"
                           : arity == 2 ? "s: add(a, b)"
                                        : ", e.g. relu(x)");
            df->bad = 1;
            continue;
        }
        if (n > IR_MAX_INPUTS) {
            diag_error(c->d, list->loc, "%s takes at most %d layers, not %d; join them in steps", rhs->text,
                       IR_MAX_INPUTS, n);
            df->bad = 1;
            continue;
        }
        int numbers = 0;
        for (int k = 0; k < n; k++) {
            const ast_expr *a = list ? list->items[k] : rhs->args[k].value;
            int is_number = a->kind == EX_NUMBER || (a->kind == EX_UNARY && a->lhs->kind == EX_NUMBER);
            if (is_number && ir_op_is(op, OPF_BINARY) && !numbers++) continue; /* mul(x, 0.5): in sema_binary */
            if (a->kind != EX_IDENT) {
                diag_error(c->d, a->loc, "%s %d of %s must be a layer name%s", list ? "item" : "argument", k + 1,
                           rhs->text, ir_op_is(op, OPF_BINARY) ? " (or one number)" : "");
                df->bad = 1;
                continue;
            }
            int r = find_def(c, a->text);
            if (r < 0) {
                report_unknown_layer(c, a);
                df->bad = 1;
                continue;
            }
            df->refs[df->n_refs++] = r;
        }
    }
}

/* Pass 3: depth-first topological order; a back edge is a cycle, reported with its path. */
/* The cycle closed by reaching def i again, with the path stack[0 .. depth) that led there. */
static void report_cycle(net_ctx *c, int i, const int *stack, int depth)
{
    char path[512];
    size_t used = 0;
    int start = depth - 1;
    while (start > 0 && stack[start] != i) start--;
    for (int k = start; k < depth && used < sizeof path; k++)
        used += snprintf(path + used, sizeof path - used, "%s -> ", c->defs[stack[k]].name);
    if (used < sizeof path) snprintf(path + used, sizeof path - used, "%s", c->defs[i].name);
    diag_error(c->d, c->defs[i].loc, "layers form a cycle: %s; a network must be acyclic", path);
    c->defs[i].bad = 1;
}

/* Depth-first from def `root`, with an explicit stack (a chain of 100,000 layers must not exhaust the C
 * stack): a def is ordered after everything it reads; a back edge is a cycle. next[i]: the ref of def i
 * to visit next. */
static void visit(net_ctx *c, int root, int *stack, int *next)
{
    if (c->defs[root].state) return;
    int depth = 0;
    c->defs[root].state = 1;
    next[root] = 0;
    stack[depth++] = root;
    while (depth > 0) {
        int i = stack[depth - 1];
        def *df = &c->defs[i];
        if (next[i] == df->n_refs) {
            df->state = 2;
            c->order[c->n_order++] = i;
            depth--;
            continue;
        }
        int r = df->refs[next[i]];
        if (c->defs[r].state == 0) { /* descend; this ref is checked again when r is done */
            c->defs[r].state = 1;
            next[r] = 0;
            stack[depth++] = r;
            continue;
        }
        if (c->defs[r].state == 1) report_cycle(c, r, stack, depth);
        if (c->defs[r].bad || c->defs[r].state == 1) df->bad = 1;
        next[i]++;
    }
}

static char *resolve_relative(const char *base_file, const char *path)
{
    if (path[0] == '/') return strdup(path);
    char *copy = strdup(base_file);
    char *dir = dirname(copy);
    char *out = NULL;
    if (asprintf(&out, "%s/%s", dir, path) < 0) out = NULL;
    free(copy);
    return out;
}

static int number_value(xai_diag *d, const ast_expr *e, double *out)
{
    if (e->kind == EX_NUMBER) {
        *out = e->number;
        return 1;
    }
    if (e->kind == EX_UNARY && e->op == '-' && e->lhs->kind == EX_NUMBER) {
        *out = -e->lhs->number;
        return 1;
    }
    diag_error(d, e->loc, "expected a number");
    return 0;
}

static int build_input(net_ctx *c, const ast_net_stmt *s)
{
    ir_node n = { 0 };
    n.op = OP_INPUT;
    n.name = (char *)s->name;
    n.loc = s->name_loc;
    int ok = 1;
    if (s->n_dims < 1 || s->n_dims > 3 || s->n_dims == 2) {
        diag_error(c->d, s->loc, "input '%s' has %d dimensions; give [D] or [C, H, W] (without the batch)", s->name,
                   s->n_dims);
        ok = 0;
    }
    for (int k = 0; k < s->n_dims && k < IR_MAX_RANK; k++) {
        const ast_expr *e = s->dims[k];
        if (e->kind != EX_NUMBER || !e->is_int || e->number < 1 || e->number > 1 << 24) {
            diag_error(c->d, e->loc, "input dimension must be a positive integer");
            ok = 0;
        } else
            n.shape.dims[k] = (int)e->number;
    }
    n.shape.rank = s->n_dims <= IR_MAX_RANK ? s->n_dims : IR_MAX_RANK;
    if (ok && sema_checked_count(&n.shape) < 0) {
        diag_error(c->d, s->loc, "input '%s' has more than %lld values per sample", s->name,
                   (long long)SEMA_MAX_ELEMENTS);
        ok = 0;
    }
    if (s->has_range) {
        double lo, hi;
        if (number_value(c->d, s->range_low, &lo) && number_value(c->d, s->range_high, &hi)) {
            if (!(lo < hi)) {
                diag_error(c->d, s->range_low->loc, "input range [%g, %g] is empty; write [low, high] with low < high",
                           lo, hi);
                ok = 0;
            }
            c->g->has_range = 1;
            c->g->range_low = (float)lo;
            c->g->range_high = (float)hi;
        } else
            ok = 0;
    }
    if (ok && s->image && !sema_image(c->d, s->image, &n.shape, &c->g->image)) ok = 0;
    if (!ok) return -1;
    return ir_graph_add_node(c->g, &n);
}

/* `weights "f.safetensors" strict=false;`: the statement's options. */
static void weights_options(xai_diag *d, const ast_net_stmt *st, int *strict)
{
    for (int i = 0; i < st->n_options; i++) {
        const ast_arg *o = &st->options[i];
        if (!strcmp(o->name, "strict")) /* (the grammar gives options names) */
            sema_boolean(d, o->value, "strict", strict);
        else
            diag_error(d, o->name_loc,
                       "the weights statement takes only the option strict=false (allow tensors no layer reads), "
                       "not '%s'",
                       o->name);
    }
}

static ir_graph *build_network(xai_diag *d, const ast_network *net, const xai_source *src)
{
    net_ctx c = { .d = d, .net = net };
    const char *output_name = NULL;
    xai_loc output_loc = loc_none();
    const ast_net_stmt *input_stmt = NULL, *weights_stmt = NULL;
    int errors_before = d->errors;

    collect(&c, net, &output_name, &output_loc, &input_stmt, &weights_stmt);
    if (!input_stmt) diag_error(d, net->loc, "network '%s' has no input; add e.g. `input x[1, 28, 28];`", net->name);
    if (!output_name)
        diag_error(d, net->loc, "network '%s' has no `output` statement; add e.g. `output fc2;`", net->name);
    resolve_refs(&c);

    c.order = calloc(c.n_defs + 1, sizeof *c.order);
    int *stack = calloc(c.n_defs + 1, sizeof *stack), *next = calloc(c.n_defs + 1, sizeof *next);
    for (int i = 0; i < c.n_defs; i++) visit(&c, i, stack, next);
    free(stack);
    free(next);

    /* Only what reaches the output is computed; anything else is almost always a typo. */
    int out_def = output_name ? find_def(&c, output_name) : -1;
    if (output_name && out_def < 0) {
        const char *near = closest_def(&c, output_name);
        diag_error(d, output_loc, "output '%s' is not a layer of network '%s'%s%s%s", output_name, net->name,
                   near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
    }
    char *needed = calloc(c.n_defs + 1, 1);
    if (out_def >= 0) {
        needed[out_def] = 1;
        for (int k = c.n_order - 1; k >= 0; k--) {
            int i = c.order[k];
            if (needed[i])
                for (int r = 0; r < c.defs[i].n_refs; r++) needed[c.defs[i].refs[r]] = 1;
        }
    }

    c.g = ir_graph_new(net->name);
    c.g->loc = net->loc;
    int strict = 1;
    if (weights_stmt) weights_options(d, weights_stmt, &strict);
    if (weights_stmt) {
        c.wf.path = NULL;
        char *path = resolve_relative(src->path, weights_stmt->path);
        c.have_weights = weights_open(d, weights_stmt->path_loc, path, &c.wf);
        if (c.have_weights) {
            c.g->weights_path = strdup(path);
            c.g->weights_crc32 = xai_crc32(c.wf.st.buffer, c.wf.st.size);
            c.g->weights_size = c.wf.st.size;
        }
        free(path);
    }

    for (int k = 0; k < c.n_order; k++) {
        def *df = &c.defs[c.order[k]];
        if (df->bad) continue;
        if (!df->stmt) {
            df->node = build_input(&c, input_stmt);
            if (df->node < 0)
                df->bad = 1;
            else
                c.g->input = df->node;
            continue;
        }
        if (!needed[c.order[k]] && out_def >= 0)
            diag_warning(d, df->loc, "layer '%s' does not contribute to the output '%s'; it is not computed", df->name,
                         output_name);
        ir_node n = { 0 };
        n.op = ir_op_from_name(df->stmt->value->text);
        n.name = (char *)df->name;
        n.loc = df->stmt->value->loc;
        ir_shape in[IR_MAX_INPUTS];
        int ok = 1;
        for (int r = 0; r < df->n_refs; r++) {
            const def *src_def = &c.defs[df->refs[r]];
            if (src_def->bad || src_def->node < 0) {
                ok = 0;
                break;
            }
            n.inputs[n.n_inputs++] = src_def->node;
            in[r] = c.g->nodes[src_def->node].shape;
        }
        if (!ok || !sema_layer(d, c.g, &n, df->stmt, in, weights_stmt ? &c.wf : NULL)) {
            df->bad = 1;
            continue;
        }
        if (sema_checked_count(&n.shape) < 0) {
            char sb[64];
            diag_error(d, df->stmt->value->loc, "layer '%s' would hold %s values per sample, more than %lld", df->name,
                       ir_shape_str(&n.shape, sb, sizeof sb), (long long)SEMA_MAX_ELEMENTS);
            df->bad = 1;
            continue;
        }
        df->node = ir_graph_add_node(c.g, &n);
    }
    if (out_def >= 0 && !c.defs[out_def].bad) {
        c.g->output = c.defs[out_def].node;
        c.g->output_name = strdup(output_name);
    }

    /* Only when all else is fine: a layer that failed may not have read its tensors yet. */
    if (strict && c.have_weights && d->errors == errors_before) weights_report_unused(d, &c.wf, net->name);
    weights_close(&c.wf);
    free(needed);
    free(c.order);
    free(c.defs);
    free(c.index);
    if (d->errors > errors_before || c.g->input < 0 || c.g->output < 0) {
        ir_graph_free(c.g);
        return NULL;
    }
    /* drop nodes that do not reach the output (warned above) */
    ir_graph *g = c.g;
    int *remap = malloc(sizeof(int) * g->n_nodes);
    char *keep = calloc(g->n_nodes, 1);
    keep[g->output] = 1;
    for (int i = g->n_nodes - 1; i >= 0; i--)
        if (keep[i])
            for (int k = 0; k < g->nodes[i].n_inputs; k++) keep[g->nodes[i].inputs[k]] = 1;
    keep[g->input] = 1;
    int m = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!keep[i]) {
            free(g->nodes[i].name);
            remap[i] = -1;
            continue;
        }
        remap[i] = m;
        g->nodes[m] = g->nodes[i];
        for (int k = 0; k < g->nodes[m].n_inputs; k++) g->nodes[m].inputs[k] = remap[g->nodes[m].inputs[k]];
        m++;
    }
    g->n_nodes = m;
    g->input = remap[g->input];
    g->output = remap[g->output];
    free(keep);
    free(remap);
    return g;
}

static void add_graph(ir_module *m, ir_graph *g)
{
    m->graphs = realloc(m->graphs, sizeof *m->graphs * (m->n_graphs + 1));
    m->graphs[m->n_graphs++] = g;
}

ir_module *sema_program(xai_diag *d, const xai_program *p)
{
    ir_module *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    /* networks: unique names across all files */
    const ast_network **nets = NULL;
    int n_nets = 0;
    for (int f = 0; f < p->n_files; f++) {
        const ast_file *file = p->files[f];
        for (int i = 0; i < file->n_items; i++) {
            if (file->items[i].kind != TOP_NETWORK) continue;
            const ast_network *net = &file->items[i].u.network;
            int dup = -1;
            for (int k = 0; k < n_nets; k++)
                if (strcmp(nets[k]->name, net->name) == 0) dup = k;
            if (dup >= 0) {
                diag_error(d, net->loc, "network '%s' is defined twice; rename one of them", net->name);
                diag_note(d, nets[dup]->loc, "first defined here");
                continue;
            }
            nets = realloc(nets, sizeof *nets * (n_nets + 1));
            nets[n_nets++] = net;
            ir_graph *g = build_network(d, net, file->src);
            if (g) add_graph(m, g);
        }
    }
    /* explain blocks must name a network */
    for (int f = 0; f < p->n_files; f++) {
        const ast_file *file = p->files[f];
        for (int i = 0; i < file->n_items; i++) {
            if (file->items[i].kind != TOP_EXPLAIN) continue;
            const ast_explain *ex = &file->items[i].u.explain;
            int found = 0;
            for (int k = 0; k < n_nets; k++) found |= strcmp(nets[k]->name, ex->network) == 0;
            if (!found)
                diag_error(d, ex->network_loc, "explanation '%s' is for unknown network '%s'", ex->name, ex->network);
        }
    }
    free(nets);
    return m;
}
