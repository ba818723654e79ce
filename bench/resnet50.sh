#!/usr/bin/env bash
# Imported ResNet-50 (3x224x224, batch 1) against the peers: PyTorch 1.13 forward, Zennit 0.5.1 LRP with
# ResNetCanonizer, Captum 0.8 Saliency. The model is tests/reference/torchvision_zoo.py's seeded resnet50,
# exported to ONNX by bench/make_torchvision.py, brought in by `xaic import` (timed) and compiled with
# bench/resnet50.xai (timed). Then ROUNDS interleaved rounds: per round and method one xaic process and one
# peer process (which goes first alternates by round), each timing RUNS calls after a warm-up; per method the
# ratio peer median / xaic median of each round, summarised as median [min-max] over the rounds, plus the peak
# RSS (getrusage) of each process. Both sides use the same thread count. The steps are bench/imported.sh's
# (shared with bench/vit_b16.sh). See docs/performance.md, "ResNet-50 (imported)". Called by bench/run.sh
# (unless BENCH_SKIP_RESNET=1), or alone:
#
#   bash bench/resnet50.sh
#
# Environment:
#   BENCH_RESNET_ROUNDS=5    interleaved rounds
#   BENCH_RESNET_RUNS=3      timed calls per process (1 untimed warm-up first)
#   BENCH_RESNET_METHODS     default "forward epsilon_plus epsilon_gamma_box gradient" (all compiled)
#   BENCH_THREADS=2          threads of both sides (torch.set_num_threads, XAI_NUM_THREADS)
#   BENCH_RESNET_WEIGHTS     external (default: the driver maps the .safetensors) or embedded
#   PEERS_DIR, XAIC_BUILD_DIR as for bench/run.sh
# Results: one JSON line per process (with "round"), appended to $XAIC_BUILD_DIR/bench/results.jsonl.
set -euo pipefail
exec bash "$(dirname "$0")/imported.sh" resnet50 "${BENCH_RESNET_ROUNDS:-5}" "${BENCH_RESNET_RUNS:-3}" \
  "${BENCH_RESNET_METHODS:-forward epsilon_plus epsilon_gamma_box gradient}" "${BENCH_RESNET_WEIGHTS:-external}"
