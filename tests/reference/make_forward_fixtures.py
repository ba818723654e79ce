#!/usr/bin/python3
"""Forward-pass reference fixtures, computed with PyTorch (independent of xaic).

    /usr/bin/python3 tests/reference/make_forward_fixtures.py        # from the repository root

Writes tests/fixtures/forward/:
  NAME_logits.npy     float32 [10,10]  logits of models/NAME.safetensors on the bundled sample digits
                      (models/samples/digits.npy [10,1,28,28] for the CNNs, digits_flat.npy [10,784] for the MLPs),
                      for every NAME of models/train.py's MODELS: mnist_mlp, mnist_mlp_nobias, mnist_cnn,
                      mnist_cnn_nobias, mnist_cnn_avgpool, mnist_mlp_deep, mnist_cnn_stride, mnist_allconv
  mnist_gen_logits.npy  float32 [10,784]  output images of the generator models/mnist_gen on
                      models/samples/class_mean_codes.npy [10,100] (not logits; the name follows the others)
  bn_net.{xai,safetensors}, bn_net_input.npy [3,1,8,8], bn_net_logits.npy [3,3]
                      conv -> BatchNorm2d -> relu -> flatten -> dense (no bias) -> BatchNorm1d, eval mode,
                      state_dict saved as is (contains int64 num_batches_tracked scalars, shape [])
  pool_net.{xai,safetensors}, pool_net_input.npy [3,2,9,9], pool_net_logits.npy [3,3]
                      avgpool(3, stride=2, pad=1), maxpool(2, pad=same), avgpool(2, pad=same), add,
                      sigmoid, global_avgpool, flatten, dense
  manifest.json       what each fixture is, torch version, input files, shapes, max |logit|, argmax

Reference = the PyTorch nn.Module.  As a cross-check, every network is also run by a tiny interpreter of
its .xai file (parsed here with regexes, ops written with torch.nn.functional, parameters looked up by the
names xaic will use); the script fails if the two disagree, if the .xai names a parameter that is missing
or has the wrong shape, or if the safetensors file holds a float tensor the .xai does not use.

Environment: PEERS_HARNESS (safetensors_io.py; default <repo>/../shared/peers).
"""
import json
import os
import re
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'forward')
MODELS_DIR = os.path.join(ROOT, 'models')
sys.path.insert(0, os.path.abspath(os.environ.get('PEERS_HARNESS', os.path.join(ROOT, '..', 'shared', 'peers'))))
sys.path.insert(0, MODELS_DIR)
import safetensors_io as st  # noqa: E402
import train as models_train  # noqa: E402  (module classes of the bundled models)

BN_EPS = 1e-5   # PyTorch's BatchNorm default; the .xai batchnorm op has no eps argument in v1


# ----------------------------------------------------------------------------------------------
# A tiny .xai network interpreter (network blocks only), for cross-checking names and semantics.
# ----------------------------------------------------------------------------------------------
def _split_args(s):
    out, depth, cur = [], 0, ''
    for ch in s:
        if ch in '([':
            depth += 1
        elif ch in ')]':
            depth -= 1
        if ch == ',' and depth == 0:
            out.append(cur.strip())
            cur = ''
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def _value(s):
    s = s.strip()
    if s.startswith('['):
        return [_value(v) for v in _split_args(s[1:-1])]
    if re.fullmatch(r'-?\d+', s):
        return int(s)
    if re.fullmatch(r'-?[\d.]+([eE][-+]?\d+)?', s):
        return float(s)
    if s in ('true', 'false'):
        return s == 'true'
    return s   # identifier (a layer name, `same`)


