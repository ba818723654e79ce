#!/usr/bin/env bash
# Scaling of xaic run / xaic eval over data sets on this machine (docs/scaling.md): the same work, one run each,
# as 1 rank x 1 thread, 2 ranks x 1 thread (mpirun) and 1 rank x 2 threads (XAI_NUM_THREADS=2), interleaved and
# repeated; prints one JSON line per run (also appended to $XAIC_BUILD_DIR/bench/scale.jsonl) and a table of
# medians with their spread. Every configuration's outputs are compared byte for byte with the first's.
#   CNN:    xaic eval selectivity (pixel flipping) of LRP epsilon-plus on the bundled CNN, SCALE_CNN_N generated
#           digits (default 4000), 10 removals
#   VGG-16: xaic run of LRP epsilon-plus on SCALE_VGG_N inputs (default 48) of 3x224x224, one image per chunk
# The job's throughput is measured from the moment every rank has compiled (xaic's own last progress line: the
# inputs of the job over its elapsed time); the wall time of the whole command (compilation included) is
# reported beside it.
# Also the CPU time of each command (all its processes): on a machine shared with other work the wall-clock
# numbers move with the load (recorded too), the CPU time much less.
# Environment: SCALE_REPEATS (3), SCALE_CNN_N, SCALE_VGG_N, SCALE_SKIP_VGG=1, XAIC_BUILD_DIR (build/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${XAIC_BUILD_DIR:-$root/build}
out=$build/bench/scale
mkdir -p "$out"
repeats=${SCALE_REPEATS:-3}
cnn_n=${SCALE_CNN_N:-4000}
vgg_n=${SCALE_VGG_N:-48}
py=/usr/bin/python3
mpirun="mpirun --allow-run-as-root --oversubscribe --mca btl self,vader -n 2"
xaic=$build/xaic
"$xaic" --version | grep -q "Open MPI" || { echo "scale.sh: $xaic is built without Open MPI" >&2; exit 2; }
results=$build/bench/scale.jsonl

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -n), $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p')), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
[ -f "$out/digits.npy" ] || $py bench/make_digits.py "$cnn_n" "$out/digits.npy"
if [ "${SCALE_SKIP_VGG:-0}" != 1 ]; then
  if [ ! -f "$build/bench/vgg16.safetensors" ]; then $py bench/make_vgg16_weights.py "$build/bench"; fi
  cp bench/vgg16_net.xai bench/vgg16.xai "$build/bench/"
  [ -f "$out/vgg_inputs.npy" ] || $py -c "
import numpy as np
x = np.random.default_rng(1).normal(0, 1, ($vgg_n, 3, 224, 224)).clip(-2.1179039, 2.6400001).astype(np.float32)
np.save('$out/vgg_inputs.npy', x)"
fi

# one run: NAME CONFIG OUTPUT_TO_COMPARE COMMAND...
measure() {
  local name=$1 config=$2 result=$3; shift 3
  local log=$out/$name.$config.log t0 t1 threads=1
  [ "$config" = 1x2 ] && threads=2
  rm -rf "$out/$name.$config.out" "$out/$name.$config.out.npy"
  t0=$(date +%s.%N)
  # /usr/bin/time: the CPU time of the command and every process it waited for (mpirun's ranks included)
  if [ "$config" = 2x1 ]; then
    XAI_NUM_THREADS=1 /usr/bin/time -f 'cpu %U %S' -o "$log.time" $mpirun "$@" >"$log" 2>&1
  else
    XAI_NUM_THREADS=$threads /usr/bin/time -f 'cpu %U %S' -o "$log.time" "$@" >"$log" 2>&1
  fi
  t1=$(date +%s.%N)
  # the job's last progress line: "..., R inputs/s, T elapsed"
  local line rate
  line=$(grep -E 'inputs/s' "$log" | tail -1)
  rate=$(echo "$line" | sed -E 's/.* ([0-9.e+]+) inputs\/s.*/\1/')
  local same=true
  if [ -n "${first_output[$name]:-}" ]; then cmp -s "${first_output[$name]}" "$result" || same=false; else first_output[$name]=$result; fi
  local cpu
  cpu=$(awk '/^cpu/ {print $2 + $3}' "$log.time")
  printf '{"bench":"%s","config":"%s","job_inputs_per_s":%s,"wall_s":%.2f,"cpu_s":%s,"load":"%s","identical_to_first":%s}\n' \
    "$name" "$config" "$rate" "$(echo "$t1 - $t0" | bc)" "$cpu" "$(cut -d' ' -f1 /proc/loadavg)" "$same" | tee -a "$results" "$out/runs.jsonl"
}
declare -A first_output
rm -f "$out/runs.jsonl"
for rep in $(seq 1 "$repeats"); do
  for config in 1x1 2x1 1x2; do
    measure cnn "$config" "$out/cnn.$config.out/per_input.npy" "$xaic" eval tests/fixtures/eval/mnist_cnn_six.xai \
      --explain epsilon_plus --data "$out/digits.npy" --metric selectivity --steps 10 --batch 32 --progress 1000000 \
      -o "$out/cnn.$config.out"
    if [ "${SCALE_SKIP_VGG:-0}" != 1 ]; then
      measure vgg16 "$config" "$out/vgg16.$config.out.npy" "$xaic" run "$build/bench/vgg16.xai" --explain epsilon_plus \
        --input "$out/vgg_inputs.npy" -o "$out/vgg16.$config.out.npy" --batch 1 --chunk 1 --progress 1000000
    fi
  done
done

$py - "$out/runs.jsonl" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
print("\n| benchmark | config | job inputs/s (median, min-max) | speed-up vs 1x1 | wall s (median) | CPU s (median) | identical |")
print("|---|---|---|---|---|---|---|")
for bench in dict.fromkeys(r["bench"] for r in runs):
    base = statistics.median(r["job_inputs_per_s"] for r in runs if r["bench"] == bench and r["config"] == "1x1")
    for config in ("1x1", "2x1", "1x2"):
        rs = [r for r in runs if r["bench"] == bench and r["config"] == config]
        rates = [r["job_inputs_per_s"] for r in rs]
        med = statistics.median(rates)
        print(f"| {bench} | {config} | {med:.3g} ({min(rates):.3g}-{max(rates):.3g}) | {med / base:.2f}x | "
              f"{statistics.median(r['wall_s'] for r in rs):.1f} | {statistics.median(r.get('cpu_s', float('nan')) for r in rs):.1f} | "
              f"{all(r['identical_to_first'] for r in rs)} |")
EOF
