#!/usr/bin/env bash
# Runs tshark (or sharkd with WACALL_TOOL=sharkd) with the plugin from the build tree and nothing
# else: its own plugin folder (WIRESHARK_PLUGIN_DIR replaces the system's), configuration folder
# and HOME (so a copy installed in the personal plugin folder is not loaded too).
# As root, Wireshark ignores WIRESHARK_PLUGIN_DIR, so root runs inside a user namespace where it
# appears as uid 1000 (mapped back to root, so root-owned files stay readable).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${WACALL_BUILD_DIR:-$here/build}
tool=${WACALL_TOOL:-tshark}
export WIRESHARK_PLUGIN_DIR="$build/plugins"
export WIRESHARK_CONFIG_DIR=${WIRESHARK_CONFIG_DIR:-$build/ws-config}
export HOME="$build/home"
mkdir -p "$WIRESHARK_CONFIG_DIR" "$HOME" "$WIRESHARK_PLUGIN_DIR"
# WACALL_PRELOAD: a library preloaded into tshark/sharkd only (not into the caller), e.g. the ASan
# runtime for a plugin built with -DWACALL_SANITIZE=ON (scripts/mutate.sh). Extcap helpers are
# then disabled: they would inherit the preload and hang `tshark -G plugins`.
if [ -n "${WACALL_PRELOAD:-}" ]; then
  export LD_PRELOAD="$WACALL_PRELOAD"
  export WIRESHARK_EXTCAP_DIR="$build/no-extcap"
  mkdir -p "$WIRESHARK_EXTCAP_DIR"
fi
if [ "$(id -u)" = 0 ] || [ "$(id -g)" = 0 ]; then
  exec unshare --user --map-user=1000 --map-group=1000 env WIRESHARK_PLUGIN_DIR="$WIRESHARK_PLUGIN_DIR" \
    WIRESHARK_CONFIG_DIR="$WIRESHARK_CONFIG_DIR" HOME="$HOME" "$tool" "$@"
fi
exec "$tool" "$@"
