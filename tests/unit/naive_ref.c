/* Naive forward reference + .xai / safetensors writers + in-process JIT helper (see naive_ref.h).
 * Included by the tests that use it (#include "naive_ref.c"). */
#include "naive_ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit.h"
#include "xairt.h"

/* ---------------------------------------------------------------- PRNG */
uint64_t nr_next(nr_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

int nr_int(nr_rng *r, int lo, int hi) { return lo + (int)(nr_next(r) % (uint64_t)(hi - lo + 1)); }

double nr_uniform(nr_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(nr_next(r) >> 11) / 9007199254740992.0);
}

/* ---------------------------------------------------------------- reference */
int64_t nr_count(const nr_layer *l)
{
    int64_t n = 1;
    for (int i = 0; i < l->rank; i++) n *= l->dims[i];
    return n;
}

void nr_same_pad(int in, int k, int s, int *lo, int *hi)
{
    int out = (in + s - 1) / s;
    int total = (out - 1) * s + k - in;
    if (total < 0) total = 0;
    *lo = total / 2;
    *hi = total - total / 2;
}

static void conv_ref(const nr_layer *l, const nr_layer *in, const double *x, double *y, int batch)
{
    int C = in->dims[0], H = in->dims[1], W = in->dims[2];
    int O = l->dims[0], OH = l->dims[1], OW = l->dims[2];
    for (int b = 0; b < batch; b++)
        for (int o = 0; o < O; o++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double s = l->b ? l->b[o] : 0.0;
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < l->kh; ky++)
                            for (int kx = 0; kx < l->kw; kx++) {
                                int iy = oy * l->sh - l->pt + ky, ix = ox * l->sw - l->pl + kx;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue; /* zero padding */
                                double wv = l->w[((o * C + c) * l->kh + ky) * l->kw + kx];
                                s += wv * x[((b * C + c) * H + iy) * W + ix];
                            }
                    y[((b * O + o) * OH + oy) * OW + ox] = s;
                }
}

static void pool_ref(const nr_layer *l, const nr_layer *in, const double *x, double *y, int batch)
{
    int C = in->dims[0], H = in->dims[1], W = in->dims[2];
    int OH = l->dims[1], OW = l->dims[2];
    for (int b = 0; b < batch; b++)
        for (int c = 0; c < C; c++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double sum = 0.0, best = -INFINITY;
                    int valid = 0;
                    for (int ky = 0; ky < l->kh; ky++)
                        for (int kx = 0; kx < l->kw; kx++) {
                            int iy = oy * l->sh - l->pt + ky, ix = ox * l->sw - l->pl + kx;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            double v = x[((b * C + c) * H + iy) * W + ix];
                            sum += v;
                            if (v > best) best = v;
                            valid++;
                        }
                    double out;
                    if (l->op == NR_MAXPOOL)
                        out = best; /* padding never wins */
                    else if (l->same)
                        out = sum / valid; /* TF: valid cells only */
                    else
                        out = sum / (l->kh * l->kw); /* count_include_pad=True */
                    y[((b * C + c) * OH + oy) * OW + ox] = out;
                }
}

