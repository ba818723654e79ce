/* Code generation: graph IR + plan -> an LLVM module with the generated API (README, "Using the generated code")
 * (NET_workspace_size, NET_forward, NET_info) and one kernel function per computed node. */
#ifndef XAIC_CODEGEN_H
#define XAIC_CODEGEN_H

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>

#include "ir.h"
#include "plan.h"

typedef struct cg_options {
    int weights_external;      /* raw F32 tensors stay in the safetensors file; bound at run time */
    int threads_off;           /* --threads=off: serial kernels, no calls to xai_parallel_for */
    int64_t parallel_min_work; /* multiply-adds per call below which a parallel loop runs inline; 0: default
                                  (CG_PARALLEL_MIN_WORK in cg_parallel.h); tests use 1 to split every loop */
    int depthwise_off;         /* depthwise convs through the general blocked correlation (tests, benchmarks) */
    int flat_off;              /* small planes through the row tiles rather than flattened ones (tests, benchmarks) */
    int pool_pairs_off;        /* 2x2 max-pool gradients through the general scalar routing (tests, benchmarks) */
    int winograd_off;          /* --conv=direct: 3x3 stride-1 convs direct rather than by Winograd F(2x2, 3x3)
                                  (opt/winograd.h; tests, benchmarks, exact sums) */
    int patches_off;           /* patch convs' transposes (kernel = stride) through the phases (tests, benchmarks) */
    int vector_floats;         /* 0: automatic; 8: 8-float vectors even on AVX-512; 16: 16-float ones wherever the
                                  target has them (tests: the same sums, bit for bit; benchmarks) */
    int vector_registers;      /* 256-bit registers the target has (16 with AVX2, 32 with AVX-512VL); 0: 16 */
} cg_options;

/* Adds the code of network `net` and of its explanations (graphs whose ->network is net), each with its
 * plan, to module mod: constants, kernels, NET_forward, NET_E for each explanation, NET_workspace_size,
 * NET_info (and NET_bind_weights with external weights). *workspace_header: the bytes of every workspace
 * before the arena (the bound weights' header and the weights derived at bind time). Returns 0 on success. */
int codegen_network(LLVMModuleRef mod, const ir_graph *net, const graph_plan *plan, ir_graph *const *explanations,
                    graph_plan *const *explanation_plans, int n_explanations, const cg_options *opt,
                    int64_t *workspace_header);

/* Bytes of workspace header that precede the arena (holds the bound weights pointer when external). */
#define XAIC_WS_HEADER 64

#endif
