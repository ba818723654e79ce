"""The package against the C side it mirrors: the version, the status codes and struct layouts of
runtime/xairt.h (measured by the C compiler), NET_info, and how the compiler is found."""
import ctypes
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import xaic
from conftest import ROOT, repo
from xaic import _errors, _library


def test_version_is_the_compilers():
    done = subprocess.run([xaic.find_compiler(), "--version"], capture_output=True, text=True)
    assert re.match(r"xaic (\S+) ", done.stdout).group(1) == xaic.__version__
    cmake = open(repo("CMakeLists.txt")).read()
    assert re.search(r"project\(xaic VERSION (\S+) ", cmake).group(1) == xaic.__version__


def test_status_codes_are_the_headers():
    header = open(repo("runtime", "xairt.h")).read()
    codes = dict((name, int(value)) for name, value in re.findall(r"\b(XAI_E?[A-Z]+) = (\d+),", header))
    assert codes and codes == {name: getattr(_errors, name) for name in codes}
    assert set(codes) == {n for n in dir(_errors) if re.fullmatch(r"XAI_E?[A-Z]+", n)}


def test_struct_layouts_are_the_c_compilers(tmp_path):
    """offsetof / sizeof printed by a C program built against runtime/xairt.h, compared with the ctypes mirrors."""
    structs = {"xai_tensor_info": _library.TensorInfo, "xai_model_info": _library.ModelInfo,
               "xai_options": _library.Options}
    lines = []
    for c_name, mirror in structs.items():
        lines.append(f'printf("{c_name} size %zu\\n", sizeof({c_name}));')
        for field, _ in mirror._fields_:
            lines.append(f'printf("{c_name} {field} %zu\\n", offsetof({c_name}, {field}));')
    source = tmp_path / "layout.c"
    source.write_text("#include <stddef.h>\n#include <stdio.h>\n#include \"xairt.h\"\nint main(void) {\n" +
                      "\n".join(lines) + "\nreturn 0;\n}\n")
    exe = tmp_path / "layout"
    subprocess.run([os.environ.get("CC", "cc"), "-I", repo("runtime"), str(source), "-o", str(exe)], check=True)
    printed = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split("\n")
    for line in filter(None, printed):
        c_name, field, value = line.split()
        mirror = structs[c_name]
        got = ctypes.sizeof(mirror) if field == "size" else getattr(mirror, field).offset
        assert got == int(value), f"{c_name}.{field}: ctypes {got}, C {value}"
    assert len(printed) - 1 == sum(len(m._fields_) + 1 for m in structs.values())


def test_network_info(lrp_net):
    """NET_info's names and shapes: the layers as models/mnist_cnn.xai writes them, in order."""
    text = open(repo("models", "mnist_cnn.xai")).read()
    assert [layer.name for layer in lrp_net.layers] == re.findall(r"^\s+(\w+)\s*=", text, re.M)
    assert dict(lrp_net.layers)["pool3"] == (128, 4, 4) and dict(lrp_net.layers)["flat"] == (2048,)
    assert lrp_net.input_name == "x" and lrp_net.output_name == "fc2"
    assert lrp_net.explanations == tuple(re.findall(r"^explain (\w+)", open(repo("models", "mnist_cnn_lrp.xai")).read(),
                                                    re.M))
    e = lrp_net.explanation("epsilon_plus_at_act2")
    assert e.method == "lrp" and e.at == "act2" and e.output_shape == (64, 14, 14) and e.classes == 10


def test_finding_the_compiler(monkeypatch, tmp_path):
    compiler = xaic.find_compiler()
    monkeypatch.setenv("XAIC_COMPILER", compiler)
    assert xaic.find_compiler() == compiler
    monkeypatch.delenv("XAIC_COMPILER")
    if os.path.exists(repo("build", "xaic")):
        assert xaic.find_compiler() == repo("build", "xaic"), "the repository's build tree"
    monkeypatch.setenv("XAIC_CACHE_DIR", str(tmp_path / "c"))
    assert xaic.cache_dir() == str(tmp_path / "c")
    monkeypatch.delenv("XAIC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert xaic.cache_dir() == str(tmp_path / "x" / "xaic")


def test_import_from_the_repository_root():
    env = {k: v for k, v in os.environ.items() if k not in ("XAIC_COMPILER", "PYTHONPATH")}
    env["PYTHONPATH"] = "python"
    done = subprocess.run([sys.executable, "-c", "import xaic; print(xaic.__version__)"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == xaic.__version__, done.stderr


def test_threads_of_the_pool(lrp_net):
    lib = lrp_net._lib
    before = lib.get_num_threads()
    try:
        lib.set_num_threads(1)
        assert lib.get_num_threads() == 1
    finally:
        lib.set_num_threads(before)


@pytest.mark.parametrize("network", ["mnist_mlp", "mnist_gen"])
def test_several_networks_in_one_file(network):
    net = xaic.compile(repo("models", "mnist_mlp_am.xai"), network=network)
    assert net.name == network
    assert xaic.compile(repo("models", "mnist_mlp_am.xai")).name == "mnist_mlp", "the one with explanations"


def test_float32_c_contiguous_input_is_not_copied(digits):
    """The pointer the entry receives is the caller's array's own data (and a copy's for other layouts)."""
    net = xaic.compile(repo("models", "mnist_cnn_lrp.xai"))
    seen = []
    entry = net._forward
    net._forward = lambda x, y, batch, ws: seen.append(x) or entry(x, y, batch, ws)
    net.forward(digits)
    net.forward(digits[3])
    net.forward(digits.astype(np.float64))
    assert seen[0] == digits.ctypes.data and seen[1] == digits[3].ctypes.data and seen[2] != digits.ctypes.data
    record, explain_entry, _ = net._explain["epsilon_plus"]
    net._explain["epsilon_plus"] = (record, lambda x, *rest: seen.append(x) or explain_entry(x, *rest), None)
    net.explain("epsilon_plus", digits)
    assert seen[3] == digits.ctypes.data
