#!/usr/bin/python3
"""CAM / Grad-CAM / Grad-CAM++ reference fixtures (seed 4.1-4.3) on the cluttered-MNIST models, computed
with PyTorch, Captum 0.8.0 and numpy (independent of xaic).

    /usr/bin/python3 tests/reference/make_cam_fixtures.py        # from the repository root

Inputs: models/samples/cluttered.npy ([10,1,40,40], one canvas per class), targets = their labels 0..9
(models/samples/cluttered_labels.npy).  Models: models/cluttered_cam and models/cluttered_gradcam (module
classes of models/train_cam.py).  Writes tests/fixtures/cam/ (float32 .npy unless noted + manifest.json):

  targets.npy                      int32 [10]   the labels
  cam_logits.npy                   [10,10]      cluttered_cam logits
  cam_map.npy                      [10,1,10,10] CAM at act3 before upsampling: M_c = sum_k fc.weight[c,k] * act3[k]
  cam_map_all_classes.npy          [10,10,10,10] the same for every class c (axis 1)
  cam_upsampled.npy                [10,1,40,40] M_c -> 40x40, F.interpolate bilinear, align_corners=False
                                                (half-pixel centres; = Captum's LayerAttribution.interpolate)
  cam_upsampled_align_corners.npy  [10,1,40,40] align_corners=True: src = dst * 9/39 (THE SEED'S CONVENTION)
  cam_upsampled_tf1.npy            [10,1,40,40] TF1 resize_bilinear(align_corners=False, half_pixel_centers=False):
                                                src = dst * 10/40, no offset (numpy)
  cam_net_gradcam.npy              [10,1,10,10] Captum LayerGradCam on cluttered_cam at act3 (= relu(cam_map)/100)
  gradcam_logits.npy               [10,10]      cluttered_gradcam logits
  gradcam.npy                      [10,1,10,10] Captum LayerGradCam(cluttered_gradcam, act3), relu_attributions=True
  gradcam_norelu.npy               [10,1,10,10] the same with relu_attributions=False
  gradcam_upsampled.npy            [10,1,40,40] LayerAttribution.interpolate(gradcam, (40,40), 'bilinear')
                                                (F.interpolate, align_corners not passed -> False)
  gradcam_upsampled_align_corners.npy, gradcam_upsampled_tf1.npy   the other two conventions
  gradcam_act2.npy                 [10,1,20,20] LayerGradCam at act2 (conv2's ReLU), relu_attributions=True
  gradcam_act2_upsampled.npy       [10,1,40,40] its Captum interpolation (align_corners=False)
  gradcam_pp.npy                   [10,1,10,10] Grad-CAM++ (paper eq. 19 closed form, exp-score trick), computed in
                                                float64 by numpy from autograd gradients, saved float32 (formula below)
  gradcam_pp_weights.npy           [10,128]     its channel weights w_k
  gradcam_pp_upsampled.npy, gradcam_pp_upsampled_align_corners.npy, gradcam_pp_upsampled_tf1.npy
  gradcam_pp_seed.npy              float64 [10,1,10,10] the seed's 4.3 numbers: weights carry exp(S_c)
                                                (= exp(S_c) * gradcam_pp up to rounding; exceeds float32 range)
  manifest.json

Grad-CAM++ as implemented here (Chattopadhyay et al. 2018, eq. 19, with S = exp(Y^c), Y^c = the logit; the
network is piecewise linear in A so the 2nd/3rd derivatives of S are exp(Y) g^2, exp(Y) g^3):
    A = act3 output [128,10,10], g = dY^c/dA (float64 autograd), Sigma_k = sum_ab A_kab
    alpha_kij = g_kij^2 / (2 g_kij^2 + Sigma_k g_kij^3)      (0 where the denominator is 0)
    w_k       = sum_ij alpha_kij * relu(g_kij)                (the paper's w_k = exp(Y^c) * this)
    map       = relu(sum_k w_k A_k)
The seed (4.3) computes alpha = 1 / (2 + Sigma_k g), w_k = sum_ij alpha * relu(exp(Y^c) g), map = relu(sum w_k A_k),
i.e. exp(Y^c) times ours wherever g != 0 (where g <= 0 the relu(g) factor is 0 in both).

Environment: PEERS_DIR (default ~/xai-peers; Captum from $PEERS_DIR/captum), PEERS_HARNESS (safetensors_io.py;
default <repo>/../shared/peers).
"""
import json
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'cam')
MODELS_DIR = os.path.join(ROOT, 'models')
PEERS = os.environ.get('PEERS_DIR', os.path.expanduser('~/xai-peers'))
sys.path.insert(0, os.path.join(PEERS, 'captum'))
sys.path.insert(0, os.path.abspath(os.environ.get('PEERS_HARNESS', os.path.join(ROOT, '..', 'shared', 'peers'))))
sys.path.insert(0, MODELS_DIR)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_cam  # noqa: E402
import captum  # noqa: E402
from captum.attr import LayerAttribution, LayerGradCam  # noqa: E402
import safetensors_io as st  # noqa: E402
from make_forward_fixtures import parse_xai, _pad4  # noqa: E402  (the .xai parser of the forward fixtures)

