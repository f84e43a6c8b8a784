//! The Event Grid push endpoint: Azure Key Vault events delivered by Event Grid webhooks, turned
//! into [`ObjectChanged`] values on a `tokio::sync::mpsc` channel.
//!
//! - Answers both validation handshakes: the Event Grid schema's `SubscriptionValidationEvent`
//!   (`{"validationResponse": code}`) and the CloudEvents `OPTIONS` preflight
//!   (`WebHook-Allowed-Origin`).
//! - Accepts the Event Grid schema (an array) and CloudEvents 1.0 (`application/cloudevents+json`
//!   and `application/cloudevents-batch+json`).
//! - Authenticates every delivery with a shared secret header (compared in constant time),
//!   an Entra bearer token, or both ([`PushSettings`]); 401 before the body is read.
//! - Bounds bodies, rate-limits senders of refused requests (429), acknowledges and ignores
//!   unknown events.
//! - Never logs a token or the secret, and never carries a value: events name objects only.
//!
//! Delivery is at least once and unordered: the receiver must be idempotent (compare versions,
//! deduplicate by [`ObjectChanged::event_id`]). A full channel is waited on for
//! [`PushSettings::sink_timeout`]; then the delivery is answered 503 and Event Grid retries it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vaultsync::push::PushError> {
//! use vaultsync::push::{PushServer, PushSettings, SharedSecret, DEFAULT_SECRET_HEADER};
//! let mut settings = PushSettings::new(([0, 0, 0, 0], 8443).into());
//! settings.shared_secret = Some(SharedSecret {
//!     header: DEFAULT_SECRET_HEADER.into(),
//!     file: "/var/run/vaultsync/push-secret".into(),
//! });
//! let (sink, mut changes) = tokio::sync::mpsc::channel(1024);
//! let server = PushServer::bind(settings, sink).await?;
//! let health = server.health();
//! tokio::spawn(server.run());
//! while let Some(change) = changes.recv().await {
//!     // wake the resources that reference change.vault_name / change.object_name
//! #   let _ = (change, &health);
//! }
//! # Ok(()) }
//! ```

mod entra;
mod event;
mod health;
mod listen;
mod rate;
mod routes;
mod secret;
mod settings;
mod tls;

pub use entra::TokenRejection;
pub use event::{Change, ObjectChanged, ObjectType};
pub use health::PushHealth;
pub use routes::PeerAddr;
pub use settings::{
    DEFAULT_SECRET_HEADER, EntraVerification, PushError, PushSettings, RateLimit, SharedSecret,
    TlsFiles,
};

use routes::Endpoint;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A bound push endpoint, ready to [`run`](PushServer::run).
pub struct PushServer {
    tcp: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    local_addr: SocketAddr,
    router: axum::Router,
    health: PushHealth,
}

impl std::fmt::Debug for PushServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushServer")
            .field("local_addr", &self.local_addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds the request handling from settings, without a listener (also used by unit tests).
fn endpoint(
    settings: &PushSettings,
    sink: mpsc::Sender<ObjectChanged>,
    health: PushHealth,
) -> Result<Endpoint, PushError> {
    if settings.shared_secret.is_none() && settings.entra.is_none() {
        return Err(PushError::NoAuthentication);
    }
    let rl = settings.rate_limit;
    if !(rl.per_second.is_finite() && rl.per_second > 0.0 && rl.burst > 0) {
        return Err(PushError::RateLimit);
    }
    Ok(Endpoint {
        secret: settings
            .shared_secret
            .as_ref()
            .map(secret::SecretCheck::new)
            .transpose()?,
        entra: settings.entra.clone().map(entra::EntraCheck::new),
        rate: rate::RateLimiter::new(rl),
        max_body_bytes: settings.max_body_bytes,
        sink,
        sink_timeout: settings.sink_timeout,
        health,
    })
}

impl PushServer {
    /// Reads the secret and TLS files and binds the listener. Each Key Vault event received is
    /// sent to `sink`.
    pub async fn bind(
        settings: PushSettings,
        sink: mpsc::Sender<ObjectChanged>,
    ) -> Result<PushServer, PushError> {
        let health = PushHealth::default();
        let router = routes::router(Arc::new(endpoint(&settings, sink, health.clone())?));
        let tls = settings.tls.as_ref().map(tls::acceptor).transpose()?;
        let bind_err = |source| PushError::Bind {
            addr: settings.listen,
            source,
        };
        let tcp = TcpListener::bind(settings.listen).await.map_err(bind_err)?;
        let local_addr = tcp.local_addr().map_err(bind_err)?;
        Ok(PushServer {
            tcp,
            tls,
            local_addr,
            router,
            health,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The "push healthy" signal: time of the last authenticated delivery or handshake.
    pub fn health(&self) -> PushHealth {
        self.health.clone()
    }

    /// Serves until the future is dropped (or the listener fails).
    pub async fn run(self) -> std::io::Result<()> {
        let app = self
            .router
            .into_make_service_with_connect_info::<PeerAddr>();
        match self.tls {
            Some(acceptor) => axum::serve(listen::TlsListener::new(self.tcp, acceptor), app).await,
            None => axum::serve(self.tcp, app).await,
        }
    }
}

/// Binds and serves in one step, for callers that need neither the address nor the health
/// signal.
pub async fn serve(
    settings: PushSettings,
    sink: mpsc::Sender<ObjectChanged>,
) -> Result<(), PushError> {
    let server = PushServer::bind(settings, sink).await?;
    let addr = server.local_addr;
    server
        .run()
        .await
        .map_err(|source| PushError::Bind { addr, source })
}

#[cfg(test)]
mod tests;
