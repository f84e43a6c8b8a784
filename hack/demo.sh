#!/usr/bin/env bash
# The demo: builds the pinned control plane if missing, then runs a local control plane, the Key
# Vault emulator with a seeded vault and identity, and the operator, and syncs examples/.
#
#   hack/demo.sh [--exit]               node mode (default, as root): two kubelet nodes with
#                                       containerd, the operator image installed with helm, and an
#                                       app pod printing its mounted secret before and after a
#                                       rotation (examples/demo_node.rs)
#   hack/demo.sh --in-process [--exit]  the operator in the demo's own process (examples/demo.rs)
#
# Pass --exit to stop after showing the result.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

mode=node
args=()
for arg in "$@"; do
  case "$arg" in
    --in-process) mode=in-process ;;
    *) args+=("$arg") ;;
  esac
done
if [[ $mode == node && $(id -u) != 0 ]]; then
  echo "demo: the node mode runs containerd and kubelets and needs root; running the operator in-process instead (hack/demo.sh --in-process)" >&2
  mode=in-process
fi

"$repo_root/hack/ensure-tools.sh" >/dev/null
if [[ $mode == node ]]; then
  "$repo_root/hack/ensure-node.sh" >/dev/null
  cargo build --quiet --locked --bin vaultsync
  exec cargo run --quiet --locked --example demo_node -- "${args[@]}"
fi
exec cargo run --quiet --locked --example demo -- "${args[@]}"
