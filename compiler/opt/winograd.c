/* Where Winograd F(2x2, 3x3) applies and the transformed filters (winograd.h). */
#include "winograd.h"

#include <stdio.h>
#include <stdlib.h>

int winograd_applies(const ir_graph *g, const ir_node *n)
{
    if ((n->op != OP_CONV2D && n->op != OP_CONV2D_T) || n->kh != 3 || n->kw != 3 || n->sh != 1 || n->sw != 1 ||
        n->dh > 1 || n->dw > 1 || n->groups > 1 || !n->weight || n->n_inputs < 1)
        return 0;
    const ir_shape *in = &g->nodes[n->inputs[0]].shape;
    if (in->rank != 3 || n->shape.rank != 3) return 0;
    /* the weights [units][C][3][3] for both; the transposed conv maps units channels to C */
    int64_t K = n->units, C = n->op == OP_CONV2D ? in->dims[0] : n->shape.dims[0];
    if (n->weight->rank != 4 || n->weight->count != K * C * 9) return 0;
    int64_t unit_bytes = 16 * (C + K) * WINOGRAD_UNIT * (int64_t)sizeof(float); /* one unit's scratch */
    int64_t OH = n->shape.dims[1], OW = n->shape.dims[2];
    int wide = OW >= WINOGRAD_MIN_WIDTH, narrow = OW >= WINOGRAD_ROWS_MIN_WIDTH && OW <= WINOGRAD_ROWS_MAX_WIDTH;
    if (narrow && winograd_tile(C, K, OH, OW).units == 1 &&
        16 * C * K * (int64_t)sizeof(float) >= WINOGRAD_BIG_FILTER_BYTES)
        return 0;
    return C >= 16 && K >= 16 && (wide || narrow) && OH >= 2 && unit_bytes <= WINOGRAD_MAX_SLOT_BYTES;
}

winograd_tiling winograd_tile(int64_t C, int64_t K, int64_t OH, int64_t OW)
{
    winograd_tiling t = { .C = C, .K = K, .TX = (OW + 1) / 2, .TY = (OH + 1) / 2, .P = 1 };
    if (OW <= WINOGRAD_ROWS_MAX_WIDTH) { /* several rows of tiles per unit */
        t.P = WINOGRAD_UNIT / t.TX;
        if (t.P > t.TY) t.P = t.TY;
        t.GX = 1, t.units = (t.TY + t.P - 1) / t.P;
    } else {
        t.GX = (t.TX + WINOGRAD_UNIT - 1) / WINOGRAD_UNIT, t.units = t.TY * t.GX;
    }
    int64_t unit_floats = 16 * (C + K) * WINOGRAD_UNIT;
    t.UC = WINOGRAD_CHUNK_BYTES / (unit_floats * (int64_t)sizeof(float));
    if (t.UC > WINOGRAD_MAX_CHUNK_UNITS) t.UC = WINOGRAD_MAX_CHUNK_UNITS;
    if (t.UC > t.units) t.UC = t.units;
    if (t.UC < 1) t.UC = 1;
    int64_t filter_bytes = 16 * C * K * (int64_t)sizeof(float), layer_floats = t.units * unit_floats;
    t.whole = filter_bytes >= WINOGRAD_WHOLE_MIN_FILTER_BYTES && K % WINOGRAD_WHOLE_BLOCK == 0 &&
        layer_floats * (int64_t)sizeof(float) <= WINOGRAD_WHOLE_MAX_BYTES;
    if (t.whole) t.UC = t.units;
    t.T = t.UC * WINOGRAD_UNIT, t.chunks = (t.units + t.UC - 1) / t.UC, t.slot_floats = t.UC * unit_floats;
    t.scratch_floats = t.whole ? t.slot_floats : WINOGRAD_SLOTS * t.slot_floats;
    return t;
}

int64_t winograd_scratch_floats(const ir_graph *g, const ir_node *n)
{
    if (!winograd_weights(g, n)) return 0;
    /* the correlation's input and output channels, as codegen tiles it (a transposed conv maps units to C) */
    int t = n->op == OP_CONV2D_T;
    int64_t in = t ? n->units : g->nodes[n->inputs[0]].shape.dims[0], out = t ? n->shape.dims[0] : n->units;
    return winograd_tile(in, out, n->shape.dims[1], n->shape.dims[2]).scratch_floats;
}

static ir_graph *owner_of(const ir_graph *g) { return (ir_graph *)(g->network ? g->network : g); }

/* the transform of n's filters (as n reads them: pos / neg) made before, or NULL */
static const ir_const *find(const ir_graph *owner, const ir_node *n)
{
    for (int i = 0; i < owner->n_consts; i++) {
        const ir_const *k = owner->consts[i];
        const ir_recipe *r = k->recipe;
        if (r && r->n_steps == 1 && r->steps[0].op == IR_T_WINOGRAD && r->steps[0].num == n->weight_map &&
            r->src[0] == n->weight)
            return k;
    }
    return NULL;
}

const ir_const *winograd_weights(const ir_graph *g, const ir_node *n)
{
    return winograd_applies(g, n) ? find(owner_of(g), n) : NULL;
}

static void prepare_graph(ir_graph *g)
{
    ir_graph *owner = owner_of(g);
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (!winograd_applies(g, n) || find(owner, n)) continue;
        /* [16][K][C], the transposed conv's too (it reads the transform of its flipped filters as a permutation) */
        int64_t shape[3] = { 16, n->weight->shape[0], n->weight->shape[1] };
        char name[512];
        static const char *map[] = { "", "|pos", "|neg" };
        snprintf(name, sizeof name, "%s%s|winograd", n->weight->name ? n->weight->name : "weight", map[n->weight_map]);
        ir_const *u = ir_graph_new_const(owner, name, 3, shape);
        ir_recipe *r = calloc(1, sizeof *r);
        if (!u || !r) {
            free(r);
            continue;
        }
        r->per_row = 1;
        /* (takes r, or frees it; a recipe that cannot describe u leaves u without one, and find skips it) */
        if (ir_recipe_push(r, IR_T_WINOGRAD, ir_recipe_source(r, n->weight), n->weight_map))
            ir_recipe_apply(u, r);
        else
            free(r);
    }
}

void winograd_prepare(ir_module *m)
{
    for (int i = 0; i < m->n_graphs; i++) prepare_graph(m->graphs[i]);
    for (int i = 0; i < m->n_explanations; i++) prepare_graph(m->explanations[i]);
}
