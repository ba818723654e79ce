/* Writing the result: the .xai text (one line per layer, in the syntax of docs/ops_v2: arguments at
 * their defaults are left out, parameters named by `from "prefix"` when their names allow it, else
 * explicitly), the safetensors image of exactly the tensors it names, and the node map. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"
#include "xairt.h"

/* The shortest decimal that reads back as the same float. */
static void fmt_float(char *buf, size_t len, double v)
{
    float f = (float)v;
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, len, "%.*g", p, (double)f);
        if ((float)strtod(buf, NULL) == f) return;
    }
}

static int put_string(imp *im, FILE *o, const char *s)
{
    fputc('"', o);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(o, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", o);
        else if (*p == '\t')
            fputs("\\t", o);
        else if (*p < 0x20 || *p == 0x7f)
            return imp_fail(im,
                            "%s: the name '%.100s' holds control characters, which a "
                            ".xai string cannot",
                            im->label, s);
        else
            fputc(*p, o);
    }
    fputc('"', o);
    return 0;
}

/* K or [a, b] */
static void put_pair(FILE *o, const int64_t v[2])
{
    if (v[0] == v[1])
        fprintf(o, "%lld", (long long)v[0]);
    else
        fprintf(o, "[%lld, %lld]", (long long)v[0], (long long)v[1]);
}

static void put_pad(FILE *o, const int64_t p[4])
{
    if (p[0] == p[1] && p[1] == p[2] && p[2] == p[3])
        fprintf(o, ", pad=%lld", (long long)p[0]);
    else if (p[0] == p[2] && p[1] == p[3])
        fprintf(o, ", pad=[%lld, %lld]", (long long)p[0], (long long)p[1]);
    else
        fprintf(o, ", pad=[%lld, %lld, %lld, %lld]", (long long)p[0], (long long)p[1], (long long)p[2],
                (long long)p[3]);
}

static const char *const param_keys[N_PARAMS] = { "weight", "bias", "running_mean", "running_var" };

/* Inside the call: explicit tensor names (or bias=false); *prefix receives the `from` prefix when every
 * tensor is <prefix>.<key> (NULL: none needed or explicit names written). */
static int put_params(imp *im, FILE *o, const layer *L, int n, char **prefix)
{
    *prefix = NULL;
    const char *w = L->param[P_WEIGHT]->store_name;
    size_t wl = strlen(w);
    int by_prefix = wl > 7 && !strcmp(w + wl - 7, ".weight");
    size_t pl = wl - 7;
    for (int k = 1; by_prefix && k < n; k++) {
        const char *s = L->param[k] ? L->param[k]->store_name : NULL;
        by_prefix = !s ||
            (strlen(s) == pl + 1 + strlen(param_keys[k]) && !strncmp(s, w, pl) && s[pl] == '.' &&
             !strcmp(s + pl + 1, param_keys[k]));
    }
    if (by_prefix) {
        if (!L->param[P_BIAS] && n == 2) fputs(", bias=false", o);
        if (pl != strlen(L->name) || strncmp(w, L->name, pl)) {
            if (!(*prefix = strndup(w, pl))) return imp_fail(im, "out of memory");
        }
        return 0;
    }
    for (int k = 0; k < n; k++) {
        fprintf(o, ", %s=", param_keys[k]);
        if (!L->param[k])
            fputs("false", o);
        else if (put_string(im, o, L->param[k]->store_name))
            return -1;
    }
    return 0;
}

static const char *op_word(layer_op op)
{
    static const char *w[] = { "input",     "conv2d",   "dense",      "maxpool", "avgpool",   "global_avgpool",
                               "relu",      "sigmoid",  "tanh",       "silu",    "hardswish", "hardsigmoid",
                               "clamp",     "elu",      "leaky_relu", "flatten", "reshape",   "transpose",
                               "concat",    "slice",    "add",        "sub",     "mul",       "div",
                               "batchnorm", "softmax",  "gelu",       "erf",     "gelu2",     "matmul",
                               "parameter", "layernorm" };
    return w[op];
}

static void put_list(FILE *o, const int64_t *v, int n)
{
    fputc('[', o);
    for (int k = 0; k < n; k++) fprintf(o, "%s%lld", k ? ", " : "", (long long)v[k]);
    fputc(']', o);
}

