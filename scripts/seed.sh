#!/usr/bin/env bash
# The seed tutorial, notebook by notebook (technique spec §2; docs/seed.md): one command per notebook, on
# the bundled models (models/) and sample inputs (models/samples/), with xaic run / xaic eval.
#   bash scripts/seed.sh list        the notebooks
#   bash scripts/seed.sh 3.1         one notebook -> build/seed/3.1/
#   bash scripts/seed.sh all         every notebook
# Environment: SEED_OUT (default build/seed), SEED_NO_BUILD=1 (skip install-deps and the build; then XAIC,
# default build/xaic, is the compiler to use).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

notebooks=(1.1 1.3 2.1 2.2 2.3 2.4 2.5 3.1 3.2 3.3 3.4 3.5 4.1 4.2 4.3 5.1 5.2)
declare -A title=(
  [1.1]="activation maximisation (input space)"
  [1.3]="activation maximisation in code space (generator)"
  [2.1]="sensitivity analysis"
  [2.2]="simple Taylor decomposition"
  [2.3]="layer-wise relevance propagation (alpha-beta)"
  [2.4]="deep Taylor decomposition"
  [2.5]="DeepLIFT (Rescale)"
  [3.1]="deconvolution of pool3 feature maps"
  [3.2]="backpropagation: class model and saliency"
  [3.3]="guided backpropagation"
  [3.4]="integrated gradients"
  [3.5]="SmoothGrad (with gradient, IG, sigma and N sweeps)"
  [4.1]="CAM"
  [4.2]="Grad-CAM"
  [4.3]="Grad-CAM++"
  [5.1]="explanation continuity"
  [5.2]="explanation selectivity (pixel flipping)"
)

