"""Shared fixtures of the Python package's tests (run from the repository root: `python3 -m pytest tests/python`,
or through ctest, which sets XAIC_COMPILER and XAIC_CACHE_DIR to the build tree's)."""
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
for p in (os.path.join(ROOT, "python"), HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

import xaic  # noqa: E402


def repo(*parts):
    return os.path.join(ROOT, *parts)


def fixture(*parts):
    return np.load(repo("tests", "fixtures", *parts))


def rel_error(got, ref):
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    assert got.size == ref.size, f"{got.shape} vs {ref.shape}"
    return float(np.abs(got.reshape(ref.shape) - ref).max() / np.abs(ref).max())


def xaic_run(*args, check=True):
    """Runs the compiler (`xaic run ...` and the like) and returns (status, stderr)."""
    done = subprocess.run([xaic.find_compiler()] + [str(a) for a in args], capture_output=True, text=True)
    if check:
        assert done.returncode == 0, f"xaic {' '.join(map(str, args))}: {done.stderr}"
    return done.returncode, done.stderr


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory):
    """Compiled objects go to XAIC_CACHE_DIR when set (ctest: the build tree's, kept between runs; it is keyed by
    content, so it is never stale), else to a fresh directory for this session."""
    if not os.environ.get("XAIC_CACHE_DIR"):
        os.environ["XAIC_CACHE_DIR"] = str(tmp_path_factory.mktemp("xaic-cache"))
    yield


@pytest.fixture(scope="session")
def digits():
    return np.load(repo("models", "samples", "digits.npy"))


@pytest.fixture(scope="session")
def digits_flat():
    return np.load(repo("models", "samples", "digits_flat.npy"))


@pytest.fixture(scope="session")
def labels():
    return np.load(repo("tests", "fixtures", "lrp", "targets.npy")).astype(np.int32)


@pytest.fixture(scope="session")
def lrp_net():
    return xaic.compile(repo("models", "mnist_cnn_lrp.xai"))


@pytest.fixture(scope="session")
def cnn_methods():
    """The bundled CNN with one explanation per method family, set up as the peer fixtures were made."""
    return xaic.compile(os.path.join(HERE, "xai", "cnn_methods.xai"))
