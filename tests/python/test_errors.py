"""Every kind of bad input raises an xaic.Error subclass with a message saying what is wrong, before any call
when Python can tell, else from the entry's status (with libxairt's xai_status_string text); nothing prints."""
import os
import re

import numpy as np
import pytest

import xaic
from conftest import repo

MLP_OPTIONS = repo("tests", "python", "xai", "mlp_options.xai")


@pytest.fixture(scope="module")
def mlp():
    return xaic.compile(MLP_OPTIONS)


@pytest.mark.parametrize("bad,message", [
    (np.zeros((10, 28, 28), np.float32), r"x has shape \[10, 28, 28\]; network 'mnist_cnn' takes \[1, 28, 28\]"),
    (np.zeros((2, 1, 28, 27), np.float32), r"takes \[1, 28, 28\] per sample"),
    (np.zeros((0, 1, 28, 28), np.float32), r"x holds no sample"),
    (np.zeros(784, np.float32), r"x has shape \[784\]"),
])
def test_wrong_shapes(lrp_net, bad, message):
    with pytest.raises(xaic.InputError, match=message):
        lrp_net.forward(bad)
    with pytest.raises(xaic.InputError, match=message):
        lrp_net.explain("epsilon_plus", bad)


@pytest.mark.parametrize("bad", [np.zeros((1, 1, 28, 28), np.complex64), np.array([["a"] * 28] * 28)[None],
                                 np.zeros((1, 1, 28, 28), object), None])
def test_wrong_types(lrp_net, bad):
    with pytest.raises(xaic.InputTypeError):
        lrp_net.forward(bad)
    with pytest.raises(TypeError):  # also a TypeError
        lrp_net.explain("epsilon_plus", bad)


def test_other_dtypes_and_layouts_are_copied(lrp_net, digits):
    """float64, integers and non-contiguous arrays are converted with a copy; the result is that of the float32
    C-contiguous array."""
    ref = lrp_net.explain("epsilon_plus", digits)
    assert np.array_equal(lrp_net.explain("epsilon_plus", digits.astype(np.float64)), ref)
    fortran = np.asfortranarray(digits)
    assert not fortran.flags.c_contiguous
    assert np.array_equal(lrp_net.explain("epsilon_plus", fortran), ref)
    strided = np.repeat(digits, 2, axis=0)[::2]
    assert not strided.flags.c_contiguous
    assert np.array_equal(lrp_net.explain("epsilon_plus", strided), ref)
    big_endian = digits.astype(">f4")
    assert np.array_equal(lrp_net.explain("epsilon_plus", big_endian), ref)
    ints = (digits > 0.5).astype(np.uint8)
    assert np.array_equal(lrp_net.forward(ints), lrp_net.forward(ints.astype(np.float32)))
    assert np.array_equal(lrp_net.forward(digits.tolist()), lrp_net.forward(digits))


def test_non_finite_input_is_the_entrys_status(lrp_net, digits):
    x = digits.copy()
    x[4, 0, 3, 5] = np.nan
    with pytest.raises(xaic.NonFiniteInputError) as e:
        lrp_net.explain("epsilon_plus", x)
    assert e.value.status == 5 and e.value.status_name == "XAI_ENAN"
    assert str(e.value).endswith("input holds NaN or infinity")  # xai_status_string's text
    assert isinstance(e.value, xaic.InputError) and isinstance(e.value, xaic.StatusError)
    x[4, 0, 3, 5] = np.inf
    with pytest.raises(xaic.NonFiniteInputError):
        lrp_net.forward(x)


def test_overflow_is_a_non_finite_result(lrp_net):
    with pytest.raises(xaic.NonFiniteResultError, match="explanation 'epsilon_plus' of network 'mnist_cnn': the "
                       "result holds NaN or infinity although the inputs are finite"):
        lrp_net.explain("epsilon_plus", np.full((1, 28, 28), 3e38, np.float32))


@pytest.mark.parametrize("target,error,message", [
    (10, xaic.TargetError, r"target 10 is not a class of network 'mnist_cnn' \(0 \.\. 9\)"),
    (-1, xaic.TargetError, r"target -1 is not a class"),
    (2**40, xaic.TargetError, r"is not a class"),
    ([0, 1, 2, 3, 4, 5, 6, 7, 8, 10], xaic.TargetError, r"target\[9\] = 10 is not a class"),
    ([0, 1, 2], xaic.InputError, r"target has shape \[3\]; give one class per sample \(\[10\]\)"),
    (np.zeros(10, np.float32), xaic.InputTypeError, r"target has dtype float32"),
    (True, xaic.InputTypeError, r"target is a boolean"),
])
def test_bad_targets(lrp_net, digits, target, error, message):
    with pytest.raises(error, match=message):
        lrp_net.explain("epsilon_plus", digits, target=target)


