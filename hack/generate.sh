#!/usr/bin/env bash
# Regenerates every derived install artefact from its source:
#   crds/vaultsync.yaml                   from the Rust types (cargo run --bin crdgen)
#   charts/vaultsync/crds/vaultsync.yaml  an exact copy of crds/vaultsync.yaml
#   deploy/                               the chart rendered with default values (hack/render-deploy.sh)
# Tests (tests/crds_up_to_date.rs, tests/install_manifests.rs) fail when any of them is stale.
#
# Usage: hack/generate.sh [--check]
#   --check  write nothing; exit 1 listing what is stale.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
fail() { echo "generate: $*" >&2; exit 1; }

check=false
case "${1:-}" in
  "") ;;
  --check) check=true ;;
  *) fail "usage: hack/generate.sh [--check]" ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo run --quiet --locked --bin crdgen >"$work/vaultsync.yaml" || fail "step 'cargo run --bin crdgen' failed"

if $check; then
  stale=()
  cmp -s "$work/vaultsync.yaml" crds/vaultsync.yaml || stale+=(crds/vaultsync.yaml)
  cmp -s "$work/vaultsync.yaml" charts/vaultsync/crds/vaultsync.yaml || stale+=(charts/vaultsync/crds/vaultsync.yaml)
  hack/render-deploy.sh "$work/deploy"
  diff -r "$work/deploy" deploy >/dev/null 2>&1 || stale+=(deploy/)
  if ((${#stale[@]})); then
    fail "stale: ${stale[*]}; run hack/generate.sh"
  fi
  echo "generate: everything is up to date"
  exit 0
fi

cp "$work/vaultsync.yaml" crds/vaultsync.yaml
mkdir -p charts/vaultsync/crds
cp crds/vaultsync.yaml charts/vaultsync/crds/vaultsync.yaml
hack/render-deploy.sh "$work/deploy"
mkdir -p deploy
rm -f deploy/*.yaml deploy/Kustomization
cp "$work"/deploy/* deploy/
echo "generate: wrote crds/vaultsync.yaml, charts/vaultsync/crds/vaultsync.yaml and deploy/"
