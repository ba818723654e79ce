#!/usr/bin/python3
"""Train the bundled Fashion-MNIST residual network and export it as ONNX (xaic's "bring your own model" example).

    /usr/bin/python3 models/train_fashion_resnet.py                  # train, write the files below
    /usr/bin/python3 models/train_fashion_resnet.py --samples-only   # only the sample images
    /usr/bin/python3 models/train_fashion_resnet.py --check-determinism   # 30 steps twice, compare the weights

Writes models/fashion_resnet.onnx (opset 17, dynamic batch, input `x` [B,1,28,28] in [0,1], output `y` [B,10]
logits), models/fashion_resnet.train.json and models/samples/fashion.npy, fashion_labels.{npy,txt}.

Environment: PEERS_HARNESS (datasets.py; default <repo>/../shared/peers), PEERS_DIR (default ~/xai-peers, holds
Debian's dataset-fashion-mnist unpacked by the peers' setup_peers.sh under fmnist/usr/share/datasets/fashion-mnist).

Network (torchvision's ResNet layout and module names, with torchvision's own BasicBlock, so Zennit's
ResNetCanonizer applies unchanged): conv1 3x3/16 (no bias) + bn1 + relu at 28x28; layer1 = BasicBlock(16,32,
stride 2, downsample = conv1x1/2 + BN) and layer2 = BasicBlock(32,32) at 14x14; layer3 = BasicBlock(32,64,
stride 2, downsample) at 7x7; avgpool = AdaptiveAvgPool2d(1); flatten; fc 64 -> 10.  96k parameters, 9.3M
multiply-adds per image (the 28x28 stage is kept to the stem: that is where a CPU spends its time).

Recipe: the 60,000 training images (values pixel/255, no normalisation, no augmentation), torch.manual_seed(SEED),
torchvision ResNet's init (kaiming_normal_ fan_out/relu convs, BN weight 1 bias 0, nn.Linear default),
Adam(lr 1e-3, PyTorch defaults otherwise) with the learning rate decayed to 0 by CosineAnnealingLR stepped per batch,
batch 100, mean softmax cross-entropy, EPOCHS epochs, reshuffled each
epoch with torch.randperm(60000, generator=torch.Generator().manual_seed(SEED)); torch.set_num_threads(2).
The last epoch's weights are exported (no model selection on the test set); the test accuracy is measured on
the 10,000 test images in eval mode.  Deterministic: same machine, same torch build -> the same ONNX bytes.
"""
import argparse
import hashlib
import json
import os
import platform
import sys
import time

import numpy as np
import torch
import torchvision
from torch import nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NAME = 'fashion_resnet'
SEED = 2025
EPOCHS = 2
BATCH = 100
LR = 1e-3
THREADS = 2
OPSET = 17
CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']


def downsample(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride=2, bias=False), nn.BatchNorm2d(cout))


class FashionResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(BasicBlock(16, 32, stride=2, downsample=downsample(16, 32)))
        self.layer2 = nn.Sequential(BasicBlock(32, 32))
        self.layer3 = nn.Sequential(BasicBlock(32, 64, stride=2, downsample=downsample(32, 64)))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 10)
        for m in self.modules():        # torchvision ResNet's init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def load_data():
    path = os.path.abspath(os.environ.get('PEERS_HARNESS', os.path.join(ROOT, '..', 'shared', 'peers')))
    if path not in sys.path:
        sys.path.insert(0, path)
    import datasets
    xtr, ytr = datasets.load_fashion_mnist('train')
    xte, yte = datasets.load_fashion_mnist('t10k')
    assert xtr.shape == (60000, 1, 28, 28) and xte.shape == (10000, 1, 28, 28), (xtr.shape, xte.shape)
    return xtr, ytr, xte, yte


def accuracy(model, x, y):
    model.eval()
    ok = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            ok += int((model(torch.from_numpy(x[i:i + 1000])).argmax(1).numpy() == y[i:i + 1000]).sum())
    return ok / len(x)


