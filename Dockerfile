# syntax=docker/dockerfile:1
# The vaultsync operator image: docker build -t vaultsync:0.1.0 .
#
# A static binary (musl) on distroless/static: no libc, no shell, no package manager, only CA
# certificates (reqwest verifies Entra ID and Key Vault against the system roots), /etc/passwd and
# tzdata. ring's C and assembly build with Alpine's gcc and musl-dev; TLS is rustls, so nothing
# links OpenSSL. The :nonroot tag runs as uid/gid 65532, the uid the Helm chart's securityContext
# requires.
FROM docker.io/library/rust:1.95-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin vaultsync \
    && cp target/release/vaultsync /vaultsync

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /vaultsync /vaultsync
USER 65532:65532
ENTRYPOINT ["/vaultsync"]
CMD ["run"]
