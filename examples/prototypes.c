/* prototypes: activation maximisation from a generated object, linked as a user would: one prototype per
 * class of the bundled MLP, written as a PNG grid.
 *
 *   xaic models/mnist_mlp_am.xai -o mnist_mlp_am.o
 *   cc prototypes.c mnist_mlp_am.o -lxairt -o prototypes
 *   ./prototypes prototypes.png
 */
#include <stdio.h>
#include <stdlib.h>

#include <xairt.h>
#include "mnist_mlp_am.h"

static void progress(void *context, int64_t done, int64_t total)
{
    (void)context;
    fprintf(stderr, "\rstep %lld / %lld", (long long)done, (long long)total);
    if (done == total) fputc('\n', stderr);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: prototypes OUT.png\n");
        return 2;
    }
    enum { CLASSES = 10 };
    float *start = calloc(CLASSES * MNIST_MLP_INPUT_SIZE, sizeof(float)); /* blank images */
    float *images = malloc(sizeof(float) * CLASSES * MNIST_MLP_INPUT_SIZE), logits[CLASSES * CLASSES];
    void *ws = aligned_alloc(64, (mnist_mlp_workspace_size(CLASSES) + 63) / 64 * 64);
    if (!start || !images || !ws) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    int32_t classes[CLASSES];
    for (int c = 0; c < CLASSES; c++) classes[c] = c;
    xai_options opt = { 0 };
    opt.progress = progress;
    int status = mnist_mlp_proto_ex(start, classes, images, CLASSES, ws, &opt);
    if (status == XAI_OK) status = mnist_mlp_forward(images, logits, CLASSES, ws);
    if (status != XAI_OK) {
        fprintf(stderr, "%s\n", xai_status_string(status));
        return 1;
    }
    for (int c = 0; c < CLASSES; c++) {
        int best = 0;
        for (int k = 1; k < CLASSES; k++)
            if (logits[c * CLASSES + k] > logits[c * CLASSES + best]) best = k;
        printf("prototype of %d is classified as %d\n", c, best);
    }
    char err[512];
    if (xai_image_grid_write_png(argv[1], images, CLASSES, 1, 28, 28, 5, 0, err, sizeof err) != XAI_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    free(start);
    free(images);
    free(ws);
    return 0;
}