usage() {
  echo "usage: bash scripts/seed.sh NOTEBOOK|all|list   (writes build/seed/NOTEBOOK/; docs/seed.md)" >&2
  exit 2
}
[ $# -eq 1 ] || usage
if [ "$1" = list ]; then
  for n in "${notebooks[@]}"; do printf '%-4s %s\n' "$n" "${title[$n]}"; done
  exit 0
fi
if [ "$1" != all ] && [ -z "${title[$1]+x}" ]; then
  echo "seed.sh: unknown notebook '$1' (bash scripts/seed.sh list)" >&2
  exit 2
fi

if [ "${SEED_NO_BUILD:-0}" != 1 ]; then
  bash scripts/install-deps.sh
  XAIC_BUILD_DIR=$root/build bash scripts/build.sh >/dev/null
fi
xaic=${XAIC:-$root/build/xaic}
[ -x "$xaic" ] || { echo "seed.sh: no compiler at $xaic (bash scripts/build.sh, or XAIC=...)" >&2; exit 1; }
outroot=${SEED_OUT:-$root/build/seed}
s=models/samples
digits=$s/digits.npy
flat=$s/digits_flat.npy
ex=examples/seed

run() { # run ARGS... : xaic run, printing the command and, quietly, only the last lines
  echo "+ xaic run $*"
  "$xaic" run "$@"
}

# one digit per class in a row, explained for its own class (the seed explains class c on digit c);
# the grids above explain the arg-max, which differs where a network misclassifies a sample
own_class() { # own_class FILE.xai EXPLAIN DIGIT OUT [run options]
  local f=$1 e=$2 k=$3 o=$4
  shift 4
  run "$f" --explain "$e" --input $s/digit_$k.npy --target "$k" -o "$o" "$@" # [1, 1, 28, 28]: fits [784] too
}

nb_1.1() {
  # the seed's settings: from 0, Adam lr 0.001, 5000 steps, lambda 0.1 towards the class-mean image
  run models/mnist_mlp_am.xai --explain proto_seed --baseline $s/class_mean_images.npy -o "$out/prototypes.png"
  # xaic's default: lambda 0.01 towards the start (0), lr 0.01, 1000 steps
  run models/mnist_mlp_am.xai --explain proto -o "$out/prototypes_blank.png"
}
nb_1.3() {
  run $ex/1_3_am_code.xai --explain proto_z_seed --baseline $s/class_mean_codes.npy -o "$out/prototypes_code.png"
}
nb_2.1() {
  run models/mnist_cnn_gradients.xai --explain sensitivity --input $digits -o "$out/sensitivity.png" --overlay --colormap hot
  run models/mnist_cnn_gradients.xai --explain sensitivity --input $digits -o "$out/sensitivity_map.png" --colormap hot
  run models/mnist_cnn_gradients.xai --explain sensitivity --input $digits -o "$out/sensitivity.npy"
}
nb_2.2() {
  run $ex/2_2_std.xai --explain std --input $flat -o "$out/std.png" --overlay
  run $ex/2_2_std.xai --explain std --input $flat -o "$out/std_map.png"
  run $ex/2_2_std.xai --explain std --input $flat -o "$out/std.npy"
  run models/mnist_mlp_nobias.xai --forward --input $flat -o "$out/logits.npy"
  # Euler: a bias-free ReLU net is positively homogeneous, so sum_i x_i dS_c/dx_i = S_c(x)
  /usr/bin/python3 -c "import numpy as np
r = np.load('$out/std.npy').reshape(10, -1).sum(1); l = np.load('$out/logits.npy').max(1)
print('sum of R:', np.round(r, 4)); print('S_c(x):  ', np.round(l, 4))"
  own_class $ex/2_2_std.xai std 8 "$out/std_digit8_class8.png" # mnist_mlp_nobias calls the 8 a 3
}
nb_2.3() {
  for e in alpha1_beta0 alpha2_beta1; do
    run models/mnist_mlp_deep_lrp.xai --explain $e --input $flat -o "$out/$e.png" --stats
    run models/mnist_mlp_deep_lrp.xai --explain $e --input $flat -o "$out/$e.npy"
  done
  for k in 2 3; do # mnist_mlp_deep calls the 2 a 1 and the 3 a 9
    own_class models/mnist_mlp_deep_lrp.xai alpha1_beta0 $k "$out/alpha1_beta0_digit${k}_class$k.png"
  done
}
nb_2.4() {
  run models/mnist_cnn_deep_taylor.xai --explain deep_taylor --input $digits -o "$out/deep_taylor.png" --colormap hot_r --stats
  run models/mnist_cnn_deep_taylor.xai --explain deep_taylor --input $digits -o "$out/deep_taylor.npy"
}
nb_2.5() {
  run models/mnist_cnn_stride_eval.xai --explain deeplift --input $digits -o "$out/deeplift.png"
  run models/mnist_cnn_stride_eval.xai --explain deeplift --input $digits -o "$out/deeplift.npy"
  # summation to delta: sum_i C_i = S_c(x) - S_c(0)
  run models/mnist_cnn_stride.xai --forward --input $digits -o "$out/logits.npy"
  /usr/bin/python3 -c "import numpy as np; np.save('$out/zero.npy', np.zeros((1, 1, 28, 28), np.float32))"
  run models/mnist_cnn_stride.xai --forward --input "$out/zero.npy" -o "$out/logits_zero.npy"
  /usr/bin/python3 -c "import numpy as np
l = np.load('$out/logits.npy'); c = l.argmax(1); l0 = np.load('$out/logits_zero.npy')[0]
print('sum of C:         ', np.round(np.load('$out/deeplift.npy').reshape(10, -1).sum(1), 4))
print('S_c(x) - S_c(0):  ', np.round(l.max(1) - l0[c], 4))"
}
nb_3.1() {
  # the seed's channels: argpartition(pool3 channel totals, -4)[-5:], sorted (the top 4 and one more);
  # its image is a 7 (training image 100), ours the bundled 7
  local chans
  chans=$(/usr/bin/python3 - $s/digit_7.npy models/mnist_cnn_nobias.safetensors <<'PY'
import json, struct, sys
import numpy as np
x = np.load(sys.argv[1]).reshape(1, 28, 28).astype(np.float64)
raw = open(sys.argv[2], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
def t(name):
    h = hdr[name]; a, b = h['data_offsets']
    return np.frombuffer(raw[8 + n + a:8 + n + b], dtype='<f4').reshape(h['shape']).astype(np.float64)
def conv(a, w):  # 3x3, pad 1, stride 1, no bias; a [C,H,W], w [O,C,3,3]
    c, h, wd = a.shape
    p = np.pad(a, ((0, 0), (1, 1), (1, 1)))
    out = np.zeros((w.shape[0], h, wd))
    for i in range(3):
        for j in range(3):
            out += np.einsum('oc,chw->ohw', w[:, :, i, j], p[:, i:i + h, j:j + wd])
    return np.maximum(out, 0)
def pool(a):  # 2x2 stride 2, TF SAME (-inf pad bottom/right)
    c, h, w = a.shape
    hp, wp = -(-h // 2) * 2, -(-w // 2) * 2
    p = np.full((c, hp, wp), -np.inf); p[:, :h, :w] = a
    return p.reshape(c, hp // 2, 2, wp // 2, 2).max(axis=(2, 4))
a = pool(conv(x, t('conv1.weight')))
a = pool(conv(a, t('conv2.weight')))
a = pool(conv(a, t('conv3.weight')))
totals = a.sum(axis=(1, 2))
print(' '.join(str(int(k)) for k in np.sort(np.argpartition(totals, -4)[-5:])))
PY
)
  echo "pool3 channels (the seed's choice, on digit 7): $chans"
  echo "$chans" >"$out/channels.txt"
  cp $s/digit_7.png "$out/input.png"
  for k in $chans; do
    run $ex/3_1_deconvnet.xai --explain deconv_pool3 --input $s/digit_7.npy --target "$k" -o "$out/feature_$k.png" --colormap gray
  done
}
nb_3.2() {
  run $ex/3_2_backprop.xai --explain class_model -o "$out/class_model.png"
  run $ex/3_2_backprop.xai --explain saliency --input $digits -o "$out/saliency.png" --colormap gray
  run $ex/3_2_backprop.xai --explain saliency_c --input $digits -o "$out/saliency_class.png" --colormap gray
}
nb_3.3() {
  for e in guided_backprop gradient deconvnet; do
    run models/mnist_allconv_gbp.xai --explain $e --input $digits -o "$out/$e.png" --colormap gray
  done
  own_class models/mnist_allconv_gbp.xai guided_backprop 3 "$out/guided_backprop_digit3_class3.png" --colormap gray
}
nb_3.4() {
  run $ex/3_4_ig.xai --explain ig --input $digits -o "$out/ig.png" --colormap gray
  run $ex/3_4_ig.xai --explain ig --input $digits -o "$out/ig.npy"
  # completeness: sum_i IG_i ~ p_c(x) - p_c(0) (up to the 100-step Riemann sum's error)
  run models/mnist_cnn.xai --forward --input $digits -o "$out/logits.npy"
  /usr/bin/python3 -c "import numpy as np; np.save('$out/zero.npy', np.zeros((1, 1, 28, 28), np.float32))"
  run models/mnist_cnn.xai --forward --input "$out/zero.npy" -o "$out/logits_zero.npy"
  /usr/bin/python3 -c "import numpy as np
sm = lambda l: np.exp(l - l.max(-1, keepdims=True)) / np.exp(l - l.max(-1, keepdims=True)).sum(-1, keepdims=True)
p = sm(np.load('$out/logits.npy')); c = p.argmax(1); p0 = sm(np.load('$out/logits_zero.npy')[0])
print('sum of IG:        ', np.round(np.load('$out/ig.npy').reshape(10, -1).sum(1), 4))
print('p_c(x) - p_c(0):  ', np.round(p.max(1) - p0[c], 4))"
  run $ex/3_4_ig.xai --explain ig_logit --input $digits -o "$out/ig_logit.png" --colormap gray
}
nb_3.5() {
  for e in gradient ig smoothgrad; do
    run models/mnist_cnn_stride_eval.xai --explain $e --input $digits -o "$out/$e.png"
  done
  # the sigma and N sweeps as one grid: rows sigma 0 .. 0.5, columns N 10 .. 100 (and digit0_sg_sweep.npy)
  run $ex/3_5_sweeps.xai --explain sg_sweep --input $s/digit_0.npy --target 0 -o "$out/digit0_sg_sweep.png" --colormap gray
}
cam_nb() { # cam_nb EXPLAIN
  run $ex/4_cam.xai --explain "$1" --input $s/cluttered.npy -o "$out/$1.png" --overlay --colormap viridis
  run $ex/4_cam.xai --explain "$1" --input $s/cluttered.npy -o "$out/$1_map.png" --colormap viridis
  run $ex/4_cam.xai --explain "$1" --input $s/cluttered.npy -o "$out/$1.npy"
}
nb_4.1() { cam_nb cam; }
nb_4.2() { cam_nb gradcam; }
nb_4.3() { cam_nb gradcam_pp; }
eval_explain=sensitivity4,gxi,deep_taylor
nb_5.1() {
  # the seed's digit 2 shifted by -20 .. 20 (bundled held-out digit 2; class fixed to 2)
  echo 2 >"$out/labels.txt"
  echo "+ xaic eval $ex/5_eval.xai --explain $eval_explain --data $s/digit_2.npy --metric continuity"
  "$xaic" eval $ex/5_eval.xai --explain $eval_explain --data $s/digit_2.npy --labels "$out/labels.txt" \
    --metric continuity --shifts -20:20 --colormap hot_r -o "$out/continuity"
  run $ex/5_eval.xai --explain deep_taylor --input $s/digit_2.npy --target 2 -o "$out/deep_taylor_digit2.png" --colormap hot_r --stats
}
nb_5.2() {
  # one digit per class, 20 values (19 removals) of 4x4 patches chosen by the seed's find_roi
  seq 0 9 >"$out/labels.txt"
  echo "+ xaic eval $ex/5_eval.xai --explain $eval_explain --data $digits --metric selectivity --windows sliding"
  "$xaic" eval $ex/5_eval.xai --explain $eval_explain --data $digits --labels "$out/labels.txt" \
    --metric selectivity --patch 4 --steps 19 --windows sliding --colormap hot_r -o "$out/selectivity"
  echo "the full study (held-out digits, the seed's own images from the npm digits): bash scripts/study_5_1_5_2.sh"
}

one() {
  local n=$1
  out=$outroot/$n
  rm -rf "$out"
  mkdir -p "$out"
  echo "== $n ${title[$n]}"
  local t0=$SECONDS
  "nb_$n"
  echo "$n -> $out ($((SECONDS - t0)) s)"
}
if [ "$1" = all ]; then
  t_all=$SECONDS
  for n in "${notebooks[@]}"; do one "$n"; done
  echo "all notebooks -> $outroot ($((SECONDS - t_all)) s)"
else
  one "$1"
fi
