#!/usr/bin/env bash
# Ensures Debian's `prometheus` package (prometheus and promtool) is unpacked in the user's cache,
# for the chart's alert-rule unit tests (promtool test rules) and the observability test (a real
# Prometheus on loopback). The package is downloaded with apt-get and extracted with dpkg-deb, not
# installed: nothing is started as a system service and nothing outside the cache changes.
# Idempotent: a second run with the binaries present does nothing and prints the directory.
#
# Output: the last line on stdout is the directory holding `prometheus` and `promtool`.
# Env: VAULTSYNC_TOOLS_DIR as for hack/ensure-tools.sh (the package is cached beside the tools).
set -euo pipefail

cache_root="${VAULTSYNC_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vaultsync/tools}"
fail() { echo "ensure-prometheus: $*" >&2; exit 1; }

mkdir -p "$cache_root"
# Concurrent callers (parallel test binaries) wait for one download instead of racing.
exec 9>"$cache_root/.prometheus.lock"
flock 9

marker="$cache_root/prometheus.dir"
if [[ -s $marker ]]; then
  bin_dir="$(cat "$marker")"
  if [[ -x $bin_dir/prometheus && -x $bin_dir/promtool ]]; then
    echo "$bin_dir"
    exit 0
  fi
fi

command -v apt-get >/dev/null 2>&1 || fail "step 'find apt-get': Debian's apt-get is needed to fetch the prometheus package"
command -v dpkg-deb >/dev/null 2>&1 || fail "step 'find dpkg-deb': needed to unpack the prometheus package"
work="$(mktemp -d -t vaultsync-prometheus-XXXXXX)"
trap 'rm -rf "$work"' EXIT
log="$cache_root/logs/ensure-prometheus.log"
mkdir -p "$cache_root/logs"
echo "ensure-prometheus: downloading Debian's prometheus package (log: $log)" >&2
if ! (cd "$work" && apt-get download prometheus) >"$log" 2>&1; then
  # The package lists may be missing on a fresh machine.
  if ! { apt-get update && (cd "$work" && apt-get download prometheus); } >>"$log" 2>&1; then
    tail -n 20 "$log" >&2 || true
    fail "step 'apt-get download prometheus' failed; read $log"
  fi
fi
deb="$(ls "$work"/prometheus_*.deb)"
version="$(dpkg-deb -f "$deb" Version)"
target="$cache_root/prometheus-${version//[^A-Za-z0-9.+-]/_}"
rm -rf "$target.tmp"
mkdir -p "$target.tmp"
dpkg-deb -x "$deb" "$work/root" || fail "step 'unpack $deb' failed"
for binary in prometheus promtool; do
  [[ -x $work/root/usr/bin/$binary ]] || fail "step 'find $binary in $deb': not in the package"
  cp "$work/root/usr/bin/$binary" "$target.tmp/"
done
"$target.tmp/promtool" --version >/dev/null 2>&1 || fail "step 'run promtool --version' failed"
rm -rf "$target"
mv "$target.tmp" "$target"
echo "$target" >"$marker"
echo "ensure-prometheus: unpacked prometheus $version into $target" >&2
echo "$target"
