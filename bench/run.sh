#!/usr/bin/env bash
# xaic's generated code against the peers (PyTorch 1.13 forward, Zennit 0.5.1 LRP, Captum 0.8 gradient
# methods, on Debian's python3-torch, 2 threads), in one run: the bundled CNN at batch 1 and 32 with forward,
# LRP epsilon_plus, LRP epsilon_gamma_box, gradient, integrated gradients (50 steps), SmoothGrad (50 samples),
# DeepLIFT and Grad-CAM; VGG-16 at batch 1 with forward, the two LRP presets, gradient and DeepLIFT (and IG /
# SmoothGrad with BENCH_VGG_SAMPLING=1). BENCH_ROUNDS interleaved rounds: per round and configuration one fresh
# xaic process and one fresh peer process (so peak RSS is per configuration), which side goes first alternating
# by round (A B B A ...). Prints the xaic compile times, one JSON line per process (with "round") and, by
# bench/run_report.py, a table per configuration: each side's median over the rounds, the ratio peer time / xaic
# time of each round as median [min-max] over the rounds (the goals hold for the median), the same for CPU time
# per call, the largest peak RSS. See docs/performance.md.
#
# Environment:
#   BENCH_ONLY=LIST      comma list of method families to run (default all): forward, lrp (epsilon_plus and
#                        epsilon_gamma_box), gradient, ig, smoothgrad, deeplift, gradcam; `gradients` = the
#                        last five. Only the .xai files those need are compiled.
#   BENCH_ROUNDS=3       interleaved rounds (CNN and VGG-16 configurations; the VGG-16 layers run once)
#   BENCH_SECONDS=3      timed seconds per CNN process (each round; at least 10 calls)
#   BENCH_VGG_RUNS=3     timed calls per VGG-16 process (a median of that many; 1 untimed warm-up)
#   BENCH_SKIP_VGG=1     skip VGG-16 (its weights, 528 MB, are written to build/bench/ on first use)
#   BENCH_VGG_SAMPLING=1 also run IG-50 and SmoothGrad-50 on VGG-16 (each call = 50 forward + backward
#                        passes; with xaic's kernels of 2026-11 that is minutes per call on either side)
#   BENCH_VGG_SAMPLING_RUNS=1  timed calls per VGG-16 IG / SmoothGrad process (1 untimed warm-up)
#   BENCH_SKIP_PEAK=1    skip the 2048^2 matmul peak measurement (peers' peak_flops.py)
#   BENCH_SKIP_LAYERS=1  skip VGG-16's layers one by one (forward GFLOP/s per conv / dense layer)
#   BENCH_SKIP_RESNET=1  skip the imported ResNet-50 (bench/resnet50.sh, run at the end; its own variables)
#   BENCH_SKIP_MOBILE=1  skip both imported depthwise CNNs, run after ResNet-50, each with its own
#                        variables: mobilenet_v2 (bench/mobilenet_v2.sh; BENCH_SKIP_MOBILENET=1 skips it alone)
#                        and efficientnet_b0 (bench/efficientnet_b0.sh; BENCH_SKIP_EFFICIENTNET=1)
#   BENCH_SKIP_VIT=1     skip the imported vit_b_16 (bench/vit_b16.sh, run last; its own variables)
#   BENCH_THREADS=2      the peer's torch.set_num_threads
#   BENCH_XAIC_THREADS   threads of xaic's generated code (XAI_NUM_THREADS; default: the CPUs)
#   PEERS_DIR            Zennit / Captum trees (default /root/xai-peers, else ~/xai-peers)
#   PEERS_HARNESS        the peers' models.py, safetensors_io.py, peak_flops.py (default ../shared/peers)
#   XAIC_BUILD_DIR       build directory (default build/)
# Results are also appended to $XAIC_BUILD_DIR/bench/results.jsonl. Needs /usr/bin/python3 with torch.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${XAIC_BUILD_DIR:-$root/build}
rounds=${BENCH_ROUNDS:-3}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_ROUNDS: a positive whole number, not '$rounds'" >&2; exit 2; }
seconds=${BENCH_SECONDS:-3}
vgg_runs=${BENCH_VGG_RUNS:-3}
vgg_sampling_runs=${BENCH_VGG_SAMPLING_RUNS:-1}
threads=${BENCH_THREADS:-2}
if [ -n "${BENCH_XAIC_THREADS:-}" ]; then export XAI_NUM_THREADS=$BENCH_XAIC_THREADS; fi
export PEERS_HARNESS=${PEERS_HARNESS:-$root/../shared/peers}
py=/usr/bin/python3
out=$build/bench
gen=$out/gen
mkdir -p "$gen"

