#!/usr/bin/env bash
# The demo: builds the pinned control plane if missing, then runs a local control plane, the Key
# Vault emulator with a seeded vault and identity, and the operator, and syncs examples/.
# Pass --exit to stop after showing the result.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
"$repo_root/hack/ensure-tools.sh" >/dev/null
exec cargo run --quiet --locked --example demo -- "$@"
