/* links: mnist_cnn_external */
/* --weights=external: the weights stay in the safetensors file, which the caller loads and binds to a
 * workspace with NET_bind_weights; forward refuses to run on an unbound workspace or a file other
 * than the one compiled against. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xairt.h>

#include "mnist_cnn_external.h"
#include "testutil.h"

/* the prototype the header must declare */
_Static_assert(_Generic(&mnist_cnn_bind_weights, int (*)(void *, const void *, size_t) : 1, default : 0),
               "int mnist_cnn_bind_weights(void *workspace, const void *safetensors, size_t size)");

#define IN  MNIST_CNN_INPUT_SIZE
#define OUT MNIST_CNN_OUTPUT_SIZE

static xai_array digits, logits;
static unsigned char *file; /* models/mnist_cnn.safetensors, 64-byte aligned */
static size_t file_size;

static void setup(void)
{
    char err[512];
    cr_assert_eq(xai_npy_read("models/samples/digits.npy", &digits, 0, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(xai_npy_read("tests/fixtures/forward/mnist_cnn_logits.npy", &logits, 0, err, sizeof err), XAI_OK, "%s",
                 err);
    char *bytes = tu_read_file("models/mnist_cnn.safetensors", &file_size);
    cr_assert_not_null(bytes);
    cr_assert_eq(posix_memalign((void **)&file, 64, file_size + 64), 0);
    memcpy(file, bytes, file_size);
    free(bytes);
}

static void teardown(void)
{
    xai_array_free(&digits);
    xai_array_free(&logits);
    free(file);
}

static void *ws_alloc(int32_t batch)
{
    size_t bytes = mnist_cnn_workspace_size(batch);
    void *p = NULL;
    cr_assert_eq(posix_memalign(&p, 64, (bytes + 63) / 64 * 64), 0);
    memset(p, 0, bytes);
    return p;
}

static void expect_forward_refused(void *ws, const char *what)
{
    float y[10 * OUT];
    memset(y, 0xA5, sizeof y);
    int st = mnist_cnn_forward(digits.data, y, 10, ws);
    cr_expect_eq(st, XAI_EWEIGHTS, "%s: forward returned %d (%s), expected XAI_EWEIGHTS", what, st,
                 xai_status_string(st));
    unsigned char *p = (unsigned char *)y;
    for (size_t i = 0; i < sizeof y; i++)
        if (p[i] != 0xA5) {
            cr_expect_fail("%s: output written on a refused call", what);
            break;
        }
}

static void expect_matches_torch(const float *y, int batch)
{
    double max_ref = 0, max_err = 0;
    for (int i = 0; i < batch * OUT; i++) {
        if (fabs(logits.data[i]) > max_ref) max_ref = fabs(logits.data[i]);
        double e = isnan(y[i]) ? INFINITY : fabs(y[i] - logits.data[i]);
        if (e > max_err) max_err = e;
    }
    cr_expect_leq(max_err, 1e-5 * max_ref, "max |y - torch| = %g > 1e-5 x %g", max_err, max_ref);
}

Test(gen_external, workspace_has_a_header)
{
    /* the 64-byte header of the bound weights, the Winograd kernels' scratch (conv2, conv3), the per-sample arena */
    size_t one = mnist_cnn_workspace_size(1), eight = mnist_cnn_workspace_size(8);
    size_t per = mnist_cnn_workspace_size(2) - one, header = one - per;
    cr_expect_eq(mnist_cnn_workspace_size(0), 0u);
    cr_expect_eq(mnist_cnn_workspace_size(-1), 0u);
    cr_expect(per > 0 && header >= 64 && header % 64 == 0, "size(1) = %zu, size(2) = %zu", one, one + per);
    cr_expect_eq(eight, header + 8 * per, "size(8) = %zu, size(1) = %zu: not a header + per-sample arena", eight, one);
}

Test(gen_external, forward_before_binding, .init = setup, .fini = teardown)
{
    void *ws = ws_alloc(10);
    expect_forward_refused(ws, "zeroed workspace, not bound");
    memset(ws, 0x5A, mnist_cnn_workspace_size(10));
    expect_forward_refused(ws, "garbage workspace, not bound");
    free(ws);
}

Test(gen_external, wrong_files_are_refused, .init = setup, .fini = teardown)
{
    void *ws = ws_alloc(10);
    cr_expect_eq(mnist_cnn_bind_weights(ws, file, file_size - 1), XAI_EWEIGHTS, "size - 1");
    cr_expect_eq(mnist_cnn_bind_weights(ws, file, file_size + 8), XAI_EWEIGHTS, "size + 8");
    cr_expect_eq(mnist_cnn_bind_weights(ws, file, 0), XAI_EWEIGHTS, "size 0");
    expect_forward_refused(ws, "after binding a wrong size");
    /* one flipped byte: in the data section (a weight), then in the JSON header */
    size_t offsets[3] = { file_size - 3, file_size / 2, 12 };
    for (int k = 0; k < 3; k++) {
        file[offsets[k]] ^= 0x01;
        cr_expect_eq(mnist_cnn_bind_weights(ws, file, file_size), XAI_EWEIGHTS, "byte %zu flipped", offsets[k]);
        expect_forward_refused(ws, "after binding a corrupted file");
        file[offsets[k]] ^= 0x01;
    }
    free(ws);
}

Test(gen_external, bad_bind_arguments, .init = setup, .fini = teardown)
{
    char *ws = ws_alloc(1);
    cr_expect_eq(mnist_cnn_bind_weights(NULL, file, file_size), XAI_ENULL);
    cr_expect_eq(mnist_cnn_bind_weights(ws, NULL, file_size), XAI_ENULL);
    char *big = NULL;
    cr_assert_eq(posix_memalign((void **)&big, 64, mnist_cnn_workspace_size(1) + 128), 0);
    cr_expect_eq(mnist_cnn_bind_weights(big + 4, file, file_size), XAI_EALIGN);
    free(big);
    free(ws);
}

Test(gen_external, bound_forward_matches_torch, .init = setup, .fini = teardown)
{
    void *ws = ws_alloc(10);
    int st = mnist_cnn_bind_weights(ws, file, file_size);
    cr_assert_eq(st, XAI_OK, "bind_weights: %d (%s)", st, xai_status_string(st));
    float y[10 * OUT], y2[10 * OUT];
    st = mnist_cnn_forward(digits.data, y, 10, ws);
    cr_assert_eq(st, XAI_OK, "forward: %d (%s)", st, xai_status_string(st));
    expect_matches_torch(y, 10);
    /* the binding survives calls; a second call gives the same bits */
    cr_assert_eq(mnist_cnn_forward(digits.data, y2, 10, ws), XAI_OK);
    cr_expect_eq(memcmp(y, y2, sizeof y), 0);
    /* a smaller batch with the same (bigger) workspace */
    cr_assert_eq(mnist_cnn_forward(digits.data + 4 * IN, y2, 3, ws), XAI_OK);
    cr_expect_eq(memcmp(y + 4 * OUT, y2, sizeof(float) * 3 * OUT), 0);
    /* another workspace is not bound by binding this one */
    void *other = ws_alloc(10);
    expect_forward_refused(other, "a second, unbound workspace");
    free(other);
    free(ws);
}

/* A failed bind does not leave a previously bound workspace half-bound to the wrong file. */
Test(gen_external, rebinding, .init = setup, .fini = teardown)
{
    void *ws = ws_alloc(10);
    cr_assert_eq(mnist_cnn_bind_weights(ws, file, file_size), XAI_OK);
    /* a copy of the file elsewhere is just as good */
    unsigned char *copy = NULL;
    cr_assert_eq(posix_memalign((void **)&copy, 64, file_size), 0);
    memcpy(copy, file, file_size);
    cr_assert_eq(mnist_cnn_bind_weights(ws, copy, file_size), XAI_OK);
    float y[10 * OUT];
    cr_assert_eq(mnist_cnn_forward(digits.data, y, 10, ws), XAI_OK);
    expect_matches_torch(y, 10);
    free(copy);
    free(ws);
}
