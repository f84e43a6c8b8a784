#!/usr/bin/env bash
# The test command: builds the pinned control-plane binaries if missing (cached under
# ~/.cache/vaultsync/tools), installs containerd and runc for the node tests if missing, unpacks
# Debian's prometheus package for the alert-rule and observability tests if missing, installs
# the Python SDKs used for emulator conformance, then runs every Rust test in the workspace,
# integration tests against the real control plane (and real pods on a local node) included.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

"$repo_root/hack/ensure-tools.sh" >/dev/null
# The node mode's runtime (containerd, runc, busybox-static from Debian; installed when missing)
# and the pause image: tests that run real pods need them.
"$repo_root/hack/ensure-node.sh" >/dev/null
# Debian's prometheus package (prometheus, promtool), unpacked into the cache: the chart's alert
# rules under `promtool test rules` and the observability test's real Prometheus need it.
"$repo_root/hack/ensure-prometheus.sh" >/dev/null
if [[ -f crates/emulator/tests/python/requirements.txt ]]; then
  python3 -m pip install --quiet --disable-pip-version-check -r crates/emulator/tests/python/requirements.txt
fi
cargo test --workspace --locked --no-fail-fast "$@"
