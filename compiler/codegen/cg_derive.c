/* The weights a kernel reads (a conv's Winograd-transformed filters, opt/winograd.h, are derived constants too).
 * --weights=external: derived constants (a folded BatchNorm's weights, a rule's transformed weights) are
 * computed by NET_bind_weights from the bound file, into the workspace after its header, instead of being
 * stored in the object. Each follows its recipe (ir_recipe.c), evaluated as the compiler does (double, one
 * rounding to float, no fast-math), so the bound values are the floats an embedded object holds.
 *
 * Workspace: [64-byte header: file pointer, magic][derived constants, 64-byte aligned][arena]. */
#include <math.h>
#include <stdlib.h>

#include "cg_entry.h"
#include "cg_kernels.h"
#include "winograd.h"

struct cg_derived {
    const ir_const **keys;
    int64_t *offsets; /* from the end of the header */
    int n, cap;
    int64_t bytes;
};

int cg_winograd_on(const cg *c)
{
    return !c->opt->winograd_off && c->opt->vector_registers >= 32 && c->opt->vector_floats != 8; /* 8: CG_VW forced */
}

const ir_const *cg_winograd_weights(const cg *c, const ir_node *n)
{
    if (!cg_winograd_on(c)) return NULL;
    /* the workspace holds the kernel's scratch (the plans reserved it; checked, as a kernel that wrote past it
     * would corrupt the arena) */
    int64_t scratch = winograd_scratch_floats(c->g, n);
    if (!scratch || scratch * (int64_t)sizeof(float) > c->scratch_bytes) return NULL;
    return winograd_weights(c->g, n);
}

const ir_const *cg_kernel_weight(const cg *c, const ir_node *n)
{
    const ir_const *u = cg_winograd_weights(c, n);
    return u ? u : n->weight;
}

int cg_const_is_external(const cg *c, const ir_const *k)
{
    return c->opt->weights_external && k->file_offset >= 0 && k->file_offset % 4 == 0;
}

int64_t cg_derived_offset(const cg *c, const ir_const *k)
{
    if (!c->derived) return -1;
    for (int i = 0; i < c->derived->n; i++)
        if (c->derived->keys[i] == k) return c->derived->offsets[i];
    return -1;
}

int64_t cg_derived_bytes(const cg *c) { return c->derived ? c->derived->bytes : 0; }

/* Every source is in the file or derived itself: bind_weights can compute k. */
static int derivable(const cg *c, const ir_const *k, int depth)
{
    if (!k->recipe || depth > 8) return 0;
    for (int s = 0; s < k->recipe->n_src; s++) {
        const ir_const *src = k->recipe->src[s];
        if (!cg_const_is_external(c, src) && !derivable(c, src, depth + 1)) return 0;
    }
    return 1;
}

/* Sources first: the order of offsets is the order bind_weights computes them in. */
static void place(cg *c, const ir_const *k)
{
    if (!k || cg_derived_offset(c, k) >= 0 || !derivable(c, k, 0)) return;
    for (int s = 0; s < k->recipe->n_src; s++)
        if (!cg_const_is_external(c, k->recipe->src[s])) place(c, k->recipe->src[s]);
    struct cg_derived *d = c->derived;
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 32;
        d->keys = realloc(d->keys, sizeof *d->keys * d->cap);
        d->offsets = realloc(d->offsets, sizeof *d->offsets * d->cap);
    }
    d->keys[d->n] = k;
    d->offsets[d->n++] = d->bytes;
    d->bytes += (k->count * 4 + 63) / 64 * 64;
}

static void place_ew(cg *c, const ir_ew *e)
{
    if (!e) return;
    if (e->kind == EW_CHANNEL) place(c, e->channel);
    place_ew(c, e->a);
    place_ew(c, e->b);
    place_ew(c, e->c);
}

