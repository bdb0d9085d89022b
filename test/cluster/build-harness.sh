#!/usr/bin/env bash
# Builds the cluster tier's control plane (kube-apiserver, etcd and kubectl in one test-only Go
# binary, see harness/) into test/cluster/.bin/kubelived-cluster. Go's build cache makes a
# rebuild take seconds; the first build compiles much of Kubernetes (times in README.md).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v go >/dev/null; then
  echo "build-harness.sh: go not found: the cluster tier needs Go 1.26 and the Go module proxy" >&2
  exit 1
fi
cd "$here/harness"
# Stamp the Kubernetes release into the version kubectl and the API server's /version report,
# as Kubernetes' own build does; a plain go build says v0.0.0-master.
version="$(go list -mod=readonly -m -f '{{.Version}}' k8s.io/kubernetes)"
IFS=. read -r major minor _ <<<"${version#v}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
# -mod=readonly: go.mod and go.sum are committed complete, a build never rewrites them.
# -buildvcs=false: the binary is a test tool; stamping the repository's state would only make
# every commit relink it. nice: the first build takes both cores for a long time.
nice go build -mod=readonly -buildvcs=false -ldflags="$ldflags" -o "$here/.bin/kubelived-cluster" .
