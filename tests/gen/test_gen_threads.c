/* links: mnist_cnn */
/* Reentrancy: four threads, each with its own workspace, run mnist_cnn_forward on the ten sample
 * digits 50 times at once; every result is bit-identical to a single-threaded reference run. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <xairt.h>

#include "mnist_cnn.h"

#define THREADS 4
#define ROUNDS  50
#define BATCH   10

typedef struct job {
    const float *x;
    const float *want;
    int batch;    /* per call: 10, or 1 (ten calls per round) for odd threads */
    int failures; /* rounds whose output differed */
    int bad_status;
} job;

static pthread_barrier_t start;

static void *worker(void *arg)
{
    job *j = arg;
    void *ws = NULL;
    if (posix_memalign(&ws, 64, (mnist_cnn_workspace_size(j->batch) + 63) / 64 * 64)) return NULL;
    float y[BATCH * MNIST_CNN_OUTPUT_SIZE];
    pthread_barrier_wait(&start);
    for (int r = 0; r < ROUNDS; r++) {
        memset(y, 0, sizeof y);
        for (int b = 0; b < BATCH; b += j->batch) {
            int st =
                mnist_cnn_forward(j->x + (size_t)b * MNIST_CNN_INPUT_SIZE, y + b * MNIST_CNN_OUTPUT_SIZE, j->batch, ws);
            if (st != XAI_OK) j->bad_status = st;
        }
        if (memcmp(y, j->want, sizeof y)) j->failures++;
    }
    free(ws);
    return NULL;
}

Test(gen_threads, four_threads_bit_identical, .timeout = 300)
{
    char err[512];
    xai_array x = { 0 };
    cr_assert_eq(xai_npy_read("models/samples/digits.npy", &x, 0, err, sizeof err), XAI_OK, "%s", err);
    cr_assert_eq(xai_array_count(&x), BATCH * MNIST_CNN_INPUT_SIZE);

    /* single-threaded reference */
    float want[BATCH * MNIST_CNN_OUTPUT_SIZE];
    void *ws = NULL;
    cr_assert_eq(posix_memalign(&ws, 64, mnist_cnn_workspace_size(BATCH)), 0);
    cr_assert_eq(mnist_cnn_forward(x.data, want, BATCH, ws), XAI_OK);
    free(ws);

    pthread_t t[THREADS];
    job jobs[THREADS];
    cr_assert_eq(pthread_barrier_init(&start, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job){ .x = x.data, .want = want, .batch = i % 2 ? 1 : BATCH };
        cr_assert_eq(pthread_create(&t[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < THREADS; i++) {
        cr_expect_eq(jobs[i].bad_status, XAI_OK, "thread %d: status %s", i, xai_status_string(jobs[i].bad_status));
        cr_expect_eq(jobs[i].failures, 0, "thread %d (batch %d): %d of %d rounds differ from the single-threaded run",
                     i, jobs[i].batch, jobs[i].failures, ROUNDS);
    }
    xai_array_free(&x);
}