void cg_derive_layout(cg *c, const ir_graph *const *graphs, const graph_plan *const *plans, int n_graphs)
{
    if (!c->opt->weights_external) return;
    c->derived = calloc(1, sizeof *c->derived);
    const ir_graph *current = c->g;
    for (int gi = 0; gi < n_graphs; gi++)
        for (int i = 0; i < graphs[gi]->n_nodes; i++) {
            if (!plans[gi]->emit[i]) continue;
            const ir_node *n = &graphs[gi]->nodes[i];
            c->g = graphs[gi]; /* (cg_kernel_weight reads the node's graph) */
            place(c, cg_kernel_weight(c, n));
            place(c, n->bias);
            place_ew(c, n->expr);
        }
    c->g = current;
}

void cg_derive_free(cg *c)
{
    if (!c->derived) return;
    free(c->derived->keys);
    free(c->derived->offsets);
    free(c->derived);
    c->derived = NULL;
}

static LLVMValueRef derived_ptr(cg *c, LLVMValueRef ws, const ir_const *k)
{
    return LLVMBuildInBoundsGEP2(c->b, c->i8, ws,
                                 (LLVMValueRef[]){ cg_i64(c, XAIC_WS_HEADER + cg_derived_offset(c, k)) }, 1, "");
}

LLVMValueRef cg_const_ptr(cg *c, const ir_const *k)
{
    for (int j = 0; j < CG_CONST_ARGS; j++)
        if (k == c->arg_const[j]) return c->arg_ptr[j]; /* in a kernel that receives it */
    LLVMValueRef gv = cg_const_global(c, k);
    if (gv) return gv;
    /* external: c->weights_base is the workspace; its first word points at the bound file */
    if (cg_derived_offset(c, k) >= 0) return derived_ptr(c, c->weights_base, k);
    LLVMValueRef file = LLVMBuildLoad2(c->b, c->ptr, c->weights_base, "weights");
    return LLVMBuildInBoundsGEP2(c->b, c->i8, file, (LLVMValueRef[]){ cg_i64(c, k->file_offset) }, 1, "");
}

/* ir_winograd_element of element i of an IR_T_WINOGRAD transform of k (at src), in its order */
static LLVMValueRef winograd_element(cg *c, LLVMValueRef src, const ir_const *k, int map, LLVMValueRef i)
{
    int64_t filters = k->count / 9;
    LLVMValueRef xi = LLVMBuildUDiv(c->b, i, cg_i64(c, filters), "");
    LLVMValueRef f = LLVMBuildURem(c->b, i, cg_i64(c, filters), ""); /* ir_winograd_filter */
    LLVMValueRef w = cg_gep(c, src, cg_mad(c, f, 9, NULL));
    LLVMValueRef a = LLVMBuildUDiv(c->b, xi, cg_i64(c, 4), ""), b = LLVMBuildURem(c->b, xi, cg_i64(c, 4), "");
    /* the 16 (a, b) as a switch over compile-time coefficients, joined by a phi */
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "wino_done");
    LLVMBasicBlockRef blocks[17];
    LLVMValueRef values[17];
    blocks[16] = LLVMGetInsertBlock(c->b), values[16] = LLVMConstReal(c->f64, 0); /* the default: xi < 16 always */
    LLVMValueRef sw = LLVMBuildSwitch(c->b, cg_mad(c, a, 4, b), done, 16);
    for (int k = 0; k < 16; k++) {
        int ra = k / 4, rb = k % 4;
        blocks[k] = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "wino");
        LLVMAddCase(sw, cg_i64(c, k), blocks[k]);
        LLVMPositionBuilderAtEnd(c->b, blocks[k]);
        LLVMValueRef u = NULL;
        for (int y = 0; y < 3; y++) {
            if (ir_winograd_g[ra][y] == 0) continue;
            LLVMValueRef row = NULL;
            for (int x = 0; x < 3; x++) {
                if (ir_winograd_g[rb][x] == 0) continue;
                LLVMValueRef v = cg_load(c, w, cg_i64(c, y * 3 + x));
                if (map != WMAP_NONE) { /* ir_winograd_element's map: pos(w) / neg(w) */
                    LLVMValueRef zero = cg_f32(c, 0);
                    LLVMValueRef keep = LLVMBuildFCmp(c->b, map == WMAP_POS ? LLVMRealOGT : LLVMRealOLT, v, zero, "");
                    v = LLVMBuildSelect(c->b, keep, v, zero, "");
                }
                LLVMValueRef t = LLVMBuildFMul(c->b, LLVMBuildFPExt(c->b, v, c->f64, ""),
                                               LLVMConstReal(c->f64, ir_winograd_g[rb][x]), "");
                row = row ? LLVMBuildFAdd(c->b, row, t, "") : t;
            }
            LLVMValueRef t = LLVMBuildFMul(c->b, row, LLVMConstReal(c->f64, ir_winograd_g[ra][y]), "");
            u = u ? LLVMBuildFAdd(c->b, u, t, "") : t;
        }
        values[k] = u;
        blocks[k] = LLVMGetInsertBlock(c->b);
        LLVMBuildBr(c->b, done);
    }
    LLVMPositionBuilderAtEnd(c->b, done);
    LLVMValueRef phi = LLVMBuildPhi(c->b, c->f64, "");
    LLVMAddIncoming(phi, values, blocks, 17);
    return phi;
}

