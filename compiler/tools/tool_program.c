/* The program a tool analyses (tool_program.h): ONNX imported on the fly, explain blocks for --explain names. */
#include "tool_program.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "method.h"
#include "policy.h"
#include "progress.h"

int tool_is_onnx(const char *path)
{
    size_t n = path ? strlen(path) : 0;
    return n > 5 && !strcasecmp(path + n - 5, ".onnx");
}

int tool_parse_input_range(tool_program *p, const char *v)
{
    char *end;
    double lo = strtod(v, &end), hi = 0;
    int ok = end != v && *end == ',';
    if (ok) {
        const char *h = end + 1;
        hi = strtod(h, &end);
        ok = end != h && !*end && isfinite(lo) && isfinite(hi) && lo < hi;
    }
    if (!ok) {
        fprintf(stderr, "xaic: error: --input-range takes LOW,HIGH with LOW < HIGH, not '%s'\n", v);
        return 2;
    }
    p->has_input_range = 1;
    p->input_low = lo;
    p->input_high = hi;
    return 0;
}

int tool_parse_input_shape(tool_program *p, const char *v)
{
    int n = 0;
    for (const char *s = v; *s;) {
        char *end;
        errno = 0;
        long long d = strtoll(s, &end, 10);
        if (end == s || errno || d < 1 || d > 0x7fffffff || n == XAI_IMPORT_MAX_RANK || (*end && *end != ',') ||
            (*end && !end[1])) {
            n = -1;
            break;
        }
        p->input_shape[n++] = d;
        s = *end ? end + 1 : end;
    }
    if (n < 1) {
        fprintf(stderr, "xaic: error: --input-shape takes 1 to %d positive integers (C,H,W), not '%s'\n",
                XAI_IMPORT_MAX_RANK, v);
        return 2;
    }
    p->input_rank = n;
    return 0;
}

/* MODEL.onnx -> TMP/NAME.xai + TMP/NAME.safetensors, NAME the model's stem made an identifier by the importer */
static int import_model(tool_program *p)
{
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX], why[600];
    snprintf(dir, sizeof dir, "%s/xaic-import-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
    if (policy_check_read(p->file, why, sizeof why)) {
        fprintf(stderr, "xaic: error: %s\n", why);
        return 1;
    }
    if (!mkdtemp(dir)) {
        fprintf(stderr, "xaic: error: cannot create a temporary directory %s to import %s into: %s\n", dir, p->file,
                strerror(errno));
        return 1;
    }
    p->tmpdir = strdup(dir);
    const char *base = strrchr(p->file, '/');
    base = base ? base + 1 : p->file;
    size_t stem = strlen(base) - 5; /* ".onnx" */
    if (asprintf(&p->imported, "%s/%.*s.xai", dir, (int)stem, base) < 0) {
        p->imported = NULL;
        fprintf(stderr, "xaic: error: out of memory\n");
        return 1;
    }
    if (policy_root() && policy_check_read(dir, why, sizeof why)) {
        fprintf(stderr,
                "xaic: error: %s imports into %s, outside --root %s: import it inside the root first (xaic import "
                "%s -o DIR/NET.xai) or set TMPDIR to a directory inside the root\n",
                p->file, dir, policy_root(), p->file);
        return 1;
    }
    xai_import_options o = { .model_path = p->file,
                             .output_path = p->imported,
                             .input_rank = p->input_rank,
                             .has_input_range = p->has_input_range,
                             .input_low = p->input_low,
                             .input_high = p->input_high,
                             .progress = isatty(STDERR_FILENO) ? stderr : NULL };
    memcpy(o.input_shape, p->input_shape, sizeof o.input_shape);
    static char err[1 << 16];
    if (xai_import_onnx(&o, err, sizeof err)) {
        fprintf(stderr, "xaic: error: %s\n", err[0] ? err : "import failed");
        return 1;
    }
    return 0;
}

