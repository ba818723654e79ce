"""from_torch and from_onnx on a small PyTorch CNN, against Zennit and Captum (fixtures committed by
tests/reference/make_python_fixtures.py; Zennit and Captum themselves are not needed here, PyTorch is)."""
import os
import subprocess
import sys

import pytest

import xaic
from conftest import HERE, ROOT, fixture, rel_error

torch = pytest.importorskip("torch")  # Debian's python3-torch; scripts/install-deps.sh installs it for CI
import small_net  # noqa: E402

EXPLAIN = {
    "lrp": "seed one; rules epsilon_plus;",
    "lrp_box": "seed one; rules epsilon_gamma_box(low=0, high=1);",
    "saliency": "method gradient;",
    "ig": "method integrated_gradients(steps=32);",
    "smoothgrad": "method smoothgrad(samples=8, noise=0.15);",
    "gradcam": "method gradcam(layer=relu2, upsample=none);",
}


@pytest.fixture(scope="module")
def model():
    return small_net.load(os.path.join(ROOT, "tests", "fixtures", "python", "small_net.npz"))


@pytest.fixture(scope="module")
def net(model):
    return xaic.from_torch(model, torch.zeros(1, 1, 28, 28), explain=EXPLAIN, input_range=(0, 1))


@pytest.fixture(scope="module")
def data():
    return fixture("python", "input.npy"), fixture("python", "targets.npy")


def test_the_imported_network(net, model, data):
    x, _ = data
    assert net.name == "SmallNet" and net.input_shape == (1, 28, 28) and net.output_shape == (10,)
    assert net.input_range == (0.0, 1.0)
    assert [layer.name for layer in net.layers if layer.name.startswith(("conv", "fc", "relu"))] == [
        "conv1", "relu1", "conv2", "relu2", "fc1", "relu3", "fc2"]
    assert set(net.explanations) == set(EXPLAIN)
    assert rel_error(net.forward(x), fixture("python", "logits.npy")) <= 1e-5
    with torch.no_grad():
        assert rel_error(net.forward(x), model(torch.from_numpy(x)).numpy()) <= 1e-5
    assert not model.training, "the module's mode is restored"


@pytest.mark.parametrize("name,reference", [("lrp", "zennit_epsilon_plus"), ("lrp_box", "zennit_epsilon_gamma_box"),
                                            ("saliency", "captum_saliency"), ("ig", "captum_ig"),
                                            ("gradcam", "captum_gradcam")])
def test_explanations_match_the_peers(net, data, name, reference):
    x, t = data
    assert rel_error(net.explain(name, x, target=t), fixture("python", reference + ".npy")) <= 1e-4


def test_smoothgrad_replays_captums_noise(net, data):
    x, t = data
    r = net.explain("smoothgrad", x, target=t, noise=fixture("python", "captum_smoothgrad_noise.npy"))
    assert rel_error(r, fixture("python", "captum_smoothgrad.npy")) <= 1e-4


def test_training_mode_is_restored(model):
    model.train()
    try:
        xaic.from_torch(model, torch.zeros(2, 1, 28, 28), explain={"lrp": "rules epsilon_plus;"})
        assert model.training
    finally:
        model.eval()


def test_from_onnx_file(model, data, tmp_path):
    path = tmp_path / "small.onnx"
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), str(path), opset_version=13, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    net = xaic.from_onnx(path, {"lrp": "seed one; rules epsilon_plus;"}, name="small")
    x, t = data
    assert net.name == "small"
    assert rel_error(net.explain("lrp", x, t), fixture("python", "zennit_epsilon_plus.npy")) <= 1e-4
    again = xaic.from_onnx(path, {"lrp": "seed one; rules epsilon_plus;"}, name="small")
    assert again.cache_hit, "imported and compiled once"


def test_errors_in_an_explain_body_name_the_line(model):
    with pytest.raises(xaic.CompileError) as e:
        xaic.from_torch(model, torch.zeros(1, 1, 28, 28), explain={"ok": "rules epsilon_plus;",
                                                                    "bad": "rules no_such_preset;"})
    assert "no_such_preset" in e.value.diagnostics and ".xai:6:11: error" in e.value.diagnostics
    assert "'ok' lines 2-4, 'bad' lines 5-7" in str(e.value)


def test_import_xaic_does_not_import_torch():
    code = "import sys, xaic; print('torch' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=HERE)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr
