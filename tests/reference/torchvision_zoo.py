#!/usr/bin/python3
"""Seeded random-weight torchvision CNNs, exported to ONNX: the models of the ONNX importer's tests (and
vit_b_16, the transformer of bench/vit_b16.sh).

Needs only torch, torchvision and onnx (Debian: python3-torch 1.13, python3-torchvision 0.14, python3-onnx 1.12);
never Zennit or Captum.  CI runs it at test time to regenerate the ONNX files (far too big to commit);
tests/reference/make_onnx_fixtures.py (a developer with the peers) uses the same builders for the references.

    /usr/bin/python3 tests/reference/torchvision_zoo.py export resnet18 --opset 17 -o resnet18.onnx
    /usr/bin/python3 tests/reference/torchvision_zoo.py checksum resnet18        # prints the state_dict sha256
    /usr/bin/python3 tests/reference/torchvision_zoo.py list                     # names, input sizes, seeds

`export` prints one JSON line: model, opset, path, input shape used for tracing, state_dict sha256.  With
`--check-manifest tests/fixtures/onnx/MODEL/manifest.json` it first compares that sha256 with the one the fixtures
were made with and exits with status 3 and a message naming both torch versions if they differ: another
torch/torchvision build can draw different random weights, and then the fixtures do not belong to the model.

Weights (`build`): torch.manual_seed(seed); torchvision's constructor with weights=None (its own init);
then, with a separate torch.Generator seeded with seed + 1, visiting modules in named_modules() order:
  - every BatchNorm: weight = U(0.5, 1.5) with the sign flipped on ~10 % of channels, bias = U(-0.2, 0.2)
    (so some folded scales are negative);
  - every Conv/Linear weight that torchvision initialised to exactly zero (vit_b_16's head):
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default Linear bound), so the logits depend on the input;
  - every Conv/Linear bias that torchvision initialised to exactly zero (heads, SE convs, VGG's convs, the
    attention's out_proj): U(-0.1, 0.1), so no layer has an all-zero bias (a MultiheadAttention's
    in_proj_bias is not a layer's: it stays zero);
then the BatchNorm running statistics, in module order:
  - ResNets, VGG, alexnet (not in CALIBRATED): running_mean = U(-0.2, 0.2), running_var = U(0.5, 2.0);
  - the others (CALIBRATED: densenet, mobilenet, efficientnet, ...): measured in one forward pass over 16 smooth
    random images (4 at 224x224; calibration_images, seed + 3; only the BatchNorms in training mode, momentum
    None, so each holds that batch's mean and unbiased variance), then perturbed per channel: running_mean +=
    U(-0.2, 0.2) * std, running_var *= U(0.8, 1.25), then running_var += 0.1 * (its mean over the layer).
    With fixed random statistics the signal vanishes in the depthwise nets (mobilenet_v2's input gradient was
    1e-11); without the floor, channels that were nearly constant on the calibration images amplify rounding.
    Measured statistics on the ResNets made them chaotic instead (resnet50's float32 input gradient 1e-2 of
    max away from float64 on every input tried), so they keep fixed ones.
eps unchanged (1e-5; 1e-3 in efficientnet); num_batches_tracked 0.
Then eval mode.  Deterministic: the same torch build gives the same state_dict bit for bit (checked by running
`checksum` twice).

Checksum: sha256 over the state_dict in sorted key order; per entry the UTF-8 key, a NUL byte, then the tensor's
bytes in C order, little-endian (floating tensors as float32, integer ones, i.e. num_batches_tracked, as int64).
"""
import argparse
import copy
import hashlib
import json
import os
import sys

import numpy as np
import torch
import torchvision
from torch import nn

