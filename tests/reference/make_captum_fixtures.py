#!/usr/bin/python3
"""Gradient-family reference fixtures, computed with Captum 0.8.0 (faac0877) on PyTorch (independent of xaic).

    /usr/bin/python3 tests/reference/make_captum_fixtures.py        # from the repository root

Writes tests/fixtures/grad/ (all float32; attributions have the input's shape: [10,1,28,28] CNNs, [10,784] MLPs):
  M__logits.npy, M__logits_zero.npy, M__logits_half.npy   [10,10]  f(x), f(0), f(0.5*1) (rows of the last two equal)
  M__saliency.npy            Saliency(abs=False): d logit[target] / dx (signed)
  M__saliency_abs.npy        Saliency(abs=True): |gradient|
  M__saliency_softmax.npy    Saliency(abs=False) of softmax(logits)[target]
  M__input_x_gradient.npy    InputXGradient: x * gradient
  M__guided_backprop.npy     GuidedBackprop   (ReLU backward: g_in = max(0, g_out * 1[z > 0]))
  M__deconvolution.npy       Deconvolution    (ReLU backward: g_in = max(0, g_out), forward sign ignored)
  M__ig_Q.npy                IntegratedGradients, baseline 0, n_steps 50, method Q in riemann_left, riemann_right,
                             riemann_middle, riemann_trapezoid, gausslegendre (internal_batch_size=None)
  mnist_cnn__ig_gausslegendre_stepsN.npy   same, gausslegendre, N in 4 8 16 32 64 128 (completeness vs N)
  M__ig_softmax.npy          IG of softmax(logits)[target], gausslegendre 50, baseline 0
  M__ig_baseline_const.npy   IG of the logit, gausslegendre 50, baseline = 0.5 everywhere
  M__smoothgrad.npy, M__smoothgrad_sq.npy, M__vargrad.npy
                             NoiseTunnel(Saliency) nt_type smoothgrad / smoothgrad_sq / vargrad, abs=False,
                             nt_samples 8, stdevs 0.15, torch.manual_seed(0) before each call (same noise for all 3)
  M__smoothgrad_noise.npy    [10, 8, *input_shape] the noise Captum drew: sample b, draw k is x[b] + noise[b, k]
  M__deeplift.npy            DeepLift(multiply_by_inputs=True), baseline 0 (Rescale rule; Captum maxpool rule)
  M__deeplift_baseline_const.npy   same, baseline 0.5
  C__deeplift_consistent.npy, C__deeplift_consistent_baseline_const.npy   (CNNs only) the same with a Clone()
                             module between act1/pool1 and act2/pool2, so that Captum's maxpool rule actually
                             reaches the ReLU below it (summation-to-delta exact; see below)
  manifest.json              versions, command, formulas, IG alphas/step sizes, per file: parameters, max|value|,
                             per-sample sums, float64-vs-float32 difference, self-checks

Every file is computed twice: float32 (saved) and float64 (model.double(), float64 input; the SmoothGrad noise is
the same float32 draw in both).  Independent checks: SmoothGrad is replayed from the recorded noise with plain
autograd; IG is recomputed from the recorded alphas / step sizes; guided backprop, deconvolution and DeepLift are
recomputed by an explicit backward walk over the modules (formulas below, no Captum hooks), all in float64.

DeepLift is run one sample at a time (batch of 1): Captum 0.8.0's maxpool rule uses `grad_input[0]` where the
input difference is 0, which in a batch is the gradient of *sample 0* broadcast to every sample (a Captum bug,
the hook receives a tensor, not a tuple); with a batch of 1 it is the sample's own gradient.  The manifest
records how much the batched Captum call differs.

Captum's hooks also interact badly when a MaxPool2d consumes a ReLU's output tensor directly (CNN pool1, pool2):
both register a hook on that one tensor, the ReLU's grad_output hook runs first and captures the *ordinary*
maxpool gradient, so the ReLU's Rescale multiplier is built from the plain gradient and the maxpool rule is lost
(the Delta = 0 fallback sees the rule's output, which there equals the plain gradient too).  Net effect in
`deeplift`: pool1/pool2 = ordinary gradient (switches of x), pool3 (behind the pad) = maxpool rule, and the
summation-to-delta property fails by up to ~1e-2.  `deeplift_consistent*` insert a Clone() so each hook sees
its own tensor: every maxpool gets the rule and summation-to-delta holds to rounding.  Both variants are
reproduced by the explicit walk (flag captum_relu_pool).

Environment: PEERS_DIR (default ~/xai-peers; Captum imported from $PEERS_DIR/captum), PEERS_HARNESS
(safetensors_io.py; default <repo>/../shared/peers).
"""
import copy
import json
import os
import sys
import warnings

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'grad')
MODELS_DIR = os.path.join(ROOT, 'models')
PEERS = os.environ.get('PEERS_DIR', os.path.expanduser('~/xai-peers'))
sys.path.insert(0, os.path.join(PEERS, 'captum'))
sys.path.insert(0, os.path.abspath(os.environ.get('PEERS_HARNESS', os.path.join(ROOT, '..', 'shared', 'peers'))))
sys.path.insert(0, MODELS_DIR)
import train as models_train  # noqa: E402  (module classes of the bundled models)
import captum  # noqa: E402
from captum.attr import (Deconvolution, DeepLift, GuidedBackprop, InputXGradient,  # noqa: E402
                         IntegratedGradients, NoiseTunnel, Saliency)
