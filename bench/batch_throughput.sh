#!/usr/bin/env bash
# Batch throughput (issue 18): the per-sample time of VGG-16's and ResNet-50's forward pass at larger batches
# against PyTorch 1.13, and how close each side comes to the machine's matmul peak. The objects and drivers are
# the ones bench/run.sh (VGG-16) and bench/resnet50.sh (ResNet-50) build; this script builds them first when
# they are missing. Per model and batch, ROUNDS interleaved rounds of one xaic process and one peer process
# (which goes first alternates by round), each timing RUNS calls after a warm-up, both sides on the same thread
# count and the same input repeated to the batch. Summary (bench/batch_report.py): per configuration the
# per-sample medians, the ratio peer / xaic as median [min-max] over the rounds, the GFLOP/s of each side
# (2 x multiply-adds of the convs and linear layers, from the peer's count) and peak RSS. See
# docs/performance.md, "Batch throughput".
#
#   bash bench/batch_throughput.sh
#
# Environment:
#   BENCH_BATCH_MODELS="vgg16 resnet50"   models
#   BENCH_BATCHES="1 32 128"              batch sizes
#   BENCH_BATCH_ROUNDS=3                  interleaved rounds
#   BENCH_BATCH_RUNS=2                    timed calls per process (after an untimed warm-up)
#   BENCH_THREADS=2, PEERS_DIR, XAIC_BUILD_DIR as for bench/run.sh
# Results: one JSON line per process (with "round"), appended to $XAIC_BUILD_DIR/bench/results.jsonl.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${XAIC_BUILD_DIR:-$root/build}
threads=${BENCH_THREADS:-2}
export XAI_NUM_THREADS=$threads
models=${BENCH_BATCH_MODELS:-vgg16 resnet50}
batches=${BENCH_BATCHES:-1 32 128}
rounds=${BENCH_BATCH_ROUNDS:-3}
runs=${BENCH_BATCH_RUNS:-2}
py=/usr/bin/python3
out=$build/bench
source "$root/bench/setup.sh"

# the drivers, from the scripts that own them (a build only where one is missing)
for model in $models; do
  if [ ! -x "$out/bench_${model}_forward" ]; then
    case $model in
      vgg16) BENCH_ONLY=forward BENCH_SKIP_RESNET=1 BENCH_SKIP_VIT=1 BENCH_SKIP_MOBILE=1 BENCH_SKIP_LAYERS=1 \
               BENCH_SKIP_PEAK=1 BENCH_ROUNDS=1 XAIC_BUILD_DIR=$build bash bench/run.sh >/dev/null ;;
      resnet50) BENCH_RESNET_ROUNDS=1 BENCH_RESNET_METHODS=forward XAIC_BUILD_DIR=$build \
                  bash bench/resnet50.sh >/dev/null ;;
      *) echo "batch_throughput.sh: no driver recipe for '$model' (vgg16, resnet50)" >&2; exit 2 ;;
    esac
  fi
done
rev="not a git checkout"
git rev-parse --git-dir >/dev/null 2>&1 && rev="commit $(git rev-parse --short HEAD)"
echo "# batch throughput $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -n), $(nproc) CPUs, $threads threads each side," \
  "$rev, load average at start: $(load)"

weights_of() { [ "$1" = vgg16 ] && echo "$out/vgg16.safetensors" || echo "$out/${1}_net.safetensors"; }
xaic_run() {  # round model batch
  "$out/bench_$2_forward" "$3" 0 "$out/$2_input.npy" "$(weights_of "$2")" "$runs" "$runs" | round_tag "$1"
}
peer_run() {  # round model batch
  $py bench/peer_bench.py --model "$2" --method forward --batch "$3" --seconds 0 --min-runs "$runs" \
    --max-runs "$runs" --threads "$threads" --input "$out/$2_input.npy" | round_tag "$1"
}
for model in $models; do
  for b in $batches; do
    for r in $(seq 1 "$rounds"); do
      if [ $((r % 2)) = 1 ]; then xaic_run "$r" "$model" "$b"; peer_run "$r" "$model" "$b"
      else peer_run "$r" "$model" "$b"; xaic_run "$r" "$model" "$b"; fi | tee -a "$results"
    done
  done
done
echo "# load average at end: $(load)"
cat "$results" >> "$out/results.jsonl"
$py bench/batch_report.py "$results"
