/* Threads: libxairt's xai_parallel_for (every index exactly once, nested and concurrent calls), and the
 * generated kernels split across threads. Results must be bitwise identical whatever the thread count:
 * a conv net and a dense net with odd sizes (channel and row remainders, a stride-2 conv whose transpose
 * has four phases), forward, LRP and gradient, compiled once serial (--threads=off) and once with every
 * parallel loop split (parallel_min_work = 1, grain 1), run with 1 to 4 pool threads; and application
 * threads calling the bundled CNN's entries concurrently while the pool is in use. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>

#include "naive_ref.c"
#include "testutil.h"
#include "xairt.h"

/* ---------------- the runtime ---------------- */

typedef struct cover {
    atomic_int *hits;
    int64_t grain, n;
    atomic_int short_chunks; /* chunks shorter than grain that do not end at n */
    atomic_int nested;       /* nested calls made from a body */
} cover;

static void cover_body(void *ctx, int64_t begin, int64_t end)
{
    cover *c = ctx;
    if (end - begin < c->grain && end != c->n) atomic_fetch_add(&c->short_chunks, 1);
    for (int64_t i = begin; i < end; i++) atomic_fetch_add(&c->hits[i], 1);
}

static void check_cover(int64_t n, int64_t grain)
{
    cover c = { .hits = calloc(n + 1, sizeof(atomic_int)), .grain = grain, .n = n };
    xai_parallel_for(cover_body, &c, n, grain);
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(atomic_load(&c.hits[i]), 1, "n %lld grain %lld threads %d: index %lld ran %d times", (long long)n,
                     (long long)grain, xai_get_num_threads(), (long long)i, atomic_load(&c.hits[i]));
    cr_assert_eq(atomic_load(&c.short_chunks), 0, "n %lld grain %lld: a chunk shorter than the grain", (long long)n,
                 (long long)grain);
    free(c.hits);
}

Test(parallel, runtime_runs_every_index_once)
{
    const int64_t ns[] = { 1, 2, 3, 7, 64, 100, 1000, 4097, 100000 };
    const int64_t grains[] = { 0, 1, 3, 64, 5000 };
    for (int t = 1; t <= 5; t++) {
        xai_set_num_threads(t);
        cr_assert_eq(xai_get_num_threads(), t);
        for (int round = 0; round < 20; round++)
            for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
                for (size_t g = 0; g < sizeof grains / sizeof *grains; g++) check_cover(ns[i], grains[g]);
    }
    xai_parallel_for(cover_body, NULL, 0, 1); /* n = 0: the body is not called */
    xai_set_num_threads(0);
    cr_assert_geq(xai_get_num_threads(), 1);
}

/* a body that runs a parallel loop itself (inline: the pool is owned by the outer call) */
static void nested_body(void *ctx, int64_t begin, int64_t end)
{
    cover *c = ctx;
    for (int64_t i = begin; i < end; i++) {
        cover inner = { .hits = calloc(50, sizeof(atomic_int)), .grain = 1, .n = 50 };
        xai_parallel_for(cover_body, &inner, 50, 1);
        int ok = 1;
        for (int k = 0; k < 50; k++) ok &= atomic_load(&inner.hits[k]) == 1;
        free(inner.hits);
        atomic_fetch_add(&c->hits[i], ok ? 1 : 100);
    }
    atomic_fetch_add(&c->nested, 1);
}

static void *caller(void *arg)
{
    long seed = (long)(intptr_t)arg;
    for (int round = 0; round < 200; round++) {
        int64_t n = 1 + (seed * 7919 + round * 104729) % 3000;
        if (round % 10 == 3) {
            cover c = { .hits = calloc(n, sizeof(atomic_int)), .grain = 1, .n = n };
            xai_parallel_for(nested_body, &c, n < 40 ? n : 40, 1);
            for (int64_t i = 0; i < (n < 40 ? n : 40); i++)
                if (atomic_load(&c.hits[i]) != 1) return (void *)1;
            free(c.hits);
        } else {
            cover c = { .hits = calloc(n, sizeof(atomic_int)), .grain = 1 + round % 5, .n = n };
            xai_parallel_for(cover_body, &c, n, c.grain);
            for (int64_t i = 0; i < n; i++)
                if (atomic_load(&c.hits[i]) != 1) return (void *)1;
            free(c.hits);
        }
    }
    return NULL;
}

