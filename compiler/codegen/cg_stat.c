/* OP_LAYER_STAT: a statistic of a value per sample (or per channel of a sample), written back over every
 * element of its group so that elementwise rule code reads it like any other input. Accumulated in double:
 * a layer's sum of squares over ~10^5 values would lose digits in float. With stat_along, of each line along an
 * axis (a softmax's groups), written back over that line. */
#include <math.h>

#include "cg_kernels.h"
#include "cg_parallel.h"

static LLVMValueRef ld(cg *c, LLVMTypeRef t, LLVMValueRef p) { return LLVMBuildLoad2(c->b, t, p, ""); }

/* the i-th value of a group whose values lie `stride` apart */
static LLVMValueRef at(cg *c, LLVMValueRef i, int64_t stride) { return stride == 1 ? i : cg_mad(c, i, stride, NULL); }

static LLVMValueRef fcmp(cg *c, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFCmp(c->b, p, a, b, "");
}

/* The m-th smallest (m from 0) of src[0 .. size): the smallest 32-bit key K with at least m + 1 keys <= K, found
 * by bisection over the keys (32 counting passes; exact, in place, no sort). A float's key orders like the
 * float: non-negative ones with the top bit set, negative ones bit-inverted. */
static LLVMValueRef order_statistic(cg *c, LLVMValueRef src, int64_t size, int64_t stride, int64_t m)
{
    LLVMValueRef lo = cg_local(c, c->i64, "lo"), hi = cg_local(c, c->i64, "hi"), count = cg_local(c, c->i64, "n");
    LLVMBuildStore(c->b, cg_i64(c, 0), lo);
    LLVMBuildStore(c->b, cg_i64(c, 0xffffffffLL), hi);
    cg_loop lt, li;
    cg_loop_begin(c, &lt, cg_i64(c, 0), cg_i64(c, 32), "bisect");
    LLVMValueRef l = ld(c, c->i64, lo), h = ld(c, c->i64, hi);
    LLVMValueRef mid = LLVMBuildLShr(c->b, LLVMBuildAdd(c->b, l, h, ""), cg_i64(c, 1), "");
    LLVMBuildStore(c->b, cg_i64(c, 0), count);
    LLVMValueRef i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, size), "i");
    LLVMValueRef u = LLVMBuildBitCast(c->b, cg_load(c, src, at(c, i, stride)), c->i32, "");
    LLVMValueRef negative = LLVMBuildICmp(c->b, LLVMIntSLT, u, LLVMConstInt(c->i32, 0, 0), "");
    LLVMValueRef key = LLVMBuildSelect(c->b, negative, LLVMBuildNot(c->b, u, ""),
                                       LLVMBuildOr(c->b, u, LLVMConstInt(c->i32, 0x80000000u, 0), ""), "");
    LLVMValueRef below = LLVMBuildICmp(c->b, LLVMIntULE, LLVMBuildZExt(c->b, key, c->i64, ""), mid, "");
    LLVMBuildStore(c->b, LLVMBuildAdd(c->b, ld(c, c->i64, count), LLVMBuildZExt(c->b, below, c->i64, ""), ""), count);
    cg_loop_end(c, &li);
    LLVMValueRef enough = LLVMBuildICmp(c->b, LLVMIntSGE, ld(c, c->i64, count), cg_i64(c, m + 1), "");
    LLVMBuildStore(c->b, LLVMBuildSelect(c->b, enough, mid, ld(c, c->i64, hi), ""), hi);
    LLVMBuildStore(c->b,
                   LLVMBuildSelect(c->b, enough, ld(c, c->i64, lo), LLVMBuildAdd(c->b, mid, cg_i64(c, 1), ""), ""), lo);
    cg_loop_end(c, &lt);
    LLVMValueRef k = LLVMBuildTrunc(c->b, ld(c, c->i64, hi), c->i32, "");
    LLVMValueRef top = LLVMBuildICmp(c->b, LLVMIntSLT, k, LLVMConstInt(c->i32, 0, 0), ""); /* the top bit */
    LLVMValueRef bits = LLVMBuildSelect(c->b, top, LLVMBuildAnd(c->b, k, LLVMConstInt(c->i32, 0x7fffffffu, 0), ""),
                                        LLVMBuildNot(c->b, k, ""), "");
    return LLVMBuildFPExt(c->b, LLVMBuildBitCast(c->b, bits, c->f32, ""), c->f64, "");
}

