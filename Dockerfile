# syntax=docker/dockerfile:1
# The vaultsync operator image: docker build -t vaultsync:0.1.0 .
#
# Why a glibc build on distroless/cc rather than a static musl binary on scratch:
# - the runtime needs more than the binary: CA certificates (reqwest verifies Entra ID and Key Vault
#   against the system roots) and a working resolver (getaddrinfo); distroless/cc ships both, glibc
#   and libgcc, and nothing else: no shell, no package manager;
# - building for the host's glibc needs no musl cross toolchain for ring's C and assembly, and
#   avoids musl's allocator, which is slow under tokio's multi-threaded load;
# - its :nonroot tag runs as uid/gid 65532, the uid the Helm chart's securityContext requires.
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin vaultsync \
    && cp target/release/vaultsync /vaultsync

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /vaultsync /vaultsync
USER 65532:65532
ENTRYPOINT ["/vaultsync"]
CMD ["run"]
