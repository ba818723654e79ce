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

int eval_result_init(eval_result *r, const eval_args *a, const eval_setup *s, const eval_method *method, int order)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    r->order = order;
    int64_t frames = a->is_selectivity ? a->sel.steps : (int64_t)a->cont.shift_max - a->cont.shift_min + 1;
    r->points = a->is_selectivity ? frames + 1 : frames;
    int64_t map = (int64_t)method->relevance_channels * s->m.height * s->m.width;
    r->curves = malloc(sizeof(float) * s->n * r->points);
    r->score = malloc(sizeof(float) * s->n);
    r->strip = malloc(sizeof(float) * frames * map);
    if (a->is_selectivity)
        r->strip_removed = malloc(sizeof(int32_t) * frames);
    else
        r->quadrants = malloc(sizeof(float) * s->n * r->points * 4);
    return !r->curves || !r->score || !r->strip || (a->is_selectivity ? !r->strip_removed : !r->quadrants);
}

void eval_result_free(eval_result *r)
{
    free(r->curves);
    free(r->quadrants);
    free(r->score);
    free(r->strip);
    free(r->strip_removed);
    memset(r, 0, sizeof *r);
}

/* mean and standard deviation over the inputs of values[i * stride + offset], NaN skipped */
typedef struct stats {
    double mean, std, max;
    int64_t count;
} stats;

static stats column_stats(const float *values, int64_t n, int64_t stride, int64_t offset)
{
    stats st = { 0, 0, -INFINITY, 0 };
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = values[i * stride + offset];
        if (isnan(v)) continue;
        sum += v, sq += v * v, st.count++;
        if (v > st.max) st.max = v;
    }
    if (!st.count) return (stats){ NAN, NAN, NAN, 0 };
    st.mean = sum / st.count;
    st.std = sqrt(fmax(0, sq / st.count - st.mean * st.mean));
    return st;
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
            stats f_k = column_stats(r->curves, s->n, r->points, k);
            if (a->is_selectivity) {
                fprintf(f, "%s,%s,%lld,%.9g,%.9g\n", r->method->name, ORDER_NAMES[r->order], (long long)k, f_k.mean,
                        f_k.std);
                continue;
            }
            fprintf(f, "%s,%d,%.9g", r->method->name, (int)(a->cont.shift_min + k), f_k.mean);
            for (int q = 0; q < 4; q++)
                fprintf(f, ",%.9g", column_stats(r->quadrants, s->n, r->points * 4, k * 4 + q).mean);
            fputc('\n', f);
        }
    }
    if (finish(out)) return 1;
    if (!(f = create(s, a->out_dir, "per_image.csv", &out))) return 1;
    fprintf(f, "input,target,predicted,explanation,%s\n", a->is_selectivity ? "order,aopc" : "continuity");
    for (int e = 0; e < s->n_results; e++)
        for (int64_t i = 0; i < s->n; i++) {
            const eval_result *r = &s->results[e];
            fprintf(f, "%lld,%d,%d,%s,", (long long)i, (int)s->targets[i], (int)s->predicted[i], r->method->name);
            if (a->is_selectivity) fprintf(f, "%s,", ORDER_NAMES[r->order]);
            if (isnan(r->score[i]))
                fputs("\n", f); /* no pair of shifts differed: empty field */
            else
                fprintf(f, "%.9g\n", r->score[i]);
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
    stats score = column_stats(r->score, s->n, 1, 0);
    double *mean = malloc(sizeof(double) * r->points);
    for (int64_t k = 0; k < r->points; k++) mean[k] = column_stats(r->curves, s->n, r->points, k).mean;
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
            for (int64_t k = 0; k < r->points; k++)
                mean[k] = column_stats(r->quadrants, s->n, r->points * 4, k * 4 + q).mean;
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
    cJSON_AddNumberToObject(root, "inputs", (double)s->n);
    cJSON_AddStringToObject(root, "targets", s->has_labels ? "labels" : "argmax");
    if (s->has_labels) cJSON_AddNumberToObject(root, "accuracy", (double)s->correct / s->n);
    cJSON_AddStringToObject(root, "tracked", a->sel.tracked == XAI_TRACK_LOGIT ? "logit" : "relu_logit");
    cJSON *opt = cJSON_AddObjectToObject(root, "options");
    if (a->is_selectivity) {
        cJSON_AddNumberToObject(opt, "patch", a->sel.patch);
        cJSON_AddNumberToObject(opt, "steps", a->sel.steps);
        cJSON_AddNumberToObject(opt, "baseline", a->sel.baseline);
        cJSON_AddStringToObject(root, "aopc", "1/(L+1) sum_{k=0..L} (f(x^0) - f(x^k)), per input, then averaged");
    } else {
        cJSON_AddNumberToObject(opt, "shift_min", a->cont.shift_min);
        cJSON_AddNumberToObject(opt, "shift_max", a->cont.shift_max);
        cJSON_AddNumberToObject(opt, "fill", a->cont.fill);
        cJSON_AddStringToObject(root, "continuity", "max over consecutive shifts of ||R(x)-R(x')||_1 / ||x-x'||_2");
    }
    cJSON_AddNumberToObject(root, "batch", s->m.max_batch);
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
            for (int64_t k = 0; k < points; k++) m[k] = (float)column_stats(r->curves, s->n, points, k).mean;
            series[n++] = (xai_plot_series){ r->method->name, m };
        }
        if (!n) continue;
        char title[160], name[64];
        snprintf(title, sizeof title, "Pixel flipping, %s (%dx%d patches, %lld inputs)",
                 order ? "least relevant first" : "most relevant first", a->sel.patch, a->sel.patch, (long long)s->n);
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
            for (int64_t k = 0; k < points; k++)
                m[k] = (float)(c ? column_stats(r->quadrants, s->n, points * 4, k * 4 + c - 1)
                                 : column_stats(r->curves, s->n, points, k))
                           .mean;
            series[c] = (xai_plot_series){ curve_names[c], m };
        }
        char title[160], name[200];
        snprintf(title, sizeof title, "Continuity of %s: mean over %lld inputs", r->method->name, (long long)s->n);
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
                memcpy(img, k ? img - s->in_count : s->x.data, sizeof(float) * s->in_count);
                if (k)
                    xai_patch_fill(img, m->channels, m->height, m->width, a->sel.patch, r->strip_removed[k - 1],
                                   a->sel.baseline);
            } else {
                xai_shift_horizontal(s->x.data, img, m->channels, m->height, m->width, (int32_t)(a->cont.shift_min + k),
                                     a->cont.fill);
            }
        }
        int overlay = r->method->relevance_channels == m->channels;
        xai_heatmap_options o = { .overlay = overlay, .columns = (int32_t)frames, .scale = 2 };
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
            stats st = column_stats(s->results[e].score, s->n, 1, 0);
            fprintf(stderr, "%-24s %s%s %.6g  (%.2f s)\n", s->results[e].method->name,
                    a->is_selectivity ? "AOPC " : "continuity ",
                    a->is_selectivity ? ORDER_NAMES[s->results[e].order] : "mean", st.mean, s->results[e].seconds);
        }
        fprintf(stderr, "xaic eval: %lld inputs, %d explanation%s, %.2f s; results in %s\n", (long long)s->n,
                s->n_methods, s->n_methods == 1 ? "" : "s", s->seconds, a->out_dir);
    }
    return rc;
}
