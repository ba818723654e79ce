#!/usr/bin/python3
"""Reference fixtures for xaic's ONNX importer (issue 14): torchvision CNNs with seeded random weights.

    /usr/bin/python3 tests/reference/make_onnx_fixtures.py [--only resnet18,vgg16_bn]   # from the repository root

The models are those of tests/reference/torchvision_zoo.py (seeded random weights, randomised BatchNorm); the ONNX
files are NOT committed: tests regenerate them with `torchvision_zoo.py export` and compare its state_dict sha256
with the one recorded here.  Every reference is computed twice, in float32 and in float64 (model.double(), same
weights); the float64 result is saved (as float32), the manifest records how far float32 is from it.  Inputs whose
float32 results are off by more than F64_TOL (an activation within rounding of a ReLU kink or a max-pool tie) are
rejected and the next input seed is tried (not for vgg16_bn, where no input avoids it, see NO_RETRY).
Writes tests/fixtures/onnx/MODEL/ (float32 unless noted):
  input.npy        [B,3,H,W]  smooth random images in [LOW, HIGH] = [-1, 1]
  target.npy       int32 [B]  argmax of the logits
  logits.npy       [B,1000]   PyTorch forward (eval mode)
  gradient.npy     [B,3,H,W]  d logit[target] / d input (Captum Saliency, abs=False)
  ig.npy           [B,3,H,W]  Captum IntegratedGradients, baseline 0, gausslegendre, IG_STEPS steps
  lrp_epsilon_plus.npy, lrp_epsilon_gamma_box.npy   (resnet18, resnet50, vgg16_bn) relevance at the input:
                   Zennit 0.5.1 Gradient attributor, EpsilonPlus() / EpsilonGammaBox(low=-1, high=1), canonizer
                   ResNetCanonizer (resnets) / SequentialMergeBatchNorm (vgg16_bn), output relevance = one-hot(target)
                   (the one-hot itself: Zennit multiplies it by nothing, in particular not by the logit)
  manifest.json    everything a test needs (shapes, opsets, checksum, IG parameters, rules, versions) + checks

Checks (recorded; the script fails if one does not hold):
  - float32 vs float64: max|r32 - r64| / max|r64| and the number of entries off by more than 1e-4 of max, per file;
  - IG replayed from the recorded alphas / float32 step sizes with plain autograd (float64);
  - LRP recomputed by an explicit float64 walk over the network (rules written out below, no Zennit hooks) that
    mimics Zennit's canonizer exactly; a second walk folds BatchNorm exactly (what an ONNX file holds) and the
    difference is recorded (Zennit's merged BatchNorm still divides by sqrt(1 + eps), see README);
  - conservation: per-sample sums of the relevance at the input and at stage boundaries, and Zennit with
    zero_params='bias' (biases left out of every rule), which must sum to 1 within 1e-4 for EpsilonPlus
    (recorded only for EpsilonGammaBox, see make_model_attempt);
  - the ONNX exports (opsets 13, 17) are run by a small torch.nn.functional interpreter of the ONNX graph and
    must reproduce the logits (recorded: max difference / max|logit|); their op types are recorded.

Environment: PEERS_DIR (default ~/xai-peers; Zennit from $PEERS_DIR/zennit/src, Captum from $PEERS_DIR/captum).
"""
import argparse
import hashlib
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'onnx')
PEERS = os.environ.get('PEERS_DIR', os.path.expanduser('~/xai-peers'))
for _p in (os.path.join(PEERS, 'captum'), os.path.join(PEERS, 'zennit', 'src'), HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)
import torchvision  # noqa: E402
import captum  # noqa: E402
from captum.attr import IntegratedGradients, Saliency  # noqa: E402
from captum.attr._utils.approximation_methods import approximation_parameters  # noqa: E402
import zennit  # noqa: E402
from zennit.attribution import Gradient  # noqa: E402
from zennit.canonizers import SequentialMergeBatchNorm  # noqa: E402
from zennit.composites import EpsilonGammaBox, EpsilonPlus  # noqa: E402
from zennit.torchvision import ResNetCanonizer  # noqa: E402
from torchvision.models.resnet import BasicBlock, Bottleneck  # noqa: E402

