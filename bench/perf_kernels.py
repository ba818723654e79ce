#!/usr/bin/python3
"""Where one xaic entry point spends its time, kernel by kernel: `perf record` on a driver that
bench/imported.sh built (build/bench/bench_MODEL_METHOD), samples mapped to the plan's layers.

    /usr/bin/python3 bench/perf_kernels.py MODEL METHOD [--runs 3] [--threads 1] [--top 25]

Generated kernels are named `MODEL.kN.OP...` (N the node of `xaic check MODEL.xai --dump=plan`); a kernel
the code generator shares between layers of the same shape (the attention's matmuls, softmax, GELU of every
encoder block) carries the first such node's name, so its samples count for all of them. Layers are grouped
by role: the layer name with its first number replaced by '#' (the block: b3_fc2 -> b#_fc2); a backward or
LRP step (dense_t, eltwise, layer_stat, ...) is listed as its node number with the layer whose rule made it
(the plan's "(layer NAME)"). Convolutions with groups > 1 (depthwise ones included) are marked "(grouped)",
their kernels as well as the layers; a table by layer kind sums each layer's forward kernels and the kernels
of its rule (so a depthwise conv's transposed and recomputed kernels count for "conv2d (grouped)"). A kind
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


def plan_nodes(plan, method):
    """`xaic check --dump=plan`'s plan of METHOD (the network's own for forward, else `plan NET explain METHOD`):
    node -> (op, layer name) of its named layers, and node -> the layer it belongs to (a layer's own node, or
    the forward layer whose rule made a backward step: the dump's "(layer NAME)")"""
    nodes, owner, mine = {}, {}, False
    for line in plan.splitlines():
        if line.startswith('plan '):
            head = line.split(':')[0]
            mine = ' explain ' not in head if method == 'forward' else head.endswith(f' explain {method}')
            continue
        if not mine:
            continue
        m = re.match(r'\s*%(\d+)\s+(\w+)\s+(\w+)\s', line)
        if m and m.group(3) not in ('alias', 'fused'):
            nodes[int(m.group(1))] = (m.group(2), m.group(3))
            owner[int(m.group(1))] = m.group(3)
        b = re.match(r'\s*%(\d+)\s.*\(layer (\w+)\)\s*$', line)
        if b:
            owner[int(b.group(1))] = b.group(2)
    return nodes, owner


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
    nodes, owner = plan_nodes(plan, args.method)
    graph = subprocess.run([os.path.join(build, 'xaic'), 'check', os.path.join(out, f'{args.model}.xai'),
                            '--dump=graph'], check=True, capture_output=True, text=True).stdout
    layer_kind = {}  # layer name -> its op, conv2d marked "(grouped)" when groups > 1 (depthwise included)
    for line in graph.splitlines():
        m = re.match(r'\s*%\d+ = (\w+)\(.*#\s*(\w+)( \(output\))?\s*$', line)
        if m:
            g = re.search(r'\bgroups=(\d+)', line)
            layer_kind[m.group(2)] = m.group(1) + (' (grouped)' if g and int(g.group(1)) > 1 else '')
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
    by_layer_kind = collections.Counter()     # samples by the kind of layer whose pass or rule ran the kernel
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
            node = int(k.group(1))
            lk = layer_kind.get(owner.get(node, ''), 'no layer (seed, output)')
            by_layer_kind[lk] += n
            if lk.endswith('(grouped)') and kind.startswith('conv2d'):
                kind += ' (grouped)'
            if '.par' not in sym:   # samples in a kernel without a parallel part: it runs on one thread
                kind += ' (serial)'
            by_op[kind] += n
            op, name = nodes.get(node, ('', ''))
            if op == k.group(2):    # a forward kernel, named after its (first) layer
                by_role[(kind, re.sub(r'\d+', '#', name, count=1))] += n
            else:               # a backward step: its node number in the explanation's plan
                by_role[(kind, f'backward k{node} ({owner[node]})' if node in owner else f'backward k{node}')] += n
        else:
            other[sym] += n
    per_ms = (total - other["crc32_z"]) / cpu_ms      # samples per ms of a call's CPU time
    print(f'\n{args.model} {args.method}: {total} samples, {cpu_ms:.1f} ms CPU per call, {args.threads} thread(s)\n')
    print('| kernel kind | ms per call | % of samples |')
    print('|---|---|---|')
    for kind, n in by_op.most_common():
        print(f'| {kind} | {n / per_ms:.1f} | {100 * n / total:.1f} |')
    print('\n| layer kind (all kernels of its forward pass and of its rule) | ms per call | % of samples |')
    print('|---|---|---|')
    for kind, n in by_layer_kind.most_common():
        print(f'| {kind} | {n / per_ms:.1f} | {100 * n / total:.1f} |')
    print('\n| kernel kind | layer role (forward) or backward step | ms per call | % of samples |')
    print('|---|---|---|---|')
    for (kind, role), n in by_role.most_common(args.top):
        print(f'| {kind} | {role} | {n / per_ms:.1f} | {100 * n / total:.1f} |')
    print('\noutside the generated kernels:', ', '.join(f'{s} {100 * n / total:.1f}%' for s, n in other.most_common(8)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
