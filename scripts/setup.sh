#!/usr/bin/env bash
# Installs what wacall needs from Debian's packages (Debian 12, 13 or sid: Wireshark 4.0, 4.4 or
# 4.6; as root or with sudo; no standard input), then configures and builds into ./build.
# Safe to run again.
#
#   scripts/setup.sh          the plugin plus everything the tests need (unit, integration,
#                             benchmarks, fuzzing, sanitizers): scripts/test.sh
#   scripts/setup.sh --demo   the plugin and the Wireshark GUI only: scripts/demo.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mode=tests
[ "${1:-}" = "--demo" ] && mode=demo
plugin_packages=(
  cmake ninja-build g++ pkg-config python3
  wireshark-dev libwireshark-dev tshark
  libglib2.0-dev libgcrypt20-dev zlib1g-dev libjson-glib-dev libopus-dev libyaml-dev
)
gui_packages=(wireshark)
test_packages=(
  wireshark-common libgtest-dev libbenchmark-dev time valgrind util-linux dpkg-dev file
  clang libclang-rt-dev
  python3-pytest python3-yaml python3-cryptography python3-pylibsrtp
)
if [ "$mode" = demo ]; then
  "$here/scripts/apt-ensure.sh" "${plugin_packages[@]}" "${gui_packages[@]}"
  options=(-DWACALL_BUILD_TESTS=OFF -DWACALL_BUILD_BENCH=OFF)
else
  "$here/scripts/apt-ensure.sh" "${plugin_packages[@]}" "${test_packages[@]}"
  options=(-DWACALL_BUILD_TESTS=ON -DWACALL_BUILD_BENCH=ON)
fi
cmake -S "$here" -B "$here/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${options[@]}" >/dev/null
cmake --build "$here/build"
