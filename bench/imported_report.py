#!/usr/bin/python3
"""Summarise bench/imported.sh's JSON lines (bench/resnet50.sh, bench/vit_b16.sh) for one model: per method
the per-round ratio peer median / xaic median as median [min-max] over the rounds, the same for the CPU time
per call (cpu_ms: robust to other load at one thread; at two it also counts either side's threads spinning
while they wait), both sides' medians (median over rounds of each process's median), peak RSS (largest over
the rounds) and the load; then the agreement of round 1's saved outputs (OUTDIR/MODEL_{xaic,peer}_METHOD.npy).

    /usr/bin/python3 bench/imported_report.py MODEL RESULTS.jsonl [OUTDIR]
"""
import json
import os
import statistics
import sys

# the goals, peer time / xaic time at least (and xaic's peak RSS at most half the peer's): issue 14 (ResNet-50),
# issue 21 (vit_b_16)
TARGET = {'resnet50': {'forward': 1.2, 'epsilon_plus': 2.0, 'gradient': 1.0},
          'vit_b_16': {'forward': 1.2, 'cp_lrp': 2.0, 'gradient': 1.0}}


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    model = sys.argv[1]
    rows = [json.loads(line) for line in open(sys.argv[2]) if line.startswith('{')]
    out = sys.argv[3] if len(sys.argv) > 3 else None
    print()
    for r in rows:
        if 'compile' in r and r.get('model', model) == model:
            print(f"{r['compile']}: {r['seconds']:.2f} s wall, {r['cpu_seconds']:.2f} s CPU, peak RSS "
                  f"{r['peak_rss_mb']:.0f} MB, load {r['loadavg_1m']}")
    runs = [r for r in rows if r.get('model') == model and 'method' in r]
    methods = list(dict.fromkeys(r['method'] for r in runs))
    print()
    print('| method | rounds | xaic ms | peer ms | peer/xaic median [min-max] | target | CPU-time peer/xaic [min-max] '
          '| xaic RSS MB | peer RSS MB | RSS x/p | threads x/p | load 1m |')
    print('|---|---|---|---|---|---|---|---|---|---|---|---|')
    for m in methods:
        by = {}
        for r in runs:
            if r['method'] == m:
                by.setdefault(r['round'], {})[r['impl']] = r
        pairs = [v for _, v in sorted(by.items()) if 'xaic' in v and 'peer' in v]
        if not pairs:
            continue
        ratios = [p['peer']['median_ms'] / p['xaic']['median_ms'] for p in pairs]
        xm = statistics.median(p['xaic']['median_ms'] for p in pairs)
        pm = statistics.median(p['peer']['median_ms'] for p in pairs)
        xr = max(p['xaic']['peak_rss_mb'] for p in pairs)
        pr = max(p['peer']['peak_rss_mb'] for p in pairs)
        loads = [p[s]['loadavg_1m'] for p in pairs for s in ('xaic', 'peer')]
        cpu = [p['peer']['cpu_ms'] / p['xaic']['cpu_ms'] for p in pairs
               if p['xaic'].get('cpu_ms') and p['peer'].get('cpu_ms')]
        cpu_cell = f"{statistics.median(cpu):.2f}x [{min(cpu):.2f}-{max(cpu):.2f}]" if cpu else ''
        t = TARGET.get(model, {}).get(m)
        verdict = '' if t is None else f">= {t}x {'met' if statistics.median(ratios) >= t else 'MISSED'}"
        print(f"| {m} | {len(pairs)} | {xm:.1f} | {pm:.1f} | **{statistics.median(ratios):.2f}x** "
              f"[{min(ratios):.2f}-{max(ratios):.2f}] | {verdict} | {cpu_cell} | {xr:.0f} | {pr:.0f} | {xr / pr:.2f} "
              f"{'met' if xr <= pr / 2 else 'MISSED'} | {pairs[0]['xaic']['threads']}/{pairs[0]['peer']['threads']} "
              f"| {min(loads):.1f}-{max(loads):.1f} |")
    if out:
        import numpy as np
        print()
        for m in methods:
            fx, fp = (os.path.join(out, f'{model}_{s}_{m}.npy') for s in ('xaic', 'peer'))
            if os.path.exists(fx) and os.path.exists(fp):
                a, b = np.load(fx), np.load(fp)
                same = a.reshape(len(a), -1).argmax(1).tolist() == b.reshape(len(b), -1).argmax(1).tolist()
                l2 = np.linalg.norm((a - b).ravel()) / np.linalg.norm(b.ravel())
                print(f"agreement {m}: max|xaic - peer| / max|peer| = {np.abs(a - b).max() / np.abs(b).max():.2e}, "
                      f"|xaic - peer|_2 / |peer|_2 = {l2:.2e}, arg-max {'equal' if same else 'DIFFERS'}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
