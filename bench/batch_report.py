#!/usr/bin/python3
"""Summarise bench/batch_throughput.sh's JSON lines: per model and batch the per-sample medians of both sides,
the per-round ratio peer median / xaic median as median [min-max] over the rounds, the forward GFLOP/s of each
side (the peer's count of 2 x multiply-adds, over its median time) and the peak RSS (largest over the rounds).
The per-round summary is bench/imported_report.py's.

    /usr/bin/python3 bench/batch_report.py RESULTS.jsonl
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imported_report import rounds_by, spread, summary  # noqa: E402


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith('{')]
    runs = [r for r in rows if r.get('method') == 'forward' and 'batch' in r]
    print()
    print('| model | batch | rounds | xaic ms/sample | peer ms/sample | peer/xaic median [min-max] '
          '| xaic GFLOP/s | peer GFLOP/s | xaic RSS MB | peer RSS MB | load 1m |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    for (model, batch), pairs in rounds_by(runs, lambda r: (r['model'], r['batch'])).items():
        s = summary(pairs)
        gflop = pairs[0]['peer'].get('forward_gflop')
        rate = (lambda ms: f"{gflop / (ms / 1e3):.0f}") if gflop else (lambda ms: '?')
        print(f"| {model} | {batch} | {s['rounds']} | {s['xaic_ms'] / batch:.2f} | {s['peer_ms'] / batch:.2f} "
              f"| {spread(s['ratios'], bold=True)} | {rate(s['xaic_ms'])} | {rate(s['peer_ms'])} "
              f"| {s['xaic_rss']:.0f} | {s['peer_rss']:.0f} | {s['load']} |")
    return 0


if __name__ == '__main__':
    sys.exit(main())
