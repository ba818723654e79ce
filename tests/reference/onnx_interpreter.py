#!/usr/bin/python3
"""A small interpreter of ONNX CNN graphs with torch.nn.functional (needs onnx and torch only).

Used by make_onnx_fixtures.py to check that an exported ONNX file computes the fixture logits, i.e. that the
fixtures belong to the graph xaic imports (the exporter folds BatchNorm into Conv, so the graph's weights are not
the module's).  It covers the ops of the fixture models' exports (see README.md) and fails on anything else.

    /usr/bin/python3 tests/reference/onnx_interpreter.py MODEL.onnx INPUT.npy [LOGITS.npy]
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn.functional as F


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pads(at, nd=2):
    p = list(at.get('pads', [0] * (2 * nd)))       # ONNX: [x1_begin, x2_begin, x1_end, x2_end]
    return [p[1], p[3], p[0], p[2]]               # F.pad: (left, right, top, bottom)


def _auto_pad_ok(at):
    if at.get('auto_pad', b'NOTSET') not in (b'NOTSET', 'NOTSET'):
        raise NotImplementedError(f'auto_pad {at["auto_pad"]}')


def _conv(x, w, b, at):
    _auto_pad_ok(at)
    x = F.pad(x, _pads(at))
    return F.conv2d(x, w, b, stride=tuple(at.get('strides', [1, 1])), dilation=tuple(at.get('dilations', [1, 1])),
                    groups=at.get('group', 1))


def _maxpool(x, at):
    _auto_pad_ok(at)
    if at.get('ceil_mode', 0) or at.get('storage_order', 0) or any(d != 1 for d in at.get('dilations', [1, 1])):
        raise NotImplementedError(f'MaxPool {at}')
    x = F.pad(x, _pads(at), value=float('-inf'))
    return F.max_pool2d(x, tuple(at['kernel_shape']), stride=tuple(at.get('strides', [1, 1])))


def _avgpool(x, at):
    _auto_pad_ok(at)
    if at.get('ceil_mode', 0):
        raise NotImplementedError(f'AveragePool {at}')
    pads = _pads(at)
    k, s = tuple(at['kernel_shape']), tuple(at.get('strides', [1, 1]))
    if not any(pads):
        return F.avg_pool2d(x, k, stride=s)
    total = F.avg_pool2d(F.pad(x, pads), k, stride=s, divisor_override=1)
    if at.get('count_include_pad', 0):
        return total / (k[0] * k[1])
    ones = F.pad(torch.ones_like(x[:1, :1]), pads)
    return total / F.avg_pool2d(ones, k, stride=s, divisor_override=1)


def _gemm(a, b, c, at):
    if at.get('transA', 0):
        a = a.t()
    if at.get('transB', 0):
        b = b.t()
    y = at.get('alpha', 1.0) * (a @ b)
    return y if c is None else y + at.get('beta', 1.0) * c


def run_onnx(path_or_model, x, dtype=torch.float32):
    """Evaluate the graph on x (torch tensor or numpy array) -> dict of the graph outputs (torch tensors)."""
    model = onnx.load(path_or_model) if isinstance(path_or_model, str) else path_or_model
    g = model.graph
    env = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in g.initializer}
    env = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in env.items()}
    inputs = [i.name for i in g.input if i.name not in env]
    if len(inputs) != 1:
        raise ValueError(f'expected one graph input, got {inputs}')
    env[inputs[0]] = torch.as_tensor(np.asarray(x)).to(dtype)
    for node in g.node:
        at = _attrs(node)
        ins = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op == 'Conv':
            y = _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, at)
        elif op == 'Relu':
            y = F.relu(ins[0])
        elif op == 'MaxPool':
            y = _maxpool(ins[0], at)
        elif op == 'AveragePool':
            y = _avgpool(ins[0], at)
        elif op == 'GlobalAveragePool':
            y = ins[0].mean(dim=(2, 3), keepdim=True)
        elif op == 'Add':
            y = ins[0] + ins[1]
        elif op == 'Mul':
            y = ins[0] * ins[1]
        elif op == 'Sigmoid':
            y = torch.sigmoid(ins[0])
        elif op == 'Clip':
            lo = ins[1] if len(ins) > 1 and ins[1] is not None else at.get('min')
            hi = ins[2] if len(ins) > 2 and ins[2] is not None else at.get('max')
            y = ins[0]
            y = y if lo is None else torch.maximum(y, torch.as_tensor(lo, dtype=y.dtype))
            y = y if hi is None else torch.minimum(y, torch.as_tensor(hi, dtype=y.dtype))
        elif op == 'Concat':
            y = torch.cat(ins, dim=at['axis'])
        elif op == 'Flatten':
            axis = at.get('axis', 1)
            y = ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)
        elif op == 'Gemm':
            y = _gemm(ins[0], ins[1], ins[2] if len(ins) > 2 else None, at)
        elif op == 'BatchNormalization':
            xin, scale, bias, mean, var = ins[:5]
            shp = (1, -1, 1, 1)
            y = (xin - mean.reshape(shp)) / torch.sqrt(var.reshape(shp) + at.get('epsilon', 1e-5)) \
                * scale.reshape(shp) + bias.reshape(shp)
        elif op == 'Pad':
            mode = at.get('mode', b'constant')
            mode = mode.decode() if isinstance(mode, bytes) else mode
            pads = [int(v) for v in ins[1].tolist()]
            value = float(ins[2]) if len(ins) > 2 and ins[2] is not None else 0.0
            if mode != 'constant' or len(pads) != 8 or any(pads[:2]) or any(pads[4:6]):
                raise NotImplementedError(f'Pad {mode} {pads}')
            y = F.pad(ins[0], [pads[3], pads[7], pads[2], pads[6]], value=value)
        elif op == 'Constant':
            t = torch.from_numpy(numpy_helper.to_array(at['value']).copy())
            y = t.to(dtype) if t.is_floating_point() else t
        else:
            raise NotImplementedError(f'op {op} ({node.name})')
        if len(node.output) != 1:
            raise NotImplementedError(f'{op} with {len(node.output)} outputs')
        env[node.output[0]] = y
    return {o.name: env[o.name] for o in g.output}


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__)
        return 2
    y = next(iter(run_onnx(argv[1], np.load(argv[2])).values())).numpy()
    print('output', list(y.shape), 'max|y|', float(np.abs(y).max()))
    if len(argv) == 4:
        ref = np.load(argv[3])
        print('max|y - ref| / max|ref|', float(np.abs(y - ref).max() / np.abs(ref).max()))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
