#!/bin/bash
# Install the Debian (bookworm, OpenStack Zed) packages the real-OpenStack lane needs. Idempotent:
# does nothing (no apt-get update either) when every package is already installed.
# NOT the nova-compute package: it drags libvirt/qemu; python3-nova has nova.cmd.compute.
set -euo pipefail
PKGS="mariadb-server rabbitmq-server keystone placement-api nova-api nova-conductor nova-scheduler
python3-nova glance-api neutron-server aodh-api python3-openstackclient python3-pymysql python3-oslo.messaging
uwsgi uwsgi-plugin-python3 curl"
# shellcheck disable=SC2086
bash "$(dirname "$0")/apt-ensure.sh" openstack-install $PKGS
