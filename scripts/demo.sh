#!/usr/bin/env bash
# The main job: compile the bundled MNIST CNN with xaic, link it into examples/classify as a user
# would, and classify the bundled sample digits; then the same through the JIT (`xaic run`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
XAIC_BUILD_DIR=$root/build bash scripts/build.sh >/dev/null
out=${XAIC_DEMO_OUT:-$root/build/demo}
mkdir -p "$out"
echo "== classify: generated object linked into a C program"
build/examples/classify models/samples/digits.npy
echo "== xaic run (JIT) on every bundled model"
for m in models/*.xai; do
  name=$(basename "$m" .xai)
  input=models/samples/digits.npy
  case "$name" in *mlp*) input=models/samples/digits_flat.npy ;; esac
  build/xaic run "$m" --forward --input "$input" -o "$out/$name.logits.npy"
  echo "$name: logits -> $out/$name.logits.npy"
done