void tool_program_cleanup(tool_program *p)
{
    if (p->imported) {
        char w[PATH_MAX + 16];
        size_t n = strlen(p->imported) - 4; /* ".xai" */
        snprintf(w, sizeof w, "%.*s.safetensors", (int)n, p->imported);
        unlink(w);
        unlink(p->imported);
    }
    if (p->tmpdir) rmdir(p->tmpdir);
    free(p->imported);
    free(p->tmpdir);
    p->imported = p->tmpdir = NULL;
}

/* ---- explain blocks for --explain names ---- */

static const ast_top *find_item(const xai_program *prog, ast_top_kind kind, const char *name)
{
    for (int f = 0; f < prog->n_files; f++)
        for (int i = 0; i < prog->files[f]->n_items; i++) {
            const ast_top *t = &prog->files[f]->items[i];
            if (t->kind != kind) continue;
            const char *n = kind == TOP_EXPLAIN ? t->u.explain.name : kind == TOP_PRESET ? t->u.preset.name : NULL;
            if (n && !strcmp(n, name)) return t;
        }
    return NULL;
}

/* The network the new blocks explain: --network, the only network, or the only one the file's explain blocks
 * are for; NULL after a message. */
static const ir_graph *chosen_network(const compilation *c, xai_diag *d, const tool_program *p, const char *name)
{
    const ir_module *m = c->ir;
    if (p->network) {
        const ir_graph *g = driver_graph(c, p->network, NULL);
        if (!g) diag_error(d, loc_none(), "--network %s: no network of that name in %s", p->network, p->file);
        return g;
    }
    if (m->n_graphs == 1) return m->graphs[0];
    const char *only = NULL;
    int several = 0;
    for (int f = 0; f < c->program->n_files; f++)
        for (int i = 0; i < c->program->files[f]->n_items; i++) {
            const ast_top *t = &c->program->files[f]->items[i];
            if (t->kind != TOP_EXPLAIN) continue;
            several |= only && strcmp(only, t->u.explain.network);
            only = t->u.explain.network;
        }
    if (only && !several && driver_graph(c, only, NULL)) return driver_graph(c, only, NULL);
    diag_error(d, loc_none(), "--explain %s: the program defines %d networks; choose one with --network NAME", name,
               m->n_graphs);
    return NULL;
}

/* The last layer with a [C, H, W] output (Grad-CAM's usual choice: the last convolutional maps), or NULL. */
static const char *last_spatial_layer(const ir_graph *g)
{
    for (int i = g->n_nodes - 1; i >= 0; i--) { /* a network's graph: its nodes in topological order */
        const ir_node *n = &g->nodes[i];
        if (n->op != OP_INPUT && n->shape.rank == 3 && (n->name || n->alias)) return n->name ? n->name : n->alias;
    }
    return NULL;
}

/* A preset parameter whose default is the input range (`low = low`): it needs `range` on the input. */
static const char *range_parameter(const ast_preset *pr)
{
    for (int i = 0; i < pr->n_params; i++) {
        const ast_expr *e = pr->params[i].default_value;
        if (e && e->kind == EX_IDENT && (!strcmp(e->text, "low") || !strcmp(e->text, "high"))) return e->text;
    }
    return NULL;
}

