#!/usr/bin/python3
"""Reference fixtures for torchvision's VisionTransformer imported from ONNX (issue 21): the peers' explanations of
two small seeded-random ViTs, for tests/unit/test_import_vit.c.

    PEERS_DIR=$HOME/xai-peers /usr/bin/python3 tests/reference/make_vit_fixtures.py    # from the repository root

Needs the peers of /work/shared/peers (setup_peers.sh): Debian's python3-torch 1.13 / python3-torchvision 0.14,
Zennit 0.5.1 and LXT f0434417 (rachtibat/LRP-eXplains-Transformers) in $PEERS_DIR (default ~/xai-peers), and the
harness's safetensors_io.py (PEERS_HARNESS, default <repo>/../shared/peers).  The peers' code is never committed.

The networks (export_vit_onnx.py CONFIGS): torchvision.models.VisionTransformer
  vit_16_4: image 16, patch 4 (16 tokens + the class token), 2 layers, 2 heads, hidden 8, MLP 16, 5 classes
  vit_24_8: image 24, patch 8 (9 tokens + the class token), 1 layer, 3 heads, hidden 12, MLP 24, 4 classes
dropouts 0, LayerNorm eps 1e-6 (torchvision's), eval mode.  Weights (make_model): torch.manual_seed(SEED[config]),
torchvision's own init, then draws from a torch.Generator seeded SEED[config] + 1, in this order: class_token ~
N(0, 0.1) (torchvision: zeros); pos_embedding ~ N(0, 0.2) (torchvision: N(0, 0.02)); conv_proj.weight doubled (no
draw); then in named_modules() order, every LayerNorm's weight ~ 1 + U(-0.3, 0.3) and bias ~ U(-0.2, 0.2)
(torchvision: 1 and 0), every attention's in_proj_bias and out_proj.bias ~ U(-0.2, 0.2) (torchvision: 0), every MLP
Linear's bias ~ U(-0.1, 0.1) (torchvision: N(0, 1e-6)); last heads.head.weight ~ N(0, 0.5) and its bias
~ U(-0.1, 0.1) (torchvision: zeros, which would make every explanation zero).  With a larger class token and
positional embeddings (N(0, 1), N(0, 0.5)) and torchvision's conv_proj scale, every input went to one class; with
these, 200 random inputs spread over four classes in vit_16_4 and three in vit_24_8.  Stored float32; every reference
below is computed in float64 from those float32 weights (model.double()).

Files written per configuration to tests/fixtures/vit/CONFIG/ (arrays float32 .npy; all float64 computations):
  weights.safetensors  the float32 state_dict (PyTorch names), read back by export_vit_onnx.py, which exports the
                       ONNX files at test time (opsets 17 and 14) after checking this file's sha256 (manifest)
  input.npy            [3, 3, S, S]: torch.randn with a torch.Generator seeded INPUT_SEED[config]
  logits.npy           [3, classes]: the model's output, float64 run
  targets.npy          int32 [3]: argmax of the logits
  gradient.npy         [3, 3, S, S]: d logit[target] / d x, torch autograd in float64
  cp_lrp.npy           LXT's efficient CP-LRP for torchvision's ViT: lxt/efficient/models/vit_torch.py's cp_LRP map
                       (nn.GELU: identity rule, nn.LayerNorm: std detached, nn.MultiheadAttention: query and key
                       detached, so the attention weights are constants) plus lxt.efficient.monkey_patch_zennit and
                       Zennit's LayerMapComposite([(nn.Linear, Epsilon(1e-6)), (nn.Conv2d, Epsilon(1e-6))]);
                       y[i, target[i]].sum().backward(), relevance = x * x.grad.  SEEDING: the gradient at the
                       output is one-hot, and LXT's Zennit patch multiplies it by the layer's output, so the output
                       relevance is the target LOGIT VALUE (xaic: `seed logit`).  Note what the map does: only the
                       modules whose forward is called get Zennit's epsilon (conv_proj, the MLPs' Linears, the
                       head); nn.MultiheadAttention uses in_proj_weight and out_proj.weight inside
                       F.multi_head_attention_forward, so those projections take the plain gradient x input (LRP-0,
                       bias included, no stabiliser); residual adds take gradient x input (proportional, no
                       stabiliser); the only divisions are at the epsilon layers' inputs (LXT: x + 1e-10 sign(x)).
  cp_lrp_xaic.npy      CP-LRP as xaic's preset defines it: the transcription below (lrp_walk, attn=False) with the
                       stabilisers of attn_lrp.npy (1e-6 at every add, at att v and on the attention's in / out
                       projections, which LXT leaves unstabilised), seeded with the target logit value.  It equals
                       the transcription with LXT's stabilisers up to those; that one reproduces cp_lrp.npy within
                       3e-7 of max (checks), so this file is LXT's CP-LRP moved only by xaic's stabilisers
                       (`cp_lrp_transcription_xaic_stabilisers_vs_lxt`, 3e-4 to 4e-4 of max here)
  attn_lrp.npy         AttnLRP, LXT not providing it for nn.MultiheadAttention (its torchvision map is CP-LRP only):
                       a float64 torch transcription below (lrp_walk, attn=True) of the issue's equations, on the
                       same forward values, seeded with the target LOGIT VALUE, stab(z) = z + 1e-6 sign(z),
                       sign(0) = +1 (Zennit's and xaic's convention):
                         dense, conv2d: epsilon(1e-6) with the bias in z;  residual adds and the positional
                         embeddings' add: proportional, x_k R / stab(y) (the class token's and positional
                         embeddings' shares stay with them);  layer norm, std held constant (LRP-0 through the
                         linear map, bias in the denominator): R_i = x_i (w_i r_i / y_i - mean_j(w_j r_j / y_j)),
                         w = weight / sqrt(var + eps), no stabiliser;  GELU: identity;  the products q k^T and
                         att v: uniform, half to each factor, each half spread in proportion to the contributions:
                         R_a = a ((R / 2 / stab(y)) b^T), R_b = b (a^T (R / 2 / stab(y)));  the scale 1/sqrt(d)
                         (a product with a number): passes;  softmax: R_in = x (R - s sum(R)) along the keys.
  manifest.json        versions, configuration, seeds, sha256 of weights.safetensors, targets, each file's shape
                       and max |value| and the float32-vs-float64 spread of logits / gradient, the attention's
                       largest weight, and the checks below.

Checks (manifest.json `checks`; the script fails if one of the first four is off):
  - `transcription_forward_vs_torchvision` (0) and `lxt_patched_logits_vs_plain` (~1e-15): the transcription's forward
    and the LXT-patched model's logits equal torchvision's (float64);
  - `cp_lrp_transcription_lxt_stabilisers_vs_lxt` (<= 1e-6 required; 1.9e-8, 2.7e-7): the transcription with attn=False
    and LXT's stabilisers (lrp_walk(stabilisers=LXT): none at adds, matmuls and the attention's projections)
    against LXT's cp_lrp.npy: the transcription and LXT's CP-LRP are the same rules;
  - `attn_lrp_transcription_lxt_stabilisers_vs_lxt_rules` (<= 1e-6 required; 2.0e-8, 3.2e-7): the transcription with
    attn=True and LXT's stabilisers against AttnLRP built from LXT's own pieces: its cp_LRP patches for GELU and
    LayerNorm, Zennit's epsilon on Linear / Conv2d, and nn.MultiheadAttention.forward re-written
    (lxt_attnlrp_attention) with lxt.efficient.rules.divide_gradient on q and k (1/4) and v (1/2), as LXT's
    wrap_attention_forward does for Hugging Face attention, the softmax's plain gradient (its Taylor rule in
    gradient x input) and the in / out projections unhooked (as in LXT's CP map);
  - recorded only: `cp_lrp_transcription_xaic_stabilisers_vs_lxt` (cp_lrp_xaic.npy against cp_lrp.npy: how far
    xaic's stabilisers move CP-LRP from LXT's), `attn_lrp_vs_lxt_rules` (attn_lrp.npy against the LXT-pieces
    AttnLRP), and `cp_lrp_transcription_only_KIND_stabilised_vs_lxt` for each of xaic's stabilisers alone (add:
    residual adds and the positional embeddings' add; matmul: att v; attn_proj: epsilon on the in / out
    projections);
  - `conservation_*`: max |sum R_in - sum R_out| / |sum R_out| over the residual adds and the matmuls (CP: att v
    to v alone; AttnLRP: uniform to both factors): with LXT's stabilisers (exact: <= 1e-9 required, ~1e-15) and
    with xaic's (off by what the 1e-6 stabilisers take, ~1e-6 to 1e-5);  `map_sum_over_seed`: the whole map's sum
    over the seed, not conserved (biases, LayerNorm biases, the class token and positional embeddings and, in
    AttnLRP, the softmax's Taylor rule absorb relevance): recorded, not checked.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import export_vit_onnx as ex  # noqa: E402
import lxt_modules  # noqa: E402

sys.path.insert(0, os.environ.get('PEERS_HARNESS', os.path.join(ROOT, '..', 'shared', 'peers')))
import safetensors_io as st  # noqa: E402

PEERS = os.environ.get('PEERS_DIR', os.path.expanduser('~/xai-peers'))
sys.path.insert(0, os.path.join(PEERS, 'zennit', 'src'))
from zennit.composites import LayerMapComposite  # noqa: E402
from zennit.core import BasicHook  # noqa: E402
from zennit.rules import Epsilon  # noqa: E402

EPS = 1e-6
BATCH = 3
SEED = {'vit_16_4': 21001, 'vit_24_8': 21002}
INPUT_SEED = {'vit_16_4': 21101, 'vit_24_8': 21102}
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'vit')


# ---- LXT without its package __init__ (which imports Hugging Face transformers): lxt_modules.py ----

def import_lxt():
    return lxt_modules.import_lxt(PEERS)


class patched:
    """LXT's monkey patches (classes of torch.nn and Zennit's BasicHook) for the duration of a with block"""
    TARGETS = [(nn.GELU, 'forward'), (nn.LayerNorm, 'forward'), (nn.MultiheadAttention, 'forward'),
               (BasicHook, 'forward'), (BasicHook, 'backward')]

    def __init__(self, lxt, attention=None):
        self.lxt, self.attention = lxt, attention

    def __enter__(self):
        self.saved = [(c, n, c.__dict__.get(n)) for c, n in self.TARGETS]
        self.saved += [(c, 'original_forward', c.__dict__.get('original_forward'))
                       for c in (nn.GELU, nn.MultiheadAttention)]
        cp_map = self.lxt['models.vit_torch'].cp_LRP
        for target, patch in cp_map.items():
            if target is nn.MultiheadAttention and self.attention is not None:
                target.forward = self.attention
            elif not patch(target):
                raise RuntimeError(f'LXT could not patch {target.__name__}')
        self.lxt['zennit_patches'].monkey_patch_zennit()
        return self

    def __exit__(self, *exc):
        for c, n, f in self.saved:
            if f is None:
                if n in c.__dict__:
                    delattr(c, n)
            else:
                setattr(c, n, f)


def lxt_explain(model, x, targets):
    """x * x.grad with the patches active and Zennit's epsilon on Linear and Conv2d; y[target] seeded by 1"""
    composite = LayerMapComposite([(nn.Linear, Epsilon(epsilon=EPS)), (nn.Conv2d, Epsilon(epsilon=EPS))])
    x = x.clone().requires_grad_(True)
    with composite.context(model) as m:
        y = m(x)
        y[torch.arange(len(targets)), targets].sum().backward()
    return (x * x.grad).detach()


