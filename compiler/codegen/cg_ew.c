/* Elementwise expressions as LLVM values, scalar or <CG_VW x float>; see cg_ew.h. All in one basic block and
 * branch-free (comparisons become selects), so that scalar loops vectorise and vector epilogues stay
 * straight-line code. */
#include <string.h>

#include "cg_ew.h"
#include "cg_vec.h"

#define EW_MEMO 256

typedef struct ew_ctx {
    const cg_ew_site *s;
    LLVMTypeRef ty;                     /* float or <CG_VW x float> */
    LLVMValueRef inputs[IR_MAX_INPUTS]; /* loaded once per element */
    const ir_ew *memo_key[EW_MEMO];     /* shared subexpressions are evaluated once */
    LLVMValueRef memo_val[EW_MEMO];
    int n_memo;
} ew_ctx;

int cg_ew_uses_channel(const ir_ew *e)
{
    if (!e) return 0;
    return e->kind == EW_CHANNEL || cg_ew_uses_channel(e->a) || cg_ew_uses_channel(e->b) || cg_ew_uses_channel(e->c);
}

static LLVMValueRef num(cg *c, const ew_ctx *x, double v)
{
    LLVMValueRef k = cg_f32(c, v);
    return x->s->vec ? splat(c, k) : k;
}

static LLVMValueRef fcmp(cg *c, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFCmp(c->b, p, a, b, "");
}

/* v (a float constant) as a value of a's type: a scalar, or a vector of a's lanes */
static LLVMValueRef like(cg *c, LLVMValueRef a, LLVMValueRef v)
{
    LLVMTypeRef t = LLVMTypeOf(a);
    if (LLVMGetTypeKind(t) != LLVMVectorTypeKind) return v;
    unsigned n = LLVMGetVectorSize(t);
    LLVMValueRef lanes[64];
    for (unsigned i = 0; i < n && i < 64; i++) lanes[i] = v;
    return LLVMConstVector(lanes, n);
}

/* exp(a) in float, inline and branch-free, so that it vectorises (the llvm.exp intrinsic becomes one libm call
 * per lane: an x86 target has no vector exp, and exp-based activations, SiLU and sigmoid, and softmax spent most
 * of their time there). Cephes' expf: n = rint(a log2 e), r = a - n ln 2 in two parts (Cody-Waite), e^r by its
 * polynomial, times 2^n built in the exponent bits, in two halves so that n = 128 (a up to 88.72, just below
 * FLT_MAX) and subnormal results (n down to -150) come out right. a is clamped to [-104, 89] first: below,
 * the result rounds to 0; above, it overflows to inf. NaN stays NaN. Measured against double exp
 * (tests/unit/test_gelu.c). */
LLVMValueRef cg_exp(cg *c, LLVMValueRef a)
{
    LLVMTypeRef ft = LLVMTypeOf(a);
    int vec = LLVMGetTypeKind(ft) == LLVMVectorTypeKind;
    LLVMTypeRef it = vec ? LLVMVectorType(c->i32, LLVMGetVectorSize(ft)) : c->i32;
#define F(v) like(c, a, cg_f32(c, v))
#define I(v) like(c, a, LLVMConstInt(c->i32, (unsigned long long)(v), 1))
    LLVMValueRef x = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOLT, a, F(-104), ""), F(-104), a, "");
    x = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, x, F(89), ""), F(89), x, "");
    LLVMValueRef t = LLVMBuildFMul(c->b, x, F(1.44269504088896341), "");
    LLVMValueRef nf = cg_intrinsic(c, "llvm.rint", ft, &t, 1);
    LLVMValueRef r = cg_intrinsic(c, "llvm.fma", ft, (LLVMValueRef[]){ nf, F(-0.693359375), x }, 3);
    r = cg_intrinsic(c, "llvm.fma", ft, (LLVMValueRef[]){ nf, F(2.12194440e-4), r }, 3);
    static const double poly[] = { 1.9875691500E-4, 1.3981999507E-3, 8.3334519073E-3,
                                   4.1665795894E-2, 1.6666665459E-1, 5.0000001201E-1 };
    LLVMValueRef p = F(poly[0]);
    for (size_t k = 1; k < sizeof poly / sizeof *poly; k++)
        p = cg_intrinsic(c, "llvm.fma", ft, (LLVMValueRef[]){ p, r, F(poly[k]) }, 3);
    LLVMValueRef r2 = LLVMBuildFMul(c->b, r, r, "");
    LLVMValueRef y = LLVMBuildFAdd(c->b, cg_intrinsic(c, "llvm.fma", ft, (LLVMValueRef[]){ p, r2, r }, 3), F(1), "");
    LLVMValueRef n = LLVMBuildFPToSI(c->b, nf, it, "");
    LLVMValueRef n1 = LLVMBuildAShr(c->b, n, I(1), ""), n2 = LLVMBuildSub(c->b, n, n1, "");
    LLVMValueRef s1 = LLVMBuildBitCast(c->b, LLVMBuildShl(c->b, LLVMBuildAdd(c->b, n1, I(127), ""), I(23), ""), ft, "");
    LLVMValueRef s2 = LLVMBuildBitCast(c->b, LLVMBuildShl(c->b, LLVMBuildAdd(c->b, n2, I(127), ""), I(23), ""), ft, "");
    LLVMValueRef v = LLVMBuildFMul(c->b, LLVMBuildFMul(c->b, y, s1, ""), s2, "");
