"""The cache of compiled objects: the same files compile once; a changed .xai, import or weights file compiles
again (and gives the new results); the old content finds its old object."""
import json
import os
import shutil
import struct

import numpy as np
import pytest

import xaic
from conftest import repo

EXPLAIN = 'import "mnist_mlp.xai";\nexplain lrp for mnist_mlp { rules epsilon_plus; }\n'


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.setenv("XAIC_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "src"
    src.mkdir()
    for name in ("mnist_mlp.xai", "mnist_mlp.safetensors"):
        shutil.copy(repo("models", name), src / name)
    (src / "explain.xai").write_text(EXPLAIN)
    return src


def scale_tensors(path, names, factor):
    """Multiplies tensors of a safetensors file in place (F32 data, little-endian)."""
    with open(path, "r+b") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        for name in names:
            begin, end = header[name]["data_offsets"]
            f.seek(8 + n + begin)
            data = np.frombuffer(f.read(end - begin), dtype="<f4") * np.float32(factor)
            f.seek(8 + n + begin)
            f.write(data.astype("<f4").tobytes())


def test_compiles_once_and_again_when_files_change(workdir, digits_flat):
    first = xaic.compile(workdir / "explain.xai")
    assert not first.cache_hit and os.path.dirname(first.path) == os.path.join(xaic.cache_dir(), "objects")
    logits = first.forward(digits_flat)
    again = xaic.compile(workdir / "explain.xai")
    assert again.cache_hit and again.path == first.path

    # the .xai itself: a new explanation
    (workdir / "explain.xai").write_text(EXPLAIN + "explain grad for mnist_mlp { method gradient; }\n")
    edited = xaic.compile(workdir / "explain.xai")
    assert not edited.cache_hit and edited.path != first.path
    assert edited.explanations == ("lrp", "grad")

    # the weights: the last layer times 2 doubles the logits exactly (products by 2 are exact in float32)
    scale_tensors(workdir / "mnist_mlp.safetensors", ["fc3.weight", "fc3.bias"], 2)
    scaled = xaic.compile(workdir / "explain.xai")
    assert not scaled.cache_hit and scaled.path != edited.path
    assert np.array_equal(scaled.forward(digits_flat), 2 * logits)

    # an imported file: the network's output moves to fc2
    (workdir / "mnist_mlp.xai").write_text(open(repo("models", "mnist_mlp.xai")).read()
                                           .replace("output fc3;", "output fc2;"))
    imported = xaic.compile(workdir / "explain.xai")
    assert not imported.cache_hit and imported.output_shape == (100,)

    # back to the original files: the first object again, from the cache
    shutil.copy(repo("models", "mnist_mlp.xai"), workdir / "mnist_mlp.xai")
    shutil.copy(repo("models", "mnist_mlp.safetensors"), workdir / "mnist_mlp.safetensors")
    (workdir / "explain.xai").write_text(EXPLAIN)
    back = xaic.compile(workdir / "explain.xai")
    assert back.cache_hit and back.path == first.path
    assert np.array_equal(back.forward(digits_flat), logits)


def test_options_are_part_of_the_key(workdir):
    a = xaic.compile(workdir / "explain.xai")
    b = xaic.compile(workdir / "explain.xai", threads=False)
    c = xaic.compile(workdir / "explain.xai", opt_level=1)
    assert len({a.path, b.path, c.path}) == 3 and not b.cache_hit and not c.cache_hit


def test_a_damaged_index_compiles_again(workdir):
    xaic.compile(workdir / "explain.xai")
    for entry in os.listdir(os.path.join(xaic.cache_dir(), "index")):
        with open(os.path.join(xaic.cache_dir(), "index", entry), "w") as f:
            f.write("{not json")
    net = xaic.compile(workdir / "explain.xai")
    assert not net.cache_hit and net.explanations == ("lrp",)
    assert xaic.compile(workdir / "explain.xai").cache_hit
