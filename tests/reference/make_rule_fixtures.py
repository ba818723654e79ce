#!/usr/bin/python3
"""Reference fixtures for seven LRP / gradient rules from the literature, independent of xaic.

    /usr/bin/python3 tests/reference/make_rule_fixtures.py        # from the repository root

Writes tests/fixtures/rules/:
  M__CONFIG.npy    float32, the input's shape ([10,1,28,28] CNNs, [10,784] MLPs): relevance at the input,
                   Zennit 0.5.1 `Gradient` attributor + a composite, output relevance = one-hot(target)
                   (NOT multiplied by the logit), targets = tests/fixtures/lrp/targets.npy (labels 0..9)
  manifest.json    versions, command, the configurations in words, per file: the rule attached to every leaf
                   module, max |value|, per-sample sums, float64-vs-float32 difference, explicit-check difference,
                   and the property checks the C test (tests/unit/test_rules_literature.c) relies on

M in mnist_mlp, mnist_mlp_nobias, mnist_cnn, mnist_cnn_nobias.  Models, inputs, targets, the Zennit run and the
explicit float64 walk's helpers are imported from make_lrp_fixtures.py (same conventions; the CNN's pool3 is
the equivalent pad + MaxPool2d).  Layers a configuration does not name get `layer_map_base()` (ReLU -> Pass,
MaxPool / pad / flatten: plain gradient).

Where the rule comes from:
  relu_beta_smooth        Zennit's ReLUBetaSmooth(beta_smooth=10); no rule on Linear/Conv2d (plain gradient)
  epsilon_ignore_bias     Zennit's Epsilon(epsilon=1e-6, zero_params=['bias'])
  alpha_beta_ignore_bias  Zennit's AlphaBeta(alpha=2, beta=1, stabilizer=1e-6, zero_params=['bias'])
  epsilon_std             custom Zennit BasicHook (EpsilonStd below; Zennit has no such rule)
  sign_first, sign_mu_first  custom Zennit BasicHook (Sign below; Zennit has no SIGN rule)
  rectgrad                custom Zennit Hook on every ReLU (RectGrad below; Zennit has no RectGrad), plain gradient
                          elsewhere; the explicit walk takes its threshold from np.quantile, not torch.quantile
Every configuration is also recomputed by an explicit float64 transcription of its equation (no Zennit hooks,
below) and the script fails if max|zennit64 - explicit64| / max|zennit64| >= 1e-9.

Environment: PEERS_DIR (default ~/xai-peers; Zennit is imported from $PEERS_DIR/zennit/src),
PEERS_HARNESS (default <repo>/../shared/peers), as for make_lrp_fixtures.py.
"""
import copy
import json
import os
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_lrp_fixtures as lrp  # noqa: E402  (also puts Zennit, the peers harness and models/ on sys.path)
from make_lrp_fixtures import ROOT, MODELS, load_model, input_for, run_zennit, rel_diff, stab, _ops  # noqa: E402
from zennit.composites import LayerMapComposite, SpecialFirstLayerMapComposite, layer_map_base  # noqa: E402
from zennit.core import BasicHook, Hook, ParamMod, Stabilizer  # noqa: E402
from zennit.rules import Epsilon, AlphaBeta, ReLUBetaSmooth, NoMod  # noqa: E402
from zennit.types import Linear as ZLinear  # noqa: E402  (Conv1d/2d/3d, ConvTranspose*, nn.Linear)

OUT = os.path.join(ROOT, 'tests', 'fixtures', 'rules')
LRP_FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'lrp')
EPS = 1e-6
BETA_SMOOTH = 10.0
STD_FACTOR = 0.25
MU = 0.5
RECT_Q = 0.98
EXPLICIT_TOL = 1e-9


