#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang, ASan+UBSan) in build-fuzz/, makes the seed corpora
# from freshly generated test captures and the KAT vectors, and runs every target.
#
#   scripts/fuzz.sh [--short|--long] [--time SECONDS] [--runs N] [TARGET...]
#
#   --short  (default) ~10 s per target: the CI run
#   --long   up to 10 million executions or 30 minutes per target, whichever comes first,
#            at nice 19, one target at a time
#   TARGET   fuzz_<name> to run only some targets (default: all)
#
# The corpus grows in build-fuzz/corpus/<target> across runs (seeds in build-fuzz/seeds/<target>
# are rebuilt each time; inputs of fixed findings in fuzz/regressions/<target> are always run).
# Crashes go to build-fuzz/artifacts/. Each target's last result (executions, seconds, result) is
# kept in build-fuzz/results-<mode>/<target>.txt, and build-fuzz/fuzz-summary.txt (short) or
# build-fuzz/fuzz-summary-long.txt (long) lists the last result of every target run in that mode,
# so targets can be run one invocation at a time. Exit status 1 if any target failed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build-fuzz"
mode=short
max_time=10
runs=""
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --short) mode=short; max_time=10; runs="" ;;
    --long) mode=long; max_time=1800; runs=10000000 ;;
    --time) max_time="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) targets+=("$1") ;;
  esac
  shift
done

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

# ---- build ------------------------------------------------------------------------------------
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$here" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DWACALL_FUZZ=ON -DWACALL_BUILD_PLUGIN=OFF -DWACALL_BUILD_TESTS=OFF -DWACALL_BUILD_BENCH=OFF >/dev/null
fi
nice -n 19 cmake --build "$build" >/dev/null

# ---- seeds ------------------------------------------------------------------------------------
caps="$build/caps"
if [ ! -f "$caps/manifest.json" ]; then
  /usr/bin/python3 "$here/test-pcaps/gen/make_all.py" "$caps" >/dev/null
fi
kats="$here/../shared/data/kats/voip-kats.json"
[ -f "$kats" ] || kats="$here/test-pcaps/kats/voip-kats.json"
rm -rf "$build/seeds"
/usr/bin/python3 "$here/fuzz/make_seeds.py" "$caps" "$build/seeds" --kats "$kats" >/dev/null

if [ ${#targets[@]} -eq 0 ]; then
  for f in "$build"/fuzz_*; do
    [ -x "$f" ] && [ -f "$f" ] && targets+=("$(basename "$f")")
  done
fi

dict_for() {
  case "$1" in
    fuzz_keylog) echo "$here/fuzz/dict/keylog.dict" ;;
    fuzz_stun) echo "$here/fuzz/dict/stun.dict" ;;
    fuzz_rtp|fuzz_srtp|fuzz_hbh) echo "$here/fuzz/dict/rtp.dict" ;;
  esac
}

# ---- run --------------------------------------------------------------------------------------
summary="$build/fuzz-summary.txt"
[ "$mode" = long ] && summary="$build/fuzz-summary-long.txt"
results="$build/results-$mode"
logs="$build/logs"
mkdir -p "$logs" "$build/artifacts" "$results"
write_summary() {
  {
    echo "# wacall fuzz results, mode=$mode (max_total_time=${max_time}s, runs=${runs:-unlimited}); last run of each target"
    echo "# $(nproc) cores; $(clang++ --version | head -1); -fsanitize=fuzzer,address,undefined"
    printf '%-22s %12s %8s %9s %7s %6s  %-20s %s\n' target executions seconds exec/s corpus cov finished result
    cat "$results"/*.txt 2>/dev/null || true
  } > "$summary.tmp"
  mv "$summary.tmp" "$summary"
}
failed=0
for t in "${targets[@]}"; do
  bin="$build/$t"
  [ -x "$bin" ] || { echo "fuzz.sh: no target $t" >&2; failed=1; continue; }
  corpus="$build/corpus/$t"
  mkdir -p "$corpus"
  dirs=("$corpus" "$build/seeds/$t")
  [ -d "$here/fuzz/regressions/$t" ] && dirs+=("$here/fuzz/regressions/$t")
  args=(-max_total_time="$max_time" -print_final_stats=1 -rss_limit_mb=2560 -timeout=25
        -artifact_prefix="$build/artifacts/$t-")
  [ -n "$runs" ] && args+=(-runs="$runs")
  # CI (short) uses a fixed seed so a submission's run is repeatable; the long runs explore.
  [ "$mode" = short ] && args+=(-seed=1)
  d=$(dict_for "$t")
  [ -n "$d" ] && args+=(-dict="$d")
  log="$logs/$t-$mode.log"
  start=$(date +%s)
  set +e
  nice -n 19 "$bin" "${args[@]}" "${dirs[@]}" >"$log" 2>&1
  rc=$?
  set -e
  secs=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  ncorpus=$(find "$corpus" -type f | wc -l)
  if [ $rc -eq 0 ]; then
    result="ok, no finding"
  else
    art=$(grep -o "Test unit written to .*" "$log" | tail -1 | sed 's/Test unit written to //')
    kind=$(grep -m1 -oE "ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer): [a-zA-Z-]+|runtime error: .*|FUZZ_CHECK failed: .*" "$log" | head -1)
    result="FAILED rc=$rc: ${kind:-see $log} ${art:+(input $art)}"
    failed=1
  fi
  rate=0
  [ "${secs:-0}" -gt 0 ] && rate=$(( ${execs:-0} / secs ))
  line=$(printf '%-22s %12s %8s %9s %7s %6s  %-20s %s' "$t" "${execs:-0}" "$secs" "$rate" "$ncorpus" "${cov:-?}" \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$result")
  echo "$line"
  echo "$line" > "$results/$t.txt"
  write_summary
done
write_summary
echo "summary: $summary"
exit $failed
