#!/usr/bin/python3
"""LRP reference fixtures, computed with Zennit 0.5.1 on PyTorch (independent of xaic).

    /usr/bin/python3 tests/reference/make_lrp_fixtures.py        # from the repository root

Writes tests/fixtures/lrp/:
  targets.npy                 int32 [10]  target class per sample (= the true labels 0..9)
  M__logits.npy               float32 [10,10]  logits of model M on the sample digits
  M__CONFIG.npy               float32, the input's shape ([10,1,28,28] CNNs, [10,784] MLPs): relevance at the
                              input, Zennit `Gradient` attributor + composite CONFIG, output relevance =
                              one-hot(target) (NOT multiplied by the logit)
  mnist_cnn__epsilon_plus__at_act2.npy   float32 [10,64,14,14]  relevance at the output of act2 (2nd ReLU)
  mnist_cnn__epsilon_plus__at_flat.npy   float32 [10,2048]      relevance at the input of fc1 (flattened pool3)
  manifest.json               versions, command, per file: model, config, the rule Zennit attached to every
                              module, max |value|, per-sample sums, float64-vs-float32 difference, ...

M in mnist_mlp, mnist_mlp_nobias, mnist_cnn, mnist_cnn_nobias (models/*.safetensors, modules built by
models/train.py).  Only change to the module tree: the CNN's `pool3` (TF-SAME max pooling, 7 -> 4) is the
equivalent nn.Sequential(ConstantPad2d((0,1,0,1), -inf), MaxPool2d(2)) (checked bit-identical in the
forward pass), so Zennit sees the pad and the pooling as separate plain-gradient modules.

Every configuration is computed twice: float32 (what is saved) and float64 (model.double()); the manifest
records max|r32 - r64| / max|r64|, i.e. how much float32 rounding alone moves the reference.  As an
independent check the script also recomputes every float64 result with a small explicit LRP implementation
(formulas written out below, no Zennit hooks) and fails if it disagrees with Zennit.

Environment: PEERS_DIR (default ~/xai-peers; Zennit is imported from $PEERS_DIR/zennit/src),
PEERS_HARNESS (safetensors_io.py; default <repo>/../shared/peers).
"""
import copy
import json
import os
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'lrp')
MODELS_DIR = os.path.join(ROOT, 'models')
PEERS = os.environ.get('PEERS_DIR', os.path.expanduser('~/xai-peers'))
sys.path.insert(0, os.path.join(PEERS, 'zennit', 'src'))
sys.path.insert(0, os.path.abspath(os.environ.get('PEERS_HARNESS', os.path.join(ROOT, '..', 'shared', 'peers'))))
sys.path.insert(0, MODELS_DIR)
import train as models_train  # noqa: E402  (module classes of the bundled models)
import zennit  # noqa: E402
from zennit.attribution import Gradient  # noqa: E402
from zennit.composites import (LayerMapComposite, SpecialFirstLayerMapComposite, layer_map_base,  # noqa: E402
                               EpsilonPlus, EpsilonPlusFlat, EpsilonGammaBox, EpsilonAlpha2Beta1,
                               EpsilonAlpha2Beta1Flat, ExcitationBackprop)
from zennit.core import Stabilizer, ParamMod  # noqa: E402
from zennit.rules import Epsilon, ZPlus, AlphaBeta, Gamma, ZBox, WSquare, Flat  # noqa: E402
from zennit.types import Linear as ZLinear  # noqa: E402  (Conv1d/2d/3d, ConvTranspose*, nn.Linear)

MODELS = ['mnist_mlp', 'mnist_mlp_nobias', 'mnist_cnn', 'mnist_cnn_nobias']
EPS = 1e-6
LOW, HIGH = 0.0, 1.0
INTERMEDIATE = ('mnist_cnn', 'epsilon_plus', {'at_act2': 'act2', 'at_flat': 'flat'})
CONSERVATION_TOL = 1e-5


