#!/usr/bin/env bash
# Sets up, builds and runs every test: unit tests (GoogleTest), benchmark smoke run, and the
# integration suite (tshark and sharkd with the plugin just built, over generated captures).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
cd "$here/build"
ctest --output-on-failure
# Short reliability runs (docs/reliability.md): every libFuzzer target for ~10 s (clang,
# ASan+UBSan, build-fuzz/), then ~140 captures, clean and mutated by editcap -E, through an
# ASan+UBSan build of the plugin (build-asan/). The long runs are scripts/fuzz.sh --long and
# scripts/mutate.sh --long.
"$here/scripts/fuzz.sh" --short
"$here/scripts/mutate.sh" --short
