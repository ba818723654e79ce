"""The Python package's results are bitwise those of `xaic run` (the same code, compiled in process by the JIT):
forward, explanations with and without targets, run-time options (baselines, noise, seeds, steps), relevance per
layer (--stats) and activation maximisation."""
import numpy as np
import pytest

import xaic
from conftest import repo, xaic_run

MLP_OPTIONS = repo("tests", "python", "xai", "mlp_options.xai")


def run_npy(tmp_path, *args):
    out = tmp_path / "out.npy"
    _, stderr = xaic_run("run", *args, "-o", out)
    return np.load(out), stderr


def saved(tmp_path, name, array):
    path = tmp_path / name
    np.save(path, array)
    return path


def test_forward(lrp_net, digits, tmp_path):
    ref, _ = run_npy(tmp_path, repo("models", "mnist_cnn_lrp.xai"), "--forward", "--input",
                     repo("models", "samples", "digits.npy"))
    assert np.array_equal(lrp_net.forward(digits), ref)


@pytest.mark.parametrize("target", [None, 3])
def test_lrp(lrp_net, digits, tmp_path, target):
    args = [] if target is None else ["--target", target]
    ref, _ = run_npy(tmp_path, repo("models", "mnist_cnn_lrp.xai"), "--explain", "epsilon_plus", "--input",
                     repo("models", "samples", "digits.npy"), *args)
    assert np.array_equal(lrp_net.explain("epsilon_plus", digits, target=target), ref)


def test_stats_as_printed(lrp_net, digits, tmp_path):
    """stats=True: every layer's relevance sum per sample, as `xaic run --stats` prints them (%12.6g)."""
    ref, stderr = run_npy(tmp_path, repo("models", "mnist_cnn_lrp.xai"), "--explain", "epsilon_plus", "--input",
                          repo("models", "samples", "digits.npy"), "--stats")
    r, stats = lrp_net.explain("epsilon_plus", digits, stats=True)
    assert np.array_equal(r, ref)
    printed = [line.split() for line in stderr.splitlines()[1:] if line.strip()]
    assert [p[0] for p in printed] == list(stats), "the same layers, output to input"
    for p in printed:
        values = p[-9:-1]  # 8 samples, then "..."
        assert values == ["%.6g" % v for v in stats[p[0]][:8]], p[0]
    assert stats["x"].shape == (10,)
    assert np.array_equal(stats["x"], np.cumsum(r.reshape(10, -1), axis=1, dtype=np.float64)[:, -1])


def test_relevance_at_equals_the_at_explanation(lrp_net, digits):
    """at="act2" reads the workspace of a --keep-values build; the file's own `at act2` explanation computes it."""
    assert np.array_equal(lrp_net.explain("epsilon_plus", digits, at="act2"),
                          lrp_net.explain("epsilon_plus_at_act2", digits))
    both = lrp_net.explain("epsilon_plus", digits[0], at=["act2", "fc1"])
    assert both["act2"].shape == (64, 14, 14) and both["fc1"].shape == (625,)


@pytest.fixture(scope="module")
def mlp():
    return xaic.compile(MLP_OPTIONS)


@pytest.fixture(scope="module")
def three(digits_flat, tmp_path_factory):
    path = tmp_path_factory.mktemp("in") / "three.npy"
    np.save(path, digits_flat[:3])
    return digits_flat[:3], path


def test_options_lrp_and_defaults(mlp, three, tmp_path):
    x, path = three
    ref, _ = run_npy(tmp_path, MLP_OPTIONS, "--explain", "lrp", "--input", path)
    assert np.array_equal(mlp.explain("lrp", x), ref)
    for name in ("ig", "smoothgrad", "deeplift"):  # through NET_E_ex with nothing set
        ref, _ = run_npy(tmp_path, MLP_OPTIONS, "--explain", name, "--input", path)
        assert np.array_equal(mlp.explain(name, x), ref), name


@pytest.mark.parametrize("name", ["ig", "deeplift"])
@pytest.mark.parametrize("per_sample", [False, True])
def test_baselines(mlp, three, tmp_path, name, per_sample):
    x, path = three
    rng = np.random.default_rng(5)
    baseline = rng.uniform(0, 0.3, size=(3, 784) if per_sample else (784,)).astype(np.float32)
    ref, _ = run_npy(tmp_path, MLP_OPTIONS, "--explain", name, "--input", path, "--baseline",
                     saved(tmp_path, "b.npy", baseline))
    got = mlp.explain(name, x, baseline=baseline)
    assert np.array_equal(got, ref)
    assert not np.array_equal(got, mlp.explain(name, x)), "the baseline changed nothing"


def test_smoothgrad_seed_and_noise(mlp, three, tmp_path):
    x, path = three
    ref, _ = run_npy(tmp_path, MLP_OPTIONS, "--explain", "smoothgrad", "--input", path, "--seed", "7")
    got = mlp.explain("smoothgrad", x, seed=7)
    assert np.array_equal(got, ref)
    assert not np.array_equal(got, mlp.explain("smoothgrad", x)), "the seed changed nothing"
    noise = np.random.default_rng(1).normal(0, 0.15, size=(3, 12, 784)).astype(np.float32)
    ref, _ = run_npy(tmp_path, MLP_OPTIONS, "--explain", "smoothgrad", "--input", path, "--noise",
                     saved(tmp_path, "n.npy", noise), "--target", 4)
    assert np.array_equal(mlp.explain("smoothgrad", x, target=4, noise=noise), ref)


def test_gradcam(tmp_path):
    net = xaic.compile(repo("tests", "python", "xai", "cam.xai"))
    ref, _ = run_npy(tmp_path, repo("tests", "python", "xai", "cam.xai"), "--explain", "gradcam_upsampled",
                     "--input", repo("models", "samples", "cluttered.npy"))
    assert np.array_equal(net.explain("gradcam_upsampled", np.load(repo("models", "samples", "cluttered.npy"))), ref)


def test_activation_maximization(tmp_path):
    """One prototype per class from a blank start, and from generator codes drawn with a seed."""
    am = repo("models", "mnist_mlp_am.xai")
    net = xaic.compile(am)
    xaic_run("run", am, "--explain", "proto", "--steps", 40, "-o", tmp_path / "p.npy")
    assert np.array_equal(net.explain("proto", steps=40), np.load(tmp_path / "p.npy"))
    xaic_run("run", am, "--explain", "proto_z", "--steps", 40, "--seed", 5, "--target", 2, "-o", tmp_path / "z.npy")
    images, codes = net.explain("proto_z", steps=40, seed=5, target=2, return_codes=True)
    assert images.shape == (1, 784) and codes.shape == (1, 100)
    assert np.array_equal(images, np.load(tmp_path / "z.npy"))
    generator = xaic.compile(am, network="mnist_gen")
    assert np.array_equal(generator.forward(codes), images), "the codes returned are those of the images"


def test_activation_maximization_progress_and_start(digits_flat):
    net = xaic.compile(repo("models", "mnist_mlp_am.xai"))
    calls = []
    out = net.explain("proto", digits_flat[:2], target=[7, 1], steps=30, progress=lambda d, t: calls.append((d, t)))
    assert out.shape == (2, 784)
    assert calls and calls[-1] == (30, 30) and all(t == 30 for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)