# ----------------------------------------------------------------------------------------------
# Custom Zennit hooks (rules Zennit 0.5.1 does not have)
# ----------------------------------------------------------------------------------------------
class EpsilonStd(BasicHook):
    """LRP-epsilon with a data-dependent epsilon (Kohlbrenner et al. 2020, "Towards best practice in explaining
    neural network decisions with LRP"): R_i = sum_j a_i w_ij R_j / (z_j + factor * std(z) * sign(z_j)),
    z = the layer's output (with bias), std = per-sample unbiased (N-1) standard deviation over ALL outputs of
    the layer, sign(0) = +1."""

    def __init__(self, factor=STD_FACTOR):
        self.factor = factor

        def gradient_mapper(out_grad, outputs):
            z = outputs[0]
            sd = z.flatten(1).std(dim=1, unbiased=True).reshape((-1,) + (1,) * (z.dim() - 1))
            sgn = torch.where(z >= 0, torch.ones_like(z), -torch.ones_like(z))
            return out_grad / (z + factor * sd * sgn)

        super().__init__(
            input_modifiers=[lambda input: input],
            param_modifiers=[NoMod()],
            output_modifiers=[lambda output: output],
            gradient_mapper=gradient_mapper,
            reducer=(lambda inputs, gradients: inputs[0] * gradients[0]),
        )

    def copy(self):
        return EpsilonStd(self.factor)

    def describe(self):
        return f'EpsilonStd(factor={self.factor!r})'


class Sign(BasicHook):
    """SIGN / SIGN-mu (Gumpfer et al. 2023, "SIGNed explanations: Unveiling relevant features by reducing bias",
    Information Fusion 101883): R_i = s(x_i) * sum_j w_ij R_j / stab(z_j), z_j = sum_i x_i w_ij + b_j (bias
    included), stab(z) = z + eps * sign(z) (sign(0) = +1, Zennit's Stabilizer), s(x) = +1 if x >= mu else -1
    (mu = 0: SIGN, s = sign with s(0) = +1)."""

    def __init__(self, mu=0.0, epsilon=EPS):
        self.mu, self.epsilon = mu, epsilon
        stabilizer_fn = Stabilizer.ensure(epsilon)

        def reducer(inputs, gradients):
            x = inputs[0]
            return torch.where(x >= mu, torch.ones_like(x), -torch.ones_like(x)) * gradients[0]

        super().__init__(
            input_modifiers=[lambda input: input],
            param_modifiers=[NoMod()],
            output_modifiers=[lambda output: output],
            gradient_mapper=(lambda out_grad, outputs: out_grad / stabilizer_fn(outputs[0])),
            reducer=reducer,
        )

    def copy(self):
        return Sign(self.mu, self.epsilon)

    def describe(self):
        return f'Sign(mu={self.mu!r}, epsilon={self.epsilon!r})'


class RectGrad(Hook):
    """RectGrad (Kim et al. 2019, "Why are saliency maps noisy? Cause of and solution to noisy saliency maps"):
    the ReLU's backward passes grad_out only where its importance a * grad_out (a = the ReLU's output) is above
    tau = the q-quantile of the importance scores of that sample over the whole layer (torch.quantile, linear)."""

    def __init__(self, q=RECT_Q):
        super().__init__()
        self.q = q

    def forward(self, module, input, output):
        self.stored_tensors['input'] = input

    def backward(self, module, grad_input, grad_output):
        g = grad_output[0]
        imp = self.stored_tensors['input'][0].clamp(min=0) * g
        tau = torch.quantile(imp.flatten(1), self.q, dim=1).reshape((-1,) + (1,) * (imp.dim() - 1))
        return (torch.where(imp > tau, g, torch.zeros_like(g)),)

    def copy(self):
        return RectGrad(self.q)

    def describe(self):
        return f'RectGrad(q={self.q!r})'


def describe_hook(hook):
    """make_lrp_fixtures.describe_hook, plus the custom hooks, ReLUBetaSmooth's beta and zero_params."""
    if hasattr(hook, 'describe'):
        return hook.describe()
    if isinstance(hook, ReLUBetaSmooth):
        return f'ReLUBetaSmooth(beta_smooth={hook.beta_smooth!r})'
    text = _describe_hook_lrp(hook)
    zps = [pm.zero_params for pm in getattr(hook, 'param_modifiers', ()) if isinstance(pm, ParamMod)]
    if zps and all(zp for zp in zps):
        assert all(zp == zps[0] for zp in zps), zps
        text = text[:-1] + f', zero_params={list(zps[0])!r})'
    return text


