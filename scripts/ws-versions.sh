#!/usr/bin/env bash
# The Wireshark versions wacall supports besides this machine's: builds and checks the tree in a
# Debian 13 root (Wireshark 4.4) and a Debian sid root (4.6) with scripts/ws-root.sh, then prints
# one line per version. Called by scripts/test.sh; WACALL_SUITES picks the roots.
# Exit 1 if a version failed; a root that cannot be made (no mirror, not root) is reported as
# skipped and does not fail the run.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
suites=${WACALL_SUITES:-trixie sid}
summary=()
rc=0
for suite in $suites; do
  start=$SECONDS
  mkdir -p "$here/build/ws-roots"
  "$here/scripts/ws-root.sh" "$suite" | tee "$here/build/ws-roots/$suite.out"
  status=${PIPESTATUS[0]}
  line=$(tail -1 "$here/build/ws-roots/$suite.out")
  summary+=("$line [$((SECONDS - start)) s]")
  [ "$status" = 1 ] && rc=1
done
echo
echo "== Wireshark versions =="
echo "this machine: Wireshark $(dpkg-query -W -f='${Version}' tshark 2>/dev/null): passed (scripts/test.sh stops at its first failure)"
printf '%s\n' "${summary[@]}"
exit $rc
