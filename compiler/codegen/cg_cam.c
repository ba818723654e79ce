/* Kernels of the CAM family: channel-weighted sums of maps, Grad-CAM++ channel weights, and bilinear
 * resizing (PyTorch's F.interpolate semantics, sampling tables computed by the rules stage). */

#include "cg_kernels.h"

static LLVMValueRef ld(cg *c, LLVMValueRef p) { return LLVMBuildLoad2(c->b, c->f32, p, ""); }

/* out[b, p] = sum_k v[b, k] * A[b, k, p] */
void cg_kernel_channel_dot(cg *c, const kargs *a)
{
    const ir_shape *s = &a->n->in_shape;
    int64_t K = s->dims[0], P = (int64_t)s->dims[1] * s->dims[2];
    cg_loop lb, lk, lp;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef dst = cg_gep(c, a->out, cg_mad(c, b, P, NULL));
    LLVMValueRef p = cg_loop_begin(c, &lp, cg_i64(c, 0), cg_i64(c, P), "zero");
    cg_store(c, cg_f32(c, 0), dst, p);
    cg_loop_end(c, &lp);
    LLVMValueRef k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, K), "k");
    LLVMValueRef v = cg_load(c, a->in[0], cg_mad(c, b, K, k));
    LLVMValueRef plane = cg_gep(c, a->in[1], cg_mad(c, cg_mad(c, b, K, k), P, NULL));
    p = cg_loop_begin(c, &lp, cg_i64(c, 0), cg_i64(c, P), "p");
    cg_store(c, cg_fadd_reassoc(c, cg_load(c, dst, p), cg_fmul_reassoc(c, v, cg_load(c, plane, p))), dst, p);
    cg_loop_end(c, &lp);
    cg_loop_end(c, &lk);
    cg_loop_end(c, &lb);
}

/* w[k] = sum_ij alpha_kij * relu(g_kij), alpha = g^2 / (2 g^2 + S_k g^3), S_k = sum_ab A_kab (0 where the
 * denominator is 0). This is the paper's closed form with Y = exp(score): its exp(score) factors cancel in
 * alpha and leave one positive factor exp(score) on every w_k, dropped here so nothing can overflow. */
void cg_kernel_gradcampp(cg *c, const kargs *a)
{
    const ir_shape *s = &a->n->in_shape;
    int64_t K = s->dims[0], P = (int64_t)s->dims[1] * s->dims[2];
    LLVMValueRef sum = cg_local(c, c->f32, "S"), w = cg_local(c, c->f32, "w");
    cg_loop lr, lp;
    LLVMValueRef row = cg_loop_begin(c, &lr, cg_i64(c, 0), LLVMBuildNSWMul(c->b, a->batch, cg_i64(c, K), ""), "bk");
    LLVMValueRef g = cg_gep(c, a->in[0], cg_mad(c, row, P, NULL)), A = cg_gep(c, a->in[1], cg_mad(c, row, P, NULL));
    LLVMBuildStore(c->b, cg_f32(c, 0), sum);
    LLVMValueRef p = cg_loop_begin(c, &lp, cg_i64(c, 0), cg_i64(c, P), "p");
    LLVMBuildStore(c->b, cg_fadd_reassoc(c, ld(c, sum), cg_load(c, A, p)), sum);
    cg_loop_end(c, &lp);
    LLVMValueRef S = ld(c, sum);
    LLVMBuildStore(c->b, cg_f32(c, 0), w);
    p = cg_loop_begin(c, &lp, cg_i64(c, 0), cg_i64(c, P), "p");
    LLVMValueRef gv = cg_load(c, g, p);
    LLVMValueRef g2 = LLVMBuildFMul(c->b, gv, gv, ""), g3 = LLVMBuildFMul(c->b, g2, gv, "");
    LLVMValueRef den =
        LLVMBuildFAdd(c->b, LLVMBuildFMul(c->b, cg_f32(c, 2), g2, ""), LLVMBuildFMul(c->b, S, g3, ""), "");
    LLVMValueRef zero = LLVMBuildFCmp(c->b, LLVMRealOEQ, den, cg_f32(c, 0), "");
    LLVMValueRef alpha = LLVMBuildSelect(
        c->b, zero, cg_f32(c, 0), LLVMBuildFDiv(c->b, g2, LLVMBuildSelect(c->b, zero, cg_f32(c, 1), den, ""), ""), "");
    LLVMValueRef relu =
        LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, gv, cg_f32(c, 0), ""), gv, cg_f32(c, 0), "");
    LLVMBuildStore(c->b, cg_fadd_reassoc(c, ld(c, w), LLVMBuildFMul(c->b, alpha, relu, "")), w);
    cg_loop_end(c, &lp);
    cg_store(c, ld(c, w), a->out, row);
    cg_loop_end(c, &lr);
}

