#!/usr/bin/env bash
# Regenerates the GUI screenshots in docs/img/ from the real Wireshark (Qt) GUI, run under Xvfb with
# the plugin from the build tree and the bundled sample capture + key log.
#
#   bash scripts/setup.sh          # once: builds ./build (this script builds nothing)
#   bash scripts/screenshots.sh    # as root (or with sudo for the apt-get step) on Debian 12
#
# Not part of CI. It installs wireshark-qt, xvfb, xdotool, x11-apps (xwd) and netpbm with apt-get
# (non-interactively; the wireshark-common "non-superusers capture" question is answered "no"),
# starts a private X server (no window manager), and drives the GUI with xdotool: a fresh
# configuration directory per start fixes the window geometry (`recent_common`) and the pane sizes
# (`recent`) and turns off the update check; menus are opened with their keyboard mnemonics
# (Alt+Y Telephony, Alt+S Statistics; Statistics › WhatsApp is the menu's last entry), dialogs are
# waited for by title with `xdotool search --sync` and captured one window at a time with xwd.
# The only pixel positions used are a click in the empty lower part of the packet details and on
# the first row of the VoIP Calls list. Every PNG should be looked at after a Wireshark upgrade. As root, Wireshark ignores WIRESHARK_PLUGIN_DIR, so the GUI runs
# through scripts/tshark-dev.sh (WACALL_TOOL=wireshark), i.e. in a user namespace as uid 1000.
#
# Environment: WACALL_BUILD_DIR (default ./build), SHOTS_DISPLAY (default :99),
# SHOTS_OUT (default docs/img), SHOTS_KEEP_TMP=1 keeps the scratch directory.
#
# Produces:
#   docs/img/offer.png          packet list (filter "wacall") + details of the decrypted offer
#   docs/img/rtp.png            decrypted RTP/Opus in the packet list (filter "rtp")
#   docs/img/voip-calls.png     Telephony › VoIP Calls listing the WhatsApp call
#   docs/img/call-flow.png      its Flow Sequence (signaling and RTP streams on one time line)
#   docs/img/calls-tree.png     Statistics › WhatsApp › Calls (stats tree)
#   docs/img/rtp-streams.png    Telephony › RTP › RTP Streams
#   docs/img/rtp-streams-keyless.png, rtp-analysis-keyless.png, calls-tree-keyless.png
#                               RTP Streams, RTP Stream Analysis and WhatsApp › Calls on a real
#                               call captured without keys (SHOTS_ONLY=keyless: only these)
#   docs/img/voip-calls-keyless.png, call-flow-keyless.png
#                               VoIP Calls and the Flow Sequence of that call, its RTP streams
#                               linked by their setup frame (SHOTS_ONLY=keyless-voip: only these)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${WACALL_BUILD_DIR:-$here/build}
out=${SHOTS_OUT:-$here/docs/img}
display=${SHOTS_DISPLAY:-:99}
pcap="$here/test-pcaps/sample/call.pcap"
keys="$here/test-pcaps/sample/call.keys"
W=1600 H=1000

abi=$(cat "$build/ws-abi.txt" 2>/dev/null || true)
if [ ! -f "$build/plugins/$abi/epan/wacall.so" ]; then
  echo "screenshots: $build/plugins/$abi/epan/wacall.so missing; run scripts/setup.sh first" >&2
  exit 1
fi

# ---- packages ------------------------------------------------------------------------------------
packages=(wireshark-qt xvfb xdotool x11-apps x11-utils netpbm fonts-dejavu-core)
"$here/scripts/apt-ensure.sh" "${packages[@]}" >/dev/null