void cg_kernel_layer_stat(cg *c, const kargs *a0)
{
    const ir_node *n = a0->n;
    const ir_shape *in = n->in_shape.rank ? &n->in_shape : &n->shape;
    int64_t groups = n->stat_per_channel && in->rank >= 1 ? in->dims[0] : 1;
    int64_t size = ir_shape_count(in) / groups, spread = ir_shape_count(&n->shape) / groups, stride = 1, len = 0;
    if (n->stat_along) { /* each line along the axis, written back over itself (sema: out shape = in shape) */
        cg_axis_lines(in, n->stat_along - 1, &groups, &len, &stride);
        size = spread = len;
    }
    if (size == 0 || spread == 0) return;
    kargs q = *a0;
    const kargs *a = &q;
    cg_par par; /* threads split each sample's groups */
    LLVMValueRef lo, hi;
    cg_par_begin_args(c, &par, &q, groups, (size * (n->stat == STAT_QUANTILE ? 64 : 2) + spread) * CG_PAR_ELEMENT_WORK,
                      &lo, &hi);
    LLVMValueRef acc = cg_local(c, c->f64, "acc"), mean = cg_local(c, c->f64, "mean");
    cg_loop lb, lg, li;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef g = cg_mad(c, b, groups, cg_loop_begin(c, &lg, lo, hi, "g"));
    LLVMValueRef src, dst;
    if (n->stat_along) {
        LLVMValueRef start = cg_line_start(c, g, len, stride);
        src = cg_gep(c, a->in[0], start), dst = cg_gep(c, a->out, start);
    } else {
        src = cg_gep(c, a->in[0], cg_mad(c, g, size, NULL)), dst = cg_gep(c, a->out, cg_mad(c, g, spread, NULL));
    }
    if (n->stat == STAT_QUANTILE) { /* linear between the order statistics around q (n - 1), as torch.quantile */
        double pos = n->stat_q * (double)(size - 1), k = floor(pos);
        LLVMValueRef result = order_statistic(c, src, size, stride, (int64_t)k);
        if (pos > k && (int64_t)k + 1 < size) {
            LLVMValueRef next = order_statistic(c, src, size, stride, (int64_t)k + 1);
            result = LLVMBuildFAdd(
                c->b, result,
                LLVMBuildFMul(c->b, LLVMConstReal(c->f64, pos - k), LLVMBuildFSub(c->b, next, result, ""), ""), "");
        }
        LLVMValueRef out = LLVMBuildFPTrunc(c->b, result, c->f32, "");
        LLVMValueRef i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, spread), "fill");
        cg_store(c, out, dst, at(c, i, stride));
        cg_loop_end(c, &li);
        cg_loop_end(c, &lg);
        cg_loop_end(c, &lb);
        cg_par_end(c, &par);
        return;
    }
    LLVMValueRef first = LLVMBuildFPExt(c->b, cg_load(c, src, cg_i64(c, 0)), c->f64, "");
    int extreme = n->stat == STAT_MAX || n->stat == STAT_MIN;
    LLVMBuildStore(c->b, extreme ? first : LLVMConstReal(c->f64, 0), acc);
    LLVMValueRef i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, size), "i");
    LLVMValueRef v = LLVMBuildFPExt(c->b, cg_load(c, src, at(c, i, stride)), c->f64, ""), s = ld(c, c->f64, acc);
    if (extreme) /* NaN never wins a comparison: the statistic of the other values */
        s = LLVMBuildSelect(c->b, fcmp(c, n->stat == STAT_MAX ? LLVMRealOGT : LLVMRealOLT, v, s), v, s, "");
    else
        s = LLVMBuildFAdd(c->b, s, v, "");
    LLVMBuildStore(c->b, s, acc);
    cg_loop_end(c, &li);
    LLVMValueRef result = ld(c, c->f64, acc);
    if (n->stat == STAT_MEAN || n->stat == STAT_STD)
        result = LLVMBuildFDiv(c->b, result, LLVMConstReal(c->f64, (double)size), "");
    if (n->stat == STAT_STD) { /* two passes: the squared deviations from the mean, over n - 1 */
        LLVMBuildStore(c->b, result, mean);
        LLVMBuildStore(c->b, LLVMConstReal(c->f64, 0), acc);
        i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, size), "i");
        LLVMValueRef d = LLVMBuildFSub(c->b, LLVMBuildFPExt(c->b, cg_load(c, src, at(c, i, stride)), c->f64, ""),
                                       ld(c, c->f64, mean), "");
        LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, ld(c, c->f64, acc), LLVMBuildFMul(c->b, d, d, ""), ""), acc);
        cg_loop_end(c, &li);
        LLVMValueRef var = size > 1
            ? LLVMBuildFDiv(c->b, ld(c, c->f64, acc), LLVMConstReal(c->f64, (double)(size - 1)), "")
            : LLVMConstReal(c->f64, 0);
        result = cg_intrinsic(c, "llvm.sqrt", c->f64, &var, 1);
    }
    LLVMValueRef out = LLVMBuildFPTrunc(c->b, result, c->f32, "");
    i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, spread), "fill");
    cg_store(c, out, dst, at(c, i, stride));
    cg_loop_end(c, &li);
    cg_loop_end(c, &lg);
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
}