def lxt_attnlrp_attention(lxt):
    """nn.MultiheadAttention.forward re-written for AttnLRP with LXT's rules: q and k's gradient divided by 4 and v's
    by 2 (as lxt.efficient.patches.wrap_attention_forward does for Hugging Face's attention), the softmax's plain
    gradient (which is its Taylor rule in gradient x input)"""
    divide = lxt['rules'].divide_gradient

    def forward(self, query, key, value, need_weights=False, **kw):
        assert self.batch_first and query is key is value
        n, t, d = query.shape
        h = self.num_heads
        w, b = self.in_proj_weight, self.in_proj_bias
        q, k, v = (F.linear(query, w[i * d:(i + 1) * d], b[i * d:(i + 1) * d]).reshape(n, t, h, d // h)
                   .transpose(1, 2) for i in range(3))
        q, k, v = divide(q, 4), divide(k, 4), divide(v, 2)
        att = torch.softmax((q / math.sqrt(d // h)) @ k.transpose(-1, -2), dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(n, t, d)
        return F.linear(ctx, self.out_proj.weight, self.out_proj.bias), None  # unhooked, as in the CP map
    return forward


# ---- the transcription ----

def sign(z):
    return torch.where(z >= 0, torch.ones_like(z), -torch.ones_like(z))


def stab(z, eps=EPS):
    return z + eps * sign(z)


# The stabilisers of the transcription: XAIC = the issue's / xaic's definitions (the committed attn_lrp); LXT = what
# LXT's gradient x input does with the cp_LRP map (epsilon only in the modules Zennit hooks; adds, matmuls and the
# attention's in / out projections without a stabiliser), used to check the transcription against LXT.
XAIC = {'add': EPS, 'matmul': EPS, 'attn_proj': EPS}
LXT = {'add': 0.0, 'matmul': 0.0, 'attn_proj': 0.0}


def linear_eps(w, b, a, R, eps=EPS):
    """epsilon through y = a w^T + b on the last axis: a * ((R / stab(y)) w)"""
    return a * ((R / stab(F.linear(a, w, b), eps)) @ w)


def layernorm_identity(ln, x, y, R):
    """LRP-0 through the layer norm with its std held constant: x (w r / y - mean(w r / y)), w = weight / std; y is
    the layer's output as the forward pass computed it (the relevance r at y is proportional to that y: recomputing y
    here would round differently in float32 where y is near 0)"""
    mean = x.mean(-1, keepdim=True)
    std = ((x - mean) ** 2).mean(-1, keepdim=True).add(ln.eps).sqrt()
    c = ln.weight / std * R / y
    return x * (c - c.mean(-1, keepdim=True))


def forward_walk(model, x):
    """torchvision's VisionTransformer written out, every intermediate kept (t['logits'] is the output)"""
    t = {'x': x}
    n = x.shape[0]
    t['patch'] = model.conv_proj(x)
    d = t['patch'].shape[1]
    t['tok'] = t['patch'].reshape(n, d, -1).permute(0, 2, 1)
    t['seq'] = torch.cat([model.class_token.expand(n, -1, -1), t['tok']], dim=1)
    t['emb'] = t['seq'] + model.encoder.pos_embedding
    h_in = t['emb']
    t['layers'] = []
    for blk in model.encoder.layers:
        L = {'in': h_in}
        mha = blk.self_attention
        heads, T = mha.num_heads, h_in.shape[1]
        dh = d // heads
        L['h'] = blk.ln_1(h_in)
        w, b = mha.in_proj_weight, mha.in_proj_bias
        for i, name in enumerate('qkv'):
            L[name] = F.linear(L['h'], w[i * d:(i + 1) * d], b[i * d:(i + 1) * d])
            L[name + 'h'] = L[name].reshape(n, T, heads, dh).transpose(1, 2)
        L['qs'] = L['qh'] / math.sqrt(dh)  # torch 1.13 scales q before the product
        L['kt'] = L['kh'].transpose(-1, -2)
        L['score'] = L['qs'] @ L['kt']
        L['att'] = torch.softmax(L['score'], dim=-1)
        L['ctx'] = L['att'] @ L['vh']
        L['ctx3'] = L['ctx'].transpose(1, 2).reshape(n, T, d)
        L['a'] = mha.out_proj(L['ctx3'])
        L['x1'] = L['a'] + h_in
        L['h2'] = blk.ln_2(L['x1'])
        L['m1'] = blk.mlp[0](L['h2'])
        L['g'] = blk.mlp[1](L['m1'])
        L['m2'] = blk.mlp[3](L['g'])
        L['out'] = L['x1'] + L['m2']
        t['layers'].append(L)
        h_in = L['out']
    t['final'] = model.encoder.ln(h_in)
    t['cls'] = t['final'][:, 0]
    t['logits'] = model.heads.head(t['cls'])
    return t


def lrp_walk(model, x, targets, attn, cons=None, stabilisers=XAIC):
    """CP-LRP (attn=False) or AttnLRP (attn=True) as the module docstring states; the output relevance is the target
    logit's value; stabilisers: XAIC or LXT (above).  cons (a dict) collects max |sum(R_in) - sum(R_out)| /
    |sum(R_out)| per conserving op kind."""
    cons = cons if cons is not None else {}
    e_add, e_mm, e_proj = stabilisers['add'], stabilisers['matmul'], stabilisers['attn_proj']

    def conserve(kind, r_out, *r_in):
        s_out = r_out.flatten(1).sum(1)
        s_in = sum(r.flatten(1).sum(1) for r in r_in)
        err = float(((s_in - s_out).abs() / s_out.abs().clamp_min(1e-300)).max())
        cons[kind] = max(cons.get(kind, 0.0), err)

    with torch.no_grad():
        t = forward_walk(model, x)
        n = x.shape[0]
        idx = torch.arange(n)
        R = torch.zeros_like(t['logits'])
        R[idx, targets] = t['logits'][idx, targets]
        head = model.heads.head
        R_cls = linear_eps(head.weight, head.bias, t['cls'], R)
        R_final = torch.zeros_like(t['final'])
        R_final[:, 0] = R_cls
        R_h = layernorm_identity(model.encoder.ln, t['layers'][-1]['out'], t['final'], R_final)
        for blk, L in zip(reversed(model.encoder.layers), reversed(t['layers'])):
            mha = blk.self_attention
            d = L['h'].shape[-1]
            # out = x1 + m2, proportional
            R_x1 = L['x1'] * R_h / stab(L['out'], e_add)
            R_m2 = L['m2'] * R_h / stab(L['out'], e_add)
            conserve('residual_add', R_h, R_x1, R_m2)
            R_g = linear_eps(blk.mlp[3].weight, blk.mlp[3].bias, L['g'], R_m2)
            R_m1 = R_g  # GELU: identity
            R_h2 = linear_eps(blk.mlp[0].weight, blk.mlp[0].bias, L['h2'], R_m1)
            R_x1 = R_x1 + layernorm_identity(blk.ln_2, L['x1'], L['h2'], R_h2)
            # x1 = a + in
            R_in = L['in'] * R_x1 / stab(L['x1'], e_add)
            R_a = L['a'] * R_x1 / stab(L['x1'], e_add)
            conserve('residual_add', R_x1, R_in, R_a)
            R_ctx3 = linear_eps(mha.out_proj.weight, mha.out_proj.bias, L['ctx3'], R_a, e_proj)
            R_ctx = R_ctx3.reshape(L['ctx'].transpose(1, 2).shape).transpose(1, 2)
            z = R_ctx / stab(L['ctx'], e_mm)
            w, b = mha.in_proj_weight, mha.in_proj_bias
            if attn:
                R_att = L['att'] * ((z / 2) @ L['vh'].transpose(-1, -2))
                R_vh = L['vh'] * (L['att'].transpose(-1, -2) @ (z / 2))
                conserve('matmul_uniform', R_ctx, R_att, R_vh)
                R_score = L['score'] * (R_att - L['att'] * R_att.sum(-1, keepdim=True))
                zs = R_score / 2 / stab(L['score'], e_mm)
                R_qs = L['qs'] * (zs @ L['kt'].transpose(-1, -2))
                R_kt = L['kt'] * (L['qs'].transpose(-1, -2) @ zs)
                conserve('matmul_uniform', R_score, R_qs, R_kt)
                R_q = R_qs.transpose(1, 2).reshape(L['q'].shape)  # the scale passes
                R_k = R_kt.transpose(-1, -2).transpose(1, 2).reshape(L['k'].shape)
            else:
                R_vh = L['vh'] * (L['att'].transpose(-1, -2) @ z)
                conserve('matmul_gate', R_ctx, R_vh)
                R_q = R_k = None
            R_v = R_vh.transpose(1, 2).reshape(L['v'].shape)
            R_hh = linear_eps(w[2 * d:], b[2 * d:], L['h'], R_v, e_proj)
            if attn:
                R_hh = R_hh + linear_eps(w[:d], b[:d], L['h'], R_q, e_proj)
                R_hh = R_hh + linear_eps(w[d:2 * d], b[d:2 * d], L['h'], R_k, e_proj)
            R_h = R_in + layernorm_identity(blk.ln_1, L['in'], L['h'], R_hh)
        # emb = seq + pos: the positional embeddings' share stays there, the class token's too
        R_seq = t['seq'] * R_h / stab(t['emb'], e_add)
        R_tok = R_seq[:, 1:]
        R_patch = R_tok.permute(0, 2, 1).reshape(t['patch'].shape)
        conv = model.conv_proj
        xx = x.clone().requires_grad_(True)
        with torch.enable_grad():
            zc = conv(xx)
            (c,) = torch.autograd.grad((zc * (R_patch / stab(zc)).detach()).sum(), xx)
        return x * c, t


# ---- weights, references ----

def make_model(config):
    torch.manual_seed(SEED[config])
    model = ex.build(config)
    gen = torch.Generator().manual_seed(SEED[config] + 1)

    def u(shape, lo, hi):
        return torch.rand(shape, generator=gen) * (hi - lo) + lo

    with torch.no_grad():
        model.class_token.copy_(0.1 * torch.randn(model.class_token.shape, generator=gen))
        model.encoder.pos_embedding.copy_(0.2 * torch.randn(model.encoder.pos_embedding.shape, generator=gen))
        model.conv_proj.weight.mul_(2)
        for name, mod in model.named_modules():
            if isinstance(mod, nn.LayerNorm):
                mod.weight.copy_(1 + u(mod.weight.shape, -0.3, 0.3))
                mod.bias.copy_(u(mod.bias.shape, -0.2, 0.2))
            elif isinstance(mod, nn.MultiheadAttention):
                mod.in_proj_bias.copy_(u(mod.in_proj_bias.shape, -0.2, 0.2))
                mod.out_proj.bias.copy_(u(mod.out_proj.bias.shape, -0.2, 0.2))
            elif name.endswith('mlp.0') or name.endswith('mlp.3'):
                mod.bias.copy_(u(mod.bias.shape, -0.1, 0.1))
        model.heads.head.weight.copy_(0.5 * torch.randn(model.heads.head.weight.shape, generator=gen))
        model.heads.head.bias.copy_(u(model.heads.head.bias.shape, -0.1, 0.1))
    return model.eval()


def as64(model, config):
    m = ex.build(config).double()
    m.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    return m


def gradient(model, x, targets):
    x = x.clone().requires_grad_(True)
    y = model(x)
    (g,) = torch.autograd.grad(y[torch.arange(len(targets)), targets].sum(), x)
    return g


def rel(a, b):
    """max |a - b| / max |b|, per sample, the worst"""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(max(np.abs(a[i] - b[i]).max() / np.abs(b[i]).max() for i in range(len(b))))


def make(config, lxt):
    d = os.path.join(OUT, config)
    os.makedirs(d, exist_ok=True)
    model = make_model(config)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    wpath = os.path.join(d, 'weights.safetensors')
    st.save_file(state, wpath, metadata={'format': 'pt', 'source': 'tests/reference/make_vit_fixtures.py'})
    model = ex.build(config)
    model.load_state_dict(ex.read_safetensors(wpath))  # exactly what export_vit_onnx.py reads
    m64 = as64(model, config)
    S = ex.CONFIGS[config]['image_size']
    x32 = torch.randn(BATCH, 3, S, S, generator=torch.Generator().manual_seed(INPUT_SEED[config]))
    x = x32.double()

    with torch.no_grad():
        logits = m64(x)
        logits32 = model(x32)
    targets = logits.argmax(1)
    grad = gradient(m64, x, targets)
    grad32 = gradient(model, x32, targets)
    checks = {}
    cp_tr, t = lrp_walk(m64, x, targets, attn=False, cons=(cons_cp := {}))
    checks['transcription_forward_vs_torchvision'] = rel(t['logits'], logits)
    attn, _ = lrp_walk(m64, x, targets, attn=True, cons=(cons_attn := {}))
    with patched(lxt):
        cp = lxt_explain(m64, x, targets)
        cp32 = lxt_explain(model, x32, targets)
        with torch.no_grad():
            checks['lxt_patched_logits_vs_plain'] = rel(m64(x), logits)
    with patched(lxt, attention=lxt_attnlrp_attention(lxt)):
        attn_lxt = lxt_explain(m64, x, targets)
    attn32, _ = lrp_walk(model, x32, targets, attn=True)
    cp_tr32, _ = lrp_walk(model, x32, targets, attn=False)
    cp_tr_lxt, _ = lrp_walk(m64, x, targets, attn=False, stabilisers=LXT, cons=(cons_cp_lxt := {}))
    attn_tr_lxt, _ = lrp_walk(m64, x, targets, attn=True, stabilisers=LXT, cons=(cons_attn_lxt := {}))
    checks['cp_lrp_transcription_lxt_stabilisers_vs_lxt'] = rel(cp_tr_lxt, cp)
    checks['attn_lrp_transcription_lxt_stabilisers_vs_lxt_rules'] = rel(attn_tr_lxt, attn_lxt)
    checks['cp_lrp_transcription_xaic_stabilisers_vs_lxt'] = rel(cp_tr, cp)
    checks['attn_lrp_vs_lxt_rules'] = rel(attn, attn_lxt)
    for kind in XAIC:  # each of xaic's stabilisers alone, the others as LXT's
        alone, _ = lrp_walk(m64, x, targets, attn=False, stabilisers={**LXT, kind: EPS})
        checks[f'cp_lrp_transcription_only_{kind}_stabilised_vs_lxt'] = rel(alone, cp)
    seed = logits[torch.arange(BATCH), targets]
    # max |sum R_in - sum R_out| / |sum R_out| over the ops of each kind: exact without stabilisers, off by what
    # the 1e-6 stabilisers take with them
    checks['conservation_cp_lrp'] = {'lxt_stabilisers': cons_cp_lxt, 'xaic_stabilisers': cons_cp}
    checks['conservation_attn_lrp'] = {'lxt_stabilisers': cons_attn_lxt, 'xaic_stabilisers': cons_attn}
    checks['map_sum_over_seed'] = {'cp_lrp': (cp.flatten(1).sum(1) / seed).tolist(),
                                   'attn_lrp': (attn.flatten(1).sum(1) / seed).tolist()}
    att_max = max(float(L['att'].max()) for L in t['layers'])

    arrays = {'input': (x32.numpy(), None), 'logits': (logits, logits32), 'gradient': (grad, grad32),
              'cp_lrp': (cp, cp32), 'cp_lrp_xaic': (cp_tr, cp_tr32), 'attn_lrp': (attn, attn32)}
    files = {}
    for name, (a, a32) in arrays.items():
        a = np.asarray(a.detach() if torch.is_tensor(a) else a, np.float64)
        np.save(os.path.join(d, name + '.npy'), a.astype(np.float32))
        files[name + '.npy'] = {'shape': list(a.shape), 'max_abs': float(np.abs(a).max())}
        if a32 is not None:
            files[name + '.npy']['float32_vs_float64'] = rel(a32.detach().numpy(), a)
    np.save(os.path.join(d, 'targets.npy'), targets.numpy().astype(np.int32))
    manifest = {
        'generator': 'tests/reference/make_vit_fixtures.py',
        'command': 'PEERS_DIR=$HOME/xai-peers /usr/bin/python3 tests/reference/make_vit_fixtures.py',
        'versions': {'torch': torch.__version__, 'torchvision': __import__('torchvision').__version__,
                     'numpy': np.__version__, 'zennit': '0.5.1 (3121bb223061506834ca68abad3eefc792dea999)',
                     'lxt': lxt['commit']},
        'config': config, 'torchvision_builder': f'torchvision.models.VisionTransformer(**{ex.CONFIGS[config]})',
        'seed': SEED[config], 'input_seed': INPUT_SEED[config],
        'weights_sha256': ex.sha256(wpath), 'batch': BATCH, 'targets': targets.tolist(),
        'logits_at_target': seed.tolist(),
        'seeding': 'cp_lrp and attn_lrp: output relevance = the target logit value (LXT: one-hot gradient times '
                   'the output), xaic `seed logit`',
        'epsilon': EPS, 'layernorm_eps': 1e-6, 'attention_max_weight': att_max,
        'files': files, 'checks': checks,
    }
    with open(os.path.join(d, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    print(json.dumps({k: manifest[k] for k in ('config', 'targets', 'attention_max_weight', 'checks', 'files')},
                     indent=1))
    assert checks['transcription_forward_vs_torchvision'] < 1e-12, checks
    assert checks['lxt_patched_logits_vs_plain'] < 1e-12, checks
    assert checks['cp_lrp_transcription_lxt_stabilisers_vs_lxt'] < 1e-6, checks
    assert checks['attn_lrp_transcription_lxt_stabilisers_vs_lxt_rules'] < 1e-6, checks
    assert all(v < 1e-9 for c in (cons_cp_lxt, cons_attn_lxt) for v in c.values()), checks


def main():
    torch.set_num_threads(2)
    lxt = import_lxt()
    for config in ex.CONFIGS:
        make(config, lxt)


if __name__ == '__main__':
    main()
