/* Kernels that turn one input into many samples and back: the IG path points and SmoothGrad's noisy
 * copies (OP_EXPAND), the quadrature and the means over samples (OP_REDUCE), and the baseline /
 * reference input (OP_REFERENCE). Row r of a node with mult S belongs to input sample r / S. */
#include "cg_kernels.h"

static LLVMValueRef ld(cg *c, LLVMValueRef p) { return LLVMBuildLoad2(c->b, c->f32, p, ""); }

/* out[b, i] = baseline given ? baseline[(per sample ? b : 0), i] : the compiled constant */
void cg_kernel_reference(cg *c, const kargs *a)
{
    int64_t count = ir_shape_count(&a->n->shape);
    LLVMValueRef base = cg_options_pointer(c, a->options, CG_OPT_BASELINE);
    LLVMValueRef per_sample = LLVMBuildICmp(c->b, LLVMIntNE, cg_options_i32(c, a->options, CG_OPT_PER_SAMPLE),
                                            LLVMConstInt(c->i32, 0, 0), "");
    LLVMBasicBlockRef constant = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "constant");
    LLVMBasicBlockRef copy = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "copy");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "done");
    LLVMBuildCondBr(c->b, LLVMBuildIsNull(c->b, base, ""), constant, copy);
    cg_loop lb, li;
    LLVMPositionBuilderAtEnd(c->b, constant);
    LLVMValueRef i = cg_loop_begin(c, &li, cg_i64(c, 0), LLVMBuildNSWMul(c->b, a->batch, cg_i64(c, count), ""), "i");
    cg_store(c, cg_f32(c, a->n->ref_value), a->out, i);
    cg_loop_end(c, &li);
    LLVMBuildBr(c->b, done);
    LLVMPositionBuilderAtEnd(c->b, copy);
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef src_row = LLVMBuildSelect(c->b, per_sample, b, cg_i64(c, 0), "");
    LLVMValueRef src = cg_gep(c, base, cg_mad(c, src_row, count, NULL)),
                 dst = cg_gep(c, a->out, cg_mad(c, b, count, NULL));
    i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, count), "i");
    cg_store(c, cg_load(c, src, i), dst, i);
    cg_loop_end(c, &li);
    cg_loop_end(c, &lb);
    LLVMBuildBr(c->b, done);
    LLVMPositionBuilderAtEnd(c->b, done);
}

/* IG path points: out[b*S + k] = ref[b] + alpha[sample0 + k] * (x[b] - ref[b]) (S: the chunk's samples) */
static void k_expand_path(cg *c, const kargs *a, int64_t S, int64_t count)
{
    LLVMValueRef alphas = cg_const_ptr(c, a->n->weight);
    LLVMValueRef inputs = LLVMBuildSDiv(c->b, a->batch, cg_i64(c, S), "inputs");
    cg_loop lb, lk, li;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), inputs, "b");
    LLVMValueRef x = cg_gep(c, a->in[0], cg_mad(c, b, count, NULL)), r = cg_gep(c, a->in[1], cg_mad(c, b, count, NULL));
    LLVMValueRef k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, S), "k");
    LLVMValueRef alpha = cg_load(c, alphas, LLVMBuildNSWAdd(c->b, a->sample0, k, ""));
    LLVMValueRef dst = cg_gep(c, a->out, cg_mad(c, LLVMBuildNSWAdd(c->b, cg_mad(c, b, S, NULL), k, ""), count, NULL));
    LLVMValueRef i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, count), "i");
    LLVMValueRef rv = cg_load(c, r, i);
    LLVMValueRef v =
        LLVMBuildFAdd(c->b, rv, LLVMBuildFMul(c->b, alpha, LLVMBuildFSub(c->b, cg_load(c, x, i), rv, ""), ""), "");
    cg_store(c, v, dst, i);
    cg_loop_end(c, &li);
    cg_loop_end(c, &lk);
    cg_loop_end(c, &lb);
}

/* SmoothGrad copies: out[b*S + k] = x[b] + noise[b, sample0 + k] (S: the chunk's samples, of `samples` in
 * all); the noise is the caller's (options->noise) or xai_normal_fill(row, count, seed,
 * (b*samples + sample0 + k) * count, sigma) from libxairt: the same numbers whatever the chunks. */