import torchvision_zoo as zoo  # noqa: E402
from make_lrp_fixtures import registered_rules, stab  # noqa: E402
from onnx_interpreter import run_onnx  # noqa: E402

LOW, HIGH = -1.0, 1.0
EPS = 1e-6          # Zennit's default epsilon (Epsilon) and stabilizer (all other rules)
GAMMA = 0.25
IG_STEPS = 16
BATCH = {'vgg16_bn': 1}          # 224x224: one sample keeps the fixture at ~3 MB
LRP = {'resnet18': 'ResNetCanonizer', 'resnet50': 'ResNetCanonizer', 'vgg16_bn': 'SequentialMergeBatchNorm'}
CANONIZERS = {'ResNetCanonizer': ResNetCanonizer, 'SequentialMergeBatchNorm': SequentialMergeBatchNorm}
F64_TOL = 1e-5          # float32 vs float64 (relative to max|ref|): beyond this the input sits on a kink, see below
INPUT_TRIES = 4
# vgg16_bn at 224x224 has ~1e6 max-pool windows: some always tie to within float32 rounding, so float32 (PyTorch's
# or xaic's) moves a few gradient/relevance entries to a neighbour pixel.  No input avoids that; the manifest
# records how many entries move, and the saved references are float64 results, free of such flips.
NO_RETRY = {'vgg16_bn'}
EXPLICIT_TOL = 1e-9     # Zennit vs the explicit walk, both float64
CONSERVATION_TOL = 1e-4


class Fragile(Exception):
    """float32 and float64 disagree: a ReLU input or a max-pool window sits within rounding of a kink/tie."""


def make_input(name, batch, attempt=0):
    """Smooth random images in [LOW, HIGH] = [-1, 1] (torchvision_zoo.calibration_images: 4x4 uniform cells,
    bilinear upsampling, +-0.25 uniform noise, clamped).  Attempt k uses seed model_seed + 2 + 1000 k (see
    Fragile); the BatchNorm calibration used model_seed + 3, i.e. other images."""
    return zoo.calibration_images(name, batch, seed=zoo.model_seed(name) + 2 + 1000 * attempt).contiguous()


def rel_diff(a, ref):
    a, ref = np.asarray(a, np.float64), np.asarray(ref, np.float64)
    return float(np.abs(a - ref).max() / max(np.abs(ref).max(), 1e-300))


def sums(r):
    return [float(v) for v in r.reshape(r.shape[0], -1).double().sum(1)]


# ----------------------------------------------------------------------------------------------
# Captum
# ----------------------------------------------------------------------------------------------
def captum_gradient(model, x, target):
    return Saliency(model).attribute(x, target=target, abs=False).detach()


def captum_ig(model, x, target):
    ig = IntegratedGradients(model)
    attr, delta = ig.attribute(x, baselines=torch.zeros_like(x), target=target, n_steps=IG_STEPS,
                               method='gausslegendre', internal_batch_size=x.shape[0], return_convergence_delta=True)
    return attr.detach(), [float(d) for d in delta]


def ig_replay(model, x, target):
    """(x - 0) * sum_s w_s grad f(a_s x), w_s rounded to float32 as Captum does; plain autograd."""
    step_fn, alpha_fn = approximation_parameters('gausslegendre')
    w = torch.tensor(step_fn(IG_STEPS)).float().to(x.dtype)
    total = torch.zeros_like(x)
    for s, a in enumerate(alpha_fn(IG_STEPS)):
        xs = (a * x).detach().requires_grad_(True)
        y = model(xs).gather(1, target[:, None]).sum()
        g, = torch.autograd.grad(y, xs)
        total += w[s] * g
    return x * total


