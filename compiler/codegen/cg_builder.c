/* The code generator's state and its LLVM builder helpers (cg_builder.h). */
#include <llvm-c/DebugInfo.h>
#include <string.h>

#include "cg_builder.h"

void cg_init(cg *c, LLVMModuleRef mod, const ir_graph *g, const cg_options *opt)
{
    memset(c, 0, sizeof *c);
    c->mod = mod;
    c->ctx = LLVMGetModuleContext(mod);
    c->b = LLVMCreateBuilderInContext(c->ctx);
    c->f32 = LLVMFloatTypeInContext(c->ctx);
    c->f64 = LLVMDoubleTypeInContext(c->ctx);
    c->i1 = LLVMInt1TypeInContext(c->ctx);
    c->i8 = LLVMInt8TypeInContext(c->ctx);
    c->i32 = LLVMInt32TypeInContext(c->ctx);
    c->i64 = LLVMInt64TypeInContext(c->ctx);
    c->ptr = LLVMPointerTypeInContext(c->ctx, 0);
    c->void_t = LLVMVoidTypeInContext(c->ctx);
    c->g = g;
    c->opt = opt;
}

void cg_dispose(cg *c)
{
    LLVMDisposeBuilder(c->b);
    c->b = NULL;
}

LLVMValueRef cg_i64(cg *c, int64_t v) { return LLVMConstInt(c->i64, (unsigned long long)v, 1); }
LLVMValueRef cg_f32(cg *c, double v) { return LLVMConstReal(c->f32, v); }

LLVMValueRef cg_gep(cg *c, LLVMValueRef base, LLVMValueRef index)
{
    return LLVMBuildInBoundsGEP2(c->b, c->f32, base, &index, 1, "");
}

LLVMValueRef cg_load(cg *c, LLVMValueRef base, LLVMValueRef index)
{
    LLVMValueRef v = LLVMBuildLoad2(c->b, c->f32, cg_gep(c, base, index), "");
    LLVMSetAlignment(v, 4);
    return v;
}

void cg_store(cg *c, LLVMValueRef value, LLVMValueRef base, LLVMValueRef index)
{
    LLVMValueRef s = LLVMBuildStore(c->b, value, cg_gep(c, base, index));
    LLVMSetAlignment(s, 4);
}

LLVMValueRef cg_mad(cg *c, LLVMValueRef a, int64_t b, LLVMValueRef add)
{
    LLVMValueRef m = LLVMBuildNSWMul(c->b, a, cg_i64(c, b), "");
    return add ? LLVMBuildNSWAdd(c->b, m, add, "") : m;
}

LLVMValueRef cg_fadd_reassoc(cg *c, LLVMValueRef a, LLVMValueRef b)
{
    LLVMValueRef v = LLVMBuildFAdd(c->b, a, b, "");
    LLVMSetFastMathFlags(v, LLVMFastMathAllowReassoc | LLVMFastMathAllowContract);
    return v;
}

LLVMValueRef cg_fmul_reassoc(cg *c, LLVMValueRef a, LLVMValueRef b)
{
    LLVMValueRef v = LLVMBuildFMul(c->b, a, b, "");
    LLVMSetFastMathFlags(v, LLVMFastMathAllowReassoc | LLVMFastMathAllowContract);
    return v;
}

LLVMValueRef cg_local(cg *c, LLVMTypeRef t, const char *name)
{
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(c->fn);
    LLVMBuilderRef eb = LLVMCreateBuilderInContext(c->ctx);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first)
        LLVMPositionBuilderBefore(eb, first);
    else
        LLVMPositionBuilderAtEnd(eb, entry);
    LLVMValueRef a = LLVMBuildAlloca(eb, t, name);
    LLVMDisposeBuilder(eb);
    return a;
}

LLVMValueRef cg_loop_begin(cg *c, cg_loop *l, LLVMValueRef start, LLVMValueRef end, const char *name)
{
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(c->b);
    l->header = LLVMAppendBasicBlockInContext(c->ctx, c->fn, name);
    l->body = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "body");
    l->exit = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "exit");
    LLVMBuildBr(c->b, l->header);
    LLVMPositionBuilderAtEnd(c->b, l->header);
    l->iv = LLVMBuildPhi(c->b, c->i64, name);
    LLVMAddIncoming(l->iv, &start, &pre, 1);
    LLVMValueRef more = LLVMBuildICmp(c->b, LLVMIntSLT, l->iv, end, "");
    LLVMBuildCondBr(c->b, more, l->body, l->exit);
    LLVMPositionBuilderAtEnd(c->b, l->body);
    return l->iv;
}

