//! The HTTP client every Azure call goes through: rustls with an optional extra CA bundle, and
//! RFC 6761 loopback resolution for `*.localhost` names (so a vault emulator on loopback keeps the
//! SDK's challenge-resource verification on, without touching /etc/hosts).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Resolves `localhost` and `*.localhost` to 127.0.0.1 and everything else through the system.
#[derive(Debug, Default)]
struct LoopbackAwareResolver;

impl Resolve for LoopbackAwareResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            if host == "localhost" || host.ends_with(".localhost") {
                let addrs: Addrs = Box::new(std::iter::once(SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::LOCALHOST),
                    0,
                )));
                return Ok(addrs);
            }
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let addrs: Addrs = Box::new(resolved.collect::<Vec<_>>().into_iter());
            Ok(addrs)
        })
    }
}

/// Errors building the HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The extra CA bundle is not valid PEM.
    #[error("failed to read the extra CA bundle: {0}")]
    CaBundle(String),
    /// reqwest refused the configuration.
    #[error("failed to build the HTTP client: {0}")]
    Build(String),
}

/// Builds the shared HTTP client. `extra_ca_pem` adds roots to the system's.
pub fn http_client(extra_ca_pem: Option<&str>) -> Result<reqwest::Client, TransportError> {
    let mut builder = reqwest::Client::builder()
        .dns_resolver(Arc::new(LoopbackAwareResolver))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30));
    if let Some(pem) = extra_ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| TransportError::CaBundle(e.to_string()))?;
        if certs.is_empty() {
            return Err(TransportError::CaBundle("no certificate found".into()));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .build()
        .map_err(|e| TransportError::Build(e.to_string()))
}
