/* The CAM family on a spatial layer (docs/cam.md): method cam(layer) (Zhou et al.: the class's weights of the
 * dense layer after global average pooling weight the maps), gradcam(layer) (the mean gradient over each
 * map) and gradcam_pp(layer) (Chattopadhyay et al.'s closed form); the map ReLU'd and, by default, resized
 * bilinearly to the input as PyTorch's F.interpolate (align_corners as the seed). */
#include "method.h"

enum { P_LAYER, P_UPSAMPLE, P_ALIGN_CORNERS };

static const method_param params[] = {
    [P_LAYER] = { "layer", MP_LAYER },
    [P_UPSAMPLE] = { "upsample", MP_CHOICE, .choices = "none bilinear" },
    [P_ALIGN_CORNERS] = { "align_corners", MP_CHOICE, .choices = "false true" },
};

static void configure(sema_explain_ctx *c, const ast_expr *call, const ir_graph *net, const method_arg *args,
                      explain_spec *spec)
{
    const char *method = call->text;
    spec->upsample = method_has(&args[P_UPSAMPLE]) ? args[P_UPSAMPLE].choice : 1;
    spec->align_corners = method_has(&args[P_ALIGN_CORNERS]) ? args[P_ALIGN_CORNERS].choice : 1; /* the seed's resize */
    if (!args[P_LAYER].given) {
        diag_error(c->d, call->loc, "%s needs the layer whose maps it weights: %s(layer=act3)", method, method);
        return;
    }
    if (args[P_LAYER].bad) return;
    const ir_node *layer = &net->nodes[args[P_LAYER].node];
    if (layer->shape.rank != 3) {
        char sb[64];
        diag_error(c->d, args[P_LAYER].given->value->loc, "%s needs a spatial layer ([C, H, W]); '%s' has shape %s",
                   method, args[P_LAYER].given->value->text, ir_shape_str(&layer->shape, sb, sizeof sb));
        return;
    }
    spec->cam_layer = args[P_LAYER].node;
}

/* PyTorch's bilinear F.interpolate: per output index its two source indices and the weight of the second
 * (align_corners = 0: half-pixel centres, sources clamped at 0; 1: corners aligned). */
static ir_const *sampling_table(rules_ctx *c, int in, int out, int align_corners, const char *name)
{
    int64_t shape[1] = { 3 * (int64_t)out };
    ir_const *t = ir_graph_new_const(c->g, name, 1, shape);
    for (int d = 0; d < out; d++) {
        double s =
            align_corners ? (out > 1 ? (double)d * (in - 1) / (out - 1) : 0) : ((double)d + 0.5) * in / out - 0.5;
        if (s < 0) s = 0;
        int i0 = (int)s;
        if (i0 > in - 1) i0 = in - 1;
        t->data[3 * d] = (float)i0;
        t->data[3 * d + 1] = (float)(i0 < in - 1 ? i0 + 1 : i0);
        t->data[3 * d + 2] = (float)(s - i0);
    }
    return t;
}

/* [1, h, w] map -> the input's [H, W], bilinear, or the map itself as [h, w] */
static int cam_output(rules_ctx *c, int map, const ir_shape *map_shape)
{
    const ir_shape *in = &c->net->nodes[c->net->input].shape;
    ir_node node = { 0 };
    node.n_inputs = 1;
    node.inputs[0] = map;
    node.shape.rank = 2;
    if (!c->spec->upsample || in->rank != 3) { /* the map at the layer's resolution */
        node.op = OP_FLATTEN;
        node.shape.dims[0] = map_shape->dims[1];
        node.shape.dims[1] = map_shape->dims[2];
        return rules_node(c, &node);
    }
    node.op = OP_UPSAMPLE;
    node.shape.dims[0] = in->dims[1];
    node.shape.dims[1] = in->dims[2];
    node.in_shape = *map_shape;
    node.global = c->spec->align_corners;
    node.weight = sampling_table(c, map_shape->dims[1], in->dims[1], node.global, "upsample_rows");
    node.bias = sampling_table(c, map_shape->dims[2], in->dims[2], node.global, "upsample_cols");
    return rules_node(c, &node);
}

static int channel_dot(rules_ctx *c, int v, int maps)
{
    const ir_shape *a = &c->net->nodes[c->spec->cam_layer].shape;
    ir_node node = { 0 };
    node.op = OP_CHANNEL_DOT;
    node.shape.rank = 3;
    node.shape.dims[0] = 1, node.shape.dims[1] = a->dims[1], node.shape.dims[2] = a->dims[2];
    node.in_shape = *a;
    node.n_inputs = 2;
    node.inputs[0] = v;
    node.inputs[1] = maps;
    return rules_node(c, &node);
}

