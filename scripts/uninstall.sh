#!/usr/bin/env bash
# Removes what scripts/demo.sh (or cmake --install) put into Wireshark's plugin folders: wacall.so
# and the wacall_opus.so codec, from this user's personal folder and, as root, the global one.
# A .deb install is removed with: apt-get remove wireshark-plugin-wacall
set -euo pipefail
folder() { tshark -G folders 2>/dev/null | sed -n "s/^$1:[[:space:]]*//p" | head -1; }
folders=("$(folder "Personal Plugins")")
[ "$(id -u)" = 0 ] && folders+=("$(folder "Global Plugins")")
removed=0
for f in "${folders[@]}"; do
  [ -n "$f" ] || continue
  for so in "$f/epan/wacall.so" "$f/codecs/wacall_opus.so"; do
    if [ -f "$so" ]; then
      if dpkg-query -S "$so" >/dev/null 2>&1; then
        echo "$so belongs to a package: apt-get remove wireshark-plugin-wacall" >&2
        continue
      fi
      rm -f "$so" && echo "removed $so" && removed=$((removed + 1))
    fi
  done
done
[ "$removed" -gt 0 ] || echo "no wacall plugin installed in ${folders[*]}"
