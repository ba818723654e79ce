"""Heatmaps as RGB arrays: libxairt's xai_heatmap_write_png (docs/heatmaps.md) transcribed in NumPy, so a
heatmap needs no compiled object; the same arithmetic (channel sums and ranges in double, colours in float32,
bytes rounded half up), so it matches the PNG `xaic run -o R.png` writes byte for byte (tests/python)."""

import struct
import zlib

import numpy as np

from ._errors import InputError, InputTypeError, NonFiniteInputError, XAI_ENAN

_DEFAULT_COLUMNS = 10
_DEFAULT_MIN_HEIGHT = 112


class Heatmap(np.ndarray):
    """An RGB image, uint8 [height, width, 3], that Jupyter shows inline; ``save(path)`` writes it as PNG."""

    def _repr_png_(self):
        return encode_png(np.asarray(self))

    def save(self, path):
        """Writes the image as an 8-bit PNG (through a temporary file renamed into place)."""
        write_png(path, np.asarray(self))


def _as_images(a, what):
    """[batch, channels, height, width] float32 view of a relevance (or input) array."""
    a = np.asarray(a)
    if a.dtype.kind not in "fiu":
        raise InputTypeError(f"{what} has dtype {a.dtype}; give real numbers")
    a = a.astype(np.float32, copy=False)
    if a.ndim == 1:  # a flat sample (an MLP's input): a square image
        side = int(round(a.size ** 0.5))
        if side * side != a.size or a.size == 0:
            raise InputError(f"{what} holds {a.size} values, not a square image; reshape it to [C, H, W]")
        return a.reshape(1, 1, side, side)
    if a.ndim == 2:
        return a.reshape((1, 1) + a.shape)
    if a.ndim == 3:
        return a[None]
    if a.ndim == 4:
        return a
    raise InputError(f"{what} has shape {list(a.shape)}; give [H, W], [C, H, W] or [batch, C, H, W]")


def _check_finite(a, what):
    bad = ~np.isfinite(a)
    if bad.any():
        i = np.unravel_index(int(np.flatnonzero(bad)[0]), a.shape)
        raise NonFiniteInputError(XAI_ENAN, "input holds NaN or infinity",
                                  f"{what}[{', '.join(map(str, i))}] is {a[i]}")


def colormap_bwr(t):
    """matplotlib's bwr evaluated continuously (xai_colormap_bwr): float32 [..., 3] for t in [-1, 1]."""
    t = np.clip(np.asarray(t, dtype=np.float32), np.float32(-1), np.float32(1))
    one = np.float32(1)
    neg = t < 0
    rgb = np.empty(t.shape + (3,), dtype=np.float32)
    rgb[..., 0] = np.where(neg, one + t, one)
    rgb[..., 1] = np.where(neg, one + t, one - t)
    rgb[..., 2] = np.where(neg, one, one - t)
    return rgb


COLORMAPS = ("bwr", "hot", "hot_r", "viridis", "gray")
_HOT = (((0.0, 0.0416), (0.365079, 1.0), (1.0, 1.0)),  # matplotlib's _hot_data, red, green, blue
        ((0.0, 0.0), (0.365079, 0.0), (0.746032, 1.0), (1.0, 1.0)),
        ((0.0, 0.0), (0.746032, 0.0), (1.0, 1.0)))
_tables = {}


def _hot(x):
    """Each channel linear between its breakpoints, in the runtime's order of operations (colormap.c)."""
    def channel(points):
        for (x0, v0), (x1, v1) in zip(points, points[1:]):
            if x <= x1:
                return v0 + (x - x0) / (x1 - x0) * (v1 - v0)
        return points[-1][1]
    return [channel(points) for points in _HOT]


def colormap_table(name):
    """The 256 colours (float32 [256, 3]) of a sequential map as matplotlib and xai_colormap draw it."""
    if name not in _tables:
        if name == "viridis":
            from ._viridis import VIRIDIS
            rows = VIRIDIS
        elif name in ("hot", "hot_r"):
            rows = [_hot(1.0 - i / 255.0 if name == "hot_r" else i / 255.0) for i in range(256)]
        elif name == "gray":
            rows = [[i / 255.0] * 3 for i in range(256)]
        else:
            raise InputError(f"colormap must be one of {', '.join(COLORMAPS)}, not {name!r}")
        _tables[name] = np.array(rows, dtype=np.float64).astype(np.float32)
    return _tables[name]


