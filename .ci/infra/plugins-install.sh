#!/bin/bash
# Install the Debian packages the plug-in tests run for real (issue 12), when missing: ansible
# (ansible-playbook, ansible_connection=local) and OpenSSH (a test sshd on a loopback port, the ssh
# client). The package's own sshd (port 22) is not what the tests use: they start their own.
set -euo pipefail
bash "$(dirname "$0")/apt-ensure.sh" plugins-install ansible openssh-server openssh-client
