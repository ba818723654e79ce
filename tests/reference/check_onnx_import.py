#!/usr/bin/python3
"""Checks what `xaic import` made of an ONNX model, with tools independent of xaic (onnx, numpy, torch):

    check_onnx_import.py MODEL.onnx NET.xai NODEMAP.tsv [X.npy Y.npy]

- the safetensors file beside NET.xai holds exactly the tensors NET.xai reads, each equal to the ONNX
  initializer (or Constant) of that name, or to the transform its derived name says (`.T` transposed,
  `*a` scaled by a, `.flat` / `.expand` reshaped / broadcast to a vector, `[a:b]` rows a to b); a `parameter` holds it
  without its leading axes of size 1 (the batch);
- the node map lists every ONNX node once with a known fate, names only layers of NET.xai, and gives
  each network tensor the per-sample shape onnx.shape_inference infers;
- NET.xai has one line per layer the node map names;
- with X.npy and Y.npy: NET.xai run by the reference interpreter (xai_reference.py, PyTorch, written from
  the ops v2 contract) on X gives Y, the original torch module's output.
Prints one summary line; exits 1 with the reasons on any difference."""
import os
import re
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper, shape_inference

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xai_reference as xr  # noqa: E402

errors = []


def fail(msg):
    errors.append(msg)


def onnx_tensors(model):
    """name -> float32 array, for initializers and Constant outputs."""
    out = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            out[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return out


def expected_tensor(name, sources):
    """The value a (possibly derived) tensor name stands for, or None if it names nothing known."""
    if name in sources:
        return sources[name].astype(np.float32)
    m = re.match(r"^(.*)(\.T|\*[-+0-9.eE]+|\.flat|\.expand|\[[0-9]+:[0-9]+\])$", name)
    if not m:
        return None
    base = expected_tensor(m.group(1), sources)
    if base is None:
        return None
    op = m.group(2)
    if op.startswith("["):  # rows start:end (a dense layer's units as a layer of their own)
        start, end = (int(v) for v in op[1:-1].split(":"))
        return base[start:end].copy()
    if op == ".T":
        return base.T.copy()
    if op == ".flat":
        return base.reshape(-1)
    if op == ".expand":
        return base  # broadcast: compared after np.broadcast_to below
    return (np.float64(float(op[1:])) * base.astype(np.float64)).astype(np.float32)


def check_tensors(net, xai_path, sources):
    st_path = os.path.join(os.path.dirname(xai_path), net["weights"])
    weights, header, hlen = xr.read_safetensors(st_path)
    if (8 + hlen) % 8:
        fail(f"data section of {st_path} starts at {8 + hlen}, not a multiple of 8")
    read = set()
    for name, op, pos, named, prefix in net["layers"]:
        read.update(xr.layer_tensors(op, named, prefix).values())
    if read != set(weights):
        fail(f"tensors read but absent: {sorted(read - set(weights))[:5]}; "
             f"present but unread: {sorted(set(weights) - read)[:5]}")
    for name, value in weights.items():
        want = expected_tensor(name, sources)
        if want is None:
            fail(f"tensor '{name}' names no ONNX tensor nor a transform of one")
            continue
        if name.endswith(".expand"):
            want = np.broadcast_to(want.reshape(-1), value.shape)
        if want.ndim > value.ndim and all(d == 1 for d in want.shape[:want.ndim - value.ndim]):
            want = want.reshape(want.shape[want.ndim - value.ndim:])  # a parameter: its batch axis of 1 dropped
        if want.shape != value.shape or not np.array_equal(want, value):
            fail(f"tensor '{name}': shape {value.shape} or values differ from the ONNX model's {want.shape}")
    return weights


def check_node_map(model, net, map_path):
    inferred = shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    names = {net["input"][0]} | {layer[0] for layer in net["layers"]}
    rows = [line.split("\t") for line in open(map_path).read().splitlines()]
    nodes = model.graph.node
    if len(rows) != len(nodes):
        fail(f"node map has {len(rows)} lines for {len(nodes)} nodes")
    used_layers, checked = set(), 0
    for row, node in zip(rows, nodes):
        index, name, op, fate, layer, shape = row
        if op != node.op_type or name != node.name:
            fail(f"node map line {index}: {name} ({op}) is not node {node.name} ({node.op_type})")
        if fate not in ("layer", "merged", "alias", "folded", "unused"):
            fail(f"node {name}: unknown fate {fate}")
        if fate in ("layer", "merged", "alias"):
            if layer not in names:
                fail(f"node {name}: layer {layer} is not in the .xai")
            if fate == "layer":
                used_layers.add(layer)
        if fate == "unused":
            fail(f"node {name} ({op}) does not contribute to the output")
        if shape != "-":
            got = [int(v) for v in shape.strip("[]").split(",")]
            want = shapes.get(node.output[0])
            # shape inference gives up after a Reshape to a computed shape (ShuffleNet): no dims then
            if want and len(want) == len(got) + 1 and None not in want[1:]:
                checked += 1
                if want[1:] != got:
                    fail(f"node {name}: per-sample shape {got}, onnx.shape_inference says {want[1:]}")
    layer_names = {layer[0] for layer in net["layers"]}
    if not used_layers <= layer_names or len(layer_names) != len(net["layers"]):
        fail("layer names of the node map and of the .xai differ, or the .xai repeats a name")
    return checked


def main():
    if len(sys.argv) not in (4, 6):
        sys.exit(__doc__)
    model_path, xai_path, map_path = sys.argv[1:4]
    model = onnx.load(model_path)
    net = xr.parse_network(open(xai_path).read())
    weights = check_tensors(net, xai_path, onnx_tensors(model))
    checked = check_node_map(model, net, map_path)
    summary = f"{len(net['layers'])} layers, {len(weights)} tensors, {checked} shapes checked"
    if len(sys.argv) == 6:
        x = torch.from_numpy(np.load(sys.argv[4]))
        y = np.load(sys.argv[5])
        with torch.no_grad():
            out = xr.run(net, weights, x)[net["output"]].numpy()
        scale = max(1.0, float(np.abs(y).max()))
        diff = float(np.abs(out - y).max()) if out.shape == y.shape else float("inf")
        if not diff <= 1e-4 * scale:
            fail(f"output differs from torch's: shape {out.shape} vs {y.shape}, max |diff| {diff:.3g} "
                 f"(max |y| {scale:.3g})")
        summary += f", max |output - torch| = {diff:.2g} (max |y| {scale:.2g})"
    if errors:
        print(f"FAILED {os.path.basename(model_path)}:\n  " + "\n  ".join(errors[:20]))
        sys.exit(1)
    print(f"ok {os.path.basename(model_path)}: {summary}")


if __name__ == "__main__":
    main()