# ----------------------------------------------------------------------------------------------
# Zennit
# ----------------------------------------------------------------------------------------------
def composite(kind, canonizer, x, zero_params=None):
    canon = [CANONIZERS[canonizer]()]
    if kind == 'epsilon_plus':
        return EpsilonPlus(epsilon=EPS, stabilizer=EPS, zero_params=zero_params, canonizers=canon)
    return EpsilonGammaBox(low=torch.full_like(x, LOW), high=torch.full_like(x, HIGH), epsilon=EPS, gamma=GAMMA,
                           stabilizer=EPS, zero_params=zero_params, canonizers=canon)


def zennit_lrp(model, kind, canonizer, x, target, zero_params=None):
    x = x.clone().requires_grad_(True)
    with Gradient(model=model, composite=composite(kind, canonizer, x, zero_params)) as attributor:
        rules = registered_rules(model)
        out, rel = attributor(x, lambda o: F.one_hot(target, o.shape[1]).to(o.dtype))
    left = [k for k, m in model.named_modules() if m._forward_pre_hooks or m._backward_hooks]
    assert not left, f'hooks left after removal: {left}'
    return out.detach(), rel.detach(), rules


def summarise_rules(rows):
    """[[name, type, rule]] -> {rule: {module type: count}} plus the names of the special cases."""
    table = {}
    for name, typ, rule in rows:
        table.setdefault(rule, {}).setdefault(typ, 0)
        table[rule][typ] += 1
    return table


# ----------------------------------------------------------------------------------------------
# Explicit LRP walk (float64), independent of Zennit's hooks.  Rules (Walk.linear):
#   EpsilonPlus:     every Conv2d ZPlus(1e-6), every Linear Epsilon(1e-6)
#   EpsilonGammaBox: first Conv2d (module order: conv1 / features.0) ZBox(-1, 1), other Conv2d Gamma(0.25),
#                    every Linear Epsilon(1e-6)
#   ReLU and BatchNorm: pass; MaxPool: gradient; AvgPool (adaptive): Norm; residual sum: Norm
#   Norm: R_i = a_i * R / stab(sum_i a_i, 1e-6)  (the Sum over [identity, residual]; the AvgPool over its window)
# Every BatchNorm that directly follows a Conv2d is merged into it (W' = W s, b' = (b - mean) s + beta,
# s = gamma / sqrt(var + eps)).  zennit_bn=True also reproduces what Zennit's MergeBatchNorm leaves behind: the
# BatchNorm is set to mean 0, var 1, weight 1, bias 0, but eval-mode BN still divides by sqrt(1 + eps), so every
# merged layer's output is scaled by 1/sqrt(1 + eps) in the forward pass (the rules see the unscaled W'a + b').
# ----------------------------------------------------------------------------------------------
class Folded:
    """A Conv2d/Linear with its following BatchNorm merged (the attributes explicit_rule reads)."""
    def __init__(self, mod, bn=None, zennit_bn=False):
        w = mod.weight.detach().double()
        b = mod.bias.detach().double() if mod.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64)
        self.after = 1.0
        if bn is not None:
            s = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
            w = w * s.reshape(-1, *([1] * (w.ndim - 1)))
            b = (b - bn.running_mean.double()) * s + bn.bias.detach().double()
            if zennit_bn:
                self.after = 1.0 / np.sqrt(1.0 + bn.eps)
        self.weight, self.bias = w, b
        self.is_conv = isinstance(mod, nn.Conv2d)
        if self.is_conv:
            assert mod.groups == 1 and mod.dilation == (1, 1)
            self.stride, self.padding = mod.stride, mod.padding

    def __call__(self, a):
        z = F.conv2d(a, self.weight, self.bias, self.stride, self.padding) if self.is_conv \
            else a @ self.weight.t() + self.bias
        return z * self.after


