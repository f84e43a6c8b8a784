//! Flags of the Event Grid push endpoint (off unless `--push-addr` is set).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::push::DEFAULT_SECRET_HEADER;

/// The push endpoint's flags.
#[derive(clap::Args, Debug, Clone)]
pub struct PushArgs {
    /// Address of the Event Grid delivery endpoint, for example `0.0.0.0:8443`. Off when unset.
    #[arg(long = "push-addr", env = "VAULTSYNC_PUSH_ADDR")]
    pub addr: Option<SocketAddr>,
    /// PEM certificate chain to serve HTTPS with on the push endpoint (plain HTTP without it,
    /// for a TLS-terminating ingress). Re-read when it changes.
    #[arg(
        long = "push-tls-cert-file",
        env = "VAULTSYNC_PUSH_TLS_CERT_FILE",
        requires = "tls_key_file"
    )]
    pub tls_cert_file: Option<PathBuf>,
    /// The private key of `--push-tls-cert-file`.
    #[arg(
        long = "push-tls-key-file",
        env = "VAULTSYNC_PUSH_TLS_KEY_FILE",
        requires = "tls_cert_file"
    )]
    pub tls_key_file: Option<PathBuf>,
    /// File holding the shared secret every delivery must carry (set it as a delivery
    /// attribute of the Event Grid subscription). Re-read when it changes.
    #[arg(
        long = "push-shared-secret-file",
        env = "VAULTSYNC_PUSH_SHARED_SECRET_FILE"
    )]
    pub shared_secret_file: Option<PathBuf>,
    /// Header carrying the shared secret.
    #[arg(
        long = "push-shared-secret-header",
        env = "VAULTSYNC_PUSH_SHARED_SECRET_HEADER",
        default_value = DEFAULT_SECRET_HEADER
    )]
    pub shared_secret_header: String,
    /// Audience the Entra bearer tokens of deliveries must carry (the Entra application the
    /// subscription authenticates to); verified against `--tenant-id`'s keys at
    /// `--authority-host`.
    #[arg(long = "push-entra-audience", env = "VAULTSYNC_PUSH_ENTRA_AUDIENCE")]
    pub entra_audience: Option<String>,
    /// While push is healthy (an authenticated delivery or handshake within 24 hours), scanners
    /// poll this many times less often.
    #[arg(
        long = "push-poll-stretch",
        env = "VAULTSYNC_PUSH_POLL_STRETCH",
        default_value_t = 10
    )]
    pub poll_stretch: u32,
}