_describe_hook_lrp = lrp.describe_hook
lrp.describe_hook = describe_hook   # run_zennit -> registered_rules reads the hooks through this name


# ----------------------------------------------------------------------------------------------
# Configurations: (composite factory, expected rule per linear layer / ReLU, explicit rules, description)
# ----------------------------------------------------------------------------------------------
def _composite(linear=None, first=None, relu=None):
    def make():
        layer_map = ([(nn.ReLU, relu())] if relu else []) + layer_map_base()
        if linear is not None:
            layer_map = layer_map + [(ZLinear, linear())]
        if first is None:
            return LayerMapComposite(layer_map=layer_map)
        return SpecialFirstLayerMapComposite(layer_map=layer_map, first_map=[(ZLinear, first())])
    return make


CONFIGS = {
    'relu_beta_smooth': dict(
        make=_composite(relu=lambda: ReLUBetaSmooth(beta_smooth=BETA_SMOOTH)),
        relu='beta_smooth', linear='gradient', first=None,
        zennit='gradient', zennit_relu=f'ReLUBetaSmooth(beta_smooth={BETA_SMOOTH!r})', source='zennit',
        desc="every ReLU gets Zennit's ReLUBetaSmooth(beta_smooth=10); every Linear/Conv2d gets NO rule (plain "
             "gradient). I.e. the gradient where each ReLU's derivative is replaced by sigmoid(10 * x) of its "
             "input x."),
    'rectgrad': dict(
        make=_composite(relu=lambda: RectGrad(RECT_Q)),
        relu='rectgrad', linear='gradient', first=None,
        zennit='gradient', zennit_relu=f'RectGrad(q={RECT_Q!r})', source='custom Zennit Hook (RectGrad)',
        desc="every ReLU gets RectGrad (Kim et al. 2019): its backward passes the incoming gradient g only where "
             "a * g > tau, a = the ReLU's output, tau = the 0.98-quantile (linear interpolation, as torch.quantile "
             "and np.quantile) of a * g over all of that layer's values for one sample; Linear/Conv2d and pools: "
             "plain gradient."),
    'epsilon_ignore_bias': dict(
        make=_composite(linear=lambda: Epsilon(epsilon=EPS, zero_params=['bias'])),
        relu='pass', linear='epsilon_ignore_bias', first=None,
        zennit=f"Epsilon(epsilon={EPS!r}, zero_params=['bias'])", source='zennit',
        desc="every Linear/Conv2d Epsilon(epsilon=1e-6, zero_params=['bias']) (Zennit 0.5.1's BasicHook "
             "supports zero_params: the bias is zero in z = W a, the forward pass keeps it)"),
    'alpha_beta_ignore_bias': dict(
        make=_composite(linear=lambda: AlphaBeta(alpha=2, beta=1, zero_params=['bias'])),
        relu='pass', linear='alpha_beta_ignore_bias', first=None,
        zennit=f"AlphaBeta(alpha=2.0, beta=1.0, stabilizer={EPS!r}, zero_params=['bias'])", source='zennit',
        desc="every Linear/Conv2d AlphaBeta(alpha=2, beta=1, zero_params=['bias']) (stabilizer 1e-6)"),
    'epsilon_std': dict(
        make=_composite(linear=lambda: EpsilonStd(STD_FACTOR)),
        relu='pass', linear='epsilon_std', first=None,
        zennit=f'EpsilonStd(factor={STD_FACTOR!r})', source='custom Zennit BasicHook (EpsilonStd)',
        desc="every Linear/Conv2d gets LRP-epsilon whose denominator is z + 0.25 * std(z) * sign(z), where z is "
             "the layer's output (with bias) for that sample, std(z) is the per-sample standard deviation over "
             "ALL outputs of that layer (all channels and positions), unbiased like torch.std (N-1), and "
             "sign(0) = +1. R_i = sum_j a_i w_ij R_j / (z_j + 0.25*std(z)*sign(z_j)). Source: Kohlbrenner et al. "
             "2020, \"Towards best practice in explaining neural network decisions with LRP\"."),
    'sign_first': dict(
        make=_composite(linear=lambda: Epsilon(epsilon=EPS), first=lambda: Sign(0.0)),
        relu='pass', linear='epsilon', first=('sign', 0.0),
        zennit=f'Epsilon(epsilon={EPS!r})', zennit_first=f'Sign(mu=0.0, epsilon={EPS!r})',
        source='custom Zennit BasicHook (Sign) on the first layer, Zennit Epsilon elsewhere',
        desc="the FIRST Linear/Conv2d (from the input) gets the SIGN rule of Gumpfer et al. 2023 (\"SIGNed "
             "explanations: Unveiling relevant features by reducing bias\", Information Fusion 101883): "
             "R_i = s(x_i) * sum_j w_ij R_j / stab(z_j), with z_j = sum_i x_i w_ij + b_j (bias included), "
             "stab(z) = z + 1e-6 * sign(z) (sign(0)=+1), and s(x) = sign(x) with s(0) = +1. Every other "
             "Linear/Conv2d gets Epsilon(1e-6)."),
    'sign_mu_first': dict(
        make=_composite(linear=lambda: Epsilon(epsilon=EPS), first=lambda: Sign(MU)),
        relu='pass', linear='epsilon', first=('sign', MU),
        zennit=f'Epsilon(epsilon={EPS!r})', zennit_first=f'Sign(mu={MU!r}, epsilon={EPS!r})',
        source='custom Zennit BasicHook (Sign) on the first layer, Zennit Epsilon elsewhere',
        desc="same as sign_first but s(x) = +1 if x >= mu else -1 with mu = 0.5 (SIGN-mu)."),
}