def test_targets_of_every_integer_type(lrp_net, digits):
    ref = lrp_net.explain("epsilon_plus", digits, target=np.arange(10, dtype=np.int32))
    for dtype in (np.int64, np.uint8, np.int16):
        assert np.array_equal(lrp_net.explain("epsilon_plus", digits, target=np.arange(10, dtype=dtype)), ref)
    assert np.array_equal(lrp_net.explain("epsilon_plus", digits, target=list(range(10))), ref)
    assert np.array_equal(lrp_net.explain("epsilon_plus", digits, target=3),
                          lrp_net.explain("epsilon_plus", digits, target=[3] * 10))


def test_unknown_names(lrp_net, digits):
    with pytest.raises(xaic.UnknownExplanationError, match="network 'mnist_cnn' has no explanation 'nope'; it has: "
                       "epsilon_plus, epsilon_plus_flat"):
        lrp_net.explain("nope", digits)
    with pytest.raises(LookupError):
        lrp_net.explanation("nope")
    with pytest.raises(xaic.UnknownExplanationError, match="has no relevance at 'conv9'; layers: fc2, act4"):
        lrp_net.explain("epsilon_plus", digits, at="conv9")
    with pytest.raises(xaic.UnknownExplanationError, match="has no network 'nope'; it has: mnist_cnn"):
        xaic.compile(repo("models", "mnist_cnn_lrp.xai"), network="nope")


def test_settings_an_explanation_does_not_take(lrp_net, mlp, digits, digits_flat):
    x = digits_flat[:2]
    for kwargs, message in [({"baseline": np.zeros(784, np.float32)}, "baseline is for integrated_gradients"),
                            ({"noise": np.zeros((2, 12, 784), np.float32)}, "noise is for smoothgrad"),
                            ({"seed": 1}, "seed is for smoothgrad"), ({"steps": 5}, "steps is for activation"),
                            ({"progress": print}, "progress is for activation")]:
        with pytest.raises(xaic.InputError, match="explanation 'lrp' \\(lrp\\) takes no " + message.split()[0]):
            mlp.explain("lrp", x, **kwargs)
    with pytest.raises(xaic.InputError, match="takes no noise"):
        mlp.explain("ig", x, noise=np.zeros((2, 12, 784), np.float32))


def test_bad_options(mlp, digits_flat):
    x = digits_flat[:2]
    with pytest.raises(xaic.InputError, match=r"baseline has shape \[3, 3\]"):
        mlp.explain("ig", x, baseline=np.zeros((3, 3), np.float32))
    with pytest.raises(xaic.InputError, match="baseline holds 3 samples for a batch of 2"):
        mlp.explain("ig", x, baseline=np.zeros((3, 784), np.float32))
    bad = np.zeros(784, np.float32)
    bad[17] = np.nan
    with pytest.raises(xaic.NonFiniteInputError, match=r"baseline\[17\] is nan"):
        mlp.explain("deeplift", x, baseline=bad)
    with pytest.raises(xaic.InputError, match=r"noise has shape \[2, 8, 784\]; explanation 'smoothgrad' draws 12 "
                       r"noisy copies per sample: give \[2, 12, 784\]"):
        mlp.explain("smoothgrad", x, noise=np.zeros((2, 8, 784), np.float32))
    noise = np.zeros((2, 12, 784), np.float32)
    noise[1, 11, 783] = -np.inf
    with pytest.raises(xaic.NonFiniteInputError, match=r"noise\[1, 11, 783\] is -inf"):
        mlp.explain("smoothgrad", x, noise=noise)
    for seed in (-1, 2**64, 1.5, True):
        with pytest.raises(xaic.InputError, match="seed must be an integer"):
            mlp.explain("smoothgrad", x, seed=seed)


def test_bad_activation_maximization_arguments(digits_flat):
    net = xaic.compile(repo("models", "mnist_mlp_am.xai"))
    for steps in (0, -3, 2.5, 10**9):
        with pytest.raises(xaic.InputError, match="steps must be an integer"):
            net.explain("proto", steps=steps)
    with pytest.raises(xaic.InputError, match="has no generator"):
        net.explain("proto", seed=3, steps=2)
    with pytest.raises(xaic.InputError, match="no codes to return"):
        net.explain("proto", return_codes=True, steps=2)
    with pytest.raises(xaic.InputError, match="at, stats and noise do not apply"):
        net.explain("proto", stats=True)
    with pytest.raises(xaic.TargetError):
        net.explain("proto", target=[1, 12], steps=2)
    with pytest.raises(ZeroDivisionError):  # an exception in progress reaches the caller after the call
        net.explain("proto", digits_flat[:1], steps=5, progress=lambda d, t: 1 / 0)


