#!/usr/bin/python3
"""Reference fixtures for layer normalisation (layernorm), independent of xaic.

    /usr/bin/python3 tests/reference/make_layernorm_fixtures.py        # from the repository root

Writes tests/fixtures/layernorm/ (tests/unit/test_layernorm.c reads it):
  vit_net.safetensors  seeded random weights of tests/fixtures/layernorm/vit_net.xai (written by hand; the PyTorch
                       module below is the same network: a patch embedding as tokens [4, 6], nn.LayerNorm(6) with a
                       non-trivial weight and bias, a dense layer, ReLU, nn.LayerNorm(10, eps=1e-3,
                       elementwise_affine=False), a dense layer)
  input.npy            float32 [4,3,8,8], seeded normal values
  targets.npy          int32 [4]: 0, 1, 2, 3
  logits.npy           float32 [4,5]: the module's output (float64 run)
  gradient.npy         float32 [4,3,8,8]: d logit[target] / d x, torch autograd (float64)
  integrated_gradients.npy  float32 [4,3,8,8]: integrated gradients of logit[target] from a zero baseline, 64-point
                       Gauss-Legendre quadrature on [0, 1] (xaic's default quadrature), torch autograd (float64)
  lrp.npy              float32 [4,3,8,8]: LRP with xaic's defaults written out below (float64): epsilon(1e-6) on
                       conv2d and dense, pass on relu and the views, the LayerNorm rule of AttnLRP / LXT on both
                       layer norms, output relevance one-hot(target)
  manifest.json        versions, shapes, max |value| of each file, the float64-vs-float32 difference

The LayerNorm rule is LXT's (lxt/efficient/patches.py layer_norm_forward; AttnLRP, Achtibat et al. 2024,
Proposition 3.4): the standard deviation is detached, so the layer is linear in x, y = W x + b, and relevance goes
through it as LRP-0 with the bias in the denominator: R_in = x * d/dx[sum(y * stopgrad(R / y))], computed here by
autograd on the layer norm with std.detach() (LXT's own construction), not by the closed form xaic uses. The
epsilon rule is Zennit's convention: R_in = a * W^T (R / (z + eps * sign(z))), sign(0) = +1, z with the bias.

Environment: PEERS_HARNESS (safetensors_io.py; default <repo>/../shared/peers).
"""
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from small_net_fixtures import EPS, ROOT, epsilon, gradient, write  # noqa: E402

OUT = os.path.join(ROOT, 'tests', 'fixtures', 'layernorm')


class VitNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 6, 4, stride=4)
        self.ln1 = nn.LayerNorm(6)
        self.fc1 = nn.Linear(24, 10)
        self.ln2 = nn.LayerNorm(10, eps=1e-3, elementwise_affine=False)
        self.fc2 = nn.Linear(10, 5)

    def forward(self, x, trace=None):
        """trace: a dict that gets every layer's input and output (for the LRP walk)"""
        t = trace if trace is not None else {}
        t['x'] = x
        t['patch'] = self.patch(x)
        t['tok'] = t['patch'].reshape(-1, 6, 4).transpose(1, 2)
        t['ln1'] = self.ln1(t['tok'])
        t['flat'] = t['ln1'].flatten(1)
        t['fc1'] = self.fc1(t['flat'])
        t['act'] = torch.relu(t['fc1'])
        t['ln2'] = self.ln2(t['act'])
        t['fc2'] = self.fc2(t['ln2'])
        return t['fc2']


def layer_norm_std_detached(ln, x):
    """LXT's layer_norm_forward: (x - mean) / stop_gradient(std) * weight + bias"""
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    std = (var + ln.eps).sqrt()
    y = (x - mean) / std.detach()
    if ln.weight is not None:
        y = y * ln.weight
    if ln.bias is not None:
        y = y + ln.bias
    return y


def layer_norm_rule(ln, x, R):
    """LRP-0 through the std-detached (linear) layer norm: x * J^T (R / y), J by autograd"""
    x = x.detach().requires_grad_(True)
    y = layer_norm_std_detached(ln, x)
    s = torch.where(y == 0, torch.zeros_like(y), R / y)
    (c,) = torch.autograd.grad((y * s.detach()).sum(), x)
    return x.detach() * c


def lrp(net, x, targets):
    t = {}
    with torch.no_grad():
        net(x, t)
    R = torch.zeros_like(t['fc2'])
    R[torch.arange(len(targets)), targets] = 1.0
    R = epsilon(net.fc2, t['ln2'], R)
    R = layer_norm_rule(net.ln2, t['act'], R)
    # relu: pass
    R = epsilon(net.fc1, t['flat'], R)
    R = R.reshape(t['ln1'].shape)
    R = layer_norm_rule(net.ln1, t['tok'], R)
    R = R.transpose(1, 2).reshape(t['patch'].shape)
    return epsilon(net.patch, x, R)


def integrated_gradients(net, x, targets, steps=64):
    t, w = np.polynomial.legendre.leggauss(steps)
    total = torch.zeros_like(x)
    for alpha, weight in zip((t + 1) / 2, w / 2):
        total += float(weight) * gradient(net, float(alpha) * x, targets)
    return x * total


def main():
    torch.manual_seed(7)  # (seeds whose layer norm outputs come near 0 make LRP-0 through it ill-conditioned)
    net = VitNet().eval()
    with torch.no_grad():  # a layer norm with a weight and bias far from 1 and 0
        net.ln1.weight.copy_(1 + 0.5 * torch.randn(6))
        net.ln1.bias.copy_(0.3 * torch.randn(6))
    gen = torch.Generator().manual_seed(13)
    x32 = torch.randn(4, 3, 8, 8, generator=gen)
    targets = torch.tensor([0, 1, 2, 3])
    net64 = VitNet().double().eval()
    net64.load_state_dict({k: v.double() for k, v in net.state_dict().items()})
    x64 = x32.double()
    # the closed form xaic's rule writes, R_in = x (s r / y - mean(s r / y)), s = weight / std: the same values
    t = {}
    with torch.no_grad():
        net64(x64, t)
    R = torch.zeros_like(t['fc2'])
    R[torch.arange(4), targets] = 1.0
    R2 = epsilon(net64.fc2, t['ln2'], R)
    a = t['act']
    s = 1 / (a.var(dim=-1, unbiased=False, keepdim=True) + net64.ln2.eps).sqrt()
    q = s * R2 / t['ln2']
    closed = a * (q - q.mean(dim=-1, keepdim=True))
    assert torch.allclose(closed, layer_norm_rule(net64.ln2, a, R2), rtol=1e-9, atol=1e-12)
    walks = {'logits': lambda m, x, t: m(x), 'gradient': gradient, 'lrp': lrp,
             'integrated_gradients': integrated_gradients}
    write(OUT, 'tests/reference/make_layernorm_fixtures.py', 'vit_net.xai', net, VitNet, x32, targets, walks,
          extra={'epsilon': EPS})

if __name__ == '__main__':
    main()
