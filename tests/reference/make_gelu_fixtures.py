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
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from small_net_fixtures import ROOT, gradient, write  # noqa: E402

OUT = os.path.join(ROOT, 'tests', 'fixtures', 'gelu')


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


def main():
    torch.manual_seed(5)
    net = GeluNet().eval()
    with torch.no_grad():  # larger weights than PyTorch's default: both GELUs see their curved and flat parts
        net.c.weight.mul_(6.0)
        net.fc1.weight.mul_(4.0)
    gen = torch.Generator().manual_seed(13)
    x32 = torch.randn(4, 3, 4, 4, generator=gen)
    targets = torch.tensor([0, 1, 2, 3])
    trace = {}
    with torch.no_grad():
        net.double()(x32.double(), trace)
        net.float()
    walks = {'logits': lambda m, x, t: m(x), 'gradient': gradient}
    write(OUT, 'tests/reference/make_gelu_fixtures.py', 'gelu_net.xai', net, GeluNet, x32, targets, walks,
          extra={'gelu_input_range': {k: [float(trace[k].min()), float(trace[k].max())] for k in ('c', 'fc1')}})

if __name__ == '__main__':
    main()
