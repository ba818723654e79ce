#!/usr/bin/env bash
# Installs xaic into a fresh prefix and uses it as a user would: the installed compiler generates an
# object, a program is built against the installed header and library through pkg-config and through
# the CMake package, and it classifies the sample digits. Prints "install smoke: N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
passed=0 failed=0
check() { if "$@"; then passed=$((passed + 1)); else echo "install smoke: FAILED: $*" >&2; failed=$((failed + 1)); fi; }

check cmake --install "$build" --prefix "$prefix" >/dev/null
check test -x "$prefix/bin/xaic"
check test -f "$prefix/include/xairt.h"
check "$prefix/bin/xaic" "$root/models/mnist_cnn.xai" -o "$prefix/mnist_cnn.o"
export PKG_CONFIG_PATH="$(dirname "$(find "$prefix" -name xairt.pc | head -n 1)")"
check cc -o "$prefix/classify" "$root/examples/classify.c" "$prefix/mnist_cnn.o" -I"$prefix" \
  $(pkg-config --cflags --libs xairt) -Wl,-rpath,"$(pkg-config --variable=libdir xairt)"
out=$(cd "$root" && "$prefix/classify" models/samples/digits.npy 2>&1)
check grep -q "digits.npy\[9\]: 9" <<<"$out"

# the CMake package: find_package(xaic) gives xaic::xairt and XAIC_EXECUTABLE
mkdir -p "$prefix/user"
cat > "$prefix/user/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.20)
project(user C)
find_package(xaic REQUIRED)
add_custom_command(OUTPUT mnist_cnn.o COMMAND \${XAIC_EXECUTABLE} $root/models/mnist_cnn.xai -o mnist_cnn.o)
add_executable(classify $root/examples/classify.c mnist_cnn.o)
target_include_directories(classify PRIVATE \${CMAKE_CURRENT_BINARY_DIR})
target_link_libraries(classify PRIVATE xaic::xairt m)
CMAKE
check cmake -S "$prefix/user" -B "$prefix/user/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
check cmake --build "$prefix/user/build" >/dev/null
out=$(cd "$root" && "$prefix/user/build/classify" models/samples/digits.npy 2>&1)
check grep -q "digits.npy\[3\]: 3" <<<"$out"

# the Python package: Debian's python3 with the installed package on its path finds the installed compiler on
# PATH, which links the installed libxairt.a into a shared object
pkg=$(find "$prefix" -path '*/xaic/__init__.py' | head -n 1)
check test -n "$pkg"
out=$(cd "$prefix" && env -u XAIC_COMPILER -u XAIC_RUNTIME PATH="$prefix/bin:/usr/bin:/bin" \
      PYTHONPATH="$(dirname "$(dirname "$pkg")")" XAIC_CACHE_DIR="$prefix/cache" PYTHONDONTWRITEBYTECODE=1 \
      /usr/bin/python3 -c "
import numpy as np, xaic
net = xaic.compile('$root/models/mnist_cnn.xai')
print(net.forward(np.load('$root/models/samples/digits.npy')).argmax(1).tolist(), xaic.find_compiler())" 2>&1)
check grep -qF "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9] $prefix/bin/xaic" <<<"$out"

echo "install smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
