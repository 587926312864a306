#!/usr/bin/env bash
# Mutated-capture loop over an ASan+UBSan build of the plugin (build-asan/, -DWACALL_SANITIZE=ON):
# every generated test capture, unmutated and through `editcap -E <rate> --seed <n>` at several
# error rates, is dissected with its key log by `tshark -2 -V`. A case fails on a signal, a
# sanitizer report, a "Dissector bug" in a wacall protocol, or a timeout.
#
#   scripts/mutate.sh [--short|--long] [--seeds N] [--timeout S]
#
#   --short  (default) rates 0.001 0.01 0.05 0.2, seed 1: ~100 cases (the CI run)
#   --long   the same rates, seeds 1..14 (>= 1,000 cases), then the integration suite against the
#            ASan build and valgrind --leak-check=full over one full run on call-full (with a
#            plain, unsanitized plugin build in build-asan/plain)
#
# Results: build-asan/mutate-summary.txt (short) or build-asan/mutate-summary-long.txt (long);
# failing cases keep their mutated capture and logs in build-asan/mutate/failures/.
# Exit status 1 if anything failed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build-asan"
mode=short
seeds=1
timeout_s=120
while [ $# -gt 0 ]; do
  case "$1" in
    --short) mode=short; seeds=1 ;;
    --long) mode=long; seeds=14 ;;
    --seeds) seeds="$2"; shift ;;
    --timeout) timeout_s="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "mutate.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
rates=(0.001 0.01 0.05 0.2)

# ---- ASan+UBSan plugin ------------------------------------------------------------------------
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$here" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWACALL_SANITIZE=ON \
    -DWACALL_BUILD_BENCH=OFF >/dev/null
fi
nice -n 19 cmake --build "$build" --target wacall >/dev/null
# The codec plugin (if the tree has one) loads from the same plugin folder.
if cmake --build "$build" --target help 2>/dev/null | grep -q 'wacall_opus'; then
  nice -n 19 cmake --build "$build" --target wacall_opus >/dev/null
fi

asan_rt=$(gcc -print-file-name=libasan.so)
export WACALL_BUILD_DIR="$build"
export WACALL_PRELOAD="$asan_rt"  # scripts/tshark-dev.sh preloads it into tshark only
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:exitcode=86:detect_odr_violation=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87"
export WIRESHARK_CONFIG_DIR="$build/ws-config-mutate"
runner="$here/scripts/tshark-dev.sh"

# The plugin must be the one just built (and must load under ASan).
if ! "$runner" -G plugins 2>&1 | grep -q "$build/plugins/.*/wacall.so"; then
  echo "mutate.sh: tshark does not load $build/plugins/*/epan/wacall.so" >&2
  exit 1
fi

# ---- captures ---------------------------------------------------------------------------------
work="$build/mutate"
caps="$work/caps"
rm -rf "$work"
mkdir -p "$work/failures" "$work/tmp"
/usr/bin/python3 "$here/test-pcaps/gen/make_all.py" "$caps" >/dev/null
/usr/bin/python3 "$here/test-pcaps/gen/make_hostile.py" "$caps" >/dev/null  # zlib bombs, deep nesting, ...
/usr/bin/python3 "$here/test-pcaps/gen/make_collision.py" "$caps" >/dev/null  # two senders, one SSRC
# name <tab> pcap <tab> keylog <tab> tls keylog, one line per manifest capture (+ the hostile and
# SSRC-collision ones)
mapfile -t entries < <(/usr/bin/python3 - "$caps/manifest.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
for c in m["captures"]:
    print("\t".join([c["name"].replace("/", "_"), c["pcap"], c.get("keylog") or "", c.get("tls_keylog") or ""]))
for c in m.get("negatives", []):  # other apps' traffic (test-pcaps/gen/negatives.py)
    print("\t".join([c["name"], c["pcap"], "", c.get("tls_keylog") or ""]))
print("\t".join(["sig-hostile", "sig-hostile.pcap", "sig-hostile.keys", ""]))
print("\t".join(["ssrc-collision", "collision.pcap", "collision.keys", ""]))
EOF
)

