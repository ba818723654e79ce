/* Code generation: graph IR + plan -> an LLVM module with the entry points of DESIGN.md
 * (NET_workspace_size, NET_forward, NET_info) and one kernel function per computed node. */
#ifndef XAIC_CODEGEN_H
#define XAIC_CODEGEN_H

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>

#include "ir.h"
#include "plan.h"

typedef struct cg_options {
    int weights_external;      /* raw F32 tensors stay in the safetensors file; bound at run time */
} cg_options;

/* Adds the code of graph g (with its plan) to module mod. Returns 0 on success. */
int codegen_graph(LLVMModuleRef mod, const ir_graph *g, const graph_plan *plan, const cg_options *opt);

/* Bytes of workspace header that precede the arena (holds the bound weights pointer when external). */
#define XAIC_WS_HEADER 64

#endif
