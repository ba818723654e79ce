#!/usr/bin/python3
"""Notebook-style example: the bundled MNIST CNN explained by three methods side by side, from Python.

    PYTHONPATH=python /usr/bin/python3 examples/python/explain_mnist.py [THREADS]     # from the repository root

Writes examples/python/mnist_methods.png (rows: the ten sample digits, LRP epsilon_plus, integrated gradients,
SmoothGrad; blue negative, white zero, red positive) and examples/python/mnist_lrp_overlay.png (LRP over the
digits), then times each method at batch 1 and 10 (median of repeated calls). When Zennit and Captum are found
(PEERS_DIR, default ~/xai-peers; see /work/shared/peers/README.md) the same explanations are timed with them on the
same network in PyTorch, and their results compared with xaic's. Both sides run on THREADS threads (default 2).
"""
import json
import os
import statistics
import struct
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
import xaic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 2

# %% Compile (once; later runs take the shared objects from the cache) and explain
lrp = xaic.compile(os.path.join(ROOT, "models", "mnist_cnn_lrp.xai"))
grad = xaic.compile(os.path.join(ROOT, "models", "mnist_cnn_gradients.xai"))
x = np.load(os.path.join(ROOT, "models", "samples", "digits.npy"))  # [10, 1, 28, 28] in [0, 1]
for net in (lrp, grad):  # each shared object has its own copy of libxairt's thread pool
    net._lib.set_num_threads(THREADS)
print(lrp)
print("predicted:", lrp.forward(x).argmax(1).tolist())
methods = {
    "LRP epsilon_plus": lambda batch: lrp.explain("epsilon_plus", batch),
    "integrated gradients (50 steps)": lambda batch: grad.explain("integrated_gradients", batch),
    "SmoothGrad (50 samples)": lambda batch: grad.explain("smoothgrad", batch),
}
relevance = {name: explain(x) for name, explain in methods.items()}

# %% Pictures: the digits, then one row of heatmaps per method
gray = np.repeat((np.clip(x[:, 0], 0, 1) * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=-1)
digits_row = np.full((112, 10 * 112 + 9 * 2, 3), 255, np.uint8)
for i in range(10):
    digits_row[:, i * 114:i * 114 + 112] = gray[i].repeat(4, axis=0).repeat(4, axis=1)
rows = [digits_row] + [np.asarray(xaic.heatmap(r)) for r in relevance.values()]
gap = np.full((6, digits_row.shape[1], 3), 255, np.uint8)
picture = np.concatenate([part for row in rows for part in (row, gap)][:-1])
picture.view(xaic.Heatmap).save(  # the Heatmap type saves any RGB array
    os.path.join(HERE, "mnist_methods.png"))
xaic.heatmap(relevance["LRP epsilon_plus"], x=x, overlay=True).save(os.path.join(HERE, "mnist_lrp_overlay.png"))
print("wrote examples/python/mnist_methods.png and examples/python/mnist_lrp_overlay.png")


# %% Timing
def median_ms(fn, seconds=2.0, least=5):
    fn()  # warm-up
    times, start = [], time.perf_counter()
    while len(times) < least or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


timing = {name: {b: median_ms(lambda: explain(x[:b])) for b in (1, 10)} for name, explain in methods.items()}


def load_torch_cnn():
    """models/mnist_cnn.xai as a PyTorch module (models/train.py's MnistCNN, the weights read from the safetensors
    file by hand; TF-SAME pool3 as ConstantPad2d(-inf) + MaxPool2d as the fixture scripts do)."""
    import torch
    sys.path.insert(0, os.path.join(ROOT, "models"))
    import train
    path = os.path.join(ROOT, "models", "mnist_cnn.safetensors")
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header, data = json.loads(f.read(n)), f.read()
    state = {k: torch.from_numpy(np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], "<f4")
                                 .reshape(v["shape"]).copy()) for k, v in header.items() if k != "__metadata__"}
    model = train.MnistCNN()
    model.load_state_dict(state)
    model.pool3 = torch.nn.Sequential(torch.nn.ConstantPad2d((0, 1, 0, 1), float("-inf")), torch.nn.MaxPool2d(2))
    return model.eval()


peers = os.environ.get("PEERS_DIR", os.path.expanduser("~/xai-peers"))
sys.path[:0] = [os.path.join(peers, "captum"), os.path.join(peers, "zennit", "src")]
try:
    import torch
    from captum.attr import IntegratedGradients, NoiseTunnel, Saliency
    from zennit.attribution import Gradient
    from zennit.composites import EpsilonPlus
except ImportError as e:
    torch = None
    print(f"(Zennit / Captum not found: {e}; timing xaic only)")

peer_timing = {}
if torch is not None:
    torch.set_num_threads(THREADS)
    model = load_torch_cnn()

    # the composite's hooks are registered once, as a user explaining many batches would (and the peers' bench),
    # and removed before Captum runs (they change every gradient of the model)
    context = Gradient(model, EpsilonPlus(epsilon=1e-6, stabilizer=1e-6))
    attributor = context.__enter__()

    def zennit_lrp(batch):
        # xaic's epsilon_plus seeds with the target logit (`seed logit`), Zennit with what it is given; the target
        # is the arg-max of the output of this same forward pass
        def seed(out):
            return torch.nn.functional.one_hot(out.argmax(1), 10) * out.detach()
        return attributor(batch, seed)[1]

    def captum_ig(batch):
        return IntegratedGradients(model).attribute(batch, baselines=torch.zeros_like(batch),
                                                    target=model(batch).argmax(1), n_steps=50)

    def captum_smoothgrad(batch):
        return NoiseTunnel(Saliency(model)).attribute(batch, nt_type="smoothgrad", nt_samples=50, stdevs=0.15,
                                                      target=model(batch).argmax(1), abs=False)

    peer_methods = dict(zip(methods, (zennit_lrp, captum_ig, captum_smoothgrad)))
    xt = torch.from_numpy(x)
    for name, explain in peer_methods.items():
        peer_timing[name] = {b: median_ms(lambda: explain(xt[:b])) for b in (1, 10)}
        if name.startswith("LRP"):  # the same numbers? (SmoothGrad draws other noise: only LRP and IG can agree)
            ref = explain(xt).detach().numpy()
            context.__exit__(None, None, None)
        elif name.startswith("integrated"):
            ref = explain(xt).detach().numpy()
        else:
            continue
        print(f"{name}: max |xaic - peer| / max |peer| = {np.abs(relevance[name] - ref).max() / np.abs(ref).max():.2g}")

header = f"\n{THREADS} thread(s)\n{'method':<32} {'batch':>5} {'xaic ms':>9}"
print(header + (f" {'peer ms':>9} {'peer / xaic':>11}" if peer_timing else ""))
for name in methods:
    for b in (1, 10):
        line = f"{name:<32} {b:5d} {timing[name][b]:9.2f}"
        if peer_timing:
            line += f" {peer_timing[name][b]:9.2f} {peer_timing[name][b] / timing[name][b]:11.1f}"
        print(line)
