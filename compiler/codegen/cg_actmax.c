/* Activation maximisation: the entry runs the whole optimisation in compiled code. Each step calls the
 * kernels of the gradient pass (forward, seed onehot(t) - softmax, backward to the input or the code) on
 * the iterate, adds the regulariser's gradient -lambda (x - centre) and updates the iterate by Adam or
 * plain gradient ascent. State lives in the workspace (plan->am_offset): iterate, m, v, gradient, targets. */
#include <math.h>
#include <stdlib.h>

#include "cg_entry.h"
#include "plan.h"
#include "xairt.h"

static LLVMValueRef ld(cg *c, LLVMTypeRef t, LLVMValueRef p) { return LLVMBuildLoad2(c->b, t, p, ""); }

/* if (cond) { then } */
static LLVMBasicBlockRef when(cg *c, LLVMValueRef cond, const char *name)
{
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(c->ctx, c->fn, name);
    LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "after");
    LLVMBuildCondBr(c->b, cond, then, after);
    LLVMPositionBuilderAtEnd(c->b, then);
    return after;
}

static void end_when(cg *c, LLVMBasicBlockRef after)
{
    LLVMBuildBr(c->b, after);
    LLVMPositionBuilderAtEnd(c->b, after);
}

/* targets[b] = first arg-max of logits row b */
static void argmax_rows(cg *c, LLVMValueRef logits, int64_t classes, LLVMValueRef batch, LLVMValueRef targets)
{
    LLVMValueRef best = cg_local(c, c->f32, "best"), bidx = cg_local(c, c->i32, "bidx");
    cg_loop lb, lk;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), batch, "b");
    LLVMBuildStore(c->b, cg_f32(c, -INFINITY), best);
    LLVMBuildStore(c->b, LLVMConstInt(c->i32, 0, 0), bidx);
    LLVMValueRef k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, classes), "k");
    LLVMValueRef v = cg_load(c, logits, cg_mad(c, b, classes, k)), m = ld(c, c->f32, best);
    LLVMValueRef gt = LLVMBuildFCmp(c->b, LLVMRealOGT, v, m, "");
    LLVMBuildStore(c->b, LLVMBuildSelect(c->b, gt, v, m, ""), best);
    LLVMBuildStore(c->b, LLVMBuildSelect(c->b, gt, LLVMBuildTrunc(c->b, k, c->i32, ""), ld(c, c->i32, bidx), ""), bidx);
    cg_loop_end(c, &lk);
    LLVMBuildStore(c->b, ld(c, c->i32, bidx), LLVMBuildInBoundsGEP2(c->b, c->i32, targets, &b, 1, ""));
    cg_loop_end(c, &lb);
}

static void copy_floats(cg *c, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef count)
{
    LLVMBuildMemCpy(c->b, dst, 4, src, 4, LLVMBuildNSWMul(c->b, count, cg_i64(c, 4), ""));
}

