#!/usr/bin/env bash
# Installs the Debian 12 packages xaic needs to build and test (only the missing ones).
# Runs apt-get as root, or through sudo when not root.
set -euo pipefail
packages=(cmake make gcc g++ pkg-config flex bison llvm-19-dev clang-19 libclang-rt-19-dev
          libcjson-dev libcriterion-dev libpng-dev libjpeg62-turbo-dev zlib1g-dev python3 clang-format
          protobuf-c-compiler libprotobuf-c-dev libonnx-dev libopenmpi-dev openmpi-bin
          # the importer's tests export torchvision models at test time (tests/reference/)
          python3-torch python3-torchvision python3-onnx python3-numpy python3-pytest)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "xaic: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
