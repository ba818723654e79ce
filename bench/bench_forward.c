/* Forward-pass latency of the bundled CNN through the object xaic generated, as a user links it.
 * usage: bench_forward BATCH [SECONDS]  -> one JSON line (median time per call, peak RSS).
 * Run one process per batch size so that peak RSS is not inflated by another configuration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <xairt.h>
#include "mnist_cnn.h"

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

int main(int argc, char **argv)
{
    int batch = argc > 1 ? atoi(argv[1]) : 1;
    double seconds = argc > 2 ? atof(argv[2]) : 3.0;
    if (batch < 1) { fprintf(stderr, "usage: bench_forward BATCH [SECONDS]\n"); return 2; }
    char err[256];
    xai_array digits = {0};
    if (xai_npy_read("models/samples/digits.npy", &digits, 0, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    float *x = malloc(sizeof(float) * MNIST_CNN_INPUT_SIZE * batch);
    for (int b = 0; b < batch; b++)
        memcpy(x + (size_t)b * MNIST_CNN_INPUT_SIZE, digits.data + (size_t)(b % 10) * MNIST_CNN_INPUT_SIZE,
               sizeof(float) * MNIST_CNN_INPUT_SIZE);
    float *y = malloc(sizeof(float) * MNIST_CNN_OUTPUT_SIZE * batch);
    size_t ws_size = mnist_cnn_workspace_size(batch);
    void *ws = aligned_alloc(64, (ws_size + 63) / 64 * 64);
    for (int i = 0; i < 5; i++) mnist_cnn_forward(x, y, batch, ws);   /* warm-up */
    int cap = 100000, n = 0;
    double *t = malloc(sizeof(double) * cap), start = now_ms();
    while (n < cap && (now_ms() - start < seconds * 1e3 || n < 10)) {
        double t0 = now_ms();
        if (mnist_cnn_forward(x, y, batch, ws)) { fprintf(stderr, "forward failed\n"); return 1; }
        t[n++] = now_ms() - t0;
    }
    qsort(t, n, sizeof *t, cmp);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"impl\":\"xaic\",\"model\":\"mnist_cnn\",\"batch\":%d,\"median_ms\":%.5f,\"per_sample_ms\":%.5f,"
           "\"runs\":%d,\"peak_rss_mb\":%.1f,\"workspace_bytes\":%zu}\n",
           batch, t[n / 2], t[n / 2] / batch, n, ru.ru_maxrss / 1024.0, ws_size);
    return 0;
}
