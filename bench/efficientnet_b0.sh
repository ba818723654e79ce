#!/usr/bin/env bash
# Imported torchvision efficientnet_b0 (3x224x224, batch 1; issue 18: depthwise convs, squeeze-excitation,
# SiLU) against the peers: PyTorch 1.13 forward, Zennit 0.5.1 EpsilonPlus (SequentialMergeBatchNorm plus
# bench/peer_bench.py's canonizers for the residual sums and the squeeze-excitation gates), Captum 0.8 Saliency.
# The model is tests/reference/torchvision_zoo.py's seeded efficientnet_b0, exported to ONNX by
# bench/make_torchvision.py, brought in by `xaic import` (timed) and compiled with bench/efficientnet_b0.xai
# (timed); then ROUNDS interleaved rounds of xaic and the peer per method, the ratio peer median / xaic median as
# median [min-max] over the rounds, peak RSS, and the agreement of round 1's outputs. The steps are
# bench/imported.sh's. See docs/performance.md, "MobileNetV2 and EfficientNet-B0 (imported)". Called by
# bench/run.sh (unless BENCH_SKIP_MOBILE=1 or BENCH_SKIP_EFFICIENTNET=1), or alone:
#
#   bash bench/efficientnet_b0.sh
#
# Environment:
#   BENCH_EFFICIENTNET_ROUNDS=5   interleaved rounds
#   BENCH_EFFICIENTNET_RUNS=10    timed calls per process (1 untimed warm-up first)
#   BENCH_EFFICIENTNET_METHODS    default "forward epsilon_plus gradient"
#   BENCH_THREADS=2               threads of both sides (torch.set_num_threads, XAI_NUM_THREADS)
#   BENCH_EFFICIENTNET_WEIGHTS    external (default: the driver maps the .safetensors) or embedded
#   PEERS_DIR, XAIC_BUILD_DIR as for bench/run.sh
# Results: JSON lines with "model": "efficientnet_b0", appended to $XAIC_BUILD_DIR/bench/results.jsonl.
set -euo pipefail
exec bash "$(dirname "$0")/imported.sh" efficientnet_b0 "${BENCH_EFFICIENTNET_ROUNDS:-5}" \
  "${BENCH_EFFICIENTNET_RUNS:-10}" "${BENCH_EFFICIENTNET_METHODS:-forward epsilon_plus gradient}" \
  "${BENCH_EFFICIENTNET_WEIGHTS:-external}"
