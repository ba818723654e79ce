#!/usr/bin/env bash
# xaic's generated code against the peers (PyTorch 1.13 forward, Zennit 0.5.1 LRP, Captum 0.8 gradient
# methods, on Debian's python3-torch, 2 threads), in one run: the bundled CNN at batch 1 and 32 with forward,
# LRP epsilon_plus, LRP epsilon_gamma_box, gradient, integrated gradients (50 steps), SmoothGrad (50 samples),
# DeepLIFT and Grad-CAM; VGG-16 at batch 1 with forward, the two LRP presets, gradient and DeepLIFT (and IG /
# SmoothGrad with BENCH_VGG_SAMPLING=1). One process per (implementation, configuration) so that peak RSS is
# per configuration; xaic and the peer alternate. Prints the xaic compile times, one JSON line per
# measurement and a table of ratios (peer time / xaic time). See docs/performance.md.
#
# Environment:
#   BENCH_ONLY=LIST      comma list of method families to run (default all): forward, lrp (epsilon_plus and
#                        epsilon_gamma_box), gradient, ig, smoothgrad, deeplift, gradcam; `gradients` = the
#                        last five. Only the .xai files those need are compiled.
#   BENCH_SECONDS=3      timed seconds per configuration (the CNN; at least 10 calls)
#   BENCH_VGG_RUNS=3     timed calls per VGG-16 configuration (a median of that many; 1 untimed warm-up)
#   BENCH_SKIP_VGG=1     skip VGG-16 (its weights, 528 MB, are written to build/bench/ on first use)
#   BENCH_VGG_SAMPLING=1 also run IG-50 and SmoothGrad-50 on VGG-16 (each call = 50 forward + backward
#                        passes; with xaic's kernels of 2026-11 that is minutes per call on either side)
#   BENCH_VGG_SAMPLING_RUNS=1  timed calls per VGG-16 IG / SmoothGrad configuration (1 untimed warm-up)
#   BENCH_SKIP_PEAK=1    skip the 2048^2 matmul peak measurement (peers' peak_flops.py)
#   BENCH_SKIP_LAYERS=1  skip VGG-16's layers one by one (forward GFLOP/s per conv / dense layer)
#   BENCH_SKIP_RESNET=1  skip the imported ResNet-50 (bench/resnet50.sh, run at the end; its own variables)
#   BENCH_SKIP_VIT=1     skip the imported vit_b_16 (bench/vit_b16.sh, run after ResNet-50; its own variables)
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
seconds=${BENCH_SECONDS:-3}
vgg_runs=${BENCH_VGG_RUNS:-3}
vgg_sampling_runs=${BENCH_VGG_SAMPLING_RUNS:-1}
threads=${BENCH_THREADS:-2}
if [ -n "${BENCH_XAIC_THREADS:-}" ]; then export XAI_NUM_THREADS=$BENCH_XAIC_THREADS; fi
if [ -z "${PEERS_DIR:-}" ]; then
  if [ -d /root/xai-peers ]; then PEERS_DIR=/root/xai-peers; else PEERS_DIR=$HOME/xai-peers; fi
fi
export PEERS_DIR
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

# ---- measurements, xaic and the peer alternately ----
for b in 1 32; do
  for m in $methods; do
    "$out/bench_mnist_cnn_$m" "$b" "$seconds" models/samples/digits.npy | tee -a "$results"
    $py bench/peer_bench.py --model mnist_cnn --method "$m" --batch "$b" --seconds "$seconds" \
        --threads "$threads" | tee -a "$results"
  done
done
if [ "${BENCH_SKIP_VGG:-0}" != 1 ]; then
  for m in $vgg_methods; do
    runs=$vgg_runs
    case " $vgg_sampling_methods " in *" $m "*) runs=$vgg_sampling_runs;; esac
    "$out/bench_vgg16_$m" 1 0 "$out/vgg16_input.npy" "$out/vgg16.safetensors" "$runs" "$runs" \
      | tee -a "$results"
    $py bench/peer_bench.py --model vgg16 --method "$m" --batch 1 --seconds 0 --min-runs "$runs" \
        --max-runs "$runs" --threads "$threads" --input "$out/vgg16_input.npy" | tee -a "$results"
  done
fi

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

$py - "$results" "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
comp = [r for r in rows if 'compile' in r]
runs = [r for r in rows if 'method' in r]
print()
for r in comp:
    print(f"compile {r['compile']} {r['options']}: {r['seconds']:.2f} s wall, xaic peak RSS {r['peak_rss_mb']:.0f} MB,"
          f" object {r['object_mb']:.1f} MB")