def parse_xai(path):
    text = open(path).read()
    text = re.sub(r'#[^\n]*', '', text)
    m = re.search(r'network\s+(\w+)\s*\{(.*?)\}', text, re.S)
    assert m, f'{path}: no network block'
    net = dict(name=m.group(1), layers=[], outputs=None, weights=None, input=None)
    for stmt in [s.strip() for s in m.group(2).split(';') if s.strip()]:
        if stmt.startswith('weights'):
            net['weights'] = re.fullmatch(r'weights\s+"([^"]+)"', stmt).group(1)
        elif stmt.startswith('input'):
            mi = re.fullmatch(r'input\s+(\w+)\s*\[([^\]]*)\](\s+range\s*\[[^\]]*\])?', stmt)
            net['input'] = (mi.group(1), tuple(int(v) for v in mi.group(2).split(',')))
        elif stmt.startswith('output'):
            net['outputs'] = [v.strip() for v in stmt[len('output'):].split(',')]
        else:
            ml = re.fullmatch(r'(\w+)\s*=\s*(\w+)\s*\((.*)\)(\s+from\s+"([^"]+)")?', stmt, re.S)
            assert ml, f'{path}: cannot parse {stmt!r}'
            pos, kw = [], {}
            for a in _split_args(ml.group(3)):
                if re.match(r'^\w+\s*=', a):
                    k, v = a.split('=', 1)
                    kw[k.strip()] = _value(v)
                else:
                    pos.append(_value(a))
            net['layers'].append(dict(name=ml.group(1), op=ml.group(2), pos=pos, kw=kw,
                                      prefix=ml.group(5) or ml.group(1)))
    return net


