#!/usr/bin/python3
"""Time one peer configuration (PyTorch forward, Zennit 0.5.1 LRP, Captum 0.8 gradient methods, LXT's CP-LRP)
in this process: the counterpart of one bench_explain driver. bench/run.sh starts one process per configuration
and round so that peak RSS is per configuration.

    /usr/bin/python3 bench/peer_bench.py --model mnist_cnn|vgg16|resnet50|vit_b_16|mobilenet_v2|efficientnet_b0
                                         --method forward|epsilon_plus|epsilon_gamma_box|gradient|ig|smoothgrad|deeplift|gradcam|cp_lrp
                                         --batch B [--seconds 3] [--min-runs 10] [--max-runs 100000]
                                         [--threads 2] [--input MODEL_INPUT.npy] [--save-output OUT.npy]

Models: mnist_cnn = models/train.py's MnistCNN loaded from models/mnist_cnn.safetensors, with pool3 (TF-SAME
max pooling) as nn.Sequential(ConstantPad2d((0,1,0,1), -inf), MaxPool2d(2)) as in
tests/reference/make_lrp_fixtures.py (separate nn.ReLU modules, conv1.. / fc1.. names); input = the bundled
sample digits (models/samples/digits.npy) repeated to the batch, box [0, 1].
vgg16 = the peers' models.py VGG-16 (torchvision names, non-inplace ReLU, eval mode) built with
models.build('vgg16', seed=0): the seeded init bench/make_vgg16_weights.py writes for xaic; input =
vgg16_input.npy from that script; box = models.py's SPECS['vgg16'] low/high.
resnet50 = tests/reference/torchvision_zoo.py's build('resnet50'): torchvision's module with BatchNorm (what a
PyTorch user runs; the ONNX file bench/make_torchvision.py exported for xaic has it folded into the convs), the same
seeded weights; input = resnet50_input.npy from that script (--input); box = VGG-16's. Zennit gets
canonizers=[ResNetCanonizer()] (merges each BatchNorm into its conv, gives the residual sums the Norm rule), as
tests/reference/make_onnx_fixtures.py does.
mobilenet_v2, efficientnet_b0 = torchvision_zoo.build(MODEL) (BatchNorm in the module, folded by the ONNX export
for xaic, as resnet50); input = MODEL_input.npy (--input); box = VGG-16's. Zennit 0.5.1 has no canonizer for them;
they get canonizers=[SequentialMergeBatchNorm(), the two below] (zennit_canonizers), which put on the peer the
treatment xaic's imported graph gets by default (docs/lrp.md, "Imported models"): SequentialMergeBatchNorm
merges every BatchNorm into the conv before it; the residual sum x + block(x) (InvertedResidual, MBConv) goes
through a zennit.layer.Sum (the composite's Norm rule), as ResNetCanonizer does for ResNet's blocks; the
squeeze-excitation product scale * x (efficientnet_b0) passes all relevance to x and none to the gate (xaic's
`gate` rule on mul); mobilenet_v2's functional global average pooling becomes an AdaptiveAvgPool2d module (the
composite's Norm rule, as xaic's global_avgpool and efficientnet_b0's own module). Without them autograd would
hand the sum's relevance to both branches whole, scale the SE product's and spread the pooling's evenly (see
docs/performance.md, "MobileNetV2 and EfficientNet-B0 (imported)").
vit_b_16 = torchvision_zoo.build('vit_b_16') (torchvision's VisionTransformer, the same seeded weights as
bench/make_torchvision.py exported for xaic); input = vit_b_16_input.npy (--input); box = VGG-16's. Its
parameters are frozen (requires_grad False, as LXT's ViT example does: autograd then computes no weight
gradients); methods forward, gradient and cp_lrp.

Methods, with the conventions of the peers' methods.py (written out here so that Captum is imported only for
the methods that need it, which would otherwise add to the peer's RSS):
  forward            model(x) under torch.no_grad()
  epsilon_plus       zennit.attribution.Gradient(model, EpsilonPlus(epsilon=1e-6, stabilizer=1e-6)),
                     output relevance one-hot(target); one call = forward + modified backward
  epsilon_gamma_box  the same with EpsilonGammaBox(low, high, epsilon=1e-6, gamma=0.25, stabilizer=1e-6)
  gradient           captum Saliency(model).attribute(x, target=target, abs=False); for vit_b_16 plain PyTorch
                     autograd instead: torch.autograd.grad(model(x)[arange, target].sum(), x) (what Saliency
                     computes, without Captum's import and wrapping)
  cp_lrp             (vit_b_16) LXT's efficient CP-LRP for torchvision's ViT: its patch map
                     lxt.efficient.models.vit_torch.cp_LRP (GELU: identity rule; LayerNorm: std held constant;
                     MultiheadAttention: query and key detached, so the attention weights are constants) and
                     monkey_patch_zennit, with zennit LayerMapComposite([(Linear, Epsilon()), (Conv2d,
                     Epsilon())]) registered once; one call = forward with x.requires_grad, autograd.grad of the
                     target logits' sum, relevance = x * grad (LXT's input x gradient). Relevance starts at the
                     logit (xaic: `seed logit`). LXT's package lxt.efficient.models imports Hugging Face
                     transformers (absent on Debian): the packages lxt, lxt.efficient, lxt.efficient.models are
                     stubbed (empty modules with their directory as __path__) so that only rules.py,
                     patches.py, zennit_patches.py and models/vit_torch.py are imported, from $PEERS_DIR/lxt.
  ig                 captum IntegratedGradients(model).attribute(x, baselines=zeros_like(x), target=target,
                     n_steps=50, method='gausslegendre', internal_batch_size=None): 50 * batch rows at once
  smoothgrad         captum NoiseTunnel(Saliency(model)).attribute(x, nt_type='smoothgrad', nt_samples=50,
                     stdevs=0.15 * (high - low), target=target, abs=False): 50 * batch rows at once
  deeplift           captum DeepLift(model).attribute(x, baselines=zeros_like(x), target=target)
  gradcam            captum LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True),
                     not upsampled (bench_explain's xaic side: gradcam(layer=..., upsample=none)); layer =
                     --gradcam-layer (default: act2 for mnist_cnn, features.29 for vgg16, layer4 for resnet50,
                     features for mobilenet_v2 and efficientnet_b0)
target = arg-max of the logits, computed before timing. Hooks and explainer objects are created once (outside
the timing).

Timing: torch.set_num_threads(THREADS); untimed warm-up of at least 1 call and 0.3 s; then timed calls until
SECONDS have passed and at least MIN_RUNS were made (at most MAX_RUNS). One JSON line:
  {"impl":"peer","model":..,"method":..,"batch":..,"median_ms":..,"per_sample_ms":..,"min_ms":..,"runs":..,
   "peak_rss_mb":..,"threads":..,"torch":..,"loadavg_1m":..,"forward_gflop":..,"cpu_ms":..}
peak_rss_mb = getrusage(RUSAGE_SELF).ru_maxrss (interpreter, libtorch, Zennit, weights, activations).
forward_gflop = 2 x multiply-adds of the conv and linear layers for the whole batch.
cpu_ms = the median CPU time of the process per timed call (time.process_time, all threads).

Environment: PEERS_DIR (Zennit under $PEERS_DIR/zennit/src, Captum under $PEERS_DIR/captum, LXT under
$PEERS_DIR/lxt; default ~/xai-peers), PEERS_HARNESS (models.py, safetensors_io.py; default <repo>/../shared/peers).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.abspath(os.environ.get('PEERS_HARNESS', os.path.join(ROOT, '..', 'shared', 'peers')))
PEERS = os.environ.get('PEERS_DIR', os.path.expanduser('~/xai-peers'))


def build_mnist_cnn():
    from torch import nn
    sys.path.insert(0, os.path.join(ROOT, 'models'))
    import train as models_train
    m = models_train.load('mnist_cnn')
    m.pool3 = nn.Sequential(nn.ConstantPad2d((0, 1, 0, 1), float('-inf')), nn.MaxPool2d(2))
    import numpy as np
    x = np.load(os.path.join(ROOT, 'models', 'samples', 'digits.npy'))
    return m.eval(), x, 0.0, 1.0


def build_vgg16(input_path):
    import numpy as np
    import models
    # the same seeded init that bench/make_vgg16_weights.py wrote to vgg16.safetensors for xaic (rebuilt rather
    # than read so that peak RSS is not inflated by a second copy of the 528 MB of weights while loading)
    m = models.build('vgg16', seed=0)
    spec = models.SPECS['vgg16']
    return m, np.load(input_path), spec['low'], spec['high']


def build_zoo(name, input_path):
    """resnet50, vit_b_16, mobilenet_v2, efficientnet_b0: the weights bench/make_torchvision.py exported for xaic"""
    import numpy as np
    sys.path.insert(0, os.path.join(ROOT, 'tests', 'reference'))
    import torchvision_zoo
    return torchvision_zoo.build(name), np.load(input_path), -2.1179039, 2.6400001


def load_lxt():
    """LXT's CP-LRP patch map for torchvision's ViT and its Zennit patch (tests/reference/lxt_modules.py: without
    lxt.efficient.models' __init__, which imports Hugging Face transformers)"""
    sys.path.insert(0, os.path.join(ROOT, 'tests', 'reference'))
    import lxt_modules
    mods = lxt_modules.import_lxt(PEERS)
    return mods['models.vit_torch'].cp_LRP, mods['zennit_patches'].monkey_patch_zennit


def lxt_cp_lrp(model, x, target):
    """one call = LXT's input x gradient through the patched model (see the docstring)"""
    import torch
    from zennit.composites import LayerMapComposite
    from zennit.rules import Epsilon
    patch_map, monkey_patch_zennit = load_lxt()
    for cls, patch in patch_map.items():      # lxt.efficient.monkey_patch(vision_transformer, patch_map)
        if not patch(cls):
            raise RuntimeError(f'LXT could not patch {cls.__name__}')
    monkey_patch_zennit()
    comp = LayerMapComposite([(torch.nn.Linear, Epsilon()), (torch.nn.Conv2d, Epsilon())])
    comp.register(model)
    rows = torch.arange(len(x))

    def call():
        xg = x.detach().requires_grad_(True)
        y = model(xg)
        grad, = torch.autograd.grad(y[rows, target].sum(), xg)
        return xg.detach() * grad
    return call, comp


ZOO = ('resnet50', 'vit_b_16', 'mobilenet_v2', 'efficientnet_b0')


def zennit_canonizers(name):
    """The canonizers of Zennit's LRP for a zoo model (see the docstring); [] for the others"""
    import torch
    from zennit.canonizers import AttributeCanonizer, SequentialMergeBatchNorm
    from zennit.layer import Sum
    if name == 'resnet50':
        from zennit.torchvision import ResNetCanonizer
        return [ResNetCanonizer()]
    if name not in ('mobilenet_v2', 'efficientnet_b0'):
        return []
    from torchvision.models.efficientnet import MBConv
    from torchvision.models.mobilenetv2 import InvertedResidual, MobileNetV2
    from torchvision.ops.misc import SqueezeExcitation

    class Gate(torch.autograd.Function):
        """scale * x forward; backward: the output's relevance all to x, none to the gate"""
        @staticmethod
        def forward(ctx, x, scale):
            return x * scale

        @staticmethod
        def backward(ctx, grad):
            return grad, None

    def residual(self, x):        # InvertedResidual / MBConv forward with the sum as a Sum module
        out = self.conv(x) if isinstance(self, InvertedResidual) else self.stochastic_depth(self.block(x))
        return self.canonizer_sum(torch.stack([x, out], dim=-1))

    def pooled(self, x):          # MobileNetV2 forward with its functional global pooling as a module (Norm rule)
        return self.classifier(torch.flatten(self.canonizer_pool(self.features(x)), 1))

    def attributes(name, module):
        if isinstance(module, MobileNetV2):
            return {'forward': pooled.__get__(module), 'canonizer_pool': torch.nn.AdaptiveAvgPool2d(1)}
        if isinstance(module, (InvertedResidual, MBConv)) and module.use_res_connect:
            return {'forward': residual.__get__(module), 'canonizer_sum': Sum()}
        if isinstance(module, SqueezeExcitation):
            return {'forward': (lambda x: Gate.apply(x, module._scale(x).detach()))}
        return None
    return [SequentialMergeBatchNorm(), AttributeCanonizer(attributes)]


CAPTUM = ['gradient', 'ig', 'smoothgrad', 'deeplift', 'gradcam']
IG_STEPS = 50
SG_SAMPLES = 50
SG_REL_SIGMA = 0.15


def captum_call(method, model, x, target, low, high, layer_name):
    """The peers' methods.py explainers (GradientExpl, IG, SmoothGrad, DeepLiftExpl, GradCAM), built once."""
    import torch
    from captum.attr import DeepLift, IntegratedGradients, LayerGradCam, NoiseTunnel, Saliency
    if method == 'gradient':
        sal = Saliency(model)
        return lambda: sal.attribute(x, target=target, abs=False)
    if method == 'ig':
        ig, base = IntegratedGradients(model), torch.zeros_like(x)
        return lambda: ig.attribute(x, baselines=base, target=target, n_steps=IG_STEPS, method='gausslegendre',
                                    internal_batch_size=None)
    if method == 'smoothgrad':
        nt, sigma = NoiseTunnel(Saliency(model)), SG_REL_SIGMA * (high - low)
        return lambda: nt.attribute(x, nt_type='smoothgrad', nt_samples=SG_SAMPLES, stdevs=sigma, target=target,
                                    abs=False)
    if method == 'deeplift':
        dl, base = DeepLift(model), torch.zeros_like(x)
        return lambda: dl.attribute(x, baselines=base, target=target)
    if method == 'gradcam':
        gc = LayerGradCam(model, model.get_submodule(layer_name))
        return lambda: gc.attribute(x, target=target, relu_attributions=True)
    raise ValueError(method)


def forward_gflop(model, x):
    import torch
    from torch import nn
    total = [0]

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            total[0] += 2 * out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, nn.Linear):
            total[0] += 2 * out.numel() * mod.in_features
        elif isinstance(mod, nn.MultiheadAttention):     # self-attention, batch first: [N, T, E]
            n, t, e = out[0].shape          # in_proj (3E x E) and out_proj (its Linear is not called as a module)
            total[0] += 2 * n * t * 4 * e * e + 2 * 2 * n * t * t * e    # + q k^T and attention times values
    hs = [m.register_forward_hook(hook) for m in model.modules()
          if isinstance(m, (nn.Conv2d, nn.Linear, nn.MultiheadAttention))]
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    return total[0] / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', required=True, choices=['mnist_cnn', 'vgg16', *ZOO])
    ap.add_argument('--method', required=True,
                    choices=['forward', 'epsilon_plus', 'epsilon_gamma_box', 'cp_lrp'] + CAPTUM)
    ap.add_argument('--batch', type=int, default=1)
    ap.add_argument('--seconds', type=float, default=3.0)
    ap.add_argument('--min-runs', type=int, default=10)
    ap.add_argument('--max-runs', type=int, default=100000)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--input', default='', help='the input .npy (default build/bench/MODEL_input.npy)')
    ap.add_argument('--gradcam-layer', default='', help='module name (default act2 / features.29)')
    ap.add_argument('--save-output', default='', help='write the last call\'s result (.npy) for a sanity check')
    args = ap.parse_args()
    if (args.model == 'vit_b_16' and args.method not in ('forward', 'gradient', 'cp_lrp')) or \
            (args.method == 'cp_lrp' and args.model != 'vit_b_16'):
        ap.error(f'--method {args.method} is not benchmarked on --model {args.model}')
    for p in (HARNESS, os.path.join(PEERS, 'zennit', 'src'), os.path.join(PEERS, 'captum')):
        if p not in sys.path:
            sys.path.insert(0, p)
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    args.input = args.input or os.path.join(ROOT, 'build', 'bench', args.model + '_input.npy')
    if args.model == 'mnist_cnn':
        model, samples, low, high = build_mnist_cnn()
    elif args.model in ZOO:
        model, samples, low, high = build_zoo(args.model, args.input)
    else:
        model, samples, low, high = build_vgg16(args.input)
    reps = -(-args.batch // len(samples))
    x = torch.from_numpy(np.ascontiguousarray(np.concatenate([samples] * reps)[:args.batch], dtype=np.float32))
    gflop = forward_gflop(model, x)
    with torch.no_grad():
        target = model(x).argmax(1)

    ctx = None
    if args.model == 'vit_b_16':
        model.requires_grad_(False)
    if args.method == 'forward':
        def call():
            with torch.no_grad():
                return model(x)
    elif args.model == 'vit_b_16' and args.method == 'gradient':
        rows = torch.arange(len(x))

        def call():
            xg = x.detach().requires_grad_(True)
            return torch.autograd.grad(model(xg)[rows, target].sum(), xg)[0]
    elif args.method == 'cp_lrp':
        call, comp = lxt_cp_lrp(model, x, target)
    elif args.method in CAPTUM:
        import warnings     # Captum's "did not already require gradients" / "Setting ... hooks" on every call
        warnings.simplefilter('ignore', UserWarning)
        layer = args.gradcam_layer or {'mnist_cnn': 'act2', 'vgg16': 'features.29', 'resnet50': 'layer4',
                                       'mobilenet_v2': 'features', 'efficientnet_b0': 'features'}[args.model]
        call = captum_call(args.method, model, x, target, low, high, layer)
    else:
        from zennit.attribution import Gradient
        from zennit.composites import EpsilonGammaBox, EpsilonPlus
        canon = zennit_canonizers(args.model)
        if args.method == 'epsilon_plus':
            comp = EpsilonPlus(epsilon=1e-6, stabilizer=1e-6, canonizers=canon)
        else:
            comp = EpsilonGammaBox(low=low, high=high, epsilon=1e-6, gamma=0.25, stabilizer=1e-6, canonizers=canon)
        ctx = Gradient(model, comp)
        attr = ctx.__enter__()

        def onehot(out):
            return torch.nn.functional.one_hot(target, out.shape[1]).to(out.dtype)

        def call():
            return attr(x, onehot)[1]

    warm, t_start = 0, time.perf_counter()
    while warm < 1 or time.perf_counter() - t_start < 0.3:
        call()
        warm += 1
    ts, cs, result = [], [], None
    t_start = time.perf_counter()
    while len(ts) < args.max_runs and (len(ts) < args.min_runs or time.perf_counter() - t_start < args.seconds):
        t0, c0 = time.perf_counter(), time.process_time()
        result = call()
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    if ctx is not None:
        ctx.__exit__(None, None, None)
    if args.save_output:
        np.save(args.save_output, result.detach().numpy())
    med = statistics.median(ts) * 1e3
    rec = dict(impl='peer', model=args.model, method=args.method, batch=args.batch, median_ms=round(med, 5),
               per_sample_ms=round(med / args.batch, 5), min_ms=round(min(ts) * 1e3, 5), runs=len(ts),
               peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
               threads=args.threads, torch=torch.__version__, loadavg_1m=round(os.getloadavg()[0], 2),
               forward_gflop=round(gflop, 4), cpu_ms=round(statistics.median(cs) * 1e3, 5))
    print(json.dumps(rec), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