static LLVMValueRef as_double(cg *c, LLVMValueRef i1) { return LLVMBuildUIToFP(c->b, i1, c->f64, ""); }

static LLVMValueRef cmp(cg *c, LLVMRealPredicate p, LLVMValueRef x, LLVMValueRef y)
{
    return LLVMBuildFCmp(c->b, p, x, y, "");
}

/* One element of k's recipe at index i, in double (ir_recipe_eval's operations, in its order). */
static LLVMValueRef eval(cg *c, const ir_recipe *r, LLVMValueRef *src, LLVMValueRef i)
{
    LLVMValueRef st[IR_RECIPE_MAX_STACK], zero = LLVMConstReal(c->f64, 0);
    int d = 0;
    for (int s = 0; s < r->n_steps; s++) {
        const ir_tape_step *t = &r->steps[s];
        LLVMValueRef x = d >= 1 ? st[d - 1] : NULL, y = NULL, v;
        switch (t->op) {
        case IR_T_ELEM:
        case IR_T_ROW: {
            LLVMValueRef at = t->op == IR_T_ROW ? LLVMBuildUDiv(c->b, i, cg_i64(c, r->per_row), "") : i;
            st[d++] = LLVMBuildFPExt(c->b, cg_load(c, src[t->src], at), c->f64, "");
            continue;
        }
        case IR_T_NUM: st[d++] = LLVMConstReal(c->f64, t->num); continue;
        case IR_T_WINOGRAD: st[d++] = winograd_element(c, src[t->src], r->src[t->src], (int)t->num, i); continue;
        case IR_T_NEG: st[d - 1] = LLVMBuildFNeg(c->b, x, ""); continue;
        case IR_T_SQRT: st[d - 1] = cg_intrinsic(c, "llvm.sqrt", c->f64, &x, 1); continue;
        case IR_T_ABS: st[d - 1] = cg_intrinsic(c, "llvm.fabs", c->f64, &x, 1); continue;
        case IR_T_POS: st[d - 1] = LLVMBuildSelect(c->b, cmp(c, LLVMRealOGT, x, zero), x, zero, ""); continue;
        case IR_T_NEGPART: st[d - 1] = LLVMBuildSelect(c->b, cmp(c, LLVMRealOLT, x, zero), x, zero, ""); continue;
        case IR_T_STEP: st[d - 1] = as_double(c, cmp(c, LLVMRealOGT, x, zero)); continue;
        case IR_T_SIGN:
            st[d - 1] = LLVMBuildSelect(c->b, cmp(c, LLVMRealOLT, x, zero), LLVMConstReal(c->f64, -1),
                                        LLVMConstReal(c->f64, 1), ""); /* sign(0) = +1 */
            continue;
        case IR_T_EXP: st[d - 1] = cg_intrinsic(c, "llvm.exp", c->f64, &x, 1); continue;
        case IR_T_LOG: st[d - 1] = cg_intrinsic(c, "llvm.log", c->f64, &x, 1); continue;
        case IR_T_POW: { /* ir_pow */
            LLVMValueRef p = LLVMConstReal(c->f64, t->num);
            if (t->num != floor(t->num)) {
                LLVMValueRef l = LLVMBuildFMul(c->b, p, cg_intrinsic(c, "llvm.log", c->f64, &x, 1), "");
                st[d - 1] = cg_intrinsic(c, "llvm.exp", c->f64, &l, 1);
            } else {
                LLVMValueRef v = cg_intrinsic(c, "llvm.pow", c->f64, (LLVMValueRef[]){ x, p }, 2);
                st[d - 1] = t->num < 0 ? LLVMBuildSelect(c->b, cmp(c, LLVMRealOEQ, x, zero), zero, v, "") : v;
            }
            continue;
        }
        default: break;
        }
        x = st[d - 2], y = st[d - 1];
        switch (t->op) {
        case IR_T_ADD: v = LLVMBuildFAdd(c->b, x, y, ""); break;
        case IR_T_SUB: v = LLVMBuildFSub(c->b, x, y, ""); break;
        case IR_T_MUL: v = LLVMBuildFMul(c->b, x, y, ""); break;
        case IR_T_DIV0:
            v = LLVMBuildSelect(c->b, cmp(c, LLVMRealOEQ, y, zero), zero, LLVMBuildFDiv(c->b, x, y, ""), "");
            break;
        case IR_T_GT: v = as_double(c, cmp(c, LLVMRealOGT, x, y)); break;
        case IR_T_LT: v = as_double(c, cmp(c, LLVMRealOLT, x, y)); break;
        case IR_T_GE: v = as_double(c, cmp(c, LLVMRealOGE, x, y)); break;
        case IR_T_LE: v = as_double(c, cmp(c, LLVMRealOLE, x, y)); break;
        case IR_T_EQ: v = as_double(c, cmp(c, LLVMRealOEQ, x, y)); break;
        case IR_T_NE: v = as_double(c, cmp(c, LLVMRealUNE, x, y)); break;
        case IR_T_MAX: v = LLVMBuildSelect(c->b, cmp(c, LLVMRealOGT, x, y), x, y, ""); break;
        default: v = LLVMBuildSelect(c->b, cmp(c, LLVMRealOLT, x, y), x, y, ""); break; /* IR_T_MIN */
        }
        st[--d - 1] = v;
    }
    return st[0];
}

void cg_derive_emit(cg *c, LLVMValueRef ws, LLVMValueRef file)
{
    if (!c->derived) return;
    for (int k = 0; k < c->derived->n; k++) {
        const ir_const *dst = c->derived->keys[k];
        const ir_recipe *r = dst->recipe;
        LLVMValueRef src[IR_RECIPE_MAX_SRC];
        for (int s = 0; s < r->n_src; s++)
            src[s] = cg_derived_offset(c, r->src[s]) >= 0
                ? derived_ptr(c, ws, r->src[s])
                : LLVMBuildInBoundsGEP2(c->b, c->i8, file, (LLVMValueRef[]){ cg_i64(c, r->src[s]->file_offset) }, 1,
                                        "");
        LLVMValueRef out = derived_ptr(c, ws, dst);
        cg_loop l;
        LLVMValueRef i = cg_loop_begin(c, &l, cg_i64(c, 0), cg_i64(c, dst->count), "derive");
        cg_store(c, LLVMBuildFPTrunc(c->b, eval(c, r, src, i), c->f32, ""), out, i);
        cg_loop_end_rolled(c, &l);
    }
}
