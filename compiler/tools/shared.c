/* --emit shared (shared.h): finding libxairt.a and running the system's linker on the generated object. */
#include "shared.h"

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef XAIC_INSTALL_LIBDIR
#define XAIC_INSTALL_LIBDIR "lib"
#endif

extern char **environ;

static int is_regular(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *shared_find_runtime(const char *option)
{
    const char *given = option ? option : getenv("XAIC_RUNTIME");
    if (given && *given) {
        if (is_regular(given)) return strdup(given);
        fprintf(stderr, "xaic: error: %s '%s' is not a file (it should name libxairt.a)\n",
                option ? "--runtime" : "XAIC_RUNTIME", given);
        return NULL;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        fprintf(stderr,
                "xaic: error: cannot find the xaic executable's directory to look for libxairt.a (%s); "
                "give --runtime LIB or set XAIC_RUNTIME\n",
                strerror(errno));
        return NULL;
    }
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    char *build = NULL, *installed = NULL;
    if (asprintf(&build, "%s/libxairt.a", exe) < 0) build = NULL;
    if (asprintf(&installed, "%s/../%s/libxairt.a", exe, XAIC_INSTALL_LIBDIR) < 0) installed = NULL;
    char *found = is_regular(build) ? build : is_regular(installed) ? installed : NULL;
    if (!found)
        fprintf(stderr,
                "xaic: error: libxairt.a is neither in %s (a build tree) nor in %s/../%s (an installed xaic); "
                "give --runtime LIB or set XAIC_RUNTIME\n",
                exe, exe, XAIC_INSTALL_LIBDIR);
    if (found != build) free(build);
    if (found != installed) free(installed);
    return found;
}

static int write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    int bad = fwrite(data, 1, size, f) != size;
    return fclose(f) != 0 || bad;
}

static int read_file(const char *path, unsigned char **out, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 1;
    struct stat st;
    unsigned char *buf = NULL;
    int bad = fstat(fileno(f), &st) != 0 || st.st_size <= 0 || !(buf = malloc((size_t)st.st_size)) ||
        fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size;
    fclose(f);
    if (bad) {
        free(buf);
        return 1;
    }
    *out = buf;
    *size = (size_t)st.st_size;
    return 0;
}

/* Runs argv (argv[0] looked up in PATH); returns the exit status, or -1 after a message naming `what` (and
 * ending with `hint` when it cannot start). */
static int run(char *const *argv, const char *what, const char *hint)
{
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (rc) {
        fprintf(stderr, "xaic: error: cannot run %s '%s' (%s)%s\n", what, argv[0], strerror(rc), hint);
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    fprintf(stderr, "xaic: error: %s '%s' was killed by signal %d\n", what, argv[0], WTERMSIG(status));
    return -1;
}

static int make_temp_dir(char *dir, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, size, "%s/xaic-link-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
    if (mkdtemp(dir)) return 0;
    fprintf(stderr, "xaic: error: cannot create a temporary directory %s to link in: %s\n", dir, strerror(errno));
    return 1;
}

static int in_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/bin:/bin";
    char *copy = strdup(path), *save = NULL;
    int found = 0;
    for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char full[PATH_MAX];
        snprintf(full, sizeof full, "%s/%s", *d ? d : ".", name);
        found = access(full, X_OK) == 0;
    }
    free(copy);
    return found;
}

int shared_can_link_parts(void) { return in_path("ld") && in_path("objcopy"); }