# ----------------------------------------------------------------------------------------------
# Configurations.  Each is (a) a Zennit composite factory and (b) an independent rule spec used by the
# explicit re-implementation below: rule tuples ('epsilon', eps) ('zplus', stab) ('alphabeta', a, b, stab)
# ('gamma', g, stab) ('zbox', low, high, stab) ('wsquare', stab) ('flat', stab).
#   spec = dict(first=(types, rule) or None, conv=rule, dense=rule, relu='pass'|'gradient')
#   first types: 'linear' = first Conv2d-or-Linear in module order, 'conv' = first Conv2d only
# ----------------------------------------------------------------------------------------------
def _custom(rule, first=None):
    """every linear layer (Conv2d, Linear) gets `rule`; optionally the first one gets `first`;
    plus layer_map_base (ReLU -> Pass, BatchNorm -> Pass, Sum/AvgPool -> Norm)."""
    def make():
        layer_map = layer_map_base() + [(ZLinear, rule())]
        if first is None:
            return LayerMapComposite(layer_map=layer_map)
        return SpecialFirstLayerMapComposite(layer_map=layer_map, first_map=[(ZLinear, first())])
    return make


CONFIGS = {
    # name: (composite factory, spec, description)
    'epsilon': (_custom(lambda: Epsilon(epsilon=EPS)),
                dict(first=None, conv=('epsilon', EPS), dense=('epsilon', EPS), relu='pass'),
                'every Conv2d/Linear Epsilon(1e-6)'),
    'epsilon_025': (_custom(lambda: Epsilon(epsilon=0.25)),
                    dict(first=None, conv=('epsilon', 0.25), dense=('epsilon', 0.25), relu='pass'),
                    'every Conv2d/Linear Epsilon(0.25)'),
    'zplus': (_custom(lambda: ZPlus(stabilizer=EPS)),
              dict(first=None, conv=('zplus', EPS), dense=('zplus', EPS), relu='pass'),
              'every Conv2d/Linear ZPlus(stabilizer=1e-6)'),
    'alpha2_beta1': (_custom(lambda: AlphaBeta(2, 1)),
                     dict(first=None, conv=('alphabeta', 2, 1, EPS), dense=('alphabeta', 2, 1, EPS), relu='pass'),
                     'every Conv2d/Linear AlphaBeta(alpha=2, beta=1) (stabilizer 1e-6)'),
    'alpha1_beta0': (_custom(lambda: AlphaBeta(1, 0)),
                     dict(first=None, conv=('alphabeta', 1, 0, EPS), dense=('alphabeta', 1, 0, EPS), relu='pass'),
                     'every Conv2d/Linear AlphaBeta(alpha=1, beta=0) (stabilizer 1e-6)'),
    'gamma': (_custom(lambda: Gamma(gamma=0.25)),
              dict(first=None, conv=('gamma', 0.25, EPS), dense=('gamma', 0.25, EPS), relu='pass'),
              'every Conv2d/Linear Gamma(gamma=0.25) (stabilizer 1e-6)'),
    'gamma_1': (_custom(lambda: Gamma(gamma=1.0)),
                dict(first=None, conv=('gamma', 1.0, EPS), dense=('gamma', 1.0, EPS), relu='pass'),
                'every Conv2d/Linear Gamma(gamma=1.0) (stabilizer 1e-6)'),
    'zbox_first': (_custom(lambda: Epsilon(epsilon=EPS), first=lambda: ZBox(low=LOW, high=HIGH)),
                   dict(first=('linear', ('zbox', LOW, HIGH, EPS)), conv=('epsilon', EPS), dense=('epsilon', EPS),
                        relu='pass'),
                   'first Conv2d/Linear ZBox(low=0, high=1), all others Epsilon(1e-6)'),
    'wsquare_first': (_custom(lambda: Epsilon(epsilon=EPS), first=lambda: WSquare()),
                      dict(first=('linear', ('wsquare', EPS)), conv=('epsilon', EPS), dense=('epsilon', EPS),
                           relu='pass'),
                      'first Conv2d/Linear WSquare(), all others Epsilon(1e-6)'),
    'flat_first': (_custom(lambda: Epsilon(epsilon=EPS), first=lambda: Flat()),
                   dict(first=('linear', ('flat', EPS)), conv=('epsilon', EPS), dense=('epsilon', EPS), relu='pass'),
                   'first Conv2d/Linear Flat(), all others Epsilon(1e-6)'),
    # Zennit's built-in composites, default arguments
    'epsilon_plus': (lambda: EpsilonPlus(),
                     dict(first=None, conv=('zplus', EPS), dense=('epsilon', EPS), relu='pass'),
                     'zennit.composites.EpsilonPlus()'),
    'epsilon_plus_flat': (lambda: EpsilonPlusFlat(),
                          dict(first=('linear', ('flat', EPS)), conv=('zplus', EPS), dense=('epsilon', EPS),
                               relu='pass'),
                          'zennit.composites.EpsilonPlusFlat()'),
    'epsilon_gamma_box': (lambda: EpsilonGammaBox(low=LOW, high=HIGH),
                          dict(first=('conv', ('zbox', LOW, HIGH, EPS)), conv=('gamma', 0.25, EPS),
                               dense=('epsilon', EPS), relu='pass'),
                          'zennit.composites.EpsilonGammaBox(low=0., high=1.)'),
    'epsilon_alpha2_beta1': (lambda: EpsilonAlpha2Beta1(),
                             dict(first=None, conv=('alphabeta', 2, 1, EPS), dense=('epsilon', EPS), relu='pass'),
                             'zennit.composites.EpsilonAlpha2Beta1()'),
    'epsilon_alpha2_beta1_flat': (lambda: EpsilonAlpha2Beta1Flat(),
                                  dict(first=('linear', ('flat', EPS)), conv=('alphabeta', 2, 1, EPS),
                                       dense=('epsilon', EPS), relu='pass'),
                                  'zennit.composites.EpsilonAlpha2Beta1Flat()'),
    'excitation_backprop': (lambda: ExcitationBackprop(),
                            dict(first=None, conv=('zplus', EPS), dense=('zplus', EPS), relu='gradient'),
                            'zennit.composites.ExcitationBackprop() (no ReLU rule: the ReLU gradient is used)'),
}


