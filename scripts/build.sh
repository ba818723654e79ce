#!/usr/bin/env bash
# Configures and builds xaic into build/ (or $XAIC_BUILD_DIR). Extra arguments go to cmake.
# It installs nothing: scripts/install-deps.sh does (scripts/demo.sh and scripts/test.sh call it first).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${XAIC_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
