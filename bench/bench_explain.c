/* Latency of one entry point of an object xaic generated (NET_forward or an explanation NET_E), linked as
 * a user links it. One driver is compiled per configuration (bench/run.sh, or CMake for bench_forward):
 *
 *   cc -O2 -DXB_HEADER='"net.h"' -DXB_NET=mnist_cnn -DXB_ENTRY=epsilon_plus [-DXB_FORWARD=1]
 *      [-DXB_EXTERNAL=1] [-DXB_OUT_DIMS=14,14] bench/bench_explain.c net.o -lxairt -o bench_net_e
 *
 *   bench_net_e BATCH SECONDS INPUT.npy [WEIGHTS.safetensors] [MIN_RUNS] [MAX_RUNS]
 *
 * INPUT.npy holds one or more samples (float32, batch first); they are repeated to fill BATCH. With
 * XB_EXTERNAL (the object was compiled with --weights=external) the safetensors file is mapped read-only and
 * bound to the workspace with NET_bind_weights (the workspace then has a 64-byte header that
 * NET_workspace_size already includes). The targets of an explanation are the arg-max classes, computed
 * with NET_forward before timing and passed explicitly (as the peers do), so the timed call is what a user
 * calls for a given class: one forward pass plus the backward pass (for IG and SmoothGrad: over all their
 * path points / noisy samples, which the entry point runs as one batch; DeepLIFT: plus the reference pass).
 * An explanation's result is input-shaped unless XB_OUT_DIMS gives its per-sample shape (a comma list:
 * Grad-CAM with upsample=none gives the layer's [h, w]).
 *
 * Untimed warm-up: at least 1 call and 0.2 s. Then timed calls until SECONDS have passed and at least
 * MIN_RUNS (default 10) calls were made, at most MAX_RUNS (default 100000). Prints one JSON line:
 *   {"impl":"xaic","model":..,"method":..,"batch":..,"median_ms":..,"per_sample_ms":..,"min_ms":..,
 *    "runs":..,"peak_rss_mb":..,"workspace_bytes":..,"loadavg_1m":..,"threads":..,"cpu_ms":..}
 * cpu_ms: the median CPU time of the process per timed call (CLOCK_PROCESS_CPUTIME_ID, all threads).
 * threads: xai_get_num_threads(), the threads the entries' parallel loops use (XAI_NUM_THREADS, else
 * the CPUs).
 * BENCH_SAVE_OUTPUT=FILE.npy in the environment writes the last call's result (logits or relevance).
 * peak_rss_mb is getrusage(RUSAGE_SELF).ru_maxrss of this process (one process per configuration): input,
 * output, workspace, the code and embedded weights touched, and the mapped weights file when external. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xairt.h>
#include XB_HEADER

#ifndef XB_FORWARD
#define XB_FORWARD 0
#endif
#ifndef XB_EXTERNAL
#define XB_EXTERNAL 0
#endif
#ifdef XB_OUT_DIMS
static const int32_t xb_out_dims[] = { XB_OUT_DIMS };
#endif
#define XB_CAT_(a, b) a##_##b
#define XB_CAT(a, b)  XB_CAT_(a, b)
#define XB_STR_(a)    #a
#define XB_STR(a)     XB_STR_(a)

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double cpu_ms(void) /* the process's CPU time, all threads: robust to other load at one thread */
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int64_t shape_count(const xai_tensor_info *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->shape[i];
    return n;
}

static const float *xb_x;
static float *xb_out;
static const int32_t *xb_target;
static int32_t xb_batch;
static void *xb_ws;

static int call(void)
{
#if XB_FORWARD
    return XB_CAT(XB_NET, forward)(xb_x, xb_out, xb_batch, xb_ws);
#else
    return XB_CAT(XB_NET, XB_ENTRY)(xb_x, xb_target, xb_out, xb_batch, xb_ws);
#endif
}

