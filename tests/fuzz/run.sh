#!/bin/sh
# Builds the libFuzzer targets with clang-19 in build-fuzz/ and runs each for SECONDS on a scratch
# copy of its seed corpus (tests/fuzz/corpus/<name without fuzz_>/), so the committed corpus stays
# small. Exits non-zero if a build fails or a target finds a crash (the input is saved as
# build-fuzz/<target>-crash-*).
#   usage: tests/fuzz/run.sh SECONDS [TARGET...]      (default: every target whose source exists)
#   env:   XAIC_FUZZ_BUILD  build directory (default: <repo>/build-fuzz)
set -eu
secs=${1:?usage: tests/fuzz/run.sh SECONDS [TARGET...]}
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${XAIC_FUZZ_BUILD:-$root/build-fuzz}
targets="$*"
if [ -z "$targets" ]; then
    for src in "$root"/tests/fuzz/fuzz_*.c; do
        targets="$targets $(basename "$src" .c)"
    done
fi

mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DXAIC_FUZZ=ON -DXAIC_TESTS=OFF >"$build/configure.log" 2>&1 \
    || { cat "$build/configure.log"; echo "run.sh: configure failed" >&2; exit 2; }
# shellcheck disable=SC2086  # $targets is a word list on purpose
cmake --build "$build" --target $targets -j "$(nproc)" || { echo "run.sh: build failed" >&2; exit 2; }

status=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in $targets; do
    name=${t#fuzz_}
    mkdir -p "$scratch/$name"
    if [ -d "$root/tests/fuzz/corpus/$name" ]; then cp -R "$root/tests/fuzz/corpus/$name/." "$scratch/$name/"; fi
    dict=""
    if [ -f "$root/tests/fuzz/$t.dict" ]; then dict="-dict=$root/tests/fuzz/$t.dict"; fi
    echo "== $t: ${secs}s on $(find "$scratch/$name" -type f | wc -l) seed(s)"
    # shellcheck disable=SC2086
    if "$build/tests/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
           -artifact_prefix="$build/$t-" $dict "$scratch/$name" >"$build/$t.log" 2>&1; then
        echo "   clean: $(grep -E '^stat::number_of_executed_units' "$build/$t.log" | awk '{print $2}') runs"
    else
        status=1
        echo "   FAILED (log: $build/$t.log)" >&2
        grep -E 'ERROR|SUMMARY|Test unit written' "$build/$t.log" | head -5 >&2
    fi
done
exit $status
