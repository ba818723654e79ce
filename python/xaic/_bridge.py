"""ONNX and PyTorch models into compiled explanations: `xaic import` writes the network, each value of `explain`
becomes the body of an explain block in a file that imports it, and that file is compiled like any other.

Imports are cached by content beside the compiled objects (``<cache>/imports/<sha256>/``): the same model bytes
and options are imported once. PyTorch is imported only when ``from_torch`` is called (Debian: python3-torch).
"""

import hashlib
import io
import json
import os
import re

from ._compiler import cache_dir, run_compiler
from ._errors import CompileError, Error, InputError, InputTypeError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _identifier(text, default):
    name = re.sub(r"\W", "_", text or "")
    if not name:
        return default
    return name if re.match(r"[A-Za-z_]", name) else "net_" + name


def _check_explain(explain):
    if explain is None:
        return {}
    if not isinstance(explain, dict):
        raise InputTypeError("explain is a dict {name: body of an explain block}")
    for name, body in explain.items():
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            raise InputError(f"explanation name {name!r} is not an identifier")
        if not isinstance(body, str):
            raise InputTypeError(f"the body of explanation '{name}' is {type(body).__name__}, not a string")
    return explain


def _explain_source(network_file, network, explain):
    lines = [f'import "{network_file}";']
    for name, body in explain.items():
        lines.append(f"explain {name} for {network} {{\n    {body.strip()}\n}}")
    return "\n".join(lines) + "\n"


def _write_if_absent(path, text):
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                return
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def import_onnx(model, name=None, input_range=None, input_shape=None):
    """(directory, network name) of `xaic import` run on model (a path or the model's bytes), cached by content."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        data, source = bytes(model), None
    else:
        source = os.path.abspath(os.fspath(model))
        try:
            with open(source, "rb") as f:
                data = f.read()
        except OSError as e:
            raise InputError(f"cannot read the ONNX model {source}: {e.strerror}") from None
    network = _identifier(name, None) if name else _identifier(
        os.path.splitext(os.path.basename(source))[0] if source else "", "model")
    args = []
    if input_range is not None:
        low, high = (float(v) for v in input_range)
        args += ["--input-range", f"{low!r},{high!r}"]
    if input_shape is not None:
        args += ["--input-shape", ",".join(str(int(d)) for d in input_shape)]
    key = hashlib.sha256(data + json.dumps([network, args, source]).encode()).hexdigest()
    directory = os.path.join(cache_dir(), "imports", key)
    os.makedirs(directory, exist_ok=True)
    done = os.path.join(directory, "imported")
    if not os.path.exists(done):
        if source is None:
            source = os.path.join(directory, "model.onnx")
            with open(source + ".tmp", "wb") as f:
                f.write(data)
            os.replace(source + ".tmp", source)
        run_compiler(["import", source, "-o", os.path.join(directory, network + ".xai"), "--name", network] + args,
                     f"importing {source}")
        _write_if_absent(done, "")
    return directory, network


def from_onnx(model, explain=None, *, name=None, input_range=None, input_shape=None, **options):
    """A Network compiled from an ONNX model: `xaic import` (docs/import.md) and one explain block per entry of
    `explain` ({name: body}, e.g. {"lrp": "rules epsilon_gamma_box(low=-2.12, high=2.64);"}). input_range
    (low, high) is written on the input (bounded rules such as zbox use it); input_shape is the per-sample shape
    for models whose dimensions other than the batch are dynamic. options: as for xaic.compile."""
    from . import compile as compile_file
    explain = _check_explain(explain)
    directory, network = import_onnx(model, name, input_range, input_shape)
    text = _explain_source(network + ".xai", network, explain)
    path = os.path.join(directory, "explain_" + hashlib.sha256(text.encode()).hexdigest()[:16] + ".xai")
    _write_if_absent(path, text)
    try:
        return compile_file(path, network=network, **options)
    except CompileError as e:  # say which entry of `explain` each line of the generated file holds
        blocks = ", ".join(f"'{k}' lines {2 + 3 * i}-{4 + 3 * i}" for i, k in enumerate(explain))
        raise CompileError(f"{e.args[0].splitlines()[0]}\n(the explain blocks written from `explain`: {blocks})",
                           e.diagnostics, e.command, e.returncode) from None


def from_torch(model, example_input, explain=None, *, name=None, input_range=None, opset_version=17, **options):
    """A Network compiled from a torch.nn.Module: exported with torch.onnx.export (eval mode, dynamic batch
    axis; the module's mode is restored afterwards), then as from_onnx. example_input: a batch of valid input,
    e.g. torch.zeros(1, 1, 28, 28)."""
    try:
        import torch
    except ImportError:
        raise Error("from_torch needs PyTorch (Debian: apt-get install python3-torch)") from None
    _check_explain(explain)
    if not isinstance(model, torch.nn.Module):
        raise InputTypeError(f"model is a {type(model).__name__}, not a torch.nn.Module")
    if not isinstance(example_input, torch.Tensor):
        example_input = torch.as_tensor(example_input)
    example_input = example_input.float()
    buffer = io.BytesIO()
    training = model.training
    model.eval()
    try:
        torch.onnx.export(model, example_input, buffer, opset_version=opset_version, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
                          do_constant_folding=True)
    finally:
        model.train(training)
    return from_onnx(buffer.getvalue(), explain, name=name or _identifier(type(model).__name__, "model"),
                     input_range=input_range, **options)
