#!/usr/bin/env bash
# Imported ResNet-50 (3x224x224, batch 1) against the peers: PyTorch 1.13 forward, Zennit 0.5.1 LRP with
# ResNetCanonizer, Captum 0.8 Saliency. The model is tests/reference/torchvision_zoo.py's seeded resnet50,
# exported to ONNX by bench/make_resnet50.py, brought in by `xaic import` (timed) and compiled with
# bench/resnet50.xai (timed). Then ROUNDS interleaved rounds: per round and method one xaic process and one
# peer process (which goes first alternates by round), each timing RUNS calls after a warm-up; per method the
# ratio peer median / xaic median of each round, summarised as median [min-max] over the rounds, plus the peak
# RSS (getrusage) of each process. Both sides use the same thread count. See docs/performance.md,
# "ResNet-50 (imported)". Called by bench/run.sh (unless BENCH_SKIP_RESNET=1), or alone:
#
#   bash bench/resnet50.sh
#
# Environment:
#   BENCH_RESNET_ROUNDS=5    interleaved rounds
#   BENCH_RESNET_RUNS=3      timed calls per process (1 untimed warm-up first)
#   BENCH_RESNET_METHODS     default "forward epsilon_plus gradient"; epsilon_gamma_box is also compiled
#   BENCH_THREADS=2          threads of both sides (torch.set_num_threads, XAI_NUM_THREADS)
#   BENCH_RESNET_WEIGHTS     external (default: the driver maps the .safetensors) or embedded
#   PEERS_DIR, XAIC_BUILD_DIR as for bench/run.sh
# Results: one JSON line per process (with "round"), appended to $XAIC_BUILD_DIR/bench/results.jsonl.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${XAIC_BUILD_DIR:-$root/build}
rounds=${BENCH_RESNET_ROUNDS:-5}
runs=${BENCH_RESNET_RUNS:-3}
methods=${BENCH_RESNET_METHODS:-forward epsilon_plus gradient}
threads=${BENCH_THREADS:-2}
weights=${BENCH_RESNET_WEIGHTS:-external}
export XAI_NUM_THREADS=$threads
if [ -z "${PEERS_DIR:-}" ]; then
  if [ -d /root/xai-peers ]; then PEERS_DIR=/root/xai-peers; else PEERS_DIR=$HOME/xai-peers; fi
fi
export PEERS_DIR
py=/usr/bin/python3
out=$build/bench
gen=$out/gen
mkdir -p "$gen"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target xaic xairt >/dev/null
xaic=$build/xaic
results=$(mktemp)
trap 'rm -f "$results"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "# resnet50 $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -n), $(nproc) CPUs, $threads threads each side," \
  "load average at start: $(load)"

[ -f "$out/resnet50.onnx" ] && [ -f "$out/resnet50_input.npy" ] || $py bench/make_resnet50.py "$out"

# ---- xaic import + compile, timed: wall clock, CPU (user + sys) and peak RSS of each xaic process ----
timed() {     # label command...
  local label=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M %U %S' -o "$gen/resnet50.time" "$@"
  t1=$(date +%s.%N)
  read -r rss user sys < <(tail -1 "$gen/resnet50.time")
  printf '{"impl":"xaic","compile":"%s","seconds":%.2f,"cpu_seconds":%.2f,"peak_rss_mb":%.1f,"loadavg_1m":%s}\n' \
    "$label" "$(echo "$t1 - $t0" | bc)" "$(echo "$user + $sys" | bc)" "$(echo "$rss / 1024" | bc -l)" \
    "$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$results"
}
cp bench/resnet50.xai "$out/"
timed "import resnet50.onnx" "$xaic" import "$out/resnet50.onnx" -o "$out/resnet50_net.xai" --name resnet50 \
  --input-range -2.1179039,2.6400001
wopt="" ext=0
[ "$weights" = external ] && wopt=--weights=external ext=1
timed "compile resnet50.xai $wopt" "$xaic" "$out/resnet50.xai" -o "$gen/resnet50.o" $wopt
for m in $methods; do
  fw=0; [ "$m" = forward ] && fw=1
  cc -O2 -std=gnu11 -Wall -Wextra -I"$root/runtime" -I"$gen" -DXB_HEADER='"resnet50.h"' -DXB_NET=resnet50 \
     -DXB_ENTRY="$m" -DXB_FORWARD=$fw -DXB_EXTERNAL=$ext "$root/bench/bench_explain.c" "$gen/resnet50.o" \
     -L"$build" -lxairt -Wl,-rpath,"$build" -o "$out/bench_resnet50_$m"
done

# ---- interleaved rounds; round 1 also saves both sides' results for the agreement check ----
xaic_run() {  # round method
  local save=""; [ "$1" = 1 ] && save=$out/resnet50_xaic_$2.npy
  BENCH_SAVE_OUTPUT=$save "$out/bench_resnet50_$2" 1 0 "$out/resnet50_input.npy" \
    "$([ $ext = 1 ] && echo "$out/resnet50_net.safetensors" || echo -)" "$runs" "$runs" | sed "s/^{/{\"round\":$1,/"
}
peer_run() {  # round method
  local save=(); [ "$1" = 1 ] && save=(--save-output "$out/resnet50_peer_$2.npy")
  $py bench/peer_bench.py --model resnet50 --method "$2" --batch 1 --seconds 0 --min-runs "$runs" \
    --max-runs "$runs" --threads "$threads" --input "$out/resnet50_input.npy" "${save[@]}" \
    | sed "s/^{/{\"round\": $1, /"
}
for r in $(seq 1 "$rounds"); do
  for m in $methods; do
    if [ $((r % 2)) = 1 ]; then xaic_run "$r" "$m"; peer_run "$r" "$m"; else peer_run "$r" "$m"; xaic_run "$r" "$m"; fi \
      | tee -a "$results"
  done
done
echo "# resnet50 load average at end: $(load)"
cat "$results" >> "$out/results.jsonl"
$py bench/resnet50_report.py "$results" "$out"