def _rule_for(kind, first):
    if kind == 'epsilon_plus':
        return {'conv': ('zplus', EPS), 'dense': ('epsilon', EPS)}
    return {'conv': ('gamma', GAMMA, EPS), 'dense': ('epsilon', EPS), 'first': ('zbox', LOW, HIGH, EPS)}


class Walk:
    def __init__(self, kind):
        self.kind, self.first_done, self.trace = kind, False, {}

    def rule(self, layer):
        rules = _rule_for(self.kind, None)
        if not layer.is_conv:
            return rules['dense']
        if not self.first_done:
            self.first_done = True
            return rules.get('first', rules['conv'])
        return rules['conv']

    @staticmethod
    def linear(layer, a, R):
        """Zennit 0.5.1's rules written out (the formulas of tests/reference/README.md, LRP section)."""
        if layer.is_conv:
            def fwd(inp, w, b):
                return F.conv2d(inp, w, b, layer.stride, layer.padding)

            def bwd(s, w):
                return torch.nn.grad.conv2d_input(a.shape, w, s, layer.stride, layer.padding)
        else:
            def fwd(inp, w, b):
                return inp @ w.t() + b

            def bwd(s, w):
                return s @ w
        W, b = layer.weight, layer.bias
        zb = torch.zeros_like(b)
        ap, an, Wp, Wn, bp, bn = a.clamp(min=0), a.clamp(max=0), W.clamp(min=0), W.clamp(max=0), \
            b.clamp(min=0), b.clamp(max=0)
        kind = layer.rule_tuple[0]
        if kind == 'epsilon':          # z = Wa + b
            s = R / stab(fwd(a, W, b), layer.rule_tuple[1])
            return a * bwd(s, W)
        if kind == 'zplus':            # z = W+ a+ + W- a- + b+
            s = R / stab(fwd(ap, Wp, bp) + fwd(an, Wn, zb), layer.rule_tuple[1])
            return ap * bwd(s, Wp) + an * bwd(s, Wn)
        if kind == 'gamma':            # sign of z = Wa + b picks the positive or the negative part
            g, e = layer.rule_tuple[1:]
            Gp, Gn, cp, cn = W + g * Wp, W + g * Wn, b + g * bp, b + g * bn
            z = fwd(a, W, b)
            sp = R * (z > 0).to(z) / stab(fwd(ap, Gp, cp) + fwd(an, Gn, zb), e)
            sn = R * (z < 0).to(z) / stab(fwd(ap, Gn, cn) + fwd(an, Gp, zb), e)
            return ap * bwd(sp, Gp) + an * bwd(sp, Gn) + ap * bwd(sn, Gn) + an * bwd(sn, Gp)
        if kind == 'zbox':             # z = (Wa + b) - (W+ l + b+) - (W- h + b-): the bias cancels
            lo, hi, e = layer.rule_tuple[1:]
            L, H = torch.full_like(a, lo), torch.full_like(a, hi)
            s = R / stab(fwd(a, W, b) - fwd(L, Wp, bp) - fwd(H, Wn, bn), e)
            return a * bwd(s, W) - L * bwd(s, Wp) - H * bwd(s, Wn)
        raise ValueError(kind)

    @staticmethod
    def grad(fn, a, R):
        a = a.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            g, = torch.autograd.grad(fn(a), a, R)
        return g

    @staticmethod
    def norm(parts, R):
        z = stab(sum(parts), EPS)
        return [p * R / z for p in parts]

    def avgpool_norm(self, pool, a, R):
        return a * self.grad(pool, a, R / stab(pool(a), EPS))