# ----------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------
def load_model(name):
    m = models_train.load(name)
    if isinstance(getattr(m, 'pool3', None), models_train.MaxPoolSame):
        ref = m.pool3
        m.pool3 = nn.Sequential(nn.ConstantPad2d((0, 1, 0, 1), float('-inf')), nn.MaxPool2d(2))
        t = torch.randn(3, 128, 7, 7, generator=torch.Generator().manual_seed(7))
        assert torch.equal(ref(t), m.pool3(t)), 'pool3 replacement differs from MaxPoolSame'
    return m.eval()


def input_for(name):
    flat = models_train.MODELS[name]['input_shape'] == (784,)
    rel = 'models/samples/digits_flat.npy' if flat else 'models/samples/digits.npy'
    return rel, np.load(os.path.join(ROOT, rel))


# ----------------------------------------------------------------------------------------------
# Zennit run + introspection of the hooks it actually registered
# ----------------------------------------------------------------------------------------------
def _closure_params(fn, out):
    code = getattr(fn, '__code__', None)
    if code is None or not fn.__closure__:
        return
    for var, cell in zip(code.co_freevars, fn.__closure__):
        try:
            v = cell.cell_contents
        except ValueError:
            continue
        if isinstance(v, Stabilizer):
            out['stabilizer'] = v.epsilon
        elif var in ('alpha', 'beta', 'gamma', 'low', 'high') and isinstance(v, (int, float)):
            out[var] = float(v)