#undef F
#undef I
    return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealUNO, a, a, ""), a, v, "");
}

/* erf(a) in float, inline and branch-free (so that it vectorises; no libm call): the rational approximation
 * Eigen and XLA use for float erf, x p(x^2) / q(x^2) with x clamped to [-4, 4] (beyond, erf rounds to +-1),
 * and the quotient clamped to [-1, 1]. Measured against double erf on 2e6 points of [-10, 10]
 * (tests/unit/test_gelu.c): max abs error 4.2e-7 (at |x| = 3.32, 7 ulp of 1), max rel error 4.2e-7
 * (near 0 it is within 1 ulp: erf(x) ~ 2x / sqrt(pi)). +-inf give +-1; NaN stays NaN (the clamps compare
 * ordered, so NaN passes them). */
static LLVMValueRef erf_value(cg *c, const ew_ctx *x, LLVMValueRef a)
{
    static const double alpha[] = { -2.72614225801306e-10, 2.77068142495902e-08,  -2.10102402082508e-06,
                                    -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
                                    -1.60960333262415e-02 };
    static const double beta[] = { -1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
                                   -7.37332916720468e-03, -1.42647390514189e-02 };
    LLVMValueRef four = num(c, x, 4), mfour = num(c, x, -4), one = num(c, x, 1), mone = num(c, x, -1);
    LLVMValueRef v = LLVMBuildSelect(c->b, fcmp(c, LLVMRealOLT, a, mfour), mfour, a, "");
    v = LLVMBuildSelect(c->b, fcmp(c, LLVMRealOGT, v, four), four, v, "");
    LLVMValueRef v2 = LLVMBuildFMul(c->b, v, v, "");
    LLVMValueRef p = num(c, x, alpha[0]), q = num(c, x, beta[0]);
    for (size_t k = 1; k < sizeof alpha / sizeof *alpha; k++)
        p = LLVMBuildFAdd(c->b, LLVMBuildFMul(c->b, v2, p, ""), num(c, x, alpha[k]), "");
    for (size_t k = 1; k < sizeof beta / sizeof *beta; k++)
        q = LLVMBuildFAdd(c->b, LLVMBuildFMul(c->b, v2, q, ""), num(c, x, beta[k]), "");
    LLVMValueRef r = LLVMBuildFDiv(c->b, LLVMBuildFMul(c->b, v, p, ""), q, "");
    r = LLVMBuildSelect(c->b, fcmp(c, LLVMRealOGT, r, one), one, r, "");
    return LLVMBuildSelect(c->b, fcmp(c, LLVMRealOLT, r, mone), mone, r, "");
}