static int put_layer(imp *im, FILE *o, const layer *L)
{
    const char *in = L->n_in ? im->layers[L->in[0]].name : "";
    char num[40], *prefix = NULL;
    fprintf(o, "    %s = %s(", L->name, op_word(L->op));
    switch (L->op) {
    case L_CONV:
        fprintf(o, "%s, %lld, kernel=", in, (long long)L->units);
        put_pair(o, L->kernel);
        if (L->stride[0] != 1 || L->stride[1] != 1) {
            fputs(", stride=", o);
            put_pair(o, L->stride);
        }
        if (L->pad[0] || L->pad[1] || L->pad[2] || L->pad[3]) put_pad(o, L->pad);
        if (L->groups != 1) fprintf(o, ", groups=%lld", (long long)L->groups);
        if (L->dilation[0] != 1 || L->dilation[1] != 1) {
            fputs(", dilation=", o);
            put_pair(o, L->dilation);
        }
        if (put_params(im, o, L, 2, &prefix)) return -1;
        break;
    case L_DENSE:
        fprintf(o, "%s, %lld", in, (long long)L->units);
        if (put_params(im, o, L, 2, &prefix)) return -1;
        break;
    case L_MAXPOOL:
    case L_AVGPOOL:
        fprintf(o, "%s, ", in);
        put_pair(o, L->kernel);
        if (L->stride[0] != L->kernel[0] || L->stride[1] != L->kernel[1]) {
            fputs(", stride=", o);
            put_pair(o, L->stride);
        }
        int padded = L->pad[0] || L->pad[1] || L->pad[2] || L->pad[3];
        if (padded) put_pad(o, L->pad);
        if (L->ceil_mode) fputs(", ceil_mode=true", o);
        if (L->op == L_MAXPOOL && (L->dilation[0] != 1 || L->dilation[1] != 1)) {
            fputs(", dilation=", o);
            put_pair(o, L->dilation);
        }
        if (L->op == L_AVGPOOL && padded && !L->count_include_pad) fputs(", count_include_pad=false", o);
        break;
    case L_GAP: fprintf(o, "%s%s", in, L->keepdims ? ", keepdims=true" : ""); break;
    case L_HARDSIGMOID:
        fputs(in, o);
        if (fabs(L->alpha - 1.0 / 6) > 1e-7 || L->beta != 0.5) {
            fmt_float(num, sizeof num, L->alpha);
            fprintf(o, ", alpha=%s", num);
            fmt_float(num, sizeof num, L->beta);
            fprintf(o, ", beta=%s", num);
        }
        break;
    case L_CLAMP:
        fputs(in, o);
        if (L->has_min) {
            fmt_float(num, sizeof num, L->min);
            fprintf(o, ", min=%s", num);
        }
        if (L->has_max) {
            fmt_float(num, sizeof num, L->max);
            fprintf(o, ", max=%s", num);
        }
        break;
    case L_ELU:
    case L_LEAKY_RELU:
        fputs(in, o);
        if ((float)L->alpha != (L->op == L_ELU ? 1.0f : 0.01f)) {
            fmt_float(num, sizeof num, L->alpha);
            fprintf(o, ", %s=%s", L->op == L_ELU ? "alpha" : "slope", num);
        }
        break;
    case L_RESHAPE:
    case L_TRANSPOSE:
        fprintf(o, "%s, ", in);
        put_list(o, L->list, L->rank);
        break;
    case L_CONCAT:
        fputc('[', o);
        for (int k = 0; k < L->n_in; k++) fprintf(o, "%s%s", k ? ", " : "", im->layers[L->in[k]].name);
        fputc(']', o);
        if (L->axis) fprintf(o, ", axis=%lld", (long long)L->axis);
        break;
    case L_PARAMETER:
        put_list(o, L->shape, L->rank);
        fputs(", weight=", o);
        if (put_string(im, o, L->param[P_WEIGHT]->store_name)) return -1;
        break;
    case L_MATMUL: fprintf(o, "%s, %s", in, im->layers[L->in[1]].name); break;
    case L_GELU:
        fputs(in, o);
        if (L->approximate) fputs(", approximate=tanh", o);
        break;
    case L_SOFTMAX:
        fputs(in, o);
        if (L->axis >= 0) fprintf(o, ", axis=%lld", (long long)L->axis);
        break;
    case L_SLICE:
        fprintf(o, "%s, axis=%lld, start=%lld, end=%lld", in, (long long)L->axis, (long long)L->start,
                (long long)L->end);
        if (L->step != 1) fprintf(o, ", step=%lld", (long long)L->step);
        break;
    case L_ADD:
    case L_SUB:
    case L_MUL:
    case L_DIV:
        fmt_float(num, sizeof num, L->number);
        if (L->number_side == 1)
            fprintf(o, "%s, %s", in, num);
        else if (L->number_side == 2)
            fprintf(o, "%s, %s", num, in);
        else
            fprintf(o, "%s, %s", in, im->layers[L->in[1]].name);
        break;
    case L_BATCHNORM:
        fputs(in, o);
        if ((float)L->eps != 1e-5f) {
            fmt_float(num, sizeof num, L->eps);
            fprintf(o, ", eps=%s", num);
        }
        if (put_params(im, o, L, 4, &prefix)) return -1;
        break;
    case L_LAYERNORM:
        fputs(in, o);
        if ((float)L->eps != 1e-5f) {
            fmt_float(num, sizeof num, L->eps);
            fprintf(o, ", eps=%s", num);
        }
        if (!L->param[P_WEIGHT])
            fputs(", weight=false", o);
        else if (put_params(im, o, L, 2, &prefix))
            return -1;
        break;
    default: fputs(in, o); break; /* relu, sigmoid, tanh, silu, hardswish, flatten */
    }
    fputc(')', o);
    int rc = 0;
    if (prefix) {
        fputs(" from ", o);
        rc = put_string(im, o, prefix);
        free(prefix);
    }
    fputs(";\n", o);
    return rc;
}

