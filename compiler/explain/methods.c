/* The registry of explanation methods: every method once, in the order of explain_method. */
#include <stdio.h>
#include <string.h>

#include "method.h"

static const method_def *const all_methods[METHOD_COUNT] = {
    [METHOD_LRP] = &method_lrp,
    [METHOD_GRADIENT] = &method_gradient,
    [METHOD_IG] = &method_integrated_gradients,
    [METHOD_SMOOTHGRAD] = &method_smoothgrad,
    [METHOD_DEEPLIFT] = &method_deeplift,
    [METHOD_CAM] = &method_cam,
    [METHOD_GRADCAM] = &method_gradcam,
    [METHOD_GRADCAM_PP] = &method_gradcam_pp,
    [METHOD_ACTMAX] = &method_activation_maximization,
};

const method_def *method_find(const char *name)
{
    for (int i = 0; i < METHOD_COUNT; i++)
        if (!strcmp(all_methods[i]->name, name)) return all_methods[i];
    return NULL;
}

const method_def *method_of(explain_method id) { return id >= 0 && id < METHOD_COUNT ? all_methods[id] : NULL; }

void method_names(unsigned setting, char *buf, size_t len)
{
    int n = 0, total = 0;
    for (int i = 0; i < METHOD_COUNT; i++) total += !setting || (all_methods[i]->settings & setting);
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < METHOD_COUNT && used < len; i++) {
        if (setting && !(all_methods[i]->settings & setting)) continue;
        used += snprintf(buf + used, len - used, "%s%s",
                         !n                   ? ""
                             : n == total - 1 ? " and "
                                              : ", ",
                         all_methods[i]->name);
        n++;
    }
}