int shared_link_parts(const shared_object *parts, int n, unsigned char **out, size_t *out_size)
{
    char dir[PATH_MAX];
    if (n < 1 || n > SHARED_MAX_PARTS || make_temp_dir(dir, sizeof dir)) return 1;
    char part[SHARED_MAX_PARTS][PATH_MAX + 16], linked[PATH_MAX + 16];
    snprintf(linked, sizeof linked, "%s/linked.o", dir);
    char *argv[SHARED_MAX_PARTS + 8];
    int argc = 0, written = 0, failed = 1;
    argv[argc++] = "ld";
    argv[argc++] = "-r";
    argv[argc++] = "-o";
    argv[argc++] = linked;
    for (; written < n; written++) {
        snprintf(part[written], sizeof part[written], "%s/part%d.o", dir, written);
        if (write_file(part[written], parts[written].data, parts[written].size)) {
            fprintf(stderr, "xaic: error: cannot write %s: %s\n", part[written], strerror(errno));
            written++;
            goto done;
        }
        argv[argc++] = part[written];
    }
    argv[argc] = NULL;
    /* the parts' shared kernels and constants are hidden symbols (emit_parallel.h); local again, two objects
     * compiled apart never clash on them */
    char *localise[] = { "objcopy", "--localize-hidden", linked, NULL };
    int status = run(argv, "the linker", "; install binutils, or compile with -j1");
    if (status == 0) status = run(localise, "objcopy", "; install binutils, or compile with -j1");
    if (status > 0)
        fprintf(stderr, "xaic: error: joining the object's %d parts failed ('%s' exited with status %d)\n", n, argv[0],
                status);
    else if (status == 0 && read_file(linked, out, out_size))
        fprintf(stderr, "xaic: error: cannot read the linked object %s\n", linked);
    else if (status == 0)
        failed = 0;
done:
    for (int i = 0; i < written; i++) unlink(part[i]);
    unlink(linked);
    rmdir(dir);
    return failed;
}

/* the symbols bindings call that generated code may not (the archive only contributes what is referenced) */
static const char *const kept_symbols[] = { "xai_status_string", "xai_set_num_threads", "xai_get_num_threads",
                                            "xai_normal_fill" };
#define N_KEPT (int)(sizeof kept_symbols / sizeof kept_symbols[0])

int shared_link(const char *runtime, const void *object, size_t size, unsigned char **out, size_t *out_size)
{
    char dir[PATH_MAX];
    if (make_temp_dir(dir, sizeof dir)) return 1;
    char obj[PATH_MAX + 16], so[PATH_MAX + 16];
    snprintf(obj, sizeof obj, "%s/xaic.o", dir);
    snprintf(so, sizeof so, "%s/xaic.so", dir);
    int failed = 1;
    char *cc = strdup(getenv("CC") && *getenv("CC") ? getenv("CC") : "cc");
    char *argv[64 + N_KEPT];
    int argc = 0;
    for (char *save = NULL, *w = strtok_r(cc, " \t", &save); w && argc < 32; w = strtok_r(NULL, " \t", &save))
        argv[argc++] = w;
    char kept[N_KEPT][64];
    if (argc == 0) {
        fprintf(stderr, "xaic: error: CC is blank; set it to a C compiler or unset it (cc)\n");
        goto done;
    }
    if (write_file(obj, object, size)) {
        fprintf(stderr, "xaic: error: cannot write %s: %s\n", obj, strerror(errno));
        goto done;
    }
    /* -z nodelete: libxairt's pool threads live until the process exits, so dlclose must never unmap their code */
    const char *fixed[] = { "-shared", "-o", so, obj, "-Wl,-Bsymbolic", "-Wl,-z,nodelete" };
    for (int i = 0; i < 6; i++) argv[argc++] = (char *)fixed[i];
    for (int i = 0; i < N_KEPT; i++) {
        snprintf(kept[i], sizeof kept[i], "-Wl,-u,%s", kept_symbols[i]);
        argv[argc++] = kept[i];
    }
    const char *libs[] = { "-Wl,--as-needed", "-lcjson", "-lpng", "-lz", "-lm", "-lpthread" };
    argv[argc++] = (char *)runtime;
    for (int i = 0; i < 6; i++) argv[argc++] = (char *)libs[i];
    argv[argc] = NULL;
    int status = run(argv, "the C compiler", " to link the shared object; set CC");
    if (status > 0) {
        fprintf(stderr, "xaic: error: linking the shared object failed ('%s' exited with status %d):", argv[0], status);
        for (int i = 0; i < argc; i++) fprintf(stderr, " %s", argv[i]);
        fputc('\n', stderr);
    } else if (status == 0 && read_file(so, out, out_size)) {
        fprintf(stderr, "xaic: error: cannot read the linked shared object %s\n", so);
    } else if (status == 0) {
        failed = 0;
    }
done:
    unlink(obj);
    unlink(so);
    rmdir(dir);
    free(cc);
    return failed;
}
