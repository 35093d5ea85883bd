#!/bin/bash
# Stop what k8s-up.sh started, by recorded pid, newest component first: SIGTERM, SIGKILL after 5 s.
# Only a pid whose command line still names our binaries or run folder is touched.
K8S_RUN=${K8S_RUN:-/var/tmp/fenix-ci/k8s}
for n in kube-scheduler kube-controller-manager kube-apiserver etcd; do
  f="$K8S_RUN/pids/$n.pid"; [ -f "$f" ] || continue
  pid=$(cat "$f"); rm -f "$f"
  kill -0 "$pid" 2>/dev/null || continue
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE "$K8S_RUN|fenix-ci" || { echo "skip $n: pid $pid is not ours any more"; continue; }
  kill "$pid" 2>/dev/null && echo "TERM $n ($pid)"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null && echo "KILL $n ($pid)"
done
exit 0