double *nr_forward(const nr_net *net, const float *x, int batch)
{
    double **v = calloc(net->n, sizeof *v);
    for (int i = 0; i < net->n; i++) {
        const nr_layer *l = &net->L[i];
        int64_t n = nr_count(l);
        double *y = v[i] = malloc(sizeof(double) * n * batch);
        const nr_layer *in = i ? &net->L[l->in[0]] : NULL;
        const double *a = i ? v[l->in[0]] : NULL;
        int64_t nin = in ? nr_count(in) : 0;
        switch (l->op) {
        case NR_INPUT:
            for (int64_t k = 0; k < n * batch; k++) y[k] = x[k];
            break;
        case NR_DENSE:
            for (int b = 0; b < batch; b++)
                for (int o = 0; o < l->units; o++) {
                    double s = l->b ? l->b[o] : 0.0;
                    for (int64_t k = 0; k < nin; k++) s += (double)l->w[o * nin + k] * a[b * nin + k];
                    y[b * n + o] = s;
                }
            break;
        case NR_CONV: conv_ref(l, in, a, y, batch); break;
        case NR_MAXPOOL:
        case NR_AVGPOOL: pool_ref(l, in, a, y, batch); break;
        case NR_GAP: {
            int64_t hw = (int64_t)in->dims[1] * in->dims[2];
            for (int b = 0; b < batch; b++)
                for (int c = 0; c < in->dims[0]; c++) {
                    double s = 0;
                    for (int64_t k = 0; k < hw; k++) s += a[(b * in->dims[0] + c) * hw + k];
                    y[b * n + c] = s / hw;
                }
            break;
        }
        case NR_RELU:
            for (int64_t k = 0; k < n * batch; k++) y[k] = a[k] > 0 ? a[k] : 0.0;
            break;
        case NR_SIGMOID:
            for (int64_t k = 0; k < n * batch; k++) y[k] = 1.0 / (1.0 + exp(-a[k]));
            break;
        case NR_FLATTEN: /* channel-major = the NCHW memory order */
            for (int64_t k = 0; k < n * batch; k++) y[k] = a[k];
            break;
        case NR_BN: {
            int64_t per = n / l->dims[0];
            for (int b = 0; b < batch; b++)
                for (int c = 0; c < l->dims[0]; c++)
                    for (int64_t k = 0; k < per; k++) {
                        int64_t idx = (b * l->dims[0] + c) * per + k;
                        y[idx] = (a[idx] - l->mean[c]) / sqrt((double)l->var[c] + l->eps) * l->w[c] + l->b[c];
                    }
            break;
        }
        case NR_ADD:
            for (int64_t k = 0; k < n * batch; k++) y[k] = a[k] + v[l->in[1]][k];
            break;
        case NR_SOFTMAX:
            for (int b = 0; b < batch; b++) {
                double m = -INFINITY, s = 0;
                for (int64_t k = 0; k < n; k++)
                    if (a[b * n + k] > m) m = a[b * n + k];
                for (int64_t k = 0; k < n; k++) s += exp(a[b * n + k] - m);
                for (int64_t k = 0; k < n; k++) y[b * n + k] = exp(a[b * n + k] - m) / s;
            }
            break;
        }
    }
    double *out = v[net->output];
    for (int i = 0; i < net->n; i++)
        if (i != net->output) free(v[i]);
    free(v);
    return out;
}

/* ---------------------------------------------------------------- writers */
static const char *op_spelling(nr_op op)
{
    static const char *names[] = { "input", "dense",   "conv2d",  "maxpool",   "avgpool", "global_avgpool",
                                   "relu",  "sigmoid", "flatten", "batchnorm", "add",     "softmax" };
    return names[op];
}

int nr_has_params(const nr_net *net)
{
    for (int i = 0; i < net->n; i++)
        if (net->L[i].w) return 1;
    return 0;
}

char *nr_xai_text(const nr_net *net, const char *weights_file)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fprintf(f, "# random differential-test network\nnetwork %s {\n", net->name);
    if (nr_has_params(net)) fprintf(f, "    weights \"%s\";\n", weights_file);
    const nr_layer *x = &net->L[0];
    if (x->rank == 3)
        fprintf(f, "    input %s[%d, %d, %d];\n", x->name, x->dims[0], x->dims[1], x->dims[2]);
    else
        fprintf(f, "    input %s[%d];\n", x->name, x->dims[0]);
    for (int i = 1; i < net->n; i++) {
        const nr_layer *l = &net->L[i];
        fprintf(f, "    %s = %s(%s", l->name, op_spelling(l->op), net->L[l->in[0]].name);
        if (l->op == NR_ADD) fprintf(f, ", %s", net->L[l->in[1]].name);
        if (l->args[0]) fprintf(f, ", %s", l->args);
        if (l->rank == 3)
            fprintf(f, ");    # [%d, %d, %d]\n", l->dims[0], l->dims[1], l->dims[2]);
        else
            fprintf(f, ");    # [%d]\n", l->dims[0]);
    }
    fprintf(f, "    output %s;\n}\n", net->L[net->output].name);
    fclose(f);
    return text;
}

typedef struct st_entry {
    char name[48];
    const float *data;
    int64_t count;
    int rank;
    int64_t shape[4];
} st_entry;

