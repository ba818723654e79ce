#!/usr/bin/python3
"""ResNet-18 as torchvision writes its state_dict (20 BatchNorms, num_batches_tracked included), written by
hand as .xai networks NAME.xai (one per argument, same weights) with an LRP and a gradient explanation, for
bench/external/run.sh. Seeded random weights; BatchNorm statistics away from the identity so that folding
them matters. Also x.npy (2 inputs, 3x64x64) and y.npy (torch's logits). Run in the output directory.

    /usr/bin/python3 make_resnet18_bn.py r18emb r18ext
"""
import json
import sys

import numpy as np
import torch
import torchvision


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        a = t.numpy()
        b = a.tobytes()
        header[name] = {'dtype': {'float32': 'F32', 'int64': 'I64'}[str(a.dtype)], 'shape': list(a.shape),
                        'data_offsets': [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(len(h).to_bytes(8, 'little'))
        f.write(h)
        for b in blobs:
            f.write(b)


def layers():
    out = []

    def conv(name, x, c, k, s, p, prefix):
        out.append(f'    {name} = conv2d({x}, {c}, kernel={k}, stride={s}, pad={p}, bias=false) from "{prefix}";')

    def bn(name, x, prefix):
        out.append(f'    {name} = batchnorm({x}) from "{prefix}";')

    conv('conv1', 'x', 64, 7, 2, 3, 'conv1')
    bn('bn1', 'conv1', 'bn1')
    out += ['    r = relu(bn1);', '    mp = maxpool(r, 3, stride=2, pad=1);']
    x, cin = 'mp', 64
    for li, c in enumerate([64, 128, 256, 512], 1):
        for b in range(2):
            s = 2 if li > 1 and b == 0 else 1
            p, n = f'layer{li}.{b}', f'l{li}_{b}'
            conv(n + '_c1', x, c, 3, s, 1, p + '.conv1')
            bn(n + '_b1', n + '_c1', p + '.bn1')
            out.append(f'    {n}_r1 = relu({n}_b1);')
            conv(n + '_c2', n + '_r1', c, 3, 1, 1, p + '.conv2')
            bn(n + '_b2', n + '_c2', p + '.bn2')
            shortcut = x
            if s != 1 or cin != c:
                conv(n + '_d', x, c, 1, s, 0, p + '.downsample.0')
                bn(n + '_db', n + '_d', p + '.downsample.1')
                shortcut = n + '_db'
            out += [f'    {n}_add = add({n}_b2, {shortcut});', f'    {n} = relu({n}_add);']
            x, cin = n, c
    out += [f'    gap = global_avgpool({x});', '    fc = dense(gap, 1000) from "fc";', '    output fc;']
    return out


def main():
    torch.manual_seed(0)
    m = torchvision.models.resnet18()
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    m.eval()
    write_safetensors('resnet18.safetensors', m.state_dict())
    body = '\n'.join(layers())
    for name in sys.argv[1:]:
        with open(name + '.xai', 'w') as f:
            f.write(f'network {name} {{\n    weights "resnet18.safetensors";\n    input x[3, 64, 64] range [-3, 3];\n'
                    f'{body}\n}}\n')
            f.write(f'explain lrp for {name} {{ method lrp; rules epsilon_gamma_box(low=-3, high=3); }}\n')
            f.write(f'explain grad for {name} {{ method gradient; }}\n')
    x = np.random.default_rng(1).uniform(-2, 2, (2, 3, 64, 64)).astype(np.float32)
    np.save('x.npy', x)
    with torch.no_grad():
        np.save('y.npy', m(torch.from_numpy(x)).numpy())
    return 0


if __name__ == '__main__':
    sys.exit(main())