# ---- scratch config dir, X server ----------------------------------------------------------------
tmp=$(mktemp -d /tmp/wacall-shots.XXXXXX)
chmod 755 "$tmp"
xvfb_pid="" ws_pid=""
cleanup() {
  [ -n "$ws_pid" ] && kill "$ws_pid" 2>/dev/null || true
  [ -n "$ws_pid" ] && wait "$ws_pid" 2>/dev/null || true
  [ -n "$xvfb_pid" ] && { kill "$xvfb_pid" 2>/dev/null; wait "$xvfb_pid" 2>/dev/null; } || true
  [ "${SHOTS_KEEP_TMP:-0}" = 1 ] || rm -rf "$tmp"
}
trap cleanup EXIT

export DISPLAY=$display
Xvfb "$display" -screen 0 "${W}x${H}x24" -nolisten tcp -ac >"$tmp/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 300); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
xdpyinfo >/dev/null 2>&1 || { echo "screenshots: Xvfb did not start (see $tmp/xvfb.log)" >&2; exit 1; }

# A fresh configuration directory per GUI start: no update check, no "running elevated" warning,
# the main window at a fixed geometry (recent_common) with the packet list UPPER_PANE pixels high
# and the byte view hidden (recent: more room for the details).
new_config() {
  local cfg=$1 upper=$2
  rm -rf "$cfg"; mkdir -p "$cfg"
  cat >"$cfg/preferences" <<EOF
gui.update.enabled: FALSE
gui.ask_unsaved: FALSE
EOF
  cat >"$cfg/recent_common" <<EOF
gui.geometry_main_x: 0
gui.geometry_main_y: 0
gui.geometry_main_width: $W
gui.geometry_main_height: $H
gui.geometry_main_maximized: FALSE
privs.warn_if_elevated: FALSE
privs.warn_if_no_npf: FALSE
EOF
  cat >"$cfg/recent" <<EOF
gui.byte_view_show: FALSE
gui.packet_list_colorize: TRUE
gui.geometry_main_upper_pane: $upper
EOF
}

# start_ws UPPER_PANE ARGS...: starts the GUI on the sample capture with the key log, waits for
# its main window and gives it the keyboard focus (there is no window manager).
main_win=""
start_ws() {
  local upper=$1; shift
  new_config "$tmp/cfg" "$upper"
  # An empty extcap folder: no androiddump & co. probing (and outliving the GUI) at start-up.
  mkdir -p "$tmp/extcap"
  WIRESHARK_CONFIG_DIR="$tmp/cfg" WIRESHARK_EXTCAP_DIR="$tmp/extcap" WACALL_BUILD_DIR="$build" WACALL_TOOL=wireshark \
    "$here/scripts/tshark-dev.sh" -r "$pcap" ${keys:+-o "wacall.keylog_file:$keys"} "$@" >"$tmp/ws.log" 2>&1 &
  ws_pid=$!
  local title
  title="^$(basename "$pcap" | sed 's/[.]/\\./g')"
  main_win=$(timeout 60 xdotool search --sync --onlyvisible --name "$title" | head -1) ||
    { echo "screenshots: the Wireshark window did not appear:" >&2; cat "$tmp/ws.log" >&2; exit 1; }
  xdotool windowmove "$main_win" 0 0 windowsize "$main_win" "$W" "$H"
  settle 3
  focus "$main_win"
}
stop_ws() {
  kill "$ws_pid" 2>/dev/null || true
  wait "$ws_pid" 2>/dev/null || true
  ws_pid=""
}
# The GUI dissects and retaps in its event loop; give it a moment after each action.
settle() { sleep "${1:-1}"; }
# Keys go to the window with the input focus; without a window manager, set it explicitly.
focus() { xdotool windowfocus --sync "$1"; }
# Park the pointer where it highlights nothing (hovered rows are drawn highlighted).
park_pointer() { xdotool mousemove "$((W - 1))" "$((H - 1))"; }
# wait_win REGEX: the id of the visible window whose title matches, once it is mapped.
wait_win() {
  timeout 30 xdotool search --sync --onlyvisible --name "$1" | head -1 ||
    { echo "screenshots: no window titled /$1/ appeared" >&2; exit 1; }
}
# shot WINDOW FILE: captures one X window (no window manager, so no decorations) as PNG.
shot() {
  park_pointer
  settle 1
  xwd -silent -id "$1" | xwdtopnm 2>/dev/null | pnmtopng -compression 9 >"$2"
  echo "wrote ${2#"$here"/} ($(xdotool getwindowgeometry "$1" | awk '/Geometry/ {print $2}'))"
}
# keys KEY...: one key at a time (the tree views drop keys sent in a burst).
keys() { for k in "$@"; do xdotool key "$k"; sleep 0.3; done; }
# place WINDOW WIDTH HEIGHT: a dialog at the top left corner with the given size.
place() { xdotool windowsize "$1" "$2" "$3" windowmove "$1" 0 0; settle 1; }