by = {(r['impl'], r['model'], r['method'], r['batch']): r for r in runs}
keys = []
for r in runs:
    k = (r['model'], r['method'], r['batch'])
    if k not in keys:
        keys.append(k)
print()
print('| model | method | batch | xaic ms | peer ms | peer/xaic | xaic ms/sample | peer ms/sample | xaic min ms '
      '| peer min ms | runs x/p | xaic RSS MB | peer RSS MB | xaic GFLOP/s | peer GFLOP/s | load 1m |')
print('|' + '---|' * 16)
for k in keys:
    x, p = by.get(('xaic',) + k), by.get(('peer',) + k)
    if not (x and p):
        continue
    fx = fp = ''
    if k[1] == 'forward' and p.get('forward_gflop'):
        fx = f"{p['forward_gflop'] / x['median_ms'] * 1e3:.1f}"
        fp = f"{p['forward_gflop'] / p['median_ms'] * 1e3:.1f}"
    print(f"| {k[0]} | {k[1]} | {k[2]} | {x['median_ms']:.3f} | {p['median_ms']:.3f} | "
          f"{p['median_ms'] / x['median_ms']:.2f}x | {x['per_sample_ms']:.3f} | {p['per_sample_ms']:.3f} | "
          f"{x['min_ms']:.3f} | {p['min_ms']:.3f} | {x['runs']}/{p['runs']} | {x['peak_rss_mb']:.1f} | "
          f"{p['peak_rss_mb']:.1f} | {fx} | {fp} | {x['loadavg_1m']:.2f}/{p['loadavg_1m']:.2f} |")

# VGG-16 layer by layer: multiply-adds from the layer's shapes, against the 2-thread matmul peak
import os, re
layer_file = os.path.join(sys.argv[2], 'vgg16_layers.xai')
peak_file = os.path.join(sys.argv[2], 'peak.txt')
layers = [r for r in runs if r['impl'] == 'xaic' and r['model'].startswith('vgg16_') and r['method'] == 'forward']
if layers and os.path.exists(layer_file):
    peak = None
    if os.path.exists(peak_file):
        m = re.search(r'threads=2: best ([\d.]+)', open(peak_file).read())
        peak = float(m.group(1)) if m else None
    shapes = {}
    for line in open(layer_file):
        m = re.match(r'network (\w+) .*input x\[([\d, ]+)\]; y = (conv2d|dense)\(x, (\d+).*from "([\w.]+)"', line)
        if m:
            dims = [int(v) for v in m.group(2).split(',')]
            macs = dims[1] * dims[2] * dims[0] * int(m.group(4)) * 9 if m.group(3) == 'conv2d' else dims[0] * int(m.group(4))
            shapes[m.group(1)] = (m.group(5), m.group(3), dims, int(m.group(4)), macs)
    print()
    print(f"VGG-16 layer by layer (forward kernel alone, batch 1, both cores; 2-thread matmul peak "
          f"{peak if peak else '?'} GFLOP/s; a dense layer at batch 1 reads each weight once: its bound is "
          f"memory bandwidth, shown as weights GB/s):")
    print()
    print('| layer | op | input | outputs | GMAC | xaic ms | min ms | GFLOP/s | % of peak | weights GB/s |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for r in layers:
        name, op, dims, o, macs = shapes[r['model']]
        g = 2 * macs / r['median_ms'] / 1e6
        pct = f"{100 * g / peak:.0f}" if peak else ''
        gbs = f"{4 * macs / r['median_ms'] / 1e6:.1f}" if op == 'dense' else ''
        print(f"| {r['model'][6:]} ({name}) | {op} | {'x'.join(map(str, dims))} | {o} | {macs / 1e9:.3f} | "
              f"{r['median_ms']:.3f} | {r['min_ms']:.3f} | {g:.1f} | {pct} | {gbs} |")
PY

# ---- the imported ResNet-50: xaic import + compile, interleaved rounds (bench/resnet50.sh) ----
if [ "${BENCH_SKIP_RESNET:-0}" != 1 ]; then
  echo
  bash "$root/bench/resnet50.sh"
fi

# ---- the imported vit_b_16 against PyTorch and LXT's CP-LRP (bench/vit_b16.sh) ----
if [ "${BENCH_SKIP_VIT:-0}" != 1 ]; then
  echo
  bash "$root/bench/vit_b16.sh"
fi
