/* The description a shared object carries (describe.h): JSON built with cJSON from the compilation's graphs,
 * specs and plans. Bindings read it once when they load the object; nothing reads it on a call. */
#include "describe.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "method.h"

static cJSON *shape_json(const ir_shape *s)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < s->rank; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(s->dims[i]));
    return a;
}

/* the absolute path when it can be resolved (bindings hash these files to know when to recompile) */
static void add_input(cJSON *inputs, const char *path, const char *what)
{
    if (!path) return;
    char resolved[PATH_MAX];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", realpath(path, resolved) ? resolved : path);
    cJSON_AddStringToObject(o, "what", what);
    cJSON_AddItemToArray(inputs, o);
}

static int noise_samples(const ir_graph *x)
{
    for (int i = 0; i < x->n_nodes; i++)
        if (x->nodes[i].op == OP_EXPAND && x->nodes[i].expand == EXPAND_NOISE) return x->nodes[i].samples;
    return 0;
}

/* Where the relevance at each forward layer's output lives after a call, output to input (as `xaic run --stats`
 * lists it): in the caller's `out`, or in the arena at offset * batch floats (offset per sample). samples > 1:
 * the value holds one row per path point or noisy copy (IG, SmoothGrad), not one per input sample. */
static cJSON *relevance_json(const ir_graph *x, const graph_plan *plan)
{
    cJSON *list = cJSON_CreateArray();
    for (int i = x->n_forward - 1; i >= 0; i--) {
        int r = x->relevance_of ? x->relevance_of[i] : -1;
        if (r < 0) continue;
        const plan_value *v = &plan->values[r];
        ir_op op = x->nodes[i].fused ? (ir_op)(x->nodes[i].fused - 1) : x->nodes[i].op;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "layer", x->nodes[i].name ? x->nodes[i].name : "");
        cJSON_AddStringToObject(o, "op", ir_op_name(op));
        cJSON_AddItemToObject(o, "shape", shape_json(&x->nodes[r].shape));
        cJSON_AddStringToObject(o, "location",
                                v->kind == LOC_OUTPUT      ? "output"
                                    : v->kind == LOC_INPUT ? "input"
                                                           : "arena");
        cJSON_AddNumberToObject(o, "offset", v->kind == LOC_ARENA ? (double)v->offset : 0);
        cJSON_AddNumberToObject(o, "samples", x->nodes[r].mult > 1 ? x->nodes[r].mult : 1);
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

static cJSON *explanation_json(const compilation *c, int e, const describe_settings *s)
{
    const ir_graph *x = c->ir->explanations[e], *net = x->network;
    const explain_spec *spec = &c->explain->specs[e];
    const method_def *m = method_of(spec->method);
    cJSON *o = cJSON_CreateObject();
    char entry[600];
    cJSON_AddStringToObject(o, "name", x->explain_name);
    cJSON_AddStringToObject(o, "method", m ? m->name : "?");
    snprintf(entry, sizeof entry, "%s_%s", net->name, x->explain_name);
    cJSON_AddStringToObject(o, "entry", entry);
    snprintf(entry, sizeof entry, "%s_%s_ex", net->name, x->explain_name);
    if (x->has_options)
        cJSON_AddStringToObject(o, "entry_ex", entry);
    else
        cJSON_AddNullToObject(o, "entry_ex");
    cJSON_AddItemToObject(o, "input_shape", shape_json(&x->nodes[x->input].shape));
    cJSON_AddItemToObject(o, "output_shape", shape_json(&x->nodes[x->am.enabled ? x->am.image : x->output].shape));
    if (spec->at_node >= 0 && net->nodes[spec->at_node].name)
        cJSON_AddStringToObject(o, "at", net->nodes[spec->at_node].name);
    else
        cJSON_AddNullToObject(o, "at");
    if (spec->from_node >= 0 && net->nodes[spec->from_node].name)
        cJSON_AddStringToObject(o, "from", net->nodes[spec->from_node].name);
    else
        cJSON_AddNullToObject(o, "from");
    cJSON_AddBoolToObject(o, "target", x->has_target || x->am.enabled);
    cJSON_AddNumberToObject(o, "classes", (double)ir_explain_targets(x));
    /* what the _ex entry reads from xai_options */
    int am = x->am.enabled;
    cJSON_AddBoolToObject(o, "baseline",
                          x->has_options && (am || spec->method == METHOD_IG || spec->method == METHOD_DEEPLIFT));
    cJSON_AddNumberToObject(o, "noise_samples", noise_samples(x));
    cJSON_AddBoolToObject(o, "seed", x->has_options && noise_samples(x) > 0);
    if (spec->method == METHOD_SMOOTHGRAD) { /* its parameters, and its cell when it is a member of a sweep */
        cJSON *sg = cJSON_CreateObject();
        if (spec->noise >= 0)
            cJSON_AddNumberToObject(sg, "noise", spec->noise);
        else
            cJSON_AddNullToObject(sg, "noise");
        cJSON_AddNumberToObject(sg, "sigma", spec->sigma);
        cJSON_AddNumberToObject(sg, "samples", spec->samples);
        cJSON_AddNumberToObject(sg, "seed", (double)spec->rng_seed);
        cJSON_AddItemToObject(o, "smoothgrad", sg);
    } else {
        cJSON_AddNullToObject(o, "smoothgrad");
    }
    if (spec->sweep) {
        cJSON *sw = cJSON_CreateObject();
        cJSON_AddStringToObject(sw, "name", spec->sweep);
        cJSON_AddNumberToObject(sw, "index", spec->sweep_row * spec->sweep_cols + spec->sweep_col);
        cJSON_AddNumberToObject(sw, "row", spec->sweep_row);
        cJSON_AddNumberToObject(sw, "column", spec->sweep_col);
        cJSON_AddNumberToObject(sw, "rows", spec->sweep_rows);
        cJSON_AddNumberToObject(sw, "columns", spec->sweep_cols);
        cJSON_AddItemToObject(o, "sweep", sw);
    } else {
        cJSON_AddNullToObject(o, "sweep");
    }
    if (am) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "steps", x->am.steps);
        if (x->am.generator)
            cJSON_AddStringToObject(a, "generator", x->am.generator);
        else
            cJSON_AddNullToObject(a, "generator");
        cJSON_AddItemToObject(o, "activation_maximization", a);
    } else {
        cJSON_AddNullToObject(o, "activation_maximization");
    }
    if (s->keep_values)
        cJSON_AddItemToObject(o, "relevance", relevance_json(x, c->explanation_plans[e]));
    else
        cJSON_AddNullToObject(o, "relevance");
    return o;
}

