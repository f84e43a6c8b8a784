//! The HTTP client every Azure call goes through: rustls with an optional extra CA bundle, no
//! redirects (a vault never redirects; following one would reach a host the allow-list never
//! saw), and, when enabled for an emulator, RFC 6761 loopback resolution for `*.localhost` names
//! (so the SDK's challenge-resource verification stays on, without touching /etc/hosts).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use azure_core::error::ErrorKind;
use azure_core::http::headers::HeaderName;
use azure_core::http::{AsyncRawResponse, HttpClient, Request};
use futures::StreamExt;
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

/// Largest response body read from a vault or the authority. Key Vault secrets hold at most
/// 25 KB; a listing page of 25 items is a few KB.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Text of the error a too-large response ends with; classification looks for it.
pub const RESPONSE_TOO_LARGE: &str = "response body is larger than";

/// An [`HttpClient`] that refuses response bodies over a size: a hostile vault cannot make the
/// operator buffer megabytes (the SDK reads whole bodies into memory).
#[derive(Debug)]
pub struct BoundedBodies {
    inner: Arc<dyn HttpClient>,
    max: usize,
}

impl BoundedBodies {
    /// Wraps `inner`, refusing bodies over `max` bytes.
    pub fn new(inner: Arc<dyn HttpClient>, max: usize) -> Self {
        BoundedBodies { inner, max }
    }

    fn too_large(max: usize) -> azure_core::Error {
        azure_core::Error::with_message(
            ErrorKind::DataConversion,
            format!("{RESPONSE_TOO_LARGE} {max} bytes; refusing it"),
        )
    }
}

#[async_trait::async_trait]
impl HttpClient for BoundedBodies {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let response = self.inner.execute_request(request).await?;
        let max = self.max;
        let declared = response
            .headers()
            .get_optional_str(&HeaderName::from_static("content-length"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        if declared.is_some_and(|length| length > max) {
            return Err(Self::too_large(max));
        }
        let (status, headers, body) = response.deconstruct();
        let mut read = 0usize;
        let bounded = body.map(move |chunk| {
            let chunk = chunk?;
            read += chunk.len();
            if read > max {
                return Err(Self::too_large(max));
            }
            Ok(chunk)
        });
        Ok(AsyncRawResponse::new(status, headers, Box::pin(bounded)))
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

    /// Serves one response: `head` then `body_bytes` zero bytes (or until the client hangs up).
    async fn serve_once(head: String, body_bytes: usize) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 2048];
            let _ = socket.read(&mut request).await;
            let _ = socket.write_all(head.as_bytes()).await;
            let chunk = vec![b'0'; 64 * 1024];
            let mut sent = 0;
            while sent < body_bytes {
                if socket.write_all(&chunk).await.is_err() {
                    return;
                }
                sent += chunk.len();
            }
        });
        addr
    }

    async fn fetch(addr: std::net::SocketAddr) -> azure_core::Result<usize> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = BoundedBodies::new(Arc::new(http_client(None, false).unwrap()), 1024 * 1024);
        let url = azure_core::http::Url::parse(&format!("http://{addr}/secrets")).unwrap();
        let request = Request::new(url, azure_core::http::Method::Get);
        let response = client.execute_request(&request).await?;
        Ok(response.into_body().collect().await?.len())
    }

    #[tokio::test]
    async fn a_response_declaring_fifty_megabytes_is_refused_before_reading() {
        let fifty = 50 * 1024 * 1024;
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {fifty}\r\n\r\n");
        let err = fetch(serve_once(head, 0).await).await.unwrap_err();
        assert!(err.to_string().contains(RESPONSE_TOO_LARGE), "{err}");
    }

    #[tokio::test]
    async fn an_endless_response_is_cut_at_the_limit() {
        let head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_string();
        let err = fetch(serve_once(head, 50 * 1024 * 1024).await)
            .await
            .unwrap_err();
        assert!(err.to_string().contains(RESPONSE_TOO_LARGE), "{err}");
        let small = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789".to_string();
        assert_eq!(fetch(serve_once(small, 0).await).await.unwrap(), 10);
    }

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
