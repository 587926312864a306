#!/usr/bin/env bash
# Builds and checks wacall against another Debian's Wireshark, in a chroot made with mmdebstrap
# from Debian's packages:
#
#   scripts/ws-root.sh SUITE      trixie (Debian 13, Wireshark 4.4) or sid (Wireshark 4.6)
#
# In the root, on a fresh copy of this tree (and of ../shared's real captures):
#   1. scripts/setup.sh            the README's setup: packages (apt) and the build
#   2. unit tests                  build/wacall_unit
#   3. the integration suite       as uid 1000 (root's tshark ignores WIRESHARK_PLUGIN_DIR, and
#                                  a chroot cannot open the user namespace tshark-dev.sh uses)
#   4. the .deb                    cpack, apt-get install, tshark (as root, system plugin folder)
#                                  decrypts the sample call, apt-get remove
#   5. scripts/demo.sh             as root and as a user, each followed by scripts/uninstall.sh
# and prints one line per step and a summary line: "SUITE: Wireshark X.Y.Z: passed|FAILED ...".
#
# Roots are cached in $WACALL_ROOTS (default /var/cache/wacall-roots) and reused; a root that
# cannot be made (no mirror) is a skip, never a failure: exit 0 passed, 1 failed, 2 skipped.
# Needs root (chroot, mount). Steps can be chosen: WACALL_ROOT_STEPS="setup unit integration deb demo".
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
suite=${1:?usage: scripts/ws-root.sh trixie|sid}
roots=${WACALL_ROOTS:-/var/cache/wacall-roots}
root="$roots/$suite"
steps=${WACALL_ROOT_STEPS:-setup unit integration deb demo}
mirror=${WACALL_MIRROR:-http://deb.debian.org/debian}
log_dir="$here/build/ws-roots/$suite"

if [ "$(id -u)" != 0 ]; then
  echo "$suite: skipped (needs root for chroot)"
  exit 2
fi
# Private mount namespace: /proc and /dev mounted into the root vanish with this process.
if [ -z "${WACALL_ROOT_NS:-}" ]; then
  exec unshare --mount --propagation private env WACALL_ROOT_NS=1 "$0" "$@"
fi
mkdir -p "$log_dir"
rm -f "$log_dir/integration-last.txt"

if [ ! -x "$root/usr/bin/apt-get" ]; then
  "$here/scripts/apt-ensure.sh" mmdebstrap >/dev/null 2>&1 || true
  echo "$suite: making the root in $root (mmdebstrap, log $log_dir/mmdebstrap.log)"
  rm -rf "$root.tmp"
  mkdir -p "$roots"
  # sid's Release file on the mirror can be past its Valid-Until date.
  if ! mmdebstrap --variant=apt --aptopt='Acquire::Check-Valid-Until "false"' \
      --include=ca-certificates,passwd,util-linux "$suite" "$root.tmp" "$mirror" >"$log_dir/mmdebstrap.log" 2>&1; then
    echo "$suite: skipped (could not make the root: $(tail -1 "$log_dir/mmdebstrap.log"))"
    rm -rf "$root.tmp"
    exit 2
  fi
  mv "$root.tmp" "$root"
fi
echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99wacall-valid-until"
getent_uid=$(chroot "$root" getent passwd 1000 | cut -d: -f1)
[ -n "$getent_uid" ] || chroot "$root" useradd -m -u 1000 -s /bin/bash wacall

mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"

# A fresh copy of the tree (no build directories) and of the shared real captures.
rm -rf "$root/src"
mkdir -p "$root/src/wacall"
tar -C "$here" --exclude='./build*' --exclude=./.git -c . | tar -C "$root/src/wacall" -x
if [ -d "$here/../shared/data/real-captures" ]; then
  mkdir -p "$root/src/shared/data"
  cp -r "$here/../shared/data/real-captures" "$root/src/shared/data/"
fi

in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 bash -c "cd /src/wacall && $1"; }
as_user() { chroot --userspec=1000:1000 "$root" env -i PATH=/usr/bin:/bin HOME=/home/wacall LANG=C.UTF-8 bash -c "cd /src/wacall && $1"; }

failed=()
results=()
step() {  # step NAME COMMAND-FUNCTION: runs it, logs to $log_dir/NAME.log, records the result
  local name=$1 start=$SECONDS
  shift
  if "$@" >"$log_dir/$name.log" 2>&1; then
    results+=("$name ok ($((SECONDS - start)) s)")
  else
    results+=("$name FAILED ($((SECONDS - start)) s, $log_dir/$name.log)")
    failed+=("$name")
  fi
  echo "$suite: ${results[-1]}"
}

do_setup() { in_root "scripts/setup.sh" && chown -R 1000:1000 "$root/src"; }
do_unit() { in_root "build/wacall_unit --gtest_brief=1"; }
do_integration() {
  as_user "python3 -m pytest -q -p no:cacheprovider tests/integration" | tee "$log_dir/integration-summary.txt"
  local rc=${PIPESTATUS[0]}
  tail -1 "$log_dir/integration-summary.txt" >"$log_dir/integration-last.txt"
  return "$rc"
}
check_sample() {  # the decrypted sample call, as the plugin's user sees it
  local who=$1 out
  out=$($who "tshark -r test-pcaps/sample/call.pcap -o wacall.keylog_file:test-pcaps/sample/call.keys -Y wacall -T fields -e wacall.action 2>&1; tshark -r test-pcaps/sample/call.pcap -o wacall.keylog_file:test-pcaps/sample/call.keys -Y rtp -T fields -e rtp.ssrc 2>&1 | wc -l") || return 1
  echo "$out"
  grep -qx offer <<<"$out" && grep -qx accept <<<"$out" && [ "$(tail -1 <<<"$out")" -gt 300 ]
}
do_deb() {
  in_root "cd build && rm -rf deb && cpack -G DEB" || return 1
  local deb
  deb=$(cd "$root/src/wacall/build/deb" && ls wireshark-plugin-wacall_*.deb) || return 1
  echo "package: $deb"
  in_root "dpkg-deb -I build/deb/$deb | grep Depends; apt-get install -y -qq ./build/deb/$deb" || return 1
  in_root "tshark -G plugins | grep wacall" || return 1
  check_sample in_root
  local rc=$?
  in_root "apt-get remove -y -qq wireshark-plugin-wacall" || return 1
  return $rc
}
do_demo() {  # as root (global plugin folder), then as a user (personal folder)
  local who out
  for who in in_root as_user; do
    [ "$who" = as_user ] && chown -R 1000:1000 "$root/src"
    out=$($who "scripts/demo.sh") || { echo "$out"; return 1; }
    echo "$out"
    grep -q "plugin installed in" <<<"$out" && grep -qP "^10\taccept\t" <<<"$out" || return 1
    $who "scripts/uninstall.sh" || return 1
    ! $who "tshark -G plugins | grep -q wacall" || { echo "still loaded after uninstall.sh"; return 1; }
  done
}

for s in $steps; do
  if [ "$s" != setup ] && [[ " ${failed[*]} " == *" setup "* ]]; then break; fi
  step "$s" "do_$s"
done
version=$(chroot "$root" dpkg-query -W -f='${Version}' tshark 2>/dev/null)
tests=$(cat "$log_dir/integration-last.txt" 2>/dev/null)
if [ ${#failed[@]} -eq 0 ]; then
  echo "$suite: Wireshark $version: passed (${results[*]}) ${tests:+integration: $tests}"
  exit 0
fi
echo "$suite: Wireshark $version: FAILED: ${failed[*]} (${results[*]}) ${tests:+integration: $tests}"
exit 1
