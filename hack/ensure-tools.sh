#!/usr/bin/env bash
# Ensures the pinned control-plane binaries (etcd, kube-apiserver, kube-controller-manager,
# kubectl, helm, and for the node mode kube-scheduler and kubelet) exist in the user's cache,
# building each from its Go module only when missing.
# Idempotent: a second run with everything present does nothing and prints the directory.
#
# Output: the last line on stdout is the directory holding the binaries.
# Env: VAULTSYNC_TOOLS_DIR overrides the cache root (default ${XDG_CACHE_HOME:-~/.cache}/vaultsync/tools).
set -euo pipefail

K8S_VERSION=v1.34.4
ETCD_VERSION=v3.6.16
HELM_VERSION=v3.19.5

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_root="${VAULTSYNC_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vaultsync/tools}"
bin_dir="$cache_root/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
log_dir="$cache_root/logs"
fail() { echo "ensure-tools: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || fail "step 'find go': the go command is not on PATH; install Go 1.26 or newer"

mkdir -p "$bin_dir" "$log_dir"
# Concurrent callers (parallel test binaries) wait for one builder instead of building twice.
exec 9>"$cache_root/.lock"
flock 9

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

k8s_ldflags() {
  local minor; minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
  local pkg=k8s.io/component-base/version
  local cpkg=k8s.io/client-go/pkg/version
  echo "-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean" \
       "-X $cpkg.gitVersion=$K8S_VERSION -X $cpkg.gitMajor=1 -X $cpkg.gitMinor=$minor"
}

# build NAME MODULE_DIR PACKAGE [LDFLAGS] [TAGS]
build() {
  local name="$1" module_dir="$2" package="$3" ldflags="${4:--s -w}" tags="${5:-}"
  local out="$bin_dir/$name"
  if [[ -x "$out" ]]; then return 0; fi
  local log="$log_dir/build-$name.log"
  echo "ensure-tools: building $name ($package); log: $log" >&2
  local start=$SECONDS
  if ! (cd "$repo_root/tools/$module_dir" && go build -trimpath ${tags:+-tags "$tags"} -ldflags "$ldflags" -o "$out.tmp" "$package") >"$log" 2>&1; then
    rm -f "$out.tmp"
    tail -n 20 "$log" >&2 || true
    fail "step 'build $name' failed; read $log"
  fi
  mv "$out.tmp" "$out"
  echo "ensure-tools: built $name in $((SECONDS - start))s" >&2
}

build etcd etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s k8s.io/kubernetes/cmd/kube-apiserver "$(k8s_ldflags)" selinux,notest
build kube-controller-manager k8s k8s.io/kubernetes/cmd/kube-controller-manager "$(k8s_ldflags)" selinux,notest
build kubectl k8s k8s.io/kubernetes/cmd/kubectl "$(k8s_ldflags)" selinux,notest
# The node mode (crates/testenv's Node): same module, same flags as upstream's release builds.
build kube-scheduler k8s k8s.io/kubernetes/cmd/kube-scheduler "$(k8s_ldflags)" selinux,notest
build kubelet k8s k8s.io/kubernetes/cmd/kubelet "$(k8s_ldflags)" selinux,notest
build helm helm helm.sh/helm/v3/cmd/helm \
  "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=34"

echo "$bin_dir"