def describe_hook(hook):
    """'Epsilon(epsilon=1e-06)' etc., parameters read from the hook's closures."""
    name = type(hook).__name__
    params = {}
    fns = []
    for attr in ('gradient_mapper', 'reducer'):
        if hasattr(hook, attr):
            fns.append(getattr(hook, attr))
    for attr in ('input_modifiers', 'output_modifiers'):
        fns.extend(getattr(hook, attr, ()))
    for pm in getattr(hook, 'param_modifiers', ()):
        fns.append(pm.modifier if isinstance(pm, ParamMod) else pm)
    for fn in fns:
        _closure_params(fn, params)
    if name == 'Epsilon' and 'stabilizer' in params:
        params = {'epsilon': params.pop('stabilizer'), **params}
    order = ['epsilon', 'alpha', 'beta', 'gamma', 'low', 'high', 'stabilizer']
    args = ', '.join(f'{k}={params[k]!r}' for k in order if k in params)
    return f'{name}({args})' if name not in ('Pass', 'Norm') or args else name


def registered_rules(model):
    """-> [[module name, module type, rule]] for every leaf module, read from the forward-pre hooks that the
    registered composite put on each module ('gradient' = no hook, plain autograd gradient)."""
    rows = []
    for name, mod in model.named_modules():
        if name == '' or list(mod.children()):
            continue
        hooks = [h.__self__ for h in mod._forward_pre_hooks.values() if hasattr(h, '__self__')]
        hooks = [h for h in hooks if isinstance(h, zennit.core.Hook)]
        assert len(hooks) <= 1, (name, hooks)
        rows.append([name, type(mod).__name__, describe_hook(hooks[0]) if hooks else 'gradient'])
    return rows


def run_zennit(model, composite, x, target, capture=()):
    """-> (logits, input relevance, {capture name: relevance at that module's output})"""
    grabbed = {}
    handles = []
    for key, modname in capture:
        def fwd_hook(mod, inp, out, key=key):
            out.register_hook(lambda g, key=key: grabbed.__setitem__(key, g.detach().clone()))
        handles.append(dict(model.named_modules())[modname].register_forward_hook(fwd_hook))
    x = x.clone().requires_grad_(True)
    with Gradient(model=model, composite=composite) as attributor:
        rules = registered_rules(model)
        out, rel = attributor(x, lambda o: F.one_hot(target, o.shape[1]).to(o.dtype))
    for h in handles:
        h.remove()
    left = [k for k, m in model.named_modules() if m._forward_pre_hooks or m._backward_hooks]
    assert not left, f'hooks left after removal: {left}'
    return out.detach(), rel.detach(), grabbed, rules


# ----------------------------------------------------------------------------------------------
# Independent explicit LRP (float64), for cross-checking Zennit.  Formulas as Zennit 0.5.1 defines them:
#   stab(z, e) = z + e * (sign(z) + (z == 0));  a+ = max(a,0), a- = min(a,0), W+ = max(W,0), W- = min(W,0)
#   Epsilon  z = W a + b;  R_in = a * W^T (R / stab(z, eps))
#   ZPlus    z = W+ a+ + W- a- + b+;  R_in = a+ * W+^T s + a- * W-^T s,  s = R / stab(z)
#   AlphaBeta zp = W+ a+ + W- a- + b+,  zn = W- a+ + W+ a- + b-
#            R_in = alpha (a+ W+^T sp + a- W-^T sp) - beta (a+ W-^T sn + a- W+^T sn),  sp = R/stab(zp), sn = R/stab(zn)
#   Gamma    G+ = W + g W+, G- = W + g W-, c+ = b + g b+, c- = b + g b-, z = W a + b
#            zp = G+ a+ + G- a- + c+ (used where z > 0),  zn = G- a+ + G+ a- + c- (used where z < 0)
#            sp = R [z>0] / stab(zp), sn = R [z<0] / stab(zn);  R_in = a+ G+^T sp + a- G-^T sp + a+ G-^T sn + a- G+^T sn
#   ZBox     z = (W a + b) - (W+ l + b+) - (W- h + b-)   (so the bias cancels);  s = R / stab(z)
#            R_in = a W^T s - l W+^T s - h W-^T s   (l, h broadcast to the input's shape; conv zero-pads them)
#   WSquare  z = (W*W) 1 + b*b;  R_in = (W*W)^T (R / stab(z))   (bias squared, kept in z)
#   Flat     z = 1 1 (ones weights, no bias);  R_in = 1^T (R / stab(z))
#   ReLU     Pass (R_in = R) or the gradient (R_in = R [pre > 0]); MaxPool / pad / flatten: gradient
# ----------------------------------------------------------------------------------------------
def stab(z, e):
    return z + e * (torch.sign(z) + (z == 0).to(z))