# ---- method families (BENCH_ONLY) ----
all_families="forward lrp gradient ig smoothgrad deeplift gradcam"
only=" $(echo "${BENCH_ONLY:-$all_families}" | tr ',' ' ' | sed 's/\bgradients\b/gradient ig smoothgrad deeplift gradcam/g') "
for f in $only; do
  case " $all_families " in *" $f "*) ;; *) echo "BENCH_ONLY: unknown family '$f' (known: ${all_families// /,}, gradients)" >&2; exit 2;; esac
done
want() { case "$only" in *" $1 "*) return 0;; esac; return 1; }
# entries of the CNN objects: bench/mnist_cnn_explain.xai (forward, LRP), bench/mnist_cnn_gradients.xai
lrp_methods="" grad_methods="" vgg_grad_methods="" vgg_sampling_methods=""
want forward && lrp_methods="forward"
want lrp && lrp_methods="$lrp_methods epsilon_plus epsilon_gamma_box"
for f in gradient ig smoothgrad deeplift gradcam; do want $f && grad_methods="$grad_methods $f"; done
for f in gradient deeplift; do want $f && vgg_grad_methods="$vgg_grad_methods $f"; done
if [ "${BENCH_VGG_SAMPLING:-0}" = 1 ]; then
  for f in ig smoothgrad; do want $f && vgg_sampling_methods="$vgg_sampling_methods $f"; done
fi
methods="$lrp_methods $grad_methods"                  # CNN, in table order
vgg_methods="$lrp_methods $vgg_grad_methods $vgg_sampling_methods"

bash scripts/install-deps.sh
source "$root/bench/setup.sh"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -n), $(nproc) CPUs, load average at start: $(load)"
rev="not a git checkout"
if git rev-parse --git-dir >/dev/null 2>&1; then
  rev="commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- compiler runtime grammar || echo ', compiler/runtime modified')"
fi
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $rev"
rm -f "$out/peak.txt"
if [ "${BENCH_SKIP_PEAK:-0}" != 1 ]; then
  $py "$PEERS_HARNESS/peak_flops.py" 2048 5 > "$out/peak.txt"
  sed 's/^/# /' "$out/peak.txt"
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
driver() {    # name net entry external [per-sample result dims, e.g. 14,14]
  local name=$1 net=$2 entry=$3 ext=$4 dims=${5:-} fw=0
  [ "$entry" = forward ] && fw=1
  cc -O2 -std=gnu11 -Wall -Wextra -I"$root/runtime" -I"$gen" -DXB_HEADER="\"$name.h\"" -DXB_NET="$net" \
     -DXB_ENTRY="$entry" -DXB_FORWARD=$fw -DXB_EXTERNAL="$ext" ${dims:+-DXB_OUT_DIMS=$dims} \
     "$root/bench/bench_explain.c" "$gen/$name.o" -L"$build" -lxairt -Wl,-rpath,"$build" -o "$out/bench_${net}_$entry"
}

if [ -n "${lrp_methods// /}" ]; then
  compile mnist_cnn_explain "$root/bench/mnist_cnn_explain.xai"
  for m in $lrp_methods; do driver mnist_cnn_explain mnist_cnn "$m" 0; done
fi
if [ -n "${grad_methods// /}" ]; then
  compile mnist_cnn_gradients "$root/bench/mnist_cnn_gradients.xai"
  for m in $grad_methods; do
    dims=""; [ "$m" = gradcam ] && dims=14,14     # gradcam(layer=act2, upsample=none): [14, 14] per sample
    driver mnist_cnn_gradients mnist_cnn "$m" 0 "$dims"
  done
fi

if [ "${BENCH_SKIP_VGG:-0}" != 1 ] && [ -n "${vgg_methods// /}" ]; then
  if [ ! -f "$out/vgg16.safetensors" ] || [ ! -f "$out/vgg16_input.npy" ]; then
    $py bench/make_vgg16_weights.py "$out"
  fi
  # the network's `weights "vgg16.safetensors"` resolves next to vgg16_net.xai
  cp bench/vgg16_net.xai bench/vgg16.xai bench/vgg16_gradients.xai bench/vgg16_sampling.xai "$out/"
  if [ -n "${lrp_methods// /}" ]; then
    compile vgg16 "$out/vgg16.xai" --weights=external
    for m in $lrp_methods; do driver vgg16 vgg16 "$m" 1; done
  fi
  if [ -n "${vgg_grad_methods// /}" ]; then
    compile vgg16_gradients "$out/vgg16_gradients.xai" --weights=external
    for m in $vgg_grad_methods; do driver vgg16_gradients vgg16 "$m" 1; done
  fi
  if [ -n "${vgg_sampling_methods// /}" ]; then
    compile vgg16_sampling "$out/vgg16_sampling.xai" --weights=external
    for m in $vgg_sampling_methods; do driver vgg16_sampling vgg16 "$m" 1; done
  fi
