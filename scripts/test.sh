#!/usr/bin/env bash
# The whole test suite: build and run every test, then again with AddressSanitizer +
# UndefinedBehaviorSanitizer (generated code instrumented too), then the fuzzers for a bounded time.
#   XAIC_QUICK=1  skips the sanitizer and fuzzing passes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh

echo "== build and test (RelWithDebInfo)"
XAIC_BUILD_DIR=$root/build bash scripts/build.sh
ctest --test-dir build --output-on-failure -j2

echo "== install and use as a user would (pkg-config, find_package)"
bash tests/install_smoke.sh "$root/build"

if [ "${XAIC_QUICK:-0}" != 1 ]; then
  echo "== build and test under AddressSanitizer + UndefinedBehaviorSanitizer"
  CC=clang-19 CXX=clang++-19 XAIC_BUILD_DIR=$root/build-asan bash scripts/build.sh -DXAIC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j2

  if [ -x tests/fuzz/run.sh ] || [ -f tests/fuzz/run.sh ]; then
    echo "== fuzzing (${XAIC_FUZZ_SECONDS:-60} s per target)"
    bash tests/fuzz/run.sh "${XAIC_FUZZ_SECONDS:-60}"
  fi
fi
echo "== all tests passed"
