# Sourced by bench/run.sh and bench/imported.sh (with $root and $build set): builds only what a benchmark needs
# (xaic and libxairt, not the whole tree), sets $xaic, a temporary $results file removed at exit, load() and
# round_tag().
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target xaic xairt >/dev/null
xaic=$build/xaic
results=$(mktemp)
trap 'rm -f "$results"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
round_tag() { sed "s/^{/{\"round\": $1, /"; }   # ROUND: a filter adding "round" to each JSON line
