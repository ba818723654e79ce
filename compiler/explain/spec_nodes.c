/* What the explain specs hold per node of their network, for the passes that rewrite a network graph between the
 * explain blocks' check and the building of the explanation graphs (driver.c: opt/rows.c). */
#include <stdlib.h>
#include <string.h>

#include "explain.h"

/* a reduction over a whole sample (not per channel, not along a softmax's or layer norm's axis) */
static int reads_whole_layer(const rx *e)
{
    if (!e) return 0;
    if (rx_is_reduction(e) && !e->per_channel && !e->per_axis) return 1;
    for (int k = 0; k < e->n_args; k++)
        if (reads_whole_layer(e->args[k])) return 1;
    return reads_whole_layer(e->stabilize_expr) || reads_whole_layer(e->denominator);
}

static void mark(unsigned char *keep, int n_nodes, int node)
{
    if (node >= 0 && node < n_nodes) keep[node] = 1;
}

int explain_nodes_read(const explain_set *s, int network, int n_nodes, unsigned char *keep)
{
    for (int i = 0; i < s->n_specs; i++) {
        const explain_spec *sp = &s->specs[i];
        if (sp->generator == network || (sp->network == network && sp->method == METHOD_ACTMAX)) return 0;
        if (sp->network != network) continue;
        mark(keep, n_nodes, sp->at_node);
        mark(keep, n_nodes, sp->from_node);
        if (sp->method == METHOD_CAM || sp->method == METHOD_GRADCAM || sp->method == METHOD_GRADCAM_PP)
            mark(keep, n_nodes, sp->cam_layer);
        for (int n = 0; sp->rules && n < n_nodes; n++)
            if (reads_whole_layer(sp->rules[n].body)) keep[n] = 1;
    }
    return 1;
}

void explain_remap_nodes(explain_set *s, int network, const int *remap, int n_nodes)
{
    rule_use *moved = malloc(sizeof *moved * (size_t)n_nodes);
    for (int i = 0; i < s->n_specs; i++) {
        explain_spec *sp = &s->specs[i];
        if (sp->network != network) continue;
        if (sp->at_node >= 0) sp->at_node = remap[sp->at_node];
        if (sp->from_node >= 0) sp->from_node = remap[sp->from_node];
        if (sp->cam_layer >= 0) sp->cam_layer = remap[sp->cam_layer];
        if (!sp->rules || !moved) continue;
        for (int n = 0; n < n_nodes; n++) moved[remap[n]] = sp->rules[n];
        memcpy(sp->rules, moved, sizeof *moved * (size_t)n_nodes);
    }
    free(moved);
}