def _sequential(name, s, shared_range):
    """Colours of channel sums s [b, h, w] (double) over the seed's pixel_range: [min, max] of each image (of the
    batch with shared_range) when it has one sign, else +-max|s|; entry min(255, floor(256 u)) of the table."""
    lo, hi = s.min(axis=(1, 2)), s.max(axis=(1, 2))
    m = np.maximum(np.abs(lo), np.abs(hi))
    if shared_range:
        lo[:], hi[:], m[:] = lo.min(), hi.max(), m.max()
    both = lo * hi < 0
    lo, hi = np.where(both, -m, lo)[:, None, None], np.where(both, m, hi)[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(hi > lo, (s - lo) / (hi - lo), 0.0).astype(np.float32)
    i = np.where(u <= 0, 0, np.where(u >= 1, 255, np.floor(256.0 * u.astype(np.float64)))).astype(np.int64)
    return colormap_table(name)[np.minimum(i, 255)]


def _to_bytes(v):
    """xai_png_write's rounding: 0 for v <= 0 (and NaN), 255 for v >= 1, else (int)(255 v + 0.5) in float32."""
    out = np.zeros(v.shape, dtype=np.uint8)
    mid = (v > 0) & (v < 1)
    out[mid] = (v[mid] * np.float32(255) + np.float32(0.5)).astype(np.uint8)
    out[v >= 1] = 255
    return out


def heatmap(relevance, x=None, *, overlay=False, alpha=0.6, columns=None, scale=None, shared_range=False, gap=2,
            colormap="bwr"):
    """Relevance as an RGB heatmap (uint8 [height, width, 3]): blue negative, white zero, red positive, over the
    symmetric range +-max|R| of each image (or of the batch with shared_range); a batch is a grid of `columns`
    (default min(batch, 10)) images magnified `scale` times (default: at least 112 pixels high) with `gap` white
    pixels between them. overlay=True blends the map over the input x (shown in grayscale) with opacity
    alpha * |t|. relevance: [H, W], [C, H, W] or [batch, C, H, W] (channels are summed), or a flat square sample.
    colormap: "bwr" (the above) or a sequential map, "hot", "hot_r", "viridis" or "gray", over the seed's pixel_range
    (an overlay then blends at opacity alpha), as `xaic run --colormap` draws (docs/heatmaps.md)."""
    if colormap not in COLORMAPS:
        raise InputError(f"colormap must be one of {', '.join(COLORMAPS)}, not {colormap!r}")
    r = _as_images(relevance, "relevance")
    b, c, h, w = r.shape
    if min(r.shape) < 1:
        raise InputError(f"relevance has shape {list(r.shape)}: nothing to draw")
    _check_finite(r, "relevance")
    if not (isinstance(alpha, (int, float)) and 0 < alpha <= 1):
        raise InputError(f"alpha must be in (0, 1], not {alpha!r}")
    cols = min(b, _DEFAULT_COLUMNS if columns is None else int(columns))
    scale = (_DEFAULT_MIN_HEIGHT + h - 1) // h if scale is None else int(scale)
    if cols < 1 or scale < 1 or gap < 0:
        raise InputError(f"columns and scale must be >= 1 and gap >= 0 (columns={columns}, scale={scale}, gap={gap})")
    s = np.zeros((b, h, w), dtype=np.float64)
    for ch in range(c):  # channel by channel, in double, as the runtime sums
        s += r[:, ch]
    m = np.abs(s).max(axis=(1, 2))
    if shared_range:
        m[:] = m.max()
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(m[:, None, None] > 0, s / m[:, None, None], 0.0).astype(np.float32)
    rgb = colormap_bwr(t) if colormap == "bwr" else _sequential(colormap, s, shared_range)
    if overlay:
        if x is None:
            raise InputError("overlay=True needs the input x")
        xi = np.asarray(x)
        if xi.size != r.size:
            raise InputError(f"x has shape {list(xi.shape)}; an overlay needs the relevance's shape {list(r.shape)}")
        xi = _as_images(xi.reshape(r.shape), "x")
        _check_finite(xi, "x")
        acc = np.zeros((b, h, w), dtype=np.float64)
        for ch in range(c):
            acc += xi[:, ch]
        g = (acc / c).astype(np.float32)
        lo = g.min(axis=(1, 2)).astype(np.float64)[:, None, None]
        span = g.max(axis=(1, 2)).astype(np.float64)[:, None, None] - lo
        with np.errstate(invalid="ignore", divide="ignore"):
            g = np.where(span > 0, (g - lo) / span, 0.0).astype(np.float32)
        a = np.float32(alpha) * (np.abs(t) if colormap == "bwr" else np.ones_like(t))
        rgb = (np.float32(1) - a)[..., None] * g[..., None] + a[..., None] * rgb
    pixels = _to_bytes(rgb)  # [b, h, w, 3]
    rows = (b + cols - 1) // cols
    cell_h, cell_w = h * scale, w * scale
    canvas = np.full((rows * cell_h + (rows - 1) * gap, cols * cell_w + (cols - 1) * gap, 3), 255, dtype=np.uint8)
    for i in range(b):
        y0, x0 = i // cols * (cell_h + gap), i % cols * (cell_w + gap)
        canvas[y0:y0 + cell_h, x0:x0 + cell_w] = pixels[i].repeat(scale, axis=0).repeat(scale, axis=1)
    return canvas.view(Heatmap)


def encode_png(image):
    """An 8-bit PNG of uint8 [H, W, 3] (RGB) or [H, W] (gray), with the standard library's zlib."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise InputError(f"an image is [H, W, 3] or [H, W], not {list(image.shape)}")
    h, w = image.shape[:2]
    rows = np.hstack([np.zeros((h, 1), dtype=np.uint8), image.reshape(h, -1)])  # filter type 0 per row

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", w, h, 8, 2 if image.ndim == 3 else 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) +
            chunk(b"IEND", b""))


def write_png(path, image):
    """Writes encode_png(image) to path whole or not at all (a temporary file renamed into place)."""
    import os
    import tempfile
    data = encode_png(image)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