/* CAM (seed 4.1): the class's weights of the dense layer after global average pooling weight the maps. */
static int cam(rules_ctx *c, int top)
{
    const ir_graph *net = c->net;
    int L = c->spec->cam_layer, gap = -1;
    for (int i = L + 1; i < net->n_nodes; i++)
        if (net->nodes[i].op == OP_GLOBAL_AVGPOOL && net->nodes[i].inputs[0] == L) gap = i;
    int dense = top;
    int fed = dense >= 0 && net->nodes[dense].op == OP_DENSE ? net->nodes[dense].inputs[0] : -1;
    if (fed >= 0 && net->nodes[fed].op == OP_FLATTEN) fed = net->nodes[fed].inputs[0];
    if (gap < 0 || fed != gap || ir_consumers(net, L) != 1) {
        diag_error(c->d, c->spec->loc,
                   "cam needs layer '%s' -> global_avgpool -> dense, the dense being the output "
                   "(as the seed's CAM network); use gradcam for other networks",
                   net->nodes[L].name);
        c->failed = 1;
        return c->R[top];
    }
    int v = rules_lin_t(c, dense, c->R[top], rules_plain_set(net->nodes[dense].weight)); /* W[c, :] */
    int map = channel_dot(c, v, L);
    ir_shape ms = { 3, { 1, net->nodes[L].shape.dims[1], net->nodes[L].shape.dims[2] } };
    return cam_output(c, map, &ms);
}

/* Grad-CAM (channel weights: the mean gradient over the map) and Grad-CAM++ (the closed form of
 * Chattopadhyay et al. with exp(score), whose factor exp(score) is dropped: it scales the map only). */
static int gradcam(rules_ctx *c)
{
    const ir_graph *net = c->net;
    int L = c->spec->cam_layer;
    if (c->R[L] < 0) {
        diag_error(c->d, c->spec->loc, "no gradient reaches layer '%s'", net->nodes[L].name);
        c->failed = 1;
        return 0;
    }
    const ir_shape *a = &net->nodes[L].shape;
    ir_node w = { 0 };
    w.shape.rank = 1;
    w.shape.dims[0] = a->dims[0];
    w.in_shape = *a;
    if (c->spec->method == METHOD_GRADCAM) {
        double scale = 1.0 / ((double)a->dims[1] * a->dims[2]);
        w.op = OP_SUMPOOL;
        w.global = 1;
        w.weight = backward_vector(c, "gradcam_mean", &scale, 1);
        w.n_inputs = 1;
        w.inputs[0] = c->R[L];
    } else {
        w.op = OP_GRADCAMPP;
        w.n_inputs = 2;
        w.inputs[0] = c->R[L];
        w.inputs[1] = L;
    }
    int weights = rules_node(c, &w);
    int map = channel_dot(c, weights, L);
    ir_shape ms = { 3, { 1, a->dims[1], a->dims[2] } };
    map = rules_eltwise(c, &ms, &map, 1,
                        rules_ew(c, EW_POS, rules_ew_in(c, 0), NULL)); /* ReLU, as the paper and the seed */
    return cam_output(c, map, &ms);
}

static ir_graph *build_cam(rules_ctx *c)
{
    ir_graph *g = backward_begin(c);
    if (c->failed) return g;
    backward_seed(c);
    return backward_finish(c, cam(c, c->top));
}

static ir_graph *build_gradcam(rules_ctx *c)
{
    ir_graph *g = backward_begin(c);
    if (c->failed) return g;
    backward_seed(c);
    backward_propagate(c, c->spec->cam_layer);
    return backward_finish(c, gradcam(c));
}

#define CAM_METHOD(NAME, ID, BUILD)                                                                                    \
    {                                                                                                                  \
        .name = NAME, .id = ID, .params = params, .n_params = sizeof params / sizeof *params,                          \
        .settings = SETTING_RULES, .seeds = 1u << SEED_LOGIT, .seed_is_gradient = 1,                                   \
        .seed_refusal = "CAM methods explain the class logit; use `seed logit`",                                       \
        .default_rule = method_gradient_default_rule, .configure = configure, .build = BUILD                           \
    }

const method_def method_cam = CAM_METHOD("cam", METHOD_CAM, build_cam);
const method_def method_gradcam = CAM_METHOD("gradcam", METHOD_GRADCAM, build_gradcam);
const method_def method_gradcam_pp = CAM_METHOD("gradcam_pp", METHOD_GRADCAM_PP, build_gradcam);
