#!/bin/bash
# Install the Debian (bookworm) packages the Kubernetes lane needs: etcd for the control plane, Go and
# the source package's Build-Depends to build kube-apiserver & co. (k8s-build.sh), openssl for the
# lane's certificates. Idempotent: no apt-get at all when everything is already installed.
set -euo pipefail
PKGS="etcd-server golang-go golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev jq rsync make openssl curl dpkg-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then echo "k8s-install: all packages present"; exit 0; fi
echo "k8s-install: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "k8s-install: done"
