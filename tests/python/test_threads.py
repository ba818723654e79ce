"""Calls release the GIL and use one workspace per thread: four threads at once give the sequential results bit
for bit, and Python code keeps running while a call is in C."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import xaic
from conftest import repo


def test_four_threads_at_once(lrp_net, digits, labels):
    """Four threads, each with its own batch size, explanation and target, 12 calls each."""
    jobs = [("epsilon_plus", digits[:1], None), ("epsilon_gamma_box", digits[:7], labels[:7]),
            ("excitation_backprop", digits, labels[::-1].copy()), ("epsilon_plus_at_act2", digits[2:5], 4)]
    expected = [lrp_net.explain(name, x, target=t) for name, x, t in jobs]
    logits = lrp_net.forward(digits)
    start = threading.Barrier(4)

    def work(i):
        name, x, t = jobs[i]
        start.wait()
        results = []
        for _ in range(12):
            results.append(lrp_net.explain(name, x, target=t))
            results.append(lrp_net.forward(digits))
        return results

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(work, range(4)))
    for i, results in enumerate(outcomes):
        for k, r in enumerate(results):
            want = expected[i] if k % 2 == 0 else logits
            assert np.array_equal(r, want), f"thread {i}, call {k}"


def test_the_gil_is_released_during_a_call(lrp_net, digits):
    """While one thread is inside a generated entry (~0.3 s), the main thread keeps executing Python; if the call
    held the GIL, no tick could fall inside it."""
    x = np.repeat(digits, 20, axis=0)
    window = {}

    def call():
        window["start"] = time.perf_counter()
        lrp_net.explain("epsilon_plus", x)
        window["end"] = time.perf_counter()

    worker = threading.Thread(target=call)
    ticks = []
    worker.start()
    while worker.is_alive():
        ticks.append(time.perf_counter())
    worker.join()
    inside = [t for t in ticks if window["start"] + 0.02 < t < window["end"] - 0.02]
    assert window["end"] - window["start"] > 0.1
    duration = window["end"] - window["start"]
    assert len(inside) > 1000, f"{len(inside)} ticks of the main thread during a {duration:.3f} s call"


def test_workspaces_are_per_thread_and_grow(lrp_net, digits):
    """A thread's workspace grows with the batch; other threads' calls never see it."""
    small = lrp_net.explain("epsilon_plus", digits[:1])
    big = lrp_net.explain("epsilon_plus", digits)
    assert np.array_equal(big[0], small[0])
    assert lrp_net.workspace_size(10) > lrp_net.workspace_size(1)
    seen = {}
    together = threading.Barrier(4)

    def own_workspace(i):
        lrp_net.explain("epsilon_plus", digits[:i + 1])
        seen[i] = lrp_net._tls.ws[2]  # this thread's workspace address
        together.wait()  # all four alive at once: their workspaces too

    threads = [threading.Thread(target=own_workspace, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen.values())) == 4, "one workspace per thread"
    assert all(address % 64 == 0 for address in seen.values()), "64-byte aligned"


def test_separate_networks_in_threads():
    mlp = xaic.compile(repo("models", "mnist_mlp.xai"))
    flat = np.load(repo("models", "samples", "digits_flat.npy"))
    ref = mlp.forward(flat)
    with ThreadPoolExecutor(4) as pool:
        assert all(np.array_equal(r, ref) for r in pool.map(lambda _: mlp.forward(flat), range(16)))