int nr_write_safetensors(const nr_net *net, const char *path)
{
    st_entry e[4 * NR_MAX_LAYERS];
    int ne = 0;
    for (int i = 0; i < net->n; i++) {
        const nr_layer *l = &net->L[i];
        const nr_layer *in = &net->L[l->in[0]];
        if (!l->w) continue;
        if (l->op == NR_DENSE) {
            e[ne] = (st_entry){ .data = l->w, .count = l->wcount, .rank = 2, .shape = { l->units, nr_count(in) } };
            snprintf(e[ne++].name, 48, "%s.weight", l->name);
            if (l->b) {
                e[ne] = (st_entry){ .data = l->b, .count = l->units, .rank = 1, .shape = { l->units } };
                snprintf(e[ne++].name, 48, "%s.bias", l->name);
            }
        } else if (l->op == NR_CONV) {
            e[ne] = (st_entry){
                .data = l->w, .count = l->wcount, .rank = 4, .shape = { l->units, in->dims[0], l->kh, l->kw }
            };
            snprintf(e[ne++].name, 48, "%s.weight", l->name);
            if (l->b) {
                e[ne] = (st_entry){ .data = l->b, .count = l->units, .rank = 1, .shape = { l->units } };
                snprintf(e[ne++].name, 48, "%s.bias", l->name);
            }
        } else if (l->op == NR_BN) {
            const float *p[4] = { l->w, l->b, l->mean, l->var };
            const char *sfx[4] = { "weight", "bias", "running_mean", "running_var" };
            for (int k = 0; k < 4; k++) {
                e[ne] = (st_entry){ .data = p[k], .count = l->dims[0], .rank = 1, .shape = { l->dims[0] } };
                snprintf(e[ne++].name, 48, "%s.%s", l->name, sfx[k]);
            }
        }
    }
    char *hdr = NULL;
    size_t hlen = 0;
    FILE *h = open_memstream(&hdr, &hlen);
    fputc('{', h);
    uint64_t off = 0;
    for (int k = 0; k < ne; k++) {
        fprintf(h, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", k ? "," : "", e[k].name);
        for (int r = 0; r < e[k].rank; r++) fprintf(h, "%s%lld", r ? "," : "", (long long)e[k].shape[r]);
        uint64_t end = off + (uint64_t)e[k].count * 4;
        fprintf(h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)end);
        off = end;
    }
    fputc('}', h);
    while (ftell(h) % 8) fputc(' ', h); /* keeps the data section 8-byte aligned, as safetensors does */
    fclose(h);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(hdr);
        return 1;
    }
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)((uint64_t)hlen >> (8 * i)); /* little endian */
    int ok = fwrite(lenbuf, 1, 8, f) == 8 && fwrite(hdr, 1, hlen, f) == hlen;
    for (int k = 0; k < ne && ok; k++)
        for (int64_t i = 0; i < e[k].count && ok; i++) {
            uint32_t bits;
            memcpy(&bits, &e[k].data[i], 4);
            unsigned char le[4] = { bits & 0xff, (bits >> 8) & 0xff, (bits >> 16) & 0xff, bits >> 24 };
            ok = fwrite(le, 1, 4, f) == 4;
        }
    ok &= fclose(f) == 0;
    free(hdr);
    return !ok;
}

void nr_net_free(nr_net *net)
{
    for (int i = 0; i < net->n; i++) {
        free(net->L[i].w);
        free(net->L[i].b);
        free(net->L[i].mean);
        free(net->L[i].var);
        net->L[i].w = net->L[i].b = net->L[i].mean = net->L[i].var = NULL;
    }
}

/* ---------------------------------------------------------------- JIT */
/* Code generation options of nr_jit_open (NULL: the defaults, as `xaic run`). */
static const cg_options *nr_jit_options;

/* Analyses text, generates its unoptimised module with opt and calls inspect(module, ctx): tests that look at
 * the generated code. Returns 0, or -1 with *msg (malloc'd) when the text does not compile. */
int nr_with_module(const char *path, const char *text, const cg_options *opt, void (*inspect)(LLVMModuleRef, void *),
                   void *ctx, char **msg)
{
    *msg = NULL;
    xai_diag d;
    FILE *null = fopen("/dev/null", "w");
    diag_init(&d, null);
    compilation c;
    int rc = driver_analyse_text(&c, &d, path, text);
    if (rc) {
        *msg = strdup("analysis failed");
    } else {
        LLVMContextRef llvm = LLVMContextCreate();
        target_options t = { .opt_level = 0 };
        char *err = NULL;
        rc = driver_codegen(&c, llvm, &t, opt, &err);
        if (rc)
            *msg = err ? err : strdup("code generation failed");
        else
            inspect(c.mod, ctx);
        LLVMDisposeModule(c.mod);
        c.mod = NULL;
        LLVMContextDispose(llvm);
    }
    driver_free(&c);
    diag_free(&d);
    fclose(null);
    return rc ? -1 : 0;
}