static void k_expand_noise(cg *c, const kargs *a, int64_t S, int64_t count)
{
    LLVMValueRef given = cg_options_pointer(c, a->options, CG_OPT_NOISE);
    /* seed: options->seed when options->has_seed, else the compiled one */
    LLVMValueRef seed_slot = cg_local(c, c->i64, "seed");
    LLVMBuildStore(c->b, cg_i64(c, (int64_t)a->n->rng_seed), seed_slot);
    LLVMBasicBlockRef read = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "read_seed");
    LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "go");
    LLVMBuildCondBr(c->b, LLVMBuildIsNull(c->b, a->options, ""), go, read);
    LLVMPositionBuilderAtEnd(c->b, read);
    LLVMValueRef has = LLVMBuildICmp(c->b, LLVMIntNE,
                                     LLVMBuildLoad2(c->b, c->i32, cg_options_field(c, a->options, CG_OPT_HAS_SEED), ""),
                                     LLVMConstInt(c->i32, 0, 0), "");
    LLVMValueRef user_seed = LLVMBuildLoad2(c->b, c->i64, cg_options_field(c, a->options, CG_OPT_SEED), "");
    LLVMBuildStore(c->b, LLVMBuildSelect(c->b, has, user_seed, cg_i64(c, (int64_t)a->n->rng_seed), ""), seed_slot);
    LLVMBuildBr(c->b, go);
    LLVMPositionBuilderAtEnd(c->b, go);
    LLVMValueRef seed = LLVMBuildLoad2(c->b, c->i64, seed_slot, "");

    LLVMTypeRef fill_params[5] = { c->ptr, c->i64, c->i64, c->i64, c->f32 };
    LLVMTypeRef fill_type = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), fill_params, 5, 0);
    LLVMValueRef fill = LLVMGetNamedFunction(c->mod, "xai_normal_fill");
    if (!fill) fill = LLVMAddFunction(c->mod, "xai_normal_fill", fill_type);

    cg_loop lr, li;
    LLVMValueRef row = cg_loop_begin(c, &lr, cg_i64(c, 0), a->batch, "row");
    LLVMValueRef b = LLVMBuildSDiv(c->b, row, cg_i64(c, S), "");
    LLVMValueRef x = cg_gep(c, a->in[0], cg_mad(c, b, count, NULL));
    LLVMValueRef dst = cg_gep(c, a->out, cg_mad(c, row, count, NULL));
    LLVMValueRef sample = LLVMBuildNSWAdd(c->b, cg_mad(c, b, a->n->samples, a->sample0),
                                          LLVMBuildSRem(c->b, row, cg_i64(c, S), ""), "sample");
    LLVMBasicBlockRef draw = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "draw");
    LLVMBasicBlockRef replay = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "replay");
    LLVMBasicBlockRef add = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "add");
    LLVMBuildCondBr(c->b, LLVMBuildIsNull(c->b, given, ""), draw, replay);
    LLVMPositionBuilderAtEnd(c->b, draw);
    LLVMValueRef args[5] = { dst, cg_i64(c, count), seed, cg_mad(c, sample, count, NULL), cg_f32(c, a->n->sigma) };
    LLVMBuildCall2(c->b, fill_type, fill, args, 5, "");
    LLVMBuildBr(c->b, add);
    LLVMPositionBuilderAtEnd(c->b, replay);
    LLVMValueRef src = cg_gep(c, given, cg_mad(c, sample, count, NULL));
    LLVMValueRef i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, count), "i");
    cg_store(c, cg_load(c, src, i), dst, i);
    cg_loop_end(c, &li);
    LLVMBuildBr(c->b, add);
    LLVMPositionBuilderAtEnd(c->b, add);
    i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, count), "i");
    cg_store(c, LLVMBuildFAdd(c->b, cg_load(c, dst, i), cg_load(c, x, i), ""), dst, i);
    cg_loop_end(c, &li);
    cg_loop_end(c, &lr);
}

/* out[b] from the S rows b*S .. b*S + S - 1 of g: samples sample0 .. sample0 + S - 1 of `samples`. In chunks,
 * the first chunk clears out, every chunk adds to it, and the last applies the path's (x - ref). */
