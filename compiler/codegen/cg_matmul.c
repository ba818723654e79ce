/* OP_MATMUL: out[.., m, n] = sum_k A(m, k) B(k, n) for each of the leading axes' products, A(m, k) = a[.., m, k]
 * (trans_a: a[.., k, m]) and B(k, n) = b[.., k, n] (trans_b: b[.., n, k]). Unless both are transposed (the
 * forward's products, the backward's dA = dout b^T and dB = a^T dout) the products run as register-blocked GEMM
 * tiles (cg_tiles.c), the threads splitting the products. With both (not generated today), rows of the output
 * are split across threads (each writes its own), a dot product along k per output. Shapes are compile-time
 * constants, the batch a run-time bound. */
#include "cg_tiles.h"
#include "cg_kernels.h"
#include "cg_parallel.h"

/* Register-blocked GEMM tiles (cg_tiles.c) over whole products, the threads splitting the products: a b^T (the
 * backward's dout b^T) over packed panels of b^T, a b and a^T b (the forward's products, the backward's a^T dout)
 * reading b in place. */
static void matmul_tiles(cg *c, kargs *q, int64_t lead, int64_t M, int64_t K, int64_t N, int trans_a, int trans_b)
{
    cg_par par;
    LLVMValueRef lo, hi;
    cg_par_begin_args(c, &par, q, lead, M * K * N, &lo, &hi);
    cg_gemm_begin(c);
    LLVMValueRef panel =
        trans_b ? cg_local(c, LLVMArrayType(c->f32, (unsigned)cg_gemm_panel_floats(c)), "panel") : NULL;
    cg_loop lb, ll;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), q->batch, "b");
    LLVMValueRef l = cg_loop_begin(c, &ll, lo, hi, "prod");
    LLVMValueRef prod = cg_mad(c, b, lead, l);
    LLVMValueRef A = cg_gep(c, q->in[0], cg_mad(c, prod, M * K, NULL));
    LLVMValueRef B = cg_gep(c, q->in[1], cg_mad(c, prod, K * N, NULL));
    LLVMValueRef out = cg_gep(c, q->out, cg_mad(c, prod, M * N, NULL));
    if (trans_b)
        cg_emit_gemm_abt(c, out, A, cg_i64(c, M), B, K, N, panel);
    else
        cg_emit_gemm_ab(c, out, A, trans_a, M, B, K, N);
    cg_loop_end(c, &ll);
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
}

void cg_kernel_matmul(cg *c, const kargs *args)
{
    const ir_node *n = args->n;
    const ir_shape *s = &n->shape;
    int r = s->rank;
    int64_t M = s->dims[r - 2], N = s->dims[r - 1];
    const ir_shape *sa = &args->in_shape;
    int64_t K = n->trans_a ? sa->dims[r - 2] : sa->dims[r - 1];
    int64_t lead = ir_shape_count(s) / (M * N);
    if (M == 0 || N == 0 || lead == 0) return;
    kargs q = *args;
    if (!n->trans_a || !n->trans_b) {
        matmul_tiles(c, &q, lead, M, K, N, n->trans_a, n->trans_b);
        return;
    }
    const kargs *a = &q;
    cg_par par;
    LLVMValueRef lo, hi;
    cg_par_begin_args(c, &par, &q, lead * M, K * N, &lo, &hi);
    cg_loop lb, lr, lk, ln;
    LLVMValueRef b = cg_loop_begin(c, &lb, cg_i64(c, 0), a->batch, "b");
    LLVMValueRef row = cg_loop_begin(c, &lr, lo, hi, "row"); /* l * M + m */
    LLVMValueRef l = LLVMBuildUDiv(c->b, row, cg_i64(c, M), ""), m = LLVMBuildURem(c->b, row, cg_i64(c, M), "");
    LLVMValueRef prod = cg_mad(c, b, lead, l); /* which product, over the whole batch */
    LLVMValueRef A = cg_gep(c, a->in[0], cg_mad(c, prod, M * K, NULL));
    LLVMValueRef B = cg_gep(c, a->in[1], cg_mad(c, prod, K * N, NULL));
    LLVMValueRef out = cg_gep(c, a->out, cg_mad(c, prod, M * N, cg_mad(c, m, N, NULL)));
    /* out[m, j] = sum_k A(m, k) b[j, k]: a dot product along k */
    LLVMValueRef acc = cg_local(c, c->f32, "acc");
    LLVMValueRef j = cg_loop_begin(c, &ln, cg_i64(c, 0), cg_i64(c, N), "n");
    LLVMBuildStore(c->b, cg_f32(c, 0), acc);
    LLVMValueRef k = cg_loop_begin(c, &lk, cg_i64(c, 0), cg_i64(c, K), "k");
    LLVMValueRef amk = cg_load(c, A, n->trans_a ? cg_mad(c, k, M, m) : cg_mad(c, m, K, k));
    LLVMValueRef bjk = cg_load(c, B, cg_mad(c, j, K, k));
    LLVMBuildStore(c->b, cg_fadd_reassoc(c, LLVMBuildLoad2(c->b, c->f32, acc, ""), LLVMBuildFMul(c->b, amk, bjk, "")),
                   acc);
    cg_loop_end(c, &lk);
    cg_store(c, LLVMBuildLoad2(c->b, c->f32, acc, ""), out, j);
    cg_loop_end(c, &ln);
    cg_loop_end(c, &lr);
    cg_loop_end(c, &lb);
    cg_par_end(c, &par);
}
