#!/usr/bin/python3
"""Reference fixtures for the Python package's from_torch tests, computed with Zennit 0.5.1 and Captum 0.8.0 on
PyTorch (independent of xaic).

    /usr/bin/python3 tests/reference/make_python_fixtures.py        # from the repository root, a few seconds

The network is tests/python/small_net.py's SmallNet (conv 8, relu, maxpool, conv 16, relu, maxpool, flatten,
linear 32, relu, linear 10 on [1, 28, 28]) with PyTorch's default initialisation after torch.manual_seed(1607);
inputs are the first 6 digits of models/samples/digits.npy, targets their labels 0..5. Writes
tests/fixtures/python/ (float32 unless noted):

  small_net.npz              the state_dict (the tests load it into SmallNet and export it with torch.onnx)
  input.npy [6,1,28,28], targets.npy int32 [6], logits.npy [6,10]
  zennit_epsilon_plus.npy    Zennit Gradient attributor, EpsilonPlus(epsilon=1e-6, stabilizer=1e-6), output
                             relevance one-hot(target)  (xaic: `seed one; rules epsilon_plus;`)
  zennit_epsilon_gamma_box.npy   EpsilonGammaBox(low=0, high=1, epsilon=1e-6, gamma=0.25, stabilizer=1e-6)
  captum_saliency.npy        Saliency(abs=False): d logit[target] / dx
  captum_ig.npy              IntegratedGradients, baseline 0, n_steps 32, gausslegendre
  captum_smoothgrad.npy      NoiseTunnel(Saliency(abs=False)), smoothgrad, nt_samples 8, stdevs 0.15,
                             torch.manual_seed(0) before the call
  captum_smoothgrad_noise.npy [6,8,1,28,28] the noise Captum drew: copy k of sample b is x[b] + noise[b, k]
  captum_gradcam.npy [6,1,14,14]   LayerGradCam(model, model.relu2), relu_attributions=True, no upsampling
  manifest.json              versions, the command, per file its shape and per-sample sums, self-checks

Self-checks (the script fails otherwise): SmoothGrad replayed from the recorded noise with plain autograd equals
Captum's; IG recomputed from numpy's Gauss-Legendre nodes with plain autograd agrees to 1e-5 relative; Zennit's
EpsilonPlus relevance on the bias-free copy of the net sums to 1 per sample within 2e-3 (conservation; the
stabilisers of near-zero pre-activations absorb up to 1e-3 on this randomly initialised net).

Environment: PEERS_DIR (default ~/xai-peers) holds zennit/src and captum (see /work/shared/peers/README.md).
"""
import json
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEERS = os.environ.get("PEERS_DIR", os.path.expanduser("~/xai-peers"))
sys.path[:0] = [os.path.join(ROOT, "tests", "python"), os.path.join(PEERS, "captum"),
                os.path.join(PEERS, "zennit", "src")]

import zennit  # noqa: E402
from captum.attr import IntegratedGradients, LayerGradCam, NoiseTunnel, Saliency  # noqa: E402
from zennit.attribution import Gradient  # noqa: E402
from zennit.composites import EpsilonGammaBox, EpsilonPlus  # noqa: E402

from small_net import SmallNet  # noqa: E402

OUT = os.path.join(ROOT, "tests", "fixtures", "python")


def zennit_lrp(model, composite, x, target):
    with Gradient(model, composite) as attributor:
        _, relevance = attributor(x, lambda out: torch.nn.functional.one_hot(target, out.shape[1]).to(out.dtype))
    return relevance