void cg_kernel_upsample(cg *c, const kargs *a)
{
    /* sampling tables from the rules stage: per output row (weight) and column (bias) the two source
     * indices and the weight of the second */
    const ir_node *n = a->n;
    int h = n->in_shape.dims[1], w = n->in_shape.dims[2], H = n->shape.dims[0], W = n->shape.dims[1];
    LLVMValueRef rt = cg_const_ptr(c, n->weight), ct = cg_const_ptr(c, n->bias);
    cg_loop lb, ly, lx;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef src = cg_gep(c, a->in[0], cg_mad(c, b, (int64_t)h * w, NULL));
    LLVMValueRef dst = cg_gep(c, a->out, cg_mad(c, b, (int64_t)H * W, NULL));
    LLVMValueRef y = cg_loop_begin(c, &ly, cg_i64(c, 0), cg_i64(c, H), "y");
    LLVMValueRef y0 = LLVMBuildFPToSI(c->b, cg_load(c, rt, cg_mad(c, y, 3, NULL)), c->i64, "");
    LLVMValueRef y1 = LLVMBuildFPToSI(c->b, cg_load(c, rt, cg_mad(c, y, 3, cg_i64(c, 1))), c->i64, "");
    LLVMValueRef fy = cg_load(c, rt, cg_mad(c, y, 3, cg_i64(c, 2)));
    LLVMValueRef r0 = cg_gep(c, src, cg_mad(c, y0, w, NULL)), r1 = cg_gep(c, src, cg_mad(c, y1, w, NULL));
    LLVMValueRef x = cg_loop_begin(c, &lx, cg_i64(c, 0), cg_i64(c, W), "x");
    LLVMValueRef x0 = LLVMBuildFPToSI(c->b, cg_load(c, ct, cg_mad(c, x, 3, NULL)), c->i64, "");
    LLVMValueRef x1 = LLVMBuildFPToSI(c->b, cg_load(c, ct, cg_mad(c, x, 3, cg_i64(c, 1))), c->i64, "");
    LLVMValueRef fx = cg_load(c, ct, cg_mad(c, x, 3, cg_i64(c, 2)));
    LLVMValueRef one = cg_f32(c, 1);
    LLVMValueRef top =
        LLVMBuildFAdd(c->b, LLVMBuildFMul(c->b, LLVMBuildFSub(c->b, one, fx, ""), cg_load(c, r0, x0), ""),
                      LLVMBuildFMul(c->b, fx, cg_load(c, r0, x1), ""), "");
    LLVMValueRef bot =
        LLVMBuildFAdd(c->b, LLVMBuildFMul(c->b, LLVMBuildFSub(c->b, one, fx, ""), cg_load(c, r1, x0), ""),
                      LLVMBuildFMul(c->b, fx, cg_load(c, r1, x1), ""), "");
    LLVMValueRef v = LLVMBuildFAdd(c->b, LLVMBuildFMul(c->b, LLVMBuildFSub(c->b, one, fy, ""), top, ""),
                                   LLVMBuildFMul(c->b, fy, bot, ""), "");
    cg_store(c, v, dst, cg_mad(c, y, W, x));
    cg_loop_end(c, &lx);
    cg_loop_end(c, &ly);
    cg_loop_end(c, &lb);
}
