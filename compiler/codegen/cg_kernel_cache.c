/* Kernels shared between the graphs of one network: every explanation graph starts with the network's
 * forward pass, and IG / SmoothGrad / DeepLIFT copy it again, so most kernels are emitted several times
 * with identical code. A kernel's code depends only on its node (op, attributes, shapes, constants,
 * expression), the shapes (and, for the sampling and seed ops, the sample counts) of its inputs, and the
 * module's options, so nodes with the same description share one function: less code for LLVM to optimise (compile time) and for the CPU
 * to cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_kernels.h"

struct cg_kernel_cache {
    char **keys;
    LLVMValueRef *fns;
    int n, cap;
};

/* A constant as its kernel reads it: the embedded global (one for equal values, codegen.c), else the constant. */
static const void *constant_id(const cg *c, const ir_const *k)
{
    LLVMValueRef gv = k ? cg_const_global(c, k) : NULL;
    return gv ? (const void *)gv : (const void *)k;
}

/* A constant the kernel receives as an argument is known to its code by its shape only; others by identity. */
static void put_const(const cg *c, FILE *f, const ir_const *k, const ir_const *passed)
{
    if (!k || k != passed) {
        fprintf(f, "%p", constant_id(c, k));
        return;
    }
    fprintf(f, "arg[%d", k->rank);
    for (int d = 0; d < k->rank; d++) fprintf(f, ",%lld", (long long)k->shape[d]);
    fprintf(f, "]%lld", (long long)k->count);
}

static void put_ew(const cg *c, FILE *f, const ir_ew *e)
{
    if (!e) {
        fputs("_", f);
        return;
    }
    fprintf(f, "(%d %d %a %p ", (int)e->kind, e->input, e->num, constant_id(c, e->channel));
    put_ew(c, f, e->a);
    put_ew(c, f, e->b);
    put_ew(c, f, e->c);
    fputc(')', f);
}

static void put_shape(FILE *f, const ir_shape *s)
{
    fprintf(f, "[%d", s->rank);
    for (int k = 0; k < s->rank; k++) fprintf(f, ",%d", s->dims[k]);
    fputc(']', f);
}

/* Everything cg_kernel reads of node i and of its inputs (malloc'd text). */
static char *kernel_key(const cg *c, int i)
{
    const ir_graph *g = c->g;
    const ir_node *n = &g->nodes[i];
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    /* Kernels get batch * mult as their batch; only these ops also read the sample counts themselves. */
    int counts_samples = ir_op_is(n->op, OPF_READS_SAMPLES);
    fprintf(f, "op%d mult%d ", (int)n->op, counts_samples ? n->mult : 0);
    put_shape(f, &n->shape);
    put_shape(f, &n->in_shape);
    fprintf(f,
            " u%d k%d,%d s%d,%d p%d,%d,%d,%d same%d bias%d eps%a w/%d m%p v%p g%d seed%d exp%d red%d "
            "sig%a rng%llu ref%a arg%d smp%d in%d:",
            n->units, n->kh, n->kw, n->sh, n->sw, n->pad_t, n->pad_l, n->pad_b, n->pad_r, n->pad_same, n->has_bias,
            (double)n->eps, (int)n->weight_map, constant_id(c, n->bn_mean), constant_id(c, n->bn_var), n->global,
            (int)n->seed, (int)n->expand, (int)n->reduce, (double)n->sigma, (unsigned long long)n->rng_seed,
            (double)n->ref_value, n->argmax_from, n->samples, n->n_inputs);
    fprintf(f, " epi%d,%d blk%lld stat%d,%d,%d,%a", n->epilogue_from, n->epilogue_acc, (long long)n->seed_block,
            (int)n->stat, n->stat_per_channel, n->stat_along, n->stat_q);
    fprintf(f, " g%d d%d,%d ceil%d ex%d a%a,%a ns%d ax%d st%d sp%d perm%d,%d,%d,%d tr%d,%d", n->groups, n->dh, n->dw,
            n->ceil_mode, n->exclude_pad, (double)n->arg[0], (double)n->arg[1], n->number_side, n->axis, n->start,
            n->step, n->perm[0], n->perm[1], n->perm[2], n->perm[3], n->trans_a, n->trans_b);
    const ir_const *passed[CG_CONST_ARGS];
    cg_kernel_const_args(c, n, passed);
    const ir_const *weight = cg_kernel_weight(c, n);
    fprintf(f, " wino%d w", weight != n->weight);
    put_const(c, f, weight, passed[0]);
    fputs(" b", f);
    put_const(c, f, n->bias, passed[1]);
    for (int k = 0; k < n->n_inputs; k++) {
        const ir_node *in = &g->nodes[n->inputs[k]];
        fprintf(f, " m%d", counts_samples ? in->mult : 0);
        put_shape(f, &in->shape);
    }
    fputc(' ', f);
    put_ew(c, f, n->expr);
    fclose(f);
    return text;
}

LLVMValueRef cg_kernel_shared(cg *c, int i)
{
    if (!c->kernels) c->kernels = calloc(1, sizeof *c->kernels);
    struct cg_kernel_cache *kc = c->kernels;
    char *key = kernel_key(c, i);
    for (int k = 0; k < kc->n; k++)
        if (!strcmp(kc->keys[k], key)) {
            free(key);
            return kc->fns[k];
        }
    LLVMValueRef fn = cg_kernel(c, i);
    if (kc->n == kc->cap) {
        kc->cap = kc->cap ? 2 * kc->cap : 64;
        kc->keys = realloc(kc->keys, sizeof *kc->keys * kc->cap);
        kc->fns = realloc(kc->fns, sizeof *kc->fns * kc->cap);
    }
    kc->keys[kc->n] = key;
    kc->fns[kc->n++] = fn;
    return fn;
}

void cg_kernel_cache_free(cg *c)
{
    struct cg_kernel_cache *kc = c->kernels;
    if (!kc) return;
    for (int k = 0; k < kc->n; k++) free(kc->keys[k]);
    free(kc->keys);
    free(kc->fns);
    free(kc);
    c->kernels = NULL;
}
