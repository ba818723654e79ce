/* bench/external/run.sh: the same ResNet-18 compiled with embedded weights (r18emb) and with --weights=external
 * (r18ext): workspace sizes, the time of r18ext_bind_weights (which computes the folded weights), and whether
 * every output (forward, LRP, gradient) is the same bit for bit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "xairt.h"
#define DECL(n)                                                                                                        \
    int n##_forward(const float *, float *, int32_t, void *);                                                          \
    size_t n##_workspace_size(int32_t);                                                                                \
    int n##_lrp(const float *, const int32_t *, float *, int32_t, void *);                                             \
    int n##_grad(const float *, const int32_t *, float *, int32_t, void *);
DECL(r18emb)
DECL(r18ext)
int r18ext_bind_weights(void *, const void *, size_t);
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
static void *amalloc(size_t n)
{
    void *p;
    if (posix_memalign(&p, 64, (n + 63) / 64 * 64)) exit(1);
    memset(p, 0, n);
    return p;
}
int main(void)
{
    xai_array x, y;
    char err[256];
    if (xai_npy_read("x.npy", &x, 0, err, 256) || xai_npy_read("y.npy", &y, 0, err, 256)) {
        puts(err);
        return 1;
    }
    int B = 2;
    size_t in = 3 * 64 * 64;
    size_t we = r18emb_workspace_size(B), wx = r18ext_workspace_size(B);
    printf("workspace(batch 2): embedded %zu, external %zu bytes (+%zu)\n", we, wx, wx - we);
    void *ws_e = amalloc(we), *ws_x = amalloc(wx);
    FILE *f = fopen("resnet18.safetensors", "rb");
    fseek(f, 0, SEEK_END);
    size_t n = ftell(f);
    rewind(f);
    void *file = amalloc(n);
    if (fread(file, 1, n, f) != n) return 1;
    fclose(f);
    double t0 = now();
    int st = r18ext_bind_weights(ws_x, file, n);
    double t1 = now();
    printf("bind_weights: %d in %.1f ms\n", st, 1e3 * (t1 - t0));
    float *oe = malloc(4 * B * in), *ox = malloc(4 * B * in);
    float ye[2000], yx[2000];
    r18emb_forward(x.data, ye, B, ws_e);
    r18ext_forward(x.data, yx, B, ws_x);
    double maxd = 0, maxr = 0;
    int diff = 0;
    for (int i = 0; i < B * 1000; i++) {
        diff += memcmp(&ye[i], &yx[i], 4) != 0;
        double d = ye[i] - y.data[i];
        if (d < 0) d = -d;
        if (d > maxd) maxd = d;
        if (y.data[i] > maxr) maxr = y.data[i];
    }
    printf("forward: %d of %d logits differ embedded vs external; max |y - torch| %.3g (max logit %.3g)\n", diff,
           B * 1000, maxd, maxr);
    const char *names[2] = { "lrp", "grad" };
    for (int e = 0; e < 2; e++) {
        int a = e ? r18emb_grad(x.data, NULL, oe, B, ws_e) : r18emb_lrp(x.data, NULL, oe, B, ws_e);
        int b = e ? r18ext_grad(x.data, NULL, ox, B, ws_x) : r18ext_lrp(x.data, NULL, ox, B, ws_x);
        int d = 0;
        for (size_t i = 0; i < B * in; i++) d += memcmp(&oe[i], &ox[i], 4) != 0;
        printf("%s: status %d / %d, %d of %zu values differ\n", names[e], a, b, d, B * in);
    }
    return 0;
}
