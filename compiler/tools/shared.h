/* --emit shared: the generated object and libxairt.a linked by the system's C compiler into one
 * position-independent shared object (docs/python.md). */
#ifndef XAIC_SHARED_H
#define XAIC_SHARED_H

#include <stddef.h>

/* The libxairt.a to link: `option` (--runtime), else $XAIC_RUNTIME, else libxairt.a beside the xaic executable
 * (a build tree), else XAIC_INSTALL_LIBDIR/libxairt.a beside the executable's bin/ (an installed prefix).
 * Returns the path (malloc'd), or NULL after a message on stderr saying where it looked. */
char *shared_find_runtime(const char *option);

/* Links object[0 .. size) with `runtime` into a shared object through $CC (split at spaces; default cc) in a
 * private temporary directory; *out receives its bytes (malloc'd) and *out_size their number. The runtime's
 * libraries (libpng, zlib, cJSON, libm, pthreads) are linked as needed; xai_status_string, the thread-pool
 * controls and xai_normal_fill are kept for bindings even when the generated code calls none of them.
 * The object is linked -z nodelete: the threads of its copy of libxairt's pool live until the process exits, so
 * dlclose never unmaps their code. Returns 0, or 1 after a message on stderr (the linker's own messages go there too). */
int shared_link(const char *runtime, const void *object, size_t size, unsigned char **out, size_t *out_size);

/* An object compiled in parts (emit_parallel.h) */
#define SHARED_MAX_PARTS 9 /* EMIT_MAX_PARTS and the large constants */
typedef struct shared_object {
    const void *data;
    size_t size;
} shared_object;
/* 1 when ld and objcopy (binutils) are on PATH, as shared_link_parts needs */
int shared_can_link_parts(void);
/* Joins the parts into one relocatable object (ld -r) whose hidden symbols are local (objcopy --localize-hidden):
 * the interface of the module compiled whole. *out receives its bytes (malloc'd). Returns 0, or 1 after a
 * message on stderr. */
int shared_link_parts(const shared_object *parts, int n, unsigned char **out, size_t *out_size);

#endif
