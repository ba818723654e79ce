#!/usr/bin/env bash
# xaic's generated code against the peers (PyTorch 1.13 forward, Zennit 0.5.1 LRP on Debian's python3-torch,
# 2 threads), in one run: the bundled CNN at batch 1 and 32 and VGG-16 at batch 1, each with forward,
# LRP epsilon_plus and LRP epsilon_gamma_box. One process per (implementation, configuration) so that peak
# RSS is per configuration; xaic and the peer alternate. Prints the xaic compile times, one JSON line per
# measurement and a table of ratios (peer time / xaic time). See docs/performance.md.
#
# Environment:
#   BENCH_SECONDS=3      timed seconds per configuration (the CNN; at least 10 calls)
#   BENCH_VGG_RUNS=3     timed calls per VGG-16 configuration (a median of that many; 1 untimed warm-up)
#   BENCH_SKIP_VGG=1     skip VGG-16 (its weights, 528 MB, are written to build/bench/ on first use)
#   BENCH_SKIP_PEAK=1    skip the 2048^2 matmul peak measurement (peers' peak_flops.py)
#   BENCH_THREADS=2      the peer's torch.set_num_threads
#   PEERS_DIR            Zennit / Captum trees (default /root/xai-peers, else ~/xai-peers)
#   PEERS_HARNESS        the peers' models.py, safetensors_io.py, peak_flops.py (default ../shared/peers)
#   XAIC_BUILD_DIR       build directory (default build/)
# Results are also appended to $XAIC_BUILD_DIR/bench/results.jsonl. Needs /usr/bin/python3 with torch.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${XAIC_BUILD_DIR:-$root/build}
seconds=${BENCH_SECONDS:-3}
vgg_runs=${BENCH_VGG_RUNS:-3}
threads=${BENCH_THREADS:-2}
if [ -z "${PEERS_DIR:-}" ]; then
  if [ -d /root/xai-peers ]; then PEERS_DIR=/root/xai-peers; else PEERS_DIR=$HOME/xai-peers; fi
fi
export PEERS_DIR
export PEERS_HARNESS=${PEERS_HARNESS:-$root/../shared/peers}
py=/usr/bin/python3
out=$build/bench
gen=$out/gen
mkdir -p "$gen"

# only what the benchmark needs (xaic and libxairt), not the whole tree
bash scripts/install-deps.sh
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target xaic xairt >/dev/null
xaic=$build/xaic
results=$(mktemp)
trap 'rm -f "$results"' EXIT

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -n), $(nproc) CPUs, load average at start: $(load)"
rev="not a git checkout"
if git rev-parse --git-dir >/dev/null 2>&1; then
  rev="commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- compiler runtime grammar || echo ', compiler/runtime modified')"
fi
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $rev"
if [ "${BENCH_SKIP_PEAK:-0}" != 1 ]; then
  $py "$PEERS_HARNESS/peak_flops.py" 2048 5 | sed 's/^/# /'
fi

# ---- compile: xaic FILE.xai -> OBJ + header, timed (wall clock and peak RSS of the xaic process) ----
compile() {   # name xai [xaic options...]
  local name=$1 xai=$2; shift 2
  local t0 t1 rss
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$gen/$name.time" "$xaic" "$xai" -o "$gen/$name.o" "$@"
  t1=$(date +%s.%N)
  rss=$(tail -1 "$gen/$name.time")
  printf '{"impl":"xaic","compile":"%s","options":"%s","seconds":%.2f,"peak_rss_mb":%.1f,"object_mb":%.1f}\n' \
    "${xai#$root/}" "$*" "$(echo "$t1 - $t0" | bc)" "$(echo "$rss / 1024" | bc -l)" \
    "$(echo "$(stat -c %s "$gen/$name.o") / 1048576" | bc -l)" | tee -a "$results"
}

# ---- one driver per (object, entry): bench/bench_explain.c compiled against the generated header ----
driver() {    # name net entry external
  local name=$1 net=$2 entry=$3 ext=$4 fw=0
  [ "$entry" = forward ] && fw=1
  cc -O2 -std=gnu11 -Wall -Wextra -I"$root/runtime" -I"$gen" -DXB_HEADER="\"$name.h\"" -DXB_NET="$net" \
     -DXB_ENTRY="$entry" -DXB_FORWARD=$fw -DXB_EXTERNAL="$ext" "$root/bench/bench_explain.c" "$gen/$name.o" \
     -L"$build" -lxairt -Wl,-rpath,"$build" -o "$out/bench_${net}_$entry"
}