fi

# ---- measurements: interleaved rounds, one fresh process per side and configuration ----
vgg_runs_of() {   # method: timed calls per VGG-16 process
  case " $vgg_sampling_methods " in *" $1 "*) echo "$vgg_sampling_runs";; *) echo "$vgg_runs";; esac
}
xaic_side() {     # model method batch
  if [ "$1" = mnist_cnn ]; then
    "$out/bench_mnist_cnn_$2" "$3" "$seconds" models/samples/digits.npy
  else
    local runs; runs=$(vgg_runs_of "$2")
    "$out/bench_vgg16_$2" 1 0 "$out/vgg16_input.npy" "$out/vgg16.safetensors" "$runs" "$runs"
  fi
}
peer_side() {     # model method batch
  if [ "$1" = mnist_cnn ]; then
    $py bench/peer_bench.py --model mnist_cnn --method "$2" --batch "$3" --seconds "$seconds" --threads "$threads"
  else
    local runs; runs=$(vgg_runs_of "$2")
    $py bench/peer_bench.py --model vgg16 --method "$2" --batch 1 --seconds 0 --min-runs "$runs" \
        --max-runs "$runs" --threads "$threads" --input "$out/vgg16_input.npy"
  fi
}
configs=""        # model:method:batch, in table order
for b in 1 32; do
  for m in $methods; do configs="$configs mnist_cnn:$m:$b"; done
done
if [ "${BENCH_SKIP_VGG:-0}" != 1 ]; then
  for m in $vgg_methods; do configs="$configs vgg16:$m:1"; done
fi
for r in $(seq 1 "$rounds"); do
  for c in $configs; do
    IFS=: read -r model m b <<< "$c"
    if [ $((r % 2)) = 1 ]; then xaic_side "$model" "$m" "$b"; peer_side "$model" "$m" "$b"
    else peer_side "$model" "$m" "$b"; xaic_side "$model" "$m" "$b"; fi | round_tag "$r" | tee -a "$results"
  done
done

# ---- VGG-16 layer by layer: the forward kernel of each distinct layer alone, GFLOP/s ----
if [ "${BENCH_SKIP_VGG:-0}" != 1 ] && [ "${BENCH_SKIP_LAYERS:-0}" != 1 ] && want forward; then
  cp bench/vgg16_layers.xai "$out/"
  compile vgg16_layers "$out/vgg16_layers.xai" --weights=external
  layers=$($py - "$out" <<'PY'
import re, sys
import numpy as np
out = sys.argv[1]
rng = np.random.default_rng(0)
for line in open(f'{out}/vgg16_layers.xai'):
    m = re.match(r'network (\w+) .*input x\[([\d, ]+)\]', line)
    if m:   # inputs like a ReLU's output: uniform [0, 1)
        shape = [1] + [int(v) for v in m.group(2).split(',')]
        np.save(f'{out}/{m.group(1)}_input.npy', rng.random(shape, dtype=np.float32))
        print(m.group(1))
PY
)
  for net in $layers; do
    driver vgg16_layers "$net" forward 1
    "$out/bench_${net}_forward" 1 1 "$out/${net}_input.npy" "$out/vgg16.safetensors" 5 | tee -a "$results"
  done
fi
echo "# load average at end: $(load)"
cat "$results" >> "$out/results.jsonl"

$py bench/run_report.py "$results" "$out"

# ---- the imported ResNet-50: xaic import + compile, interleaved rounds (bench/resnet50.sh) ----
if [ "${BENCH_SKIP_RESNET:-0}" != 1 ]; then
  echo
  bash "$root/bench/resnet50.sh"
fi

# ---- the imported depthwise CNNs, mobilenet_v2 and efficientnet_b0 (issue 18) ----
if [ "${BENCH_SKIP_MOBILE:-0}" != 1 ]; then
  for m in mobilenet_v2:MOBILENET efficientnet_b0:EFFICIENTNET; do
    skip=BENCH_SKIP_${m#*:}
    [ "${!skip:-0}" = 1 ] && continue
    echo
    bash "$root/bench/${m%%:*}.sh"
  done
fi

# ---- the imported vit_b_16 against PyTorch and LXT's CP-LRP (bench/vit_b16.sh) ----
if [ "${BENCH_SKIP_VIT:-0}" != 1 ]; then
  echo
  bash "$root/bench/vit_b16.sh"
fi
