#!/usr/bin/python3
"""Exports the two small torchvision VisionTransformers of tests/fixtures/vit/ to ONNX for
tests/unit/test_import_vit.c (the ctest fixture onnx_vit_exports).  Nothing exported is committed.

    export_vit_onnx.py OUTDIR [CONFIG[@OPSET] ...]    (default: every configuration at opsets 17 and 14)

Writes OUTDIR/CONFIG_opOPSET.onnx: torch.onnx.export(model, zeros[1, 3, S, S], FILE, opset_version=OPSET,
input_names=['x'], output_names=['y'], dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}}) of
torchvision.models.VisionTransformer(**CONFIGS[CONFIG]) in eval mode (dropouts 0) with the committed weights
tests/fixtures/vit/CONFIG/weights.safetensors (float32, PyTorch state_dict names).  Opset 17 exports nn.LayerNorm
as LayerNormalization; opset 14 decomposes it (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add).
Before exporting, the weights file's sha256 is compared with the one in tests/fixtures/vit/CONFIG/manifest.json
(the file the references were made from) and the float64 logits of the fixture input with logits.npy (within 1e-6
of max: logits.npy is float32): a mismatch exits with status 3.

Also imported by make_vit_fixtures.py (CONFIGS, build, load).  Needs torch and torchvision (and onnx for the
export's checker), never the peers: the weights are read by a minimal safetensors reader below."""
import hashlib
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), 'fixtures', 'vit')

# configuration name -> torchvision.models.VisionTransformer arguments (dropouts 0, LayerNorm eps 1e-6 default)
CONFIGS = {
    'vit_16_4': dict(image_size=16, patch_size=4, num_layers=2, num_heads=2, hidden_dim=8, mlp_dim=16, num_classes=5),
    'vit_24_8': dict(image_size=24, patch_size=8, num_layers=1, num_heads=3, hidden_dim=12, mlp_dim=24,
                     num_classes=4),
}
OPSETS = (17, 14)
DTYPES = {'F32': np.float32, 'F64': np.float64}


def build(config):
    """torchvision's VisionTransformer of CONFIGS[config], eval mode, torchvision's own init"""
    return torchvision.models.VisionTransformer(**CONFIGS[config]).eval()


def read_safetensors(path):
    """{name: float tensor} of a safetensors file (F32 / F64 only)"""
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        lo, hi = info['data_offsets']
        arr = np.frombuffer(data[base + lo:base + hi], dtype=DTYPES[info['dtype']]).reshape(info['shape'])
        out[name] = torch.from_numpy(arr.copy())
    return out


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def fail(message):
    print('export_vit_onnx: ' + message, file=sys.stderr)
    sys.exit(3)


def load(config, check=True):
    """build(config) with the committed weights; check: the sha256 and float64 logits of the manifest"""
    d = os.path.join(FIXTURES, config)
    path = os.path.join(d, 'weights.safetensors')
    model = build(config)
    model.load_state_dict(read_safetensors(path))
    if check:
        with open(os.path.join(d, 'manifest.json')) as f:
            made = json.load(f)
        if made['weights_sha256'] != sha256(path):
            fail(f'{path}: sha256 {sha256(path)} is not the {made["weights_sha256"]} the references were made from')
        x = torch.from_numpy(np.load(os.path.join(d, 'input.npy'))).double()
        ref = np.load(os.path.join(d, 'logits.npy')).astype(np.float64)
        m64 = build(config).double()
        m64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
        with torch.no_grad():
            y = m64(x).numpy()
        err = np.abs(y - ref).max() / np.abs(ref).max()
        if err > 1e-6:  # logits.npy is stored float32: 6e-8 of max is its rounding
            fail(f'{config}: float64 logits {err:.3g} of max from logits.npy (torch {torch.__version__} here, '
                 f'{made["versions"]["torch"]} where the fixtures were made)')
    return model


def export(model, config, opset, path):
    size = CONFIGS[config]['image_size']
    torch.onnx.export(model, torch.zeros(1, 3, size, size), path, opset_version=opset, input_names=['x'],
                      output_names=['y'], dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}})


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    items = sys.argv[2:] or [f'{c}@{o}' for c in CONFIGS for o in OPSETS]
    for item in items:
        config, _, opset = item.partition('@')
        opset = int(opset or 17)
        path = os.path.join(outdir, f'{config}_op{opset}.onnx')
        export(load(config), config, opset, path)
        print(json.dumps({'config': config, 'opset': opset, 'path': path, 'onnx_sha256': sha256(path)}))
    return 0


if __name__ == '__main__':
    import warnings
    warnings.filterwarnings('ignore')
    sys.exit(main())