# name -> fixture input size (H = W).  The ONNX graph has a dynamic batch axis but fixed spatial size.
# vgg16_bn and alexnet end in AdaptiveAvgPool2d((7,7)) / ((6,6)); the ONNX exporter of torch 1.13 turns that into
# an AveragePool only when the feature map is a multiple of the output size, which needs a 224x224 input.
MODELS = {
    'resnet18': 64,
    'resnet50': 64,
    'vgg16_bn': 224,
    'densenet121': 64,
    'mobilenet_v2': 64,
    'efficientnet_b0': 64,
}
# further torchvision 0.14 classification CNNs, only for the exporter's op-type survey (README)
SURVEY = {
    'alexnet': 224, 'googlenet': 64, 'inception_v3': 96, 'squeezenet1_1': 64, 'shufflenet_v2_x1_0': 64,
    'mobilenet_v3_small': 64, 'mobilenet_v3_large': 64, 'mnasnet0_5': 64, 'regnet_y_400mf': 64,
    'regnet_x_400mf': 64, 'resnext50_32x4d': 64, 'wide_resnet50_2': 64, 'efficientnet_v2_s': 64,
    'convnext_tiny': 64, 'vgg11': 224,
    'vit_b_16': 224,      # the ViT asserts its image size; no BatchNorm (class token zero, as torchvision has it)
}
SEED = 20240614
# BatchNorm running statistics measured on random images (see randomise) for these; fixed random ones for the rest
CALIBRATED = {'densenet121', 'mobilenet_v2', 'efficientnet_b0', 'googlenet', 'inception_v3', 'squeezenet1_1',
              'shufflenet_v2_x1_0', 'mobilenet_v3_small', 'mobilenet_v3_large', 'mnasnet0_5', 'regnet_y_400mf',
              'regnet_x_400mf', 'efficientnet_v2_s', 'convnext_tiny'}
OPSETS = (13, 17)


def input_size(name):
    return {**MODELS, **SURVEY}[name]


def model_seed(name):
    """A fixed seed per model (stable across Python runs: no hash())."""
    return SEED + sum((i + 1) * ord(c) for i, c in enumerate(name))


def _uniform(shape, lo, hi, gen):
    return torch.rand(shape, generator=gen) * (hi - lo) + lo


def calibration_images(name, batch=4, seed=0):
    """Smooth random images in [-1, 1] (4x4 uniform cells, bilinear upsampling, +-0.25 uniform noise)."""
    gen = torch.Generator().manual_seed(seed)
    s = input_size(name)
    base = torch.rand(batch, 3, 4, 4, generator=gen) * 2 - 1
    img = nn.functional.interpolate(base, size=(s, s), mode='bilinear', align_corners=False)
    return (img + 0.25 * (torch.rand(batch, 3, s, s, generator=gen) * 2 - 1)).clamp(-1, 1)


