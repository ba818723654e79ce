#!/usr/bin/python3
"""Summarise bench/run.sh's JSON lines: the xaic compile times; per (model, method, batch) the per-round ratio
peer median / xaic median as median [min-max] over the rounds against issue 18's goals, the same for the CPU time
per call (cpu_ms), both sides' medians (median over the rounds of each process's median), fastest calls, peak RSS
(largest over the rounds), forward GFLOP/s and the load (bench/imported_report.py's summary); then VGG-16 layer
by layer (single pass, xaic only) against OUTDIR/peak.txt's 2-thread matmul peak.

    /usr/bin/python3 bench/run_report.py RESULTS.jsonl OUTDIR
"""
import json
import os
import re
import sys

from imported_report import rounds_by, spread, summary, verdict

# issue 18's goals, peer time / xaic time at least (median over the rounds)
TARGET = {('vgg16', 'forward', 1): 1.8, ('vgg16', 'epsilon_plus', 1): 3.0, ('vgg16', 'epsilon_gamma_box', 1): 4.5,
          ('vgg16', 'gradient', 1): 1.5, ('vgg16', 'ig', 1): 2.0,
          ('mnist_cnn', 'epsilon_plus', 32): 3.0, ('mnist_cnn', 'epsilon_gamma_box', 32): 3.0,
          ('mnist_cnn', 'smoothgrad', 1): 1.5, ('mnist_cnn', 'ig', 1): 1.5}


def layer_table(runs, outdir):
    """VGG-16 layer by layer: multiply-adds from the layer's shapes, against the 2-thread matmul peak"""
    layer_file = os.path.join(outdir, 'vgg16_layers.xai')
    peak_file = os.path.join(outdir, 'peak.txt')
    layers = [r for r in runs if r['impl'] == 'xaic' and r['model'].startswith('vgg16_') and r['method'] == 'forward']
    if not (layers and os.path.exists(layer_file)):
        return
    peak = None
    if os.path.exists(peak_file):
        m = re.search(r'threads=2: best ([\d.]+)', open(peak_file).read())
        peak = float(m.group(1)) if m else None
    shapes = {}
    for line in open(layer_file):
        m = re.match(r'network (\w+) .*input x\[([\d, ]+)\]; y = (conv2d|dense)\(x, (\d+).*from "([\w.]+)"', line)
        if m:
            dims = [int(v) for v in m.group(2).split(',')]
            macs = dims[0] * int(m.group(4)) * (dims[1] * dims[2] * 9 if m.group(3) == 'conv2d' else 1)
            shapes[m.group(1)] = (m.group(5), m.group(3), dims, int(m.group(4)), macs)
    print()
    print(f"VGG-16 layer by layer (forward kernel alone, batch 1, both cores; 2-thread matmul peak "
          f"{peak if peak else '?'} GFLOP/s; a dense layer at batch 1 reads each weight once: its bound is "
          f"memory bandwidth, shown as weights GB/s):")
    print()
    print('| layer | op | input | outputs | GMAC | xaic ms | min ms | GFLOP/s | % of peak | weights GB/s |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for r in layers:
        name, op, dims, o, macs = shapes[r['model']]
        g = 2 * macs / r['median_ms'] / 1e6
        pct = f"{100 * g / peak:.0f}" if peak else ''
        gbs = f"{4 * macs / r['median_ms'] / 1e6:.1f}" if op == 'dense' else ''
        print(f"| {r['model'][6:]} ({name}) | {op} | {'x'.join(map(str, dims))} | {o} | {macs / 1e9:.3f} | "
              f"{r['median_ms']:.3f} | {r['min_ms']:.3f} | {g:.1f} | {pct} | {gbs} |")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith('{')]
    runs = [r for r in rows if 'method' in r]
    print()
    for r in rows:
        if 'compile' in r:
            print(f"compile {r['compile']} {r['options']}: {r['seconds']:.2f} s wall, xaic peak RSS "
                  f"{r['peak_rss_mb']:.0f} MB, object {r['object_mb']:.1f} MB")
    print()
    print('| model | method | batch | rounds | xaic ms | peer ms | peer/xaic median [min-max] | target '
          '| CPU-time peer/xaic [min-max] | xaic ms/sample | peer ms/sample | xaic min ms | peer min ms | runs x/p '
          '| xaic RSS MB | peer RSS MB | xaic GFLOP/s | peer GFLOP/s | load 1m |')
    print('|' + '---|' * 19)
    paired = [r for r in runs if 'round' in r]     # not the VGG-16 layers (single pass, xaic only)
    for k, pairs in rounds_by(paired, lambda r: (r['model'], r['method'], r['batch'])).items():
        s = summary(pairs)
        fx = fp = ''
        gflop = pairs[0]['peer'].get('forward_gflop')
        if k[1] == 'forward' and gflop:
            fx, fp = (f"{gflop / s[f'{side}_ms'] * 1e3:.1f}" for side in ('xaic', 'peer'))
        print(f"| {k[0]} | {k[1]} | {k[2]} | {s['rounds']} | {s['xaic_ms']:.3f} | {s['peer_ms']:.3f} "
              f"| {spread(s['ratios'], bold=True)} | {verdict(TARGET.get(k), s['ratio'])} | {spread(s['cpu_ratios'])} "
              f"| {s['xaic_ms'] / k[2]:.3f} | {s['peer_ms'] / k[2]:.3f} | {s['xaic_min_ms']:.3f} "
              f"| {s['peer_min_ms']:.3f} "
              f"| {s['xaic_runs']}/{s['peer_runs']} | {s['xaic_rss']:.1f} | {s['peer_rss']:.1f} | {fx} | {fp} "
              f"| {s['load']} |")
    layer_table(runs, sys.argv[2])
    return 0


if __name__ == '__main__':
    sys.exit(main())