/* Analyses text and compiles it with the JIT at -O2 with opt; NULL with *msg (malloc'd) on failure. */
xai_jit *nr_jit_compile(const char *path, const char *text, const cg_options *opt, char **msg)
{
    *msg = NULL;
    char *dbuf = NULL, *err = NULL;
    size_t dlen = 0;
    FILE *ms = open_memstream(&dbuf, &dlen);
    xai_diag d;
    diag_init(&d, ms);
    compilation c;
    xai_jit *jit = NULL;
    int rc = driver_analyse_text(&c, &d, path, text);
    fflush(ms);
    if (rc) {
        if (asprintf(msg, "analysis failed:\n%s\n%s", dbuf ? dbuf : "", text) < 0) *msg = NULL;
    } else if (!(jit = jit_create_opts(&c, 2, opt, &err))) {
        if (asprintf(msg, "jit: %s", err ? err : "?") < 0) *msg = NULL;
    }
    free(err);
    driver_free(&c);
    diag_free(&d);
    fclose(ms);
    free(dbuf);
    return jit;
}

/* NET_WHAT of a compiled program, or NULL */
void *nr_symbol(xai_jit *j, const char *net, const char *what)
{
    char sym[256];
    snprintf(sym, sizeof sym, "%s_%s", net, what);
    return jit_lookup(j, sym);
}

/* a 64-byte aligned workspace of at least `bytes` (free() it), or NULL */
void *nr_workspace(size_t bytes)
{
    void *ws = NULL;
    return posix_memalign(&ws, 64, (bytes + 63) / 64 * 64 + 64) ? NULL : ws;
}

/* A compiled program's network NET: NET_forward, NET_workspace_size and one explanation entry NET_E. */
typedef int (*nr_entry_fn)(const float *x, const int32_t *target, float *out, int32_t batch, void *ws);
typedef struct nr_program {
    xai_jit *jit;
    nr_forward_fn forward;
    nr_wsize_fn workspace_size;
    nr_entry_fn entry;
} nr_program;

/* nr_jit_compile with the default options, then the three functions of network net (entry E). Returns 0, or -1 with
 * *msg (malloc'd). Free with jit_free(p->jit). */
int nr_program_open(nr_program *p, const char *path, const char *text, const char *net, const char *entry, char **msg)
{
    cg_options opt = { 0 };
    memset(p, 0, sizeof *p);
    p->jit = nr_jit_compile(path, text, &opt, msg);
    if (!p->jit) return -1;
    char sym[256];
    snprintf(sym, sizeof sym, "%s_forward", net);
    p->forward = (nr_forward_fn)jit_lookup(p->jit, sym);
    snprintf(sym, sizeof sym, "%s_workspace_size", net);
    p->workspace_size = (nr_wsize_fn)jit_lookup(p->jit, sym);
    snprintf(sym, sizeof sym, "%s_%s", net, entry);
    p->entry = (nr_entry_fn)jit_lookup(p->jit, sym);
    if (p->forward && p->workspace_size && p->entry) return 0;
    *msg = strdup("a generated function is missing");
    jit_free(p->jit);
    p->jit = NULL;
    return -1;
}

/* A compiled program's explanations NET_grad and NET_lrp (tests of one layer's backward kernels). */
typedef struct nr_grad_lrp {
    xai_jit *jit;
    nr_wsize_fn workspace_size;
    nr_entry_fn grad, lrp;
} nr_grad_lrp;

/* nr_jit_compile with opt, then the two entries of network net. Returns 0, or -1 with *msg (malloc'd). Free with
 * jit_free(m->jit). */
int nr_grad_lrp_open(nr_grad_lrp *m, const char *path, const char *text, const char *net, const cg_options *opt,
                     char **msg)
{
    memset(m, 0, sizeof *m);
    m->jit = nr_jit_compile(path, text, opt, msg);
    if (!m->jit) return -1;
    m->workspace_size = (nr_wsize_fn)nr_symbol(m->jit, net, "workspace_size");
    m->grad = (nr_entry_fn)nr_symbol(m->jit, net, "grad");
    m->lrp = (nr_entry_fn)nr_symbol(m->jit, net, "lrp");
    if (m->workspace_size && m->grad && m->lrp) return 0;
    *msg = strdup("a generated function is missing");
    jit_free(m->jit);
    m->jit = NULL;
    return -1;
}