# ----------------------------------------------------------------------------------------------
# Explicit float64 transcription of the equations (no Zennit).  Leaf modules walked backwards as in
# make_lrp_fixtures.explicit_lrp; fwd/bwd of a layer = make_lrp_fixtures._ops (conv2d / conv_transpose2d, or
# a @ W^T + b / s @ W).  stab(z, e) = z + e * (sign(z) + (z == 0)).
#   gradient            R_in = W^T R
#   ReLU beta smooth    R_in = R * sigmoid(beta * a)      (a = the ReLU's input)
#   ReLU pass           R_in = R
#   epsilon             z = W a + b;  R_in = a * W^T (R / stab(z, 1e-6))
#   epsilon_ignore_bias z = W a;      R_in = a * W^T (R / stab(z, 1e-6))
#   alpha_beta_ignore_bias  a+/a-/W+/W- parts, no bias:  zp = W+ a+ + W- a-,  zn = W- a+ + W+ a-
#                       R_in = 2 (a+ W+^T sp + a- W-^T sp) - 1 (a+ W-^T sn + a- W+^T sn), sp = R/stab(zp), sn = R/stab(zn)
#   epsilon_std         z = W a + b; sd = sqrt(sum (z - mean z)^2 / (N - 1)) per sample over all N outputs (NumPy)
#                       R_in = a * W^T (R / (z + 0.25 sd s0(z))),  s0(z) = +1 if z >= 0 else -1
#   sign (mu)           z = W x + b;  R_in = s(x) * W^T (R / stab(z, 1e-6)),  s(x) = +1 if x >= mu else -1
#   MaxPool / pad / flatten: plain gradient (autograd)
# ----------------------------------------------------------------------------------------------
def _pm1(t, threshold):
    return torch.where(t >= threshold, torch.ones_like(t), -torch.ones_like(t))


