#!/usr/bin/env bash
# Imported torchvision vit_b_16 (3x224x224, batch 1; issue 21) against the peers: PyTorch 1.13 forward
# (torch.no_grad), PyTorch autograd's input gradient, and LXT's efficient CP-LRP for torchvision's ViT (its
# vit_torch patch map + monkey_patch_zennit, Zennit 0.5.1 Epsilon on Linear and Conv2d, input x gradient).
# The model is tests/reference/torchvision_zoo.py's seeded vit_b_16 (torchvision init, the zero-initialised
# head drawn at random), exported to ONNX opset 17 with a dynamic batch axis by bench/make_torchvision.py,
# brought in by `xaic import` (timed) and compiled with bench/vit_b_16.xai (forward, gradient, `rules cp_lrp`;
# timed). Then ROUNDS interleaved rounds (A B B A ..., fresh processes) of xaic and the peer per method; per
# method the ratio peer median / xaic median of each round as median [min-max] over the rounds, and the peak
# RSS (getrusage) of each side. The steps are bench/imported.sh's (shared with bench/resnet50.sh); the peer
# calls are bench/peer_bench.py's (--model vit_b_16). See docs/performance.md, "ViT-B/16 (imported)".
# Called by bench/run.sh (unless BENCH_SKIP_VIT=1), or alone:
#
#   bash bench/vit_b16.sh
#
# Environment:
#   BENCH_VIT_ROUNDS=3       interleaved rounds
#   BENCH_VIT_RUNS=3         timed calls per process (1 untimed warm-up first)
#   BENCH_VIT_METHODS        default "forward cp_lrp gradient"
#   BENCH_THREADS=2          threads of both sides (torch.set_num_threads, XAI_NUM_THREADS)
#   BENCH_VIT_WEIGHTS        external (default: the driver maps the .safetensors) or embedded
#   PEERS_DIR, XAIC_BUILD_DIR as for bench/run.sh (LXT under $PEERS_DIR/lxt)
# Results: JSON lines with "model": "vit_b_16" (one per import / compile and per process, with "round"),
# appended to $XAIC_BUILD_DIR/bench/results.jsonl.
set -euo pipefail
exec bash "$(dirname "$0")/imported.sh" vit_b_16 "${BENCH_VIT_ROUNDS:-3}" "${BENCH_VIT_RUNS:-3}" \
  "${BENCH_VIT_METHODS:-forward cp_lrp gradient}" "${BENCH_VIT_WEIGHTS:-external}"