int main(int argc, char **argv)
{
    if (argc < 4 || atoi(argv[1]) < 1) {
        fprintf(stderr, "usage: %s BATCH SECONDS INPUT.npy%s [MIN_RUNS] [MAX_RUNS]\n", argv[0],
                XB_EXTERNAL ? " WEIGHTS.safetensors" : " [-]");
        return 2;
    }
    int batch = atoi(argv[1]);
    double seconds = atof(argv[2]);
    const char *input = argv[3];
    int arg = 4;
    const char *weights = argc > arg ? argv[arg] : NULL;
    arg++;
    int min_runs = argc > arg ? atoi(argv[arg]) : 10;
    arg++;
    int max_runs = argc > arg ? atoi(argv[arg]) : 100000;
    if (min_runs < 1) min_runs = 1;
    if (max_runs < min_runs) max_runs = min_runs;

    const xai_model_info *info = &XB_CAT(XB_NET, info);
    int64_t in_n = shape_count(&info->input), logits_n = shape_count(&info->output);
    int64_t out_n = XB_FORWARD ? logits_n : in_n;
#ifdef XB_OUT_DIMS
    xai_tensor_info out_info = { "out", (int32_t)(sizeof xb_out_dims / sizeof *xb_out_dims), { 0 } };
    for (int i = 0; i < out_info.rank; i++) out_info.shape[i] = xb_out_dims[i];
    out_n = shape_count(&out_info);
#endif
    char err[512];
    xai_array samples = { 0 };
    if (xai_npy_read(input, &samples, 1, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int64_t n_samples = xai_array_count(&samples) / in_n;
    if (n_samples < 1 || xai_array_count(&samples) % in_n) {
        fprintf(stderr, "%s: not a whole number of %lld-value samples\n", input, (long long)in_n);
        return 1;
    }
    float *x = malloc(sizeof(float) * in_n * batch);
    float *out = malloc(sizeof(float) * out_n * batch);
    float *logits = malloc(sizeof(float) * logits_n * batch);
    int32_t *target = malloc(sizeof(int32_t) * batch);
    if (!x || !out || !logits || !target) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (int b = 0; b < batch; b++)
        memcpy(x + (size_t)b * in_n, samples.data + (size_t)(b % n_samples) * in_n, sizeof(float) * in_n);
    xai_array_free(&samples);

    size_t ws_size = XB_CAT(XB_NET, workspace_size)(batch);
    void *ws = aligned_alloc(64, (ws_size + 63) / 64 * 64);
    if (!ws) {
        fprintf(stderr, "cannot allocate a %zu-byte workspace\n", ws_size);
        return 1;
    }
#if XB_EXTERNAL
    if (!weights) {
        fprintf(stderr, "an object with external weights needs WEIGHTS.safetensors\n");
        return 2;
    }
    int fd = open(weights, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        perror(weights);
        return 1;
    }
    void *bytes = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (bytes == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    close(fd);
    int status = XB_CAT(XB_NET, bind_weights)(ws, bytes, (size_t)st.st_size);
    if (status) {
        fprintf(stderr, "bind_weights: %s\n", xai_status_string(status));
        return 1;
    }
#else
    (void)weights;
#endif

    int status_fw = XB_CAT(XB_NET, forward)(x, logits, batch, ws);
    if (status_fw) {
        fprintf(stderr, "forward: %s\n", xai_status_string(status_fw));
        return 1;
    }
    for (int b = 0; b < batch; b++) {
        const float *l = logits + (size_t)b * logits_n;
        int best = 0;
        for (int k = 1; k < logits_n; k++)
            if (l[k] > l[best]) best = k;
        target[b] = best;
    }
    xb_x = x, xb_out = out, xb_target = target, xb_batch = batch, xb_ws = ws;

    double start = now_ms();
    for (int i = 0; i < 1 || now_ms() - start < 200; i++) { /* warm-up */
        int s = call();
        if (s) {
            fprintf(stderr, "%s: %s\n", XB_STR(XB_ENTRY), xai_status_string(s));
            return 1;
        }
    }
    double *t = malloc(sizeof(double) * max_runs), *tc = malloc(sizeof(double) * max_runs);
    int n = 0;
    start = now_ms();
    while (n < max_runs && (n < min_runs || now_ms() - start < seconds * 1e3)) {
        double t0 = now_ms(), c0 = cpu_ms();
        int s = call();
        tc[n] = cpu_ms() - c0;
        t[n++] = now_ms() - t0;
        if (s) {
            fprintf(stderr, "%s: %s\n", XB_STR(XB_ENTRY), xai_status_string(s));
            return 1;
        }
    }
    const char *save = getenv("BENCH_SAVE_OUTPUT"); /* the last call's result, for a sanity check */
    if (save && *save) {
        const xai_tensor_info *o = XB_FORWARD ? &info->output : &info->input;
#ifdef XB_OUT_DIMS
        o = &out_info;
#endif
        int64_t shape[XAI_MAX_RANK + 1] = { batch };
        for (int i = 0; i < o->rank; i++) shape[i + 1] = o->shape[i];
        if (xai_npy_write(save, out, o->rank + 1, shape, err, sizeof err)) fprintf(stderr, "%s\n", err);
    }
    qsort(t, n, sizeof *t, cmp);
    double med = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
    qsort(tc, n, sizeof *tc, cmp);
    double cmed = n % 2 ? tc[n / 2] : (tc[n / 2 - 1] + tc[n / 2]) / 2;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double load[1] = { 0 };
    getloadavg(load, 1);
    printf("{\"impl\":\"xaic\",\"model\":\"%s\",\"method\":\"%s\",\"batch\":%d,\"median_ms\":%.5f,"
           "\"per_sample_ms\":%.5f,\"min_ms\":%.5f,\"runs\":%d,\"peak_rss_mb\":%.1f,\"workspace_bytes\":%zu,"
           "\"loadavg_1m\":%.2f,\"threads\":%d,\"cpu_ms\":%.5f}\n",
           info->name, XB_FORWARD ? "forward" : XB_STR(XB_ENTRY), batch, med, med / batch, t[0], n,
           ru.ru_maxrss / 1024.0, ws_size, load[0], xai_get_num_threads(), cmed);
    free(t);
    free(tc);
    free(ws);
    free(x);
    free(out);
    free(logits);
    free(target);
    return 0;
}
