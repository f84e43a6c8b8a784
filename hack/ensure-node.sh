#!/usr/bin/env bash
# Ensures what the test node (crates/testenv's Node) needs besides the Kubernetes binaries that
# hack/ensure-tools.sh builds: root, cgroups, containerd and runc (Debian packages), busybox-static
# and openssl for the application image, a C compiler for the pause image, and the pause image
# archive itself.
#
#   hack/ensure-node.sh           installs the missing Debian packages (apt-get), then checks
#   hack/ensure-node.sh --check   only checks; a missing piece is an error naming the fix
#
# Output (stdout): KEY=VALUE lines (containerd, runc, ctr, pause_image, pause_archive).
# Env: VAULTSYNC_TOOLS_DIR as for hack/ensure-tools.sh (the pause image is cached beside the tools).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_root="${VAULTSYNC_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vaultsync/tools}"
check_only=0
[[ ${1:-} == --check ]] && check_only=1
fail() { echo "ensure-node: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || fail "step 'check root': the node mode runs containerd and a kubelet and must run as root"

# Debian package -> the command it provides.
declare -A wanted=([containerd]=containerd [runc]=runc [busybox-static]=busybox [openssl]=openssl)
missing=()
for package in "${!wanted[@]}"; do
  command -v "${wanted[$package]}" >/dev/null 2>&1 || missing+=("$package")
done
# busybox may be the dynamically linked Debian package; the app image needs the static one.
if command -v busybox >/dev/null 2>&1 && ldd "$(command -v busybox)" >/dev/null 2>&1; then
  missing+=(busybox-static)
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ $check_only == 1 ]]; then
    fail "step 'find containerd/runc/busybox-static/openssl': missing ${missing[*]}; run hack/ensure-node.sh (installs them with apt-get)"
  fi
  command -v apt-get >/dev/null 2>&1 || fail "step 'install ${missing[*]}': no apt-get; install them with your package manager"
  log="$(mktemp -t vaultsync-ensure-node-apt-XXXXXX.log)"
  echo "ensure-node: installing ${missing[*]} (log: $log)" >&2
  if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2 || true
    fail "step 'install ${missing[*]}' failed; read $log"
  fi
fi

containerd="$(command -v containerd)" || fail "step 'find containerd': not on PATH after install"
runc="$(command -v runc)" || fail "step 'find runc': not on PATH after install"
ctr="$(command -v ctr)" || fail "step 'find ctr': not on PATH (it comes with containerd)"
"$runc" --version >/dev/null 2>&1 || fail "step 'run runc --version' failed"

# The kubelet runs on cgroup v1 here (cgroupfs driver); it needs the cpu, cpuacct, cpuset, memory
# and pids hierarchies.
for controller in cpu cpuacct cpuset memory pids; do
  [[ -d /sys/fs/cgroup/$controller ]] || [[ -f /sys/fs/cgroup/cgroup.controllers ]] \
    || fail "step 'check cgroups': /sys/fs/cgroup/$controller is not mounted"
done

# The pause image, rebuilt when its source changes.
source_hash="$(cat "$repo_root/hack/images/pause.c" "$repo_root/hack/build-images.sh" | sha256sum | cut -c1-16)"
image_dir="$cache_root/images/pause-$source_hash"
if [[ ! -s $image_dir/pause.tar ]]; then
  mkdir -p "$image_dir"
  exec 9>"$image_dir/.lock"
  flock 9
  if [[ ! -s $image_dir/pause.tar ]]; then
    "$repo_root/hack/build-images.sh" "$image_dir" pause >/dev/null
  fi
fi
pause_ref="$(tar -xOf "$image_dir/pause.tar" ./index.json | grep -o '"io.containerd.image.name":"[^"]*"' | cut -d'"' -f4)"

echo "containerd=$containerd"
echo "runc=$runc"
echo "ctr=$ctr"
echo "pause_image=$pause_ref"
echo "pause_archive=$image_dir/pause.tar"
