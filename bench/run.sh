#!/usr/bin/env bash
# Forward latency of the bundled CNN: xaic's generated code against PyTorch (Debian's python3-torch,
# 2 threads), batch 1 and 32, one process per configuration, in one run. Prints JSON lines and a table
# of ratios with peak RSS. Needs /usr/bin/python3 with torch (CI does not run this).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
XAIC_BUILD_DIR=$root/build bash scripts/build.sh >/dev/null
seconds=${BENCH_SECONDS:-3}
results=$(mktemp)
for b in 1 32; do
  build/bench/bench_forward "$b" "$seconds" | tee -a "$results"
  /usr/bin/python3 bench/torch_forward.py --batch "$b" | tee -a "$results"
done
/usr/bin/python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
by = {(r['impl'], r['batch']): r for r in rows}
print(f"{'batch':>5} {'xaic ms':>10} {'torch ms':>10} {'speed-up':>9} {'xaic RSS MB':>12} {'torch RSS MB':>13}")
for b in sorted({r['batch'] for r in rows}):
    x, t = by.get(('xaic', b)), by.get(('pytorch', b))
    if x and t:
        print(f"{b:>5} {x['median_ms']:>10.4f} {t['median_ms']:>10.4f} {t['median_ms']/x['median_ms']:>8.2f}x"
              f" {x['peak_rss_mb']:>12.1f} {t['peak_rss_mb']:>13.1f}")
PY
rm -f "$results"