/* The gradient then the LRP relevance of every sample of x (batch <= 3, targets 2, 0, 1): malloc'd, 2 x batch x
 * in_n floats; NULL if an entry fails. */
float *nr_grad_lrp_run(const nr_grad_lrp *m, const float *x, int batch, int64_t in_n)
{
    float *r = malloc(sizeof(float) * 2 * batch * in_n);
    void *ws = nr_workspace(m->workspace_size(batch));
    int32_t target[3] = { 2, 0, 1 };
    int ok = r && ws && batch <= 3 && m->grad(x, target, r, batch, ws) == 0 &&
        m->lrp(x, target, r + batch * in_n, batch, ws) == 0;
    free(ws);
    if (!ok) free(r);
    return ok ? r : NULL;
}

int nr_jit_open(nr_jit *j, const char *path, const char *text, const char *net_name, int opt_level, char **msg)
{
    memset(j, 0, sizeof *j);
    *msg = NULL;
    char *dbuf = NULL;
    size_t dlen = 0;
    FILE *ms = open_memstream(&dbuf, &dlen);
    xai_diag d;
    diag_init(&d, ms);
    compilation c;
    int rc = driver_analyse_text(&c, &d, path, text);
    fflush(ms);
    if (rc) {
        if (asprintf(msg, "analysis failed (%d errors):\n%s", d.errors, dbuf ? dbuf : "") < 0) *msg = NULL;
        driver_free(&c);
        diag_free(&d);
        fclose(ms);
        free(dbuf);
        return 1;
    }
    char *err = NULL;
    xai_jit *jit =
        nr_jit_options ? jit_create_opts(&c, opt_level, nr_jit_options, &err) : jit_create(&c, opt_level, &err);
    fflush(ms);
    if (!jit) {
        if (asprintf(msg, "jit_create -O%d failed: %s\n%s", opt_level, err ? err : "(no message)", dbuf ? dbuf : "") <
            0)
            *msg = NULL;
        free(err);
        driver_free(&c);
        diag_free(&d);
        fclose(ms);
        free(dbuf);
        return 1;
    }
    char sym[128];
    snprintf(sym, sizeof sym, "%s_forward", net_name);
    j->forward = (nr_forward_fn)jit_lookup(jit, sym);
    snprintf(sym, sizeof sym, "%s_workspace_size", net_name);
    j->workspace_size = (nr_wsize_fn)jit_lookup(jit, sym);
    snprintf(sym, sizeof sym, "%s_info", net_name);
    j->info = jit_lookup(jit, sym);
    j->jit = jit;
    driver_free(&c);
    diag_free(&d);
    fclose(ms);
    free(dbuf);
    if (!j->forward || !j->workspace_size || !j->info) {
        if (asprintf(msg, "missing symbol: forward %p, workspace_size %p, info %p", (void *)j->forward,
                     (void *)j->workspace_size, j->info) < 0)
            *msg = NULL;
        return 1;
    }
    return 0;
}

void nr_jit_close(nr_jit *j)
{
    if (j->jit) jit_free(j->jit);
    memset(j, 0, sizeof *j);
}

int nr_run(const nr_jit *j, const float *x, int batch, int64_t out_count, float **y)
{
    size_t ws_size = j->workspace_size(batch);
    void *ws = NULL;
    if (posix_memalign(&ws, 64, ws_size ? (ws_size + 63) / 64 * 64 : 64)) abort();
    *y = malloc(sizeof(float) * out_count * batch);
    for (int64_t k = 0; k < out_count * batch; k++) (*y)[k] = NAN;
    int status = j->forward(x, *y, batch, ws);
    free(ws);
    return status;
}

void nr_compare(const float *got, const double *ref, int64_t n, double *max_err, double *max_ref)
{
    *max_err = 0;
    *max_ref = 0;
    for (int64_t k = 0; k < n; k++) {
        double e = fabs((double)got[k] - ref[k]);
        if (isnan(got[k])) e = INFINITY;
        if (e > *max_err) *max_err = e;
        if (fabs(ref[k]) > *max_ref) *max_ref = fabs(ref[k]);
    }
}

/* ---------------------------------------------------------------- building by hand */
static int nr_push(nr_net *net, nr_op op, int in0, int in1, const char *args)
{
    if (net->n >= NR_MAX_LAYERS) abort();
    int i = net->n++;
    nr_layer *l = &net->L[i];
    memset(l, 0, sizeof *l);
    l->op = op;
    l->in[0] = in0;
    l->in[1] = in1;
    snprintf(l->name, sizeof l->name, "l%d", i);
    l->rank = net->L[in0].rank;
    memcpy(l->dims, net->L[in0].dims, sizeof l->dims);
    snprintf(l->args, sizeof l->args, "%s", args ? args : "");
    net->output = i;
    return i;
}