def explicit_resnet(model, kind, x, target, zennit_bn):
    """Explicit LRP on a torchvision ResNet (BasicBlock/Bottleneck) -> (logits, R_in, {point: per-sample sums})."""
    walk = Walk(kind)
    stem = Folded(model.conv1, model.bn1, zennit_bn)
    stem.rule_tuple = walk.rule(stem)
    blocks = []
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        for blk in layer:
            names = ['conv1', 'conv2'] + (['conv3'] if isinstance(blk, Bottleneck) else [])
            convs = [Folded(getattr(blk, c), getattr(blk, 'bn' + c[-1]), zennit_bn) for c in names]
            down = Folded(blk.downsample[0], blk.downsample[1], zennit_bn) if blk.downsample is not None else None
            for c in convs + ([down] if down else []):
                c.rule_tuple = walk.rule(c)
            assert isinstance(blk, (BasicBlock, Bottleneck))
            blocks.append((convs, down))
    fc = Folded(model.fc)
    fc.rule_tuple = walk.rule(fc)
    pool = model.maxpool
    avg = model.avgpool
    with torch.no_grad():
        h0 = F.relu(stem(x))
        u = pool(h0)
        saved = []
        for convs, down in blocks:
            acts = [u]
            for c in convs[:-1]:
                acts.append(F.relu(c(acts[-1])))
            res = convs[-1](acts[-1])
            idn = down(u) if down else u
            saved.append((acts, res, idn))
            u = F.relu(idn + res)
        feat = torch.flatten(avg(u), 1)
        y = fc(feat)
    R = F.one_hot(target, y.shape[1]).to(y.dtype)
    profile = {'logits (one-hot)': sums(R)}
    R = walk.linear(fc, feat, R)
    profile['fc input'] = sums(R)
    R = walk.avgpool_norm(avg, u, R.reshape(avg(u).shape))
    profile['avgpool input'] = sums(R)
    for k in range(len(blocks) - 1, -1, -1):
        (convs, down), (acts, res, idn) = blocks[k], saved[k]
        r_idn, r_res = walk.norm([idn, res], R)            # ReLU after the sum: pass
        for c, a in zip(reversed(convs), reversed(acts)):
            r_res = walk.linear(c, a, r_res)                # ReLUs between convs: pass
        R = r_res + (walk.linear(down, acts[0], r_idn) if down else r_idn)
        profile[f'block {k} input'] = sums(R)
    R = walk.grad(pool, h0, R)
    profile['maxpool input'] = sums(R)
    R = walk.linear(stem, x, R)
    profile['input'] = sums(R)
    return y, R, profile


def explicit_vgg(model, kind, x, target, zennit_bn):
    walk = Walk(kind)
    feats = list(model.features)
    steps = []
    i = 0
    while i < len(feats):
        m = feats[i]
        if isinstance(m, nn.Conv2d):
            bn = feats[i + 1] if i + 1 < len(feats) and isinstance(feats[i + 1], nn.BatchNorm2d) else None
            c = Folded(m, bn, zennit_bn)
            c.rule_tuple = walk.rule(c)
            steps.append(('linear', c))
            i += 2 if bn is not None else 1
        elif isinstance(m, nn.ReLU):
            steps.append(('relu', None))
            i += 1
        elif isinstance(m, nn.MaxPool2d):
            steps.append(('grad', m))
            i += 1
        else:
            raise ValueError(m)
    steps.append(('avgnorm', model.avgpool))
    steps.append(('flatten', None))
    for m in model.classifier:
        if isinstance(m, nn.Linear):
            c = Folded(m)
            c.rule_tuple = walk.rule(c)
            steps.append(('linear', c))
        elif isinstance(m, nn.ReLU):
            steps.append(('relu', None))
        elif not isinstance(m, nn.Dropout):      # eval-mode Dropout: identity, no step
            raise ValueError(m)
    acts = [x]
    with torch.no_grad():
        for kind_, m in steps:
            a = acts[-1]
            acts.append(F.relu(a) if kind_ == 'relu' else torch.flatten(a, 1) if kind_ == 'flatten' else m(a))
    y = acts[-1]
    R = F.one_hot(target, y.shape[1]).to(y.dtype)
    profile = {'logits (one-hot)': sums(R)}
    for k in range(len(steps) - 1, -1, -1):
        kind_, m = steps[k]
        a = acts[k]
        if kind_ == 'linear':
            R = walk.linear(m, a, R)
        elif kind_ == 'grad':
            R = walk.grad(m, a, R)
        elif kind_ == 'avgnorm':
            R = walk.avgpool_norm(m, a, R)
            profile['avgpool input'] = sums(R)
        elif kind_ == 'flatten':
            R = R.reshape(a.shape)
    profile['input'] = sums(R)
    return y, R, profile


