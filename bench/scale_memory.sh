#!/usr/bin/env bash
# Peak memory of xaic eval over a million generated 28x28 digits (docs/scaling.md): the peak resident set of the
# whole process (/usr/bin/time's maximum RSS), at 10,000 and 1,000,000 digits, with the default batch (64) and
# with --batch 256. Pixel flipping of the bundled CNN's sensitivity map, one removal of 14x14 patches (the
# cheapest selectivity run: the point is the memory, which does not depend on the metric's steps).
# Environment: XAIC_BUILD_DIR (build/), MEMORY_N (1000000), MEMORY_BATCHES ("64 256").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${XAIC_BUILD_DIR:-$root/build}
out=$build/bench/mem
n=${MEMORY_N:-1000000}
mkdir -p "$out"
[ -f "$out/d10k.idx" ] || /usr/bin/python3 bench/make_digits.py 10000 "$out/d10k.idx"
[ -f "$out/d$n.idx" ] || /usr/bin/python3 bench/make_digits.py "$n" "$out/d$n.idx"
printf 'import "%s/models/mnist_cnn.xai";\nexplain sensitivity for mnist_cnn { method gradient; post square; }\n' \
  "$root" > "$out/sens.xai"
for batch in ${MEMORY_BATCHES:-64 256}; do
  for data in d10k "d$n"; do
    rm -rf "$out/$data.$batch"
    XAI_NUM_THREADS=1 /usr/bin/time -f "%M %e" -o "$out/time" "$build/xaic" eval "$out/sens.xai" --explain sensitivity \
      --data "$out/$data.idx" --metric selectivity --steps 1 --patch 14 --batch $batch --progress 100 \
      -o "$out/$data.$batch" > "$out/$data.$batch.log" 2>&1
    read -r rss secs < "$out/time"
    printf '{"bench":"eval_memory","data":"%s","batch":%d,"peak_rss_mb":%.1f,"seconds":%s,"per_input_npy_mb":%.1f}\n' \
      "$data" "$batch" "$(echo "$rss / 1024" | bc -l)" "$secs" \
      "$(echo "$(stat -c %s "$out/$data.$batch/per_input.npy") / 1048576" | bc -l)"
  done
done
