#!/bin/bash
# Start a real Kubernetes control plane on loopback for the Kubernetes lane: Debian's etcd, and
# kube-apiserver, kube-controller-manager and kube-scheduler v1.20.2 built by k8s-build.sh. There are
# no kubelets: the tests register nodes and play their part (test/kubernetes/fake-kubelet.ts).
#  - controller-manager runs only the controllers the lane needs. Not nodelifecycle: with no kubelet
#    it would mark every node NotReady and evict their pods after five minutes.
#  - state lives in $K8S_RUN (default /var/tmp/fenix-ci/k8s) and is wiped on each start: a lane
#    starts from an empty cluster. Already running and answering: reused (K8S_FRESH=1: restarted).
#  - ports off the usual ones, so a developer's own cluster is never touched.
# Usage: bash k8s-up.sh ; export KUBECONFIG=$K8S_RUN/admin.kubeconfig      Stop: bash k8s-down.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
K8S_RUN=${K8S_RUN:-/var/tmp/fenix-ci/k8s}
K8S_BIN=${K8S_BIN:-/var/tmp/fenix-infra/bin}
API_PORT=${K8S_API_PORT:-16443}
ETCD_PORT=${K8S_ETCD_PORT:-23790}
CONTROLLERS=disruption,serviceaccount,serviceaccount-token,garbagecollector,namespace,replicaset,deployment,daemonset,statefulset
T0=$(date +%s.%N)
step() { awk -v t0="$T0" -v now="$(date +%s.%N)" -v m="$*" 'BEGIN{printf "[%6.2fs] %s\n", now-t0, m}'; }
PKI=$K8S_RUN/pki
ready() { curl -sf --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; }

if [ "${K8S_FRESH:-0}" != 1 ] && [ -f "$K8S_RUN/admin.kubeconfig" ] && ready; then
  step "control plane already running: reusing it ($K8S_RUN)"
  exit 0
fi
K8S_RUN=$K8S_RUN bash "$HERE/k8s-down.sh" >/dev/null
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  [ -x "$K8S_BIN/$c" ] || { echo "k8s-up: $K8S_BIN/$c missing: run k8s-build.sh first" >&2; exit 1; }
done
command -v etcd >/dev/null || { echo "k8s-up: etcd missing: run k8s-install.sh first" >&2; exit 1; }
rm -rf "$K8S_RUN"; mkdir -p "$K8S_RUN"/{pids,logs,etcd} "$PKI"
# Each daemon in the background, its pid recorded for k8s-down.sh.
bg() { local name=$1; shift; nohup "$@" >"$K8S_RUN/logs/$name.log" 2>&1 & echo $! >"$K8S_RUN/pids/$name.pid"; }

step "certificates: CA, API server, admin (system:masters), service-account key"
(
  cd "$PKI"
  q() { "$@" 2>/dev/null; }
  q openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout ca.key -out ca.crt -subj "/CN=fenix-ci-ca"
  q openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver"
  echo 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,IP:10.0.0.1' >san.ext
  q openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -out apiserver.crt -extfile san.ext
  q openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=fenix-ci-admin"
  q openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -out admin.crt
  q openssl genrsa -out sa.key 2048
  q openssl rsa -in sa.key -pubout -out sa.pub
)
cat >"$K8S_RUN/admin.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: fenix-ci
  cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: "$PKI/ca.crt"}
users:
- name: admin
  user: {client-certificate: "$PKI/admin.crt", client-key: "$PKI/admin.key"}
contexts:
- name: fenix-ci
  context: {cluster: fenix-ci, user: admin}
current-context: fenix-ci
KC

bg etcd etcd --name fenix-ci --data-dir "$K8S_RUN/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
  --initial-cluster "fenix-ci=http://127.0.0.1:$((ETCD_PORT + 1))" --unsafe-no-fsync=true --quota-backend-bytes=1073741824
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$ETCD_PORT/health" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$ETCD_PORT/health" >/dev/null || { echo "k8s-up: etcd did not start; $K8S_RUN/logs/etcd.log:" >&2; tail -20 "$K8S_RUN/logs/etcd.log" >&2; exit 1; }
step "etcd: healthy"

bg kube-apiserver "$K8S_BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
  --cert-dir "$PKI" --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-account-issuer https://kubernetes.default.svc \
  --service-cluster-ip-range 10.0.0.0/24 \
  --authorization-mode Node,RBAC --allow-privileged=true \
  --enable-admission-plugins NamespaceLifecycle,ServiceAccount,DefaultTolerationSeconds,Priority \
  --disable-admission-plugins StorageObjectInUseProtection,PersistentVolumeClaimResize,DefaultStorageClass,TaintNodesByCondition \
  --v=1
for _ in $(seq 1 600); do ready && break; sleep 0.1; done
ready || { echo "k8s-up: kube-apiserver not ready; $K8S_RUN/logs/kube-apiserver.log:" >&2; tail -20 "$K8S_RUN/logs/kube-apiserver.log" >&2; exit 1; }
step "kube-apiserver: ready on https://127.0.0.1:$API_PORT"

bg kube-controller-manager "$K8S_BIN/kube-controller-manager" \
  --kubeconfig "$K8S_RUN/admin.kubeconfig" --bind-address 127.0.0.1 --secure-port $((API_PORT + 1)) --port 0 \
  --controllers "$CONTROLLERS" --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
  --use-service-account-credentials=false --leader-elect=false --concurrent-gc-syncs 2 --v=1
bg kube-scheduler "$K8S_BIN/kube-scheduler" --kubeconfig "$K8S_RUN/admin.kubeconfig" \
  --authentication-kubeconfig "$K8S_RUN/admin.kubeconfig" --authorization-kubeconfig "$K8S_RUN/admin.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port $((API_PORT + 2)) --port 0 --leader-elect=false --v=1
# The default service account of a new namespace comes from controller-manager: wait for it to work.
for _ in $(seq 1 100); do
  curl -sf --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$API_PORT/api/v1/namespaces/default/serviceaccounts/default" >/dev/null && break
  sleep 0.1
done
step "kube-controller-manager ($CONTROLLERS) and kube-scheduler: started"
echo "export KUBECONFIG=$K8S_RUN/admin.kubeconfig"
