/* xaic eval's output directory: curves.csv (mean curves), per_image.csv (one score per input),
 * results.json (everything, for scripts), SVG plots (libxairt's xai_plot_write_svg) and heatmap strips of
 * the first input (xai_heatmap_write_png). Column meanings are in docs/evaluation.md. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eval_internal.h"

static const char *const ORDER_NAMES[2] = { "most_relevant_first", "least_relevant_first" };

/* ---- statistics: one pass over per_input.npy, column by column in input order (the sums of the in-memory
 * version, bit for bit) ---- */

typedef struct accumulator {
    double sum, sq, max;
    int64_t count;
} accumulator;

static eval_stats finish_stats(const accumulator *acc)
{
    if (!acc->count) return (eval_stats){ NAN, NAN, NAN, 0 };
    eval_stats st = { acc->sum / acc->count, 0, acc->max, acc->count };
    st.std = sqrt(fmax(0, acc->sq / acc->count - st.mean * st.mean));
    return st;
}

/* per_input.npy, a block of rows at a time: fn(ctx, row index, row) for each */
static int each_row(const eval_setup *s, int (*fn)(void *, int64_t, const float *), void *ctx)
{
    xai_records *r;
    xai_records_info info;
    char err[600];
    if (xai_records_open(s->per_input, 1, 0, &r, &info, err, sizeof err)) {
        fprintf(stderr, "xaic: error: %s\n", err);
        return 1;
    }
    int64_t block = (1 << 22) / (s->row_values * 4) + 1;
    float *rows = malloc(sizeof(float) * (size_t)(block * s->row_values));
    int rc = !rows || info.records != s->n || info.record_values != s->row_values;
    if (rc) fprintf(stderr, "xaic: error: %s: not this evaluation's per-input file\n", s->per_input);
    for (int64_t first = 0; first < info.records && !rc; first += block) {
        int64_t n = info.records - first < block ? info.records - first : block;
        if (xai_records_read(r, first, n, rows, NULL, err, sizeof err)) {
            fprintf(stderr, "xaic: error: %s\n", err);
            rc = 1;
        }
        for (int64_t i = 0; i < n && !rc; i++) rc = fn(ctx, first + i, rows + i * s->row_values);
    }
    free(rows);
    xai_records_close(r);
    return rc;
}

typedef struct collecting {
    eval_setup *s;
    accumulator *acc;
} collecting;

static int collect_row(void *ctx, int64_t index, const float *row)
{
    collecting *c = ctx;
    eval_setup *s = c->s;
    if (isnan(row[0])) return 0; /* skipped */
    if (!s->evaluated++) s->image0_index = index, s->image0_target = (int32_t)row[0];
    s->correct += row[0] == row[1];
    for (int64_t k = 2; k < s->row_values; k++) {
        double v = row[k];
        accumulator *a = &c->acc[k];
        if (isnan(v)) continue;
        a->sum += v, a->sq += v * v, a->count++;
        if (!(v <= a->max)) a->max = v;
    }
    return 0;
}

int eval_collect(eval_setup *s)
{
    collecting c = { s, calloc((size_t)s->row_values, sizeof(accumulator)) };
    if (!c.acc) return fprintf(stderr, "xaic: error: out of memory\n"), 1;
    for (int64_t k = 0; k < s->row_values; k++) c.acc[k].max = -INFINITY;
    s->evaluated = s->correct = 0;
    int rc = each_row(s, collect_row, &c);
    for (int e = 0; e < s->n_results && !rc; e++) {
        eval_result *r = &s->results[e];
        int quads = !s->args->is_selectivity;
        r->curve = malloc(sizeof(eval_stats) * (size_t)r->points);
        r->quadrants = quads ? malloc(sizeof(eval_stats) * (size_t)(r->points * 4)) : NULL;
        if (!r->curve || (quads && !r->quadrants))
            return fprintf(stderr, "xaic: error: out of memory\n"), free(c.acc), 1;
        r->score = finish_stats(&c.acc[r->column]);
        for (int64_t k = 0; k < r->points; k++) r->curve[k] = finish_stats(&c.acc[r->column + 1 + k]);
        for (int64_t k = 0; quads && k < r->points * 4; k++)
            r->quadrants[k] = finish_stats(&c.acc[r->column + 1 + r->points + k]);
    }
    free(c.acc);
    return rc;
}

