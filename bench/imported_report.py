#!/usr/bin/python3
"""Summarise bench/imported.sh's JSON lines (bench/resnet50.sh, bench/vit_b16.sh, bench/mobilenet_v2.sh,
bench/efficientnet_b0.sh) for one model: per method the per-round ratio peer median / xaic median as median
[min-max] over the rounds, the same for the CPU time per call (cpu_ms: robust to other load at one thread; at two
it also counts either side's threads spinning while they wait), both sides' medians (median over rounds of each
process's median), peak RSS (largest over the rounds) and the load; then the agreement of round 1's saved
outputs (OUTDIR/MODEL_{xaic,peer}_METHOD.npy).
The per-round summary (rounds_by, summary, spread, verdict) is shared with bench/run_report.py.

    /usr/bin/python3 bench/imported_report.py MODEL RESULTS.jsonl [OUTDIR]
"""
import json
import os
import statistics
import sys

# the goals, peer time / xaic time at least (and xaic's peak RSS at most half the peer's): issue 18 (ResNet-50's
# forward, epsilon_gamma_box and gradient; its epsilon_plus and the RSS from issue 14), issue 21 (vit_b_16), issue 18
# (mobilenet_v2, efficientnet_b0: no gradient goal)
TARGET = {'resnet50': {'forward': 1.5, 'epsilon_plus': 2.0, 'epsilon_gamma_box': 4.0, 'gradient': 1.3},
          'vit_b_16': {'forward': 1.2, 'cp_lrp': 2.0, 'gradient': 1.0},
          'mobilenet_v2': {'forward': 1.5, 'epsilon_plus': 3.0},
          'efficientnet_b0': {'forward': 1.5, 'epsilon_plus': 3.0}}


def rounds_by(runs, key):
    """Group per-process JSON lines that carry "round" by key(line): {key: [{'xaic': line, 'peer': line}, ...]}
    with one entry per round in which both sides ran, in round order; the keys in the order first seen."""
    by = {}
    for r in runs:
        by.setdefault(key(r), {}).setdefault(r['round'], {})[r['impl']] = r
    pairs = {k: [v for _, v in sorted(rounds.items()) if 'xaic' in v and 'peer' in v] for k, rounds in by.items()}
    return {k: v for k, v in pairs.items() if v}


def summary(pairs):
    """One configuration's rounds (from rounds_by): the per-round ratios peer median / xaic median and their
    median, the same for cpu_ms (where both sides report it), each side's median over the rounds of its
    median ms and smallest min ms, the median timed calls per process, the largest peak RSS, the load range."""
    ratios = [p['peer']['median_ms'] / p['xaic']['median_ms'] for p in pairs]
    loads = [p[s]['loadavg_1m'] for p in pairs for s in ('xaic', 'peer')]
    res = {'rounds': len(pairs), 'ratios': ratios, 'ratio': statistics.median(ratios),
           'cpu_ratios': [p['peer']['cpu_ms'] / p['xaic']['cpu_ms'] for p in pairs
                          if p['xaic'].get('cpu_ms') and p['peer'].get('cpu_ms')],
           'load': f"{min(loads):.1f}-{max(loads):.1f}"}
    for s in ('xaic', 'peer'):
        res[f'{s}_ms'] = statistics.median(p[s]['median_ms'] for p in pairs)
        res[f'{s}_min_ms'] = min(p[s]['min_ms'] for p in pairs)
        res[f'{s}_runs'] = round(statistics.median(p[s]['runs'] for p in pairs))
        res[f'{s}_rss'] = max(p[s]['peak_rss_mb'] for p in pairs)
    return res


def spread(values, bold=False):
    """median [min-max] of ratios ('' for none), the median in bold for the headline ratio"""
    if not values:
        return ''
    med = f"{statistics.median(values):.2f}x"
    return f"{f'**{med}**' if bold else med} [{min(values):.2f}-{max(values):.2f}]"


def verdict(target, ratio):
    return '' if target is None else f">= {target}x {'met' if ratio >= target else 'MISSED'}"


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
    for (m,), pairs in rounds_by(runs, lambda r: (r['method'],)).items():
        s = summary(pairs)
        xr, pr = s['xaic_rss'], s['peer_rss']
        print(f"| {m} | {s['rounds']} | {s['xaic_ms']:.1f} | {s['peer_ms']:.1f} | {spread(s['ratios'], bold=True)} "
              f"| {verdict(TARGET.get(model, {}).get(m), s['ratio'])} | {spread(s['cpu_ratios'])} "
              f"| {xr:.0f} | {pr:.0f} "
              f"| {xr / pr:.2f} {'met' if xr <= pr / 2 else 'MISSED'} "
              f"| {pairs[0]['xaic']['threads']}/{pairs[0]['peer']['threads']} | {s['load']} |")
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