# ----------------------------------------------------------------------------------------------
# ONNX exports: op types + an interpreter run against the PyTorch logits
# ----------------------------------------------------------------------------------------------
def check_exports(model, name, x, logits):
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for opset in zoo.OPSETS:
            path = os.path.join(tmp, f'{name}_{opset}.onnx')
            zoo.export(model, name, opset, path)
            with open(path, 'rb') as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            y = run_onnx(path, x.numpy())['y'].numpy()
            out[str(opset)] = dict(op_types=zoo.onnx_op_types(path), bytes=os.path.getsize(path),
                                   onnx_sha256_when_made=digest,
                                   interpreter_max_abs_diff_over_max_abs_logit=rel_diff(y, logits))
            os.remove(path)
    return out


def describe(arr):
    a = np.asarray(arr)
    d = dict(shape=list(a.shape), dtype=str(a.dtype))
    if a.dtype.kind == 'f':
        d.update(max_abs=float(np.abs(a).max()), sum_per_sample=[float(v) for v in
                                                                  a.reshape(a.shape[0], -1).astype(np.float64).sum(1)])
    return d


def make_model(name, manifest_common):
    """Try input seeds until no output is fragile in float32 (each output within F64_TOL of float64); after
    INPUT_TRIES rejections take the least fragile attempt as it is (the manifest says so)."""
    rejected = []
    for attempt in range(INPUT_TRIES):
        try:
            return make_model_attempt(name, manifest_common, attempt, rejected, strict=name not in NO_RETRY)
        except Fragile as exc:
            print(f'{name}: input attempt {attempt} rejected: {exc}', flush=True)
            rejected.append(dict(attempt=attempt, reason=str(exc), worst=exc.args[1]))
    best = min(rejected, key=lambda r: r['worst'])['attempt']
    print(f'{name}: no robust input in {INPUT_TRIES} attempts, keeping attempt {best}', flush=True)
    return make_model_attempt(name, manifest_common, best, rejected, strict=False)


