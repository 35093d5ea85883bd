#!/bin/bash
# Stop what openstack-up.sh started: each recorded pid AND its descendants (uwsgi workers, neutron
# api/rpc workers), SIGTERM first, SIGKILL after a grace period. Only pids recorded in $OSD/pids whose
# command line still names $OSD are touched (a pid file left by an earlier boot may name a pid that
# now belongs to something else). The machine's MariaDB and RabbitMQ are not ours: left running.
OSD=${OSD:-/var/tmp/fenix-ci/os}
GRACE=${GRACE:-10}
cd "$OSD/pids" 2>/dev/null || exit 0
desc() { local p=$1; echo "$p"; for c in $(ps -o pid= --ppid "$p"); do desc "$c"; done; }
ours() { tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -qF "$OSD"; }
ALL=""
for f in $(ls -t ./*.pid 2>/dev/null); do
  pid=$(cat "$f"); kill -0 "$pid" 2>/dev/null || continue
  ours "$pid" || { echo "skip $(basename "$f" .pid): pid $pid is not ours any more"; continue; }
  tree=$(desc "$pid" | tr '\n' ' '); ALL="$ALL $tree"
  kill $tree 2>/dev/null; echo "TERM $(basename "$f" .pid): $tree"
done
alive=""
for i in $(seq 1 $((GRACE*10))); do
  alive=""; for p in $ALL; do kill -0 "$p" 2>/dev/null && [ "$(ps -o stat= -p "$p")" != Z ] && alive="$alive $p"; done
  [ -z "$alive" ] && break; sleep 0.1
done
[ -n "${alive:-}" ] && { kill -9 $alive 2>/dev/null; echo "KILL$alive"; }
rm -f ./*.pid
exit 0