def _ops(mod):
    if isinstance(mod, nn.Conv2d):
        pad, st = mod.padding, mod.stride

        def fwd(a, w, b):
            return F.conv2d(a, w, b, stride=st, padding=pad)

        def bwd(s, w, shape):
            return F.conv_transpose2d(s, w, stride=st, padding=pad)
        return fwd, bwd

    def fwd(a, w, b):
        return a @ w.t() + (0 if b is None else b)

    def bwd(s, w, shape):
        return s @ w
    return fwd, bwd


def explicit_rule(rule, mod, a, R):
    fwd, bwd = _ops(mod)
    W = mod.weight.detach()
    b = mod.bias.detach() if mod.bias is not None else None
    zb = torch.zeros(W.shape[0], dtype=W.dtype)
    b = zb if b is None else b
    ap, an = a.clamp(min=0), a.clamp(max=0)
    Wp, Wn, bp, bn = W.clamp(min=0), W.clamp(max=0), b.clamp(min=0), b.clamp(max=0)
    kind = rule[0]
    if kind == 'epsilon':
        s = R / stab(fwd(a, W, b), rule[1])
        return a * bwd(s, W, a.shape)
    if kind == 'zplus':
        s = R / stab(fwd(ap, Wp, bp) + fwd(an, Wn, zb), rule[1])
        return ap * bwd(s, Wp, a.shape) + an * bwd(s, Wn, a.shape)
    if kind == 'alphabeta':
        al, be, e = rule[1:]
        sp = R / stab(fwd(ap, Wp, bp) + fwd(an, Wn, zb), e)
        sn = R / stab(fwd(ap, Wn, bn) + fwd(an, Wp, zb), e)
        return (al * (ap * bwd(sp, Wp, a.shape) + an * bwd(sp, Wn, a.shape))
                - be * (ap * bwd(sn, Wn, a.shape) + an * bwd(sn, Wp, a.shape)))
    if kind == 'gamma':
        g, e = rule[1:]
        Gp, Gn, cp, cn = W + g * Wp, W + g * Wn, b + g * bp, b + g * bn
        z = fwd(a, W, b)
        sp = R * (z > 0).to(z) / stab(fwd(ap, Gp, cp) + fwd(an, Gn, zb), e)
        sn = R * (z < 0).to(z) / stab(fwd(ap, Gn, cn) + fwd(an, Gp, zb), e)
        return (ap * bwd(sp, Gp, a.shape) + an * bwd(sp, Gn, a.shape)
                + ap * bwd(sn, Gn, a.shape) + an * bwd(sn, Gp, a.shape))
    if kind == 'zbox':
        lo, hi, e = rule[1:]
        L, H = torch.full_like(a, lo), torch.full_like(a, hi)
        s = R / stab(fwd(a, W, b) - fwd(L, Wp, bp) - fwd(H, Wn, bn), e)
        return a * bwd(s, W, a.shape) - L * bwd(s, Wp, a.shape) - H * bwd(s, Wn, a.shape)
    if kind == 'wsquare':
        W2 = W * W
        s = R / stab(fwd(torch.ones_like(a), W2, b * b), rule[1])
        return bwd(s, W2, a.shape)
    if kind == 'flat':
        W1 = torch.ones_like(W)
        s = R / stab(fwd(torch.ones_like(a), W1, zb), rule[1])
        return bwd(s, W1, a.shape)
    raise ValueError(kind)


