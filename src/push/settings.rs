//! How the push endpoint is configured ([`PushSettings`]) and why it can fail to start
//! ([`PushError`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Header that carries the shared secret unless configured otherwise (set it as a delivery
/// attribute of the Event Grid subscription).
pub const DEFAULT_SECRET_HEADER: &str = "x-vaultsync-push-secret";

/// Settings of the push endpoint. Every configured check must pass: with both a shared secret
/// and Entra verification, a delivery needs both.
#[derive(Debug, Clone)]
pub struct PushSettings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Serve HTTPS with these files; plain HTTP when `None` (behind a TLS-terminating ingress).
    pub tls: Option<TlsFiles>,
    /// Shared-secret authentication.
    pub shared_secret: Option<SharedSecret>,
    /// Entra bearer-token verification.
    pub entra: Option<EntraVerification>,
    /// Per-sender limit on refused requests (authenticated deliveries are never limited).
    pub rate_limit: RateLimit,
    /// Largest accepted request body (Event Grid's events are at most 1 MB).
    pub max_body_bytes: usize,
    /// How long a delivery waits for room in the sink before answering 503 (Event Grid then
    /// retries it later).
    pub sink_timeout: Duration,
}

impl PushSettings {
    /// Settings with the defaults: plain HTTP, no authentication configured yet, 50 refused
    /// requests/s per sender with bursts of 100, 1 MiB bodies, 5 s sink wait.
    pub fn new(listen: SocketAddr) -> PushSettings {
        PushSettings {
            listen,
            tls: None,
            shared_secret: None,
            entra: None,
            rate_limit: RateLimit::default(),
            max_body_bytes: 1 << 20,
            sink_timeout: Duration::from_secs(5),
        }
    }
}

/// PEM files of the serving certificate chain and its private key. Read at start and again
/// when they change (checked every 5 s), so a renewed certificate needs no restart.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert_chain: PathBuf,
    /// PKCS#8, PKCS#1 or SEC1 private key.
    pub private_key: PathBuf,
}

/// A shared secret sent by Event Grid as a static delivery header.
#[derive(Debug, Clone)]
pub struct SharedSecret {
    /// Header name (case-insensitive), [`DEFAULT_SECRET_HEADER`] by default.
    pub header: String,
    /// File holding the secret (a mounted Kubernetes Secret key); surrounding whitespace is
    /// ignored. Re-read when it changes, so a rotated Secret takes effect without a restart.
    pub file: PathBuf,
}

/// Verification of the Entra bearer token Event Grid sends with Microsoft Entra authentication.
#[derive(Debug, Clone)]
pub struct EntraVerification {
    /// Authority host, e.g. `https://login.microsoftonline.com`.
    pub authority_host: String,
    /// Tenant id of the webhook application.
    pub tenant: String,
    /// Expected `aud`: the webhook application's id or application id URI.
    pub audience: String,
    /// Client for the discovery document and the JWKS (inject one that trusts a test CA).
    pub http: reqwest::Client,
}

/// A token bucket per sender address, charged by refused requests; an empty bucket answers 429.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Bucket size.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: 50.0,
            burst: 100,
        }
    }
}

/// Why the push endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Neither a shared secret nor Entra verification is configured.
    #[error("the push endpoint needs a shared secret or Entra verification")]
    NoAuthentication,
    /// The shared-secret file cannot be read or is empty.
    #[error("push shared secret file {path}: {reason}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the content).
        reason: String,
    },
    /// The shared-secret header name is not a valid HTTP header name.
    #[error("push shared secret header {0:?} is not a valid header name")]
    SecretHeader(String),
    /// The TLS files cannot be read or do not form a usable certificate and key.
    #[error("push TLS: {0}")]
    Tls(String),
    /// Binding the listener failed.
    #[error("push listener on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The rate limit is not positive.
    #[error("push rate limit must be positive")]
    RateLimit,
}