static char *join(const char *dir, const char *name, const char *suffix)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s%s", dir, name, suffix) < 0) return NULL;
    return p;
}

/* DIR/NAME, written whole or not at all (runtime/outfile.c) and never over one of the run's inputs */
static FILE *create(const eval_setup *s, const char *dir, const char *name, xai_outfile **out)
{
    char err[600], *path = join(dir, name, "");
    *out = NULL;
    if (path && !outputs_check(&s->inputs, path, "-o") && xai_outfile_open(out, path, 0, err, sizeof err))
        fprintf(stderr, "xaic: error: %s\n", err);
    free(path);
    return *out ? xai_outfile_stream(*out) : NULL;
}

static int finish(xai_outfile *out)
{
    char err[600];
    if (xai_outfile_commit(out, err, sizeof err) == XAI_OK) return 0;
    fprintf(stderr, "xaic: error: %s\n", err);
    return 1;
}

typedef struct per_image {
    const eval_args *a;
    const eval_result *r;
    FILE *f;
} per_image;

static int per_image_row(void *ctx, int64_t i, const float *row)
{
    per_image *p = ctx;
    if (isnan(row[0])) return 0; /* skipped (--skip-bad) */
    float score = row[p->r->column];
    fprintf(p->f, "%lld,%d,%d,%s,", (long long)i, (int)row[0], (int)row[1], p->r->method->name);
    if (p->a->is_selectivity) fprintf(p->f, "%s,", ORDER_NAMES[p->r->order]);
    if (isnan(score))
        fputs("\n", p->f); /* no pair of shifts differed: empty field */
    else
        fprintf(p->f, "%.9g\n", score);
    return 0;
}

static int write_csvs(const eval_args *a, const eval_setup *s)
{
    xai_outfile *out;
    FILE *f = create(s, a->out_dir, "curves.csv", &out);
    if (!f) return 1;
    fputs(a->is_selectivity ? "explanation,order,patches_removed,mean_f,std_f\n"
                            : "explanation,shift,mean_f,mean_R1,mean_R2,mean_R3,mean_R4\n",
          f);
    for (int e = 0; e < s->n_results; e++) {
        const eval_result *r = &s->results[e];
        for (int64_t k = 0; k < r->points; k++) {
            eval_stats f_k = r->curve[k];
            if (a->is_selectivity) {
                fprintf(f, "%s,%s,%lld,%.9g,%.9g\n", r->method->name, ORDER_NAMES[r->order], (long long)k, f_k.mean,
                        f_k.std);
                continue;
            }
            fprintf(f, "%s,%d,%.9g", r->method->name, (int)(a->cont.shift_min + k), f_k.mean);
            for (int q = 0; q < 4; q++) fprintf(f, ",%.9g", r->quadrants[k * 4 + q].mean);
            fputc('\n', f);
        }
    }
    if (finish(out)) return 1;
    if (!(f = create(s, a->out_dir, "per_image.csv", &out))) return 1;
    fprintf(f, "input,target,predicted,explanation,%s\n", a->is_selectivity ? "order,aopc" : "continuity");
    for (int e = 0; e < s->n_results; e++) {
        per_image pi = { a, &s->results[e], f };
        if (each_row(s, per_image_row, &pi)) {
            xai_outfile_abort(out);
            return 1;
        }
    }
    return finish(out);
}

static cJSON *number_array(const double *v, int64_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (int64_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(v[i])); /* NaN prints as null */
    return arr;
}