Test(parallel, runtime_nested_and_concurrent_callers, .timeout = 120)
{
    xai_set_num_threads(3);
    pthread_t t[4];
    for (long i = 0; i < 4; i++) cr_assert_eq(pthread_create(&t[i], NULL, caller, (void *)(intptr_t)(i + 1)), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        cr_expect_null(r, "caller %d: an index did not run exactly once", i);
    }
    xai_set_num_threads(0);
}

/* ---------------- generated code ---------------- */

typedef int (*entry_fn)(const float *x, const int32_t *target, float *out, int32_t batch, void *ws);

typedef struct compiled {
    xai_jit *jit;
    nr_forward_fn forward;
    nr_wsize_fn workspace_size;
    entry_fn lrp, grad;
} compiled;

static char *with_explanations(const char *net_text, const char *net)
{
    char *text;
    if (asprintf(&text, "%s\nexplain lrp for %s { rules epsilon_plus; }\nexplain grad for %s { method gradient; }\n",
                 net_text, net, net) < 0)
        abort();
    return text;
}

static void compile_net(compiled *out, const char *path, const char *text, const char *net, const cg_options *opt)
{
    char *msg = NULL;
    out->jit = nr_jit_compile(path, text, opt, &msg);
    cr_assert_not_null(out->jit, "%s", msg ? msg : "?");
    char sym[128];
    snprintf(sym, sizeof sym, "%s_forward", net);
    out->forward = (nr_forward_fn)jit_lookup(out->jit, sym);
    snprintf(sym, sizeof sym, "%s_workspace_size", net);
    out->workspace_size = (nr_wsize_fn)jit_lookup(out->jit, sym);
    snprintf(sym, sizeof sym, "%s_lrp", net);
    out->lrp = (entry_fn)jit_lookup(out->jit, sym);
    snprintf(sym, sizeof sym, "%s_grad", net);
    out->grad = (entry_fn)jit_lookup(out->jit, sym);
    cr_assert(out->forward && out->workspace_size && out->lrp && out->grad, "missing symbols of %s", net);
}

/* The module generated with opt contains (or not) a call to xai_parallel_for. */
static void find_parallel_for(LLVMModuleRef mod, void *found)
{
    char *ir = LLVMPrintModuleToString(mod);
    *(int *)found = strstr(ir, "@xai_parallel_for(") != NULL;
    LLVMDisposeMessage(ir);
}

static int calls_parallel_for(const char *path, const char *text, const cg_options *opt)
{
    int found = 0;
    char *msg = NULL;
    cr_assert_eq(nr_with_module(path, text, opt, find_parallel_for, &found, &msg), 0, "%s", msg ? msg : "");
    return found;
}

/* forward, lrp and grad outputs of one compiled net, concatenated (malloc'd) */
static float *run_all(const compiled *m, const float *x, int batch, int64_t in_n, int64_t out_n, size_t *count)
{
    size_t ws_bytes = (m->workspace_size(batch) + 63) / 64 * 64;
    void *ws = NULL;
    cr_assert_eq(posix_memalign(&ws, 64, ws_bytes ? ws_bytes : 64), 0);
    *count = (size_t)batch * (out_n + 2 * in_n);
    float *r = malloc(sizeof(float) * *count);
    cr_assert_eq(m->forward(x, r, batch, ws), 0);
    int32_t target[8];
    for (int b = 0; b < batch; b++) target[b] = (b * 3) % (int)out_n;
    cr_assert_eq(m->lrp(x, target, r + batch * out_n, batch, ws), 0);
    cr_assert_eq(m->grad(x, NULL, r + batch * (out_n + in_n), batch, ws), 0);
    free(ws);
    return r;
}