THREADS = 2
OUT_HW = (40, 40)


def rel(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


# ----------------------------------------------------------------------------------------------
# .xai cross-check: run the network block with torch.nn.functional, parameters by xaic's names
# (global_avgpool -> [N, C] as in xaic, so `dense` reads it directly)
# ----------------------------------------------------------------------------------------------
def run_xai(path, x):
    net = parse_xai(path)
    tensors, _ = st.load_file(os.path.join(os.path.dirname(path), net['weights']))
    env, used = {net['input'][0]: x}, set()
    assert tuple(x.shape[1:]) == net['input'][1]

    def param(p, s, shape):
        k = f'{p}.{s}'
        assert k in tensors and tuple(tensors[k].shape) == tuple(shape), (k, shape)
        used.add(k)
        return torch.from_numpy(tensors[k])

    for L in net['layers']:
        op, pos, kw, p = L['op'], L['pos'], L['kw'], L['prefix']
        a = env[pos[0]]
        if op == 'conv2d':
            n, k = pos[1], kw['kernel']
            w = param(p, 'weight', (n, a.shape[1], k, k))
            b = param(p, 'bias', (n,)) if kw.get('bias', True) else None
            t, l, bo, r = _pad4(kw.get('pad', 0), a.shape[2], a.shape[3], k, 1)
            y = F.conv2d(F.pad(a, (l, r, t, bo)), w, b)
        elif op == 'relu':
            y = F.relu(a)
        elif op == 'maxpool':
            y = F.max_pool2d(a, pos[1], pos[1])
        elif op == 'global_avgpool':
            y = a.mean(dim=(2, 3))
        elif op == 'flatten':
            y = a.reshape(a.shape[0], -1)
        elif op == 'dense':
            assert a.dim() == 2
            w = param(p, 'weight', (pos[1], a.shape[1]))
            b = param(p, 'bias', (pos[1],)) if kw.get('bias', True) else None
            y = F.linear(a, w, b)
        else:
            raise ValueError(op)
        env[L['name']] = y
    assert set(tensors) == used, set(tensors) - used
    return env[net['outputs'][0]], net


# ----------------------------------------------------------------------------------------------
# Bilinear resizing, written out in numpy (separable; float64)
# ----------------------------------------------------------------------------------------------
def src_coords(n_in, n_out, convention):
    d = np.arange(n_out, dtype=np.float64)
    if convention == 'align_corners':        # PyTorch align_corners=True, TF1 align_corners=True
        s = d * (n_in - 1) / (n_out - 1)
    elif convention == 'half_pixel':         # PyTorch align_corners=False (TF2 / TF1 half_pixel_centers=True)
        s = np.maximum((d + 0.5) * n_in / n_out - 0.5, 0.0)
    elif convention == 'tf1':                # TF1 resize_bilinear default (align_corners=False, no half pixel)
        s = d * n_in / n_out
    else:
        raise ValueError(convention)
    i0 = np.floor(s).astype(np.int64)
    i0 = np.minimum(i0, n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return s, i0, i1, s - i0


def resize_np(m, out_hw, convention):
    m = np.asarray(m, np.float64)
    _, y0, y1, fy = src_coords(m.shape[-2], out_hw[0], convention)
    _, x0, x1, fx = src_coords(m.shape[-1], out_hw[1], convention)
    rows = m[..., y0, :] * (1 - fy)[:, None] + m[..., y1, :] * fy[:, None]
    return rows[..., x0] * (1 - fx) + rows[..., x1] * fx


def gradient_at(model, module, x, target):
    """-> (A, dY_target/dA) at the output of `module`, autograd, dtype of x."""
    store = {}

    def hook(_m, _i, o):
        o.retain_grad()
        store['a'] = o

    h = module.register_forward_hook(hook)
    try:
        y = model(x)
        y[torch.arange(len(x)), target].sum().backward()
    finally:
        h.remove()
    return store['a'].detach(), store['a'].grad.detach(), y.detach()


def main():
    torch.set_num_threads(THREADS)
    warnings.filterwarnings('ignore', category=UserWarning)
    os.makedirs(OUT, exist_ok=True)
    x_np = np.load(os.path.join(MODELS_DIR, 'samples', 'cluttered.npy'))
    targets = np.load(os.path.join(MODELS_DIR, 'samples', 'cluttered_labels.npy')).astype(np.int64)
    assert x_np.shape == (10, 1, 40, 40) and x_np.dtype == np.float32
    x32, x64 = torch.from_numpy(x_np), torch.from_numpy(x_np).double()
    tgt = torch.from_numpy(targets)
    files = {}

    def save(name, arr, dtype=np.float32, **info):
        arr = np.ascontiguousarray(np.asarray(arr).astype(dtype))
        np.save(os.path.join(OUT, name), arr)
        a64 = arr.astype(np.float64)
        files[name] = dict(shape=list(arr.shape), dtype=str(arr.dtype), max_abs=float(np.abs(a64).max()),
                           min=float(a64.min()), max=float(a64.max()), **info)
        print(f'  {name:40s} {str(list(arr.shape)):16s} min {a64.min():+.4e}  max {a64.max():+.4e}')
        return arr

    pc = os.path.join(PEERS, 'captum', 'PEER_COMMIT')
    commit = open(pc).read().strip() if os.path.exists(pc) else None
    manifest = dict(
        generator='tests/reference/make_cam_fixtures.py',
        command='/usr/bin/python3 tests/reference/make_cam_fixtures.py',
        torch=torch.__version__, numpy=np.__version__, captum=captum.__version__, captum_commit=commit,
        torch_threads=THREADS,
        input=dict(file='models/samples/cluttered.npy', shape=list(x_np.shape), dtype='float32',
                   note='first held-out cluttered test canvas of each class (models/make_cluttered_mnist.py)'),
        targets=dict(file='tests/fixtures/cam/targets.npy', dtype='int32', values=targets.tolist(),
                     note='the labels (models/samples/cluttered_labels.npy)'),
        compare='|xaic - ref| <= 1e-4 * max|ref| per file (gradcam_pp_seed: relative 1e-4 per sample)',
    )
    save('targets.npy', targets, np.int32)

    # ------------------------------------------------------------------ models + .xai cross-check
    models = {}
    for name in ('cluttered_cam', 'cluttered_gradcam'):
        m32 = train_cam.load(name)
        m64 = train_cam.load(name).double()
        with torch.no_grad():
            y32 = m32(x32)
            yx, net = run_xai(os.path.join(MODELS_DIR, name + '.xai'), x32)
        d = rel(yx.numpy(), y32.numpy())
        assert d < 1e-5, (name, d)
        models[name] = (m32, m64, y32.numpy())
        manifest.setdefault('models', {})[name] = dict(
            xai=f'models/{name}.xai', weights=f'models/{name}.safetensors',
            argmax=y32.numpy().argmax(1).tolist(),
            logit_of_target=[float(y32[i, t]) for i, t in enumerate(targets)],
            xai_interpreter_vs_module_max_rel_diff=d)
        print(f'{name}: argmax {y32.numpy().argmax(1).tolist()}  .xai interpreter diff {d:.1e}')

    # ------------------------------------------------------------------ CAM (4.1)
    print('== CAM (cluttered_cam)')
    m32, m64, logits = models['cluttered_cam']
    save('cam_logits.npy', logits)
    with torch.no_grad():
        A32 = m32.features(x32).numpy()                       # act3 [10,128,10,10]
        A64 = m64.features(x64).numpy()
    W32 = m32.fc.weight.detach().numpy()                      # [10,128]
    W64 = W32.astype(np.float64)
    cam_all32 = np.einsum('ck,bkhw->bchw', W32, A32)          # float32 arithmetic
    cam_all64 = np.einsum('ck,bkhw->bchw', W64, A64)          # float64 model + float64 sum
    cam32 = cam_all32[np.arange(10), targets][:, None]
    cam64 = cam_all64[np.arange(10), targets][:, None]
    d_prec = rel(cam32, cam64)
    # the CAM invariant: mean over the 10x10 grid = the logit (GAP + bias-free fc)
    mean32 = cam_all32.astype(np.float64).mean(axis=(2, 3))
    inv_err = float(np.abs(mean32 - logits).max())
    inv_rel = inv_err / float(np.abs(logits).max())
    mean64 = cam_all64.mean(axis=(2, 3))
    with torch.no_grad():
        logits64 = m64(x64).numpy()
    inv_err64 = float(np.abs(mean64 - logits64).max())
    assert inv_rel < 1e-5, inv_rel
    cam_formula = 'M_c[h,w] = sum_k fc.weight[c,k] * act3[k,h,w] (act3 = ReLU(conv3) output, 10x10); no ReLU, no normalisation'
    save('cam_map.npy', cam32, formula=cam_formula + '; c = target', f64_vs_f32_max_rel_diff=d_prec)
    save('cam_map_all_classes.npy', cam_all32, formula=cam_formula + '; axis 1 = class c (all 10)',
         f64_vs_f32_max_rel_diff=rel(cam_all32, cam_all64))
    manifest['cam_mean_equals_logit'] = dict(
        statement='mean_{h,w} M_c[h,w] = logit_c (global average pooling, fc without bias), all 10 classes',
        max_abs_err_float32=inv_err, max_rel_err_float32=inv_rel, max_abs_err_float64=inv_err64,
        max_abs_logit=float(np.abs(logits).max()))
    print(f'  CAM mean = logit: max abs err {inv_err:.2e} (f32), {inv_err64:.2e} (f64)')

    # upsampling: three conventions, numpy vs torch
    ups = {}
    tt = torch.from_numpy(cam64)
    ups['half_pixel'] = resize_np(cam64, OUT_HW, 'half_pixel')
    ups['align_corners'] = resize_np(cam64, OUT_HW, 'align_corners')
    ups['tf1'] = resize_np(cam64, OUT_HW, 'tf1')
    t_hp = F.interpolate(tt, OUT_HW, mode='bilinear', align_corners=False).numpy()
    t_ac = F.interpolate(tt, OUT_HW, mode='bilinear', align_corners=True).numpy()
    chk = dict(numpy_vs_torch_align_corners_false=rel(ups['half_pixel'], t_hp),
               numpy_vs_torch_align_corners_true=rel(ups['align_corners'], t_ac),
               tf1_vs_half_pixel=rel(ups['tf1'], ups['half_pixel']),
               tf1_vs_align_corners=rel(ups['tf1'], ups['align_corners']),
               half_pixel_vs_align_corners=rel(ups['half_pixel'], ups['align_corners']))
    assert chk['numpy_vs_torch_align_corners_false'] < 1e-12 and chk['numpy_vs_torch_align_corners_true'] < 1e-12
    manifest['upsampling_checks_on_cam'] = chk
    print('  upsampling:', {k: f'{v:.2e}' for k, v in chk.items()})
    save('cam_upsampled.npy', t_hp,
         formula="torch.nn.functional.interpolate(cam_map, (40,40), mode='bilinear', align_corners=False) "
                 '(half-pixel centres), from the float64 map')
    save('cam_upsampled_align_corners.npy', t_ac,
         formula="interpolate(..., mode='bilinear', align_corners=True): src = dst*9/39 -- the seed's convention "
                 '(tf.image.resize_bilinear(align_corners=True))')
    save('cam_upsampled_tf1.npy', ups['tf1'],
         formula='TF1 tf.image.resize_bilinear default (align_corners=False, half_pixel_centers=False): '
                 'src = dst*10/40, i1 = min(i0+1, 9); numpy')

    # Grad-CAM on the CAM net: g = W[c,k]/100 everywhere, so Grad-CAM = relu(CAM)/100
    lgc_cam = LayerGradCam(m32, m32.act3)
    gc_cam = lgc_cam.attribute(x32, target=tgt, relu_attributions=True).detach().numpy()
    d_gc_cam = rel(gc_cam, np.maximum(cam64, 0) / 100.0)
    assert d_gc_cam < 1e-5, d_gc_cam
    save('cam_net_gradcam.npy', gc_cam,
         formula='Captum LayerGradCam(cluttered_cam, act3, relu_attributions=True); equals relu(cam_map)/100 '
                 '(GAP: dY_c/dA_k[h,w] = W[c,k]/100)', vs_relu_cam_over_100_max_rel_diff=d_gc_cam)

    # ------------------------------------------------------------------ Grad-CAM (4.2)
    print('== Grad-CAM (cluttered_gradcam)')
    m32, m64, logits = models['cluttered_gradcam']
    save('gradcam_logits.npy', logits)
    gc_formula = ('g = d logit[target] / dA (A = {L} output); alpha_k = mean_hw g_k; map = {R}(sum_k alpha_k A_k)')
    results = {}
    for layer, fname in (('act3', 'gradcam'), ('act2', 'gradcam_act2')):
        mod32, mod64 = getattr(m32, layer), getattr(m64, layer)
        for relu in ((True, False) if layer == 'act3' else (True,)):
            a32 = LayerGradCam(m32, mod32).attribute(x32, target=tgt, relu_attributions=relu).detach().numpy()
            a64 = LayerGradCam(m64, mod64).attribute(x64, target=tgt, relu_attributions=relu).detach().numpy()
            # independent: autograd + numpy
            A, g, _ = gradient_at(m64, mod64, x64.clone(), tgt)
            A, g = A.numpy(), g.numpy()
            alpha = g.mean(axis=(2, 3))
            lin = np.einsum('bk,bkhw->bhw', alpha, A)[:, None]
            ref = np.maximum(lin, 0) if relu else lin
            d_ex = rel(a64, ref)
            assert d_ex < 1e-10, (layer, relu, d_ex)
            name = fname + ('' if relu else '_norelu') + '.npy'
            results[name] = a32
            save(name, a32,
                 formula=f'Captum LayerGradCam(cluttered_gradcam, layer={layer} (nn.ReLU module), '
                         f'relu_attributions={relu}); ' + gc_formula.format(L=layer, R='relu' if relu else ''),
                 f64_vs_f32_max_rel_diff=rel(a32, a64), explicit_check_max_rel_diff=d_ex)
    gc = results['gradcam.npy']
    cap_up = LayerAttribution.interpolate(torch.from_numpy(gc), OUT_HW, 'bilinear').numpy()
    assert rel(cap_up, F.interpolate(torch.from_numpy(gc), OUT_HW, mode='bilinear', align_corners=False).numpy()) == 0
    save('gradcam_upsampled.npy', cap_up,
         formula="captum LayerAttribution.interpolate(gradcam, (40,40), 'bilinear') = F.interpolate(x, (40,40), "
                 "mode='bilinear') with align_corners not passed -> False (half-pixel centres)")
    save('gradcam_upsampled_align_corners.npy',
         F.interpolate(torch.from_numpy(gc), OUT_HW, mode='bilinear', align_corners=True).numpy(),
         formula="F.interpolate(gradcam, (40,40), mode='bilinear', align_corners=True) (the seed's convention)")
    save('gradcam_upsampled_tf1.npy', resize_np(gc, OUT_HW, 'tf1'), formula='TF1 legacy resize (src = dst*in/out)')
    save('gradcam_act2_upsampled.npy',
         LayerAttribution.interpolate(torch.from_numpy(results['gradcam_act2.npy']), OUT_HW, 'bilinear').numpy(),
         formula="captum LayerAttribution.interpolate(gradcam_act2, (40,40), 'bilinear') (align_corners=False)")

    # ------------------------------------------------------------------ Grad-CAM++ (4.3)
    print('== Grad-CAM++ (cluttered_gradcam, act3), numpy float64')
    A, g, y64 = gradient_at(m64, m64.act3, x64.clone(), tgt)
    A, g, y64 = A.numpy(), g.numpy(), y64.numpy()
    Yc = y64[np.arange(10), targets]                          # float64 logit of the target
    Ssum = A.sum(axis=(2, 3), keepdims=True)                  # Sigma_k = sum_ab A_kab  [10,128,1,1]
    num = g ** 2
    den = 2.0 * g ** 2 + Ssum * g ** 3
    alpha = np.where(den != 0, num / np.where(den != 0, den, 1.0), 0.0)
    w = (alpha * np.maximum(g, 0.0)).sum(axis=(2, 3))         # [10,128]
    pp = np.maximum(np.einsum('bk,bkhw->bhw', w, A), 0.0)[:, None]
    # the seed's form, literally (TF graph of 4.3)
    with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
        g_e = np.exp(Yc)[:, None, None, None] * g
        alpha_s = 1.0 / (2.0 + Ssum * g)
        w_s = (alpha_s * np.maximum(g_e, 0.0)).sum(axis=(2, 3))
        pp_s = np.maximum(np.einsum('bk,bkhw->bhw', w_s, A), 0.0)[:, None]
    assert np.isfinite(pp_s).all()
    ratio_err = float(max(rel(pp_s[i] / np.exp(Yc[i]), pp[i]) for i in range(10)))
    assert ratio_err < 1e-12, ratio_err
    # float32 replay (same formula, float32 model gradients) -> how much precision matters
    A32_, g32_, _ = gradient_at(m32, m32.act3, x32.clone(), tgt)
    A32_, g32_ = A32_.numpy().astype(np.float64), g32_.numpy().astype(np.float64)
    den32 = 2.0 * g32_ ** 2 + A32_.sum(axis=(2, 3), keepdims=True) * g32_ ** 3
    al32 = np.where(den32 != 0, g32_ ** 2 / np.where(den32 != 0, den32, 1.0), 0.0)
    w32_ = (al32 * np.maximum(g32_, 0)).sum(axis=(2, 3))
    pp32 = np.maximum(np.einsum('bk,bkhw->bhw', w32_, A32_), 0.0)[:, None]
    pp_formula = ('A = act3 output, g = d logit[target]/dA (autograd, float64 model), Sigma_k = sum_ab A_kab; '
                  'alpha_kij = g^2 / (2 g^2 + Sigma_k g^3) (0 where the denominator is 0); '
                  'w_k = sum_ij alpha_kij * relu(g_kij); map = relu(sum_k w_k A_k). '
                  'Paper eq. 19 with S = exp(Y^c): its weights are exp(Y^c) * w_k (a positive per-sample factor, '
                  'omitted here). No normalisation.')
    save('gradcam_pp.npy', pp, formula=pp_formula, computed_in='float64', f64_vs_f32_gradients_max_rel_diff=rel(pp32, pp))
    save('gradcam_pp_weights.npy', w, formula='w_k of gradcam_pp, [sample, channel]', computed_in='float64')
    pp_t = torch.from_numpy(pp)
    save('gradcam_pp_upsampled.npy', F.interpolate(pp_t, OUT_HW, mode='bilinear', align_corners=False).numpy(),
         formula="F.interpolate(gradcam_pp, (40,40), mode='bilinear', align_corners=False) (float64 source)")
    save('gradcam_pp_upsampled_align_corners.npy',
         F.interpolate(pp_t, OUT_HW, mode='bilinear', align_corners=True).numpy(),
         formula="align_corners=True (the seed's convention)")
    save('gradcam_pp_upsampled_tf1.npy', resize_np(pp, OUT_HW, 'tf1'), formula='TF1 legacy resize (src = dst*in/out)')
    save('gradcam_pp_seed.npy', pp_s, np.float64,
         formula='seed 4.3 literally: g_e = exp(Y^c) g; alpha = 1/(2 + Sigma_k g); w_k = sum_ij alpha relu(g_e); '
                 'map = relu(sum_k w_k A_k); float64 (exp(Y^c) overflows float32 for Y^c > 88.7)',
         exp_logit=[float(v) for v in np.exp(Yc)],
         seed_over_exp_logit_vs_gradcam_pp_max_rel_diff=ratio_err)
    # Grad-CAM++ vs Grad-CAM: same map up to a positive factor? (not in general; record the correlation)
    gc64 = results['gradcam.npy'].astype(np.float64)
    corr = [float(np.corrcoef(pp[i].ravel(), gc64[i].ravel())[0, 1]) if pp[i].std() > 0 and gc64[i].std() > 0
            else None for i in range(10)]
    manifest['gradcam_pp'] = dict(
        formula=pp_formula,
        seed_formula=files['gradcam_pp_seed.npy']['formula'],
        agree_up_to_positive_factor='gradcam_pp_seed[i] = exp(logit[i, target[i]]) * gradcam_pp[i]; '
                                    f'max rel diff {ratio_err:.2e}; a test may normalise each map by its max',
        logit_of_target=[float(v) for v in Yc],
        correlation_with_gradcam_per_sample=corr)

    manifest['upsampling'] = dict(
        seed='seed 4.1/4.2/4.3 (technique-spec.md 4.1, 5.14): tf.image.resize_bilinear with align_corners=True '
             '-> src = dst * (in-1)/(out-1) = dst*9/39 for 10 -> 40 (corner pixels coincide) '
             '= *_upsampled_align_corners.npy',
        pytorch='F.interpolate(mode=bilinear, align_corners=False): src = max((dst+0.5)*in/out - 0.5, 0), '
                'i1 = min(i0+1, in-1) (half-pixel centres) = *_upsampled.npy',
        captum='LayerAttribution.interpolate(attr, dims, "bilinear") calls F.interpolate(attr, dims, mode=...) '
               'without align_corners -> align_corners=False, identical to the PyTorch variant '
               '(checked bit-identical on gradcam)',
        tf1_default='tf.image.resize_bilinear(align_corners=False) in TF 1.x (half_pixel_centers=False): '
                    'src = dst * in/out, i1 = min(i0+1, in-1): NOT the PyTorch align_corners=False result '
                    '(shifted by (in/out - 1)/2 = -3/8 input pixel); not used by the seed = *_upsampled_tf1.npy',
        note='the three variants differ by up to ' +
             f"{chk['tf1_vs_half_pixel']:.2f} (tf1 vs half-pixel), {chk['half_pixel_vs_align_corners']:.2f} "
             f"(half-pixel vs align-corners), {chk['tf1_vs_align_corners']:.2f} (tf1 vs align-corners) "
             'of max|cam_map| on cam_map')
    manifest['files'] = files
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f'wrote {os.path.relpath(OUT, ROOT)} ({len(os.listdir(OUT))} files, {total} bytes)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
