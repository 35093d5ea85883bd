#!/bin/bash
# Install Debian's Chromium for the dashboard's browser test (issue 13: test/browser/, driven by
# playwright-core with executablePath /usr/bin/chromium). Idempotent: does nothing (no apt-get
# update either) when every package is already installed.
set -euo pipefail
PKGS="chromium chromium-driver"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then echo "chromium-install: all packages present"; exit 0; fi
echo "chromium-install: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
/usr/bin/chromium --version
echo "chromium-install: done"