def randomise(model, name, seed):
    gen = torch.Generator().manual_seed(seed + 1)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for _, mod in model.named_modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                c = mod.num_features
                sign = torch.where(torch.rand(c, generator=gen) < 0.1, -1.0, 1.0)
                mod.weight.copy_(_uniform(c, 0.5, 1.5, gen) * sign)
                mod.bias.copy_(_uniform(c, -0.2, 0.2, gen))
            elif isinstance(mod, (nn.Conv2d, nn.Linear)):
                if not mod.weight.any():     # draws nothing for the CNNs (none has an all-zero weight)
                    bound = (mod.weight[0].numel()) ** -0.5
                    mod.weight.copy_(_uniform(mod.weight.shape, -bound, bound, gen))
                if mod.bias is not None and not mod.bias.any():
                    mod.bias.copy_(_uniform(mod.bias.shape, -0.1, 0.1, gen))
        if name not in CALIBRATED:
            for m in bns:
                c = m.num_features
                m.running_mean.copy_(_uniform(c, -0.2, 0.2, gen))
                m.running_var.copy_(_uniform(c, 0.5, 2.0, gen))
            return model.eval()
        # running statistics measured on random images (torchvision's init alone lets the signal vanish in the
        # depthwise nets), then perturbed so that BN is not a plain standardisation
        model.eval()
        momenta = [m.momentum for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None           # cumulative average: one batch -> its own statistics
            m.train()
        model(calibration_images(name, batch=16 if input_size(name) < 224 else 4, seed=seed + 3))
        for m, momentum in zip(bns, momenta):
            m.momentum = momentum
            m.eval()
            c = m.num_features
            m.running_mean.add_(_uniform(c, -0.2, 0.2, gen) * m.running_var.sqrt())
            m.running_var.mul_(_uniform(c, 0.8, 1.25, gen))
            m.running_var.add_(0.1 * m.running_var.mean())   # a floor: near-constant channels would amplify
            m.num_batches_tracked.fill_(0)
    return model.eval()


def build(name):
    """torchvision model `name`, seeded random weights as described above, eval mode, float32."""
    seed = model_seed(name)
    torch.manual_seed(seed)
    kwargs = {'weights': None}
    if name in ('googlenet', 'inception_v3'):
        kwargs.update(aux_logits=False, init_weights=True)   # eval output is the main head either way
    model = getattr(torchvision.models, name)(**kwargs)
    return randomise(model, name, seed).eval()


def state_dict_sha256(model):
    h = hashlib.sha256()
    sd = model.state_dict()
    for key in sorted(sd):
        t = sd[key].detach().cpu()
        arr = t.numpy().astype('<f4' if t.is_floating_point() else '<i8')
        h.update(key.encode() + b'\0')
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


# The calibrated BatchNorm statistics come from a float32 forward pass whose rounding depends on the CPU's
# kernels, so the sha256 of a CALIBRATED model can differ between machines while the function is the same.
# Then the fixtures still belong to it when its float64 logits on the fixture input equal the committed ones
# (float64 there too, saved as float32: ~1e-6 apart) far more closely than any other weights would.
SAME_FUNCTION_TOLERANCE = 1e-5


def same_function(model, fixture_dir):
    """(True, why) when model's float64 logits on fixture_dir/input.npy match fixture_dir/logits.npy."""
    x = np.load(os.path.join(fixture_dir, 'input.npy'))
    ref = np.load(os.path.join(fixture_dir, 'logits.npy')).astype(np.float64)
    twin = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        y = twin(torch.from_numpy(x).double()).numpy()
    err = float(np.abs(y - ref).max() / np.abs(ref).max())
    ok = err <= SAME_FUNCTION_TOLERANCE
    return ok, (f"its float64 logits on the fixture input are {err:.2e} (max |diff| / max |logit|) from the "
                f"committed ones: {'the same function up to rounding, accepted' if ok else 'not the same model'} "
                f"(tolerance {SAME_FUNCTION_TOLERANCE:g})")


def tracing_input(name, batch=2):
    """The tensor the export traces with (its values do not matter; its shape fixes the spatial size)."""
    s = input_size(name)
    return torch.zeros(batch, 3, s, s)


def export(model, name, opset, path, x=None):
    """torch.onnx.export as a user would call it: PyTorch's defaults (eval mode, constant folding, which
    folds every BatchNorm that follows a Conv into the Conv) plus names and a dynamic batch axis."""
    if x is None:
        x = tracing_input(name)
    torch.onnx.export(model, x, path, opset_version=opset, input_names=['x'], output_names=['y'],
                      dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}})
    return list(x.shape)


def onnx_op_types(path):
    """sorted op types of the graph (and of any subgraphs), with their node counts"""
    import onnx
    counts = {}

    def walk(graph):
        for node in graph.node:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)
    walk(onnx.load(path).graph)
    return dict(sorted(counts.items()))


