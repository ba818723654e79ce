"""xaic from Python: compiled explanations as NumPy functions (docs/python.md).

    import numpy as np, xaic
    net = xaic.compile("models/mnist_cnn_lrp.xai")      # compiled once, cached by content
    y = net.forward(x)                                  # float32 [B, 1, 28, 28] -> [B, 10]
    R = net.explain("epsilon_plus", x, target=None)     # x's shape; None: each row's arg-max
    xaic.heatmap(R, x=x, overlay=True)                  # RGB array; shown inline in Jupyter

The core needs only the standard library and NumPy; from_torch imports PyTorch when called.
"""

import os

from ._bridge import from_onnx, from_torch
from ._compiler import cache_dir, compile_shared, compiler_version, find_compiler
from ._errors import (BatchError, CompileError, CompilerNotFoundError, DivergedError, Error, InputError,
                      InputTypeError, NonFiniteInputError, NonFiniteResultError, StatusError, TargetError,
                      UnknownExplanationError, WorkspaceError)
from ._heatmap import Heatmap, colormap_bwr, heatmap
from ._library import load as _load
from ._network import Explanation, Layer, Network
from ._version import __version__

__all__ = [
    "compile", "from_onnx", "from_torch", "heatmap", "Network", "Heatmap", "Layer", "Explanation", "cache_dir",
    "find_compiler", "compiler_version", "colormap_bwr", "Error", "CompileError", "CompilerNotFoundError",
    "InputError", "InputTypeError", "UnknownExplanationError", "StatusError", "NonFiniteInputError",
    "TargetError", "BatchError", "NonFiniteResultError", "DivergedError", "WorkspaceError", "__version__",
]


def _options(opt_level, cpu, threads, keep_values):
    if opt_level not in (0, 1, 2, 3):
        raise InputError(f"opt_level is 0, 1, 2 or 3, not {opt_level!r}")
    flags = [f"-O{opt_level}"]
    if cpu is not None:
        flags += ["--cpu", str(cpu)]
    if not threads:
        flags.append("--threads=off")
    if keep_values:
        flags.append("--keep-values")
    return flags


def compile(path, network=None, *, opt_level=3, cpu=None, threads=True):
    """The Network `network` of the .xai file at path, compiled to a shared object (xaic --emit shared) or taken
    from the cache when the file, its imports, its weights and the compiler are unchanged. network may be
    omitted when the file defines one network, or one network with explanations. A file with errors raises
    CompileError with every diagnostic. opt_level, cpu and threads are the compiler's -O, --cpu and --threads."""
    path = os.fspath(path)
    _options(opt_level, cpu, threads, False)  # checked before anything runs

    def build(keep_values):
        handle, description, _, hit = compile_shared(path, _options(opt_level, cpu, threads, keep_values), _load)
        if description["xaic_version"] != __version__:
            raise CompilerNotFoundError(f"the xaic package is {__version__} but the compiler "
                                        f"({find_compiler()}) is {description['xaic_version']}")
        return Network(handle, _pick(description, network, path), hit, build)

    return build(False)


def _pick(description, network, path):
    nets = description["networks"]
    if network is not None:
        for n in nets:
            if n["name"] == network:
                return n
        raise UnknownExplanationError(f"{path} has no network '{network}'; it has: "
                                      f"{', '.join(n['name'] for n in nets)}")
    if len(nets) == 1:
        return nets[0]
    explained = [n for n in nets if n["explanations"]]
    if len(explained) == 1:
        return explained[0]
    raise InputError(f"{path} defines the networks {', '.join(n['name'] for n in nets)}; choose one with "
                     "network=NAME")

