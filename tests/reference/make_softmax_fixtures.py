#!/usr/bin/python3
"""Reference fixtures for softmax inside a network, independent of xaic.

    /usr/bin/python3 tests/reference/make_softmax_fixtures.py        # from the repository root

Writes tests/fixtures/softmax/ (tests/unit/test_softmax_layers.c reads it):
  attn_net.safetensors  seeded random weights of tests/fixtures/softmax/attn_net.xai (written by hand; the
                        PyTorch module below is the same network: softmax over dim 1, 2, -1 and a flat layer)
  input.npy             float32 [4,3,6,6], seeded normal values
  targets.npy           int32 [4]: 0, 1, 2, 3
  logits.npy            float32 [4,5]: the module's output (float64 run)
  gradient.npy          float32 [4,3,6,6]: d logit[target] / d x, torch autograd (float64)
  lrp_gate.npy          float32 [4,3,6,6]: LRP with xaic's defaults written out below (float64): epsilon(1e-6) on
                        conv2d and dense, pass on relu, AttnLRP's softmax rule on every softmax, the product's
                        relevance all to v (its other factor is a softmax: the gate rule), output relevance
                        one-hot(target)
  lrp_uniform.npy       the same, but the product gives each factor half (AttnLRP's uniform rule)
  manifest.json         versions, shapes, max |value| of each file, the float64-vs-float32 difference

The softmax rule is a transcription of AttnLRP (Achtibat et al. 2024), Proposition 3.1:
R_in_i = x_i (R_i - s_i sum_j R_j), the sum over the softmax's axis. The epsilon rule is Zennit's convention:
R_in = a * W^T (R / (z + eps * sign(z))), sign(0) = +1, z with the bias.

Helpers and the files' writing: small_net_fixtures.py.
"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from small_net_fixtures import EPS, ROOT, epsilon, gradient, write  # noqa: E402

OUT = os.path.join(ROOT, 'tests', 'fixtures', 'softmax')


class AttnNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Conv2d(3, 4, 3, padding=1)
        self.v = nn.Conv2d(3, 4, 1)
        self.h = nn.Conv2d(4, 2, 3, stride=2, padding=1)
        self.fc1 = nn.Linear(18, 8)
        self.fc2 = nn.Linear(8, 5)

    def forward(self, x, trace=None):
        """trace: a dict that gets every layer's input and output (for the LRP walk)"""
        t = trace if trace is not None else {}
        t['x'] = x
        t['q'] = self.q(x)
        t['att'] = torch.softmax(t['q'], dim=1)
        t['v'] = self.v(x)
        t['mix'] = t['v'] * t['att']
        t['act'] = torch.relu(t['mix'])
        t['col'] = torch.softmax(t['act'], dim=2)
        t['h'] = self.h(t['col'])
        t['row'] = torch.softmax(t['h'], dim=-1)
        t['flat'] = t['row'].flatten(1)
        t['fc1'] = self.fc1(t['flat'])
        t['p'] = torch.softmax(t['fc1'], dim=1)
        t['fc2'] = self.fc2(t['p'])
        return t['fc2']


def softmax_taylor(x, s, R, dim):
    """AttnLRP Proposition 3.1"""
    return x * (R - s * R.sum(dim=dim, keepdim=True))


def lrp(net, x, targets, uniform):
    t = {}
    with torch.no_grad():
        net(x, t)
    R = torch.zeros_like(t['fc2'])
    R[torch.arange(len(targets)), targets] = 1.0
    R = epsilon(net.fc2, t['p'], R)
    R = softmax_taylor(t['fc1'], t['p'], R, 1)
    R = epsilon(net.fc1, t['flat'], R)
    R = R.reshape(t['row'].shape)
    R = softmax_taylor(t['h'], t['row'], R, -1)
    R = epsilon(net.h, t['col'], R)
    R = softmax_taylor(t['act'], t['col'], R, 2)
    # relu: pass; the product: all to v (gate) or half to each factor (uniform)
    R_v = R / 2 if uniform else R
    R_x = epsilon(net.v, x, R_v)
    if uniform:
        R_att = R / 2
        R_q = softmax_taylor(t['q'], t['att'], R_att, 1)
        R_x = R_x + epsilon(net.q, x, R_q)
    return R_x


def main():
    torch.manual_seed(7)
    net = AttnNet().eval()
    with torch.no_grad():  # larger weights than PyTorch's default, so that the softmaxes are far from uniform
        for p in net.parameters():
            p.mul_(3.0)
    gen = torch.Generator().manual_seed(11)
    x32 = torch.randn(4, 3, 6, 6, generator=gen)
    targets = torch.tensor([0, 1, 2, 3])
    walks = {'logits': lambda m, x, t: m(x), 'gradient': gradient,
             'lrp_gate': lambda m, x, t: lrp(m, x, t, uniform=False),
             'lrp_uniform': lambda m, x, t: lrp(m, x, t, uniform=True)}
    write(OUT, 'tests/reference/make_softmax_fixtures.py', 'attn_net.xai', net, AttnNet, x32, targets, walks,
          extra={'epsilon': EPS})

if __name__ == '__main__':
    main()
