"""A compiled network: its forward pass and explanations as NumPy functions over the generated entries.

Calls go straight to the generated C functions through ctypes, which releases the GIL for the call, so threads
run explanations in parallel. Each thread gets its own workspace per network (64-byte aligned, grown to the
largest batch it has seen, freed with the thread). Float32 C-contiguous inputs are passed without a copy.
"""

import collections
import ctypes
import math
import threading

import numpy as np

from ._errors import (InputError, InputTypeError, NonFiniteInputError, TargetError, UnknownExplanationError,
                      XAI_EBATCH, XAI_ENAN, XAI_ETARGET, BatchError, status_error)
from ._library import EXPLAIN_ARGS, EXPLAIN_EX_ARGS, FORWARD_ARGS, PROGRESS, Options

Layer = collections.namedtuple("Layer", "name shape")
Explanation = collections.namedtuple(
    "Explanation", "name method input_shape output_shape at classes takes_target baseline noise_samples seed "
    "activation_maximization generator relevance from_layer")

_F32 = np.dtype(np.float32)
_I32 = np.dtype(np.int32)
_INT32_MAX = 2**31 - 1
_UINT64_MAX = 2**64 - 1


def _shape_text(shape):
    return "[" + ", ".join(str(d) for d in shape) + "]"


def as_float32(a, what, shape, net):
    """(array, batch, batched): `a` as float32 C-contiguous, shaped `shape` (one sample) or [batch, *shape].
    Float32 C-contiguous aligned arrays pass through; other real dtypes and layouts are copied."""
    if type(a) is not np.ndarray:
        if a is None:
            raise InputTypeError(f"{what} is None; network '{net}' takes float32 {_shape_text(shape)} per sample")
        a = np.asarray(a)
    if a.dtype is not _F32 and a.dtype != _F32:
        if a.dtype.kind not in "fiu":
            raise InputTypeError(f"{what} has dtype {a.dtype}; xaic takes float32 (other real dtypes are converted "
                                 "with a copy)")
        a = a.astype(_F32)
    flags = a.flags
    if not (flags.c_contiguous and flags.aligned):
        a = np.ascontiguousarray(a)
    s = a.shape
    if s[1:] == shape and len(s) == len(shape) + 1:
        if s[0] < 1:
            raise InputError(f"{what} holds no sample (shape {_shape_text(s)})")
        if s[0] > _INT32_MAX:
            raise InputError(f"{what} holds {s[0]} samples; at most {_INT32_MAX} per call")
        return a, s[0], True
    if s == shape:
        return a, 1, False
    raise InputError(f"{what} has shape {_shape_text(s)}; network '{net}' takes {_shape_text(shape)} per sample, "
                     f"given as [batch, {_shape_text(shape)[1:-1]}] or as one sample {_shape_text(shape)}")


def _targets(target, batch, classes, what, noun="class"):
    """int32 [batch] array of classes (or of a `from` layer's channels: noun), or None (each row's arg-max);
    checked against [0, classes)."""
    if target is None:
        return None
    if isinstance(target, (bool, np.bool_)):
        raise InputTypeError(f"target is a boolean; give a class index (0 .. {classes - 1}) or None")
    if isinstance(target, (int, np.integer)):
        if not 0 <= int(target) < classes:
            raise TargetError(XAI_ETARGET, "target class out of range",
                              f"target {int(target)} is not a {noun} of {what} (0 .. {classes - 1})")
        return np.full(batch, int(target), dtype=_I32)
    else:
        t = np.asarray(target)
        if t.dtype.kind not in "iu":
            raise InputTypeError(f"target has dtype {t.dtype}; give integer classes (0 .. {classes - 1}) or None")
        if t.ndim == 0:
            t = np.full(batch, int(t), dtype=np.int64)
        elif t.shape != (batch,):
            raise InputError(f"target has shape {_shape_text(t.shape)}; give one class per sample ([{batch}]), "
                             "one class for all, or None")
    bad = np.flatnonzero((t < 0) | (t >= classes))
    if bad.size:
        i = int(bad[0])
        raise TargetError(XAI_ETARGET, "target class out of range",
                          f"target[{i}] = {int(t.flat[i])} is not a {noun} of {what} (0 .. {classes - 1})")
    return np.ascontiguousarray(t, dtype=_I32)


