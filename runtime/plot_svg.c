/* Line plots written as SVG text: a title, axes with "nice" ticks (1, 2 or 5 times a power of ten),
 * axis labels, one polyline per series (broken at non-finite values) and a legend on the right. SVG is
 * plain text, so no plotting library is needed and any browser shows the result. */
#include "xairt.h"
#include "rt_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_WIDTH  720
#define DEFAULT_HEIGHT 450
#define MAX_SERIES     12
#define MARGIN_LEFT    72
#define MARGIN_RIGHT   190 /* room for the legend */
#define MARGIN_TOP     44
#define MARGIN_BOTTOM  56

/* matplotlib's tab10 cycle, then two more distinct colours */
static const char *const COLOURS[MAX_SERIES] = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                                                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000000", "#aec7e8" };

static void put_escaped(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* A tick step of 1, 2 or 5 x 10^k giving about five intervals over `span` (> 0). */
static double nice_step(double span)
{
    double raw = span / 5, power = pow(10, floor(log10(raw))), m = raw / power;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * power;
}

typedef struct axis {
    double low, high, step;
} axis;

/* Extends [low, high] to whole tick steps so that the first and last ticks sit on the frame. */
static axis make_axis(double low, double high)
{
    if (!(high > low)) { /* a single value: show a unit (or 10%) around it */
        double pad = low == 0 ? 1 : fabs(low) * 0.1;
        low -= pad;
        high += pad;
    }
    axis a = { .step = nice_step(high - low) };
    a.low = floor(low / a.step + 1e-9) * a.step;
    a.high = ceil(high / a.step - 1e-9) * a.step;
    return a;
}

static void format_tick(double v, double step, char *buf, size_t len)
{
    if (fabs(v) < step * 1e-6) v = 0; /* not "-1.4e-17" */
    snprintf(buf, len, "%.6g", v);
}

static int check_plot(const char *path, const xai_plot *p, char *err, size_t errlen)
{
    if (!path) return xai_fail(err, errlen, XAI_ENULL, "xai_plot_write_svg: path is NULL");
    if (!p || !p->x || !p->series)
        return xai_fail(err, errlen, XAI_ENULL, "%s: the plot, its x values or its series are NULL", path);
    if (p->n_points < 2)
        return xai_fail(err, errlen, XAI_EARG, "%s: %d points; a line plot needs at least 2", path, (int)p->n_points);
    if (p->n_series < 1 || p->n_series > MAX_SERIES)
        return xai_fail(err, errlen, XAI_EARG, "%s: %d series; give 1 .. %d (split larger comparisons)", path,
                        (int)p->n_series, MAX_SERIES);
    for (int32_t s = 0; s < p->n_series; s++)
        if (!p->series[s].y)
            return xai_fail(err, errlen, XAI_ENULL, "%s: the values of series %d are NULL", path, (int)s);
    for (int32_t i = 0; i < p->n_points; i++)
        if (!isfinite(p->x[i]) || (i && !(p->x[i] > p->x[i - 1])))
            return xai_fail(err, errlen, XAI_EARG, "%s: x values must be finite and increasing (x[%d] = %g)", path,
                            (int)i, (double)p->x[i]);
    if ((p->width && p->width < 300) || (p->height && p->height < 200) || p->width < 0 || p->height < 0)
        return xai_fail(err, errlen, XAI_EARG, "%s: size %dx%d; use at least 300x200 (0 means %dx%d)", path,
                        (int)p->width, (int)p->height, DEFAULT_WIDTH, DEFAULT_HEIGHT);
    return XAI_OK;
}

static void write_axes(FILE *f, const xai_plot *p, const axis *ax, const axis *ay, int w, int h)
{
    int x0 = MARGIN_LEFT, x1 = w - MARGIN_RIGHT, y0 = h - MARGIN_BOTTOM, y1 = MARGIN_TOP;
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#000\"/>\n", x0, y1, x1 - x0,
            y0 - y1);
    char label[64];
    for (double v = ax->low; v <= ax->high + ax->step * 1e-6; v += ax->step) {
        double px = x0 + (v - ax->low) / (ax->high - ax->low) * (x1 - x0);
        format_tick(v, ax->step, label, sizeof label);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#000\"/>"
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                px, y0, px, y0 + 5, px, y0 + 19, label);
    }
    for (double v = ay->low; v <= ay->high + ay->step * 1e-6; v += ay->step) {
        double py = y0 - (v - ay->low) / (ay->high - ay->low) * (y0 - y1);
        format_tick(v, ay->step, label, sizeof label);
        fprintf(f,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#000\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                x0, py, x1, py, x0 - 5, py, x0, py, x0 - 8, py + 4, label);
    }
    if (p->title) {
        fprintf(f, "<text x=\"%d\" y=\"26\" text-anchor=\"middle\" font-size=\"16\">", (x0 + x1) / 2);
        put_escaped(f, p->title);
        fputs("</text>\n", f);
    }
    if (p->x_label) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (x0 + x1) / 2, h - 14);
        put_escaped(f, p->x_label);
        fputs("</text>\n", f);
    }
    if (p->y_label) {
        fprintf(f, "<text x=\"16\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 16 %d)\">", (y0 + y1) / 2,
                (y0 + y1) / 2);
        put_escaped(f, p->y_label);
        fputs("</text>\n", f);
    }
}

