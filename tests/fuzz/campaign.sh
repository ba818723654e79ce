#!/bin/sh
# The long fuzzing campaign (outside CI; numbers in docs/security.md): builds the targets as run.sh does, then
# runs each for RUNS executions, one target at a time in a single process, on a scratch copy of its seed
# corpus (kept in build-fuzz/campaign/<name>/ afterwards), and prints a Markdown row per target:
#   | target | executions | wall time (s) | execs/s | cov | ft | corpus | result |
# Exits non-zero if a target crashes, leaks, times out or runs out of memory (the input is saved as
# build-fuzz/<target>-<kind>-*).
#   usage: tests/fuzz/campaign.sh RUNS TARGET...      e.g. tests/fuzz/campaign.sh 10000000 fuzz_npy fuzz_png
#   env:   XAIC_FUZZ_BUILD  build directory (default: <repo>/build-fuzz)
set -eu
runs=${1:?usage: tests/fuzz/campaign.sh RUNS TARGET...}
shift
[ $# -gt 0 ] || { echo "usage: tests/fuzz/campaign.sh RUNS TARGET..." >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${XAIC_FUZZ_BUILD:-$root/build-fuzz}

mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang-19 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DXAIC_FUZZ=ON -DXAIC_TESTS=OFF >"$build/configure.log" 2>&1 \
    || { cat "$build/configure.log"; echo "campaign.sh: configure failed" >&2; exit 2; }
cmake --build "$build" --target "$@" -j 2 >"$build/build.log" 2>&1 \
    || { tail -20 "$build/build.log"; echo "campaign.sh: build failed" >&2; exit 2; }

status=0
echo "| target | executions | wall time (s) | execs/s | cov | ft | corpus | result |"
echo "|---|---|---|---|---|---|---|---|"
for t in "$@"; do
    name=${t#fuzz_}
    corpus=$build/campaign/$name
    rm -rf "$corpus"
    mkdir -p "$corpus"
    if [ -d "$root/tests/fuzz/corpus/$name" ]; then cp -R "$root/tests/fuzz/corpus/$name/." "$corpus/"; fi
    dict=""
    if [ -f "$root/tests/fuzz/$t.dict" ]; then dict="-dict=$root/tests/fuzz/$t.dict"; fi
    log=$build/campaign/$t.log
    start=$(date +%s.%N)
    result=clean
    # shellcheck disable=SC2086  # $dict is empty or one word
    "$build/tests/fuzz/$t" -runs="$runs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/$t-" $dict "$corpus" >"$log" 2>&1 || { result="FAILED (see $log)"; status=1; }
    end=$(date +%s.%N)
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    files=$(find "$corpus" -type f | wc -l)
    awk -v t="$t" -v n="${execs:-?}" -v s="$start" -v e="$end" -v c="${cov:-?}" -v f="${ft:-?}" -v k="$files" \
        -v r="$result" 'BEGIN { w = e - s; printf "| %s | %s | %.0f | %.0f | %s | %s | %d | %s |\n", t, n, w,
                                (n + 0) / w, c, f, k, r }'
done
exit $status