static int add_block(compilation *c, xai_diag *d, const tool_program *p, const char *name)
{
    if (!*name || find_item(c->program, TOP_EXPLAIN, name)) return 0; /* the file's own block wins */
    const ast_top *preset = find_item(c->program, TOP_PRESET, name);
    const method_def *m = method_find(name);
    if (!preset && !m) return 0; /* reported where the explanation is looked up, with the names there are */
    const ir_graph *g = chosen_network(c, d, p, name);
    if (!g) return 1;
    char body[512];
    if (preset) {
        const char *var = range_parameter(&preset->u.preset);
        if (var && !g->has_range) {
            diag_error(d, loc_none(),
                       "--explain %s: the preset's `%s` is the input range of network '%s', which has none: %s", name,
                       var, g->name,
                       p->imported ? "give --input-range LOW,HIGH (the range of the model's preprocessed inputs, "
                                     "e.g. -2.12,2.64 for ImageNet-normalised images)"
                                   : "give `range [low, high]` on its input (xaic import --input-range LOW,HIGH), or "
                                     "write an explain block that passes the bounds, e.g. "
                                     "`rules epsilon_gamma_box(low=0, high=1);`");
            return 1;
        }
        snprintf(body, sizeof body, "rules %s;", name);
    } else if (m->id == METHOD_CAM || m->id == METHOD_GRADCAM || m->id == METHOD_GRADCAM_PP) {
        const char *layer = last_spatial_layer(g);
        if (!layer) {
            diag_error(d, loc_none(), "--explain %s: network '%s' has no spatial ([C, H, W]) layer to weight", name,
                       g->name);
            return 1;
        }
        snprintf(body, sizeof body, "method %s(layer=%s);", name, layer);
    } else
        snprintf(body, sizeof body, "method %s;", name);
    char source[64 + 2 * 300], text[1024 + 300];
    snprintf(source, sizeof source, "<--explain %s>", name);
    snprintf(text, sizeof text, "explain %s for %s { %s }\n", name, g->name, body);
    if (program_append_text(c->program, d, source, text)) {
        diag_error(d, loc_none(), "out of memory");
        return 1;
    }
    return 0;
}

static int extend(compilation *c, xai_diag *d, void *ctx)
{
    const tool_program *p = ctx;
    if (!p->explain) return 0;
    char *list = strdup(p->explain), *save = NULL;
    int rc = 0;
    for (char *name = strtok_r(list, ",", &save); name && !rc; name = strtok_r(NULL, ",", &save))
        rc = add_block(c, d, p, name);
    free(list);
    return rc;
}

int tool_analyse(compilation *c, xai_diag *d, tool_program *p)
{
    if (tool_is_onnx(p->file)) {
        if (import_model(p)) {
            memset(c, 0, sizeof *c);
            return 1;
        }
    } else if (p->has_input_range || p->input_rank) {
        fprintf(stderr,
                "xaic: error: --input-range and --input-shape are for ONNX models (MODEL.onnx); a .xai "
                "file gives them on its input\n");
        memset(c, 0, sizeof *c);
        return 2;
    }
    int rc = driver_analyse_extended(c, d, p->imported ? p->imported : p->file, extend, p);
    if (!rc) progress_compile_attach(c, p->file);
    return rc;
}

void tool_explain_unknown(const compilation *c, const char *name)
{
    int rows = 0, cols = 0;
    if (c->explain && explain_sweep_members(c->explain, name, NULL, 0, &rows, &cols)) {
        fprintf(stderr,
                "xaic: error: '%s' is a smoothgrad sweep of %d x %d explanations, %s_0 .. %s_%d: `xaic run --explain "
                "%s` draws it as one grid; elsewhere name its members\n",
                name, rows, cols, name, name, rows * cols - 1, name);
        return;
    }
    fprintf(stderr, "xaic: error: no explanation named '%s'; the file has %s", name,
            c->ir->n_explanations ? "" : "none");
    for (int i = 0; i < c->ir->n_explanations; i++)
        fprintf(stderr, "%s%s", i ? ", " : "", c->ir->explanations[i]->explain_name);
    fprintf(stderr, "; --explain also takes an LRP preset");
    int n = 0;
    for (int f = 0; c->program && f < c->program->n_files; f++)
        for (int i = 0; i < c->program->files[f]->n_items; i++)
            if (c->program->files[f]->items[i].kind == TOP_PRESET)
                fprintf(stderr, "%s%s", n++ ? ", " : " (", c->program->files[f]->items[i].u.preset.name);
    char methods[512];
    method_names(0, methods, sizeof methods);
    fprintf(stderr, "%s or a method (%s)\n", n ? ")" : "", methods);
}

int tool_check_explain_names(const compilation *c, const char *list)
{
    if (!list) return 0;
    char *names = strdup(list), *save = NULL;
    int rc = 0;
    for (char *name = strtok_r(names, ",", &save); name && !rc; name = strtok_r(NULL, ",", &save))
        if (!driver_explanation(c, name, NULL)) {
            tool_explain_unknown(c, name);
            rc = 1;
        }
    free(names);
    return rc;
}