def _same_pad(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _pad4(pad, h, w, k, s):
    """-> (top, left, bottom, right)"""
    if pad == 'same':
        t, b = _same_pad(h, k, s)
        l, r = _same_pad(w, k, s)
        return t, l, b, r
    if isinstance(pad, list):
        return tuple(pad)
    return pad, pad, pad, pad


def run_xai(net, tensors, x):
    env = {net['input'][0]: x}
    used = set()
    assert tuple(x.shape[1:]) == net['input'][1], (x.shape, net['input'])

    def param(prefix, suffix, shape):
        key = f'{prefix}.{suffix}'
        assert key in tensors, f'{net["name"]}: missing parameter {key}'
        t = torch.from_numpy(tensors[key])
        assert tuple(t.shape) == tuple(shape), f'{key}: shape {tuple(t.shape)} != expected {tuple(shape)}'
        assert t.dtype == torch.float32, f'{key}: dtype {t.dtype}'
        used.add(key)
        return t

    for L in net['layers']:
        op, pos, kw, p = L['op'], L['pos'], L['kw'], L['prefix']
        a = env[pos[0]]
        if op == 'dense':
            assert a.dim() == 2, f'{L["name"]}: dense needs a flat input, got {tuple(a.shape)}'
            n = pos[1]
            w = param(p, 'weight', (n, a.shape[1]))
            b = param(p, 'bias', (n,)) if kw.get('bias', True) else None
            y = F.linear(a, w, b)
        elif op == 'conv2d':
            n, k, s = pos[1], kw['kernel'], kw.get('stride', 1)
            w = param(p, 'weight', (n, a.shape[1], k, k))
            b = param(p, 'bias', (n,)) if kw.get('bias', True) else None
            t, l, bo, r = _pad4(kw.get('pad', 0), a.shape[2], a.shape[3], k, s)
            y = F.conv2d(F.pad(a, (l, r, t, bo)), w, b, stride=s)
        elif op in ('maxpool', 'avgpool'):
            k = pos[1]
            s = kw.get('stride', pos[2] if len(pos) > 2 else k)
            pad = kw.get('pad', 0)
            t, l, bo, r = _pad4(pad, a.shape[2], a.shape[3], k, s)
            if op == 'maxpool':
                y = F.max_pool2d(F.pad(a, (l, r, t, bo), value=float('-inf')), k, s)
            elif pad == 'same':   # TensorFlow: divide by the number of valid (non-padded) cells
                num = F.avg_pool2d(F.pad(a, (l, r, t, bo)), k, s, divisor_override=1)
                ones = torch.ones(1, 1, a.shape[2], a.shape[3])
                cnt = F.avg_pool2d(F.pad(ones, (l, r, t, bo)), k, s, divisor_override=1)
                y = num / cnt
            else:                 # PyTorch AvgPool2d default: count_include_pad=True (zeros count)
                y = F.avg_pool2d(F.pad(a, (l, r, t, bo)), k, s)
        elif op == 'global_avgpool':
            y = a.mean(dim=(2, 3), keepdim=True)
        elif op == 'relu':
            y = F.relu(a)
        elif op == 'sigmoid':
            y = torch.sigmoid(a)
        elif op == 'flatten':
            y = a.reshape(a.shape[0], -1)
        elif op == 'add':
            y = a + env[pos[1]]
        elif op == 'batchnorm':
            c = a.shape[1]
            g, bb = param(p, 'weight', (c,)), param(p, 'bias', (c,))
            mu, var = param(p, 'running_mean', (c,)), param(p, 'running_var', (c,))
            shp = (1, c) + (1,) * (a.dim() - 2)
            y = (a - mu.reshape(shp)) / torch.sqrt(var.reshape(shp) + BN_EPS) * g.reshape(shp) + bb.reshape(shp)
        elif op == 'softmax':
            y = torch.softmax(a, dim=1)
        else:
            raise ValueError(f'unknown op {op}')
        env[L['name']] = y
    unused = [k for k, v in tensors.items() if k not in used and v.dtype.kind == 'f']
    assert not unused, f'{net["name"]}: tensors not used by the .xai: {unused}'
    outs = [env[o] for o in net['outputs']]
    return outs[0] if len(outs) == 1 else outs


# ----------------------------------------------------------------------------------------------
# The two synthetic networks
# ----------------------------------------------------------------------------------------------
class BNNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.act1 = nn.ReLU()
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(4 * 8 * 8, 3, bias=False)
        self.bn2 = nn.BatchNorm1d(3)

    def forward(self, x):
        return self.bn2(self.fc1(self.flat(self.act1(self.bn1(self.conv1(x))))))


BN_NET_XAI = '''\
# Test network for BatchNorm folding (tests/reference/make_forward_fixtures.py; random weights).
# bn1 follows a conv with a bias, bn2 a dense without one. BatchNorm eps = 1e-5 (PyTorch default),
# eval mode (running statistics). The weights file also holds int64 bn*.num_batches_tracked scalars.
network bn_net {
    weights "bn_net.safetensors";
    input x[1, 8, 8];
    conv1 = conv2d(x, 4, kernel=3, pad=1);       # [4, 8, 8]
    bn1   = batchnorm(conv1);
    act1  = relu(bn1);
    flat  = flatten(act1);                       # [256]
    fc1   = dense(flat, 3, bias=false);
    bn2   = batchnorm(fc1);
    output bn2;
}
'''


class AvgPoolSame(nn.Module):
    """TensorFlow SAME average pooling: pad bottom/right, divide by the number of valid cells."""

    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        k = self.k
        t, b = _same_pad(x.shape[2], k, k)
        l, r = _same_pad(x.shape[3], k, k)
        num = F.avg_pool2d(F.pad(x, (l, r, t, b)), k, k, divisor_override=1)
        cnt = F.avg_pool2d(F.pad(torch.ones_like(x[:1, :1]), (l, r, t, b)), k, k, divisor_override=1)
        return num / cnt


class PoolNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.act1 = nn.ReLU()
        self.avg1 = nn.AvgPool2d(3, stride=2, padding=1)              # count_include_pad=True
        self.max1 = models_train.MaxPoolSame(2)
        self.avg2 = AvgPoolSame(2)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.sig2 = nn.Sigmoid()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(6, 3)

    def forward(self, x):
        c1 = self.conv1(x)
        a1 = self.act1(c1)
        s = self.avg1(a1) + self.max1(c1)     # sum1
        s = s + self.avg2(c1)                 # sum2
        return self.fc1(self.flat(self.gap(self.sig2(self.conv2(s)))))


POOL_NET_XAI = '''\
# Test network for pooling, add and sigmoid (tests/reference/make_forward_fixtures.py; random weights).
# max1 and avg2 pool the pre-activation conv1 (it has negative values), so padding max pooling with 0
# instead of -inf, or dividing a SAME average by the full window, changes the result.
network pool_net {
    weights "pool_net.safetensors";
    input x[2, 9, 9];
    conv1 = conv2d(x, 4, kernel=3, pad=1);       # [4, 9, 9]
    act1  = relu(conv1);
    avg1  = avgpool(act1, 3, stride=2, pad=1);   # [4, 5, 5]  explicit pad: zeros count (PyTorch count_include_pad=True)
    max1  = maxpool(conv1, 2, pad=same);         # [4, 5, 5]  TF SAME: one extra row/column at the bottom/right
    avg2  = avgpool(conv1, 2, pad=same);         # [4, 5, 5]  TF SAME: divide by the number of valid cells
    sum1  = add(avg1, max1);
    sum2  = add(sum1, avg2);
    conv2 = conv2d(sum2, 6, kernel=3, pad=1);    # [6, 5, 5]
    sig2  = sigmoid(conv2);
    gap   = global_avgpool(sig2);                # [6] (PyTorch: [6, 1, 1]; flatten makes both [6])
    flat  = flatten(gap);                        # [6]
    fc1   = dense(flat, 3);
    output fc1;
}
'''


def make_bn_net():
    torch.manual_seed(1234)
    m = BNNet()
    with torch.no_grad():
        for bn, c, spread in ((m.bn1, 4, 0.5), (m.bn2, 3, 0.05)):   # bn2 sees small pre-activations
            bn.weight.copy_(torch.randn(c) * 0.8 + 0.3)          # includes negative scales
            bn.bias.copy_(torch.randn(c) * 0.5)
            bn.running_mean.copy_(torch.randn(c) * spread)
            bn.running_var.copy_((torch.rand(c) * 2.0 + 0.25) * spread * spread)
            bn.num_batches_tracked.fill_(37)
    x = torch.rand(3, 1, 8, 8)
    return m.eval(), x


def make_pool_net():
    torch.manual_seed(4321)
    m = PoolNet()
    with torch.no_grad():
        m.conv1.bias.sub_(0.3)   # push some windows fully negative
        m.fc1.weight.mul_(8.0)   # spread the logits (sigmoid + global average squash them)
    x = torch.randn(3, 2, 9, 9)
    return m.eval(), x


# ----------------------------------------------------------------------------------------------
def check_and_record(name, module, xai_path, weights_path, x, input_rel, manifest, note):
    tensors, _ = st.load_file(weights_path)
    with torch.no_grad():
        ref = module(x)
        net = parse_xai(xai_path)
        assert net['weights'] == os.path.basename(weights_path), (net['weights'], weights_path)
        alt = run_xai(net, tensors, x)
    diff = float((ref - alt).abs().max())
    scale = float(ref.abs().max())
    assert diff <= 1e-5 * max(scale, 1.0), f'{name}: module vs .xai interpreter differ by {diff}'
    logits = ref.numpy().astype(np.float32)
    out = os.path.join(OUT, f'{name}_logits.npy')
    np.save(out, np.ascontiguousarray(logits))
    manifest['fixtures'][name] = dict(
        description=note,
        xai=os.path.relpath(xai_path, ROOT), weights=os.path.relpath(weights_path, ROOT),
        input=input_rel, input_shape=list(x.shape),
        logits=os.path.relpath(out, ROOT), logits_shape=list(logits.shape),
        max_abs_logit=scale, argmax=logits.argmax(1).tolist(),
        xai_interpreter_max_abs_diff=diff)
    print(f'{name:18s} logits {list(logits.shape)}  max|logit| {scale:.4f}  argmax {logits.argmax(1).tolist()}'
          f'  (.xai interpreter diff {diff:.2e})')
    return logits


def main():
    torch.set_num_threads(2)
    np.random.seed(0)
    os.makedirs(OUT, exist_ok=True)
    manifest = dict(generator='tests/reference/make_forward_fixtures.py', torch=torch.__version__,
                    numpy=np.__version__, dtype='float32', batchnorm_eps=BN_EPS,
                    compare='relative error <= 1e-4 of the largest |logit| (DESIGN.md)', fixtures={})

    labels = np.load(os.path.join(MODELS_DIR, 'samples', 'digits_labels.npy'))
    for name in models_train.MODELS:
        if name == 'mnist_vit':  # ops this interpreter does not know; make_attention_fixtures.py checks its logits
            continue
        flat = models_train.MODELS[name]['input_shape'] == (784,)
        rel = 'models/samples/digits_flat.npy' if flat else 'models/samples/digits.npy'
        x = torch.from_numpy(np.load(os.path.join(ROOT, rel)))
        model = models_train.load(name)
        logits = check_and_record(name, model, os.path.join(MODELS_DIR, name + '.xai'),
                                  os.path.join(MODELS_DIR, name + '.safetensors'), x, rel, manifest,
                                  f'bundled model {name} on the 10 sample digits (labels 0..9)')
        manifest['fixtures'][name]['labels'] = labels.astype(int).tolist()
        manifest['fixtures'][name]['correct'] = int((logits.argmax(1) == labels).sum())

    # The seed's 1.3 generator (models/train_generator.py): output = the 784 sigmoid pixels, not logits
    # (the file keeps the NAME_logits.npy name of the mechanism).  Input = the 10 class-mean codes.
    import train_generator  # noqa: E402  (models/, on sys.path)
    rel = 'models/samples/class_mean_codes.npy'
    z = torch.from_numpy(np.load(os.path.join(ROOT, rel)))
    img = check_and_record('mnist_gen', train_generator.load(), os.path.join(MODELS_DIR, 'mnist_gen.xai'),
                           os.path.join(MODELS_DIR, 'mnist_gen.safetensors'), z, rel, manifest,
                           'bundled generator mnist_gen (seed 1.3) on the 10 class-mean codes of mnist_mlp '
                           '(row c = class c); output = images [10,784] in (0,1), not logits')
    with torch.no_grad():   # how the decoded class means look to the classifier (informative only)
        cls = models_train.load('mnist_mlp')(torch.from_numpy(img)).argmax(1).numpy()
    manifest['fixtures']['mnist_gen']['mnist_mlp_argmax_of_output'] = cls.tolist()

    for name, make, text, note in (
            ('bn_net', make_bn_net, BN_NET_XAI,
             'conv(bias) -> BatchNorm2d -> relu -> flatten -> dense(no bias) -> BatchNorm1d; eval mode, random '
             'non-trivial running stats/affine (some negative scales); state_dict as is (I64 num_batches_tracked)'),
            ('pool_net', make_pool_net, POOL_NET_XAI,
             'avgpool(3,s2,pad1; zeros counted) + maxpool(2,same; -inf pad) + avgpool(2,same; valid count) '
             '-> add -> conv -> sigmoid -> global_avgpool -> flatten -> dense')):
        module, x = make()
        wpath = os.path.join(OUT, name + '.safetensors')
        st.save_file(dict(module.state_dict()), wpath, metadata={'format': 'pt', 'source': manifest['generator']})
        xpath = os.path.join(OUT, name + '.xai')
        with open(xpath, 'w') as f:
            f.write(text)
        np.save(os.path.join(OUT, name + '_input.npy'), np.ascontiguousarray(x.numpy().astype(np.float32)))
        check_and_record(name, module, xpath, wpath, x, f'tests/fixtures/forward/{name}_input.npy',
                         manifest, note)
        manifest['fixtures'][name]['state_dict'] = {k: [str(v.dtype).replace('torch.', ''), list(v.shape)]
                                                    for k, v in module.state_dict().items()}

    # Sanity: the pool_net semantics choices are observable (a wrong choice changes the logits).
    m, x = make_pool_net()
    with torch.no_grad():
        ref = m(x)
        c1 = m.conv1(x)
        variants = {
            'maxpool same padded with 0': lambda: m.avg1(m.act1(c1)) + F.max_pool2d(F.pad(c1, (0, 1, 0, 1)), 2)
            + m.avg2(c1),
            'avgpool pad=1 without zeros': lambda: F.avg_pool2d(m.act1(c1), 3, 2, 1, count_include_pad=False)
            + m.max1(c1) + m.avg2(c1),
            'avgpool same over full window': lambda: m.avg1(m.act1(c1)) + m.max1(c1)
            + F.avg_pool2d(F.pad(c1, (0, 1, 0, 1)), 2),
        }
        for what, fn in variants.items():
            y = m.fc1(m.flat(m.gap(m.sig2(m.conv2(fn())))))
            d = float((y - ref).abs().max())
            assert d > 1e-3 * float(ref.abs().max()), f'pool_net does not distinguish: {what} ({d})'
            manifest['fixtures']['pool_net'].setdefault('wrong_semantics_max_abs_diff', {})[what] = d

    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    print('wrote', os.path.relpath(OUT, ROOT))
    return 0


if __name__ == '__main__':
    sys.exit(main())
