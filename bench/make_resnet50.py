#!/usr/bin/python3
"""Write the benchmark's ResNet-50 as a user would get it: tests/reference/torchvision_zoo.py's seeded random
weights (torchvision init, randomised BatchNorm affine parameters and statistics), exported to ONNX at
3x224x224 with PyTorch's defaults (opset 17, constant folding: every BatchNorm folded into its conv, dynamic
batch axis), plus the example input (N(0, 1), seed 1, clamped to the ImageNet-normalised box
[-2.1179039, 2.6400001], as bench/make_vgg16_weights.py does for VGG-16).

    /usr/bin/python3 bench/make_resnet50.py [OUTDIR]      # default build/bench
    -> OUTDIR/resnet50.onnx (~98 MB), OUTDIR/resnet50_input.npy [1, 3, 224, 224] float32

The fixtures' export (torchvision_zoo.py export resnet50) traces at 64x64; the ONNX graph fixes the spatial
size, so the benchmark exports its own. bench/peer_bench.py --model resnet50 rebuilds the same module
(torchvision_zoo.build is deterministic for a given torch build) and prints nothing about it; the state_dict
sha256 printed here identifies the weights.
"""
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOW, HIGH = -2.1179039, 2.6400001


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'build', 'bench')
    sys.path.insert(0, os.path.join(ROOT, 'tests', 'reference'))
    import torch
    import torchvision_zoo as zoo
    torch.set_num_threads(2)
    os.makedirs(out, exist_ok=True)
    model = zoo.build('resnet50')
    tmp = os.path.join(out, 'resnet50.onnx.tmp')
    zoo.export(model, 'resnet50', 17, tmp, x=torch.zeros(1, 3, 224, 224))
    os.replace(tmp, os.path.join(out, 'resnet50.onnx'))
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 3, 224, 224, generator=g).clamp(LOW, HIGH)
    np.save(os.path.join(out, 'resnet50_input.npy'), np.ascontiguousarray(x.numpy(), dtype=np.float32))
    print(json.dumps({'model': 'resnet50', 'onnx': os.path.join(out, 'resnet50.onnx'),
                      'onnx_mb': round(os.path.getsize(os.path.join(out, 'resnet50.onnx')) / 2**20, 1),
                      'state_dict_sha256': zoo.state_dict_sha256(model), 'torch': torch.__version__}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
