#!/bin/bash
# apt-ensure.sh NAME PKG...: install the Debian packages among PKG that are missing. Idempotent: does
# nothing (no apt-get update either) when every one is already installed. NAME prefixes its lines.
set -euo pipefail
name=$1
shift
missing=""
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then echo "$name: all packages present"; exit 0; fi
echo "$name: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "$name: done"
