#!/usr/bin/python3
"""Where one xaic entry point spends its time, kernel by kernel: `perf record` on a driver that
bench/imported.sh built (build/bench/bench_MODEL_METHOD), samples mapped to the plan's layers.

    /usr/bin/python3 bench/perf_kernels.py MODEL METHOD [--runs 3] [--threads 1] [--top 25]

Generated kernels are named `MODEL.kN.OP...` (N the node of `xaic check MODEL.xai --dump=plan`); a kernel
the code generator shares between layers of the same shape (the attention's matmuls, softmax, GELU of every
encoder block) carries the first such node's name, so its samples count for all of them. Layers are grouped
by role: the layer name with its first number replaced by '#' (the block: b3_fc2 -> b#_fc2); a backward or
LRP step (dense_t, eltwise, layer_stat, ...) has no layer name and is listed as its node number. A kind
marked "(serial)": samples in a kernel that has no parallel part (no `.par` function), so it runs on one
thread whatever XAI_NUM_THREADS says. ms per call =
the driver's median CPU time per call (cpu_ms, all threads) x the kernel's share of the samples, leaving out
crc32_z (the weights file's checksum, once before the first call). Samples outside the generated code
(libm's expf, libxairt's thread pool, the OS) are listed by symbol. Run it on a quiet machine; the driver's
own JSON line is printed first.
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('model')
    ap.add_argument('method')
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--top', type=int, default=25)
    args = ap.parse_args()
    build = os.environ.get('XAIC_BUILD_DIR', os.path.join(ROOT, 'build'))
    out = os.path.join(build, 'bench')
    driver = os.path.join(out, f'bench_{args.model}_{args.method}')
    weights = os.path.join(out, f'{args.model}_net.safetensors')
    plan = subprocess.run([os.path.join(build, 'xaic'), 'check', os.path.join(out, f'{args.model}.xai'),
                           '--dump=plan'], check=True, capture_output=True, text=True).stdout
    nodes = {}       # node -> (op, layer name) of the layers (the forward plan; backward steps have no name)
    for line in plan.splitlines():
        m = re.match(r'\s*%(\d+)\s+(\w+)\s+(\w+)\s', line)
        if m and m.group(3) not in ('alias', 'fused'):
            nodes.setdefault(int(m.group(1)), (m.group(2), m.group(3)))
    env = dict(os.environ, XAI_NUM_THREADS=str(args.threads))
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, 'perf.data')
        run = subprocess.run(['perf', 'record', '-q', '-F', '1000', '-o', data, driver, '1', '0',
                              os.path.join(out, f'{args.model}_input.npy'),
                              weights if os.path.exists(weights) else '-', str(args.runs), str(args.runs)],
                             check=True, env=env, capture_output=True, text=True)
        print(run.stdout.strip())
        cpu_ms = json.loads(run.stdout.strip().splitlines()[-1])['cpu_ms']
        report = subprocess.run(['perf', 'report', '-i', data, '--no-children', '--sort', 'symbol', '-n',
                                 '--stdio'], check=True, capture_output=True, text=True).stdout
    by_op, by_role, other = collections.Counter(), collections.Counter(), collections.Counter()
    total = 0
    for line in report.splitlines():
        m = re.match(r'\s*[\d.]+%\s+(\d+)\s+\[.\]\s+(\S+)', line) or re.match(r'\s*[\d.]+%\s+(\d+)\s+\[k\]\s+(\S+)',
                                                                             line)
        if not m:
            continue
        n, sym = int(m.group(1)), m.group(2)
        total += n
        k = re.match(re.escape(args.model) + r'\.k(\d+)\.(\w+)', sym)
        if k:
            # the kernel's kind: a layer's op, or a backward / LRP step (dense_t, eltwise, layer_stat, ...)
            kind = k.group(2)
            if '.par' not in sym:   # samples in a kernel without a parallel part: it runs on one thread
                kind += ' (serial)'
            by_op[kind] += n
            op, name = nodes.get(int(k.group(1)), ('', ''))
            if op == k.group(2):    # a forward kernel, named after its (first) layer
                by_role[(kind, re.sub(r'\d+', '#', name, count=1))] += n
            else:               # a backward step: its node number in the explanation's plan
                by_role[(kind, f'backward k{k.group(1)}')] += n
        else:
            other[sym] += n
    per_ms = (total - other["crc32_z"]) / cpu_ms      # samples per ms of a call's CPU time
    print(f'\n{args.model} {args.method}: {total} samples, {cpu_ms:.1f} ms CPU per call, {args.threads} thread(s)\n')
    print('| kernel kind | ms per call | % of samples |')
    print('|---|---|---|')
    for kind, n in by_op.most_common():
        print(f'| {kind} | {n / per_ms:.1f} | {100 * n / total:.1f} |')
    print('\n| kernel kind | layer role (forward) or backward step | ms per call | % of samples |')
    print('|---|---|---|---|')
    for (kind, role), n in by_role.most_common(args.top):
        print(f'| {kind} | {role} | {n / per_ms:.1f} | {100 * n / total:.1f} |')
    print('\noutside the generated kernels:', ', '.join(f'{s} {100 * n / total:.1f}%' for s, n in other.most_common(8)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