/* Gives every tensor a live layer reads a distinct name (two different tensors that would share a
 * derived name get a suffix); returns the list in *out (n tensors). */
static int collect_tensors(imp *im, ctensor ***out, int *n_out)
{
    str_map seen = { 0 };
    int n = 0, cap = 0;
    ctensor **list = NULL;
    for (int l = 0; l < im->n_layers; l++) {
        layer *L = &im->layers[l];
        for (int k = 0; L->live && k < N_PARAMS; k++) {
            ctensor *c = L->param[k];
            if (!c) continue;
            int at = str_map_get(&seen, c->store_name);
            for (int suffix = 2; at >= 0 && list[at] != c; suffix++) {
                const ctensor *o = list[at];
                if (o->count == c->count && o->rank == c->rank && !memcmp(o->dims, c->dims, sizeof c->dims) &&
                    !memcmp(o->f, c->f, (size_t)c->count * sizeof *c->f)) {
                    L->param[k] = c = list[at];
                    break;
                }
                size_t len = strlen(c->store_name) + 16;
                char *name = malloc(len);
                if (!name) goto oom;
                snprintf(name, len, "%s~%d", list[at]->store_name, suffix);
                free(c->store_name);
                c->store_name = name;
                at = str_map_get(&seen, name);
            }
            if (at >= 0) continue;
            if (n == cap) {
                ctensor **g = realloc(list, (size_t)(cap = cap ? cap * 2 : 64) * sizeof *g);
                if (!g) goto oom;
                list = g;
            }
            if (str_map_put(&seen, c->store_name, n)) goto oom;
            list[n++] = c;
        }
    }
    str_map_free(&seen);
    *out = list;
    *n_out = n;
    return 0;
oom:
    str_map_free(&seen);
    free(list);
    return imp_fail(im, "out of memory");
}

static void put_comment_text(FILE *o, const char *s)
{
    for (; s && *s; s++) fputc((unsigned char)*s < 0x20 ? ' ' : *s, o);
}