summary="$build/mutate-summary.txt"
[ "$mode" = long ] && summary="$build/mutate-summary-long.txt"
cases=0 fails=0 timeouts=0 frames=0 malformed=0 experts=0
declare -A per_rate_cases per_rate_fail
failures=()
malformed_cases=()
start=$(date +%s)

run_case() {  # label pcap keylog tls
  local label=$1 pcap=$2 keylog=$3 tls=$4
  local out="$work/tmp/out.txt" err="$work/tmp/err.txt"
  local args=(-r "$pcap" -2 -V)
  [ -n "$keylog" ] && args+=(-o "wacall.keylog_file:$caps/$keylog")
  [ -n "$tls" ] && args+=(-o "tls.keylog_file:$caps/$tls")
  local rc=0
  timeout -k 5 "$timeout_s" nice -n 19 "$runner" "${args[@]}" >"$out" 2>"$err" || rc=$?
  cases=$((cases + 1))
  local why=""
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    why="timeout (${timeout_s}s)"
    timeouts=$((timeouts + 1))
  elif grep -qE "AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:" "$err"; then
    why="sanitizer: $(grep -m1 -oE "(ERROR: [A-Za-z]+Sanitizer: [a-z-]+|runtime error: .{0,100})" "$err")"
  elif [ $rc -ge 128 ] || [ $rc -eq 86 ] || [ $rc -eq 87 ]; then
    why="crash (exit $rc)"
  elif [ $rc -ne 0 ]; then
    why="tshark exit $rc: $(head -c 200 "$err" | tr '\n' ' ')"
  elif grep -qE "Dissector bug, protocol (wanoise|wabinary|wacall|wastun|warp)" "$out"; then
    why="dissector bug: $(grep -m1 -oE "Dissector bug, protocol (wanoise|wabinary|wacall|wastun|warp).{0,120}" "$out")"
  fi
  frames=$((frames + $(grep -c '^Frame [0-9]*:' "$out" || true)))
  local m
  m=$(grep -ciE '\[Malformed Packet: (wanoise|wabinary|wacall|wastun|warp)\]' "$out" || true)
  if [ "${m:-0}" -gt 0 ]; then
    malformed=$((malformed + m))
    malformed_cases+=("$label: $m ($(grep -m1 -oiE '\[Malformed Packet: (wanoise|wabinary|wacall|wastun|warp)\]' "$out"))")
    if [ ${#malformed_cases[@]} -le 20 ]; then
      mkdir -p "$work/malformed"
      cp "$pcap" "$work/malformed/$label.pcap"
    fi
  fi
  experts=$((experts + $(grep -cE '^ +\[Expert Info \(' "$out" || true)))
  if [ -n "$why" ]; then
    fails=$((fails + 1))
    local keep="$work/failures/$label"
    mkdir -p "$keep"
    cp "$pcap" "$err" "$keep/"
    head -c 2000000 "$out" >"$keep/out.txt"
    echo "$label: $why" >"$keep/why.txt"
    failures+=("$label: $why")
    echo "FAIL $label: $why" >&2
    return 1
  fi
  return 0
}

for e in "${entries[@]}"; do
  IFS=$'\t' read -r name pcap keylog tls <<<"$e"
  run_case "$name-clean" "$caps/$pcap" "$keylog" "$tls" || true
  for rate in "${rates[@]}"; do
    for ((seed = 1; seed <= seeds; seed++)); do
      mutated="$work/tmp/mutated.pcap"
      editcap -E "$rate" --seed "$seed" "$caps/$pcap" "$mutated" >/dev/null 2>&1
      per_rate_cases[$rate]=$(( ${per_rate_cases[$rate]:-0} + 1 ))
      if ! run_case "$name-E$rate-s$seed" "$mutated" "$keylog" "$tls"; then
        per_rate_fail[$rate]=$(( ${per_rate_fail[$rate]:-0} + 1 ))
      fi
    done
  done
done
secs=$(( $(date +%s) - start ))

{
  echo "# wacall mutation loop: mode=$mode, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# ASan+UBSan plugin $build/plugins (tshark $(tshark -v 2>/dev/null | head -1 | awk '{print $3}')), tshark -2 -V with each capture's key log, timeout ${timeout_s}s"
  echo "captures: ${#entries[@]} manifest entries; rates: ${rates[*]}; seeds: 1..$seeds"
  echo "cases: $cases (of which ${#entries[@]} unmutated); failures: $fails; timeouts: $timeouts; seconds: $secs"
  for rate in "${rates[@]}"; do
    echo "  rate $rate: ${per_rate_cases[$rate]:-0} cases, ${per_rate_fail[$rate]:-0} failures"
  done
  echo "frames dissected: $frames; expert items shown (all protocols): $experts; [Malformed Packet] in a wacall protocol: $malformed"
  for f in "${malformed_cases[@]}"; do echo "malformed-packet exception: $f"; done
  for f in "${failures[@]}"; do echo "FAIL $f"; done
} >"$summary"

status=0
[ $fails -eq 0 ] || status=1

# ---- long mode: integration suite on the ASan build, valgrind on a plain build -----------------
if [ "$mode" = long ]; then
  echo "## integration suite against the ASan build" >>"$summary"
  set +e
  (cd "$here" && WACALL_BUILD_DIR="$build" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration) \
    >"$build/integration-asan.log" 2>&1
  rc=$?
  set -e
  tail -1 "$build/integration-asan.log" >>"$summary"
  if grep -qE "AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:" "$build/integration-asan.log"; then
    echo "sanitizer report in the integration run (see $build/integration-asan.log)" >>"$summary"
    rc=1
  fi
  [ $rc -eq 0 ] || status=1

  echo "## valgrind --leak-check=full, tshark -2 -V on call-full with keys (plain plugin)" >>"$summary"
  plain="$build/plain"
  if [ ! -f "$plain/CMakeCache.txt" ]; then
    cmake -S "$here" -B "$plain" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWACALL_BUILD_TESTS=OFF \
      -DWACALL_BUILD_BENCH=OFF >/dev/null
  fi
  nice -n 19 cmake --build "$plain" --target wacall >/dev/null
  vlog="$build/valgrind-call-full.log"
  set +e
  env -u WACALL_PRELOAD WACALL_BUILD_DIR="$plain" WACALL_TOOL=valgrind WIRESHARK_CONFIG_DIR="$plain/ws-config" \
    nice -n 19 "$runner" --leak-check=full --num-callers=40 --log-file="$vlog" \
    tshark -r "$caps/call-full.pcap" -o "wacall.keylog_file:$caps/call-full.keys" -2 -V >/dev/null 2>&1
  set -e
  # Loss records whose stack has a frame in the plugin.
  owned=$(/usr/bin/python3 - "$vlog" <<'EOF'
import re, sys
text = open(sys.argv[1], errors="replace").read()
blocks = re.split(r"\n==\d+== \n", text)
# A frame in the plugin is "(in .../wacall.so)", or a bare "???" if it was unloaded before the report.
owned = [b for b in blocks if re.search(r"(definitely|indirectly|possibly) lost in loss record", b)
         and ("wacall.so" in b or re.search(r"by 0x[0-9A-Fa-f]+: \?\?\?$", b, re.M))]
kinds = {}
for b in owned:
    k = re.search(r"(definitely|indirectly|possibly) lost", b).group(1)
    kinds[k] = kinds.get(k, 0) + 1
print(len(owned), " ".join("%s=%d" % kv for kv in sorted(kinds.items())))
EOF
)
  grep -E "definitely lost:|indirectly lost:|possibly lost:|still reachable:|ERROR SUMMARY" "$vlog" | sed 's/^==[0-9]*== */  /' >>"$summary"
  echo "loss records with a wacall.so frame: $owned" >>"$summary"
  [ "${owned%% *}" = 0 ] || status=1
fi

cat "$summary"
exit $status
