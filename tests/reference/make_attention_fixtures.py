#!/usr/bin/python3
"""Reference fixtures for tokens and self-attention (dense on [T, D], matmul of two values), independent of xaic.

    /usr/bin/python3 tests/reference/make_attention_fixtures.py        # from the repository root

Writes tests/fixtures/attention/ (tests/unit/test_attention_layers.c reads it):
  tiny_vit.safetensors  seeded random weights of tests/fixtures/attention/tiny_vit.xai (written by hand; the
                        PyTorch module below is the same network, laid out as torchvision's VisionTransformer: class
                        token prepended, positional embeddings added, the head reads the class token; cls / pos are
                        stored per sample as cls.weight [1, 6], pos.weight [5, 6])
  input.npy             float32 [4,3,4,4], seeded normal values;  targets.npy int32 [4]: 0, 1, 2, 3
  logits.npy            float32 [4,5]: the module's output (float64 run)
  gradient.npy          float32 [4,3,4,4]: d logit[target] / d x, torch autograd (float64)
  lrp_cp.npy            LRP, float64, CP-LRP's map written out below: epsilon(1e-6) on conv2d and dense (Zennit's
                        convention, z with the bias, sign(0) = +1), the residual add `norm` (each input x_k R / stab(y),
                        stabiliser 1e-6; the positional embeddings' share stays with them, as a bias's), the
                        attention weights held constant (the product att @ v gives all its
                        relevance to v: v_kn sum_m att_mk R_mn / stab(y_mn)), the scale (a product with a number) and
                        reshapes / transposes pass relevance on; output relevance one-hot(target)
  lrp_attn.npy          the same, but both products give each factor half (AttnLRP's uniform rule, each half spread
                        in proportion to the contributions as above) and the softmax takes AttnLRP's rule
                        (Proposition 3.1: x (R - s sum R) along its axis)
  manifest.json         versions, shapes, max |value| of each file, the float64-vs-float32 difference
  mnist_vit_logits.npy  float32 [10,10]: the bundled models/mnist_vit (models/train.py) on models/samples/digits.npy,
                        PyTorch in float64
Helpers and the files' writing: small_net_fixtures.py.
"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from small_net_fixtures import EPS, ROOT, epsilon, gradient, stab, write  # noqa: E402

OUT = os.path.join(ROOT, 'tests', 'fixtures', 'attention')
SCALE = 0.57735
P, T, D, H, DH = 4, 5, 6, 2, 3  # patches, tokens (with the class token), width, heads, head width


class TinyViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, D, 2, stride=2)
        self.q = nn.Linear(D, D)
        self.k = nn.Linear(D, D)
        self.v = nn.Linear(D, D)
        self.proj = nn.Linear(D, D)
        self.head = nn.Linear(D, 5)
        self.cls = nn.Parameter(torch.randn(1, 1, D))  # torchvision: class_token [1, 1, D], pos_embedding [1, T, D]
        self.pos = nn.Parameter(torch.randn(1, T, D))

    def forward(self, x, t=None):
        t = t if t is not None else {}
        n = x.shape[0]
        t['patch'] = self.patch(x)
        t['tok'] = t['patch'].reshape(n, D, P).transpose(1, 2)
        t['seq'] = torch.cat([self.cls.expand(n, -1, -1), t['tok']], dim=1)
        t['emb'] = t['seq'] + self.pos
        for name in 'qkv':
            t[name] = getattr(self, name)(t['emb'])
        t['qh'] = t['q'].reshape(n, T, H, DH).transpose(1, 2)
        t['kt'] = t['k'].reshape(n, T, H, DH).permute(0, 2, 3, 1)
        t['vh'] = t['v'].reshape(n, T, H, DH).transpose(1, 2)
        t['score'] = t['qh'] @ t['kt']
        t['scale'] = t['score'] * SCALE
        t['att'] = torch.softmax(t['scale'], dim=-1)
        t['ctx'] = t['att'] @ t['vh']
        t['ctx3'] = t['ctx'].transpose(1, 2).reshape(n, T, D)
        t['proj'] = self.proj(t['ctx3'])
        t['res'] = t['proj'] + t['emb']
        t['flat'] = t['res'][:, 0]
        t['head'] = self.head(t['flat'])
        return t['head']


def product(a, b, y, R_a, R_b):
    """a matmul's parts of relevance spread over its factors in proportion to the contributions a_mk b_kn"""
    out = []
    if R_a is not None:
        out.append(a * ((R_a / stab(y)) @ b.transpose(-1, -2)))
    else:
        out.append(None)
    if R_b is not None:
        out.append(b * (a.transpose(-1, -2) @ (R_b / stab(y))))
    else:
        out.append(None)
    return out


