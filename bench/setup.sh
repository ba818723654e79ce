# Sourced by bench/run.sh, bench/imported.sh and bench/batch_throughput.sh (with $root and $build set): builds
# only what a benchmark needs (xaic and libxairt, not the whole tree), sets $xaic, PEERS_DIR (default
# /root/xai-peers, else ~/xai-peers), a temporary $results file removed at exit, load() and round_tag().
if [ -z "${PEERS_DIR:-}" ]; then
  if [ -d /root/xai-peers ]; then PEERS_DIR=/root/xai-peers; else PEERS_DIR=$HOME/xai-peers; fi
fi
export PEERS_DIR
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target xaic xairt >/dev/null
xaic=$build/xaic
results=$(mktemp)
trap 'rm -f "$results"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
round_tag() { sed "s/^{/{\"round\": $1, /"; }   # ROUND: a filter adding "round" to each JSON line
