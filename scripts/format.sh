#!/usr/bin/env bash
# Formats the C sources with .clang-format (clang-format 14, Debian's `clang-format`); --check only reports.
#   usage: scripts/format.sh [--check]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mapfile -t files < <(git ls-files 'compiler/*.c' 'compiler/*.h' 'runtime/*.c' 'runtime/*.h' 'tests/*.c' 'tests/*.h' \
                                  'examples/*.c' 'bench/*.c')
if [ "${1:-}" = --check ]; then
    exec clang-format --dry-run --Werror "${files[@]}"
fi
clang-format -i "${files[@]}"