static cJSON *result_json(const eval_args *a, const eval_setup *s, const eval_result *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", r->method->name);
    eval_stats score = r->score;
    double *mean = malloc(sizeof(double) * r->points);
    for (int64_t k = 0; k < r->points; k++) mean[k] = r->curve[k].mean;
    if (a->is_selectivity) {
        cJSON_AddStringToObject(o, "order", ORDER_NAMES[r->order]);
        cJSON_AddNumberToObject(o, "aopc_mean", score.mean);
        cJSON_AddNumberToObject(o, "aopc_std", score.std);
        cJSON_AddItemToObject(o, "mean_curve", number_array(mean, r->points));
    } else {
        cJSON_AddNumberToObject(o, "continuity_mean", score.mean);
        cJSON_AddNumberToObject(o, "continuity_max", score.max);
        cJSON_AddNumberToObject(o, "inputs_with_continuity", (double)score.count);
        cJSON_AddItemToObject(o, "mean_f", number_array(mean, r->points));
        cJSON *quads = cJSON_AddArrayToObject(o, "mean_quadrants");
        for (int q = 0; q < 4; q++) {
            for (int64_t k = 0; k < r->points; k++) mean[k] = r->quadrants[k * 4 + q].mean;
            cJSON_AddItemToArray(quads, number_array(mean, r->points));
        }
    }
    cJSON_AddNumberToObject(o, "seconds", r->seconds);
    free(mean);
    return o;
}

static int write_json(const eval_args *a, const eval_setup *s)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "metric", a->metric);
    cJSON_AddStringToObject(root, "file", a->file);
    cJSON_AddStringToObject(root, "network", s->net->name);
    cJSON_AddStringToObject(root, "data", a->data);
    cJSON_AddNumberToObject(root, "inputs", (double)s->evaluated);
    cJSON_AddNumberToObject(root, "skipped", (double)(s->n - s->evaluated));
    cJSON_AddStringToObject(root, "targets", s->has_labels ? "labels" : "argmax");
    if (s->has_labels) cJSON_AddNumberToObject(root, "accuracy", (double)s->correct / s->evaluated);
    cJSON_AddStringToObject(root, "tracked", a->sel.tracked == XAI_TRACK_LOGIT ? "logit" : "relu_logit");
    cJSON *opt = cJSON_AddObjectToObject(root, "options");
    if (a->is_selectivity) {
        cJSON_AddNumberToObject(opt, "patch", a->sel.patch);
        cJSON_AddNumberToObject(opt, "steps", a->sel.steps);
        cJSON_AddNumberToObject(opt, "baseline", a->sel.baseline);
        cJSON_AddStringToObject(opt, "windows", a->sel.windows == XAI_WINDOWS_SLIDING ? "sliding" : "grid");
        cJSON_AddStringToObject(root, "aopc", "1/(L+1) sum_{k=0..L} (f(x^0) - f(x^k)), per input, then averaged");
    } else {
        cJSON_AddNumberToObject(opt, "shift_min", a->cont.shift_min);
        cJSON_AddNumberToObject(opt, "shift_max", a->cont.shift_max);
        cJSON_AddNumberToObject(opt, "fill", a->cont.fill);
        cJSON_AddStringToObject(root, "continuity", "max over consecutive shifts of ||R(x)-R(x')||_1 / ||x-x'||_2");
    }
    cJSON_AddNumberToObject(root, "batch", s->m.max_batch);
    cJSON_AddStringToObject(root, "per_input", "per_input.npy");
    cJSON_AddStringToObject(root, "per_input_columns",
                            a->is_selectivity
                                ? "target, predicted, then per explanation (and order): aopc, f after 0 .. L removals"
                                : "target, predicted, then per explanation: continuity, f at each shift, then R1 .. R4 "
                                  "at each shift (shift-major)");
    cJSON_AddNumberToObject(root, "seconds", s->seconds);
    cJSON *list = cJSON_AddArrayToObject(root, "explanations");
    for (int e = 0; e < s->n_results; e++) cJSON_AddItemToArray(list, result_json(a, s, &s->results[e]));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    xai_outfile *out = NULL;
    FILE *f = text ? create(s, a->out_dir, "results.json", &out) : NULL;
    if (f) fprintf(f, "%s\n", text);
    free(text);
    return f ? finish(out) : 1;
}