static void check_bitwise(nr_net *net, const char *stem)
{
    char wname[64], xname[64], *wpath = NULL;
    snprintf(wname, sizeof wname, "%s.safetensors", stem);
    snprintf(xname, sizeof xname, "%s.xai", stem);
    if (asprintf(&wpath, "%s/%s", tu_tmpdir(), wname) < 0) abort();
    cr_assert_eq(nr_write_safetensors(net, wpath), 0);
    char *net_text = nr_xai_text(net, wname);
    char *text = with_explanations(net_text, net->name);
    char *path = tu_write_temp(xname, text, strlen(text));

    cg_options serial_opt = { .threads_off = 1 }, split_opt = { .parallel_min_work = 1 }, default_opt = { 0 };
    cr_assert_not(calls_parallel_for(path, text, &serial_opt), "--threads=off code calls xai_parallel_for");
    cr_assert(calls_parallel_for(path, text, &split_opt), "no parallel loop was generated");
    compiled serial, split, dflt;
    compile_net(&serial, path, text, net->name, &serial_opt);
    compile_net(&split, path, text, net->name, &split_opt);
    compile_net(&dflt, path, text, net->name, &default_opt);

    int64_t in_n = nr_count(&net->L[0]), out_n = nr_count(&net->L[net->output]);
    nr_rng r = { 42 };
    const int batches[] = { 1, 3, 8 };
    for (size_t bi = 0; bi < sizeof batches / sizeof *batches; bi++) {
        int batch = batches[bi];
        float *x = malloc(sizeof(float) * in_n * batch);
        for (int64_t k = 0; k < in_n * batch; k++) x[k] = (float)nr_uniform(&r, -1, 1);
        size_t n;
        xai_set_num_threads(1);
        float *want = run_all(&serial, x, batch, in_n, out_n, &n);
        for (int threads = 1; threads <= 4; threads++) {
            xai_set_num_threads(threads);
            for (int which = 0; which < 2; which++) {
                float *got = run_all(which ? &dflt : &split, x, batch, in_n, out_n, &n);
                size_t bad = n;
                for (size_t k = 0; k < n && bad == n; k++)
                    if (memcmp(&got[k], &want[k], sizeof(float))) bad = k;
                cr_expect_eq(bad, n, "%s (%s code), batch %d, %d threads: %s output %zu is %.9g, serial %.9g",
                             net->name, which ? "default" : "every loop split", batch, threads,
                             bad < (size_t)batch * out_n                ? "forward"
                                 : bad < (size_t)batch * (out_n + in_n) ? "lrp"
                                                                        : "grad",
                             bad, bad < n ? got[bad] : 0.0, bad < n ? want[bad] : 0.0);
                free(got);
            }
        }
        free(want);
        free(x);
    }
    xai_set_num_threads(0);
    jit_free(serial.jit);
    jit_free(split.jit);
    jit_free(dflt.jit);
    free(net_text);
    free(text);
    free(path);
    free(wpath);
    nr_net_free(net);
}

Test(parallel, conv_net_bitwise_any_thread_count, .timeout = 300)
{
    nr_net net;
    nr_rng r = { 2024 };
    int x = nr_input(&net, "x", 3, 3, 19, 17);
    int c1 = nr_conv(&net, &r, x, 13, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1, "13, kernel=3, pad=1");
    int a1 = nr_simple(&net, NR_RELU, c1, 0);
    int bn = nr_batchnorm(&net, &r, a1, 1e-5, ""); /* an affine op (per-channel constants) */
    int c2 = nr_conv(&net, &r, bn, 20, 3, 3, 2, 2, 1, 1, 1, 1, 0, 1, "20, kernel=3, stride=2, pad=1"); /* [20, 10, 9] */
    int a2 = nr_simple(&net, NR_RELU, c2, 0);
    int p = nr_pool(&net, NR_MAXPOOL, a2, 2, 2, 2, 2, 0, 0, 0, 0, 0, "2"); /* [20, 5, 4] */
    int c3 = nr_conv(&net, &r, p, 33, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, "33, kernel=3, pad=1, bias=false");
    int a3 = nr_simple(&net, NR_RELU, c3, 0);
    int f = nr_simple(&net, NR_FLATTEN, a3, 0);
    int d1 = nr_dense(&net, &r, f, 37, 1, "37");
    int a4 = nr_simple(&net, NR_RELU, d1, 0);
    nr_dense(&net, &r, a4, 10, 1, "10");
    snprintf(net.name, sizeof net.name, "pconv");
    check_bitwise(&net, "pconv");
}

