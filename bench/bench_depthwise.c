/* Per-layer latency and memory throughput of depthwise convs (bench/depthwise.sh): for each layer of
 * depthwise_layers.inc (bench/depthwise_layers.py), the median time of NET_forward (the conv alone) and of
 * the gradient entry (forward + seed + the transposed conv), timed for SECONDS each after two warm-up calls.
 *
 *   bench_depthwise [BATCH=1] [SECONDS=0.3] [NAME_SUBSTRING]
 *
 * GB/s = bytes of input + output + weights of one call / time; "grad-fwd" (the transposed conv and the
 * seed) is given the same byte count (it reads the output-sized seed and writes the input-sized gradient). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xairt.h>

#include "depthwise.h"
#include "depthwise_layers.inc"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define MAX_RUNS 1000
#define MEDIAN_MS(call, secs, out)                                                                                     \
    do {                                                                                                               \
        static double t_[MAX_RUNS];                                                                                    \
        int n_ = 0;                                                                                                    \
        if ((call) || (call)) return 1;                                                                                \
        double end_ = now_ms() + (secs)*1e3;                                                                           \
        while ((n_ < 5 || now_ms() < end_) && n_ < MAX_RUNS) {                                                         \
            double t0_ = now_ms();                                                                                     \
            if (call) return 1;                                                                                        \
            t_[n_++] = now_ms() - t0_;                                                                                 \
        }                                                                                                              \
        qsort(t_, n_, sizeof *t_, cmp);                                                                                \
        (out) = t_[n_ / 2];                                                                                            \
    } while (0)

int main(int argc, char **argv)
{
    int batch = argc > 1 ? atoi(argv[1]) : 1;
    double secs = argc > 2 ? atof(argv[2]) : 0.3;
    const char *only = argc > 3 ? argv[3] : NULL;
    if (batch < 1) return 2;
#define L(N, C, H, K, S)                                                                                               \
    if (!only || strstr(#N, only)) {                                                                                   \
        int64_t oh = (H + 2 * (K / 2) - K) / S + 1;                                                                    \
        size_t in_n = (size_t)C * H * H * batch;                                                                       \
        float *x = malloc(in_n * 4), *o = malloc(in_n * 4);                                                            \
        void *ws = aligned_alloc(64, (N##_workspace_size(batch) + 63) / 64 * 64 + 64);                                 \
        int32_t *target = calloc(batch, 4);                                                                            \
        for (size_t i = 0; i < in_n; i++) x[i] = (float)((i * 2654435761u) % 1000) / 500.f - 1.f;                      \
        double fwd, grad;                                                                                              \
        MEDIAN_MS(N##_forward(x, o, batch, ws), secs, fwd);                                                            \
        MEDIAN_MS(N##_##N##_grad(x, target, o, batch, ws), secs, grad);                                                \
        double bytes = 4.0 * batch * ((double)C * H * H + (double)C * oh * oh) + 4.0 * (C * K * K + C);                \
        printf("%-14s %4dx%3dx%-3d %dx%d s%d  fwd %8.3f ms %6.1f GB/s   grad-fwd %8.3f ms %6.1f GB/s\n", #N, C, H, H,  \
               K, K, S, fwd, bytes / fwd / 1e6, grad - fwd, bytes / (grad - fwd) / 1e6);                               \
        free(x), free(o), free(ws), free(target);                                                                      \
    }
    DW_LAYERS
    return 0;
}
