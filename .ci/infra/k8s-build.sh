#!/bin/bash
# Build kube-apiserver, kube-controller-manager and kube-scheduler from Debian's own source package
# (src:kubernetes 1.20.2 in bookworm, vendored dependencies) with Debian's Go, offline (GOPROXY=off).
# There is no binary package of them in Debian, and nothing else may be downloaded here. `make WHAT=`
# as debian/rules does: it runs the code generators (openapi-gen, ...) a plain `go build` lacks.
#
# One fix to the tree: its vendored json-iterator 1.1.10 / reflect2 1.0.1 predate Go 1.18 and, built
# with bookworm's Go 1.19, make the API server panic on the first JSON body with a map (a Node's
# labels: "nil pointer dereference" in reflect2.Type2, every later request hangs up). They are
# replaced by Debian's own packages of json-iterator 1.1.12 and reflect2 1.0.2, the versions
# Kubernetes itself moved to for Go 1.18.
#
# Cached: does nothing when $K8S_BIN holds binaries built by this recipe (~7 min on 2 cores otherwise).
set -euo pipefail
K8S_CACHE=${K8S_CACHE:-/var/tmp/fenix-infra}
K8S_BIN=${K8S_BIN:-$K8S_CACHE/bin}
CMDS="kube-apiserver kube-controller-manager kube-scheduler"
RECIPE="src:kubernetes 1.20.2 + json-iterator 1.1.12 + reflect2 1.0.2"
missing=0
for c in $CMDS; do [ -x "$K8S_BIN/$c" ] || missing=1; done
if [ $missing = 0 ] && [ "$(cat "$K8S_BIN/.recipe" 2>/dev/null)" = "$RECIPE" ]; then echo "k8s-build: binaries cached in $K8S_BIN"; exit 0; fi
T0=$(date +%s)
# apt-get source needs a deb-src entry for the mirror the machine already uses.
if ! apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Package: kubernetes'; then
  cat > /etc/apt/sources.list.d/fenix-debsrc.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get update -qq
fi
mkdir -p "$K8S_CACHE/src" "$K8S_BIN"
cd "$K8S_CACHE/src"
if [ ! -f tree/.fenix-extracted ]; then
  rm -rf tree kubernetes_*
  apt-get source --download-only kubernetes >/dev/null
  dpkg-source -x kubernetes_*.dsc tree >/dev/null   # applies Debian's patches
  touch tree/.fenix-extracted
fi
cd tree
# The vendored libraries, replaced by Debian's (non-test sources of the package root only).
GOCODE=/usr/share/gocode/src/github.com
revendor() {
  local from=$1 to=$2
  find "$to" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) -delete
  find "$from" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) ! -name '*_test.go' -exec cp {} "$to/" \;
}
revendor "$GOCODE/modern-go/reflect2" vendor/github.com/modern-go/reflect2
revendor "$GOCODE/json-iterator/go" vendor/github.com/json-iterator/go
# GOPATH mode, as the tree expects (module mode fails with "updates to go.mod needed").
mkdir -p .go/src/k8s.io
[ -L .go/src/k8s.io/kubernetes ] || ln -s ../../.. .go/src/k8s.io/kubernetes
export GOPATH="$PWD/.go" GOPROXY=off GOFLAGS= CGO_ENABLED=0 GOCACHE="$K8S_CACHE/gocache" HOME=${HOME:-/tmp}
# The tarball has no .git: give /version the release it is.
export KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_TREE_STATE=clean KUBE_GIT_COMMIT=faecb196815e248d3ecfb03c680a4507229c2a56
W=""; for c in $CMDS; do W="$W cmd/$c"; done
make WHAT="${W# }"
for c in $CMDS; do install -m 0755 "_output/bin/$c" "$K8S_BIN/$c"; done
echo "$RECIPE" > "$K8S_BIN/.recipe"
echo "k8s-build: built $CMDS in $(( $(date +%s) - T0 ))s into $K8S_BIN"
