#!/bin/bash
# The real-OpenStack lane: install (once per machine), bring up (or reuse) a real OpenStack Zed with
# three fake compute hosts, run `npm run test:openstack` against it, then `npm run bench:nova -- --runs 1`,
# and print the timings.
# Called by .ci/run after `npm test`. FENIX_SKIP_OPENSTACK=1 skips it; FENIX_OPENSTACK_KEEP=1 leaves
# the cloud running afterwards (a developer's warm loop).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
if [ "${FENIX_SKIP_OPENSTACK:-0}" = 1 ]; then echo "openstack lane: skipped (FENIX_SKIP_OPENSTACK=1)"; exit 0; fi
export OSD=${OSD:-/var/tmp/fenix-ci/os}
export N_COMPUTE=${N_COMPUTE:-3}
T0=$(date +%s)
bash "$HERE/openstack-install.sh"
T1=$(date +%s)
bash "$HERE/openstack-up.sh"
T2=$(date +%s)
if [ "${FENIX_OPENSTACK_KEEP:-0}" != 1 ]; then
  trap 'OSD=$OSD bash "$HERE/openstack-down.sh" >/dev/null 2>&1 || true' EXIT
fi
# shellcheck disable=SC1091
source "$OSD/admin-openrc"
export FENIX_OPENSTACK_LANE=1 OS_DEMO_USERNAME=demo OS_DEMO_PROJECT_NAME=demo OS_DEMO_PASSWORD="$OS_PASSWORD"
cd "$ROOT"
npx vitest run --config test/openstack/vitest.config.ts
T3=$(date +%s)
# bench:nova once (so it never rots): its figures are printed, not checked; only a crash fails the lane.
# FENIX_SKIP_NOVA_BENCH=1 skips it.
if [ "${FENIX_SKIP_NOVA_BENCH:-0}" != 1 ]; then
  npm run --silent bench:nova -- --runs 1 --out bench-results/nova-lane.json
fi
T4=$(date +%s)
echo "openstack lane: install $((T1-T0))s, cloud up $((T2-T1))s, tests $((T3-T2))s, bench:nova $((T4-T3))s, total $((T4-T0))s"