def sha256_state(model):
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode() + b'\0' + v.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def train(xtr, ytr, xte, yte, epochs, max_steps=None, log=True):
    torch.manual_seed(SEED)
    model = FashionResNet()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    # cosine decay to 0 over the whole run, stepped per batch: the last weights (the exported ones) settle
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * ((len(xtr) + BATCH - 1) // BATCH))
    gen = torch.Generator().manual_seed(SEED)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    history, steps, t0 = [], 0, time.time()
    for epoch in range(1, epochs + 1):
        model.train()
        te0 = time.time()
        order = torch.randperm(len(xt), generator=gen)
        tot_loss, tot_ok, seen = 0.0, 0, 0
        for i in range(0, len(xt), BATCH):
            idx = order[i:i + BATCH]
            logits = model(xt[idx])
            loss = F.cross_entropy(logits, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += loss.item() * len(idx)
            tot_ok += int((logits.argmax(1) == yt[idx]).sum())
            seen += len(idx)
            steps += 1
            if max_steps is not None and steps >= max_steps:
                return model, history, time.time() - t0
        rec = dict(epoch=epoch, loss=tot_loss / seen, running_train_acc=tot_ok / seen,
                   test_acc=accuracy(model, xte, yte), seconds=round(time.time() - te0, 2))
        history.append(rec)
        if log:
            print(f'{NAME} epoch {epoch}  loss {rec["loss"]:.4f}  train(running) {rec["running_train_acc"]:.4f}  '
                  f'test {rec["test_acc"]:.4f}  {rec["seconds"]:.1f}s', flush=True)
    return model.eval(), history, time.time() - t0


def export_onnx(model, path):
    torch.onnx.export(model.eval(), torch.zeros(2, 1, 28, 28), path, opset_version=OPSET, input_names=['x'],
                      output_names=['y'], dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}})
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_samples(xte, yte):
    """The first test image of each class 0..9 (values k/255 exactly, as stored in the IDX file)."""
    out = os.path.join(HERE, 'samples')
    os.makedirs(out, exist_ok=True)
    picks = [int(np.nonzero(yte == c)[0][0]) for c in range(10)]
    imgs = np.ascontiguousarray(xte[picks].astype(np.float32))
    assert np.array_equal(np.rint(imgs * 255) / np.float32(255), imgs), 'not k/255'
    np.save(os.path.join(out, 'fashion.npy'), imgs)
    np.save(os.path.join(out, 'fashion_labels.npy'), yte[picks].astype(np.float32))
    with open(os.path.join(out, 'fashion_labels.txt'), 'w') as f:
        f.write('# row  label  t10k_index  class\n')
        for k, i in enumerate(picks):
            f.write(f'{k} {int(yte[i])} {i} {CLASSES[int(yte[i])]}\n')
    print(f'samples: t10k indices {picks} -> {out}')
    return picks, imgs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--samples-only', action='store_true')
    ap.add_argument('--check-determinism', action='store_true')
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    xtr, ytr, xte, yte = load_data()
    if args.check_determinism:
        a = sha256_state(train(xtr, ytr, xte, yte, 1, max_steps=30, log=False)[0])
        b = sha256_state(train(xtr, ytr, xte, yte, 1, max_steps=30, log=False)[0])
        print(f'30 steps twice: {a} {b} -> {"identical" if a == b else "DIFFERENT"}')
        return 0 if a == b else 1
    picks, imgs = write_samples(xte, yte)
    if args.samples_only:
        return 0
    model, history, train_s = train(xtr, ytr, xte, yte, EPOCHS)
    tr_acc, te_acc = accuracy(model, xtr, ytr), accuracy(model, xte, yte)
    print(f'{NAME} final: train acc {tr_acc:.4f}  test acc {te_acc:.4f}  ({train_s:.1f}s)', flush=True)
    path = os.path.join(HERE, NAME + '.onnx')
    digest = export_onnx(model, path)
    with torch.no_grad():
        sample_logits = model(torch.from_numpy(imgs))
    n_params = int(sum(p.numel() for p in model.parameters()))
    info = dict(
        model=NAME,
        description='residual CNN (torchvision BasicBlock): conv1 3x3/16+BN+ReLU (28x28); layer1 BasicBlock '
                    '16->32 stride 2 (1x1 downsample) and layer2 BasicBlock 32 (14x14); layer3 BasicBlock 32->64 '
                    'stride 2 (7x7); AdaptiveAvgPool2d(1); fc 64->10',
        input_shape=[1, 28, 28], classes=CLASSES,
        data=dict(source="Debian dataset-fashion-mnist (IDX), loaded by the peers' datasets.load_fashion_mnist",
                  n_train=len(xtr), n_test=len(xte), preprocessing='pixel/255, no normalisation'),
        recipe=dict(optimizer='Adam', lr=LR, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.0, batch=BATCH,
                    lr_schedule='CosineAnnealingLR(T_max = all steps), stepped per batch: lr 1e-3 -> 0',
                    epochs=EPOCHS, loss='mean softmax cross-entropy on logits',
                    init='torchvision ResNet: kaiming_normal_(fan_out, relu) convs, BN 1/0, nn.Linear default',
                    augmentation='none',
                    shuffle='torch.randperm each epoch with torch.Generator().manual_seed(seed)'),
        seed=SEED, torch_threads=THREADS, train_acc=tr_acc, test_acc=te_acc, history=history, n_params=n_params,
        state_dict_sha256=sha256_state(model),
        onnx=dict(file=f'models/{NAME}.onnx', opset=OPSET, bytes=os.path.getsize(path), sha256=digest,
                  input='x [batch,1,28,28]', output='y [batch,10] logits',
                  export="torch.onnx.export(model.eval(), zeros(2,1,28,28), path, opset_version=17, "
                         "input_names=['x'], output_names=['y'], dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}})"
                         ' (PyTorch defaults otherwise: constant folding merges every BatchNorm into its Conv)'),
        samples=dict(file='models/samples/fashion.npy', t10k_indices=picks,
                     labels=[int(yte[i]) for i in picks], predicted=sample_logits.argmax(1).tolist()),
        train_seconds=round(train_s, 1),
        versions=dict(torch=torch.__version__, torchvision=torchvision.__version__, numpy=np.__version__,
                      python=platform.python_version()),
    )
    with open(os.path.join(HERE, NAME + '.train.json'), 'w') as f:
        json.dump(info, f, indent=1)
        f.write('\n')
    print(f'wrote {path} ({info["onnx"]["bytes"]} bytes, sha256 {digest[:16]}...), {n_params} parameters')
    return 0


if __name__ == '__main__':
    sys.exit(main())
