#!/usr/bin/env bash
# Builds the real helm CLI (helm.sh/helm/v3/cmd/helm at the version go.mod pins) into
# test/helm/.bin/helm for the chart tests. Go's build cache makes a rebuild take seconds; the
# first build compiles helm and much of client-go: about 3 minutes on 2 busy cores.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v go >/dev/null; then
  echo "build-helm.sh: go not found: the helm tests need Go 1.26 and the Go module proxy" >&2
  exit 1
fi
cd "$here"
# The same version stamps helm's own Makefile sets: without them `helm version` says "v3.x"
# and lint/template assume Kubernetes 1.20 instead of the client-go helm is built against.
helm_version="$(go list -mod=readonly -m -f '{{.Version}}' helm.sh/helm/v3)"
client_go="$(go list -mod=readonly -m -f '{{.Version}}' k8s.io/client-go)"
k8s_minor="$(echo "$client_go" | cut -d. -f2)"
pkg=helm.sh/helm/v3
ldflags="-s -w -X $pkg/internal/version.version=$helm_version"
for p in pkg/lint/rules pkg/chartutil; do
  ldflags+=" -X $pkg/$p.k8sVersionMajor=1 -X $pkg/$p.k8sVersionMinor=$k8s_minor"
done
# -mod=readonly: go.mod and go.sum are committed complete, a build never rewrites them.
# nice: the first build takes both cores for minutes, other builds share them.
CGO_ENABLED=0 nice go build -mod=readonly -trimpath -ldflags="$ldflags" -o "$here/.bin/helm" "$pkg/cmd/helm"
