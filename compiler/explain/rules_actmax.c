/* Activation maximisation with a generator: the network it differentiates is the generator followed by
 * the classifier (the classifier's input replaced by the generator's output), so the gradient of the
 * objective flows through both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_actmax.h"

/* A copy of a generator's constant, owned by the composed graph and always embedded: the generator's
 * weights live in its own file, not in the one the classifier binds with --weights=external. */
static ir_const *embedded_copy(ir_graph *g, const ir_const *k)
{
    if (!k) return NULL;
    ir_const *copy = ir_graph_new_const(g, k->name, k->rank, k->shape);
    memcpy(copy->data, k->data, sizeof(float) * k->count);
    copy->file_offset = -1;
    return copy;
}

ir_graph *actmax_compose(const ir_graph *gen, const ir_graph *cls, const rule_use *gen_rules,
                         const rule_use *cls_rules, rule_use **rules_out, int *image)
{
    ir_graph *g = ir_graph_new(cls->name);
    int *map = malloc(sizeof(int) * (gen->n_nodes + cls->n_nodes));
    rule_use *rules = calloc(gen->n_nodes + cls->n_nodes + 2, sizeof *rules);
    for (int i = 0; i < gen->n_nodes; i++) {
        ir_node n = gen->nodes[i];
        char name[512];
        snprintf(name, sizeof name, "%s.%s", gen->name, n.name ? n.name : "?");   /* no clash with the classifier */
        n.name = name;
        n.alias = NULL;
        for (int k = 0; k < n.n_inputs; k++) n.inputs[k] = map[n.inputs[k]];
        n.weight = embedded_copy(g, n.weight);
        n.bias = embedded_copy(g, n.bias);
        map[i] = ir_graph_add_node(g, &n);
        rules[map[i]] = gen_rules[i];
    }
    g->input = map[gen->input];
    int out = map[gen->output];
    const ir_shape *in_shape = &cls->nodes[cls->input].shape;
    if (memcmp(&g->nodes[out].shape, in_shape, sizeof *in_shape)) {   /* same count (checked): a view */
        ir_node view = {0};
        view.op = OP_FLATTEN;
        view.name = cls->nodes[cls->input].name;
        view.shape = *in_shape;
        view.inputs[view.n_inputs++] = out;
        out = ir_graph_add_node(g, &view);
    }
    *image = out;
    int *cmap = map + gen->n_nodes;
    for (int i = 0; i < cls->n_nodes; i++) {
        if (i == cls->input) { cmap[i] = out; continue; }
        ir_node n = cls->nodes[i];
        for (int k = 0; k < n.n_inputs; k++) n.inputs[k] = cmap[n.inputs[k]];
        cmap[i] = ir_graph_add_node(g, &n);
        rules[cmap[i]] = cls_rules[i];
    }
    g->output = cmap[cls->output];
    g->output_name = strdup(cls->output_name ? cls->output_name : "");
    free(map);
    *rules_out = rules;
    return g;
}

void actmax_adopt(ir_graph *expl, ir_graph *composed)
{
    for (int i = 0; i < composed->n_consts; i++) {
        if (expl->n_consts == expl->cap_consts) {
            expl->cap_consts = expl->cap_consts ? 2 * expl->cap_consts : 16;
            expl->consts = realloc(expl->consts, sizeof *expl->consts * expl->cap_consts);
        }
        expl->consts[expl->n_consts++] = composed->consts[i];
    }
    composed->n_consts = 0;
    ir_graph_free(composed);
}
