"""xaic.heatmap: the same pixels as the PNG `xaic run -o R.png` writes with libxairt (decoded here by a small
PNG reader of the test's own), the colour map's defining values, and the PNG it encodes for Jupyter."""
import struct
import zlib

import numpy as np
import pytest

import xaic
from conftest import repo, xaic_run


def read_png(data):
    """8-bit gray or RGB, non-interlaced PNG -> uint8 [H, W, C] (the five filter types undone)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        assert struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(tag + body)
        if tag == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, color, _, _, interlace = header
    assert depth == 8 and color in (0, 2) and interlace == 0
    c = 3 if color == 2 else 1
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * c)
    out = np.zeros((h, w * c), np.int32)
    for y in range(h):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        up = out[y - 1] if y else np.zeros(w * c, np.int32)
        if f in (0, 2):  # None, Up: no dependence along the row
            out[y] = (line + (up if f == 2 else 0)) & 255
            continue
        if f == 1:  # Sub: a running sum per channel
            out[y] = np.cumsum(line.reshape(w, c), axis=0).reshape(-1) & 255
            continue
        row = np.zeros(w * c, np.int32)
        for i in range(w * c):
            a = row[i - c] if i >= c else 0
            b, d = up[i], (up[i - c] if i >= c else 0)
            if f == 0:
                p = 0
            elif f == 1:
                p = a
            elif f == 2:
                p = b
            elif f == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - d), abs(a - d), abs(a + b - 2 * d)
                p = a if pa <= pb and pa <= pc else b if pb <= pc else d
            row[i] = (line[i] + p) & 255
        out[y] = row
    return out.astype(np.uint8).reshape(h, w, c)


@pytest.mark.parametrize("colormap", ["hot", "hot_r", "viridis", "gray"])
@pytest.mark.parametrize("overlay", [False, True])
def test_sequential_maps_same_pixels_as_xaic_run(lrp_net, digits, tmp_path, overlay, colormap):
    x = digits[:3]
    np.save(tmp_path / "x.npy", x)
    xaic_run("run", repo("models", "mnist_cnn_lrp.xai"), "--explain", "epsilon_plus", "--input", tmp_path / "x.npy",
             "-o", tmp_path / "r.png", "--colormap", colormap, *(["--overlay"] if overlay else []))
    image = xaic.heatmap(lrp_net.explain("epsilon_plus", x), x=x, overlay=overlay, colormap=colormap)
    assert np.array_equal(np.asarray(image), read_png((tmp_path / "r.png").read_bytes()))


def test_sequential_tables_are_matplotlibs():
    """tests/fixtures/heatmap/colormaps.npy: matplotlib's colours at u = k / 100 (tests/reference/make_colormaps.py)."""
    ref = np.load(repo("tests", "fixtures", "heatmap", "colormaps.npy"))
    for m, name in enumerate(["hot", "hot_r", "viridis", "gray"]):
        table = xaic._heatmap.colormap_table(name)
        i = np.minimum(255, np.floor(256 * np.linspace(0, 1, 101))).astype(int)
        assert np.abs(table[i] - ref[m]).max() <= 1e-6, name
    with pytest.raises(xaic.InputError, match="colormap must be one of bwr, hot, hot_r, viridis, gray, not 'jet'"):
        xaic.heatmap(np.ones((4, 4)), colormap="jet")


@pytest.mark.parametrize("overlay", [False, True])
def test_same_pixels_as_xaic_run(lrp_net, digits, tmp_path, overlay):
    x = digits[:4]
    np.save(tmp_path / "x.npy", x)
    xaic_run("run", repo("models", "mnist_cnn_lrp.xai"), "--explain", "epsilon_plus", "--input", tmp_path / "x.npy",
             "-o", tmp_path / "r.png", *(["--overlay"] if overlay else []))
    image = xaic.heatmap(lrp_net.explain("epsilon_plus", x), x=x, overlay=overlay)
    assert isinstance(image, xaic.Heatmap) and image.dtype == np.uint8 and image.shape == (112, 4 * 112 + 3 * 2, 3)
    assert np.array_equal(np.asarray(image), read_png((tmp_path / "r.png").read_bytes()))


def test_colour_map_values():
    """docs/heatmaps.md: -1 blue, -0.5 (0.5, 0.5, 1), 0 white, 0.5 (1, 0.5, 0.5), 1 red; clamped outside."""
    rgb = xaic.colormap_bwr([-2, -1, -0.5, 0, 0.5, 1, 3])
    assert rgb.tolist() == [[0, 0, 1], [0, 0, 1], [0.5, 0.5, 1], [1, 1, 1], [1, 0.5, 0.5], [1, 0, 0], [1, 0, 0]]


def test_layout_and_ranges():
    r = np.zeros((3, 1, 2, 2), np.float32)
    r[0, 0, 0, 0], r[1, 0, 1, 1], r[2, 0, 0, 1] = 2, -4, 1
    image = np.asarray(xaic.heatmap(r, columns=2, scale=3, gap=1))
    assert image.shape == (2 * 6 + 1, 2 * 6 + 1, 3)
    assert (image[:3, :3] == [255, 0, 0]).all(), "each image's own range: its maximum is full red"
    assert (image[3:6, 10:13] == [0, 0, 255]).all(), "image 1 (top right): -4 is full blue"
    assert (image[6, :] == 255).all() and (image[7:, 7:] == 255).all(), "gaps and the empty cell are white"
    shared = np.asarray(xaic.heatmap(r, columns=2, scale=3, gap=1, shared_range=True))
    assert (shared[:3, :3] == [255, 128, 128]).all(), "2 of a shared range 4: half red, 127.5 rounded up"
    single = np.asarray(xaic.heatmap(np.ones((5, 5))))
    assert single.shape == (115, 115, 3) and (single == [255, 0, 0]).all()
    white = np.asarray(xaic.heatmap(np.zeros(784)))
    assert white.shape == (112, 112, 3) and (white == 255).all(), "a flat square sample; all zero is white"


def test_png_for_jupyter(tmp_path):
    image = xaic.heatmap(np.linspace(-1, 1, 64).reshape(8, 8))
    assert np.array_equal(read_png(image._repr_png_()), np.asarray(image))
    image.save(tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes() == image._repr_png_()


def test_bad_heatmap_arguments(digits):
    r = np.zeros((2, 1, 28, 28), np.float32)
    r[1, 0, 5, 6] = np.nan
    with pytest.raises(xaic.NonFiniteInputError, match=r"relevance\[1, 0, 5, 6\] is nan"):
        xaic.heatmap(r)
    with pytest.raises(xaic.InputError, match="overlay=True needs the input x"):
        xaic.heatmap(digits, overlay=True)
    with pytest.raises(xaic.InputError, match="an overlay needs the relevance's shape"):
        xaic.heatmap(digits, x=digits[:3], overlay=True)
    with pytest.raises(xaic.InputError, match="not a square image"):
        xaic.heatmap(np.zeros(10))
    with pytest.raises(xaic.InputError, match="alpha must be in"):
        xaic.heatmap(digits, x=digits, overlay=True, alpha=1.5)
    with pytest.raises(xaic.InputTypeError):
        xaic.heatmap(np.array(["a", "b"]))
