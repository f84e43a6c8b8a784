//! The HTTP client every Azure call goes through: rustls with an optional extra CA bundle, no
//! redirects (a vault never redirects; following one would reach a host the allow-list never
//! saw), and, when enabled for an emulator, RFC 6761 loopback resolution for `*.localhost` names
//! (so the SDK's challenge-resource verification stays on, without touching /etc/hosts).

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

/// Builds the shared HTTP client. `extra_ca_pem` adds roots to the system's; `loopback_hosts`
/// resolves `*.localhost` to 127.0.0.1.
pub fn http_client(
    extra_ca_pem: Option<&str>,
    loopback_hosts: bool,
) -> Result<reqwest::Client, TransportError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30));
    if loopback_hosts {
        builder = builder.dns_resolver(Arc::new(LoopbackAwareResolver));
    }
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

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn redirects_are_answered_not_followed() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let elsewhere = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let elsewhere_addr = elsewhere.local_addr().unwrap();
        let vault = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let vault_addr = vault.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = vault.accept().await.unwrap();
            let mut request = [0u8; 2048];
            let _ = socket.read(&mut request).await;
            let reply = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{elsewhere_addr}/\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            socket.write_all(reply.as_bytes()).await.unwrap();
        });
        let client = http_client(None, false).unwrap();
        let response = client
            .get(format!("http://{vault_addr}/secrets/db"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 307);
        let contacted = tokio::time::timeout(Duration::from_millis(300), elsewhere.accept()).await;
        assert!(contacted.is_err(), "the redirect target was contacted");
    }
}
