#!/usr/bin/python3
"""Generated 28x28 digits for the scaling benchmarks (docs/scaling.md): each is one of the ten bundled sample
digits (models/samples/digits.npy), shifted by up to 3 pixels each way, with noise, clipped to [0, 1]. Written a
block at a time, so a million digits need little memory.

    /usr/bin/python3 bench/make_digits.py N OUT.npy        # float32 [N, 1, 28, 28]
    /usr/bin/python3 bench/make_digits.py N OUT.idx        # IDX uint8 [N, 28, 28] (xaic scales it to [0, 1])
"""
import os
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def blocks(n, seed=0, block=65536):
    base = np.load(os.path.join(ROOT, 'models', 'samples', 'digits.npy')).reshape(10, 28, 28)
    rng = np.random.default_rng(seed)
    for first in range(0, n, block):
        m = min(block, n - first)
        pick = base[rng.integers(0, 10, m)]
        dy, dx = rng.integers(-3, 4, m), rng.integers(-3, 4, m)
        out = np.empty_like(pick)
        for s in range(-3, 4):          # shift rows, then columns, by groups of equal shift
            for t in range(-3, 4):
                sel = (dy == s) & (dx == t)
                if sel.any():
                    out[sel] = np.roll(np.roll(pick[sel], s, axis=1), t, axis=2)
        out += rng.normal(0, 0.05, out.shape).astype(np.float32)
        yield np.clip(out, 0, 1).astype(np.float32)


def main():
    n, path = int(sys.argv[1]), sys.argv[2]
    if path.endswith('.npy'):
        data = np.lib.format.open_memmap(path, mode='w+', dtype=np.float32, shape=(n, 1, 28, 28))
        at = 0
        for b in blocks(n):
            data[at:at + len(b), 0] = b
            at += len(b)
        data.flush()
    else:
        with open(path, 'wb') as f:
            f.write(bytes([0, 0, 8, 3]) + struct.pack('>III', n, 28, 28))
            for b in blocks(n):
                f.write(np.round(b * 255).astype(np.uint8).tobytes())
    print(f'wrote {n} digits to {path}', file=sys.stderr)


if __name__ == '__main__':
    main()