def explicit_rules_for(model, spec):
    """module name -> rule tuple, from the spec alone (independent of Zennit's composites)."""
    rules, first_done = {}, spec['first'] is None
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            if not first_done and (spec['first'][0] == 'linear' or isinstance(mod, nn.Conv2d)):
                rules[name], first_done = spec['first'][1], True
            else:
                rules[name] = spec['conv'] if isinstance(mod, nn.Conv2d) else spec['dense']
    return rules


def spec_rule_name(rule):
    """rule tuple -> the describe_hook() string Zennit's hook should produce."""
    k = rule[0]
    if k == 'epsilon':
        return f'Epsilon(epsilon={rule[1]!r})'
    if k == 'zplus':
        return f'ZPlus(stabilizer={rule[1]!r})'
    if k == 'alphabeta':
        return f'AlphaBeta(alpha={float(rule[1])!r}, beta={float(rule[2])!r}, stabilizer={rule[3]!r})'
    if k == 'gamma':
        return f'Gamma(gamma={rule[1]!r}, stabilizer={rule[2]!r})'
    if k == 'zbox':
        return f'ZBox(low={rule[1]!r}, high={rule[2]!r}, stabilizer={rule[3]!r})'
    return {'wsquare': 'WSquare', 'flat': 'Flat'}[k] + f'(stabilizer={rule[1]!r})'


def explicit_lrp(model, spec, x, target):
    """Sequential walk over the leaf modules (all four models are chains; the MLP's reshape is a no-op on
    [B,784] input, the CNN's input reshape a no-op on [B,1,28,28])."""
    rules = explicit_rules_for(model, spec)
    leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
    acts = [x]
    with torch.no_grad():
        for _, m in leaves:
            acts.append(m(acts[-1]))
    R = F.one_hot(target, acts[-1].shape[1]).to(x.dtype)
    at = {}
    for i in range(len(leaves) - 1, -1, -1):
        name, m = leaves[i]
        at[name] = R
        a = acts[i]
        if name in rules:
            R = explicit_rule(rules[name], m, a, R)
        elif isinstance(m, nn.ReLU):
            R = R if spec['relu'] == 'pass' else R * (a > 0).to(R)
        else:  # pad, maxpool, flatten: plain gradient (maxpool: to the first maximum of each window)
            a = a.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                R, = torch.autograd.grad(m(a), a, R)
    return acts[-1], R, at


# ----------------------------------------------------------------------------------------------
def rel_diff(a, ref):
    return float(np.abs(a - ref).max() / max(np.abs(ref).max(), 1e-300))


