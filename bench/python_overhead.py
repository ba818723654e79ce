#!/usr/bin/python3
"""What the Python package adds per call over the generated C entry, on the bundled CNN at batch 1.

    PYTHONPATH=python /usr/bin/python3 bench/python_overhead.py [--calls N] [--threads T]

For forward and for LRP epsilon_plus, N rounds each time one call of the wrapper (net.forward(x),
net.explain("epsilon_plus", x)) and one call of the same ctypes function object with everything prepared
(pointers, output, workspace), in alternating order; the wrapper's overhead is the median of the per-round
differences (and the difference of the medians); the wrapper's Python work alone is timed with the entries
replaced by a Python function returning 0. ctypes' own cost per call, which both sides pay, is bounded by
the median time of calling xai_get_num_threads through ctypes (a function that returns a global). Prints a table
and one JSON line. The generated code runs on T threads (default 1: less noise at batch 1).
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
import xaic  # noqa: E402


def rounds(wrapped, direct, calls):
    """(wrapper times, direct times, per-round differences) in microseconds, order alternating."""
    w, d, diff = [], [], []
    clock = time.perf_counter_ns
    for i in range(calls):
        if i % 2:
            t0 = clock(); direct(); t1 = clock(); wrapped(); t2 = clock()  # noqa: E702
            dt, wt = t1 - t0, t2 - t1
        else:
            t0 = clock(); wrapped(); t1 = clock(); direct(); t2 = clock()  # noqa: E702
            wt, dt = t1 - t0, t2 - t1
        w.append(wt / 1e3)
        d.append(dt / 1e3)
        diff.append((wt - dt) / 1e3)
    return w, d, diff


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    net = xaic.compile(os.path.join(ROOT, "models", "mnist_cnn_lrp.xai"))
    lib = net._lib
    lib.set_num_threads(args.threads)
    x = np.load(os.path.join(ROOT, "models", "samples", "digits.npy"))[:1].copy()

    y = np.empty((1, 10), np.float32)
    r = np.empty((1, 1, 28, 28), np.float32)
    ws = np.empty(net.workspace_size(1) + 64, np.uint8)
    wsp = ws.ctypes.data + (-ws.ctypes.data) % 64
    xp, yp, rp = x.ctypes.data, y.ctypes.data, r.ctypes.data
    forward = net._forward
    _, explain, _ = net._explain["epsilon_plus"]
    assert forward(xp, yp, 1, wsp) == 0 and explain(xp, None, rp, 1, wsp) == 0
    assert np.array_equal(net.forward(x), y) and np.array_equal(net.explain("epsilon_plus", x), r)

    cases = [("forward", lambda: net.forward(x), lambda: forward(xp, yp, 1, wsp)),
             ("lrp epsilon_plus", lambda: net.explain("epsilon_plus", x), lambda: explain(xp, None, rp, 1, wsp))]
    results = {}
    for name, wrapped, direct in cases:
        rounds(wrapped, direct, 200)  # warm-up
        w, d, diff = rounds(wrapped, direct, args.calls)
        results[name] = {"wrapper_median_us": statistics.median(w), "direct_median_us": statistics.median(d),
                         "overhead_median_of_differences_us": statistics.median(diff),
                         "overhead_difference_of_medians_us": statistics.median(w) - statistics.median(d),
                         "overhead_p90_us": float(np.percentile(diff, 90))}
    # the wrapper's own Python work: the same calls with the entries replaced by a Python function returning 0
    record, entry, _ = net._explain["epsilon_plus"]
    net._forward, net._explain["epsilon_plus"] = (lambda *a: 0), (record, lambda *a: 0, None)
    for name, call in (("forward", lambda: net.forward(x)),
                       ("lrp epsilon_plus", lambda: net.explain("epsilon_plus", x))):
        call()
        spent = []
        for _ in range(args.calls):
            t0 = time.perf_counter_ns()
            call()
            spent.append((time.perf_counter_ns() - t0) / 1e3)
        results[name]["python_side_only_us"] = statistics.median(spent)
    net._forward, net._explain["epsilon_plus"] = forward, (record, entry, None)
    trivial = lib.get_num_threads
    clock = time.perf_counter_ns
    times = []
    for _ in range(args.calls):
        t0 = clock()
        trivial()
        times.append((clock() - t0) / 1e3)
    timer = []
    for _ in range(args.calls):
        t0 = clock()
        t1 = clock()
        timer.append((t1 - t0) / 1e3)
    results["ctypes call of xai_get_num_threads"] = {"median_us": statistics.median(times)}
    results["empty timing interval"] = {"median_us": statistics.median(timer)}

    print(f"CNN (models/mnist_cnn_lrp.xai) at batch 1, {args.calls} alternating rounds, {args.threads} thread(s)")
    print(f"{'call':<18} {'wrapper us':>11} {'direct us':>10} {'overhead us (median of diffs)':>30} {'p90':>7} "
          f"{'Python side only us':>20}")
    for name, _, _ in cases:
        m = results[name]
        print(f"{name:<18} {m['wrapper_median_us']:11.1f} {m['direct_median_us']:10.1f} "
              f"{m['overhead_median_of_differences_us']:30.1f} {m['overhead_p90_us']:7.1f} "
              f"{m['python_side_only_us']:20.1f}")
    ctypes_us = results["ctypes call of xai_get_num_threads"]["median_us"]
    print(f"ctypes' own cost per call (xai_get_num_threads): {ctypes_us:.2f} us; "
          f"the timer itself: {results['empty timing interval']['median_us']:.2f} us")
    print(json.dumps({"bench": "python_overhead", "calls": args.calls, "threads": args.threads,
                      "numpy": np.__version__, "python": sys.version.split()[0], "results": results}))


if __name__ == "__main__":
    main()