static LLVMValueRef eval(cg *c, ew_ctx *x, const ir_ew *e)
{
    for (int k = 0; k < x->n_memo; k++)
        if (x->memo_key[k] == e) return x->memo_val[k];
    LLVMValueRef zero = num(c, x, 0), one = num(c, x, 1), v = NULL;
    LLVMValueRef a = NULL, b = NULL;
    switch (e->kind) {
    case EW_INPUT:
    case EW_NUM:
    case EW_CHANNEL: break;
    case EW_SELECT:
    case EW_ADD:
    case EW_SUB:
    case EW_MUL:
    case EW_DIV:
    case EW_SAFEDIV:
    case EW_GT:
    case EW_LT:
    case EW_GE:
    case EW_LE:
    case EW_EQ:
    case EW_NE: a = eval(c, x, e->a), b = eval(c, x, e->b); break;
    default: a = eval(c, x, e->a); break;
    }
    switch (e->kind) {
    case EW_INPUT: {
        const cg_ew_site *s = x->s;
        if (!x->inputs[e->input])
            x->inputs[e->input] = s->value[e->input] ? s->value[e->input]
                : s->vec                             ? vload(c, s->ptr[e->input], s->idx, s->mask)
                                                     : cg_load(c, s->ptr[e->input], s->idx);
        v = x->inputs[e->input];
        break;
    }
    case EW_NUM: v = num(c, x, e->num); break;
    case EW_CHANNEL:
        v = cg_load(c, cg_const_ptr(c, e->channel), x->s->ch);
        if (x->s->vec) v = splat(c, v);
        break;
    case EW_ADD: v = LLVMBuildFAdd(c->b, a, b, ""); break;
    case EW_SUB: v = LLVMBuildFSub(c->b, a, b, ""); break;
    case EW_MUL: v = LLVMBuildFMul(c->b, a, b, ""); break;
    case EW_DIV: v = LLVMBuildFDiv(c->b, a, b, ""); break;
    case EW_SAFEDIV: /* the quotient is computed regardless (no traps); 0 is selected where b == 0 */
        v = LLVMBuildSelect(c->b, fcmp(c, LLVMRealOEQ, b, zero), zero, LLVMBuildFDiv(c->b, a, b, ""), "");
        break;
    case EW_STAB: {
        LLVMValueRef eps =
            LLVMBuildSelect(c->b, fcmp(c, LLVMRealOGE, a, zero), num(c, x, e->num), num(c, x, -e->num), "");
        v = LLVMBuildFAdd(c->b, a, eps, "");
        break;
    }
    case EW_NEG: v = LLVMBuildFNeg(c->b, a, ""); break;
    case EW_POS: v = LLVMBuildSelect(c->b, fcmp(c, LLVMRealUGT, a, zero), a, zero, ""); break; /* NaN passes */
    case EW_NEGPART: v = LLVMBuildSelect(c->b, fcmp(c, LLVMRealOLT, a, zero), a, zero, ""); break;
    case EW_ABS: v = cg_intrinsic(c, "llvm.fabs", x->ty, &a, 1); break;
    case EW_SIGN: /* Zennit's convention, the stabiliser's too: sign(0) = +1 */
        v = LLVMBuildSelect(c->b, fcmp(c, LLVMRealOLT, a, zero), num(c, x, -1), one, "");
        break;
    case EW_STEP: v = LLVMBuildUIToFP(c->b, fcmp(c, LLVMRealOGT, a, zero), x->ty, ""); break;
    case EW_EXP: v = cg_exp(c, a); break;
    case EW_TANH: { /* 1 - 2 / (exp(2a) + 1): -1 and 1 at the extremes (exp gives 0 or inf), no libm call */
        LLVMValueRef e2 = cg_exp(c, LLVMBuildFAdd(c->b, a, a, ""));
        v = LLVMBuildFSub(c->b, one, LLVMBuildFDiv(c->b, num(c, x, 2), LLVMBuildFAdd(c->b, e2, one, ""), ""), "");
        break;
    }
    case EW_SIGMOID: { /* 1 / (1 + exp(-a)) */
        LLVMValueRef neg = LLVMBuildFNeg(c->b, a, "");
        v = LLVMBuildFDiv(c->b, one, LLVMBuildFAdd(c->b, one, cg_exp(c, neg), ""), "");
        break;
    }
    case EW_LOG: v = cg_intrinsic(c, "llvm.log", x->ty, &a, 1); break;
    case EW_SQRT: v = cg_intrinsic(c, "llvm.sqrt", x->ty, &a, 1); break;
    case EW_ERF: v = erf_value(c, x, a); break;
    case EW_GT: v = LLVMBuildUIToFP(c->b, fcmp(c, LLVMRealOGT, a, b), x->ty, ""); break;
    case EW_LT: v = LLVMBuildUIToFP(c->b, fcmp(c, LLVMRealOLT, a, b), x->ty, ""); break;
    case EW_GE: v = LLVMBuildUIToFP(c->b, fcmp(c, LLVMRealOGE, a, b), x->ty, ""); break;
    case EW_LE: v = LLVMBuildUIToFP(c->b, fcmp(c, LLVMRealOLE, a, b), x->ty, ""); break;
    case EW_EQ: v = LLVMBuildUIToFP(c->b, fcmp(c, LLVMRealOEQ, a, b), x->ty, ""); break;
    case EW_NE: v = LLVMBuildUIToFP(c->b, fcmp(c, LLVMRealUNE, a, b), x->ty, ""); break; /* NaN != anything */
    case EW_SELECT: {
        LLVMValueRef third = eval(c, x, e->c);
        v = LLVMBuildSelect(c->b, fcmp(c, LLVMRealUNE, a, zero), b, third, "");
        break;
    }
    }
    if (x->n_memo < EW_MEMO) {
        x->memo_key[x->n_memo] = e;
        x->memo_val[x->n_memo++] = v;
    }
    return v;
}

LLVMValueRef cg_ew_value(cg *c, const ir_ew *e, const cg_ew_site *s)
{
    ew_ctx x;
    memset(&x, 0, sizeof x);
    x.s = s;
    x.ty = s->vec ? vec_t(c) : c->f32;
    return eval(c, &x, e);
}

int cg_epilogue_slots(const ir_node *epi, const LLVMValueRef *in, LLVMValueRef *copy, LLVMValueRef **slots, int n_slots)
{
    for (int k = 0; epi && k < epi->n_inputs; k++) {
        copy[k] = in[k];
        slots[n_slots++] = &copy[k];
    }
    return n_slots;
}

LLVMValueRef cg_epilogue(cg *c, const ir_node *n, const LLVMValueRef *in, LLVMValueRef result, LLVMValueRef idx,
                         LLVMValueRef ch, int vec, unsigned mask)
{
    cg_ew_site s;
    memset(&s, 0, sizeof s);
    int k = 0;
    for (int j = 0; j < IR_MAX_INPUTS; j++) {
        if (j == n->epilogue_acc)
            s.value[j] = result;
        else if (n->epilogue_from + k < n->n_inputs)
            s.ptr[j] = in[n->epilogue_from + k++];
    }
    s.idx = idx, s.ch = ch, s.vec = vec, s.mask = mask;
    return cg_ew_value(c, n->expr, &s);
}