static int plot(const eval_setup *s, const char *dir, const char *name, xai_plot *p)
{
    char err[512], *path = join(dir, name, ".svg");
    if (path && outputs_check(&s->inputs, path, "-o")) {
        free(path);
        return 1;
    }
    int status = path ? xai_plot_write_svg(path, p, err, sizeof err) : XAI_ENOMEM;
    if (status) fprintf(stderr, "xaic: error: %s\n", path ? err : "out of memory");
    free(path);
    return status ? 1 : 0;
}

/* selectivity: one plot per order, every explanation on it; continuity: f and R1..R4 per explanation */
static int write_plots(const eval_args *a, const eval_setup *s)
{
    int64_t points = s->results[0].points;
    float *xs = malloc(sizeof(float) * points), *means = malloc(sizeof(float) * points * s->n_results * 5);
    xai_plot_series series[2 * EVAL_MAX_METHODS];
    int rc = 0;
    for (int64_t k = 0; k < points; k++) xs[k] = a->is_selectivity ? (float)k : (float)(a->cont.shift_min + k);
    const char *y_label = a->sel.tracked == XAI_TRACK_LOGIT ? "mean target logit" : "mean ReLU(target logit)";
    for (int order = 0; order < 2 && a->is_selectivity && !rc; order++) {
        int n = 0;
        for (int e = 0; e < s->n_results; e++) {
            const eval_result *r = &s->results[e];
            if (r->order != order) continue;
            float *m = means + (int64_t)e * points;
            for (int64_t k = 0; k < points; k++) m[k] = (float)r->curve[k].mean;
            series[n++] = (xai_plot_series){ r->method->name, m };
        }
        if (!n) continue;
        char title[160], name[64];
        snprintf(title, sizeof title, "Pixel flipping, %s (%dx%d %s, %lld inputs)",
                 order ? "least relevant first" : "most relevant first", a->sel.patch, a->sel.patch,
                 a->sel.windows == XAI_WINDOWS_SLIDING ? "sliding windows" : "patches", (long long)s->evaluated);
        snprintf(name, sizeof name, "selectivity_%s", ORDER_NAMES[order]);
        rc = plot(s, a->out_dir, name,
                  &(xai_plot){ .title = title,
                               .x_label = "patches removed",
                               .y_label = y_label,
                               .x = xs,
                               .n_points = (int32_t)points,
                               .series = series,
                               .n_series = n,
                               .y_from_zero = 1 });
    }
    static const char *const curve_names[5] = { "f(x)", "R1 top-left", "R2 top-right", "R3 bottom-right",
                                                "R4 bottom-left" };
    for (int e = 0; e < s->n_results && !a->is_selectivity && !rc; e++) {
        const eval_result *r = &s->results[e];
        for (int c = 0; c < 5; c++) {
            float *m = means + ((int64_t)e * 5 + c) * points;
            for (int64_t k = 0; k < points; k++) m[k] = (float)(c ? r->quadrants[k * 4 + c - 1] : r->curve[k]).mean;
            series[c] = (xai_plot_series){ curve_names[c], m };
        }
        char title[160], name[200];
        snprintf(title, sizeof title, "Continuity of %s: mean over %lld inputs", r->method->name,
                 (long long)s->evaluated);
        snprintf(name, sizeof name, "continuity_%s", r->method->name);
        rc = plot(s, a->out_dir, name,
                  &(xai_plot){ .title = title,
                               .x_label = "horizontal shift (pixels)",
                               .y_label = "f and quadrant relevance",
                               .x = xs,
                               .n_points = (int32_t)points,
                               .series = series,
                               .n_series = 5 });
    }
    free(xs);
    free(means);
    return rc;
}

