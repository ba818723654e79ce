"""Forward and every method family through the Python package, against the committed peer fixtures (PyTorch,
Zennit 0.5.1, Captum 0.8.0; tests/reference/README.md): max |xaic - peer| <= tolerance * max |peer|."""
import numpy as np
import pytest

import xaic
from conftest import fixture, rel_error, repo

FORWARD = [("mnist_cnn", "digits"), ("mnist_cnn_nobias", "digits"), ("mnist_cnn_avgpool", "digits"),
           ("mnist_mlp", "digits_flat"), ("mnist_mlp_nobias", "digits_flat"), ("mnist_mlp_deep", "digits_flat"),
           ("mnist_cnn_stride", "digits"), ("mnist_allconv", "digits")]


@pytest.mark.parametrize("model,inputs", FORWARD)
def test_forward_matches_pytorch(model, inputs, request):
    net = xaic.compile(repo("models", model + ".xai"))
    x = request.getfixturevalue(inputs)
    y = net.forward(x)
    assert y.dtype == np.float32 and y.shape == (10, 10)
    assert rel_error(y, fixture("forward", model + "_logits.npy")) <= 1e-4
    assert np.array_equal(net(x[3]), y[3]), "one sample without the batch axis"


LRP = [("epsilon_plus", "epsilon_plus"), ("epsilon_gamma_box", "epsilon_gamma_box"),
       ("epsilon_alpha2_beta1", "epsilon_alpha2_beta1"), ("zplus", "zplus")]


@pytest.mark.parametrize("name,config", LRP)
def test_lrp_matches_zennit(cnn_methods, digits, labels, name, config):
    r = cnn_methods.explain(name, digits, target=labels)
    assert r.shape == digits.shape and r.dtype == np.float32
    assert rel_error(r, fixture("lrp", f"mnist_cnn__{config}.npy")) <= 1e-4


@pytest.mark.parametrize("layer", ["act2", "flat"])
def test_relevance_at_a_layer_matches_zennit(cnn_methods, digits, labels, layer):
    r = cnn_methods.explain("epsilon_plus", digits, target=labels, at=layer)
    ref = fixture("lrp", f"mnist_cnn__epsilon_plus__at_{layer}.npy")
    assert r.shape == ref.shape
    assert rel_error(r, ref) <= 1e-4


GRADIENTS = [("saliency", "saliency", 1e-4), ("input_x_gradient", "input_x_gradient", 1e-4),
             ("guided_backprop", "guided_backprop", 1e-4), ("deconvolution", "deconvolution", 1e-4),
             ("ig_gausslegendre", "ig_gausslegendre", 1e-4), ("deeplift", "deeplift_consistent", 1e-4)]


@pytest.mark.parametrize("name,reference,tolerance", GRADIENTS)
def test_gradient_family_matches_captum(cnn_methods, digits, labels, name, reference, tolerance):
    r = cnn_methods.explain(name, digits, target=labels)
    assert rel_error(r, fixture("grad", f"mnist_cnn__{reference}.npy")) <= tolerance


def test_baseline_at_run_time_matches_captum(cnn_methods, digits, labels):
    """IG's baseline and DeepLIFT's reference given as arrays (one sample, then one per sample)."""
    half = np.full((1, 28, 28), 0.5, dtype=np.float32)
    # 2e-3: near-ties of max pooling at path points close to the uniform 0.5 image (tests/reference/README.md)
    assert rel_error(cnn_methods.explain("ig_baseline", digits, labels, baseline=half),
                     fixture("grad", "mnist_cnn__ig_baseline_const.npy")) <= 2e-3
    per_sample = np.full((10, 1, 28, 28), 0.5, dtype=np.float32)
    assert rel_error(cnn_methods.explain("deeplift", digits, labels, baseline=per_sample),
                     fixture("grad", "mnist_cnn__deeplift_consistent_baseline_const.npy")) <= 1e-4
    assert rel_error(cnn_methods.explain("deeplift", digits, labels, baseline=0.5),
                     fixture("grad", "mnist_cnn__deeplift_consistent_baseline_const.npy")) <= 1e-4


@pytest.mark.parametrize("name,tolerance", [("smoothgrad", 1e-4), ("vargrad", 2e-3)])
def test_smoothgrad_replays_captums_noise(cnn_methods, digits, labels, name, tolerance):
    noise = fixture("grad", "mnist_cnn__smoothgrad_noise.npy")
    r = cnn_methods.explain(name, digits, labels, noise=noise)
    assert rel_error(r, fixture("grad", f"mnist_cnn__{name}.npy")) <= tolerance


def test_gradcam_matches_captum():
    net = xaic.compile(repo("tests", "python", "xai", "cam.xai"))
    x = np.load(repo("models", "samples", "cluttered.npy"))
    t = fixture("cam", "targets.npy").astype(np.int32)
    assert rel_error(net.forward(x), fixture("cam", "gradcam_logits.npy")) <= 1e-4
    assert rel_error(net.explain("gradcam", x, t), fixture("cam", "gradcam.npy")) <= 1e-4
    assert rel_error(net.explain("gradcam_upsampled", x, t), fixture("cam", "gradcam_upsampled.npy")) <= 1e-4
    assert rel_error(net.explain("gradcam_pp", x, t), fixture("cam", "gradcam_pp.npy")) <= 1e-4


def test_activation_maximization_raises_the_class_score():
    """No peer implements it; the exact comparison is with `xaic run` (test_bitwise.py). Here: the objective of
    `proto` (J = log p(class) - 0.01 / 2 ||x||^2, docs/activation_maximization.md) grows from the blank start, and grows
    further with more steps."""
    net = xaic.compile(repo("models", "mnist_mlp_am.xai"))

    def objective(images):
        logits = net.forward(images).astype(np.float64)
        log_p = logits - logits.max(1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
        return log_p[np.arange(10), np.arange(10)] - 0.005 * (images.astype(np.float64) ** 2).sum(1)

    short = net.explain("proto", steps=20)
    long = net.explain("proto", steps=200)
    assert short.shape == (10, 784)
    start = objective(np.zeros((10, 784), np.float32))
    assert (objective(short) > start).all() and (objective(long) > objective(short)).all()
