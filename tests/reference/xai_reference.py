"""A reference interpreter of .xai networks in PyTorch, written from the ops v2 contract (PyTorch
semantics), independent of xaic: the importer's tests run an imported network with it and compare
with the original torch module. It reads the network statements xaic import writes (one layer a line:
`NAME = OP(ARGS) [from "PREFIX"];`), not the whole language."""
import json
import re
import struct

import numpy as np
import torch
import torch.nn.functional as F

TOKEN = re.compile(r'\s*(?:(?P<num>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<str>"(?:[^"\\]|\\.)*")'
                   r'|(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<p>[()\[\],=;]))')


def tokenize(text):
    out, at = [], 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        m = TOKEN.match(text, at)
        if not m:
            raise ValueError(f"cannot tokenize at: {text[at:at + 40]!r}")
        at = m.end()
        if m.group("num") is not None:
            s = m.group("num")
            out.append(("num", float(s) if any(c in s for c in ".eE") else int(s)))
        elif m.group("str") is not None:
            s = m.group("str")[1:-1]
            s = re.sub(r"\\(.)", lambda e: {"n": "\n", "t": "\t"}.get(e.group(1), e.group(1)), s)
            out.append(("str", s))
        elif m.group("id") is not None:
            out.append(("id", m.group("id")))
        else:
            out.append(("p", m.group("p")))
    return out


class Parser:
    def __init__(self, tokens):
        self.t, self.i = tokens, 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self, kind=None, value=None):
        tok = self.peek()
        if (kind and tok[0] != kind) or (value is not None and tok[1] != value):
            raise ValueError(f"expected {kind} {value}, found {tok}")
        self.i += 1
        return tok[1]

    def value(self):
        kind, v = self.peek()
        if kind == "p" and v == "[":
            self.take()
            items = []
            while self.peek() != ("p", "]"):
                items.append(self.value())
                if self.peek() == ("p", ","):
                    self.take()
            self.take("p", "]")
            return items
        self.i += 1
        if kind == "id":
            return {"true": True, "false": False}.get(v, ("ref", v))
        return v

    def call(self):
        op = self.take("id")
        self.take("p", "(")
        pos, named = [], {}
        while self.peek() != ("p", ")"):
            if self.peek()[0] == "id" and self.i + 1 < len(self.t) and self.t[self.i + 1] == ("p", "="):
                key = self.take("id")
                self.take("p", "=")
                named[key] = self.value()
            else:
                pos.append(self.value())
            if self.peek() == ("p", ","):
                self.take()
        self.take("p", ")")
        return op, pos, named


def parse_network(text):
    """-> dict(name, weights, input (name, shape, range), layers [(name, op, pos, named, prefix)], output)"""
    net = {"layers": []}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line or line == "}":
            continue
        if line.startswith("network "):
            net["name"] = line.split()[1]
        elif line.startswith("weights "):
            net["weights"] = tokenize(line)[1][1]
        elif line.startswith("input "):
            p = Parser(tokenize(line[len("input "):]))
            name = p.take("id")
            shape = p.value()
            rng = None
            if p.peek() == ("id", "range"):
                p.take()
                rng = p.value()
            net["input"] = (name, shape, rng)
        elif line.startswith("output "):
            net["output"] = line[len("output "):].rstrip(";").strip()
        else:
            p = Parser(tokenize(line))
            name = p.take("id")
            p.take("p", "=")
            op, pos, named = p.call()
            prefix = name
            if p.peek() == ("id", "from"):
                p.take()
                prefix = p.take("str")
            p.take("p", ";")
            net["layers"].append((name, op, pos, named, prefix))
    return net


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for key, e in header.items():
        if key == "__metadata__":
            continue
        assert e["dtype"] == "F32", (key, e["dtype"])
        b, end = e["data_offsets"]
        out[key] = np.frombuffer(data[base + b:base + end], dtype="<f4").reshape(e["shape"]).copy()
    return out, header, n


PARAMS = {"conv2d": ["weight", "bias"], "dense": ["weight", "bias"], "layernorm": ["weight", "bias"],
          "parameter": ["weight"], "batchnorm": ["weight", "bias", "running_mean", "running_var"]}


def layer_tensors(op, named, prefix):
    """The tensor names a layer reads: explicit string arguments, else <prefix>.<param>; bias=false: none."""
    names = {}
    for p in PARAMS.get(op, []):
        v = named.get(p, True)
        if v is False:
            continue
        names[p] = v if isinstance(v, str) else f"{prefix}.{p}"
    return names


def pair(v):
    return (v, v) if isinstance(v, (int, float)) else tuple(v)


def pads4(v):
    if isinstance(v, (int, float)):
        return (v,) * 4
    if len(v) == 2:
        return (v[0], v[1], v[0], v[1])
    return tuple(v)


def pool(x, op, pos, named):
    k = pair(pos[1])
    s = pair(named.get("stride", pos[1]))
    t, l, b, r = pads4(named.get("pad", 0))
    ceil = named.get("ceil_mode", False)
    if op == "maxpool":
        d = pair(named.get("dilation", 1))
        if t == b and l == r:
            return F.max_pool2d(x, k, s, (t, l), d, ceil_mode=ceil)
        return F.max_pool2d(F.pad(x, (l, r, t, b), value=float("-inf")), k, s, 0, d, ceil_mode=ceil)
    cip = named.get("count_include_pad", True)
    if t == b and l == r:
        return F.avg_pool2d(x, k, s, (t, l), ceil_mode=ceil, count_include_pad=cip)
    xp = F.pad(x, (l, r, t, b))
    total = F.avg_pool2d(xp, k, s, 0, ceil_mode=ceil) * (k[0] * k[1])
    count = F.avg_pool2d(F.pad(torch.ones_like(x[:1, :1]), (l, r, t, b), value=1.0 if cip else 0.0), k, s, 0,
                         ceil_mode=ceil) * (k[0] * k[1])
    return total / count


def run(net, weights, x):
    """Evaluates the network on x [batch, ...] (a torch tensor); returns every layer's output."""
    env = {net["input"][0]: x}
    w = {k: torch.from_numpy(v) for k, v in weights.items()}

    def arg(v):
        if isinstance(v, tuple) and v[0] == "ref":
            return env[v[1]]
        return v

    for name, op, pos, named, prefix in net["layers"]:
        t = {k: w[v] for k, v in layer_tensors(op, named, prefix).items()}
        a = arg(pos[0]) if pos and not isinstance(pos[0], list) else None
        if op == "conv2d":
            top, left, bottom, right = pads4(named.get("pad", 0))
            y = F.conv2d(F.pad(a, (left, right, top, bottom)), t["weight"], t.get("bias"), pair(named.get("stride", 1)),
                         0, pair(named.get("dilation", 1)), named.get("groups", 1))
            assert y.shape[1] == pos[1]
        elif op == "dense":  # flat [K] or tokens [T, K]: on the last axis
            y = F.linear(a, t["weight"], t.get("bias"))
            assert y.shape[-1] == pos[1]
        elif op == "parameter":  # the same tensor for every sample
            y = t["weight"].reshape(1, *pos[0]).expand(x.shape[0], *pos[0])
        elif op == "matmul":
            y = torch.matmul(arg(pos[0]), arg(pos[1]))
        elif op == "layernorm":
            y = F.layer_norm(a, a.shape[-1:], t.get("weight"), t.get("bias"), named.get("eps", 1e-5))
        elif op in ("maxpool", "avgpool"):
            y = pool(a, op, pos, named)
        elif op == "global_avgpool":
            y = a.mean(dim=(-2, -1), keepdim=bool(named.get("keepdims", False)))
        elif op in ("relu", "sigmoid", "tanh"):
            y = getattr(torch, op)(a)
        elif op == "silu":
            y = a * torch.sigmoid(a)
        elif op == "hardswish":
            y = a * torch.clamp(a + 3, 0, 6) / 6
        elif op == "hardsigmoid":
            y = torch.clamp(named.get("alpha", 1 / 6) * a + named.get("beta", 0.5), 0, 1)
        elif op == "clamp":
            y = torch.clamp(a, named.get("min"), named.get("max"))
        elif op == "elu":
            y = F.elu(a, named.get("alpha", 1.0))
        elif op == "leaky_relu":
            y = F.leaky_relu(a, named.get("slope", 0.01))
        elif op == "gelu":
            form = named.get("approximate", ("ref", "none"))
            y = F.gelu(a, approximate=form[1] if isinstance(form, tuple) else form)
        elif op == "flatten":
            y = a.reshape(a.shape[0], -1)
        elif op == "reshape":
            y = a.reshape(a.shape[0], *pos[1])
        elif op == "transpose":
            y = a.permute(0, *[p + 1 for p in pos[1]])
        elif op == "concat":
            y = torch.cat([arg(v) for v in pos[0]], dim=named.get("axis", 0) + 1)
        elif op == "slice":
            ax = named.get("axis", 0) + 1
            idx = [slice(None)] * a.dim()
            idx[ax] = slice(named.get("start", 0), named.get("end", a.shape[ax]), named.get("step", 1))
            y = a[tuple(idx)]
        elif op in ("add", "sub", "mul", "div"):
            u, v = arg(pos[0]), arg(pos[1])
            y = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}[op](
                torch.as_tensor(u, dtype=torch.float32), torch.as_tensor(v, dtype=torch.float32))
        elif op == "batchnorm":
            y = F.batch_norm(a, t["running_mean"], t["running_var"], t["weight"], t["bias"], False, 0.0,
                             named.get("eps", 1e-5))
        elif op == "softmax":  # over a sample, or along a per-sample axis
            ax = named.get("axis")
            y = (torch.softmax(a.reshape(a.shape[0], -1), dim=1).reshape(a.shape) if ax is None
                 else torch.softmax(a, dim=ax + 1 if ax >= 0 else ax))
        else:
            raise ValueError(f"unknown op {op}")
        env[name] = y
    return env