class Network:
    """One network of a compiled .xai file: ``forward``, ``explain`` and what NET_info says about it.

    Attributes: ``name``, ``input_shape``, ``output_shape`` (per sample), ``input_range`` ((low, high) or None),
    ``layers`` (Layer(name, shape) for every named layer), ``explanations`` (the names ``explain`` takes),
    ``path`` (the shared object), ``cache_hit`` (whether compile() found it in the cache)."""

    def __init__(self, library, description, cache_hit, recompile):
        self._lib = library
        self._recompile = recompile  # (keep_values) -> Network: the same source compiled again
        self._keep = None
        self._keep_lock = threading.Lock()
        self._tls = threading.local()
        self._ws_sizes = {}
        name = description["name"]
        info = library.model_info(name)
        self.name = name
        self.path = library.path
        self.cache_hit = cache_hit
        self.input_shape = info.input.shape_tuple()
        self.output_shape = info.output.shape_tuple()
        self.input_name = info.input.name.decode()
        self.output_name = info.output.name.decode()
        self.input_range = (float(info.input_low), float(info.input_high)) if info.has_input_range else None
        self.layers = tuple(Layer(info.layers[i].name.decode(), info.layers[i].shape_tuple())
                            for i in range(info.n_layers))
        self.explanations = tuple(info.explanations[i].decode() for i in range(info.n_explanations))
        self.weights_crc32 = int(info.weights_crc32)
        self._workspace_header = int(description["workspace_header"])
        self._workspace_size = library.function(f"{name}_workspace_size", ctypes.c_size_t, [ctypes.c_int32])
        self._forward = library.function(f"{name}_forward", ctypes.c_int, FORWARD_ARGS)
        self._explain = {}
        for e in description["explanations"]:
            am = e["activation_maximization"]
            x = Explanation(e["name"], e["method"], tuple(e["input_shape"]), tuple(e["output_shape"]), e["at"],
                            int(e["classes"]), bool(e["target"]), bool(e["baseline"]), int(e["noise_samples"]),
                            bool(e["seed"]), am is not None, am["generator"] if am else None, e["relevance"],
                            e.get("from"))
            entry = library.function(e["entry"], ctypes.c_int, EXPLAIN_ARGS)
            entry_ex = library.function(e["entry_ex"], ctypes.c_int, EXPLAIN_EX_ARGS) if e["entry_ex"] else None
            self._explain[x.name] = (x, entry, entry_ex)

    def __repr__(self):
        return (f"<xaic.Network {self.name}: {_shape_text(self.input_shape)} -> {_shape_text(self.output_shape)}, "
                f"explanations {', '.join(self.explanations) or 'none'}>")

    def explanation(self, name):
        """The Explanation record (method, shapes, what it takes) of explanation `name`."""
        try:
            return self._explain[name][0]
        except KeyError:
            raise UnknownExplanationError(
                f"network '{self.name}' has no explanation '{name}'; it has: "
                f"{', '.join(self.explanations) or 'none'}") from None

    def workspace_size(self, batch):
        """Bytes of workspace a call with `batch` samples needs (NET_workspace_size)."""
        size = self._ws_sizes.get(batch)
        if size is None:
            size = self._workspace_size(batch) if 1 <= batch <= _INT32_MAX else 0
            if size == 0:
                raise BatchError(XAI_EBATCH, self._lib.status_text(XAI_EBATCH),
                                 f"network '{self.name}': a batch of {batch} samples")
            self._ws_sizes[batch] = size
        return size

    def _workspace(self, batch):
        """(address, size) of this thread's workspace, at least workspace_size(batch) bytes, 64-byte aligned."""
        size = self._ws_sizes.get(batch) or self.workspace_size(batch)
        ws = getattr(self._tls, "ws", None)
        if ws is None or ws[0] < size:
            buffer = np.empty(size + 64, dtype=np.uint8)
            address = buffer.ctypes.data
            ws = self._tls.ws = (size, buffer, address + (-address) % 64)
        return ws[2], ws[0]

    def _failed(self, status, what):
        return status_error(status, self._lib.status_text(status), f"{what} of network '{self.name}'")

    def forward(self, x):
        """The network's output for x ([batch, *input_shape] or one sample): float32 [batch, *output_shape]."""
        x, batch, batched = as_float32(x, "x", self.input_shape, self.name)
        y = np.empty((batch,) + self.output_shape, dtype=_F32)
        ws, _ = self._workspace(batch)
        status = self._forward(x.ctypes.data, y.ctypes.data, batch, ws)
        if status:
            raise self._failed(status, "forward")
        return y if batched else y[0]

    __call__ = forward

    def explain(self, name, x=None, target=None, *, baseline=None, noise=None, seed=None, steps=None, at=None,
                stats=False, progress=None, return_codes=False):
        """Explanation `name` of x; the relevance has x's shape (or the explanation's output shape).

        target: a class per sample, one class for all, or None for each sample's arg-max.
        baseline: the IG baseline / DeepLIFT reference (one sample or one per sample), or activation
        maximisation's regulariser centre. noise: SmoothGrad's noise to replay, [batch, samples, *input_shape].
        seed: SmoothGrad's seed (or the seed of a generator's starting codes). steps, progress (a callable taking
        (done, total)), return_codes: activation maximisation (docs/python.md). at: a layer name (or a list of
        names): the relevance at that layer's output instead. stats: also return {layer: relevance sum per
        sample}, output to input, as `xaic run --stats` prints it."""
        e, entry, entry_ex = self._explain.get(name) or (self.explanation(name), None, None)
        if e.activation_maximization:
            if at is not None or stats or noise is not None:
                raise InputError(f"explanation '{name}' is activation maximisation: at, stats and noise do not apply")
            return self._actmax(e, entry_ex, x, target, baseline, seed, steps, progress, return_codes)
        for value, key, allowed in ((steps, "steps", False), (progress, "progress", False),
                                    (return_codes or None, "return_codes", False),
                                    (baseline, "baseline", e.baseline), (noise, "noise", e.noise_samples > 0),
                                    (seed, "seed", e.seed)):
            if value is not None and not allowed:
                raise InputError(f"explanation '{name}' ({e.method}) takes no {key}" + _WHO_TAKES[key])
        if at is not None or stats:
            return self._keep_values_network()._explain_layers(name, x, target, baseline, noise, seed, at, stats)
        x, batch, batched = as_float32(x, "x", e.input_shape, self.name)
        t = self._explain_targets(e, target, batch) if target is not None else None
        if t is not None and not e.takes_target:
            raise InputError(f"explanation '{name}' ({e.method}) takes no target")
        out = np.empty((batch,) + e.output_shape, dtype=_F32)
        ws, size = self._workspace(batch)
        tp = None if t is None else t.ctypes.data
        if entry_ex is None:
            status = entry(x.ctypes.data, tp, out.ctypes.data, batch, ws)
        else:
            keep = []
            opt = self._options(e, x, batch, batched, baseline, noise, seed, size, keep)
            status = entry_ex(x.ctypes.data, tp, out.ctypes.data, batch, ws, ctypes.byref(opt))
        if status:
            raise self._failed(status, f"explanation '{name}'")
        return out if batched else out[0]

    def _options(self, e, x, batch, batched, baseline, noise, seed, workspace_size, keep):
        """xai_options for an _ex entry; arrays it points to are appended to keep (alive through the call)."""
        opt = Options()
        opt.workspace_size = workspace_size
        if baseline is not None:
            b = np.asarray(baseline)
            if b.ndim == 0 and b.dtype.kind in "fiu":  # a number: that value everywhere (one sample)
                b = np.full(e.input_shape, b, dtype=_F32)
            b, rows, per_sample = as_float32(b, "baseline", e.input_shape, self.name)
            if per_sample and rows != batch:
                raise InputError(f"baseline holds {rows} samples for a batch of {batch}; give one sample "
                                 f"{_shape_text(e.input_shape)} or one per sample")
            _check_finite(b, "baseline")
            keep.append(b)
            opt.baseline = b.ctypes.data
            opt.baseline_per_sample = int(per_sample and batch > 1)
        if noise is not None:
            want = (batch, e.noise_samples) + e.input_shape
            n = np.asarray(noise)
            if not batched and n.shape == want[1:]:
                n = n[None]
            if n.shape != want:
                raise InputError(f"noise has shape {_shape_text(n.shape)}; explanation '{e.name}' draws "
                                 f"{e.noise_samples} noisy copies per sample: give {_shape_text(want)}")
            n, _, _ = as_float32(n, "noise", want[1:], self.name)
            _check_finite(n, "noise")
            keep.append(n)
            opt.noise = n.ctypes.data
        if seed is not None:
            opt.seed = _seed(seed)
            opt.has_seed = 1
        return opt

    # ---- activation maximisation ----

    def _explain_targets(self, e, target, batch):
        if e.from_layer is not None:
            return _targets(target, batch, e.classes, f"layer '{e.from_layer}'", "channel")
        return _targets(target, batch, e.classes, f"network '{self.name}'")

    def _actmax(self, e, entry_ex, x, target, baseline, seed, steps, progress, return_codes):
        classes = e.classes
        if return_codes and not e.generator:
            raise InputError(f"explanation '{e.name}' optimises the input itself: there are no codes to return")
        if x is None:  # as `xaic run`: one row per class, or per given target; zeros, or N(0, 1) codes
            if target is None:
                t = np.arange(classes, dtype=_I32)
            else:
                rows = 1 if np.ndim(target) == 0 else len(target)
                t = _targets(target, rows, classes, f"network '{self.name}'")
            batch, batched = len(t), True
            x = np.zeros((batch,) + e.input_shape, dtype=_F32)
            if e.generator:
                self._lib.normal_fill(x.ctypes.data, x.size, 0 if seed is None else _seed(seed), 0, 1.0)
            elif seed is not None:
                raise InputError(f"seed draws a generator's starting codes; explanation '{e.name}' has no generator")
        else:
            if seed is not None:
                raise InputError("seed draws starting codes when x is None; x was given")
            x, batch, batched = as_float32(x, "x", e.input_shape, self.name)
            t = _targets(target, batch, classes, f"network '{self.name}'")
        ws, size = self._workspace(batch)
        keep = []
        opt = self._options(e, x, batch, batched, baseline, None, None, size, keep)
        if steps is not None:
            if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= 100000000:
                raise InputError(f"steps must be an integer in [1, 100000000], not {steps!r}")
            opt.steps = int(steps)
        codes = None
        if return_codes:
            codes = np.empty((batch,) + e.input_shape, dtype=_F32)
            opt.code = codes.ctypes.data
        raised = []
        if progress is not None:
            def report(_context, done, total):
                try:
                    progress(int(done), int(total))
                except BaseException as exc:  # noqa: B036 -- re-raised after the call
                    raised.append(exc)
            opt.progress = PROGRESS(report)
        out = np.empty((batch,) + e.output_shape, dtype=_F32)
        status = entry_ex(x.ctypes.data, None if t is None else t.ctypes.data, out.ctypes.data, batch, ws,
                          ctypes.byref(opt))
        if raised:
            raise raised[0]
        if status:
            raise self._failed(status, f"explanation '{e.name}'")
        if not batched:
            out = out[0]
            codes = None if codes is None else codes[0]
        return (out, codes) if return_codes else out

    # ---- relevance at every layer (a --keep-values build of the same source) ----

    def _keep_values_network(self):
        with self._keep_lock:
            if self._keep is None:
                self._keep = self._recompile(True)
            return self._keep

    def relevance_layers(self, name):
        """The layers whose relevance `explain(name, x, at=...)` and `stats=True` can report, output to input."""
        e = self._keep_values_network().explanation(name)
        return tuple(r["layer"] for r in e.relevance if r["samples"] == 1)

    def _explain_layers(self, name, x, target, baseline, noise, seed, at, stats):
        e, entry, entry_ex = self._explain.get(name) or (self.explanation(name), None, None)
        x, batch, batched = as_float32(x, "x", e.input_shape, self.name)
        t = self._explain_targets(e, target, batch)
        out = np.empty((batch,) + e.output_shape, dtype=_F32)
        ws, size = self._workspace(batch)
        tp = None if t is None else t.ctypes.data
        if entry_ex is None:
            status = entry(x.ctypes.data, tp, out.ctypes.data, batch, ws)
        else:
            keep = []
            opt = self._options(e, x, batch, batched, baseline, noise, seed, size, keep)
            status = entry_ex(x.ctypes.data, tp, out.ctypes.data, batch, ws, ctypes.byref(opt))
        if status:
            raise self._failed(status, f"explanation '{name}'")
        arena = ws + self._workspace_header
        layers = {}
        for r in e.relevance:
            if r["samples"] != 1:
                continue
            shape = tuple(r["shape"])
            if r["location"] == "output":
                value = out.reshape((batch,) + shape).copy()
            elif r["location"] == "input":
                value = x.reshape((batch,) + shape).copy()
            else:
                count = batch * math.prod(shape)
                p = ctypes.cast(arena + 4 * batch * int(r["offset"]), ctypes.POINTER(ctypes.c_float))
                value = np.ctypeslib.as_array(p, (count,)).reshape((batch,) + shape).copy()
            layers[r["layer"]] = value
        result = out
        if at is not None:
            names = [at] if isinstance(at, str) else list(at)
            for n in names:
                if n not in layers:
                    sampled = [r["layer"] for r in e.relevance if r["samples"] != 1]
                    why = (f"relevance at '{n}' is computed per path point or noisy copy ({e.method}), not per "
                           "sample" if n in sampled else
                           f"explanation '{name}' has no relevance at '{n}'; layers: {', '.join(layers)}")
                    raise UnknownExplanationError(why)
            picked = {n: layers[n] if batched else layers[n][0] for n in names}
            result = picked[at] if isinstance(at, str) else picked
        elif not batched:
            result = out[0]
        if not stats:
            return result
        # summed in double, element by element in order, as `xaic run --stats` does
        sums = {k: np.cumsum(v.reshape(batch, -1), axis=1, dtype=np.float64)[:, -1] for k, v in layers.items()}
        if not batched:
            sums = {k: float(v[0]) for k, v in sums.items()}
        return result, sums


_WHO_TAKES = {
    "steps": " (steps is for activation_maximization)",
    "progress": " (progress is for activation_maximization)",
    "return_codes": " (return_codes is for activation_maximization with a generator)",
    "baseline": " (baseline is for integrated_gradients, deeplift and activation_maximization)",
    "noise": " (noise is for smoothgrad)",
    "seed": " (seed is for smoothgrad and activation_maximization with a generator)",
}


def _seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= _UINT64_MAX:
        raise InputError(f"seed must be an integer in [0, 2**64 - 1], not {seed!r}")
    return int(seed)


def _check_finite(a, what):
    if not np.isfinite(a).all():
        i = np.unravel_index(int(np.flatnonzero(~np.isfinite(a))[0]), a.shape)
        raise NonFiniteInputError(XAI_ENAN, "input holds NaN or infinity", f"{what}[{', '.join(map(str, i))}] is "
                                  f"{a[i]}")
