#!/usr/bin/env bash
# Installs the Debian packages given as arguments that are not installed yet (as root or with
# sudo, no standard input). Used by setup.sh and screenshots.sh.
#   --no-install-recommends: wireshark-dev would otherwise pull a desktop (evince, GTK, ...);
#   wireshark-common's "non-superusers capture" question is answered "no" up front.
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
