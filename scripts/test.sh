#!/usr/bin/env bash
# Sets up, builds and runs every test: unit tests (GoogleTest), benchmark smoke run, and the
# integration suite (tshark and sharkd with the plugin just built, over generated captures).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
cd "$here/build"
ctest --output-on-failure