def explicit_linear(kind, mod, a, R):
    fwd, bwd = _ops(mod)
    W = mod.weight.detach()
    b = mod.bias.detach() if mod.bias is not None else torch.zeros(W.shape[0], dtype=W.dtype)
    zb = torch.zeros_like(b)
    if kind == 'gradient':
        return bwd(R, W, a.shape)
    if kind == 'epsilon':
        return a * bwd(R / stab(fwd(a, W, b), EPS), W, a.shape)
    if kind == 'epsilon_ignore_bias':
        return a * bwd(R / stab(fwd(a, W, zb), EPS), W, a.shape)
    if kind == 'alpha_beta_ignore_bias':
        ap, an, Wp, Wn = a.clamp(min=0), a.clamp(max=0), W.clamp(min=0), W.clamp(max=0)
        sp = R / stab(fwd(ap, Wp, zb) + fwd(an, Wn, zb), EPS)
        sn = R / stab(fwd(ap, Wn, zb) + fwd(an, Wp, zb), EPS)
        return (2 * (ap * bwd(sp, Wp, a.shape) + an * bwd(sp, Wn, a.shape))
                - 1 * (ap * bwd(sn, Wn, a.shape) + an * bwd(sn, Wp, a.shape)))
    if kind == 'epsilon_std':
        z = fwd(a, W, b)
        zn = z.numpy().reshape(len(z), -1)
        n = zn.shape[1]
        sd = np.sqrt(((zn - zn.mean(1, keepdims=True)) ** 2).sum(1) / (n - 1))
        sd = torch.from_numpy(sd).reshape((-1,) + (1,) * (z.dim() - 1))
        return a * bwd(R / (z + STD_FACTOR * sd * _pm1(z, 0.0)), W, a.shape)
    if kind[0] == 'sign':
        return _pm1(a, kind[1]) * bwd(R / stab(fwd(a, W, b), EPS), W, a.shape)
    raise ValueError(kind)


def explicit_config(model, cfg, x, target):
    leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
    acts = [x]
    with torch.no_grad():
        for _, m in leaves:
            acts.append(m(acts[-1]))
    first = next(n for n, m in leaves if isinstance(m, (nn.Conv2d, nn.Linear)))
    R = F.one_hot(target, acts[-1].shape[1]).to(x.dtype)
    for i in range(len(leaves) - 1, -1, -1):
        name, m = leaves[i]
        a = acts[i]
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            kind = cfg['first'] if (name == first and cfg['first']) else cfg['linear']
            R = explicit_linear(kind, m, a, R)
        elif isinstance(m, nn.ReLU) and cfg['relu'] == 'rectgrad':
            imp = (a.clamp(min=0) * R).numpy()
            tau = np.quantile(imp.reshape(len(imp), -1), RECT_Q, axis=1).reshape((-1,) + (1,) * (imp.ndim - 1))
            R = torch.from_numpy(np.where(imp > tau, R.numpy(), 0.0))
        elif isinstance(m, nn.ReLU):
            R = R * torch.sigmoid(BETA_SMOOTH * a) if cfg['relu'] == 'beta_smooth' else R
        else:
            a = a.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                R, = torch.autograd.grad(m(a), a, R)
    return R


def expected_rule(cfg, name, typ, first):
    if typ in ('Conv2d', 'Linear'):
        return cfg['zennit_first'] if (name == first and cfg['first']) else cfg['zennit']
    if typ == 'ReLU':
        return cfg.get('zennit_relu', 'Pass')
    return 'gradient'


