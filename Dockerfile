# syntax=docker/dockerfile:1
# The vaultsync operator image: docker build -t vaultsync:0.1.0 .
#
# A static binary (musl) on distroless/static: no libc, no shell, no package manager, only CA
# certificates (reqwest verifies Entra ID and Key Vault against the system roots), /etc/passwd and
# tzdata. ring's C and assembly build with Alpine's gcc and musl-dev; TLS is rustls, so nothing
# links OpenSSL. The :nonroot tag runs as uid/gid 65532, the uid the Helm chart's securityContext
# requires.
#
# Both bases are pinned by digest (the tag stays for readers; the digest is what is pulled), so a
# rebuild never picks up a base nobody reviewed. To move a base: `crane digest IMAGE:TAG` (or
# `docker buildx imagetools inspect IMAGE:TAG`), replace the digest, rebuild, run the node tests.
# The digests are the multi-platform index digests these tags pointed to when pinned.
FROM docker.io/library/rust:1.95-alpine@sha256:606fd313a0f49743ee2a7bd49a0914bab7deedb12791f3a846a34a4711db7ed2 AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin vaultsync \
    && cp target/release/vaultsync /vaultsync

FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
COPY --from=build /vaultsync /vaultsync
USER 65532:65532
ENTRYPOINT ["/vaultsync"]
CMD ["run"]
