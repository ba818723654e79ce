#!/usr/bin/python3
"""Write the benchmark's VGG-16: seeded random weights (the peers' models.py init: torchvision's
kaiming-normal fan_out convs, N(0, 0.01) linears, zero biases, seed 0) as safetensors with torchvision's
state_dict names, plus the example input (models.example_input('vgg16', 1): N(0, 1), seed 1, clamped to
the model's input box so that ZBox's bounds hold).

    /usr/bin/python3 bench/make_vgg16_weights.py [OUTDIR]      # default build/bench
    -> OUTDIR/vgg16.safetensors (~528 MB), OUTDIR/vgg16_input.npy [1, 3, 224, 224] float32

Environment: PEERS_HARNESS (models.py, safetensors_io.py; default <repo>/../shared/peers).
"""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'build', 'bench')
    harness = os.path.abspath(os.environ.get('PEERS_HARNESS', os.path.join(ROOT, '..', 'shared', 'peers')))
    sys.path.insert(0, harness)
    import torch
    import models
    import safetensors_io as st
    os.makedirs(out, exist_ok=True)
    model = models.build('vgg16', seed=0)
    spec = models.SPECS['vgg16']
    tmp = os.path.join(out, 'vgg16.safetensors.tmp')
    st.save_file({k: v for k, v in model.state_dict().items()}, tmp)
    os.replace(tmp, os.path.join(out, 'vgg16.safetensors'))
    x = models.example_input('vgg16', 1).clamp(spec['low'], spec['high'])
    np.save(os.path.join(out, 'vgg16_input.npy'), np.ascontiguousarray(x.numpy(), dtype=np.float32))
    print(f'wrote {out}/vgg16.safetensors ({os.path.getsize(os.path.join(out, "vgg16.safetensors")) / 2**20:.0f} MiB)'
          f' and vgg16_input.npy', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
