"""Shared by the fixture scripts of small hand-written test networks (make_softmax_fixtures.py,
make_attention_fixtures.py): Zennit's epsilon rule through one linear layer, the input gradient, and writing a
network's weights, inputs, targets and float64 references with the spread float32 rounding alone gives them.
Independent of xaic: PyTorch only.

Environment: PEERS_HARNESS (safetensors_io.py; default <repo>/../shared/peers)."""
import json
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.environ.get('PEERS_HARNESS', os.path.join(ROOT, '..', 'shared', 'peers')))
import safetensors_io as st  # noqa: E402

EPS = 1e-6


def sign(z):
    """sign with sign(0) = +1, Zennit's and xaic's convention"""
    return torch.where(z >= 0, torch.ones_like(z), -torch.ones_like(z))


def stab(z):
    return z + EPS * sign(z)


def epsilon(layer, a, R):
    """LRP-epsilon through a linear layer: a * W^T (R / stab(z)), z with the bias, by autograd on the layer alone"""
    a = a.detach().requires_grad_(True)
    z = layer(a)
    (c,) = torch.autograd.grad((z * (R / stab(z)).detach()).sum(), a)
    return a.detach() * c


def gradient(net, x, targets):
    """d logit[target] / d x"""
    x = x.clone().requires_grad_(True)
    y = net(x)
    (g,) = torch.autograd.grad(y[torch.arange(len(targets)), targets].sum(), x)
    return g


def write(out, generator, network, net, make, x32, targets, walks, tensors=None, extra=None):
    """Runs every walk(net, x, targets) of `walks` ({file stem: function}) on a float64 copy of `net` (made by
    make()) and on net itself, and writes to `out`: NETWORK.safetensors (tensors, default net's state_dict),
    input.npy, targets.npy, STEM.npy (float64 run, stored float32) and manifest.json (each file's shape, max |value|
    and float32-vs-float64 difference, plus `extra`: the epsilon of LRP walks, ranges...)."""
    net64 = make().double().eval()
    net64.load_state_dict({k: v.double() for k, v in net.state_dict().items()})
    stem = os.path.splitext(network)[0]
    os.makedirs(out, exist_ok=True)
    st.save_file({k: v.contiguous() for k, v in (tensors or net.state_dict()).items()},
                 os.path.join(out, stem + '.safetensors'), metadata={'format': 'pt', 'source': generator})
    np.save(os.path.join(out, 'input.npy'), x32.numpy().astype(np.float32))
    np.save(os.path.join(out, 'targets.npy'), targets.numpy().astype(np.int32))
    manifest = {'generator': generator, 'torch': torch.__version__, 'network': network, 'targets': targets.tolist(),
                'files': {}}
    for name, walk in walks.items():
        a = walk(net64, x32.double(), targets).detach().numpy()
        b = walk(net, x32, targets).detach().double().numpy()
        np.save(os.path.join(out, name + '.npy'), a.astype(np.float32))
        mag = float(np.abs(a).max())
        manifest['files'][name + '.npy'] = {'shape': list(a.shape), 'max_abs': mag,
                                            'float32_vs_float64': float(np.abs(b - a).max() / mag)}
    manifest.update(extra or {})
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    print(json.dumps(manifest, indent=1))