from captum.attr._utils.approximation_methods import approximation_parameters  # noqa: E402

MODELS = ['mnist_mlp', 'mnist_mlp_nobias', 'mnist_cnn', 'mnist_cnn_nobias']
N_STEPS = 50
QUADRATURES = ['riemann_left', 'riemann_right', 'riemann_middle', 'riemann_trapezoid', 'gausslegendre']
STEP_SWEEP = [4, 8, 16, 32, 64, 128]
STEP_SWEEP_MODEL = 'mnist_cnn'
NT_SAMPLES = 8
SIGMA = 0.15                      # 0.15 * (high - low), input box [0, 1]
NOISE_SEED = 0
NT_TYPES = ['smoothgrad', 'smoothgrad_sq', 'vargrad']
CONST = 0.5
DL_EPS = 1e-10                    # Captum DeepLift eps (default)


# ----------------------------------------------------------------------------------------------
class Clone(nn.Module):
    """x.clone(): a new tensor between a ReLU and the MaxPool2d it feeds (see deeplift_consistent)."""

    def forward(self, x):
        return x.clone()


def load_model(name, clone_before_pool=False):
    m = models_train.load(name)
    if isinstance(getattr(m, 'pool3', None), models_train.MaxPoolSame):
        ref = m.pool3
        m.pool3 = nn.Sequential(nn.ConstantPad2d((0, 1, 0, 1), float('-inf')), nn.MaxPool2d(2))
        t = torch.randn(3, 128, 7, 7, generator=torch.Generator().manual_seed(7))
        assert torch.equal(ref(t), m.pool3(t)), 'pool3 replacement differs from MaxPoolSame'
        if clone_before_pool:
            m.pool1 = nn.Sequential(Clone(), m.pool1)
            m.pool2 = nn.Sequential(Clone(), m.pool2)
    return m.eval()


def input_for(name):
    flat = models_train.MODELS[name]['input_shape'] == (784,)
    rel = 'models/samples/digits_flat.npy' if flat else 'models/samples/digits.npy'
    return rel, np.load(os.path.join(ROOT, rel))


class SoftmaxOut(nn.Module):
    """model followed by softmax over the classes (the seed's 3.4 target: the probability p_c)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return F.softmax(self.model(x), dim=1)


def quad(method, n):
    """(step_sizes, alphas) exactly as Captum's IntegratedGradients._attribute obtains them."""
    s_fn, a_fn = approximation_parameters(method)
    return s_fn(n), a_fn(n)


def fwd_target(f, x, target):
    with torch.no_grad():
        return f(x).gather(1, target[:, None])[:, 0]


