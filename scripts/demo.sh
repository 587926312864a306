#!/usr/bin/env bash
# The main job: set up, build, install the plugin where Wireshark and tshark find it for the
# invoking user, and print the decrypted call in the bundled sample capture.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
if [ "$(id -u)" = 0 ]; then
  # Root's tshark ignores the personal plugin folder: install system-wide.
  # (the dissector to plugins/4.0/epan, the Opus codec for the RTP player to plugins/4.0/codecs).
  cmake --install "$here/build" >/dev/null
  dest=$(pkg-config --variable=plugindir wireshark)/epan
else
  dest="$HOME/.local/lib/wireshark/plugins/4.0/epan"
  mkdir -p "$dest" && cp "$here/build/plugins/4.0/epan/wacall.so" "$dest/"
  if [ -f "$here/build/plugins/4.0/codecs/wacall_opus.so" ]; then
    mkdir -p "$dest/../codecs" && cp "$here/build/plugins/4.0/codecs/wacall_opus.so" "$dest/../codecs/"
  fi
fi
echo "wacall plugin installed in $dest"
[ -f "${dest%/epan}/codecs/wacall_opus.so" ] && echo "Opus codec for the RTP player installed in ${dest%/epan}/codecs"
pcap="$here/test-pcaps/sample/call.pcap"
keys="$here/test-pcaps/sample/call.keys"
echo
echo "== Decrypted call signaling ($pcap) =="
tshark -r "$pcap" -o "wacall.keylog_file:$keys" -Y wacall -T fields -E header=y \
  -e frame.number -e wacall.action -e wacall.call_id -e wacall.call_creator -e wabinary.xml 2>/dev/null
echo
echo "== Decrypted media: RTP streams =="
tshark -r "$pcap" -o "wacall.keylog_file:$keys" -q -z rtp,streams 2>/dev/null
echo
echo "== The call at a glance =="
tshark -r "$pcap" -o "wacall.keylog_file:$keys" -q -z wacall,calls 2>/dev/null