def make_model_attempt(name, manifest_common, attempt, rejected, strict):
    t0 = time.time()
    batch = BATCH.get(name, 2)
    model = zoo.build(name)
    digest = zoo.state_dict_sha256(model)
    assert digest == zoo.state_dict_sha256(zoo.build(name)), 'two builds differ'
    x = make_input(name, batch, attempt)
    with torch.no_grad():
        logits = model(x)
    target = logits.argmax(1)
    top2 = logits.topk(2, dim=1).values
    m64 = zoo.build(name).double()
    x64, t = x.double(), target
    files, checks = {}, {}

    arrays = {}

    def save(key, arr, r32=None, **extra):
        """Record arr (the float64 result when r32, the same computed in float32, is given); written only once
        the whole attempt is robust."""
        arr = arr.numpy() if torch.is_tensor(arr) else arr
        arr = np.ascontiguousarray(arr.astype(np.int32 if key == 'target' else np.float32))
        arrays[key] = arr
        files[key] = dict(file=f'tests/fixtures/onnx/{name}/{key}.npy', **describe(arr), **extra)
        if r32 is not None:
            r32 = r32.numpy()
            d = rel_diff(r32, arr)
            over = np.abs(r32.astype(np.float64) - arr) > 1e-4 * np.abs(arr).max()
            files[key].update(computed_in='float64 (model.double()), saved as float32', float32_vs_float64=d,
                              float32_entries_off_by_over_1e_4_of_max=int(over.sum()), entries=int(over.size))
            if d > F64_TOL and strict:
                raise Fragile(f'{key}: max|r32 - r64| / max|r64| = {d:.2e}', d)

    save('input', x, range=[LOW, HIGH])
    save('target', target, note='argmax of logits')
    with torch.no_grad():
        save('logits', m64(x64), logits)
    save('gradient', captum_gradient(m64, x64, t), captum_gradient(model, x, t),
         method='captum.attr.Saliency(model).attribute(x, target, abs=False): d logit[target] / d x')
    ig32, delta32 = captum_ig(model, x, t)
    ig64, delta64 = captum_ig(m64, x64, t)
    replay = ig_replay(m64, x64, t)
    checks['ig_replay_vs_captum_float64'] = rel_diff(replay.numpy(), ig64.numpy())
    assert checks['ig_replay_vs_captum_float64'] < 1e-10, checks
    save('ig', ig64, ig32, convergence_delta_float32=delta32, convergence_delta_float64=delta64,
         method=f'captum IntegratedGradients, baselines=0, n_steps={IG_STEPS}, method=gausslegendre, '
                f'internal_batch_size={batch}')

    lrp = {}
    if name in LRP:
        canon = LRP[name]
        explicit = explicit_resnet if canon == 'ResNetCanonizer' else explicit_vgg
        for kind in ('epsilon_plus', 'epsilon_gamma_box'):
            out32, r32, rules = zennit_lrp(model, kind, canon, x, t)
            out64, r64, _ = zennit_lrp(m64, kind, canon, x64, t)
            _, r_nobias, _ = zennit_lrp(m64, kind, canon, x64, t, zero_params='bias')
            y_same, r_same, profile = explicit(m64, kind, x64, t, zennit_bn=True)
            y_exact, r_exact, profile_exact = explicit(m64, kind, x64, t, zennit_bn=False)
            info = dict(
                zennit_vs_explicit_float64=rel_diff(r64.numpy(), r_same.numpy()),
                zennit_canonized_logits_vs_pytorch=rel_diff(out32.numpy(), logits.numpy()),
                exact_bn_fold_vs_zennit_float64=rel_diff(r_exact.numpy(), r64.numpy()),
                exact_bn_fold_logits_vs_zennit_canonized_float64=rel_diff(y_exact.numpy(), out64.numpy()),
                sum_zero_params_bias=sums(r_nobias),
                relevance_sums_along_the_network=profile,
                relevance_sums_exact_bn_fold=profile_exact,
            )
            assert info['zennit_vs_explicit_float64'] < EXPLICIT_TOL, (name, kind, info)
            # ZPlus divides by z+ = W+a+ + W-a-, a sum of non-negative terms: without biases it conserves up to the
            # stabiliser.  Gamma's z+/z- use the gamma-modified weights while the unmodified z picks the part, so a
            # unit can meet a near-zero denominator and the stabiliser absorbs (relevance of either sign): recorded.
            if kind == 'epsilon_plus':
                assert max(abs(s - 1) for s in info['sum_zero_params_bias']) < CONSERVATION_TOL, (name, kind, info)
            comp = ('EpsilonPlus(epsilon=1e-6, stabilizer=1e-6)' if kind == 'epsilon_plus' else
                    f'EpsilonGammaBox(low={LOW}, high={HIGH}, epsilon=1e-6, gamma={GAMMA}, stabilizer=1e-6)')
            save('lrp_' + kind, r64, r32, composite=comp + f', canonizers=[{canon}()]',
                 attributor='zennit.attribution.Gradient(model, composite)(x, one_hot(target)); relevance = '
                            'its input gradient', output_relevance='one-hot(target), not multiplied by the logit',
                 checks=info)
            lrp[kind] = dict(rules=rules, rule_summary=summarise_rules(rules))
    exports = check_exports(model, name, x, logits.numpy())
    for opset, e in exports.items():
        assert e['interpreter_max_abs_diff_over_max_abs_logit'] < 1e-4, (name, opset, e)
    manifest = dict(
        manifest_common, model=name, torchvision_builder=f'torchvision.models.{name}(weights=None)',
        seed=zoo.model_seed(name), state_dict_sha256=digest, opsets=list(zoo.OPSETS),
        export=f"torchvision_zoo.py export {name} --opset N -o FILE: torch.onnx.export(model, zeros{list(x.shape)}, "
               "FILE, opset_version=N, input_names=['x'], output_names=['y'], "
               "dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}})",
        input_shape=list(x.shape), batch=batch, low=LOW, high=HIGH, target=target.tolist(),
        input_seed=zoo.model_seed(name) + 2 + 1000 * attempt, input_attempts_rejected=rejected,
        input_robust_in_float32=strict,
        top1_minus_top2_logit=[float(v) for v in top2[:, 0] - top2[:, 1]],
        ig=dict(n_steps=IG_STEPS, method='gausslegendre', baseline=0.0, internal_batch_size=batch,
                alphas=[float(a) for a in approximation_parameters('gausslegendre')[1](IG_STEPS)],
                step_sizes_float32=[float(w) for w in torch.tensor(
                    approximation_parameters('gausslegendre')[0](IG_STEPS)).float()]),
        files=files, checks=checks, exports=exports, seconds=round(time.time() - t0, 1))
    if lrp:
        manifest['lrp'] = dict(
            canonizer=LRP[name], epsilon=EPS, stabilizer=EPS, gamma=GAMMA, zbox_low=LOW, zbox_high=HIGH,
            output_relevance='one-hot(target) (Gradient attributor attr_output; nothing multiplies it)',
            composites=lrp)
    os.makedirs(os.path.join(OUT, name), exist_ok=True)
    for f in os.listdir(os.path.join(OUT, name)):     # the folder holds only this script's outputs
        os.remove(os.path.join(OUT, name, f))
    for key, arr in arrays.items():
        np.save(os.path.join(OUT, name, key + '.npy'), arr)
    with open(os.path.join(OUT, name, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    print(f'{name}: {time.time() - t0:.0f}s target {target.tolist()}', flush=True)
    for key, d in files.items():
        extra = ''
        if 'checks' in d:
            c = d['checks']
            extra = (f" explicit {c['zennit_vs_explicit_float64']:.1e} exact-bn {c['exact_bn_fold_vs_zennit_float64']:.1e}"
                     f" nobias-sums {[round(s, 7) for s in c['sum_zero_params_bias']]}")
        print(f"  {key:22s} {d['shape']} max {d.get('max_abs', 0):.3g} f64 {d.get('float32_vs_float64', 0):.1e}{extra}",
              flush=True)


def versions():
    info = dict(torch=torch.__version__, torchvision=torchvision.__version__, numpy=np.__version__,
                captum=captum.__version__, zennit='0.5.1', torch_threads=torch.get_num_threads())
    import onnx
    info['onnx'] = onnx.__version__
    for peer in ('zennit', 'captum'):
        path = os.path.join(PEERS, peer, 'PEER_COMMIT')
        if os.path.exists(path):
            info[peer + '_commit'] = open(path).read().strip()
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--only', default='', help='comma list of models (default: all of torchvision_zoo.MODELS)')
    args = ap.parse_args()
    torch.set_num_threads(2)
    names = args.only.split(',') if args.only else list(zoo.MODELS)
    common = dict(generator='tests/reference/make_onnx_fixtures.py',
                  command='/usr/bin/python3 tests/reference/make_onnx_fixtures.py', versions=versions(),
                  weights='tests/reference/torchvision_zoo.py build(): torch.manual_seed(seed), torchvision init, '
                          'randomised BatchNorm statistics and affine parameters, zero biases randomised')
    for name in names:
        make_model(name, common)
    return 0


if __name__ == '__main__':
    sys.exit(main())
