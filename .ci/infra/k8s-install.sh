#!/bin/bash
# Install the Debian (bookworm) packages the Kubernetes lane needs: etcd for the control plane, Go and
# the source package's Build-Depends to build kube-apiserver & co. (k8s-build.sh), openssl for the
# lane's certificates. Idempotent: no apt-get at all when everything is already installed.
set -euo pipefail
PKGS="etcd-server golang-go golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev jq rsync make openssl curl dpkg-dev"
# shellcheck disable=SC2086
bash "$(dirname "$0")/apt-ensure.sh" k8s-install $PKGS
