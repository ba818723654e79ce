#!/usr/bin/env bash
# An imported torchvision model (3x224x224, batch 1) against its peers, the common part of bench/resnet50.sh,
# bench/vit_b16.sh, bench/mobilenet_v2.sh and bench/efficientnet_b0.sh (which set the model, methods and round
# counts; run those). The model is
# tests/reference/torchvision_zoo.py's seeded build, exported to ONNX by bench/make_torchvision.py, brought in
# by `xaic import` (timed) and compiled with bench/MODEL.xai (timed). Then ROUNDS interleaved rounds: per round
# and method one xaic process and one peer process (bench/peer_bench.py; which goes first alternates by round:
# A B B A ...), each timing RUNS calls after a warm-up; per method the ratio peer median / xaic median of each
# round, summarised as median [min-max] over the rounds by bench/imported_report.py, plus the peak RSS
# (getrusage) of each process. Both sides use the same thread count.
#
#   bash bench/imported.sh MODEL ROUNDS RUNS "METHODS" WEIGHTS
#
# MODEL: resnet50 | vit_b_16 | mobilenet_v2 | efficientnet_b0. WEIGHTS: external (the driver maps the .safetensors) or embedded.
# Environment: BENCH_THREADS=2 (torch.set_num_threads, XAI_NUM_THREADS), PEERS_DIR, XAIC_BUILD_DIR as for
# bench/run.sh.
# Results: one JSON line per xaic import / compile and per process (with "round"), appended to
# $XAIC_BUILD_DIR/bench/results.jsonl.
set -euo pipefail
[ $# = 5 ] || { sed -n '2,/^set -e/p' "$0" | sed '$d' >&2; exit 2; }
model=$1 rounds=$2 runs=$3 methods=$4 weights=$5
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${XAIC_BUILD_DIR:-$root/build}
threads=${BENCH_THREADS:-2}
export XAI_NUM_THREADS=$threads
py=/usr/bin/python3
out=$build/bench
gen=$out/gen
mkdir -p "$gen"
source "$root/bench/setup.sh"
rev="not a git checkout"
if git rev-parse --git-dir >/dev/null 2>&1; then
  rev="commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- compiler runtime grammar || echo ', compiler/runtime modified')"
fi
echo "# $model $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -n), $(nproc) CPUs, $threads threads each side, $rev," \
  "load average at start: $(load)"

[ -f "$out/$model.onnx" ] && [ -f "$out/${model}_input.npy" ] || $py bench/make_torchvision.py "$model" "$out"

# ---- xaic import + compile, timed: wall clock, CPU (user + sys) and peak RSS of each xaic process ----
timed() {     # label command...
  local label=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M %U %S' -o "$gen/$model.time" "$@"
  t1=$(date +%s.%N)
  read -r rss user sys < <(tail -1 "$gen/$model.time")
  printf '{"impl":"xaic","model":"%s","compile":"%s","seconds":%.2f,"cpu_seconds":%.2f,"peak_rss_mb":%.1f,"loadavg_1m":%s}\n' \
    "$model" "$label" "$(echo "$t1 - $t0" | bc)" "$(echo "$user + $sys" | bc)" "$(echo "$rss / 1024" | bc -l)" \
    "$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$results"
}
cp "bench/$model.xai" "$out/"
timed "import $model.onnx" "$xaic" import "$out/$model.onnx" -o "$out/${model}_net.xai" --name "$model" \
  --input-range -2.1179039,2.6400001
wopt="" ext=0
[ "$weights" = external ] && wopt=--weights=external ext=1
timed "compile $model.xai $wopt" "$xaic" "$out/$model.xai" -o "$gen/$model.o" $wopt
for m in $methods; do
  fw=0; [ "$m" = forward ] && fw=1
  cc -O2 -std=gnu11 -Wall -Wextra -I"$root/runtime" -I"$gen" -DXB_HEADER="\"$model.h\"" -DXB_NET="$model" \
     -DXB_ENTRY="$m" -DXB_FORWARD=$fw -DXB_EXTERNAL=$ext "$root/bench/bench_explain.c" "$gen/$model.o" \
     -L"$build" -lxairt -lm -Wl,-rpath,"$build" -o "$out/bench_${model}_$m"
done

# ---- interleaved rounds; round 1 also saves both sides' results for the agreement check ----
xaic_run() {  # round method
  local save=""; [ "$1" = 1 ] && save=$out/${model}_xaic_$2.npy
  BENCH_SAVE_OUTPUT=$save "$out/bench_${model}_$2" 1 0 "$out/${model}_input.npy" \
    "$([ $ext = 1 ] && echo "$out/${model}_net.safetensors" || echo -)" "$runs" "$runs" | round_tag "$1"
}
peer_run() {  # round method
  local save=(); [ "$1" = 1 ] && save=(--save-output "$out/${model}_peer_$2.npy")
  $py bench/peer_bench.py --model "$model" --method "$2" --batch 1 --seconds 0 --min-runs "$runs" \
    --max-runs "$runs" --threads "$threads" --input "$out/${model}_input.npy" "${save[@]}" \
    | round_tag "$1"
}
for r in $(seq 1 "$rounds"); do
  for m in $methods; do
    if [ $((r % 2)) = 1 ]; then xaic_run "$r" "$m"; peer_run "$r" "$m"; else peer_run "$r" "$m"; xaic_run "$r" "$m"; fi \
      | tee -a "$results"
  done
done
echo "# $model load average at end: $(load)"
cat "$results" >> "$out/results.jsonl"
$py bench/imported_report.py "$model" "$results" "$out"