def main():
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):      # the directory holds only this script's outputs
        if f.endswith('.npy') or f == 'manifest.json':
            os.remove(os.path.join(OUT, f))

    labels = np.load(os.path.join(MODELS_DIR, 'samples', 'digits_labels.npy'))
    targets = labels.astype(np.int32)
    assert targets.tolist() == list(range(10)), targets
    np.save(os.path.join(OUT, 'targets.npy'), targets)
    target = torch.from_numpy(targets.astype(np.int64))

    zcommit = None
    pc = os.path.join(PEERS, 'zennit', 'PEER_COMMIT')
    if os.path.exists(pc):
        zcommit = open(pc).read().strip()
    manifest = dict(
        generator='tests/reference/make_lrp_fixtures.py',
        command='/usr/bin/python3 tests/reference/make_lrp_fixtures.py',
        torch=torch.__version__, numpy=np.__version__, zennit='0.5.1', zennit_commit=zcommit,
        torch_threads=torch.get_num_threads(), dtype='float32',
        targets=dict(file='tests/fixtures/lrp/targets.npy', dtype='int32', values=targets.tolist(),
                     note='true labels of models/samples/digits_labels.npy'),
        output_relevance='one-hot(target) at the logits (NOT multiplied by the logit)',
        attributor='zennit.attribution.Gradient(model, composite); relevance = its input gradient',
        stabilizer='stab(z, e) = z + e * (sign(z) + (z == 0)); biases are part of z (zero_params=None)',
        compare='|xaic - ref| <= 1e-4 * max|ref| per file',
        f64_vs_f32='max|r32 - r64| / max|r64|: r64 = same computation with model.double() and float64 input',
        explicit_check='max|r64 - explicit64| / max|r64|: explicit = independent formula implementation in this '
                       'script (no Zennit), float64',
        pool3='CNN pool3 = nn.Sequential(ConstantPad2d((0,1,0,1), -inf), MaxPool2d(2)): Zennit attaches no rule to '
              'either, so relevance follows the plain gradient (pad: crop; maxpool: to the first maximum of each '
              'window; the -inf cells never win)',
        configs={k: v[2] for k, v in CONFIGS.items()},
        conservation_tol=CONSERVATION_TOL,
        models={}, files={})

    worst = dict(f64_vs_f32=0.0, explicit=0.0)
    for mname in MODELS:
        in_rel, x_np = input_for(mname)
        m32 = load_model(mname)
        m64 = copy.deepcopy(m32).double()
        x32 = torch.from_numpy(x_np)
        x64 = x32.double()
        with torch.no_grad():
            logits = m32(x32).numpy().astype(np.float32)
        fwd_ref = np.load(os.path.join(ROOT, 'tests', 'fixtures', 'forward', f'{mname}_logits.npy'))
        assert np.array_equal(logits, fwd_ref) or np.abs(logits - fwd_ref).max() <= 1e-5 * np.abs(fwd_ref).max()
        lpath = os.path.join(OUT, f'{mname}__logits.npy')
        np.save(lpath, np.ascontiguousarray(logits))
        nobias = all(getattr(mod, 'bias', None) is None for mod in m32.modules())
        manifest['models'][mname] = dict(
            input=in_rel, input_shape=list(x_np.shape), weights=f'models/{mname}.safetensors', has_bias=not nobias,
            logits=os.path.relpath(lpath, ROOT), argmax=logits.argmax(1).tolist(),
            logit_of_target=[float(logits[i, t]) for i, t in enumerate(targets)], relevance_sums={})
        files_seen = {}
        print(f'== {mname}  input {list(x_np.shape)}  bias={not nobias}')

        for cname, (make, spec, _desc) in CONFIGS.items():
            capture = ()
            if (mname, cname) == INTERMEDIATE[:2]:
                capture = tuple(INTERMEDIATE[2].items())
            out32, r32, g32, rules = run_zennit(m32, make(), x32, target, capture)
            out64, r64, g64, rules64 = run_zennit(m64, make(), x64, target, capture)
            assert rules == rules64
            assert np.array_equal(out32.numpy(), logits)

            # the rules Zennit attached must be the ones the spec says
            exp = explicit_rules_for(m32, spec)
            for name, typ, got in rules:
                if name in exp:
                    want = spec_rule_name(exp[name])
                elif typ == 'ReLU':
                    want = 'Pass' if spec['relu'] == 'pass' else 'gradient'
                else:
                    want = 'gradient'
                assert got == want, f'{mname}/{cname}/{name}: Zennit attached {got}, expected {want}'

            _, e64, eat = explicit_lrp(m64, spec, x64, target)
            r32n, r64n = r32.numpy(), r64.numpy()
            d_prec = rel_diff(r32n.astype(np.float64), r64n)
            d_expl = rel_diff(e64.numpy(), r64n)
            assert d_expl < 1e-9, f'{mname}/{cname}: explicit implementation differs from Zennit by {d_expl}'
            worst['f64_vs_f32'] = max(worst['f64_vs_f32'], d_prec)
            worst['explicit'] = max(worst['explicit'], d_expl)

            arr = np.ascontiguousarray(r32n.astype(np.float32))
            fname = f'{mname}__{cname}.npy'
            np.save(os.path.join(OUT, fname), arr)
            sums = arr.reshape(len(arr), -1).astype(np.float64).sum(1)
            sums64 = r64n.reshape(len(r64n), -1).sum(1)
            key = arr.tobytes()
            same = files_seen.get(key)
            files_seen.setdefault(key, fname)
            manifest['files'][fname] = dict(
                model=mname, config=cname, shape=list(arr.shape), dtype='float32',
                rules=[[n, t, r] for n, t, r in rules],
                max_abs=float(np.abs(arr).max()), sum_per_sample=[float(s) for s in sums],
                sum_per_sample_f64=[float(s) for s in sums64],
                f64_vs_f32_max_rel_diff=d_prec, explicit_check_max_rel_diff=d_expl,
                **({'bit_identical_to': same} if same else {}))
            manifest['models'][mname]['relevance_sums'][cname] = [round(float(s), 7) for s in sums64]
            print(f'  {cname:26s} max|R| {np.abs(arr).max():9.4g}  sum {sums.min():+.6f}..{sums.max():+.6f}'
                  f'  f64/f32 {d_prec:.1e}  explicit {d_expl:.1e}' + (f'  (= {same})' if same else ''))

            for key_, modname in capture:
                a32, a64 = g32[key_].numpy(), g64[key_].numpy()
                e = eat[modname]   # the explicit walk's relevance arriving at that module's output
                d_p = rel_diff(a32.astype(np.float64), a64)
                d_e = rel_diff(e.numpy(), a64)
                assert d_e < 1e-9, (key_, d_e)
                arr = np.ascontiguousarray(a32.astype(np.float32))
                f2 = f'{mname}__{cname}__{key_}.npy'
                np.save(os.path.join(OUT, f2), arr)
                s2 = arr.reshape(len(arr), -1).astype(np.float64).sum(1)
                manifest['files'][f2] = dict(
                    model=mname, config=cname, shape=list(arr.shape), dtype='float32',
                    at=f'relevance at the output of module `{modname}`'
                       + (' (= input of fc1, the flattened pool3 output)' if modname == 'flat' else
                          ' (the second ReLU; its output feeds pool2)'),
                    rules=[[n, t, r] for n, t, r in rules],
                    max_abs=float(np.abs(arr).max()), sum_per_sample=[float(s) for s in s2],
                    f64_vs_f32_max_rel_diff=d_p, explicit_check_max_rel_diff=d_e)
                worst['f64_vs_f32'] = max(worst['f64_vs_f32'], d_p)
                print(f'    {key_:24s} {list(arr.shape)} max|R| {np.abs(arr).max():.4g}'
                      f'  sum {s2.min():+.5f}..{s2.max():+.5f}  f64/f32 {d_p:.1e}  explicit {d_e:.1e}')

        if nobias:
            s = np.array(manifest['files'][f'{mname}__zplus.npy']['sum_per_sample'])
            dev = float(np.abs(s - 1).max())
            manifest['models'][mname]['zplus_conservation_max_abs_dev'] = dev
            print(f'  conservation (zplus, bias-free): max |sum - 1| = {dev:.2e}')
            assert dev <= CONSERVATION_TOL, f'{mname}: zplus relevance sums {s}'

    write_manifest(OUT, manifest, worst)
    return 0


def write_manifest(out, manifest, worst):
    """the worst differences into the manifest, written to out/manifest.json; a summary printed"""
    manifest['worst_f64_vs_f32_max_rel_diff'] = worst['f64_vs_f32']
    manifest['worst_explicit_check_max_rel_diff'] = worst['explicit']
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print(f'worst float64-vs-float32 {worst["f64_vs_f32"]:.2e}, worst explicit-vs-Zennit {worst["explicit"]:.2e}')
    print(f'wrote {os.path.relpath(out, ROOT)} ({len(os.listdir(out))} files, {total} bytes)')


if __name__ == '__main__':
    sys.exit(main())
