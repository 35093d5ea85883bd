#!/bin/bash
# The Kubernetes lane: install (once per machine), build the control plane (once per machine, cached
# in /var/tmp/fenix-infra), start a fresh one, run `npm run test:kubernetes`'s suites against it
# (test/kubernetes/vitest.config.ts), stop it, and print the timings. Called by .ci/run after
# `npm test`. FENIX_SKIP_KUBERNETES=1 skips it; FENIX_KUBERNETES_KEEP=1 reuses a running control
# plane and leaves it running afterwards (a developer's warm loop).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
if [ "${FENIX_SKIP_KUBERNETES:-0}" = 1 ]; then echo "kubernetes lane: skipped (FENIX_SKIP_KUBERNETES=1)"; exit 0; fi
export K8S_RUN=${K8S_RUN:-/var/tmp/fenix-ci/k8s}
T0=$(date +%s)
bash "$HERE/k8s-install.sh"
T1=$(date +%s)
nice -n 5 bash "$HERE/k8s-build.sh"
T2=$(date +%s)
if [ "${FENIX_KUBERNETES_KEEP:-0}" = 1 ]; then
  bash "$HERE/k8s-up.sh"
else
  K8S_FRESH=1 bash "$HERE/k8s-up.sh"
  trap 'bash "$HERE/k8s-down.sh" >/dev/null 2>&1 || true' EXIT
fi
T3=$(date +%s)
export KUBECONFIG=$K8S_RUN/admin.kubeconfig FENIX_KUBERNETES_LANE=1
cd "$ROOT"
npx vitest run --config test/kubernetes/vitest.config.ts
T4=$(date +%s)
echo "kubernetes lane: install $((T1-T0))s, build $((T2-T1))s, control plane up $((T3-T2))s, tests $((T4-T3))s, total $((T4-T0))s"
