#!/usr/bin/python3
"""Sliding-window pixel-flipping fixtures: the seed's find_roi (technique spec 0.4, notebook 5.2) transcribed
in NumPy, independent of xaic's runtime/metrics_windows.c.

    /usr/bin/python3 tests/reference/make_find_roi_fixtures.py        # from the repository root

Writes tests/fixtures/find_roi/, per case NAME (seeded, deterministic: a rerun writes identical files):

  NAME_heat.npy   float32 [L, C, H, W]  the heatmap explained at each step k (C channels are summed first)
  NAME_meta.npy   int32   [3]           patch P, order (0: most relevant first, 1: least), steps L
  NAME_roi.npy    int32   [L, 2]        the (row, col) top-left corner chosen at each step

Step k calls find_roi(heat[k] summed over channels, (P, P), coords of steps 0 .. k-1). Least relevant first
is find_roi of the negated map (np.argmax of -sums: the first minimum). Every choice is also recomputed with
exact rational window sums and must agree, so float64 rounding in NumPy never decides a choice.
"""
import os
from fractions import Fraction

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "find_roi")


def find_roi(img, ksize, coords):
    """The seed's find_roi: copy, -inf over the chosen blocks, every kh x kw window sum (stride 1), np.argmax."""
    h = np.array(img, dtype=np.float64, copy=True)
    kh, kw = ksize
    for r, c in coords:
        h[r:r + kh, c:c + kw] = -np.inf
    rows, cols = h.shape[0] - kh + 1, h.shape[1] - kw + 1
    sums = np.empty((rows, cols))
    for r in range(rows):
        for c in range(cols):
            sums[r, c] = h[r:r + kh, c:c + kw].sum()  # a -inf cell makes the window -inf: excluded
    i = int(np.argmax(sums))  # the first maximum in row-major order; all -inf -> 0
    return i // cols, i % cols


def exact_choice(heat, ksize, coords, sign):
    """The same choice with exact window sums (Fractions of the float32 values): the check, not the reference."""
    kh, kw = ksize
    _, H, W = heat.shape
    removed = np.zeros((H, W), bool)
    for r, c in coords:
        removed[r:r + kh, c:c + kw] = True
    vals = [[sum(Fraction(float(v)) for v in heat[:, r, c]) * sign for c in range(W)] for r in range(H)]
    best = None
    for r in range(H - kh + 1):
        for c in range(W - kw + 1):
            if removed[r:r + kh, c:c + kw].any():
                continue
            s = sum(vals[i][j] for i in range(r, r + kh) for j in range(c, c + kw))
            if best is None or s > best[0]:
                best = (s, r, c)
    return (0, 0) if best is None else (best[1], best[2])


def run(heat, patch, order):
    sign = -1.0 if order == 1 else 1.0
    coords = []
    for k in range(heat.shape[0]):
        roi = find_roi(sign * heat[k].astype(np.float64).sum(axis=0), (patch, patch), coords)
        assert roi == exact_choice(heat[k], (patch, patch), coords, int(sign)), (k, roi)
        coords.append(roi)
    return np.array(coords, dtype=np.int32).reshape(-1, 2)


def blob(rng, H, W, steps, signed):
    """MNIST-like: a zero background with a few faint positive specks and a signed (or positive) blob."""
    out = np.zeros((steps, 1, H, W), np.float32)
    for k in range(steps):
        m = out[k, 0]
        b = rng.standard_normal((H // 2, W // 2)).astype(np.float32)
        m[H // 4:H // 4 + H // 2, W // 4:W // 4 + W // 2] = b if signed else np.abs(b)
        specks = rng.integers(0, H * W, 12)
        m.flat[specks] = rng.uniform(1e-3, 2e-3, 12).astype(np.float32)
    return out


def cases():
    rng = np.random.default_rng(20260519)
    ints = lambda lo, hi, shape: rng.integers(lo, hi, shape).astype(np.float32)
    normal = lambda shape: rng.standard_normal(shape).astype(np.float32)
    yield "ties_constant", np.ones((9, 1, 9, 9), np.float32), 3, 0  # every window ties: row-major order
    yield "ties_small_ints", ints(0, 3, (16, 1, 12, 12)), 3, 0  # many ties, fresh map each step
    yield "ties_negative_ints", ints(-2, 2, (16, 1, 12, 12)), 3, 1  # least first, ties
    yield "negative_floats", normal((25, 1, 10, 10)), 2, 0
    yield "least_floats", normal((9, 1, 11, 10)), 3, 1
    yield "nonsquare_image", ints(-3, 4, (6, 1, 9, 13)), 4, 0  # 9x13, edge rows / columns never fit a window
    centre = np.zeros((4, 1, 8, 8), np.float32)
    centre[:, 0, 3:5, 3:5] = 5  # (1, 1) first (of 9 tied windows); then none is free: (0, 0) every step
    yield "all_excluded", centre, 4, 0
    yield "two_channels", normal((9, 2, 12, 12)), 4, 0
    yield "mnist_like_most", blob(rng, 28, 28, 20, True), 4, 0
    yield "mnist_like_least", blob(rng, 28, 28, 20, False), 4, 1  # zero windows tie: the first goes first
    # positive everywhere but a zero bottom-right block: its windows tie at 0 although the prefix sums around
    # them differ (floating-point summed-area tables would break these ties by rounding)
    block = rng.lognormal(0.0, 6.0, (25, 1, 16, 16)).astype(np.float32)  # a wide range: inexact double sums
    block[:, :, 8:, 8:] = 0
    yield "zero_block_least", block, 3, 1


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, heat, patch, order in cases():
        roi = run(heat, patch, order)
        np.save(os.path.join(OUT, name + "_heat.npy"), heat)
        np.save(os.path.join(OUT, name + "_meta.npy"), np.array([patch, order, heat.shape[0]], np.int32))
        np.save(os.path.join(OUT, name + "_roi.npy"), roi)
        print(name, heat.shape, "P=%d" % patch, "order=%d" % order, "first:", [tuple(x) for x in roi[:4]])


if __name__ == "__main__":
    main()
