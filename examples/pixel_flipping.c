/* pixel_flipping: the selectivity of two generated LRP explanations (libxairt's xai_selectivity over the
 * generated entry points), linked as a user would.
 *
 *   xaic models/mnist_cnn_lrp.xai -o mnist_cnn_lrp.o
 *   cc pixel_flipping.c mnist_cnn_lrp.o -lxairt -o pixel_flipping
 *   ./pixel_flipping models/samples/digits.npy
 */
#include <stdio.h>
#include <stdlib.h>

#include <xairt.h>
#include "mnist_cnn_lrp.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pixel_flipping DIGITS.npy\n");
        return 2;
    }
    char err[512];
    xai_array x = { 0 };
    if (xai_npy_read(argv[1], &x, 1, err, sizeof err) != XAI_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int32_t n = (int32_t)(xai_array_count(&x) / MNIST_CNN_INPUT_SIZE);
    if (n < 1 || (int64_t)n * MNIST_CNN_INPUT_SIZE != xai_array_count(&x)) {
        fprintf(stderr, "%s: not a whole number of 28x28 digits\n", argv[1]);
        return 1;
    }
    const int32_t max_batch = 16, steps = 10;
    void *ws = aligned_alloc(64, (mnist_cnn_workspace_size(max_batch) + 63) / 64 * 64);
    float *curves = malloc(sizeof(float) * n * (steps + 1)), *aopc = malloc(sizeof(float) * n);
    if (!ws || !curves || !aopc) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    xai_explain_fn methods[2] = { mnist_cnn_epsilon_plus, mnist_cnn_epsilon_gamma_box };
    const char *names[2] = { "epsilon_plus", "epsilon_gamma_box" };
    xai_selectivity_options opt = { .patch = 4, .steps = steps }; /* most relevant first, f = ReLU(logit) */
    for (int m = 0; m < 2; m++) {
        xai_eval_model model = { .forward = mnist_cnn_forward,
                                 .explain = methods[m],
                                 .workspace = ws,
                                 .max_batch = max_batch,
                                 .channels = 1,
                                 .height = 28,
                                 .width = 28,
                                 .classes = 10 };
        if (xai_selectivity(&model, x.data, NULL, n, &opt, curves, aopc, NULL, NULL, err, sizeof err) != XAI_OK) {
            fprintf(stderr, "%s: %s\n", names[m], err);
            return 1;
        }
        double mean = 0;
        for (int32_t i = 0; i < n; i++) mean += aopc[i] / n;
        printf("%-18s AOPC %.4f over %d digits (f after 0 and %d removals, digit 0: %.3f -> %.3f)\n", names[m], mean, n,
               steps, curves[0], curves[steps]);
    }
    free(ws);
    free(curves);
    free(aopc);
    xai_array_free(&x);
    return 0;
}