# ----------------------------------------------------------------------------------------------
# Captum runs (one dtype)
# ----------------------------------------------------------------------------------------------
def run_captum(model, x, target, mname, model_cl=None):
    """-> res {method: tensor}, info {method: extra dict (deltas, ...)}, noise tensor.
    model_cl: the same CNN with Clone() before pool1/pool2 (-> deeplift_consistent*)."""
    res, info = {}, {}
    dt = x.dtype
    B = x.shape[0]

    def X():
        return x.detach().clone()
    sal = Saliency(model)
    res['saliency'] = sal.attribute(X(), target=target, abs=False)
    res['saliency_abs'] = sal.attribute(X(), target=target, abs=True)
    res['input_x_gradient'] = InputXGradient(model).attribute(X(), target=target)
    res['guided_backprop'] = GuidedBackprop(model).attribute(X(), target=target)
    res['deconvolution'] = Deconvolution(model).attribute(X(), target=target)

    ig = IntegratedGradients(model)
    runs = [(f'ig_{q}', model, q, N_STEPS, 0.0) for q in QUADRATURES]
    if mname == STEP_SWEEP_MODEL:
        runs += [(f'ig_gausslegendre_steps{n}', model, 'gausslegendre', n, 0.0) for n in STEP_SWEEP]
    sm = SoftmaxOut(model)
    runs += [('ig_softmax', sm, 'gausslegendre', N_STEPS, 0.0),
             ('ig_baseline_const', model, 'gausslegendre', N_STEPS, CONST)]
    for name, f, q, n, base in runs:
        ig_ = ig if f is model else IntegratedGradients(f)
        bl = torch.full_like(x, base)
        a, d = ig_.attribute(X(), baselines=bl, target=target, n_steps=n, method=q, internal_batch_size=None,
                             return_convergence_delta=True)
        res[name] = a
        info[name] = dict(convergence_delta=d.detach(), f_x=fwd_target(f, x, target), f_base=fwd_target(f, bl, target))
    res['saliency_softmax'] = Saliency(sm).attribute(X(), target=target, abs=False)

    noise_seen = []
    for nt_type in NT_TYPES:
        rec = []
        orig = torch.normal  # Captum draws its noise with torch.normal(0, stdev_tensor): record it

        def rec_normal(*a, **k):
            n_ = orig(*a, **k)
            rec.append(n_.detach().clone())
            return n_
        torch.manual_seed(NOISE_SEED)
        torch.normal = rec_normal
        try:
            res[nt_type] = NoiseTunnel(Saliency(model)).attribute(
                X(), nt_type=nt_type, nt_samples=NT_SAMPLES, stdevs=SIGMA, target=target, abs=False)
        finally:
            torch.normal = orig
        assert len(rec) == 1 and rec[0].shape == (B * NT_SAMPLES,) + tuple(x.shape[1:]), [r.shape for r in rec]
        noise_seen.append(rec[0])
    for n_ in noise_seen[1:]:
        assert torch.equal(n_, noise_seen[0]), 'noise differs between nt_types'
    # expanded batch row r = b * NT_SAMPLES + k (input.repeat_interleave(nt_samples, 0) + noise)
    noise = noise_seen[0].reshape((B, NT_SAMPLES) + tuple(x.shape[1:]))

    dl_runs = [('deeplift', model, 0.0), ('deeplift_baseline_const', model, CONST)]
    if model_cl is not None:
        dl_runs += [('deeplift_consistent', model_cl, 0.0), ('deeplift_consistent_baseline_const', model_cl, CONST)]
    for name, dmodel, base in dl_runs:
        parts, deltas = [], []
        for b in range(B):   # one sample per call (see the module docstring: Captum's batched maxpool bug)
            xb = x[b:b + 1].detach().clone()
            a, d = DeepLift(dmodel, multiply_by_inputs=True).attribute(
                xb, baselines=torch.full_like(xb, base), target=int(target[b]), return_convergence_delta=True)
            parts.append(a.detach())
            deltas.append(d.detach())
        res[name] = torch.cat(parts)
        bl = torch.full_like(x, base)
        ab = DeepLift(dmodel, multiply_by_inputs=True).attribute(X(), baselines=bl, target=target)
        info[name] = dict(convergence_delta=torch.cat(deltas), f_x=fwd_target(model, x, target),
                          f_base=fwd_target(model, bl, target), batched=ab.detach())

    with torch.no_grad():
        res['logits'] = model(x)
        res['logits_zero'] = model(torch.zeros_like(x))
        res['logits_half'] = model(torch.full_like(x, CONST))
    res = {k: v.detach() for k, v in res.items()}
    assert all(v.dtype == dt for v in res.values())
    return res, info, noise


# ----------------------------------------------------------------------------------------------
# Independent re-implementations (plain autograd / explicit backward walk), used in float64
# ----------------------------------------------------------------------------------------------
def grads(f, x, target):
    x = x.detach().clone().requires_grad_(True)
    out = f(x).gather(1, target[:, None]).sum()
    g, = torch.autograd.grad(out, x)
    return g


def replay_smoothgrad(model, x, target, noise):
    """mean / mean of squares / variance of gradients at x[b] + noise[b, k], plain autograd."""
    B, K = noise.shape[:2]
    xn = (x[:, None] + noise).reshape((B * K,) + tuple(x.shape[1:]))
    g = grads(model, xn, target.repeat_interleave(K)).reshape(noise.shape)
    mean = g.mean(1)
    sq = (g * g).mean(1)
    return dict(smoothgrad=mean, smoothgrad_sq=sq, vargrad=sq - mean * mean)


def replay_ig(f, x, target, base, method, n):
    """IG from the recorded alphas / step sizes: (x - x0) * sum_s w_s grad f(x0 + a_s (x - x0)).
    Step sizes cast to float32 as Captum does (`torch.tensor(step_sizes).float()`)."""
    steps, alphas = quad(method, n)
    w = torch.tensor(steps).float().to(x.dtype)
    bl = torch.full_like(x, base)
    tot = torch.zeros_like(x)
    for s, a in enumerate(alphas):
        tot = tot + w[s] * grads(f, bl + a * (x - bl), target)
    return tot * (x - bl)


