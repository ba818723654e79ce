/* The sequential colour maps of heatmaps (hot, hot_r, viridis, gray), drawn as matplotlib draws them: a
 * 256-entry table indexed by i = min(255, floor(256 u)), so a heatmap shows the colours the tutorial's plots
 * show. (bwr, the diverging default, is evaluated continuously instead: see heatmap.c.) */
#include "xairt.h"

#include <math.h>
#include <string.h>

static const float viridis[256][3] = {
#include "colormap_viridis.inc"
};

static const char *const names[] = { [XAI_COLORMAP_BWR] = "bwr",
                                     [XAI_COLORMAP_HOT] = "hot",
                                     [XAI_COLORMAP_HOT_R] = "hot_r",
                                     [XAI_COLORMAP_VIRIDIS] = "viridis",
                                     [XAI_COLORMAP_GRAY] = "gray" };

int32_t xai_colormap_from_name(const char *name)
{
    for (int32_t m = 0; name && m < (int32_t)(sizeof names / sizeof *names); m++)
        if (!strcmp(name, names[m])) return m;
    return -1;
}

const char *xai_colormap_name(int32_t map)
{
    return map >= 0 && map < (int32_t)(sizeof names / sizeof *names) ? names[map] : NULL;
}

/* matplotlib's _hot_data: each channel linear between its breakpoints (x, value). */
static double hot_channel(const double (*points)[2], int n, double x)
{
    for (int k = 1; k < n; k++)
        if (x <= points[k][0])
            return points[k - 1][1] +
                (x - points[k - 1][0]) / (points[k][0] - points[k - 1][0]) * (points[k][1] - points[k - 1][1]);
    return points[n - 1][1];
}

static void hot(double x, float rgb[3])
{
    static const double red[][2] = { { 0.0, 0.0416 }, { 0.365079, 1.0 }, { 1.0, 1.0 } };
    static const double green[][2] = { { 0.0, 0.0 }, { 0.365079, 0.0 }, { 0.746032, 1.0 }, { 1.0, 1.0 } };
    static const double blue[][2] = { { 0.0, 0.0 }, { 0.746032, 0.0 }, { 1.0, 1.0 } };
    rgb[0] = (float)hot_channel(red, 3, x);
    rgb[1] = (float)hot_channel(green, 4, x);
    rgb[2] = (float)hot_channel(blue, 3, x);
}

void xai_colormap(int32_t map, float u, float rgb[3])
{
    if (isnan(u) || map < XAI_COLORMAP_HOT || map > XAI_COLORMAP_GRAY) {
        rgb[0] = rgb[1] = rgb[2] = 0.0f;
        return;
    }
    int i = u <= 0.0f ? 0 : u >= 1.0f ? 255 : (int)floor(256.0 * u);
    if (i > 255) i = 255;
    switch (map) {
    case XAI_COLORMAP_HOT: hot(i / 255.0, rgb); break;
    case XAI_COLORMAP_HOT_R: hot(1.0 - i / 255.0, rgb); break;
    case XAI_COLORMAP_VIRIDIS: memcpy(rgb, viridis[i], sizeof viridis[i]); break;
    default: rgb[0] = rgb[1] = rgb[2] = (float)(i / 255.0); break;
    }
}