void cg_kernel_reduce(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    int64_t count = ir_shape_count(&n->shape);
    int64_t S = (int64_t)c->g->nodes[n->inputs[0]].mult, total = n->samples > 0 ? n->samples : S;
    LLVMValueRef weights = n->reduce == REDUCE_PATH ? cg_const_ptr(c, n->weight) : NULL;
    double inv = 1.0 / (double)total;
    LLVMValueRef first = LLVMBuildICmp(c->b, LLVMIntEQ, a->sample0, cg_i64(c, 0), "first_chunk");
    LLVMValueRef last = LLVMBuildICmp(c->b, LLVMIntEQ, a->sample0, cg_i64(c, total - S), "last_chunk");
    cg_loop lb, lk, li;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef dst = cg_gep(c, a->out, cg_mad(c, b, count, NULL));
    LLVMBasicBlockRef clear = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "clear");
    LLVMBasicBlockRef sum = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "sum");
    LLVMBuildCondBr(c->b, first, clear, sum);
    LLVMPositionBuilderAtEnd(c->b, clear);
    LLVMValueRef i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, count), "zero");
    cg_store(c, cg_f32(c, 0), dst, i);
    cg_loop_end(c, &li);
    LLVMBuildBr(c->b, sum);
    LLVMPositionBuilderAtEnd(c->b, sum);
    /* pass 1: sum_k w_k g (path), sum_k g / S (mean), sum_k g^2 / S (mean of squares) */
    LLVMValueRef k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, S), "k");
    LLVMValueRef src = cg_gep(c, a->in[0], cg_mad(c, LLVMBuildNSWAdd(c->b, cg_mad(c, b, S, NULL), k, ""), count, NULL));
    LLVMValueRef w = weights ? cg_load(c, weights, LLVMBuildNSWAdd(c->b, a->sample0, k, "")) : cg_f32(c, inv);
    i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, count), "i");
    LLVMValueRef g = cg_load(c, src, i);
    if (n->reduce == REDUCE_MEAN_SQ) g = LLVMBuildFMul(c->b, g, g, "");
    cg_store(c, cg_fadd_reassoc(c, cg_load(c, dst, i), cg_fmul_reassoc(c, w, g)), dst, i);
    cg_loop_end(c, &li);
    cg_loop_end_rolled(c, &lk);
    if (n->reduce == REDUCE_PATH) { /* times (x - ref), after the last chunk */
        LLVMBasicBlockRef scale = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "scale");
        LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "scaled");
        LLVMBuildCondBr(c->b, last, scale, done);
        LLVMPositionBuilderAtEnd(c->b, scale);
        LLVMValueRef x = cg_gep(c, a->in[1], cg_mad(c, b, count, NULL)),
                     r = cg_gep(c, a->in[2], cg_mad(c, b, count, NULL));
        i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, count), "i");
        cg_store(
            c, LLVMBuildFMul(c->b, cg_load(c, dst, i), LLVMBuildFSub(c->b, cg_load(c, x, i), cg_load(c, r, i), ""), ""),
            dst, i);
        cg_loop_end(c, &li);
        LLVMBuildBr(c->b, done);
        LLVMPositionBuilderAtEnd(c->b, done);
    } else if (n->reduce == REDUCE_VAR) { /* pass 2: mean of squares minus the squared mean (never chunked) */
        LLVMValueRef acc = cg_local(c, c->f32, "sq");
        i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, count), "i");
        LLVMBuildStore(c->b, cg_f32(c, 0), acc);
        k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, S), "k");
        LLVMValueRef row = LLVMBuildNSWAdd(c->b, cg_mad(c, b, S, NULL), k, "");
        LLVMValueRef gv = cg_load(c, a->in[0], cg_mad(c, row, count, i));
        LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, ld(c, acc), LLVMBuildFMul(c->b, gv, gv, ""), ""), acc);
        cg_loop_end(c, &lk);
        LLVMValueRef mean = cg_load(c, dst, i);
        LLVMValueRef v = LLVMBuildFSub(c->b, LLVMBuildFMul(c->b, ld(c, acc), cg_f32(c, inv), ""),
                                       LLVMBuildFMul(c->b, mean, mean, ""), "");
        cg_store(c, v, dst, i);
        cg_loop_end(c, &li);
    }
    cg_loop_end(c, &lb);
}

void cg_kernel_expand(cg *c, const kargs *a)
{
    const ir_node *n = a->n;
    int64_t S = n->mult > 1 ? n->mult : 1, count = ir_shape_count(&n->shape);
    if (n->expand == EXPAND_PATH)
        k_expand_path(c, a, S, count);
    else
        k_expand_noise(c, a, S, count);
}
