/* The optimised module as machine code, compiled in parts on several threads when it is large. */
#ifndef XAIC_EMIT_PARALLEL_H
#define XAIC_EMIT_PARALLEL_H

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include "emit.h"

#define EMIT_MAX_PARTS 8

typedef struct emit_object_set {
    LLVMMemoryBufferRef objects[EMIT_MAX_PARTS + 1]; /* the parts' and the large constants' */
    int n;
} emit_object_set;

/* The number of parts to compile in: `requested` if positive (at most EMIT_MAX_PARTS), else the online CPUs. */
int emit_parallel_jobs(int requested);

/* Verifies, optimises and compiles the (unoptimised) module mod to objects: one, through tm, when jobs < 2 or the
 * module is small; else `jobs` parts on as many threads (and the large constants, embedded weights, as one more
 * object compiled on this thread meanwhile), whose local symbols used across parts are hidden
 * external ones (link them with ld -r and localise hidden symbols: the result then equals one object's
 * interface). mod is changed either way. Returns 0, or 1 with *err (malloc'd). */
int emit_objects(LLVMModuleRef mod, LLVMTargetMachineRef tm, const target_options *t, int jobs, emit_object_set *out,
                 char **err);
void emit_objects_free(emit_object_set *s);

#endif
