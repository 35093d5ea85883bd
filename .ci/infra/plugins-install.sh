#!/bin/bash
# Install the Debian packages the plug-in tests run for real (issue 12): ansible (ansible-playbook,
# ansible_connection=local) and OpenSSH (a test sshd on a loopback port, the ssh client).
# Idempotent: does nothing (no apt-get update either) when every package is already installed.
set -euo pipefail
PKGS="ansible openssh-server openssh-client"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then echo "plugins-install: all packages present"; exit 0; fi
echo "plugins-install: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# The package's own sshd (port 22) is not what the tests use: they start their own on a loopback port.
echo "plugins-install: done"
