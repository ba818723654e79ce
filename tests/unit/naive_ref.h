/* A deliberately naive reference for the forward pass of small networks, written straight from PyTorch
 * semantics (NCHW, cross-correlation, floor output sizes; `same` pads as TensorFlow), with double
 * accumulation; plus writers for the .xai text and the safetensors weights of such a network, and a
 * helper that compiles a .xai text in-process with the JIT.
 *
 * Nothing here comes from xaic: it is the independent side of the differential tests.
 * Used by test_differential*.c and test_jit_*.c, which `#include "naive_ref.c"` (tests/CMakeLists.txt
 * builds each test from one source file plus testutil.c). */
#ifndef XAIC_NAIVE_REF_H
#define XAIC_NAIVE_REF_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    NR_INPUT,
    NR_DENSE,
    NR_CONV,
    NR_MAXPOOL,
    NR_AVGPOOL,
    NR_GAP,
    NR_RELU,
    NR_SIGMOID,
    NR_FLATTEN,
    NR_BN,
    NR_ADD,
    NR_SOFTMAX
} nr_op;

#define NR_MAX_LAYERS 48

typedef struct nr_layer {
    nr_op op;
    char name[16];
    int in[2];         /* indices of the layers read (in[1] only for add) */
    int rank, dims[3]; /* output shape without the batch: [C, H, W] or [D] */
    /* attributes */
    int units; /* dense outputs, conv filters */
    int kh, kw, sh, sw;
    int pt, pl, pb, pr; /* resolved padding (also for `same`) */
    int same;
    int bias;
    double eps;
    /* how the arguments are spelled in the .xai (after the input names) */
    char args[160];
    /* parameters (float32, PyTorch layouts); NULL when absent */
    float *w, *b, *mean, *var;
    int64_t wcount;
} nr_layer;

typedef struct nr_net {
    char name[32];
    int n; /* layers, L[0] is the input */
    nr_layer L[NR_MAX_LAYERS];
    int output;
} nr_net;

int64_t nr_count(const nr_layer *l);
/* TF SAME padding along one axis: out = ceil(in/s), total = max((out-1)*s + k - in, 0), extra at the end. */
void nr_same_pad(int in, int k, int s, int *lo, int *hi);

/* Forward pass of the whole batch in double; returns the output (malloc'd, batch * nr_count(output)). */
double *nr_forward(const nr_net *net, const float *x, int batch);

/* The network's .xai text (malloc'd); weights "<weights_file>" only when some layer has parameters. */
char *nr_xai_text(const nr_net *net, const char *weights_file);
/* Writes every parameter as F32 safetensors (PyTorch state_dict names: LAYER.weight, .bias,
 * .running_mean, .running_var). Returns 0 on success. */
int nr_write_safetensors(const nr_net *net, const char *path);
int nr_has_params(const nr_net *net);
void nr_net_free(nr_net *net);

/* Compiles `text` (as if it were the file `path`) in-process at opt_level and returns the generated
 * NET_forward / NET_workspace_size. On failure returns non-zero and *msg holds the diagnostics or the
 * JIT's error (malloc'd). The JIT stays alive until nr_jit_close. */
typedef int (*nr_forward_fn)(const float *x, float *y, int32_t batch, void *ws);
typedef size_t (*nr_wsize_fn)(int32_t batch);
typedef struct nr_jit {
    void *jit; /* xai_jit * */
    nr_forward_fn forward;
    nr_wsize_fn workspace_size;
    const void *info; /* const xai_model_info * */
} nr_jit;
int nr_jit_open(nr_jit *j, const char *path, const char *text, const char *net_name, int opt_level, char **msg);
void nr_jit_close(nr_jit *j);

/* Runs the compiled forward on x (batch samples) into a fresh buffer (malloc'd, pre-filled with NaN so
 * unwritten outputs show). Returns the status of NET_forward. */
int nr_run(const nr_jit *j, const float *x, int batch, int64_t out_count, float **y);

/* max |got - ref| and max |ref| over n values; a NaN in got gives an infinite error. */
void nr_compare(const float *got, const double *ref, int64_t n, double *max_err, double *max_ref);

/* A small fixed-seed PRNG (splitmix64). */
typedef struct nr_rng {
    uint64_t s;
} nr_rng;
uint64_t nr_next(nr_rng *r);
int nr_int(nr_rng *r, int lo, int hi); /* uniform in [lo, hi] */
double nr_uniform(nr_rng *r, double lo, double hi);
#endif

/* ---- building networks by hand (parameters drawn from rng; args = the .xai text after the inputs) ---- */
int nr_input(nr_net *net, const char *name, int rank, int d0, int d1, int d2);
/* conv2d / maxpool / avgpool; same != 0 computes the TF SAME padding (pt..pr ignored) */
int nr_conv(nr_net *net, nr_rng *rng, int in, int filters, int kh, int kw, int sh, int sw, int pt, int pl, int pb,
            int pr, int same, int bias, const char *args);
int nr_pool(nr_net *net, nr_op op, int in, int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr, int same,
            const char *args);
int nr_dense(nr_net *net, nr_rng *rng, int in, int units, int bias, const char *args);
int nr_batchnorm(nr_net *net, nr_rng *rng, int in, double eps, const char *args);
/* relu, sigmoid, flatten, global_avgpool, softmax (in1 unused) and add */
int nr_simple(nr_net *net, nr_op op, int in0, int in1);