void cg_loop_end(cg *c, cg_loop *l)
{
    LLVMValueRef next = LLVMBuildNSWAdd(c->b, l->iv, cg_i64(c, 1), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(c->b);
    LLVMBuildBr(c->b, l->header);
    LLVMAddIncoming(l->iv, &next, &latch, 1);
    LLVMPositionBuilderAtEnd(c->b, l->exit);
}

/* the loop's back edge with one hint: !llvm.loop !0, !0 = distinct !{!0, hint} */
static void loop_end_with(cg *c, cg_loop *l, LLVMMetadataRef hint)
{
    LLVMValueRef next = LLVMBuildNSWAdd(c->b, l->iv, cg_i64(c, 1), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(c->b);
    LLVMValueRef br = LLVMBuildBr(c->b, l->header);
    LLVMAddIncoming(l->iv, &next, &latch, 1);
    LLVMMetadataRef self = LLVMTemporaryMDNode(c->ctx, NULL, 0);
    LLVMMetadataRef ops[2] = { self, hint };
    LLVMMetadataRef loop = LLVMMDNodeInContext2(c->ctx, ops, 2);
    LLVMMetadataReplaceAllUsesWith(self, loop);
    LLVMSetMetadata(br, LLVMGetMDKindIDInContext(c->ctx, "llvm.loop", 9), LLVMMetadataAsValue(c->ctx, loop));
    LLVMPositionBuilderAtEnd(c->b, l->exit);
}

void cg_loop_end_rolled(cg *c, cg_loop *l)
{
    LLVMMetadataRef disable = LLVMMDStringInContext2(c->ctx, "llvm.loop.unroll.disable", 24);
    loop_end_with(c, l, LLVMMDNodeInContext2(c->ctx, &disable, 1));
}

void cg_loop_end_scalar(cg *c, cg_loop *l)
{
    LLVMMetadataRef ops[2] = { LLVMMDStringInContext2(c->ctx, "llvm.loop.vectorize.enable", 26),
                               LLVMValueAsMetadata(LLVMConstInt(c->i1, 0, 0)) };
    loop_end_with(c, l, LLVMMDNodeInContext2(c->ctx, ops, 2));
}

LLVMValueRef cg_intrinsic(cg *c, const char *name, LLVMTypeRef overload, LLVMValueRef *args, int n)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(c->mod, id, &overload, 1);
    LLVMTypeRef ty = LLVMIntrinsicGetType(c->ctx, id, &overload, 1);
    return LLVMBuildCall2(c->b, ty, fn, args, n, "");
}

LLVMValueRef cg_const_global(const cg *c, const ir_const *k)
{
    for (int i = 0; i < c->consts->n; i++)
        if (c->consts->keys[i] == k) return c->consts->globals[i];
    return NULL;
}

LLVMValueRef cg_is_null(cg *c, LLVMValueRef p) { return LLVMBuildIsNull(c->b, p, ""); }

/* if (cond) return code; */
void cg_return_if(cg *c, LLVMValueRef cond, int code)
{
    LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "fail");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "ok");
    LLVMBuildCondBr(c->b, cond, fail, ok);
    LLVMPositionBuilderAtEnd(c->b, fail);
    LLVMBuildRet(c->b, LLVMConstInt(c->i32, code, 0));
    LLVMPositionBuilderAtEnd(c->b, ok);
}

/* NaN or infinity anywhere in x[0 .. n): x*0 is NaN exactly for those, and NaN survives the sum. */
LLVMValueRef cg_any_nonfinite(cg *c, LLVMValueRef x, LLVMValueRef n)
{
    LLVMValueRef acc = cg_local(c, c->f32, "nanacc");
    LLVMBuildStore(c->b, cg_f32(c, 0), acc);
    cg_loop l;
    LLVMValueRef i = cg_loop_begin(c, &l, cg_i64(c, 0), n, "scan");
    LLVMValueRef z = LLVMBuildFMul(c->b, cg_load(c, x, i), cg_f32(c, 0), "");
    LLVMBuildStore(c->b, cg_fadd_reassoc(c, LLVMBuildLoad2(c->b, c->f32, acc, ""), z), acc);
    cg_loop_end(c, &l);
    LLVMValueRef s = LLVMBuildLoad2(c->b, c->f32, acc, "");
    return LLVMBuildFCmp(c->b, LLVMRealUNO, s, s, "");
}