def main():
    torch.set_num_threads(2)
    torch.manual_seed(1607)
    model = SmallNet().eval()
    x = torch.from_numpy(np.load(os.path.join(ROOT, "models", "samples", "digits.npy"))[:6].copy())
    target = torch.arange(6)
    files, checks = {}, {}
    files["logits"] = model(x).detach()
    files["zennit_epsilon_plus"] = zennit_lrp(model, EpsilonPlus(epsilon=1e-6, stabilizer=1e-6), x, target)
    files["zennit_epsilon_gamma_box"] = zennit_lrp(
        model, EpsilonGammaBox(low=0., high=1., epsilon=1e-6, gamma=0.25, stabilizer=1e-6), x, target)
    files["captum_saliency"] = Saliency(model).attribute(x, target=target, abs=False)
    files["captum_ig"] = IntegratedGradients(model).attribute(x, baselines=torch.zeros_like(x), target=target,
                                                              n_steps=32, method="gausslegendre")
    drawn = []
    normal = torch.normal

    def recording_normal(*args, **kwargs):
        n = normal(*args, **kwargs)
        drawn.append(n.detach().clone())
        return n
    torch.manual_seed(0)
    torch.normal = recording_normal
    try:
        files["captum_smoothgrad"] = NoiseTunnel(Saliency(model)).attribute(
            x, nt_type="smoothgrad", nt_samples=8, stdevs=0.15, target=target, abs=False)
    finally:
        torch.normal = normal
    assert len(drawn) == 1, f"Captum drew {len(drawn)} noise tensors"
    noise = drawn[0].reshape(6, 8, 1, 28, 28)
    files["captum_smoothgrad_noise"] = noise
    files["captum_gradcam"] = LayerGradCam(model, model.relu2).attribute(x, target=target, relu_attributions=True)

    # self-checks, with plain autograd
    copies = (x[:, None] + noise).reshape(48, 1, 28, 28).requires_grad_(True)
    model(copies).gather(1, target.repeat_interleave(8)[:, None]).sum().backward()
    replay = copies.grad.reshape(6, 8, 1, 28, 28).sum(1) * (1 / 8)
    checks["smoothgrad_replay_max_abs_diff"] = float((replay - files["captum_smoothgrad"]).abs().max())
    assert checks["smoothgrad_replay_max_abs_diff"] <= 1e-6 * float(replay.abs().max())
    nodes, weights = np.polynomial.legendre.leggauss(32)
    ig = torch.zeros_like(x, dtype=torch.float64)
    model64 = SmallNet().double()
    model64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    for a, w in zip(0.5 * (1 + nodes), 0.5 * weights):
        point = (a * x.double()).requires_grad_(True)
        model64(point).gather(1, target[:, None]).sum().backward()
        ig += w * point.grad
    ig *= x.double()
    checks["ig_recomputed_rel_diff"] = float((ig - files["captum_ig"]).abs().max() / ig.abs().max())
    assert checks["ig_recomputed_rel_diff"] <= 1e-5, checks
    nobias = SmallNet().eval()
    nobias.load_state_dict(model.state_dict())
    with torch.no_grad():
        for m in nobias.modules():
            if getattr(m, "bias", None) is not None:
                m.bias.zero_()
    sums = zennit_lrp(nobias, EpsilonPlus(epsilon=1e-6, stabilizer=1e-6), x, target).sum((1, 2, 3))
    checks["epsilon_plus_nobias_sums"] = [float(s) for s in sums]
    assert (sums - 1).abs().max() <= 2e-3, sums  # the 1e-6 stabilisers absorb up to 1e-3 here

    os.makedirs(OUT, exist_ok=True)
    np.savez(os.path.join(OUT, "small_net.npz"), **{k: v.numpy() for k, v in model.state_dict().items()})
    np.save(os.path.join(OUT, "input.npy"), x.numpy())
    np.save(os.path.join(OUT, "targets.npy"), target.numpy().astype(np.int32))
    manifest = {"command": "/usr/bin/python3 tests/reference/make_python_fixtures.py",
                "torch": torch.__version__, "numpy": np.__version__, "zennit": getattr(zennit, "__version__", "0.5.1"),
                "checks": checks, "files": {}}
    for name, value in files.items():
        a = value.detach().numpy().astype(np.float32)
        np.save(os.path.join(OUT, name + ".npy"), a)
        manifest["files"][name] = {"shape": list(a.shape), "max_abs": float(np.abs(a).max()),
                                   "sums": [float(s) for s in a.reshape(a.shape[0], -1).sum(1, dtype=np.float64)]}
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(json.dumps(checks, indent=1))


if __name__ == "__main__":
    main()
