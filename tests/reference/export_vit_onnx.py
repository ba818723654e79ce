#!/usr/bin/python3
"""Exports the two small torchvision VisionTransformers of tests/fixtures/vit/ to ONNX for
tests/unit/test_import_vit.c (the ctest fixture onnx_vit_exports).  Nothing exported is committed.

    export_vit_onnx.py OUTDIR [CONFIG[@OPSET] ...]    (default: every configuration at opsets 17 and 14)

Also writes OUTDIR/CONFIG_xai.xai + .safetensors: the same network written in the language by write_xai (layer
by layer as torchvision runs it, the packed in-projection split into dense q, k, v), which test_import_vit.c
explains beside the imported one, so that a difference can be told apart: importer or explanation.

Writes OUTDIR/CONFIG_opOPSET.onnx: torch.onnx.export(model, zeros[1, 3, S, S], FILE, opset_version=OPSET,
input_names=['x'], output_names=['y'], dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}}) of
torchvision.models.VisionTransformer(**CONFIGS[CONFIG]) in eval mode (dropouts 0) with the committed weights
tests/fixtures/vit/CONFIG/weights.safetensors (float32, PyTorch state_dict names).  Opset 17 exports nn.LayerNorm
as LayerNormalization; opset 14 decomposes it (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add).
Before exporting, the weights file's sha256 is compared with the one in tests/fixtures/vit/CONFIG/manifest.json
(the file the references were made from) and the float64 logits of the fixture input with logits.npy (within 1e-6
of max: logits.npy is float32): a mismatch exits with status 3.

Also imported by make_vit_fixtures.py (CONFIGS, build, load).  Needs torch and torchvision (and onnx for the
export's checker), never the peers: the weights are read by xai_reference.py's safetensors reader."""
import hashlib
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xai_reference as xr  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), 'fixtures', 'vit')

# configuration name -> torchvision.models.VisionTransformer arguments (dropouts 0, LayerNorm eps 1e-6 default)
CONFIGS = {
    'vit_16_4': dict(image_size=16, patch_size=4, num_layers=2, num_heads=2, hidden_dim=8, mlp_dim=16, num_classes=5),
    'vit_24_8': dict(image_size=24, patch_size=8, num_layers=1, num_heads=3, hidden_dim=12, mlp_dim=24,
                     num_classes=4),
}
OPSETS = (17, 14)


def build(config):
    """torchvision's VisionTransformer of CONFIGS[config], eval mode, torchvision's own init"""
    return torchvision.models.VisionTransformer(**CONFIGS[config]).eval()


def read_safetensors(path):
    """{name: float32 tensor} of a safetensors file (xai_reference.py's reader)"""
    weights, _, _ = xr.read_safetensors(path)
    return {name: torch.from_numpy(value) for name, value in weights.items()}


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


def write_safetensors(tensors, path):
    """{name: float32 tensor} -> safetensors (F32, header padded to 8 bytes)"""
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        b = t.detach().contiguous().numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def write_xai(model, config, path):
    """the same network written in the language (CONFIG_xai.xai + .safetensors beside it): torchvision's layers one
    by one, the attention's packed in-projection split into the dense layers q, k, v of every block"""
    c = CONFIGS[config]
    s, p, d, heads, mlp = c['image_size'], c['patch_size'], c['hidden_dim'], c['num_heads'], c['mlp_dim']
    g, dh = s // p, c['hidden_dim'] // c['num_heads']
    t = g * g + 1
    sd = model.state_dict()
    name = os.path.splitext(os.path.basename(path))[0]
    w = {'patch.weight': sd['conv_proj.weight'], 'patch.bias': sd['conv_proj.bias'], 'cls.weight': sd['class_token'][0],
         'pos.weight': sd['encoder.pos_embedding'][0], 'fin.weight': sd['encoder.ln.weight'],
         'fin.bias': sd['encoder.ln.bias'], 'head.weight': sd['heads.head.weight'], 'head.bias': sd['heads.head.bias']}
    lines = [f'# {config} (tests/reference/export_vit_onnx.py write_xai): torchvision\'s VisionTransformer written out',
             f'network {name} {{', f'    weights "{name}.safetensors";', f'    input x[3, {s}, {s}];',
             f'    patch = conv2d(x, {d}, kernel={p}, stride={p});', f'    grid = reshape(patch, [{d}, {g * g}]);',
             '    tok = transpose(grid, [1, 0]);', f'    cls = parameter([1, {d}]);',
             '    seq = concat([cls, tok], axis=0);', f'    pos = parameter([{t}, {d}]);', '    emb = add(seq, pos);']
    prev = 'emb'
    for i in range(c['num_layers']):
        pre = f'encoder.layers.encoder_layer_{i}.'
        ip, ib = sd[pre + 'self_attention.in_proj_weight'], sd[pre + 'self_attention.in_proj_bias']
        for j, n in enumerate('qkv'):
            w[f'{n}{i}.weight'], w[f'{n}{i}.bias'] = ip[j * d:(j + 1) * d], ib[j * d:(j + 1) * d]
        for a, b in ((f'h{i}', 'ln_1'), (f'n{i}', 'ln_2'), (f'm{i}', 'mlp.0'), (f'o{i}', 'mlp.3'),
                     (f'a{i}', 'self_attention.out_proj')):
            w[a + '.weight'], w[a + '.bias'] = sd[pre + b + '.weight'], sd[pre + b + '.bias']
        lines += [f'    h{i} = layernorm({prev}, eps=1e-6);',
                  f'    q{i} = dense(h{i}, {d});', f'    k{i} = dense(h{i}, {d});', f'    v{i} = dense(h{i}, {d});',
                  f'    q3_{i} = reshape(q{i}, [{t}, {heads}, {dh}]);', f'    qh{i} = transpose(q3_{i}, [1, 0, 2]);',
                  f'    qs{i} = mul(qh{i}, {1 / dh ** 0.5!r});',
                  f'    k3_{i} = reshape(k{i}, [{t}, {heads}, {dh}]);', f'    kt{i} = transpose(k3_{i}, [1, 2, 0]);',
                  f'    v3_{i} = reshape(v{i}, [{t}, {heads}, {dh}]);', f'    vh{i} = transpose(v3_{i}, [1, 0, 2]);',
                  f'    score{i} = matmul(qs{i}, kt{i});', f'    att{i} = softmax(score{i}, axis=-1);',
                  f'    ctx{i} = matmul(att{i}, vh{i});', f'    ctx2_{i} = transpose(ctx{i}, [1, 0, 2]);',
                  f'    ctx3_{i} = reshape(ctx2_{i}, [{t}, {d}]);', f'    a{i} = dense(ctx3_{i}, {d});',
                  f'    x{i} = add(a{i}, {prev});', f'    n{i} = layernorm(x{i}, eps=1e-6);',
                  f'    m{i} = dense(n{i}, {mlp});', f'    gelu{i} = gelu(m{i});', f'    o{i} = dense(gelu{i}, {d});',
                  f'    out{i} = add(x{i}, o{i});']
        prev = f'out{i}'
    lines += [f'    fin = layernorm({prev}, eps=1e-6);', '    first = slice(fin, axis=0, start=0, end=1);',
              '    flat = flatten(first);', f'    head = dense(flat, {c["num_classes"]});', '    output head;', '}']
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    write_safetensors(w, os.path.splitext(path)[0] + '.safetensors')


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
    for config in sorted({item.partition('@')[0] for item in items}):
        write_xai(load(config), config, os.path.join(outdir, f'{config}_xai.xai'))
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