# ----------------------------------------------------------------------------------------------
def main():
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):      # the directory holds only this script's outputs
        if f.endswith('.npy') or f == 'manifest.json':
            os.remove(os.path.join(OUT, f))
    targets = np.load(os.path.join(LRP_FIXTURES, 'targets.npy'))
    target = torch.from_numpy(targets.astype(np.int64))

    zcommit = None
    pc = os.path.join(lrp.PEERS, 'zennit', 'PEER_COMMIT')
    if os.path.exists(pc):
        zcommit = open(pc).read().strip()
    manifest = dict(
        generator='tests/reference/make_rule_fixtures.py',
        command='/usr/bin/python3 tests/reference/make_rule_fixtures.py',
        torch=torch.__version__, numpy=np.__version__, zennit='0.5.1', zennit_commit=zcommit,
        torch_threads=torch.get_num_threads(), dtype='float32',
        targets=dict(file='tests/fixtures/lrp/targets.npy', values=targets.tolist()),
        output_relevance='one-hot(target) at the logits (NOT multiplied by the logit)',
        attributor='zennit.attribution.Gradient(model, composite); relevance = its input gradient',
        other_layers="layers a configuration does not name get Zennit's layer_map_base(): ReLU -> Pass; MaxPool, "
                     "the CNN's pool3 pad, flatten: no rule (plain gradient)",
        first_layer='the first Conv2d or Linear in module order (conv1 for the CNNs, fc1 for the MLPs)',
        stabilizer='stab(z, e) = z + e * (sign(z) + (z == 0)) (Zennit Stabilizer)',
        compare='|xaic - ref| <= 1e-4 * max|ref| per file',
        f64_vs_f32='max|r32 - r64| / max|r64|: r64 = same Zennit computation with model.double() and float64 input',
        explicit_check=f'max|r64 - explicit64| / max|r64| < {EXPLICIT_TOL}: explicit = float64 transcription of '
                       'the equation in this script (no Zennit hooks)',
        configs={k: dict(description=v['desc'], source=v['source']) for k, v in CONFIGS.items()},
        notes=dict(epsilon_ignore_bias=(
            'ill-conditioned on the models WITH bias: with the bias dropped from z = W a, a few neurons that the '
            'forward pass (with bias) keeps active have |W a| ~ 3e-5 (mnist_mlp fc1) or less (mnist_cnn), far '
            'below the terms of the sum, so float32 rounding alone moves the result by 2.2e-3 (mnist_mlp) and '
            '8e-4 (mnist_cnn) of max|R| (f64_vs_f32_max_rel_diff); mostly one or two samples. The C test compares '
            'these two files with 10x that spread instead of 1e-4; the relevance SUMS stay well-conditioned.'),
            epsilon_std=(
                "Zennit 0.5.1's nearest built-in, Epsilon(Stabilizer(0.25, norm_scale=True)), scales epsilon by the "
                "root mean square of z (no mean subtracted, divided by N), not by the std (N-1) defined here; on "
                "these models it differs from epsilon_std by 1.2e-2 to 1.0e-1 of max|R|, hence the custom hook.")),
        models={}, files={}, properties={})

    worst = dict(f64_vs_f32=0.0, explicit=0.0)
    results = {}
    for mname in MODELS:
        in_rel, x_np = input_for(mname)
        m32 = load_model(mname)
        m64 = copy.deepcopy(m32).double()
        x32 = torch.from_numpy(x_np)
        x64 = x32.double()
        nobias = all(getattr(mod, 'bias', None) is None for mod in m32.modules())
        first = next(n for n, m in m32.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
        manifest['models'][mname] = dict(input=in_rel, input_shape=list(x_np.shape),
                                         weights=f'models/{mname}.safetensors', has_bias=not nobias,
                                         first_layer=first)
        print(f'== {mname}  input {list(x_np.shape)}  bias={not nobias}  first={first}')
        for cname, cfg in CONFIGS.items():
            _, r32, _, rules = run_zennit(m32, cfg['make'](), x32, target)
            _, r64, _, rules64 = run_zennit(m64, cfg['make'](), x64, target)
            assert rules == rules64
            for name, typ, got in rules:
                want = expected_rule(cfg, name, typ, first)
                assert got == want, f'{mname}/{cname}/{name}: Zennit attached {got}, expected {want}'
            e64 = explicit_config(m64, cfg, x64, target)
            r32n, r64n = r32.numpy(), r64.numpy()
            d_prec = rel_diff(r32n.astype(np.float64), r64n)
            d_expl = rel_diff(e64.numpy(), r64n)
            if not d_expl < EXPLICIT_TOL:
                raise SystemExit(f'FAIL {mname}/{cname}: explicit transcription differs from Zennit by {d_expl:.3g}')
            worst['f64_vs_f32'] = max(worst['f64_vs_f32'], d_prec)
            worst['explicit'] = max(worst['explicit'], d_expl)
            arr = np.ascontiguousarray(r32n.astype(np.float32))
            fname = f'{mname}__{cname}.npy'
            np.save(os.path.join(OUT, fname), arr)
            results[mname, cname] = (arr, r64n)
            sums = arr.reshape(len(arr), -1).astype(np.float64).sum(1)
            sums64 = r64n.reshape(len(r64n), -1).sum(1)
            manifest['files'][fname] = dict(
                model=mname, config=cname, shape=list(arr.shape), dtype='float32',
                rules=[[n, t, r] for n, t, r in rules],
                max_abs=float(np.abs(arr).max()), sum_per_sample=[float(s) for s in sums],
                sum_per_sample_f64=[float(s) for s in sums64],
                f64_vs_f32_max_rel_diff=d_prec, explicit_check_max_rel_diff=d_expl)
            print(f'  {cname:24s} max|R| {np.abs(arr).max():9.4g}  sum {sums.min():+.6f}..{sums.max():+.6f}'
                  f'  f64/f32 {d_prec:.1e}  explicit {d_expl:.1e}')

        # ---- properties the C test asserts without fixtures; recorded here from the references ----
        props = {}
        x64n = x64.numpy()
        eps_ref = np.load(os.path.join(LRP_FIXTURES, f'{mname}__epsilon.npy')).astype(np.float64)
        ab = results[mname, 'alpha_beta_ignore_bias'][1]
        ab_sums = ab.reshape(len(ab), -1).sum(1)
        props['alpha_beta_ignore_bias_max_abs_sum_minus_1'] = float(np.abs(ab_sums - 1).max())
        eib = results[mname, 'epsilon_ignore_bias'][1]
        eib_sums = eib.reshape(len(eib), -1).sum(1)
        props['epsilon_ignore_bias_max_abs_sum_minus_1'] = float(np.abs(eib_sums - 1).max())
        props['epsilon_ignore_bias_vs_lrp_epsilon_rel_diff'] = rel_diff(eib, eps_ref)
        # SIGN: R = s(x) g and LRP-epsilon's R = x g with the same g, so sign_first * |x| = epsilon
        sg = results[mname, 'sign_first'][1]
        props['sign_first_times_abs_x_vs_lrp_epsilon_rel_diff'] = rel_diff(sg * np.abs(x64n), eps_ref)
        # SIGN-mu differs from SIGN only by the factor s_mu(x) / s_0(x) = (x >= 0.5 ? 1 : -1) for x >= 0
        smu = results[mname, 'sign_mu_first'][1]
        assert x64n.min() >= 0
        props['sign_mu_vs_sign_times_pm1_rel_diff'] = rel_diff(smu, sg * np.where(x64n >= MU, 1.0, -1.0))
        props['sign_first_nonzero_where_x_is_0_fraction'] = float((sg[x64n == 0] != 0).mean())
        # epsilon_std: every z, and so std(z), scales with the input on a bias-free ReLU net: scale invariant
        if nobias:
            m64 = copy.deepcopy(load_model(mname)).double()
            _, r3, _, _ = run_zennit(m64, CONFIGS['epsilon_std']['make'](), 3 * x64, target)
            props['epsilon_std_input_x3_rel_diff'] = rel_diff(r3.numpy(), results[mname, 'epsilon_std'][1])
            _, r3e, _, _ = run_zennit(m64, _composite(linear=lambda: Epsilon(epsilon=0.25))(), 3 * x64, target)
            _, r1e, _, _ = run_zennit(m64, _composite(linear=lambda: Epsilon(epsilon=0.25))(), x64, target)
            props['epsilon_025_input_x3_rel_diff (for contrast)'] = rel_diff(r3e.numpy(), r1e.numpy())
        # relu_beta_smooth(beta) -> the plain gradient as beta -> inf, except where a ReLU input is exactly 0
        # (sigmoid(0) = 1/2 for every beta; the CNN without bias has many: conv over the zero background)
        xg = x32.clone().requires_grad_(True)
        grad, = torch.autograd.grad(m32(xg), xg, F.one_hot(target, 10).to(xg.dtype))
        _, rbig, _, _ = run_zennit(m32, _composite(relu=lambda: ReLUBetaSmooth(beta_smooth=1e6))(), x32, target)
        props['relu_beta_smooth_1e6_vs_gradient_rel_diff'] = rel_diff(rbig.numpy().astype(np.float64),
                                                                      grad.numpy().astype(np.float64))
        props['relu_beta_smooth_10_vs_gradient_rel_diff'] = rel_diff(results[mname, 'relu_beta_smooth'][0]
                                                                     .astype(np.float64),
                                                                     grad.numpy().astype(np.float64))
        manifest['properties'][mname] = props
        for k, v in props.items():
            print(f'  property {k}: {v:.3g}')

    lrp.write_manifest(OUT, manifest, worst)
    return 0


if __name__ == '__main__':
    sys.exit(main())
