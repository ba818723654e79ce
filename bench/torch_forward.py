#!/usr/bin/python3
"""Time PyTorch's forward pass of the bundled mnist_cnn (models/mnist_cnn.safetensors), the baseline for
xaic's NET_forward.

    /usr/bin/python3 bench/torch_forward.py [--batches 1,32] [--threads 2] [--budget 3] [--model mnist_cnn]

Per batch size, in a fresh subprocess (so one batch size's peak RSS does not inflate the other's):
torch.set_num_threads(THREADS), torch.no_grad(), eval mode, input = the bundled sample digits repeated to
the batch size; untimed warm-up calls (at least 10 and 0.3 s), then N timed calls, N chosen so the timed calls take about
--budget seconds (at least 5, at most 100,000).  Prints one JSON line per batch size:
  {"impl":"pytorch","model":"mnist_cnn","batch":B,"median_ms":..,"per_sample_ms":..,"peak_rss_mb":..,...}
peak_rss_mb is resource.getrusage(RUSAGE_SELF).ru_maxrss of that subprocess (Linux: KiB -> MiB); it
includes the Python interpreter and libtorch.  Extra fields: min_ms, runs, threads, torch, loadavg_1m (the
1-minute load average at the end: on the 2-core machine a value above ~2 means other work competed for
the cores, and batch-1 medians of 2-thread OpenMP are then far from the min).

Environment: PEERS_HARNESS (safetensors_io.py; default <repo>/../shared/peers).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child(model_name, batch, threads, budget):
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    sys.path.insert(0, os.path.join(ROOT, 'models'))
    import train as models_train
    model = models_train.load(model_name)
    shape = models_train.MODELS[model_name]['input_shape']
    fname = 'digits_flat.npy' if shape == (784,) else 'digits.npy'
    digits = np.load(os.path.join(ROOT, 'models', 'samples', fname))
    reps = -(-batch // len(digits))
    x = torch.from_numpy(np.ascontiguousarray(np.concatenate([digits] * reps)[:batch]))
    with torch.no_grad():
        warm = []
        while len(warm) < 10 or sum(warm) < 0.3:       # >= 10 calls and >= 0.3 s of warm-up
            t0 = time.perf_counter()
            model(x)
            warm.append(time.perf_counter() - t0)
        t_one = statistics.median(warm[len(warm) // 2:])
        n = int(max(5, min(100000, budget / max(t_one, 1e-7))))
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            model(x)
            ts.append(time.perf_counter() - t0)
    med = statistics.median(ts) * 1e3
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    rec = dict(impl='pytorch', model=model_name, batch=batch, median_ms=round(med, 5),
               per_sample_ms=round(med / batch, 5), peak_rss_mb=round(rss, 1),
               min_ms=round(min(ts) * 1e3, 5), runs=n, threads=threads, torch=torch.__version__,
               loadavg_1m=round(os.getloadavg()[0], 2))
    print(json.dumps(rec), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', default='mnist_cnn')
    ap.add_argument('--batches', default='1,32')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--budget', type=float, default=3.0, help='seconds of timed calls per batch size (approx.)')
    ap.add_argument('--child-batch', type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_batch:
        child(args.model, args.child_batch, args.threads, args.budget)
        return 0
    for b in map(int, args.batches.split(',')):
        r = subprocess.run([sys.executable, os.path.abspath(__file__), '--model', args.model,
                            '--threads', str(args.threads), '--budget', str(args.budget),
                            '--child-batch', str(b)])
        if r.returncode:
            return r.returncode
    return 0


if __name__ == '__main__':
    sys.exit(main())
