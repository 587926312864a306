#!/usr/bin/env bash
# Writes `tshark -T pdml` (one pass and two passes) and the -z wacall,calls / rtp,streams tables of
# every generated, sample and real capture, with and without its key log, through the plugin in
# the build tree: the guard for refactors that must not change what users see.
#
#   scripts/pdml-snapshot.sh OUT_DIR [BEFORE_DIR]   write the snapshot
#   diff -r BEFORE_DIR AFTER_DIR                     compare two snapshots
#
# Captures are generated afresh into OUT_DIR/pcaps, or copied from BEFORE_DIR/pcaps when given: the
# generator is deterministic except for the captures that carry real TLS (neg-https, sig-wss).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: pdml-snapshot.sh OUT_DIR}
mkdir -p "$out/pcaps"
if [ -n "${2:-}" ]; then
  cp -a "$2/pcaps/." "$out/pcaps/"
else
  python3 "$here/test-pcaps/gen/make_all.py" "$out/pcaps" >/dev/null
fi
real=$(cd "$here/.." && pwd)/shared/data/real-captures
tshark_dev() { "$here/scripts/tshark-dev.sh" "$@"; }

# The key log of a generated capture: X.keys beside X.pcap, or the base capture's for the
# tcp-order variants (sig-tcp443-swap.pcap -> sig-tcp443.keys, sample-call-* -> call.keys).
keylog_of() {
  local pcap=$1 dir base
  dir=$(dirname "$pcap")
  base=$(basename "$pcap"); base=${base%.pcap*}
  while [ -n "$base" ]; do
    [ -f "$dir/$base.keys" ] && { echo "$dir/$base.keys"; return; }
    [ "$base" = sample-call ] && [ -f "$dir/call.keys" ] && { echo "$dir/call.keys"; return; }
    case $base in *-*) base=${base%-*} ;; *) base= ;; esac
  done
}

snap() {  # name pcap [tshark options...]
  local name=$1 pcap=$2; shift 2
  tshark_dev -r "$pcap" "$@" -T pdml >"$out/$name.pdml" 2>"$out/$name.err" || echo "exit $?" >>"$out/$name.err"
  tshark_dev -2 -r "$pcap" "$@" -T pdml >"$out/$name.2.pdml" 2>>"$out/$name.err" || true
  tshark_dev -q -r "$pcap" "$@" -z wacall,calls -z rtp,streams >"$out/$name.tables" 2>>"$out/$name.err" || true
  # Absolute paths of the snapshot folder and the run's wall-clock time (pdml header) differ
  # between runs: make them comparable.
  sed -i -e "s#$out#OUT#g" -e '/^<pdml /s/ time="[^"]*"//' "$out/$name.pdml" "$out/$name.2.pdml" "$out/$name.tables" "$out/$name.err"
}

n=0
while IFS= read -r pcap; do
  rel=${pcap#"$out/pcaps/"}; name=${rel//\//_}
  keys=$(keylog_of "$pcap")
  snap "$name.keyless" "$pcap"
  if [ -n "$keys" ]; then
    extra=(-o "wacall.keylog_file:$keys")
    tls=${pcap%.pcap}.tls-keys.txt
    [ -f "$tls" ] && extra+=(-o "tls.keylog_file:$tls")
    snap "$name.keyed" "$pcap" "${extra[@]}"
  fi
  n=$((n + 1))
done < <(find "$out/pcaps" -name '*.pcap' -o -name '*.pcapng' | sort)
for pcap in "$real"/*.pcap* "$here"/test-pcaps/sample/*.pcap; do
  [ -f "$pcap" ] || continue
  name=src_$(basename "$pcap")
  snap "$name.keyless" "$pcap"
  [ -f "${pcap%.pcap}.keys" ] && snap "$name.keyed" "$pcap" -o "wacall.keylog_file:${pcap%.pcap}.keys"
  n=$((n + 1))
done
echo "pdml-snapshot: $n captures in $out"