Test(parallel, dense_net_bitwise_any_thread_count, .timeout = 300)
{
    nr_net net;
    nr_rng r = { 77 };
    int x = nr_input(&net, "x", 1, 300, 0, 0);
    int d1 = nr_dense(&net, &r, x, 203, 1, "203");
    int a1 = nr_simple(&net, NR_RELU, d1, 0);
    int d2 = nr_dense(&net, &r, a1, 67, 0, "67, bias=false");
    int a2 = nr_simple(&net, NR_RELU, d2, 0);
    nr_dense(&net, &r, a2, 10, 1, "10");
    snprintf(net.name, sizeof net.name, "pdense");
    check_bitwise(&net, "pdense");
}

/* ---------------- concurrent callers of generated entries ---------------- */

typedef struct job {
    const compiled *m;
    const float *x, *want;
    int batch, rounds, failures, bad_status;
    int64_t in_n, out_n;
} job;

static pthread_barrier_t start;

static void *entry_worker(void *arg)
{
    job *j = arg;
    size_t n;
    pthread_barrier_wait(&start);
    for (int r = 0; r < j->rounds; r++) {
        float *got = run_all(j->m, j->x, j->batch, j->in_n, j->out_n, &n);
        if (memcmp(got, j->want, n * sizeof(float))) j->failures++;
        free(got);
    }
    return NULL;
}

/* Four application threads, each with its own workspace, call the bundled CNN (default code: its large
 * layers run on the pool) at batch 8 and 1 while the pool serves whichever call owns it. */
Test(parallel, concurrent_callers_bitwise, .timeout = 300)
{
    size_t len;
    char *net_text = tu_read_file("models/mnist_cnn.xai", &len);
    cr_assert_not_null(net_text);
    char *text = with_explanations(net_text, "mnist_cnn");
    compiled m;
    cg_options opt = { 0 };
    compile_net(&m, "models/mnist_cnn.xai", text, "mnist_cnn", &opt);
    char err[256];
    xai_array x = { 0 };
    cr_assert_eq(xai_npy_read("models/samples/digits.npy", &x, 0, err, sizeof err), XAI_OK, "%s", err);
    float xs[8 * 784];
    for (int k = 0; k < 8 * 784; k++) xs[k] = x.data[k % (10 * 784)];
    xai_set_num_threads(1);
    size_t n;
    float *want8 = run_all(&m, xs, 8, 784, 10, &n), *want1 = run_all(&m, xs, 1, 784, 10, &n);
    xai_set_num_threads(2);
    enum { T = 4 };
    pthread_t t[T];
    job jobs[T];
    cr_assert_eq(pthread_barrier_init(&start, NULL, T), 0);
    for (int i = 0; i < T; i++) {
        jobs[i] = (job){ .m = &m,
                         .x = xs,
                         .want = i % 2 ? want1 : want8,
                         .batch = i % 2 ? 1 : 8,
                         .rounds = 15,
                         .in_n = 784,
                         .out_n = 10 };
        cr_assert_eq(pthread_create(&t[i], NULL, entry_worker, &jobs[i]), 0);
    }
    for (int i = 0; i < T; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < T; i++)
        cr_expect_eq(jobs[i].failures, 0, "thread %d (batch %d): %d of %d rounds differ from the 1-thread run", i,
                     jobs[i].batch, jobs[i].failures, jobs[i].rounds);
    xai_set_num_threads(0);
    free(want8);
    free(want1);
    xai_array_free(&x);
    jit_free(m.jit);
    free(text);
    free(net_text);
}

/* The command line: --threads=off emits no call to the pool, the default does (the CNN's conv2 is large). */
Test(parallel, cli_threads_off, .timeout = 120)
{
    const char *modes[3] = { "", "--threads=on", "--threads=off" };
    for (int m = 0; m < 3; m++) {
        char *ll = NULL, *cmd = NULL, *out = NULL;
        if (asprintf(&ll, "%s/cnn%d.ll", tu_tmpdir(), m) < 0) abort();
        if (asprintf(&cmd, "%s models/mnist_cnn.xai --emit llvm -O0 %s -o %s", XAIC_EXE, modes[m], ll) < 0) abort();
        cr_assert_eq(tu_run(cmd, &out), 0, "%s: %s", cmd, out);
        size_t len;
        char *text = tu_read_file(ll, &len);
        cr_assert_not_null(text);
        int calls = strstr(text, "@xai_parallel_for(") != NULL;
        cr_expect_eq(calls, m < 2, "%s: %s xai_parallel_for", cmd, calls ? "calls" : "does not call");
        free(text);
        free(out);
        free(cmd);
        free(ll);
    }
}
