#!/bin/bash
# Install Debian's Chromium for the dashboard's browser test (issue 13: test/browser/, driven by
# playwright-core with executablePath /usr/bin/chromium), when missing.
set -euo pipefail
bash "$(dirname "$0")/apt-ensure.sh" chromium-install chromium chromium-driver
/usr/bin/chromium --version
