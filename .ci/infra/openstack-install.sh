#!/bin/bash
# Install the Debian (bookworm, OpenStack Zed) packages the real-OpenStack lane needs. Idempotent:
# does nothing (no apt-get update either) when every package is already installed.
# NOT the nova-compute package: it drags libvirt/qemu; python3-nova has nova.cmd.compute.
set -euo pipefail
PKGS="mariadb-server rabbitmq-server keystone placement-api nova-api nova-conductor nova-scheduler
python3-nova glance-api neutron-server aodh-api python3-openstackclient python3-pymysql python3-oslo.messaging
uwsgi uwsgi-plugin-python3 curl"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then echo "openstack-install: all packages present"; exit 0; fi
echo "openstack-install: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "openstack-install: done"
