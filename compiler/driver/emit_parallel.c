/* Optimisation and machine code on several threads: the module split into parts (emit_split.cpp), each part
 * parsed into a context of its own (an LLVM context is single-threaded) and compiled to an object there. The
 * caller links the objects (ld -r) and localises the hidden symbols the split exported. */
#include "emit_parallel.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <llvm-c/BitReader.h>

/* emit_split.cpp: parts' bitcode, and *data = the large constants' module in mod's context (or NULL) */
int emit_split_module(LLVMModuleRef mod, int parts, LLVMMemoryBufferRef *bitcode, LLVMModuleRef *data);

/* Below this many instructions a split costs more (bitcode, a second target machine) than it saves. */
#define SPLIT_MIN_INSTRUCTIONS 20000

typedef struct part_job {
    LLVMMemoryBufferRef bitcode;
    const target_options *target;
    LLVMMemoryBufferRef object;
    char *err;
} part_job;

static int optimise_and_compile(LLVMModuleRef mod, LLVMTargetMachineRef tm, const target_options *t,
                                LLVMMemoryBufferRef *object, char **err)
{
    if (emit_optimize(mod, tm, t, err)) return 1;
    char *msg = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMObjectFile, &msg, object)) {
        if (asprintf(err, "code generation failed: %s", msg ? msg : "unknown error") < 0) *err = NULL;
        LLVMDisposeMessage(msg);
        return 1;
    }
    return 0;
}

static void *compile_part(void *arg)
{
    part_job *job = arg;
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod = NULL;
    if (LLVMParseBitcodeInContext2(ctx, job->bitcode, &mod)) {
        job->err = strdup("internal error: a part of the split module does not read back");
    } else {
        LLVMTargetMachineRef tm = emit_target_machine(job->target, &job->err);
        if (tm) {
            optimise_and_compile(mod, tm, job->target, &job->object, &job->err);
            LLVMDisposeTargetMachine(tm);
        }
        LLVMDisposeModule(mod);
    }
    LLVMContextDispose(ctx);
    return NULL;
}

static long instructions(LLVMModuleRef mod)
{
    long n = 0;
    for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f))
        for (LLVMBasicBlockRef b = LLVMGetFirstBasicBlock(f); b; b = LLVMGetNextBasicBlock(b))
            for (LLVMValueRef i = LLVMGetFirstInstruction(b); i; i = LLVMGetNextInstruction(i)) n++;
    return n;
}

int emit_parallel_jobs(int requested)
{
    if (requested > 0) return requested > EMIT_MAX_PARTS ? EMIT_MAX_PARTS : requested;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 1 ? 1 : cpus > EMIT_MAX_PARTS ? EMIT_MAX_PARTS : (int)cpus;
}

int emit_objects(LLVMModuleRef mod, LLVMTargetMachineRef tm, const target_options *t, int jobs, emit_object_set *out,
                 char **err)
{
    memset(out, 0, sizeof *out);
    if (jobs < 2 || instructions(mod) < SPLIT_MIN_INSTRUCTIONS) {
        if (optimise_and_compile(mod, tm, t, &out->objects[0], err)) return 1;
        out->n = 1;
        return 0;
    }
    if (emit_verify(mod, err)) return 1;
    char *msg = NULL;
    part_job job[EMIT_MAX_PARTS] = { 0 };
    LLVMMemoryBufferRef bitcode[EMIT_MAX_PARTS];
    LLVMModuleRef data = NULL;
    if (emit_split_module(mod, jobs, bitcode, &data)) {
        *err = strdup("internal error: cannot split the module");
        return 1;
    }
    pthread_t thread[EMIT_MAX_PARTS];
    int started[EMIT_MAX_PARTS] = { 0 };
    for (int p = 0; p < jobs; p++) {
        job[p] = (part_job){ .bitcode = bitcode[p], .target = t };
        if (p > 0) started[p] = pthread_create(&thread[p], NULL, compile_part, &job[p]) == 0;
    }
    /* the embedded weights, as they are (no code to optimise), while the threads compile */
    LLVMMemoryBufferRef data_object = NULL;
    char *data_err = NULL;
    if (data) {
        if (LLVMTargetMachineEmitToMemoryBuffer(tm, data, LLVMObjectFile, &msg, &data_object)) {
            if (asprintf(&data_err, "code generation failed: %s", msg ? msg : "unknown error") < 0) data_err = NULL;
            LLVMDisposeMessage(msg);
            data_object = NULL;
        }
        LLVMDisposeModule(data);
    }
    compile_part(&job[0]);
    for (int p = 1; p < jobs; p++)
        if (started[p])
            pthread_join(thread[p], NULL);
        else
            compile_part(&job[p]); /* no thread to be had: this one compiles it too */
    int failed = data_err != NULL;
    if (failed) *err = data_err;
    if (data_object) out->objects[out->n++] = data_object;
    for (int p = 0; p < jobs; p++) {
        LLVMDisposeMemoryBuffer(bitcode[p]);
        if (job[p].err && !failed) {
            *err = job[p].err;
            job[p].err = NULL;
            failed = 1;
        }
        free(job[p].err);
        out->objects[out->n++] = job[p].object;
    }
    if (failed) emit_objects_free(out);
    return failed;
}

void emit_objects_free(emit_object_set *s)
{
    for (int p = 0; p < s->n; p++)
        if (s->objects[p]) LLVMDisposeMemoryBuffer(s->objects[p]);
    memset(s, 0, sizeof *s);
}