mkdir -p "$out"

# Dialogs opened from the main window's menus (sets $win to the dialog).
calls_tree_shot() {  # Statistics › WhatsApp › Calls: the last entry of the Statistics menu
  focus "$main_win"
  xdotool key alt+s; settle 1; xdotool key Up Right; settle 1; xdotool key Return
  win=$(wait_win " Calls · $(basename "$pcap" | sed 's/[.]/\\./g')")
  settle 3
  place "$win" 1100 590
  shot "$win" "$1"
}
rtp_streams_shot() {  # Telephony › RTP › RTP Streams
  focus "$main_win"
  xdotool key alt+y; settle 1; xdotool key r; settle 1; xdotool key Return
  win=$(wait_win 'RTP Streams')
  settle 3
  place "$win" "$W" 260
  shot "$win" "$1"
}

# Telephony › VoIP Calls (first item of the Telephony menu) with its first (only) call selected,
# then that call's Flow Sequence, scrolled down ROWS rows (the view follows the selection).
#   voip_calls_shots CALLS_PNG FLOW_PNG FLOW_HEIGHT ROWS
voip_calls_shots() {
  xdotool key alt+y; settle 1; xdotool key Return
  win=$(wait_win 'VoIP Calls')
  settle 3
  place "$win" "$W" 300
  xdotool mousemove --window "$win" 300 41 click 1
  shot "$win" "$1"
  focus "$win"; xdotool key alt+s
  flow=$(wait_win 'Call Flow')
  settle 3
  place "$flow" "$W" "$3"
  if [ "$4" -gt 0 ]; then focus "$flow"; xdotool key --repeat "$4" --delay 50 Down; settle 2; fi
  shot "$flow" "$2"
  focus "$flow"; xdotool key Escape; settle 1
  focus "$win"; xdotool key Escape; settle 1
}

# The shared real capture NAME, without a key log, as the capture start_ws opens (pcap, keys);
# false, and a message naming WHAT is skipped, when the shared data is not there.
#   real_capture NAME WHAT
real_capture() {
  pcap=$(cd "$here/.." && pwd)/shared/data/real-captures/$1
  keys=""
  [ -f "$pcap" ] && return 0
  echo "screenshots: $pcap missing: $2 skipped" >&2
  return 1
}

