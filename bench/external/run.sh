#!/usr/bin/env bash
# --weights=external on a ResNet-18 with BatchNorms (docs/performance.md): object sizes embedded / external,
# the workspace's growth by the derived (folded) weights, bind time, bit-equality of all outputs.
# Environment: XAIC_BUILD_DIR (build/). Writes into $XAIC_BUILD_DIR/bench/external.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${XAIC_BUILD_DIR:-$root/build}
out=$build/bench/external
mkdir -p "$out"
cd "$out"
/usr/bin/python3 "$root/bench/external/make_resnet18_bn.py" r18emb r18ext
"$build/xaic" r18emb.xai -o r18emb.o
"$build/xaic" r18ext.xai --weights=external -o r18ext.o
echo "object: embedded $(stat -c %s r18emb.o) bytes, external $(stat -c %s r18ext.o) bytes"
cc -O2 "$root/bench/external/compare.c" r18emb.o r18ext.o -I"$root/runtime" "$build/libxairt.a" -lz -lpthread -lm \
    -o compare
./compare