def explicit_backward(model, x, target, relu_rule, ref=None, captum_relu_pool=False):
    """Sequential walk over the leaf modules (all four models are chains; the models' input reshapes are no-ops
    on these inputs).  relu_rule: 'guided' g*1[z>0]*1[g>0] | 'deconv' max(g,0) | 'deeplift' Rescale + Captum
    maxpool rule (ref = the baseline input).  Returns the gradient / multiplier at the input.
    captum_relu_pool: reproduce Captum's hook interplay when a MaxPool2d directly consumes a ReLU's output tensor
    (the ReLU's Rescale uses the *ordinary* maxpool gradient, i.e. the maxpool rule is lost there)."""
    leaves = [(n, m) for n, m in model.named_modules()
              if n and not list(m.children()) and not isinstance(m, Clone)]
    acts, racts = [x], [ref]
    with torch.no_grad():
        for _, m in leaves:
            acts.append(m(acts[-1]))
            if ref is not None:
                racts.append(m(racts[-1]))
    g = F.one_hot(target, acts[-1].shape[1]).to(x.dtype)
    g_plain = None   # ordinary maxpool gradient, when the pool directly follows a ReLU (captum_relu_pool)
    for i in range(len(leaves) - 1, -1, -1):
        _, m = leaves[i]
        a = acts[i]
        if isinstance(m, nn.ReLU):
            if relu_rule == 'guided':
                g = g * (a > 0).to(g) * (g > 0).to(g)
            elif relu_rule == 'deconv':
                g = g.clamp(min=0)
            else:
                din = a - racts[i]
                dout = acts[i + 1] - racts[i + 1]
                gr = g_plain if g_plain is not None else g
                g = torch.where(din.abs() < DL_EPS, g * (a > 0).to(g), gr * dout / din)
            g_plain = None
        elif isinstance(m, nn.MaxPool2d) and relu_rule == 'deeplift':
            r = racts[i]
            o, ix = F.max_pool2d(a, m.kernel_size, m.stride, return_indices=True)
            orf, ixr = F.max_pool2d(r, m.kernel_size, m.stride, return_indices=True)
            mx = torch.max(o, orf)
            size = list(a.shape[-2:])
            U = (F.max_unpool2d(g * (mx - orf), ix, m.kernel_size, m.stride, output_size=size)
                 + F.max_unpool2d(g * (o - mx), ixr, m.kernel_size, m.stride, output_size=size))
            plain = F.max_unpool2d(g, ix, m.kernel_size, m.stride, output_size=size)
            din = a - r
            g = torch.where(din.abs() < DL_EPS, plain, U / din)
            if captum_relu_pool and i > 0 and isinstance(leaves[i - 1][1], nn.ReLU):
                g_plain = plain
        else:  # conv, linear, pad, flatten, maxpool (gradient: to the first maximum of each window)
            a = a.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                g, = torch.autograd.grad(m(a), a, g)
            g_plain = None
    return g


# ----------------------------------------------------------------------------------------------
def rel_diff(a, ref):
    a, ref = np.asarray(a, np.float64), np.asarray(ref, np.float64)
    return float(np.abs(a - ref).max() / max(np.abs(ref).max(), 1e-300))


def fl(v):
    return [float(t) for t in np.asarray(v, np.float64).reshape(-1)]


METHOD_DOC = {
    'saliency': 'Saliency(abs=False): d logit[target]/dx',
    'saliency_abs': 'Saliency(abs=True): |d logit[target]/dx|',
    'saliency_softmax': 'Saliency(abs=False) of softmax(logits)[target]: d p_target/dx',
    'input_x_gradient': 'InputXGradient: x * d logit[target]/dx',
    'guided_backprop': 'GuidedBackprop: gradient with every nn.ReLU backward replaced by '
                       'g_in = relu(g_out * 1[z > 0]) = g_out * 1[z > 0] * 1[g_out > 0] (z = ReLU input); '
                       'maxpool/pad/conv/linear: ordinary gradient',
    'deconvolution': 'Deconvolution: gradient with every nn.ReLU backward replaced by g_in = relu(g_out) = '
                     'max(0, g_out) (forward sign ignored); maxpool: ordinary gradient (forward switches)',
    'logits': 'f(x), float32 [10,10]',
    'logits_zero': 'f(0) (all-zero input), every row equal',
    'logits_half': 'f(0.5 * ones), every row equal',
    'smoothgrad_noise': 'noise Captum drew (float32), [B, nt_samples, *input_shape]; Captum input row '
                        'b*nt_samples+k = x[b] + noise[b,k]',
    'smoothgrad': 'NoiseTunnel(Saliency) nt_type=smoothgrad, abs=False: mean_k g(x[b]+noise[b,k])',
    'smoothgrad_sq': 'nt_type=smoothgrad_sq: mean_k g(x[b]+noise[b,k])^2',
    'vargrad': 'nt_type=vargrad: mean_k g^2 - (mean_k g)^2 (population variance, E[g^2]-E[g]^2, not the '
               'two-pass formula)',
    'deeplift': 'DeepLift(multiply_by_inputs=True), baseline 0, Rescale rule, Captum maxpool rule',
    'deeplift_baseline_const': 'DeepLift(multiply_by_inputs=True), baseline 0.5 everywhere',
    'deeplift_consistent': 'DeepLift as deeplift, on the CNN with Clone() between act1/pool1 and act2/pool2 so '
                           'the maxpool rule applies at every MaxPool2d (summation-to-delta exact)',
    'deeplift_consistent_baseline_const': 'deeplift_consistent with baseline 0.5',
}


