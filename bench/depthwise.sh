#!/usr/bin/env bash
# Depthwise conv layers one by one (issue 18): forward and gradient ms and GB/s per MobileNetV2 /
# EfficientNet-B0 depthwise layer, with build/xaic and, when XAIC_BEFORE names another xaic (e.g. a build
# of an older commit), with that one too, in interleaved rounds (the machine is shared: compare medians).
#
#   bash bench/depthwise.sh [BATCH=1] [ROUNDS=3]        results in build/bench/depthwise/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${XAIC_BUILD_DIR:-$root/build}
out=$build/bench/depthwise
batch=${1:-1} rounds=${2:-3}
mkdir -p "$out"
/usr/bin/python3 "$root/bench/depthwise_layers.py" "$out"
versions=(after)
[ -n "${XAIC_BEFORE:-}" ] && versions=(before after)
for v in "${versions[@]}"; do
  xaic=$build/xaic
  [ "$v" = before ] && xaic=$XAIC_BEFORE
  mkdir -p "$out/$v"
  cp "$out/depthwise.xai" "$out/depthwise.safetensors" "$out/$v/"
  "$xaic" "$out/$v/depthwise.xai" -o "$out/$v/depthwise.o"
  cc -O2 -std=gnu11 -Wall -I"$root/runtime" -I"$out/$v" -I"$out" "$root/bench/bench_depthwise.c" \
     "$out/$v/depthwise.o" -L"$build" -lxairt -Wl,-rpath,"$build" -lm -o "$out/$v/bench_depthwise"
done
for r in $(seq "$rounds"); do
  for v in "${versions[@]}"; do
    echo "== $v, round $r, batch $batch"
    "$out/$v/bench_depthwise" "$batch" 0.3
  done
done