def test_relevance_inside_a_sample_region_is_refused(digits):
    net = xaic.compile(repo("models", "mnist_cnn_gradients.xai"))
    with pytest.raises(xaic.UnknownExplanationError, match="relevance at 'act2' is computed per path point"):
        net.explain("integrated_gradients", digits[:1], at="act2")
    assert net.relevance_layers("integrated_gradients") == ()
    assert "act2" in xaic.compile(repo("models", "mnist_cnn_lrp.xai")).relevance_layers("epsilon_plus")


def test_batch_limits(lrp_net):
    with pytest.raises(xaic.BatchError, match="a batch of 0 samples: batch size out of range"):
        lrp_net.workspace_size(0)
    with pytest.raises(xaic.BatchError):
        lrp_net.workspace_size(2**31)


def test_a_file_with_errors_raises_every_diagnostic(tmp_path, capfd):
    bad = tmp_path / "bad.xai"
    bad.write_text(f'import "{repo("models", "mnist_cnn.xai")}";\n'
                   "explain a for mnist_cnn { rules no_such_preset; }\n"
                   "explain b for mnist_cnn { conv9: epsilon; }\n")
    with pytest.raises(xaic.CompileError) as e:
        xaic.compile(bad)
    text = str(e.value)
    assert re.search(r"bad\.xai:2:\d+: error: .*no_such_preset", text), text
    assert re.search(r"bad\.xai:3:\d+: error: .*conv9", text), text
    assert "^" in e.value.diagnostics and "2 errors" in e.value.diagnostics
    assert capfd.readouterr() == ("", ""), "nothing printed"
    with pytest.raises(xaic.CompileError, match="cannot open|No such file"):
        xaic.compile(tmp_path / "missing.xai")


def test_several_networks_need_a_name(tmp_path):
    two = tmp_path / "two.xai"
    two.write_text(f'import "{repo("models", "mnist_cnn.xai")}";\nimport "{repo("models", "mnist_mlp.xai")}";\n')
    with pytest.raises(xaic.InputError, match="defines the networks mnist_cnn, mnist_mlp; choose one"):
        xaic.compile(two)
    assert xaic.compile(two, network="mnist_mlp").input_shape == (784,)


def test_compiler_not_found(monkeypatch):
    monkeypatch.setenv("XAIC_COMPILER", "/nonexistent/xaic")
    with pytest.raises(xaic.CompilerNotFoundError, match="XAIC_COMPILER='/nonexistent/xaic' is not an executable"):
        xaic.compile(repo("models", "mnist_cnn_lrp.xai"))


def test_bad_compile_options():
    with pytest.raises(xaic.InputError, match="opt_level is 0, 1, 2 or 3"):
        xaic.compile(repo("models", "mnist_cnn_lrp.xai"), opt_level=7)
    with pytest.raises(xaic.CompileError, match="unknown CPU 'pentium9000'"):
        xaic.compile(repo("models", "mnist_mlp.xai"), cpu="pentium9000")


def test_bad_explain_blocks_for_imports(tmp_path):
    for explain, error, message in [({"a b": "rules epsilon;"}, xaic.InputError, "is not an identifier"),
                                    ({"a": 3}, xaic.InputTypeError, "not a string"),
                                    ([("a", "x")], xaic.InputTypeError, "explain is a dict")]:
        with pytest.raises(error, match=message):
            xaic.from_onnx(b"not used", explain)
    with pytest.raises(xaic.CompileError, match="importing"):
        xaic.from_onnx(b"this is not an ONNX model", {"a": "rules epsilon_plus;"})
    with pytest.raises(xaic.InputError, match="cannot read the ONNX model"):
        xaic.from_onnx(os.path.join(str(tmp_path), "none.onnx"))


def test_from_layer_targets_are_its_channels(cnn_methods, digits):
    e = cnn_methods.explanation("pool3_deconv")
    assert e.from_layer == "pool3" and e.classes == 128
    assert cnn_methods.explain("pool3_deconv", digits, target=127).shape == digits.shape
    with pytest.raises(xaic.TargetError, match=r"target 128 is not a channel of layer 'pool3' \(0 \.\. 127\)"):
        cnn_methods.explain("pool3_deconv", digits, target=128)
    assert cnn_methods.explanation("saliency").from_layer is None