def main():
    torch.set_num_threads(2)
    warnings.filterwarnings('ignore')
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):      # the directory holds only this script's outputs
        if f.endswith('.npy') or f == 'manifest.json':
            os.remove(os.path.join(OUT, f))

    targets = np.load(os.path.join(ROOT, 'tests', 'fixtures', 'lrp', 'targets.npy'))
    labels = np.load(os.path.join(MODELS_DIR, 'samples', 'digits_labels.npy'))
    assert targets.tolist() == labels.tolist() == list(range(10)), targets
    target = torch.from_numpy(targets.astype(np.int64))

    ccommit = None
    pc = os.path.join(PEERS, 'captum', 'PEER_COMMIT')
    if os.path.exists(pc):
        ccommit = open(pc).read().strip()
    quad_params = {}
    for q in QUADRATURES:
        s, a = quad(q, N_STEPS)
        quad_params[f'{q}_n{N_STEPS}'] = dict(method=q, n_steps=N_STEPS, alphas=a, step_sizes=s,
                                              step_sizes_float32=torch.tensor(s).float().tolist())
    for n in STEP_SWEEP:
        s, a = quad('gausslegendre', n)
        quad_params[f'gausslegendre_n{n}'] = dict(method='gausslegendre', n_steps=n, alphas=a, step_sizes=s,
                                                  step_sizes_float32=torch.tensor(s).float().tolist())

    manifest = dict(
        generator='tests/reference/make_captum_fixtures.py',
        command='/usr/bin/python3 tests/reference/make_captum_fixtures.py',
        torch=torch.__version__, numpy=np.__version__, captum=captum.__version__, captum_commit=ccommit,
        torch_threads=torch.get_num_threads(), dtype='float32',
        targets=dict(file='tests/fixtures/lrp/targets.npy', dtype='int32', values=targets.tolist(),
                     note='true labels of models/samples/digits_labels.npy'),
        target_output='the target logit f_c(x) unless the method name says softmax (then softmax(f(x))_c)',
        compare='|xaic - ref| <= 1e-4 * max|ref| per file',
        f64_vs_f32='max|r32 - r64| / max|r64|: r64 = same Captum computation with model.double() and float64 input '
                   '(SmoothGrad: same float32 noise)',
        pool3='CNN pool3 = nn.Sequential(ConstantPad2d((0,1,0,1), -inf), MaxPool2d(2)) (bit-identical to TF-SAME '
              'max pooling 7->4); gradient methods: pad backward crops, maxpool routes to the first maximum of '
              'each window (row-major), the -inf cells never win',
        relu_rules=dict(
            gradient='g_in = g_out * 1[z > 0]   (z = ReLU input; 0 at z == 0)',
            guided_backprop='g_in = relu(g_out * 1[z > 0]) = g_out * 1[z > 0] * 1[g_out > 0] '
                            '(Captum: full backward hook on every nn.ReLU module returns F.relu(grad_input))',
            deconvolution='g_in = relu(g_out) = max(0, g_out), independent of z '
                          '(Captum: F.relu(grad_output) returned as the ReLU input gradient)',
            note='only nn.ReLU modules are hooked; maxpool, pad, conv, linear, flatten use the ordinary gradient'),
        integrated_gradients=dict(
            formula='IG(x) = (x - x0) * sum_s w_s * grad f(x0 + a_s * (x - x0)); a_s = alphas, w_s = step sizes '
                    'cast to float32 (Captum: torch.tensor(step_sizes).float()); in float32 runs x0 + a_s*(x-x0) is '
                    'computed in float32 (a_s rounded to float32)',
            alphas_source='captum.attr._utils.approximation_methods.approximation_parameters(method)',
            riemann='step sizes 1/n each (trapezoid: first and last halved, so sum = (n-1)/n); alphas from '
                    'torch.linspace in float32 (so they are float32 values): left linspace(0, 1-1/n, n), right '
                    'linspace(1/n, 1, n), middle linspace(1/(2n), 1-1/(2n), n), trapezoid linspace(0, 1, n)',
            gausslegendre='numpy leggauss(n): alphas = 0.5*(1 + nodes), step sizes = 0.5*weights (float64; the '
                          'weights are then rounded to float32 by Captum)',
            expanded_batch='Captum concatenates the scaled inputs step-major: row s*B + b = x0[b] + a_s (x[b]-x0[b])',
            convergence_delta='Captum: sum(attr) - (f(x) - f(x0)) per sample',
            params=quad_params),
        smoothgrad=dict(
            attribution='NoiseTunnel(Saliency(model)).attribute(x, nt_type=T, nt_samples=8, stdevs=0.15, '
                        'target=target, abs=False), torch.manual_seed(0) immediately before each call',
            noise_draw='one call torch.normal(0, stdev_tensor) with stdev_tensor = torch.tensor(0.15).repeat('
                       '(B*nt_samples, *input_shape)) (float32, also for the float64 run), i.e. standard normal '
                       'scaled by 0.15 in torch CPU generator order',
            layout='expanded batch = x.repeat_interleave(nt_samples, dim=0) + noise: row r = b*nt_samples + k holds '
                   'x[b] + noise_flat[r]; the saved M__smoothgrad_noise.npy is noise_flat.reshape(B, nt_samples, '
                   '*input_shape), so noise[b, k] is draw k of sample b (sample-major, draws contiguous)',
            reduce='g viewed as [B, nt_samples, ...]; S1 = sum_k g, S2 = sum_k g^2 (float32); E = S1 * 1 / n, '
                   'E2 = S2 * 1 / n; smoothgrad = E, smoothgrad_sq = E2, vargrad = E2 - E*E',
            same_noise='the three nt_types and the float64 run use bit-identical noise (asserted)'),
        deeplift=dict(
            attribution='DeepLift(model, multiply_by_inputs=True, eps=1e-10).attribute(x[b:b+1], baselines=x0, '
                        'target=c) per sample; attr = (x - x0) * m, m = the modified gradient ("multiplier")',
            linear='conv / linear / pad / flatten: ordinary backward (m_in = W^T m_out); biases cancel in deltas',
            relu='Rescale: d_in = z(x) - z(x0), d_out = relu(z(x)) - relu(z(x0)); '
                 'm_in = m_out * d_out / d_in where |d_in| >= 1e-10, else the ordinary gradient m_out * 1[z(x) > 0]',
            maxpool='Captum maxpool rule per 2x2 window: o = max of the x window at argmax p (first maximum), '
                    'o0 = max of the reference window at argmax p0, M = max(o, o0); U[p] += m_out * (M - o0), '
                    'U[p0] += m_out * (o - M) (scatter-add, p may equal p0); at every window input i: '
                    'm_in[i] = U[i] / (a_x[i] - a_0[i]) where |a_x[i] - a_0[i]| >= 1e-10, else the ordinary '
                    'gradient (m_out at i == p, 0 elsewhere).  Sum over the window of m_in*d_in = m_out*(o - o0). '
                    'pool3: the -inf pad cells give d_in = NaN there, m_in = 0/NaN = NaN, cropped by the pad '
                    'backward (never reaches the input)',
            batch_bug='Captum 0.8.0 writes grad_input[0] for the |d_in| < eps fallback of the maxpool rule; the hook '
                      'gets a tensor [2B, C, H, W], so in a batch this is sample 0\'s gradient broadcast to all '
                      'samples.  The fixtures are computed one sample per call (= own gradient, the rule above); '
                      'batched_captum_max_rel_diff in each deeplift file records the batched call\'s deviation '
                      '(here ~1e-6 rounding on the MLPs, 0 on the CNNs: with these inputs the fallback multipliers '
                      'only ever meet zero input differences, so the bug is latent)',

            relu_then_maxpool='Captum quirk (deeplift files of the CNNs): when a MaxPool2d consumes the ReLU output '
                              'tensor directly (act1->pool1, act2->pool2) both hooks sit on the same tensor and the '
                              'ReLU captures its grad_output *before* the maxpool hook rewrites it, so the ReLU '
                              'multiplier is m_z = where(|d_z| < 1e-10, g*1[z>0], g * d_a/d_z) with g = the ORDINARY '
                              'maxpool gradient (m_out routed to the first argmax of the x window). Effective rule of '
                              'M__deeplift: pool1, pool2 = plain gradient; pool3 (pad in between) = maxpool rule. '
                              'Summation-to-delta then fails (see checks). M__deeplift_consistent* = the same model with '
                              'a Clone() module in front of pool1/pool2: the maxpool rule applies everywhere',
            summation_to_delta='sum_i attr_i = f_c(x) - f_c(x0): exact up to rounding for the MLPs and for '
                               'deeplift_consistent*; NOT for the CNNs\' deeplift / deeplift_baseline_const (quirk above)'),
        precision_notes=dict(
            maxpool_near_ties='CNN ig_baseline_const: path points near the uniform 0.5 image give max-pool windows '
                              'whose entries tie up to rounding; float32 vs float64 picks different argmaxes (pool1: '
                              '2, pool2: 6 windows at alpha_0 for sample 1), hence f64_vs_f32 ~3e-4 there',
            relu_kinks='mnist_mlp_nobias smoothgrad*/vargrad: some noisy inputs put a ReLU pre-activation within '
                       'rounding of 0, so float32 and float64 disagree by up to 8e-4 (vargrad) relative'),
        checks=dict(
            smoothgrad_replay='max|captum - replay| / max|captum|, replay = plain autograd on x[b] + noise[b,k] '
                              '(float32 and float64), must be < 1e-5',
            ig_replay='max rel diff of float64 Captum IG vs float64 recomputation from the recorded alphas/steps',
            explicit='float64 Captum vs an explicit backward walk over the modules (guided: g*1[z>0]*1[g>0], deconv: '
                     'max(g,0), deeplift: rules above); must be < 1e-9'),
        models={}, files={})

    worst = dict(f64_vs_f32=0.0, explicit=0.0, smoothgrad_replay=0.0, ig_replay=0.0)
    for mname in MODELS:
        in_rel, x_np = input_for(mname)
        m32 = load_model(mname)
        m64 = copy.deepcopy(m32).double()
        x32 = torch.from_numpy(x_np)
        x64 = x32.double()
        print(f'== {mname}  input {list(x_np.shape)}', flush=True)
        cnn = isinstance(getattr(m32, 'pool3', None), nn.Sequential)
        c32 = load_model(mname, clone_before_pool=True) if cnn else None
        c64 = copy.deepcopy(c32).double() if cnn else None
        r32, i32, n32 = run_captum(m32, x32, target, mname, c32)
        r64, i64, n64 = run_captum(m64, x64, target, mname, c64)
        assert torch.equal(n32, n64), 'float32 and float64 runs drew different noise'
        fwd_ref = np.load(os.path.join(ROOT, 'tests', 'fixtures', 'forward', f'{mname}_logits.npy'))
        lg = r32['logits'].numpy()
        assert np.array_equal(lg, fwd_ref) or np.abs(lg - fwd_ref).max() <= 1e-5 * np.abs(fwd_ref).max()

        checks = {}
        # SmoothGrad replay from the recorded noise (both precisions)
        for tag, mod, x_, r_ in (('f32', m32, x32, r32), ('f64', m64, x64, r64)):
            rp = replay_smoothgrad(mod, x_, target, n32.to(x_.dtype) if tag == 'f64' else n32)
            for t in NT_TYPES:
                d = rel_diff(rp[t].numpy(), r_[t].numpy())
                checks.setdefault(t, {})[f'replay_max_rel_diff_{tag}'] = d
                worst['smoothgrad_replay'] = max(worst['smoothgrad_replay'], d)
                assert d < 1e-5, f'{mname}/{t}/{tag}: replay differs {d}'
        # IG replay (float64)
        sm64 = SoftmaxOut(m64)
        for name in [k for k in r64 if k.startswith('ig_')]:
            if name == 'ig_softmax':
                args = (sm64, 0.0, 'gausslegendre', N_STEPS)
            elif name == 'ig_baseline_const':
                args = (m64, CONST, 'gausslegendre', N_STEPS)
            elif name.startswith('ig_gausslegendre_steps'):
                args = (m64, 0.0, 'gausslegendre', int(name.split('steps')[1]))
            else:
                args = (m64, 0.0, name[3:], N_STEPS)
            f, base, q, n = args
            rp = replay_ig(f, x64, target, base, q, n)
            d = rel_diff(rp.numpy(), r64[name].numpy())
            checks.setdefault(name, {})['replay_max_rel_diff_f64'] = d
            worst['ig_replay'] = max(worst['ig_replay'], d)
            assert d < 1e-9, f'{mname}/{name}: IG replay differs {d}'
        # explicit backward walks (float64)
        walks = [('guided_backprop', 'guided', None, True), ('deconvolution', 'deconv', None, True),
                 ('deeplift', 'deeplift', 0.0, True), ('deeplift_baseline_const', 'deeplift', CONST, True)]
        if cnn:
            walks += [('deeplift_consistent', 'deeplift', 0.0, False),
                      ('deeplift_consistent_baseline_const', 'deeplift', CONST, False)]
        for name, rule, base, cap in walks:
            ref = None if base is None else torch.full_like(x64, base)
            g = explicit_backward(m64, x64, target, rule, ref, captum_relu_pool=cap)
            e = g if ref is None else (x64 - ref) * g
            d = rel_diff(e.numpy(), r64[name].numpy())
            checks.setdefault(name, {})['explicit_max_rel_diff_f64'] = d
            worst['explicit'] = max(worst['explicit'], d)
            assert d < 1e-9, f'{mname}/{name}: explicit differs {d}'
        # a plain-gradient explicit check too (same walk, ordinary ReLU) = Saliency
        sal_e = grads(m64, x64, target)
        checks.setdefault('saliency', {})['autograd_max_rel_diff_f64'] = rel_diff(sal_e.numpy(),
                                                                                  r64['saliency'].numpy())

        mm = manifest['models'][mname] = dict(
            input=in_rel, input_shape=list(x_np.shape), weights=f'models/{mname}.safetensors',
            has_bias=any(getattr(mod, 'bias', None) is not None for mod in m32.modules()),
            argmax=lg.argmax(1).tolist(), logit_of_target=fl(lg[np.arange(10), targets]))

        # completeness / summation-to-delta
        comp = {}
        for name, inf in sorted(i32.items()):
            a32 = r32[name].numpy().reshape(10, -1).astype(np.float64).sum(1)
            a64 = r64[name].numpy().reshape(10, -1).sum(1)
            df64 = (i64[name]['f_x'] - i64[name]['f_base']).numpy()
            df32 = (inf['f_x'] - inf['f_base']).numpy().astype(np.float64)
            c = dict(f_x_minus_f_base=fl(df64),
                     captum_delta_f32=fl(inf['convergence_delta'].numpy()),
                     abs_err_f32=fl(np.abs(a32 - df32)), abs_err_f64=fl(np.abs(a64 - df64)),
                     max_abs_err_f32=float(np.abs(a32 - df32).max()), max_abs_err_f64=float(np.abs(a64 - df64).max()))
            if name.startswith('deeplift'):
                bd = rel_diff(inf['batched'].numpy(), r32[name].numpy())
                c['batched_captum_max_rel_diff'] = bd
            comp[name] = c
            checks.setdefault(name, {}).update(c)
        mm['completeness_max_abs_err_f64'] = {k: v['max_abs_err_f64'] for k, v in comp.items()}
        if mname == STEP_SWEEP_MODEL:
            mm['ig_gausslegendre_steps_completeness'] = {
                str(n): dict(max_abs_err_f32=comp[f'ig_gausslegendre_steps{n}']['max_abs_err_f32'],
                             max_abs_err_f64=comp[f'ig_gausslegendre_steps{n}']['max_abs_err_f64'],
                             abs_err_f64=comp[f'ig_gausslegendre_steps{n}']['abs_err_f64'])
                for n in STEP_SWEEP}
            mm['ig_gausslegendre_steps_completeness']['50'] = dict(
                max_abs_err_f32=comp['ig_gausslegendre']['max_abs_err_f32'],
                max_abs_err_f64=comp['ig_gausslegendre']['max_abs_err_f64'],
                abs_err_f64=comp['ig_gausslegendre']['abs_err_f64'])

        # write files
        names = list(r32.keys())
        for name in names + ['smoothgrad_noise']:
            if name == 'smoothgrad_noise':
                arr, a64 = n32.numpy(), n32.numpy().astype(np.float64)
            else:
                arr, a64 = r32[name].numpy(), r64[name].numpy()
            arr = np.ascontiguousarray(arr.astype(np.float32))
            fname = f'{mname}__{name}.npy'
            np.save(os.path.join(OUT, fname), arr)
            d = rel_diff(arr, a64)
            if name != 'smoothgrad_noise':
                worst['f64_vs_f32'] = max(worst['f64_vs_f32'], d)
            flat = arr.reshape(arr.shape[0], -1).astype(np.float64)
            if name.startswith('ig_'):
                q = 'gausslegendre' if not name[3:].startswith('riemann') else name[3:]
                n = int(name.split('steps')[1]) if 'steps' in name else N_STEPS
                params = dict(n_steps=n, method=q, internal_batch_size=None, quadrature=f'{q}_n{n}',
                              baseline=CONST if name == 'ig_baseline_const' else 0.0,
                              output='softmax' if name == 'ig_softmax' else 'logit')
            elif name in NT_TYPES or name == 'smoothgrad_noise':
                params = dict(nt_type=name if name in NT_TYPES else None, nt_samples=NT_SAMPLES, stdevs=SIGMA,
                              seed=f'torch.manual_seed({NOISE_SEED})', abs=False)
            elif name.startswith('deeplift'):
                params = dict(baseline=CONST if name.endswith('const') else 0.0, multiply_by_inputs=True,
                              eps=DL_EPS, per_sample_calls=True)
            else:
                params = {}
            doc = METHOD_DOC.get(name) or (
                f'IntegratedGradients {params["method"]}, n_steps {params["n_steps"]}, baseline {params["baseline"]}, '
                f'target {params["output"]}')
            entry = dict(model=mname, method=name, what=doc, shape=list(arr.shape), dtype='float32', params=params,
                         max_abs=float(np.abs(arr).max()),
                         f64_vs_f32_max_rel_diff=d)
            if name.startswith('logits'):
                entry['values_f64'] = [fl(row) for row in a64]
            elif name != 'smoothgrad_noise':
                entry['sum_per_sample'] = fl(flat.sum(1))
                entry['sum_per_sample_f64'] = fl(a64.reshape(a64.shape[0], -1).sum(1))
            else:
                entry['std'] = float(flat.std())
                entry['mean'] = float(flat.mean())
            if name in checks:
                entry['checks'] = checks[name]
            manifest['files'][fname] = entry
            extra = ''
            if name in comp:
                extra = f'  |sum-df| {comp[name]["max_abs_err_f32"]:.2e} (f64 {comp[name]["max_abs_err_f64"]:.2e})'
                if 'batched_captum_max_rel_diff' in comp[name]:
                    extra += f'  batched {comp[name]["batched_captum_max_rel_diff"]:.2e}'
            for k in ('replay_max_rel_diff_f32', 'replay_max_rel_diff_f64', 'explicit_max_rel_diff_f64'):
                if k in checks.get(name, {}):
                    extra += f'  {k.replace("_max_rel_diff", "")} {checks[name][k]:.1e}'
            print(f'  {name:28s} max {np.abs(arr).max():9.4g}  f64/f32 {d:.1e}{extra}', flush=True)

    manifest['worst'] = worst
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print('worst', json.dumps(worst))
    print(f'wrote {os.path.relpath(OUT, ROOT)} ({len(os.listdir(OUT))} files, {total} bytes)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
