#!/usr/bin/python3
"""Reference fixtures for GELU (both of PyTorch's forms), independent of xaic.

    /usr/bin/python3 tests/reference/make_gelu_fixtures.py        # from the repository root

Writes tests/fixtures/gelu/ (tests/unit/test_gelu.c reads it):
  gelu_net.safetensors  seeded random weights of tests/fixtures/gelu/gelu_net.xai (written by hand; the PyTorch
                        module below is the same network: F.gelu after a conv, F.gelu(approximate='tanh') after a
                        linear layer), scaled so that the GELUs see values over about [-8, 8]
  input.npy             float32 [4,3,4,4], seeded normal values
  targets.npy           int32 [4]: 0, 1, 2, 3
  logits.npy            float32 [4,5]: the module's output (float64 run)
  gradient.npy          float32 [4,3,4,4]: d logit[target] / d x, torch autograd (float64)
  manifest.json         versions, shapes, max |value| of each file, the float64-vs-float32 difference, the range
                        of each GELU's input

Environment: PEERS_HARNESS (safetensors_io.py; default <repo>/../shared/peers).
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'gelu')
sys.path.insert(0, os.environ.get('PEERS_HARNESS', os.path.join(ROOT, '..', 'shared', 'peers')))
import safetensors_io as st  # noqa: E402


class GeluNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3, padding=1)
        self.fc1 = nn.Linear(64, 24)
        self.fc2 = nn.Linear(24, 5)

    def forward(self, x, trace=None):
        t = trace if trace is not None else {}
        t['c'] = self.c(x)
        t['g1'] = F.gelu(t['c'])
        t['fc1'] = self.fc1(t['g1'].flatten(1))
        t['g2'] = F.gelu(t['fc1'], approximate='tanh')
        return self.fc2(t['g2'])


def gradient(net, x, targets):
    x = x.clone().requires_grad_(True)
    y = net(x)
    (g,) = torch.autograd.grad(y[torch.arange(len(targets)), targets].sum(), x)
    return g


def main():
    torch.manual_seed(5)
    net = GeluNet().eval()
    with torch.no_grad():  # larger weights than PyTorch's default: both GELUs see their curved and flat parts
        net.c.weight.mul_(6.0)
        net.fc1.weight.mul_(4.0)
    gen = torch.Generator().manual_seed(13)
    x32 = torch.randn(4, 3, 4, 4, generator=gen)
    targets = torch.tensor([0, 1, 2, 3])
    net64 = GeluNet().double().eval()
    net64.load_state_dict({k: v.double() for k, v in net.state_dict().items()})
    x64 = x32.double()
    trace = {}
    with torch.no_grad():
        net64(x64, trace)
    results = {'logits': net64(x64).detach(), 'gradient': gradient(net64, x64, targets)}
    checks = {'logits': net(x32).detach(), 'gradient': gradient(net, x32, targets)}
    os.makedirs(OUT, exist_ok=True)
    st.save_file({k: v.contiguous() for k, v in net.state_dict().items()}, os.path.join(OUT, 'gelu_net.safetensors'),
                 metadata={'format': 'pt', 'source': 'tests/reference/make_gelu_fixtures.py'})
    np.save(os.path.join(OUT, 'input.npy'), x32.numpy().astype(np.float32))
    np.save(os.path.join(OUT, 'targets.npy'), targets.numpy().astype(np.int32))
    manifest = {'generator': 'tests/reference/make_gelu_fixtures.py', 'torch': torch.__version__,
                'network': 'gelu_net.xai', 'targets': targets.tolist(),
                'gelu_input_range': {k: [float(trace[k].min()), float(trace[k].max())] for k in ('c', 'fc1')},
                'files': {}}
    for name, v in results.items():
        a = v.numpy()
        np.save(os.path.join(OUT, name + '.npy'), a.astype(np.float32))
        mag = float(np.abs(a).max())
        manifest['files'][name + '.npy'] = {
            'shape': list(a.shape), 'max_abs': mag,
            'float32_vs_float64': float(np.abs(checks[name].detach().double().numpy() - a).max() / mag)}
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    print(json.dumps({k: manifest[k] for k in ('gelu_input_range', 'files')}, indent=1))


if __name__ == '__main__':
    main()
