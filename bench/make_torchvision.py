#!/usr/bin/python3
"""Write one of the benchmark's imported torchvision models as a user would get it: tests/reference/
torchvision_zoo.py's seeded random weights, exported to ONNX at 3x224x224 with PyTorch's defaults (opset 17,
constant folding, dynamic batch axis), plus the example input (N(0, 1), seed 1, clamped to the
ImageNet-normalised box [-2.1179039, 2.6400001], as bench/make_vgg16_weights.py does for VGG-16).

    /usr/bin/python3 bench/make_torchvision.py MODEL [OUTDIR]      # default build/bench
    -> OUTDIR/MODEL.onnx, OUTDIR/MODEL_input.npy [1, 3, 224, 224] float32

MODEL:
  resnet50   torchvision init, randomised BatchNorm affine parameters and statistics; every BatchNorm folded
             into its conv by the export (~98 MB); bench/resnet50.sh
  vit_b_16   torchvision init (class token zero) with the zero-initialised head drawn at random and the
             zero biases randomised (torchvision_zoo.randomise); ~330 MB; bench/vit_b16.sh
  mobilenet_v2, efficientnet_b0
             torchvision init, randomised BatchNorm affine parameters, running statistics measured on random
             images and perturbed (torchvision_zoo's CALIBRATED models); BatchNorm folded into the convs by the
             export (~14 MB, ~21 MB); bench/mobilenet_v2.sh, bench/efficientnet_b0.sh

The fixtures' export (torchvision_zoo.py export resnet50) traces at 64x64; the ONNX graph fixes the spatial
size, so the benchmark exports its own at 224 (vit_b_16 only runs at its image size; the same holds for the
64x64 mobilenet_v2 and efficientnet_b0 fixtures). bench/peer_bench.py
--model MODEL rebuilds the same module (torchvision_zoo.build is deterministic for a given torch build) and
prints nothing about it; the state_dict sha256 printed here identifies the weights.
"""
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOW, HIGH = -2.1179039, 2.6400001
MODELS = ('resnet50', 'vit_b_16', 'mobilenet_v2', 'efficientnet_b0')


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in MODELS:
        print(__doc__, file=sys.stderr)
        return 2
    name = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, 'build', 'bench')
    sys.path.insert(0, os.path.join(ROOT, 'tests', 'reference'))
    import torch
    import torchvision_zoo as zoo
    torch.set_num_threads(2)
    os.makedirs(out, exist_ok=True)
    model = zoo.build(name)
    onnx_path = os.path.join(out, name + '.onnx')
    tmp = onnx_path + '.tmp'
    zoo.export(model, name, 17, tmp, x=torch.zeros(1, 3, 224, 224))
    os.replace(tmp, onnx_path)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 3, 224, 224, generator=g).clamp(LOW, HIGH)
    np.save(os.path.join(out, name + '_input.npy'), np.ascontiguousarray(x.numpy(), dtype=np.float32))
    print(json.dumps({'model': name, 'onnx': onnx_path, 'onnx_mb': round(os.path.getsize(onnx_path) / 2**20, 1),
                      'state_dict_sha256': zoo.state_dict_sha256(model), 'torch': torch.__version__}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
