#!/usr/bin/env bash
# Builds the test node's container images offline, as OCI image archives that
# `ctr -n k8s.io images import` accepts. No Docker, no registry, no download.
#
#   hack/build-images.sh OUT_DIR pause            # the pod sandbox image (hack/images/pause.c)
#   hack/build-images.sh OUT_DIR app              # busybox-static + openssl, for consumer pods
#   hack/build-images.sh OUT_DIR operator BINARY  # the operator image around BINARY
#
# Each call writes OUT_DIR/NAME.tar and prints "REF PATH" on stdout. Archives are reproducible
# (sorted entries, mtime 0, numeric owners), so the same inputs give the same image digest.
#
# Why a script and not umoci/skopeo/buildah: an image with one layer is a tar, two JSON documents
# and an index; writing them here needs only tar and sha256sum (no extra package on CI), keeps
# every config field explicit where the contract test can read it, and gives a stable digest.
#
# The operator image keeps the contract of the Dockerfile's final stage
# (gcr.io/distroless/static-debian12:nonroot + USER 65532:65532, ENTRYPOINT ["/vaultsync"],
# CMD ["run"]): uid/gid 65532, no shell, the CA bundle at /etc/ssl/certs/ca-certificates.crt.
# The binary is this build's (glibc, dynamically linked: the musl target cannot be installed
# offline), so the libraries it links are copied next to it. tests/node.rs checks the contract.
set -euo pipefail

OPERATOR_REF=localhost/vaultsync/vaultsync:testenv
PAUSE_REF=localhost/vaultsync-testenv/pause:1
APP_REF=localhost/vaultsync-testenv/app:1

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fail() { echo "build-images: $*" >&2; exit 1; }

[[ $# -ge 2 ]] || fail "usage: $0 OUT_DIR pause|app|operator [BINARY]"
out_dir="$1" kind="$2"
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
work="$(mktemp -d "$out_dir/.build-XXXXXX")"
trap 'rm -rf "$work"' EXIT

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
json_array() { # json_array a b c -> ["a","b","c"] (values must not contain quotes or backslashes)
  local first=1 v
  printf '['
  for v in "$@"; do
    [[ $first == 1 ]] || printf ','
    first=0
    printf '"%s"' "$v"
  done
  printf ']'
}

# write_image REF ROOTFS USER ENTRYPOINT_JSON CMD_JSON ENV_JSON WORKDIR OUT
write_image() {
  local ref="$1" rootfs="$2" user="$3" entrypoint="$4" cmd="$5" env="$6" workdir="$7" out="$8"
  local layout="$work/layout" blobs="$work/layout/blobs/sha256"
  rm -rf "$layout"
  mkdir -p "$blobs"
  tar --sort=name --mtime=@0 --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$rootfs" -cf "$work/layer.tar" .
  local layer_digest layer_size
  layer_digest="$(sha "$work/layer.tar")"
  layer_size="$(size "$work/layer.tar")"
  mv "$work/layer.tar" "$blobs/$layer_digest"

  printf '{"architecture":"amd64","os":"linux","config":{"User":"%s","Env":%s,"Entrypoint":%s,"Cmd":%s,"WorkingDir":"%s"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"hack/build-images.sh"}]}' \
    "$user" "$env" "$entrypoint" "$cmd" "$workdir" "$layer_digest" >"$work/config.json"
  local config_digest config_size
  config_digest="$(sha "$work/config.json")"
  config_size="$(size "$work/config.json")"
  mv "$work/config.json" "$blobs/$config_digest"

  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
  local manifest_digest manifest_size
  manifest_digest="$(sha "$work/manifest.json")"
  manifest_size="$(size "$work/manifest.json")"
  mv "$work/manifest.json" "$blobs/$manifest_digest"

  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest_digest" "$manifest_size" "$ref" "${ref##*:}" >"$layout/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$layout" -cf "$out.tmp" .
  mv "$out.tmp" "$out"
  echo "$ref $out"
}

# copy_with_libraries BINARY ROOTFS DEST: the binary at DEST and the shared libraries it links
# at the paths the dynamic loader looks them up.
copy_with_libraries() {
  local binary="$1" rootfs="$2" dest="$3" lib
  mkdir -p "$rootfs$(dirname "$dest")"
  cp "$binary" "$rootfs$dest"
  while read -r lib; do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done < <(ldd "$binary" | grep -o '/[^ ]*' | sort -u)
}

# A minimal /etc for a non-root image, as distroless ships it.
base_etc() {
  local rootfs="$1"
  mkdir -p "$rootfs/etc" "$rootfs/tmp" "$rootfs/home/nonroot"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
  chmod 1777 "$rootfs/tmp"
  chown 65532:65532 "$rootfs/home/nonroot"
  chmod 700 "$rootfs/home/nonroot"
}

case "$kind" in
  pause)
    command -v cc >/dev/null || fail "step 'build pause image': no C compiler (cc); install gcc"
    rootfs="$work/rootfs"
    mkdir -p "$rootfs"
    cc -static -Os -s -o "$rootfs/pause" "$repo_root/hack/images/pause.c" \
      || fail "step 'build pause image': compiling hack/images/pause.c failed (static glibc: libc6-dev)"
    write_image "$PAUSE_REF" "$rootfs" "65535:65535" '["/pause"]' 'null' '[]' "/" "$out_dir/pause.tar"
    ;;
  app)
    busybox=/bin/busybox
    [[ -x $busybox ]] || fail "step 'build app image': $busybox missing; run hack/ensure-node.sh (installs busybox-static)"
    if ldd "$busybox" >/dev/null 2>&1; then
      fail "step 'build app image': $busybox is dynamically linked; install Debian's busybox-static"
    fi
    openssl="$(command -v openssl)" || fail "step 'build app image': no openssl; run hack/ensure-node.sh"
    rootfs="$work/rootfs"
    mkdir -p "$rootfs/bin"
    cp "$busybox" "$rootfs/bin/busybox"
    for applet in sh cat ls sleep echo test stat date id touch httpd nc wget printenv grep sed; do
      ln -s busybox "$rootfs/bin/$applet"
    done
    # openssl s_server serves TLS from a mounted kubernetes.io/tls Secret in the TLS test.
    copy_with_libraries "$openssl" "$rootfs" /bin/openssl
    base_etc "$rootfs"
    write_image "$APP_REF" "$rootfs" "65532:65532" '["/bin/sh"]' 'null' \
      "$(json_array PATH=/bin)" "/" "$out_dir/app.tar"
    ;;
  operator)
    [[ $# -ge 3 ]] || fail "usage: $0 OUT_DIR operator BINARY"
    binary="$3"
    [[ -x $binary ]] || fail "step 'build operator image': $binary is not an executable"
    ca=/etc/ssl/certs/ca-certificates.crt
    [[ -s $ca ]] || fail "step 'build operator image': no CA bundle at $ca (install ca-certificates)"
    rootfs="$work/rootfs"
    mkdir -p "$rootfs/etc/ssl/certs"
    copy_with_libraries "$binary" "$rootfs" /vaultsync
    strip --strip-debug "$rootfs/vaultsync" 2>/dev/null || true
    cp "$ca" "$rootfs/etc/ssl/certs/ca-certificates.crt"
    base_etc "$rootfs"
    chmod 755 "$rootfs/vaultsync"
    write_image "$OPERATOR_REF" "$rootfs" "65532:65532" '["/vaultsync"]' '["run"]' \
      "$(json_array PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt)" \
      "/home/nonroot" "$out_dir/vaultsync.tar"
    ;;
  *) fail "unknown image '$kind' (pause, app or operator)" ;;
esac