methods="forward epsilon_plus epsilon_gamma_box"
compile mnist_cnn_explain "$root/bench/mnist_cnn_explain.xai"
for m in $methods; do driver mnist_cnn_explain mnist_cnn "$m" 0; done

if [ "${BENCH_SKIP_VGG:-0}" != 1 ]; then
  if [ ! -f "$out/vgg16.safetensors" ] || [ ! -f "$out/vgg16_input.npy" ]; then
    $py bench/make_vgg16_weights.py "$out"
  fi
  cp bench/vgg16.xai "$out/vgg16.xai"     # its `weights "vgg16.safetensors"` resolves next to it
  compile vgg16 "$out/vgg16.xai" --weights=external
  for m in $methods; do driver vgg16 vgg16 "$m" 1; done
fi

# ---- measurements, xaic and the peer alternately ----
for b in 1 32; do
  for m in $methods; do
    "$out/bench_mnist_cnn_$m" "$b" "$seconds" models/samples/digits.npy | tee -a "$results"
    $py bench/peer_bench.py --model mnist_cnn --method "$m" --batch "$b" --seconds "$seconds" \
        --threads "$threads" | tee -a "$results"
  done
done
if [ "${BENCH_SKIP_VGG:-0}" != 1 ]; then
  for m in $methods; do
    "$out/bench_vgg16_$m" 1 0 "$out/vgg16_input.npy" "$out/vgg16.safetensors" "$vgg_runs" "$vgg_runs" \
      | tee -a "$results"
    $py bench/peer_bench.py --model vgg16 --method "$m" --batch 1 --seconds 0 --min-runs "$vgg_runs" \
        --max-runs "$vgg_runs" --threads "$threads" --input "$out/vgg16_input.npy" | tee -a "$results"
  done
fi
echo "# load average at end: $(load)"
cat "$results" >> "$out/results.jsonl"

$py - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
comp = [r for r in rows if 'compile' in r]
runs = [r for r in rows if 'method' in r]
print()
for r in comp:
    print(f"compile {r['compile']} {r['options']}: {r['seconds']:.2f} s wall, xaic peak RSS {r['peak_rss_mb']:.0f} MB,"
          f" object {r['object_mb']:.1f} MB")
by = {(r['impl'], r['model'], r['method'], r['batch']): r for r in runs}
keys = []
for r in runs:
    k = (r['model'], r['method'], r['batch'])
    if k not in keys:
        keys.append(k)
print()
print('| model | method | batch | xaic ms | peer ms | peer/xaic | xaic ms/sample | peer ms/sample | xaic min ms '
      '| peer min ms | runs x/p | xaic RSS MB | peer RSS MB | xaic GFLOP/s | peer GFLOP/s | load 1m |')
print('|' + '---|' * 16)
for k in keys:
    x, p = by.get(('xaic',) + k), by.get(('peer',) + k)
    if not (x and p):
        continue
    fx = fp = ''
    if k[1] == 'forward' and p.get('forward_gflop'):
        fx = f"{p['forward_gflop'] / x['median_ms'] * 1e3:.1f}"
        fp = f"{p['forward_gflop'] / p['median_ms'] * 1e3:.1f}"
    print(f"| {k[0]} | {k[1]} | {k[2]} | {x['median_ms']:.3f} | {p['median_ms']:.3f} | "
          f"{p['median_ms'] / x['median_ms']:.2f}x | {x['per_sample_ms']:.3f} | {p['per_sample_ms']:.3f} | "
          f"{x['min_ms']:.3f} | {p['min_ms']:.3f} | {x['runs']}/{p['runs']} | {x['peak_rss_mb']:.1f} | "
          f"{p['peak_rss_mb']:.1f} | {fx} | {fp} | {x['loadavg_1m']:.2f}/{p['loadavg_1m']:.2f} |")
PY