static void write_series(FILE *f, const xai_plot *p, const axis *ax, const axis *ay, int w, int h)
{
    int x0 = MARGIN_LEFT, x1 = w - MARGIN_RIGHT, y0 = h - MARGIN_BOTTOM, y1 = MARGIN_TOP;
    for (int32_t s = 0; s < p->n_series; s++) {
        const float *y = p->series[s].y;
        int open = 0; /* inside a <polyline> */
        for (int32_t i = 0; i <= p->n_points; i++) {
            int ok = i < p->n_points && isfinite(y[i]);
            if (!ok) {
                if (open) fputs("\"/>\n", f);
                open = 0;
                continue;
            }
            if (!open) fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", COLOURS[s]);
            fprintf(f, "%s%.2f,%.2f", open ? " " : "", x0 + (p->x[i] - ax->low) / (ax->high - ax->low) * (x1 - x0),
                    y0 - (y[i] - ay->low) / (ay->high - ay->low) * (y0 - y1));
            open = 1;
        }
        int ly = MARGIN_TOP + 12 + 20 * s; /* legend entry */
        fprintf(f,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>"
                "<text x=\"%d\" y=\"%d\">",
                x1 + 12, ly, x1 + 36, ly, COLOURS[s], x1 + 42, ly + 4);
        put_escaped(f, p->series[s].label ? p->series[s].label : "");
        fputs("</text>\n", f);
    }
}

int xai_plot_write_svg(const char *path, const xai_plot *plot, char *err, size_t errlen)
{
    int status = check_plot(path, plot, err, errlen);
    if (status) return status;
    int w = plot->width ? plot->width : DEFAULT_WIDTH, h = plot->height ? plot->height : DEFAULT_HEIGHT;
    double low = INFINITY, high = -INFINITY;
    for (int32_t s = 0; s < plot->n_series; s++)
        for (int32_t i = 0; i < plot->n_points; i++) {
            float v = plot->series[s].y[i];
            if (isfinite(v)) {
                low = fmin(low, v);
                high = fmax(high, v);
            }
        }
    if (!isfinite(low)) low = high = 0; /* nothing finite: an empty frame */
    if (plot->y_from_zero && low > 0) low = 0;
    axis ax = make_axis(plot->x[0], plot->x[plot->n_points - 1]), ay = make_axis(low, high);

    xai_outfile *o;
    status = xai_outfile_open(&o, path, 0, err, errlen);
    if (status) return status;
    FILE *f = xai_outfile_stream(o);
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
            w, h, w, h);
    write_axes(f, plot, &ax, &ay, w, h);
    write_series(f, plot, &ax, &ay, w, h);
    fputs("</svg>\n", f);
    return xai_outfile_commit(o, err, errlen); /* reports any failed write, with its reason */
}
