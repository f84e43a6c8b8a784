//! The HTTP client of one subscription: loopback endpoints only, trusting exactly the CA the
//! subscription names for `https`.

use crate::control::ControlError;
use reqwest::Url;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Event Grid waits this long for an answer before counting the attempt as failed.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

fn bad(message: impl Into<String>) -> ControlError {
    ControlError::BadParameter(message.into())
}

/// Whether a host is on loopback; `*.localhost` names are (and are resolved to 127.0.0.1).
fn loopback_host(url: &Url) -> Option<bool> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(ip.is_loopback()),
        url::Host::Ipv6(ip) => Some(ip.is_loopback()),
        url::Host::Domain(d) => {
            let d = d.to_ascii_lowercase();
            Some(d == "localhost" || d.ends_with(".localhost"))
        }
    }
}

/// Checks `endpoint` and builds its client.
pub(crate) fn build(endpoint: &str, ca_pem: Option<&str>) -> Result<reqwest::Client, ControlError> {
    let url = Url::parse(endpoint).map_err(|e| bad(format!("endpoint is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("endpoint must be http or https"));
    }
    if loopback_host(&url) != Some(true) {
        return Err(bad("endpoint must be on loopback"));
    }
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| bad(format!("ca_pem: {e}")))?;
            roots.add(cert).map_err(|e| bad(format!("ca_pem: {e}")))?;
        }
    }
    if url.scheme() == "https" && roots.is_empty() {
        return Err(bad("an https endpoint needs ca_pem"));
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad(format!("TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(RESPONSE_TIMEOUT);
    if let Some(url::Host::Domain(d)) = url.host()
        && d.contains('.')
    {
        let port = url.port_or_known_default().unwrap_or(443);
        builder = builder.resolve(d, SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    builder
        .build()
        .map_err(|e| bad(format!("HTTP client: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_endpoints() {
        assert!(build("http://127.0.0.1:1/hook", None).is_ok());
        assert!(build("http://127.3.4.5:1/hook", None).is_ok());
        assert!(build("http://[::1]:1/hook", None).is_ok());
        assert!(build("http://push.localhost:1/hook", None).is_ok());
        assert!(build("http://10.0.0.1/hook", None).is_err());
        assert!(build("http://example.com/hook", None).is_err());
        assert!(build("ftp://127.0.0.1/hook", None).is_err());
        assert!(build("https://127.0.0.1/hook", None).is_err());
    }
}