keyed_shots() {
  tshark_dev() { WACALL_BUILD_DIR="$build" "$here/scripts/tshark-dev.sh" -r "$pcap" -o "wacall.keylog_file:$keys" "$@" 2>/dev/null; }
  offer=$(tshark_dev -Y 'wacall.action == "offer"' -T fields -e frame.number | head -1)
  first_rtp=$(tshark_dev -Y 'rtp.p_type == 111' -T fields -e frame.number | head -1)
  echo "offer is frame $offer, first decrypted Opus packet is frame $first_rtp"


  # (a) The decrypted offer: the call stanzas (filter "wacall") in the packet list, the offer
  #     selected; in the details the decrypted Noise frame and the call signaling tree expanded.
  start_ws 160 -Y wacall -g "$offer"
  # Focus the details (a click in their empty lower part), then from the first row (Frame, Ethernet,
  # IP, TCP, Noise handshake, Noise transport): expand the transport frame and the last row (wacall).
  xdotool mousemove --window "$main_win" $((W / 2)) $((H - 60)) click 1
  keys Home Left Down Down Down Down Down Right End Right
  shot "$main_win" "$out/offer.png"
  stop_ws

  # (b) Decrypted media: the packet list filtered on "rtp" (WARP packets decrypted and handed to
  #     Wireshark's RTP/Opus dissectors), an Opus packet selected with its WARP tree expanded.
  start_ws 330 -Y rtp -g "$first_rtp"
  xdotool mousemove --window "$main_win" $((W / 2)) $((H - 60)) click 1
  keys Home Left Down Down Down Down Right    # Frame, Ethernet, IP, UDP, WARP
  shot "$main_win" "$out/rtp.png"
  stop_ws

  # (c)-(f) Dialogs, on the whole capture (no display filter, so the voip tap sees the signaling).
  start_ws 430
  # (c) Telephony › VoIP Calls, the call selected; (d) its Flow Sequence: the call's signaling
  #     and RTP streams on one time line.
  voip_calls_shots "$out/voip-calls.png" "$out/call-flow.png" 470 0

  # (e) Statistics › WhatsApp › Calls (the last entry of the Statistics menu, one item inside).
  calls_tree_shot "$out/calls-tree.png"
  focus "$win"; xdotool key Escape; settle 1
  # (f) Telephony › RTP › RTP Streams.
  rtp_streams_shot "$out/rtp-streams.png"
  stop_ws
}

# (g)-(h) No keys: the real 2019 WhatsApp call of the shared data (no key log exists for it): the
#     encrypted WARP media still feeds Wireshark's RTP tools from the clear RTP headers.
keyless_shots() {
  real_capture wa-voice-2019.pcap "keyless shots" || return 0
  local first
  first=$(WACALL_BUILD_DIR="$build" "$here/scripts/tshark-dev.sh" -r "$pcap" -Y 'rtp && warp' -T fields \
    -e frame.number 2>/dev/null | head -1)
  # (g) Telephony › RTP › RTP Streams: the call's streams, named WA-AUDIO, with loss and jitter.
  start_ws 430 -g "$first"
  rtp_streams_shot "$out/rtp-streams-keyless.png"
  # (h) RTP Stream Analysis of the second stream (the callee's audio on the peer-to-peer path):
  #     its row, then the dialog's Analyze button (the only pixel positions of this part).
  xdotool mousemove --window "$win" 300 58 click 1; settle 1
  xdotool mousemove --window "$win" 937 235 click 1; settle 2
  win=$(wait_win 'RTP Stream Analysis')
  settle 3
  place "$win" "$W" 600
  shot "$win" "$out/rtp-analysis-keyless.png"
  focus "$win"; xdotool key Escape; settle 1
  # (i) Statistics › WhatsApp › Calls: the call inferred from relay STUN and RTP flows.
  calls_tree_shot "$out/calls-tree-keyless.png"
  stop_ws
}

# (j)-(k) No keys, Telephony › VoIP Calls: the inferred call (from its relay STUN), and its Flow
#     Sequence with the RTP streams whose setup frame is the call's first frame.
keyless_voip_shots() {
  real_capture wa-voice-2019.pcap "keyless VoIP shots" || return 0
  start_ws 430
  # Down to the last rows of the Flow Sequence, where the RTP stream arrows are
  # (ui/voip_calls.c appends them to the call's graph).
  voip_calls_shots "$out/voip-calls-keyless.png" "$out/call-flow-keyless.png" 560 "${SHOTS_FLOW_ROWS:-80}"
  stop_ws
}

case "${SHOTS_ONLY:-all}" in
  keyed) keyed_shots ;;
  keyless) keyless_shots ;;
  keyless-voip) keyless_voip_shots ;;
  *) keyed_shots; keyless_shots; keyless_voip_shots ;;
esac
echo "screenshots: done ($out)"
