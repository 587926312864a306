#!/usr/bin/env bash
# Sets up, builds and runs every test: unit tests (GoogleTest), benchmark smoke run, and the
# integration suite (tshark and sharkd with the plugin just built, over generated captures), the
# short reliability runs, then the same build and integration suite against the other supported
# Wireshark versions (4.4 and 4.6, in Debian 13 and sid roots; scripts/ws-versions.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
start=$SECONDS
"$here/scripts/setup.sh"
cd "$here/build"
ctest --output-on-failure
# Short reliability runs (docs/reliability.md): every libFuzzer target for ~10 s (clang,
# ASan+UBSan, build-fuzz/), then ~140 captures, clean and mutated by editcap -E, through an
# ASan+UBSan build of the plugin (build-asan/). The long runs are scripts/fuzz.sh --long and
# scripts/mutate.sh --long.
"$here/scripts/fuzz.sh" --short
"$here/scripts/mutate.sh" --short
echo "Wireshark $(dpkg-query -W -f='${Version}' tshark) (this machine): all tests passed in $((SECONDS - start)) s"
# WACALL_SUITES="" skips the other versions (e.g. for a quick local run).
if [ -n "${WACALL_SUITES-trixie sid}" ]; then
  "$here/scripts/ws-versions.sh"
fi