def survey(json_path=None):
    """Export every model (fixture models, then SURVEY) at opsets 13 and 17; print each export's op types."""
    import os
    import tempfile
    import time
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in list(MODELS) + list(SURVEY):
            model = build(name)
            row = {'model': name, 'input': [3, input_size(name), input_size(name)],
                   'params': sum(p.numel() for p in model.parameters()), 'state_dict_sha256': state_dict_sha256(model)}
            for opset in OPSETS:
                path = os.path.join(tmp, f'{name}_{opset}.onnx')
                t0 = time.time()
                try:
                    export(model, name, opset, path)
                except Exception as exc:  # recorded in the table: an export that fails is a finding
                    row[f'opset{opset}'] = {'error': f'{type(exc).__name__}: {exc}'.split('\n')[0][:200]}
                    continue
                with open(path, 'rb') as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                row[f'opset{opset}'] = {'ops': onnx_op_types(path), 'bytes': os.path.getsize(path),
                                        'seconds': round(time.time() - t0, 1), 'onnx_sha256': digest}
                os.remove(path)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print('| model | input | opset 13 op types (node count) | opset 17 differs |')
    print('|---|---|---|---|')
    for row in rows:
        o13, o17 = row['opset13'], row['opset17']
        ops13 = o13.get('ops') or {}
        ops17 = o17.get('ops') or {}
        cell13 = o13['error'] if 'error' in o13 else ', '.join(f'{k} ({v})' for k, v in ops13.items())
        if 'error' in o17:
            cell17 = o17['error']
        else:
            diff = [f'-{k}' for k in ops13 if k not in ops17] + [f'+{k} ({v})' for k, v in ops17.items()
                                                                  if k not in ops13]
            diff += [f'{k} {ops13[k]}->{v}' for k, v in ops17.items() if k in ops13 and ops13[k] != v]
            cell17 = ', '.join(diff) or 'same'
        print(f"| `{row['model']}` | {'x'.join(map(str, row['input']))} | {cell13} | {cell17} |")
    if json_path:
        with open(json_path, 'w') as f:
            json.dump(rows, f, indent=1)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    e = sub.add_parser('export', help='export MODEL to ONNX')
    e.add_argument('model', choices=sorted({**MODELS, **SURVEY}))
    e.add_argument('--opset', type=int, default=17, choices=OPSETS)
    e.add_argument('-o', '--out', required=True)
    e.add_argument('--check-manifest', metavar='MANIFEST',
                   help="tests/fixtures/onnx/MODEL/manifest.json: exit 3 (before exporting) unless the model's "
                        'state_dict sha256 equals the one the fixtures were made with')
    c = sub.add_parser('checksum', help='print the state_dict sha256 of MODEL')
    c.add_argument('model', choices=sorted({**MODELS, **SURVEY}))
    sub.add_parser('list', help='models, input sizes, seeds')
    v = sub.add_parser('survey', help='export every model at both opsets into a temporary folder and print the '
                                      'ONNX op types of each export (markdown table + JSON)')
    v.add_argument('--json', help='also write the survey as JSON to this file')
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    if args.cmd == 'list':
        for name in list(MODELS) + list(SURVEY):
            print(json.dumps({'model': name, 'input': [3, input_size(name), input_size(name)],
                              'seed': model_seed(name), 'fixtures': name in MODELS}))
        return 0
    if args.cmd == 'survey':
        return survey(args.json)
    model = build(args.model)
    info = {'model': args.model, 'state_dict_sha256': state_dict_sha256(model), 'torch': torch.__version__,
            'torchvision': torchvision.__version__}
    if args.cmd == 'export' and args.check_manifest:
        with open(args.check_manifest) as f:
            made = json.load(f)
        if made.get('model') == args.model and made.get('state_dict_sha256') != info['state_dict_sha256']:
            same, why = same_function(model, os.path.dirname(args.check_manifest))
            print(f"torchvision_zoo: {args.model}: state_dict sha256 {info['state_dict_sha256'][:16]}... here, "
                  f"{str(made.get('state_dict_sha256'))[:16]}... where the fixtures were made; {why}", file=sys.stderr)
            if same:
                info['state_dict_sha256_when_made'] = made.get('state_dict_sha256')
                made['state_dict_sha256'] = info['state_dict_sha256']
        if made.get('model') != args.model or made.get('state_dict_sha256') != info['state_dict_sha256']:
            versions = made.get('versions', {})
            print(f"torchvision_zoo: {args.model}: the regenerated weights differ from those the fixtures in "
                  f"{args.check_manifest} were made with (state_dict sha256 {info['state_dict_sha256'][:16]}... here, "
                  f"{str(made.get('state_dict_sha256'))[:16]}... there; torch {torch.__version__} / torchvision "
                  f"{torchvision.__version__} here, {versions.get('torch')} / {versions.get('torchvision')} there). "
                  'The fixtures do not belong to this model: regenerate them with make_onnx_fixtures.py '
                  '(see tests/reference/README.md).', file=sys.stderr)
            return 3
        info['manifest_checked'] = args.check_manifest
    if args.cmd == 'export':
        shape = export(model, args.model, args.opset, args.out)
        info.update(opset=args.opset, path=args.out, traced_input_shape=shape)
    print(json.dumps(info))
    return 0


if __name__ == '__main__':
    sys.exit(main())