void cg_emit_actmax_entry(cg *c, const graph_plan *plan, LLVMValueRef *kernels)
{
    const ir_graph *g = c->g;
    const ir_am *am = &g->am;
    cg_entry e;
    cg_entry_begin(c, plan, &e);
    e.nonfinite_logits = XAI_EDIVERGED; /* the ascent ran off to infinity */
    LLVMTypeRef f64 = LLVMDoubleTypeInContext(c->ctx);
    int64_t n_in = ir_shape_count(&g->nodes[g->input].shape);
    int64_t stride = (n_in + 15) / 16 * 16;
    LLVMValueRef total = LLVMBuildNSWMul(c->b, e.batch, cg_i64(c, n_in), "total");

    /* steps: the compiled number unless the options give one (> 0); a negative number is an error */
    LLVMValueRef user_steps = cg_options_i32(c, e.options, CG_OPT_STEPS);
    cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntSLT, user_steps, LLVMConstInt(c->i32, 0, 0), ""), XAI_EARG);
    LLVMValueRef steps =
        LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, user_steps, LLVMConstInt(c->i32, 0, 0), ""),
                        LLVMBuildSExt(c->b, user_steps, c->i64, ""), cg_i64(c, am->steps), "steps");

    /* the state in the workspace */
    LLVMValueRef state = cg_gep(c, e.arena, LLVMBuildNSWMul(c->b, e.batch, cg_i64(c, plan->am_offset), ""));
    LLVMValueRef xcur = state;
    LLVMValueRef mom1 = cg_gep(c, state, LLVMBuildNSWMul(c->b, e.batch, cg_i64(c, stride), ""));
    LLVMValueRef mom2 = cg_gep(c, state, LLVMBuildNSWMul(c->b, e.batch, cg_i64(c, 2 * stride), ""));
    LLVMValueRef grad = cg_gep(c, state, LLVMBuildNSWMul(c->b, e.batch, cg_i64(c, 3 * stride), ""));
    LLVMValueRef tbuf = cg_gep(c, state, LLVMBuildNSWMul(c->b, e.batch, cg_i64(c, 4 * stride), ""));
    LLVMValueRef *where = calloc(g->n_nodes, sizeof *where);
    cg_entry_buffers(c, plan, &e, where);
    for (int i = 0; i < g->n_nodes; i++) {
        if (plan->values[i].kind == LOC_INPUT)
            where[i] = xcur;
        else if (plan->values[i].kind == LOC_OUTPUT)
            where[i] = grad;
    }
    copy_floats(c, xcur, e.x, total);
    LLVMValueRef zero_bytes = LLVMBuildNSWMul(c->b, total, cg_i64(c, 4), "");
    LLVMBuildMemSet(c->b, mom1, LLVMConstInt(c->i8, 0, 0), zero_bytes, 4);
    LLVMBuildMemSet(c->b, mom2, LLVMConstInt(c->i8, 0, 0), zero_bytes, 4);

    /* the regulariser's centre: options->baseline (one sample or one per sample), else x or 0 */
    LLVMValueRef baseline = cg_options_pointer(c, e.options, CG_OPT_BASELINE);
    LLVMValueRef has_base = LLVMBuildIsNotNull(c->b, baseline, "");
    LLVMValueRef per_sample =
        LLVMBuildICmp(c->b, LLVMIntNE, cg_options_i32(c, e.options, CG_OPT_PER_SAMPLE), LLVMConstInt(c->i32, 0, 0), "");
    LLVMValueRef centre = LLVMBuildSelect(c->b, has_base, baseline, e.x, "centre");
    LLVMValueRef centre_rows = LLVMBuildOr(c->b, LLVMBuildNot(c->b, has_base, ""), per_sample, "");
    LLVMValueRef centre_scale =
        am->center == AM_CENTER_ZERO ? LLVMBuildSelect(c->b, has_base, cg_f32(c, 1), cg_f32(c, 0), "") : cg_f32(c, 1);

    /* the target of each row: given, or the arg-max at the starting point */
    LLVMValueRef tslot = cg_local(c, c->ptr, "targets");
    LLVMBuildStore(c->b, e.target, tslot);
    LLVMBasicBlockRef after = when(c, LLVMBuildIsNull(c->b, e.target, ""), "argmax_at_start");
    cg_call_kernels(c, plan, kernels, where, &e, LLVMConstNull(c->ptr), NULL, 0, am->logits + 1);
    argmax_rows(c, where[am->logits], ir_shape_count(&g->nodes[am->logits].shape), e.batch, tbuf);
    LLVMBuildStore(c->b, tbuf, tslot);
    end_when(c, after);
    LLVMValueRef targets = ld(c, c->ptr, tslot);

    LLVMValueRef progress = cg_options_pointer(c, e.options, CG_OPT_PROGRESS);
    LLVMValueRef progress_ctx = cg_options_pointer(c, e.options, CG_OPT_PROGRESS_CTX);
    LLVMValueRef every = LLVMBuildSDiv(c->b, steps, cg_i64(c, 100), "");
    every =
        LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, every, cg_i64(c, 1), ""), cg_i64(c, 1), every, "every");
    LLVMValueRef pow1 = cg_local(c, f64, "beta1_t"), pow2 = cg_local(c, f64, "beta2_t");
    LLVMBuildStore(c->b, LLVMConstReal(f64, 1), pow1);
    LLVMBuildStore(c->b, LLVMConstReal(f64, 1), pow2);

    cg_loop ls;
    LLVMValueRef t0 = cg_loop_begin(c, &ls, cg_i64(c, 0), steps, "step");
    cg_call_kernels(c, plan, kernels, where, &e, targets, NULL, 0, g->n_nodes);
    /* Adam's bias corrections (Kingma & Ba; PyTorch's form): step lr / (1 - b1^t), denominator
     * sqrt(v) / sqrt(1 - b2^t) + eps */
    LLVMValueRef p1 = LLVMBuildFMul(c->b, ld(c, f64, pow1), LLVMConstReal(f64, am->beta1), "");
    LLVMValueRef p2 = LLVMBuildFMul(c->b, ld(c, f64, pow2), LLVMConstReal(f64, am->beta2), "");
    LLVMBuildStore(c->b, p1, pow1);
    LLVMBuildStore(c->b, p2, pow2);
    LLVMValueRef one = LLVMConstReal(f64, 1);
    LLVMValueRef step_size = LLVMBuildFPTrunc(
        c->b, LLVMBuildFDiv(c->b, LLVMConstReal(f64, am->lr), LLVMBuildFSub(c->b, one, p1, ""), ""), c->f32, "");
    LLVMValueRef bc2 = LLVMBuildFSub(c->b, one, p2, "");
    LLVMValueRef inv_sqrt_bc2 =
        LLVMBuildFPTrunc(c->b, LLVMBuildFDiv(c->b, one, cg_intrinsic(c, "llvm.sqrt", f64, &bc2, 1), ""), c->f32, "");
    cg_loop lb, lk;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), e.batch, "b");
    LLVMValueRef row = cg_mad(c, b, n_in, NULL);
    LLVMValueRef crow = LLVMBuildSelect(c->b, centre_rows, row, cg_i64(c, 0), "");
    LLVMValueRef k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, n_in), "k");
    LLVMValueRef at = LLVMBuildNSWAdd(c->b, row, k, "");
    LLVMValueRef xk = cg_load(c, xcur, at);
    LLVMValueRef ck = LLVMBuildFMul(c->b, centre_scale, cg_load(c, centre, LLVMBuildNSWAdd(c->b, crow, k, "")), "");
    LLVMValueRef reg = LLVMBuildFMul(c->b, cg_f32(c, am->lambda), LLVMBuildFSub(c->b, xk, ck, ""), "");
    LLVMValueRef gk = LLVMBuildFSub(c->b, cg_load(c, grad, at), reg, "");
    LLVMValueRef next;
    if (am->optimizer == AM_ADAM) {
        LLVMValueRef mk = LLVMBuildFAdd(c->b, LLVMBuildFMul(c->b, cg_f32(c, am->beta1), cg_load(c, mom1, at), ""),
                                        LLVMBuildFMul(c->b, cg_f32(c, 1 - am->beta1), gk, ""), "");
        LLVMValueRef vk =
            LLVMBuildFAdd(c->b, LLVMBuildFMul(c->b, cg_f32(c, am->beta2), cg_load(c, mom2, at), ""),
                          LLVMBuildFMul(c->b, cg_f32(c, 1 - am->beta2), LLVMBuildFMul(c->b, gk, gk, ""), ""), "");
        cg_store(c, mk, mom1, at);
        cg_store(c, vk, mom2, at);
        LLVMValueRef denom =
            LLVMBuildFAdd(c->b, LLVMBuildFMul(c->b, cg_intrinsic(c, "llvm.sqrt", c->f32, &vk, 1), inv_sqrt_bc2, ""),
                          cg_f32(c, am->epsilon), "");
        next = LLVMBuildFAdd(c->b, xk, LLVMBuildFDiv(c->b, LLVMBuildFMul(c->b, step_size, mk, ""), denom, ""), "");
    } else {
        next = LLVMBuildFAdd(c->b, xk, LLVMBuildFMul(c->b, cg_f32(c, am->lr), gk, ""), "");
    }
    cg_store(c, next, xcur, at);
    cg_loop_end(c, &lk);
    cg_loop_end(c, &lb);
    /* progress about 100 times per run */
    LLVMValueRef done = LLVMBuildNSWAdd(c->b, t0, cg_i64(c, 1), "done");
    LLVMValueRef tick = LLVMBuildAnd(
        c->b, LLVMBuildIsNotNull(c->b, progress, ""),
        LLVMBuildOr(c->b, LLVMBuildICmp(c->b, LLVMIntEQ, LLVMBuildSRem(c->b, done, every, ""), cg_i64(c, 0), ""),
                    LLVMBuildICmp(c->b, LLVMIntEQ, done, steps, ""), ""),
        "");
    after = when(c, tick, "progress");
    LLVMTypeRef cb_params[3] = { c->ptr, c->i64, c->i64 };
    LLVMBuildCall2(c->b, LLVMFunctionType(c->void_t, cb_params, 3, 0), progress,
                   (LLVMValueRef[]){ progress_ctx, done, steps }, 3, "");
    end_when(c, after);
    cg_loop_end(c, &ls);

    cg_return_if(c, cg_any_nonfinite(c, xcur, total), XAI_EDIVERGED);
    if (am->generator) { /* the codes if wanted, and the image G(z) */
        LLVMValueRef code = cg_options_pointer(c, e.options, CG_OPT_CODE);
        after = when(c, LLVMBuildIsNotNull(c->b, code, ""), "code_out");
        copy_floats(c, code, xcur, total);
        end_when(c, after);
        int image = plan_root(g, am->image);
        cg_call_kernels(c, plan, kernels, where, &e, targets, NULL, 0, image + 1);
        copy_floats(c, e.y, where[image],
                    LLVMBuildNSWMul(c->b, e.batch, cg_i64(c, ir_shape_count(&g->nodes[image].shape)), ""));
    } else {
        copy_floats(c, e.y, xcur, total);
    }
    free(where);
    LLVMBuildRet(c->b, LLVMConstInt(c->i32, XAI_OK, 0));
}
