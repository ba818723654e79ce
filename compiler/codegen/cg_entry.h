/* Entry points (cg_entry.c): the checks every entry makes, its buffers and the calls of its kernels;
 * shared by codegen.c (plain entries) and cg_actmax.c (the optimisation loop of activation maximisation). */
#ifndef XAIC_CG_ENTRY_H
#define XAIC_CG_ENTRY_H

#include "cg_builder.h"

#define CG_WEIGHTS_MAGIC 0x78616963776569ULL /* "xaicwei": marks a workspace whose weights are bound */

/* An entry point being built: its arguments (target / options NULL when it takes none), the batch as i64,
 * what kernels get as weights base (with --weights=external the workspace, else null) and the start of the
 * workspace arena. */
typedef struct cg_entry {
    LLVMValueRef x, y, batch, ws, target, options, wbase, arena;
    LLVMValueRef scratch; /* the kernels' scratch (cg.scratch_bytes), or null */
    int nonfinite_logits; /* the status when the logits an explanation starts from are not finite */
} cg_entry;

/* A function NET_suffix of the module (nounwind), the builder at its entry block. */
LLVMValueRef cg_add_function(cg *c, const char *suffix, LLVMTypeRef ret, LLVMTypeRef *params, int n);
/* Bytes of workspace before the arena; the largest batch whose workspace size is representable. */
int64_t cg_header_bytes(const cg *c);
int64_t cg_max_batch(const cg *c, const graph_plan *plan);

/* NET_forward or NET_E / NET_E_ex of c->g: the function, positioned after the checks every entry makes. */
void cg_entry_begin(cg *c, const graph_plan *plan, cg_entry *e);
/* where[i]: the buffer of node i (the entry's x and out, or its slot in the arena) */
void cg_entry_buffers(cg *c, const graph_plan *plan, const cg_entry *e, LLVMValueRef *where);
/* Calls the kernels of nodes [from, to) in order. */
void cg_call_kernels(cg *c, const graph_plan *plan, LLVMValueRef *kernels, const LLVMValueRef *where, const cg_entry *e,
                     LLVMValueRef target, LLVMValueRef sample0, int from, int to);
/* --weights=external's derived constants (cg_derive.c): which constants bind_weights computes into the workspace
 * (those with a recipe whose sources are in the file or derived), from the nodes the plans emit; their place;
 * their code in bind_weights. */
int cg_const_is_external(const cg *c, const ir_const *k);
void cg_derive_layout(cg *c, const ir_graph *const *graphs, const graph_plan *const *plans, int n_graphs);
int64_t cg_derived_offset(const cg *c, const ir_const *k); /* from the end of the header, or -1 */
int64_t cg_derived_bytes(const cg *c);
void cg_derive_emit(cg *c, LLVMValueRef ws, LLVMValueRef file);
void cg_derive_free(cg *c);
/* activation maximisation: the optimisation loop around the gradient pass (cg_actmax.c) */
void cg_emit_actmax_entry(cg *c, const graph_plan *plan, LLVMValueRef *kernels);

#endif