static float *nr_rand(nr_rng *rng, int64_t n, double lo, double hi)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (int64_t i = 0; i < n; i++) p[i] = (float)nr_uniform(rng, lo, hi);
    return p;
}

int nr_input(nr_net *net, const char *name, int rank, int d0, int d1, int d2)
{
    memset(net, 0, sizeof *net);
    snprintf(net->name, sizeof net->name, "net");
    nr_layer *x = &net->L[net->n++];
    x->op = NR_INPUT;
    snprintf(x->name, sizeof x->name, "%s", name);
    x->rank = rank;
    x->dims[0] = d0;
    x->dims[1] = d1;
    x->dims[2] = d2;
    return 0;
}

static void nr_window(nr_layer *l, const nr_layer *a, int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr,
                      int same)
{
    int H = a->dims[1], W = a->dims[2];
    l->kh = kh;
    l->kw = kw;
    l->sh = sh;
    l->sw = sw;
    l->same = same;
    if (same) {
        nr_same_pad(H, kh, sh, &pt, &pb);
        nr_same_pad(W, kw, sw, &pl, &pr);
        l->dims[1] = (H + sh - 1) / sh;
        l->dims[2] = (W + sw - 1) / sw;
    } else {
        l->dims[1] = (H + pt + pb - kh) / sh + 1;
        l->dims[2] = (W + pl + pr - kw) / sw + 1;
    }
    l->pt = pt;
    l->pl = pl;
    l->pb = pb;
    l->pr = pr;
}

int nr_conv(nr_net *net, nr_rng *rng, int in, int filters, int kh, int kw, int sh, int sw, int pt, int pl, int pb,
            int pr, int same, int bias, const char *args)
{
    int i = nr_push(net, NR_CONV, in, 0, args);
    nr_layer *l = &net->L[i];
    const nr_layer *a = &net->L[in];
    nr_window(l, a, kh, kw, sh, sw, pt, pl, pb, pr, same);
    l->units = filters;
    l->dims[0] = filters;
    l->wcount = (int64_t)filters * a->dims[0] * kh * kw;
    double s = 1.7 / sqrt((double)a->dims[0] * kh * kw);
    l->w = nr_rand(rng, l->wcount, -s, s);
    if (bias) l->b = nr_rand(rng, filters, -0.5, 0.5);
    return i;
}

int nr_pool(nr_net *net, nr_op op, int in, int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr, int same,
            const char *args)
{
    int i = nr_push(net, op, in, 0, args);
    nr_window(&net->L[i], &net->L[in], kh, kw, sh, sw, pt, pl, pb, pr, same);
    return i;
}

int nr_dense(nr_net *net, nr_rng *rng, int in, int units, int bias, const char *args)
{
    int i = nr_push(net, NR_DENSE, in, 0, args);
    nr_layer *l = &net->L[i];
    int64_t fan_in = nr_count(&net->L[in]);
    l->units = units;
    l->rank = 1;
    l->dims[0] = units;
    l->wcount = units * fan_in;
    double s = 1.7 / sqrt((double)fan_in);
    l->w = nr_rand(rng, l->wcount, -s, s);
    if (bias) l->b = nr_rand(rng, units, -0.5, 0.5);
    return i;
}

int nr_batchnorm(nr_net *net, nr_rng *rng, int in, double eps, const char *args)
{
    int i = nr_push(net, NR_BN, in, 0, args);
    nr_layer *l = &net->L[i];
    int c = l->dims[0];
    l->w = nr_rand(rng, c, -1.5, 1.5);
    l->b = nr_rand(rng, c, -0.5, 0.5);
    l->mean = nr_rand(rng, c, -0.5, 0.5);
    l->var = nr_rand(rng, c, 0.2, 2.0);
    l->eps = eps;
    return i;
}

int nr_simple(nr_net *net, nr_op op, int in0, int in1)
{
    int i = nr_push(net, op, in0, in1, "");
    nr_layer *l = &net->L[i];
    if (op == NR_FLATTEN) {
        l->dims[0] = (int)nr_count(&net->L[in0]);
        l->rank = 1;
    } else if (op == NR_GAP) {
        l->rank = 1;
    }
    return i;
}
