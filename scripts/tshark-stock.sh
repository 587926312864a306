#!/usr/bin/env bash
# Stock Wireshark: tshark (or sharkd with WACALL_TOOL=sharkd) with no wacall at all, whatever is
# installed: an empty plugin folder, a configuration folder and HOME of its own. Every comparison
# with "stock" (tests, generator self-checks, benchmarks) runs through here, so an installed
# plugin (scripts/demo.sh) can never leak into it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
stock=${WACALL_STOCK_DIR:-${TMPDIR:-/tmp}/wacall-stock-$(id -u)}
mkdir -p "$stock/plugins"
if [ -n "$(ls -A "$stock/plugins")" ]; then
  echo "tshark-stock: $stock/plugins is not empty" >&2
  exit 2
fi
WACALL_BUILD_DIR="$stock" WIRESHARK_CONFIG_DIR="$stock/ws-config" exec "$here/scripts/tshark-dev.sh" "$@"
