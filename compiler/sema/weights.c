/* Parameters from safetensors: lookup by state_dict name, dtype conversion, shape checks. */
#include "weights.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int weights_open(xai_diag *d, xai_loc loc, const char *path, weights_file *wf)
{
    char err[512];
    memset(wf, 0, sizeof *wf);
    wf->path = strdup(path);
    wf->loc = loc;
    if (policy_check_read(path, err, sizeof err)) {
        diag_error(d, loc, "cannot load weights '%s': %s", path, err);
        return 0;
    }
    if (xai_safetensors_open(path, &wf->st, err, sizeof err) != XAI_OK) {
        diag_error(d, loc, "cannot load weights: %s", err);
        return 0;
    }
    wf->used = calloc((size_t)wf->st.n_tensors + 1, 1);
    if (!wf->used) {
        xai_safetensors_close(&wf->st);
        diag_error(d, loc, "out of memory reading '%s'", path);
        return 0;
    }
    wf->ok = 1;
    return 1;
}

void weights_close(weights_file *wf)
{
    if (wf->ok) xai_safetensors_close(&wf->st);
    free(wf->used);
    free(wf->path);
    memset(wf, 0, sizeof *wf);
}

static const char *shape_text(int rank, const int64_t *shape, char *buf, size_t len)
{
    size_t used = snprintf(buf, len, "[");
    for (int i = 0; i < rank && used < len; i++)
        used += snprintf(buf + used, len - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < len) snprintf(buf + used, len - used, "]");
    return buf;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0)
            bits = sign;
        else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31)
        bits = sign | 0x7f800000u | (man << 13);
    else
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Lists up to a few tensor names sharing the prefix before the last '.', to help fix a typo. */
static void suggest_names(const weights_file *wf, const char *name, char *buf, size_t len)
{
    const char *dot = strrchr(name, '.');
    size_t plen = dot ? (size_t)(dot - name) : strlen(name);
    size_t used = 0;
    int shown = 0;
    buf[0] = 0;
    for (int i = 0; i < wf->st.n_tensors && shown < 6; i++) {
        const char *t = wf->st.tensors[i].name;
        if (strncmp(t, name, plen) == 0 || !dot) {
            used += snprintf(buf + used, len - used, "%s'%s'", shown ? ", " : "", t);
            shown++;
            if (used >= len) break;
        }
    }
    if (!shown)
        for (int i = 0; i < wf->st.n_tensors && shown < 6 && used < len; i++, shown++)
            used += snprintf(buf + used, len - used, "%s'%s'", shown ? ", " : "", wf->st.tensors[i].name);
}