char *describe_module(const compilation *c, const describe_settings *s)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "format", 1);
    cJSON_AddStringToObject(root, "xaic_version", XAIC_VERSION);
    cJSON_AddNumberToObject(root, "opt_level", s->opt_level);
    cJSON_AddBoolToObject(root, "keep_values", s->keep_values);
    cJSON_AddBoolToObject(root, "threads", !s->threads_off);
    cJSON *inputs = cJSON_AddArrayToObject(root, "inputs");
    for (int i = 1; c->program && i < c->program->n_files; i++) /* [0]: the prelude, compiled in */
        add_input(inputs, c->program->files[i]->src->path, "source");
    for (int i = 0; i < c->ir->n_graphs; i++) add_input(inputs, c->ir->graphs[i]->weights_path, "weights");
    add_input(inputs, s->runtime, "runtime");
    cJSON *nets = cJSON_AddArrayToObject(root, "networks");
    for (int i = 0; i < c->ir->n_graphs; i++) {
        const ir_graph *g = c->ir->graphs[i];
        cJSON *n = cJSON_CreateObject();
        cJSON_AddStringToObject(n, "name", g->name);
        /* the arena starts this many bytes into the workspace (external weights: their header and the weights
         * derived from them at bind time) */
        cJSON_AddNumberToObject(n, "workspace_header", c->workspace_headers ? (double)c->workspace_headers[i] : 0);
        cJSON *ex = cJSON_AddArrayToObject(n, "explanations");
        for (int e = 0; e < c->ir->n_explanations; e++)
            if (c->ir->explanations[e]->network == g) cJSON_AddItemToArray(ex, explanation_json(c, e, s));
        cJSON_AddItemToArray(nets, n);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}