int emit_xai(imp *im, const char *net_name, const char *weights_file, char **text, size_t *len)
{
    *text = NULL;
    ctensor **list;
    int n_tensors, n_layers = 0, rc = 0;
    if (collect_tensors(im, &list, &n_tensors)) return -1;
    free(list);
    FILE *o = open_memstream(text, len);
    if (!o) return imp_fail(im, "out of memory");
    const Onnx__ModelProto *m = im->model;
    for (int l = 1; l < im->n_layers; l++) n_layers += im->layers[l].live;
    fputs("# Imported from ONNX by xaic import: ", o);
    put_comment_text(o, im->label);
    fputs("\n# producer: ", o);
    put_comment_text(o, m->producer_name && m->producer_name[0] ? m->producer_name : "(unknown)");
    fputc(' ', o);
    put_comment_text(o, m->producer_version);
    fprintf(o, ", IR version %lld, opset %lld\n", (long long)m->ir_version, (long long)im->opset);
    if (im->opt->command_line) {
        fputs("# command: ", o);
        put_comment_text(o, im->opt->command_line);
        fputc('\n', o);
    }
    fprintf(o, "# %d layers from %zu ONNX nodes, %d parameter tensors\n", n_layers, im->graph->n_node, n_tensors);
    fprintf(o, "network %s {\n    weights ", net_name);
    rc = put_string(im, o, weights_file);
    const layer *in = &im->layers[0];
    fprintf(o, ";\n    input %s", in->name);
    put_list(o, in->shape, in->rank);
    if (im->opt->has_input_range) {
        char lo[40], hi[40];
        for (int p = 1; p <= 17; p++) {
            snprintf(lo, sizeof lo, "%.*g", p, im->opt->input_low);
            if (strtod(lo, NULL) == im->opt->input_low) break;
        }
        for (int p = 1; p <= 17; p++) {
            snprintf(hi, sizeof hi, "%.*g", p, im->opt->input_high);
            if (strtod(hi, NULL) == im->opt->input_high) break;
        }
        fprintf(o, " range [%s, %s]", lo, hi);
    }
    fputs(";\n", o);
    for (int l = 1; !rc && l < im->n_layers; l++)
        if (im->layers[l].live) rc = put_layer(im, o, &im->layers[l]);
    fprintf(o, "    output %s;\n}\n", im->layers[im->output_layer].name);
    if (fclose(o) || rc) {
        free(*text);
        *text = NULL;
        return rc ? -1 : imp_fail(im, "out of memory");
    }
    return 0;
}

int emit_weights(imp *im, const char *path, unsigned char **bytes, size_t *len)
{
    ctensor **list;
    int n;
    if (collect_tensors(im, &list, &n)) return -1;
    xai_st_entry *e = calloc(n ? (size_t)n : 1, sizeof *e);
    if (!e) {
        free(list);
        return imp_fail(im, "out of memory");
    }
    for (int k = 0; k < n; k++) {
        e[k].name = list[k]->store_name;
        e[k].dtype = XAI_DT_F32;
        e[k].rank = list[k]->rank;
        memcpy(e[k].shape, list[k]->dims, (size_t)list[k]->rank * sizeof *list[k]->dims);
        e[k].data = list[k]->f;
    }
    static const char *const meta[] = { "format", "pt", "producer", "xaic import", NULL };
    int rc = path ? xai_safetensors_write(path, e, n, meta, im->err, im->errlen)
                  : xai_safetensors_serialize(e, n, meta, bytes, len, im->err, im->errlen);
    free(e);
    free(list);
    if (rc) im->failed = 1;
    return rc ? -1 : 0;
}

int emit_node_map(imp *im, char **text)
{
    size_t len;
    FILE *o = open_memstream(text, &len);
    if (!o) return imp_fail(im, "out of memory");
    static const char *kinds[] = { "unused", "layer", "merged", "alias", "folded" };
    for (int n = 0; n < (int)im->graph->n_node; n++) {
        const Onnx__NodeProto *nd = node_at(im, n);
        const node_fate *f = &im->fates[n];
        int live = f->layer >= 0 && f->kind != F_FOLDED && f->kind != F_NONE && im->layers[f->layer].live;
        fprintf(o, "%d\t", n);
        put_comment_text(o, nd->name);
        fprintf(o, "\t%s\t%s\t%s\t", nd->op_type,
                f->kind == F_FOLDED ? "folded"
                    : live          ? kinds[f->kind]
                                    : "unused",
                live ? im->layers[f->layer].name : "-");
        if (f->rank) {
            fputc('[', o);
            for (int k = 0; k < f->rank; k++) fprintf(o, "%s%lld", k ? "," : "", (long long)f->shape[k]);
            fputs("]\n", o);
        } else {
            fputs("-\n", o);
        }
    }
    if (fclose(o)) {
        free(*text);
        *text = NULL;
        return imp_fail(im, "out of memory");
    }
    return 0;
}