/* Input 0's heatmap at every step or shift, in one row, drawn over the image as it was explained (patches
 * removed so far, or shifted); each frame has its own colour range, as the seed's figures do (the curves
 * carry the magnitudes). */
static int write_strips(const eval_args *a, const eval_setup *s)
{
    const xai_eval_model *m = &s->m;
    int64_t frames = a->is_selectivity ? a->sel.steps : s->results[0].points;
    float *inputs = malloc(sizeof(float) * frames * s->in_count);
    int rc = 0;
    for (int e = 0; e < s->n_results && !rc; e++) {
        const eval_result *r = &s->results[e];
        for (int64_t k = 0; k < frames; k++) {
            float *img = inputs + k * s->in_count;
            if (a->is_selectivity) { /* x^k: the patches removed before step k */
                memcpy(img, k ? img - s->in_count : s->image0, sizeof(float) * s->in_count);
                if (k) /* removed holds a grid patch index, or a sliding window's top-left pixel */
                    (a->sel.windows == XAI_WINDOWS_SLIDING ? xai_window_fill : xai_patch_fill)(
                        img, m->channels, m->height, m->width, a->sel.patch, r->strip_removed[k - 1], a->sel.baseline);
            } else {
                xai_shift_horizontal(s->image0, img, m->channels, m->height, m->width, (int32_t)(a->cont.shift_min + k),
                                     a->cont.fill);
            }
        }
        int overlay = r->method->relevance_channels == m->channels;
        xai_heatmap_options o = { .overlay = overlay, .columns = (int32_t)frames, .scale = 2, .colormap = a->colormap };
        char err[512], name[200], *path;
        snprintf(name, sizeof name, "strip_%s%s", r->method->name, r->order ? "_least_relevant_first" : "");
        path = join(a->out_dir, name, ".png");
        if (!path || outputs_check(&s->inputs, path, "-o"))
            rc = 1;
        else if (xai_heatmap_write_png(path, r->strip, overlay ? inputs : NULL, (int32_t)frames,
                                       r->method->relevance_channels, m->height, m->width, &o, err, sizeof err)) {
            fprintf(stderr, "xaic: error: %s\n", err);
            rc = 1;
        }
        free(path);
    }
    free(inputs);
    return rc;
}

int eval_make_output_dir(const char *dir)
{
    char *p = strdup(dir);
    int rc = 0;
    for (char *slash = p + 1; !rc; slash++) { /* every prefix ending at a '/', then the whole path (mkdir -p) */
        if (*slash && *slash != '/') continue;
        char keep = *slash;
        *slash = 0;
        struct stat st;
        if (mkdir(p, 0777) && (errno != EEXIST || stat(p, &st) || !S_ISDIR(st.st_mode))) {
            fprintf(stderr, "xaic: error: %s: cannot create the output directory: %s\n", p,
                    errno == EEXIST ? "a file is in the way" : strerror(errno));
            rc = 1;
        }
        *slash = keep;
        if (!keep) break;
    }
    free(p);
    return rc;
}

int eval_write_report(const eval_args *a, const eval_setup *s)
{
    int rc = write_csvs(a, s) || write_json(a, s) || write_plots(a, s) || write_strips(a, s);
    if (!rc) {
        for (int e = 0; e < s->n_results; e++) {
            eval_stats st = s->results[e].score;
            fprintf(stderr, "%-24s %s%s %.6g  (%.2f s)\n", s->results[e].method->name,
                    a->is_selectivity ? "AOPC " : "continuity ",
                    a->is_selectivity ? ORDER_NAMES[s->results[e].order] : "mean", st.mean, s->results[e].seconds);
        }
        fprintf(stderr, "xaic eval: %lld inputs, %d explanation%s, %.2f s; results in %s\n", (long long)s->evaluated,
                s->n_methods, s->n_methods == 1 ? "" : "s", s->seconds, a->out_dir);
    }
    return rc;
}
