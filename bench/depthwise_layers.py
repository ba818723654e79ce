#!/usr/bin/python3
"""The depthwise layers of MobileNetV2 (3x3) and EfficientNet-B0 (5x5) one by one, for bench/depthwise.sh:
OUTDIR/depthwise.xai (one network per layer: conv2d with groups = channels, PyTorch padding k // 2, output
flattened so that a gradient can be seeded; plus that gradient), OUTDIR/depthwise.safetensors (random
weights) and OUTDIR/depthwise_layers.inc (the layer list for bench/bench_depthwise.c).

    /usr/bin/python3 bench/depthwise_layers.py OUTDIR
"""
import json
import os
import struct
import sys

import numpy as np

# name, channels, height = width, kernel, stride
LAYERS = [("m32_112_s1", 32, 112, 3, 1), ("m96_112_s2", 96, 112, 3, 2), ("m144_56_s1", 144, 56, 3, 1),
          ("m144_56_s2", 144, 56, 3, 2), ("m192_28_s1", 192, 28, 3, 1), ("m192_28_s2", 192, 28, 3, 2),
          ("m384_14_s1", 384, 14, 3, 1), ("m576_14_s2", 576, 14, 3, 2), ("m960_7_s1", 960, 7, 3, 1),
          ("e240_28_k5s2", 240, 28, 5, 2), ("e480_14_k5s1", 480, 14, 5, 1), ("e672_14_k5s2", 672, 14, 5, 2),
          ("e1152_7_k5s1", 1152, 7, 5, 1)]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    rng = np.random.default_rng(0)
    tensors, xai, inc = {}, [], ["#define DW_LAYERS \\"]
    for n, c, h, k, s in LAYERS:
        tensors[f"{n}.weight"] = (rng.standard_normal((c, 1, k, k)) * 0.3).astype(np.float32)
        tensors[f"{n}.bias"] = (rng.standard_normal((c,)) * 0.1).astype(np.float32)
        xai.append(f'network {n} {{ weights "depthwise.safetensors" strict=false; input x[{c}, {h}, {h}]; '
                   f'y = conv2d(x, {c}, kernel={k}, stride={s}, pad={k // 2}, groups={c}) from "{n}"; '
                   f'f = flatten(y); output f; }}')
        xai.append(f'explain {n}_grad for {n} {{ method gradient; }}')
        inc.append(f"    L({n}, {c}, {h}, {k}, {s}) \\")
    with open(os.path.join(out, "depthwise.xai"), "w") as f:
        f.write("\n".join(xai) + "\n")
    with open(os.path.join(out, "depthwise_layers.inc"), "w") as f:
        f.write("\n".join(inc) + "\n\n")
    header, blobs, off = {}, [], 0
    for name, v in tensors.items():
        b = v.tobytes()
        header[name] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(out, "depthwise.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


if __name__ == "__main__":
    main()