ir_const *weights_fetch(xai_diag *d, xai_loc loc, weights_file *wf, ir_graph *g, const char *name, int rank,
                        const int64_t *shape, const char *layer)
{
    char want[96], have[96];
    if (!wf->ok) return NULL; /* already reported when opening */
    const xai_st_tensor *t = xai_safetensors_find(&wf->st, name);
    if (!t) {
        char names[400];
        suggest_names(wf, name, names, sizeof names);
        diag_error(d, loc, "layer '%s' needs tensor '%s' %s, which is not in '%s'%s%s%s", layer, name,
                   shape_text(rank, shape, want, sizeof want), wf->path, names[0] ? " (it has " : "", names,
                   names[0] ? "; use `from \"prefix\"` if the names differ)" : "");
        return NULL;
    }
    wf->used[t - wf->st.tensors] = 1; /* even if unusable below: that error names it already */
    int same = t->rank == rank;
    for (int i = 0; same && i < rank; i++) same = t->shape[i] == shape[i];
    if (!same) {
        diag_error(d, loc, "tensor '%s' in '%s' has shape %s, but layer '%s' needs %s", name, wf->path,
                   shape_text(t->rank, t->shape, have, sizeof have), layer, shape_text(rank, shape, want, sizeof want));
        return NULL;
    }
    if (t->dtype != XAI_DT_F32 && t->dtype != XAI_DT_F64 && t->dtype != XAI_DT_F16 && t->dtype != XAI_DT_BF16) {
        diag_error(d, loc, "tensor '%s' in '%s' has dtype %s; weights must be F32 (or F64, F16, BF16, converted)", name,
                   wf->path, t->dtype_name);
        return NULL;
    }
    ir_const *c = ir_graph_new_const(g, name, rank, shape);
    if (!c) {
        diag_error(d, loc, "out of memory reading '%s'", name);
        return NULL;
    }
    const unsigned char *p = t->data;
    for (int64_t i = 0; i < c->count; i++) {
        switch (t->dtype) {
        case XAI_DT_F32: memcpy(&c->data[i], p + 4 * i, 4); break;
        case XAI_DT_F64: {
            double v;
            memcpy(&v, p + 8 * i, 8);
            c->data[i] = (float)v;
            break;
        }
        case XAI_DT_F16: {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            c->data[i] = half_to_float(h);
            break;
        }
        case XAI_DT_BF16: {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&c->data[i], &bits, 4);
            break;
        }
        default: break;
        }
    }
    for (int64_t i = 0; i < c->count && !policy_nonfinite_weights(); i++)
        if (!isfinite(c->data[i])) { /* NaN would flow silently where PyTorch's results differ (relu(NaN) = 0) */
            diag_error(d, loc,
                       "tensor '%s' in '%s' holds %s at index %lld%s; fix the weights, or compile with "
                       "--allow-nonfinite-weights",
                       name, wf->path, isnan(c->data[i]) ? "NaN" : "infinity", (long long)i,
                       t->dtype != XAI_DT_F32 && !isnan(c->data[i]) ? " (out of float32's range)" : "");
            return NULL;
        }
    if (t->dtype == XAI_DT_F32) c->file_offset = (int64_t)(wf->st.data_offset + t->begin);
    return c;
}

void weights_mark_used(weights_file *wf, const char *name)
{
    if (!wf || !wf->ok) return;
    const xai_st_tensor *t = xai_safetensors_find(&wf->st, name);
    if (t) wf->used[t - wf->st.tensors] = 1;
}

/* Names shown before "and N more": enough to spot a forgotten layer, short enough to read. */
#define UNUSED_SHOWN 8

int weights_report_unused(xai_diag *d, const weights_file *wf, const char *network)
{
    if (!wf->ok) return 0;
    int n_unused = 0, shown = 0;
    for (int i = 0; i < wf->st.n_tensors; i++) n_unused += !wf->used[i];
    if (!n_unused) return 0;
    char names[1024];
    size_t used = 0;
    names[0] = 0;
    for (int i = 0; i < wf->st.n_tensors && shown < UNUSED_SHOWN; i++) {
        if (wf->used[i]) continue;
        const xai_st_tensor *t = &wf->st.tensors[i];
        char sh[96], name[121];
        snprintf(name, sizeof name, "%s", t->name);
        for (char *p = name; *p; p++) /* a name is the file's text: no terminal control codes in the message */
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
        int len = snprintf(names + used, sizeof names - used, "%s'%s' %s", shown ? ", " : "", name,
                           shape_text(t->rank, t->shape, sh, sizeof sh));
        if (len < 0 || (size_t)len >= sizeof names - used) break; /* keep whole names only */
        used += (size_t)len;
        shown++;
    }
    char more[48] = "";
    if (n_unused > shown) snprintf(more, sizeof more, " and %d more", n_unused - shown);
    diag_error(d, wf->loc,
               "%d tensor%s in '%s' %s read by no layer of network '%s': %s%s; add the missing layers (or point "
               "them at the tensors with `from \"prefix\"`), or write `strict=false` after the file name to allow "
               "unused tensors",
               n_unused, n_unused == 1 ? "" : "s", wf->path, n_unused == 1 ? "is" : "are", network, names, more);
    return n_unused;
}