def lrp(net, x, targets, attn):
    t = {}
    with torch.no_grad():
        net(x, t)
    n = x.shape[0]
    R = torch.zeros_like(t['head'])
    R[torch.arange(n), targets] = 1.0
    R = torch.cat([epsilon(net.head, t['flat'], R)[:, None], torch.zeros(n, T - 1, D, dtype=x.dtype)], dim=1)
    # the residual add: norm (share(a * w), w = 1)
    R_proj = t['proj'] * R / stab(t['res'])
    R_emb = t['emb'] * R / stab(t['res'])
    R = epsilon(net.proj, t['ctx3'], R_proj)
    R_ctx = R.reshape(n, T, H, DH).transpose(1, 2)
    if attn:
        R_att, R_vh = product(t['att'], t['vh'], t['ctx'], R_ctx / 2, R_ctx / 2)
        x_s, s = t['scale'], t['att']
        R_scale = x_s * (R_att - s * R_att.sum(dim=-1, keepdim=True))
        R_qh, R_kt = product(t['qh'], t['kt'], t['score'], R_scale / 2, R_scale / 2)  # the scale passes
    else:
        _, R_vh = product(t['att'], t['vh'], t['ctx'], None, R_ctx)
        R_qh = R_kt = None
    R_v = R_vh.transpose(1, 2).reshape(n, T, D)
    R_emb = R_emb + epsilon(net.v, t['emb'], R_v)
    if R_qh is not None:
        R_q = R_qh.transpose(1, 2).reshape(n, T, D)
        R_k = R_kt.permute(0, 3, 1, 2).reshape(n, T, D)
        R_emb = R_emb + epsilon(net.q, t['emb'], R_q) + epsilon(net.k, t['emb'], R_k)
    # the positional embeddings' share stays with them (norm: seq R / stab(emb)), the class token's too
    R_seq = t['seq'] * R_emb / stab(t['emb'])
    R_tok = R_seq[:, 1:]
    R_patch = R_tok.transpose(1, 2).reshape(n, D, 2, 2)
    return epsilon(net.patch, x, R_patch)


def main():
    torch.manual_seed(5)
    net = TinyViT().eval()
    gen = torch.Generator().manual_seed(13)
    x32 = torch.randn(4, 3, 4, 4, generator=gen)
    targets = torch.tensor([0, 1, 2, 3])
    walks = {'logits': lambda m, x, t: m(x), 'gradient': gradient,
             'lrp_cp': lambda m, x, t: lrp(m, x, t, attn=False), 'lrp_attn': lambda m, x, t: lrp(m, x, t, attn=True)}
    t = {}
    with torch.no_grad():
        net.double()(x32.double(), t)
        net.float()
    tensors = {(k + '.weight' if k in ('cls', 'pos') else k): (v[0] if k in ('cls', 'pos') else v)
               for k, v in net.state_dict().items()}  # the class token and embeddings per sample
    write(OUT, 'tests/reference/make_attention_fixtures.py', 'tiny_vit.xai', net, TinyViT, x32, targets, walks, tensors,
          {'epsilon': EPS, 'attention_max_weight': float(t['att'].max())})  # how far from uniform (0.2) the attention is


def bundled_vit():
    """mnist_vit_logits.npy: models/mnist_vit (models/train.py's MnistViT) on models/samples/digits.npy, float64"""
    import numpy as np
    sys.path.insert(0, os.path.join(ROOT, 'models'))
    import train as models_train
    net = models_train.load('mnist_vit').double()
    x = torch.from_numpy(np.load(os.path.join(ROOT, 'models', 'samples', 'digits.npy'))).double()
    with torch.no_grad():
        logits = net(x).numpy()
    np.save(os.path.join(OUT, 'mnist_vit_logits.npy'), logits.astype(np.float32))
    print('mnist_vit: arg-max', logits.argmax(1).tolist())


if __name__ == '__main__':
    main()
    bundled_vit()
