#!/usr/bin/env bash
# The main job: set up (the plugin's packages and the Wireshark GUI), build, install the plugin
# into the plugin folder that this user's Wireshark and tshark load, and print the decrypted call
# in the bundled sample capture. Debian 12, 13 and sid (Wireshark 4.0, 4.4, 4.6), as root or as a
# user. Undo with scripts/uninstall.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh" --demo
abi=$(cat "$here/build/ws-abi.txt")  # major.minor of the Wireshark the plugin was built for
# The folders this Wireshark loads, as it reports them. Root's tshark ignores the personal
# folder, so root installs into the global one.
folder() { tshark -G folders 2>/dev/null | sed -n "s/^$1:[[:space:]]*//p" | head -1; }
if [ "$(id -u)" = 0 ]; then
  plugins=$(folder "Global Plugins")
else
  plugins=$(folder "Personal Plugins")
fi
case "$plugins" in */"$abi") ;; *) echo "demo: tshark's plugin folder $plugins is not for Wireshark $abi" >&2; exit 1 ;; esac
mkdir -p "$plugins/epan"
install -m 644 "$here/build/plugins/$abi/epan/wacall.so" "$plugins/epan/wacall.so"
echo "wacall plugin installed in $plugins/epan (Wireshark $abi)"
if [ -f "$here/build/plugins/$abi/codecs/wacall_opus.so" ]; then
  mkdir -p "$plugins/codecs"
  install -m 644 "$here/build/plugins/$abi/codecs/wacall_opus.so" "$plugins/codecs/wacall_opus.so"
  echo "Opus codec for the RTP player installed in $plugins/codecs"
fi
echo "Uninstall: bash scripts/uninstall.sh"
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
echo
echo "Open it in the GUI: wireshark -r $pcap -o wacall.keylog_file:$keys"