/* The options fields (layout of xai_options in xairt.h). */
LLVMTypeRef cg_options_type(cg *c)
{
    LLVMTypeRef size_t_ty = LLVMIntPtrTypeInContext(c->ctx, LLVMGetModuleDataLayout(c->mod));
    LLVMTypeRef fields[10] = { c->ptr, c->i32, c->ptr, c->i64, c->i32, c->i32, c->ptr, c->ptr, c->ptr, size_t_ty };
    return LLVMStructTypeInContext(c->ctx, fields, 10, 0);
}

LLVMValueRef cg_options_field(cg *c, LLVMValueRef options, int field)
{
    return LLVMBuildStructGEP2(c->b, cg_options_type(c), options, (unsigned)field, "");
}

/* NULL or the value of a pointer field of the options */
LLVMValueRef cg_options_pointer(cg *c, LLVMValueRef options, int field)
{
    LLVMBasicBlockRef from = LLVMGetInsertBlock(c->b);
    LLVMBasicBlockRef load = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "opt_load");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "opt_done");
    LLVMBuildCondBr(c->b, cg_is_null(c, options), done, load);
    LLVMPositionBuilderAtEnd(c->b, load);
    LLVMValueRef v = LLVMBuildLoad2(c->b, c->ptr, cg_options_field(c, options, field), "");
    LLVMBuildBr(c->b, done);
    LLVMPositionBuilderAtEnd(c->b, done);
    LLVMValueRef phi = LLVMBuildPhi(c->b, c->ptr, "");
    LLVMValueRef vals[2] = { LLVMConstNull(c->ptr), v };
    LLVMBasicBlockRef blocks[2] = { from, load };
    LLVMAddIncoming(phi, vals, blocks, 2);
    return phi;
}

/* 0 or the value of an integer field of the options */
static LLVMValueRef options_int(cg *c, LLVMValueRef options, int field, LLVMTypeRef type)
{
    LLVMBasicBlockRef from = LLVMGetInsertBlock(c->b);
    LLVMBasicBlockRef load = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "opt_int_load");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "opt_int_done");
    LLVMBuildCondBr(c->b, cg_is_null(c, options), done, load);
    LLVMPositionBuilderAtEnd(c->b, load);
    LLVMValueRef v = LLVMBuildLoad2(c->b, type, cg_options_field(c, options, field), "");
    LLVMBuildBr(c->b, done);
    LLVMPositionBuilderAtEnd(c->b, done);
    LLVMValueRef phi = LLVMBuildPhi(c->b, type, "");
    LLVMValueRef vals[2] = { LLVMConstInt(type, 0, 0), v };
    LLVMBasicBlockRef blocks[2] = { from, load };
    LLVMAddIncoming(phi, vals, blocks, 2);
    return phi;
}

LLVMValueRef cg_options_size(cg *c, LLVMValueRef options, int field)
{
    return options_int(c, options, field, LLVMIntPtrTypeInContext(c->ctx, LLVMGetModuleDataLayout(c->mod)));
}

/* 0 or the value of an int32 field of the options */
LLVMValueRef cg_options_i32(cg *c, LLVMValueRef options, int field)
{
    LLVMBasicBlockRef from = LLVMGetInsertBlock(c->b);
    LLVMBasicBlockRef load = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "opt_i32_load");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "opt_i32_done");
    LLVMBuildCondBr(c->b, cg_is_null(c, options), done, load);
    LLVMPositionBuilderAtEnd(c->b, load);
    LLVMValueRef v = LLVMBuildLoad2(c->b, c->i32, cg_options_field(c, options, field), "");
    LLVMBuildBr(c->b, done);
    LLVMPositionBuilderAtEnd(c->b, done);
    LLVMValueRef phi = LLVMBuildPhi(c->b, c->i32, "");
    LLVMValueRef vals[2] = { LLVMConstInt(c->i32, 0, 0), v };
    LLVMBasicBlockRef blocks[2] = { from, load };
    LLVMAddIncoming(phi, vals, blocks, 2);
    return phi;
}
