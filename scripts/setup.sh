#!/usr/bin/env bash
# Installs what the build and the tests need (Debian 12, as root or with sudo), then configures
# and builds everything into ./build. Safe to run again; needs no standard input.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
packages=(
  cmake ninja-build g++ pkg-config
  wireshark-dev libwireshark-dev tshark wireshark-common
  libglib2.0-dev libgcrypt20-dev zlib1g-dev libjson-glib-dev libopus-dev libyaml-dev
  libgtest-dev libbenchmark-dev time valgrind
  clang libclang-rt-14-dev
  python3 python3-pytest python3-yaml python3-cryptography python3-pylibsrtp
)
"$here/scripts/apt-ensure.sh" "${packages[@]}"
cmake -S "$here" -B "$here/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$here/build"
