/* links: mnist_cnn */
/* Argument validation and statelessness of a generated entry point (DESIGN.md "Generated API"):
 * every bad call returns its XAI_E* code and leaves the output untouched; results do not depend on
 * the batch composition, on earlier calls or on what the workspace held before. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xairt.h>

#include "mnist_cnn.h"

#define IN       MNIST_CNN_INPUT_SIZE
#define OUT      MNIST_CNN_OUTPUT_SIZE
#define SENTINEL 0xA5

static xai_array digits; /* [10, 1, 28, 28] */

static void setup(void)
{
    char err[512];
    cr_assert_eq(xai_npy_read("models/samples/digits.npy", &digits, 0, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(xai_array_count(&digits), 10 * IN);
}
static void teardown(void) { xai_array_free(&digits); }

static void *ws_alloc(int32_t batch, size_t extra)
{
    size_t bytes = mnist_cnn_workspace_size(batch) + extra;
    void *p = NULL;
    cr_assert_eq(posix_memalign(&p, 64, (bytes + 63) / 64 * 64), 0);
    return p;
}

/* Calls forward on a sentinel-filled y and checks the status and that y was not written. */
static void expect_rejected(const float *x, int32_t batch, void *ws, int want, const char *what)
{
    float y[10 * OUT + 16];
    memset(y, SENTINEL, sizeof y);
    int st = mnist_cnn_forward(x, y, batch, ws);
    cr_expect_eq(st, want, "%s: status %d (%s), expected %d (%s)", what, st, xai_status_string(st), want,
                 xai_status_string(want));
    unsigned char *p = (unsigned char *)y;
    size_t changed = 0;
    for (size_t i = 0; i < sizeof y; i++) changed += p[i] != SENTINEL;
    cr_expect_eq(changed, 0u, "%s: %zu bytes of the output were written on a failing call", what, changed);
}

Test(gen_api, null_pointers, .init = setup, .fini = teardown)
{
    void *ws = ws_alloc(10, 0);
    float y[OUT];
    expect_rejected(NULL, 1, ws, XAI_ENULL, "x = NULL");
    expect_rejected(digits.data, 1, NULL, XAI_ENULL, "workspace = NULL");
    cr_expect_eq(mnist_cnn_forward(digits.data, NULL, 1, ws), XAI_ENULL, "y = NULL");
    cr_expect_eq(mnist_cnn_forward(NULL, NULL, 1, NULL), XAI_ENULL, "all NULL");
    (void)y;
    free(ws);
}

Test(gen_api, bad_batch, .init = setup, .fini = teardown)
{
    void *ws = ws_alloc(10, 0);
    expect_rejected(digits.data, 0, ws, XAI_EBATCH, "batch 0");
    expect_rejected(digits.data, -1, ws, XAI_EBATCH, "batch -1");
    expect_rejected(digits.data, INT32_MIN, ws, XAI_EBATCH, "batch INT32_MIN");
    free(ws);
}

Test(gen_api, misaligned_workspace, .init = setup, .fini = teardown)
{
    char *ws = ws_alloc(1, 128);
    expect_rejected(digits.data, 1, ws + 4, XAI_EALIGN, "workspace 64-byte aligned + 4");
    expect_rejected(digits.data, 1, ws + 32, XAI_EALIGN, "workspace 64-byte aligned + 32");
    expect_rejected(digits.data, 1, ws + 1, XAI_EALIGN, "workspace 64-byte aligned + 1");
    /* and the same buffer, aligned, works */
    float y[OUT];
    cr_expect_eq(mnist_cnn_forward(digits.data, y, 1, ws + 64), XAI_OK);
    free(ws);
}

static void expect_nan_rejected(int32_t batch, int64_t at, float bad, const char *what)
{
    float *x = malloc(sizeof(float) * IN * batch);
    memcpy(x, digits.data, sizeof(float) * IN * batch);
    x[at] = bad;
    void *ws = ws_alloc(batch, 0);
    expect_rejected(x, batch, ws, XAI_ENAN, what);
    free(ws);
    free(x);
}

Test(gen_api, nan_and_inf_input, .init = setup, .fini = teardown)
{
    expect_nan_rejected(1, 0, NAN, "NaN at the first element");
    expect_nan_rejected(10, 10 * IN - 1, NAN, "NaN at the last element of the last sample");
    expect_nan_rejected(1, 0, INFINITY, "+inf at the first element");
    expect_nan_rejected(10, 10 * IN - 1, INFINITY, "+inf at the last element of the last sample");
    expect_nan_rejected(10, 10 * IN - 1, -INFINITY, "-inf at the last element of the last sample");
    expect_nan_rejected(3, IN + 400, -NAN, "-NaN in the middle of sample 1");
    expect_nan_rejected(10, 5 * IN + 17, INFINITY, "+inf in sample 5");
}

/* Large and tiny finite values, -0 and subnormals are valid input. */
Test(gen_api, finite_extremes_are_accepted, .init = setup, .fini = teardown)
{
    float x[2 * IN];
    memcpy(x, digits.data, sizeof x);
    x[0] = FLT_MAX;
    x[1] = -FLT_MAX;
    x[2] = -0.0f;
    x[3] = FLT_MIN / 4; /* subnormal */
    x[IN + 5] = 1e30f;
    float y[2 * OUT];
    void *ws = ws_alloc(2, 0);
    cr_expect_eq(mnist_cnn_forward(x, y, 2, ws), XAI_OK);
    free(ws);
}

static void run(const float *x, float *y, int32_t batch, void *ws)
{
    int st = mnist_cnn_forward(x, y, batch, ws);
    cr_assert_eq(st, XAI_OK, "forward: %s", xai_status_string(st));
}

/* batch 1 ten times == batch 10 once, bit for bit; the input is not modified */
Test(gen_api, samples_are_independent, .init = setup, .fini = teardown)
{
    float *copy = malloc(sizeof(float) * 10 * IN);
    memcpy(copy, digits.data, sizeof(float) * 10 * IN);
    float y10[10 * OUT], y1[10 * OUT];
    void *ws10 = ws_alloc(10, 0), *ws1 = ws_alloc(1, 0);
    run(digits.data, y10, 10, ws10);
    for (int b = 0; b < 10; b++) run(digits.data + b * IN, y1 + b * OUT, 1, ws1);
    cr_expect_eq(memcmp(y10, y1, sizeof y1), 0, "batch 10 differs from 10 x batch 1");
    cr_expect_eq(memcmp(copy, digits.data, sizeof(float) * 10 * IN), 0, "forward modified its input");

    /* changing one sample changes only its own output */
    float *x = malloc(sizeof(float) * 10 * IN), y2[10 * OUT];
    memcpy(x, digits.data, sizeof(float) * 10 * IN);
    for (int i = 0; i < IN; i++) x[3 * IN + i] = 1.0f - x[3 * IN + i];
    run(x, y2, 10, ws10);
    for (int b = 0; b < 10; b++) {
        int same = !memcmp(y2 + b * OUT, y10 + b * OUT, sizeof(float) * OUT);
        if (b == 3)
            cr_expect(!same, "sample 3 was changed but its output was not");
        else
            cr_expect(same, "changing sample 3 changed the output of sample %d", b);
    }
    /* odd batch sizes and a sample at an odd position give the same bits too */
    float y3[3 * OUT];
    run(digits.data + 7 * IN, y3, 3, ws10);
    cr_expect_eq(memcmp(y3, y10 + 7 * OUT, sizeof y3), 0, "batch 3 (samples 7..9) differs");
    free(x);
    free(copy);
    free(ws10);
    free(ws1);
}

/* no state: the same call twice with the same workspace, or with a workspace full of garbage
 * (NaN bit patterns), or bigger than needed, gives the same bits */
Test(gen_api, no_state, .init = setup, .fini = teardown)
{
    float a[10 * OUT], b[10 * OUT], c[10 * OUT], d[10 * OUT];
    size_t bytes = mnist_cnn_workspace_size(10);
    char *ws = ws_alloc(10, 0);
    memset(ws, 0, bytes);
    run(digits.data, a, 10, ws);
    run(digits.data, b, 10, ws);
    cr_expect_eq(memcmp(a, b, sizeof a), 0, "second call with the same workspace differs");
    memset(ws, 0xFF, bytes); /* every float in the workspace is a NaN */
    run(digits.data, c, 10, ws);
    cr_expect_eq(memcmp(a, c, sizeof a), 0, "result depends on the workspace's previous contents");
    char *big = ws_alloc(64, 0);
    memset(big, 0x7F, mnist_cnn_workspace_size(64));
    run(digits.data, d, 10, big);
    cr_expect_eq(memcmp(a, d, sizeof a), 0, "a larger workspace gives a different result");
    free(ws);
    free(big);
}

/* The workspace is the only scratch memory: forward writes nothing past workspace_size(batch). */
Test(gen_api, stays_inside_the_workspace, .init = setup, .fini = teardown)
{
    size_t bytes = mnist_cnn_workspace_size(3);
    unsigned char *ws = ws_alloc(3, 4096);
    memset(ws + bytes, SENTINEL, 4096);
    float y[3 * OUT + 64];
    memset(y, SENTINEL, sizeof y);
    run(digits.data, y, 3, ws);
    size_t changed = 0;
    for (size_t i = 0; i < 4096; i++) changed += ws[bytes + i] != SENTINEL;
    cr_expect_eq(changed, 0u, "%zu bytes written past the workspace", changed);
    unsigned char *p = (unsigned char *)(y + 3 * OUT);
    changed = 0;
    for (size_t i = 0; i < 64 * sizeof(float); i++) changed += p[i] != SENTINEL;
    cr_expect_eq(changed, 0u, "%zu bytes written past the output", changed);
    free(ws);
}

Test(gen_api, status_strings)
{
    int codes[] = { XAI_OK, XAI_ENULL, XAI_EBATCH, XAI_EALIGN, XAI_ENAN, XAI_EWEIGHTS };
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        const char *s = xai_status_string(codes[i]);
        cr_assert_not_null(s);
        cr_expect_gt(strlen(s), 3u);
    }
    cr_expect_str_neq(xai_status_string(XAI_EALIGN), xai_status_string(XAI_ENAN));
}
