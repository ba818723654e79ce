/* Emission: LLVM TargetMachine -> optimised module -> .o / .s / .ll, and the C header. */
#ifndef XAIC_EMIT_H
#define XAIC_EMIT_H

#include <llvm-c/TargetMachine.h>
#include <stdio.h>

#include "codegen.h"
#include "ir.h"

typedef struct target_options {
    const char *triple;   /* NULL: the host */
    const char *cpu;      /* NULL: the host CPU for the host triple, "generic" otherwise */
    const char *features; /* NULL: the host CPU's features for the host triple, none otherwise */
    int opt_level;        /* 0..3 */
    int sanitize_address; /* instrument the generated code with AddressSanitizer (link with -fsanitize=address) */
} target_options;

typedef enum { EMIT_OBJ, EMIT_ASM, EMIT_LLVM, EMIT_HEADER } emit_kind;

/* Creates the target machine; on failure returns NULL and sets *err (malloc'd message). */
LLVMTargetMachineRef emit_target_machine(const target_options *t, char **err);
/* Vector registers of the target machine's ISA for 256-bit code: 32 when its features include AVX-512F
 * (AVX-512VL encodes ymm16-31), else 16. Named CPUs without an explicit feature list count as 16. */
int emit_vector_registers(LLVMTargetMachineRef tm);
/* Sets the module's triple and data layout from the target machine (do this before codegen). */
void emit_prepare_module(LLVMModuleRef mod, LLVMTargetMachineRef tm);
/* Checks the module (LLVM's verifier); 1 with *err when it is invalid. */
int emit_verify(LLVMModuleRef mod, char **err);
/* Verifies and runs the default<O{n}> pipeline. */
int emit_optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, const target_options *t, char **err);
/* Writes the object, assembly or LLVM IR of the optimised module to f (write errors show when f's output is
 * committed); returns 1 with *err when code generation fails. */
int emit_code(LLVMModuleRef mod, LLVMTargetMachineRef tm, emit_kind kind, FILE *f, char **err);
/* Adds an exported constant `const char name[]` holding text and its NUL (a shared object's self-description,
 * read by bindings with dlsym). */
void emit_string_global(LLVMModuleRef mod, const char *name, const char *text);
/* Writes the header declaring the generated API (README, "Using the generated code") for every network of m;
 * path (the header's) names its include guard. */
void emit_header(const ir_module *m, const cg_options *opt, const char *path, FILE *f);
/* 1 when LLVM knows CPU `cpu` for `triple` (cpu_check.cpp) */
int driver_cpu_is_known(const char *triple, const char *cpu);

#endif
