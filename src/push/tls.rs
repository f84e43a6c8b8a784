//! The serving certificate, re-read when its files change (cert-manager and mounted Secrets
//! rotate them in place), so a renewed certificate is served without a restart. A pair that
//! fails to load (half-written, mismatched) keeps the last good one in service.

use super::settings::{PushError, TlsFiles};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio_rustls::TlsAcceptor;

/// How often the files' modification times are looked at.
const RECHECK_EVERY: Duration = Duration::from_secs(5);

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Reads and checks the pair: the chain is not empty and the key belongs to its leaf.
fn load(files: &TlsFiles, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, PushError> {
    let at =
        |path: &Path, e: &dyn std::fmt::Display| PushError::Tls(format!("{}: {e}", path.display()));
    let certs = CertificateDer::pem_file_iter(&files.cert_chain)
        .map_err(|e| at(&files.cert_chain, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| at(&files.cert_chain, &e))?;
    if certs.is_empty() {
        return Err(at(&files.cert_chain, &"no certificate"));
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.private_key).map_err(|e| at(&files.private_key, &e))?;
    CertifiedKey::from_der(certs, key, provider)
        .map(Arc::new)
        .map_err(|e| at(&files.private_key, &e))
}

struct Current {
    key: Arc<CertifiedKey>,
    stamps: (Option<SystemTime>, Option<SystemTime>),
    checked: Instant,
}

/// Serves the files' certificate, reloading it when they change.
pub(crate) struct ReloadingCert {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: Mutex<Current>,
}

impl std::fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl ReloadingCert {
    fn stamps(&self) -> (Option<SystemTime>, Option<SystemTime>) {
        (
            modified(&self.files.cert_chain),
            modified(&self.files.private_key),
        )
    }

    fn new(files: &TlsFiles, provider: Arc<CryptoProvider>) -> Result<ReloadingCert, PushError> {
        let key = load(files, &provider)?;
        let r = ReloadingCert {
            files: files.clone(),
            provider,
            current: Mutex::new(Current {
                key,
                stamps: (None, None),
                checked: Instant::now(),
            }),
        };
        let stamps = r.stamps();
        r.current.lock().unwrap_or_else(|e| e.into_inner()).stamps = stamps;
        Ok(r)
    }

    /// The certificate to serve now.
    fn key(&self) -> Arc<CertifiedKey> {
        let mut c = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if c.checked.elapsed() >= RECHECK_EVERY {
            c.checked = Instant::now();
            let stamps = self.stamps();
            if stamps != c.stamps {
                match load(&self.files, &self.provider) {
                    Ok(key) => {
                        c.key = key;
                        c.stamps = stamps;
                        tracing::info!("push TLS certificate reloaded");
                    }
                    Err(e) => tracing::warn!(error = %e, "push TLS certificate not reloaded"),
                }
            }
        }
        c.key.clone()
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.key())
    }
}

/// The TLS acceptor (HTTP/1.1) serving the files' certificate.
pub(crate) fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, PushError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let resolver = ReloadingCert::new(files, provider.clone())?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PushError::Tls(format!("protocol versions: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(name: &str) -> (String, String) {
        let c = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        (c.cert.pem(), c.signing_key.serialize_pem())
    }

    #[test]
    fn a_renewed_pair_is_served_and_a_broken_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            cert_chain: dir.path().join("tls.crt"),
            private_key: dir.path().join("tls.key"),
        };
        let write = |cert: &str, key: &str, bump: u64| {
            std::fs::write(&files.cert_chain, cert).unwrap();
            std::fs::write(&files.private_key, key).unwrap();
            let later = SystemTime::now() + Duration::from_secs(bump);
            for p in [&files.cert_chain, &files.private_key] {
                let f = std::fs::File::options().write(true).open(p).unwrap();
                f.set_modified(later).unwrap();
            }
        };
        let (first_cert, first_key) = self_signed("first.test");
        write(&first_cert, &first_key, 0);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let r = ReloadingCert::new(&files, provider).unwrap();
        let first = r.key();
        let age = |r: &ReloadingCert| {
            r.current.lock().unwrap().checked = Instant::now() - RECHECK_EVERY;
        };

        let (second_cert, second_key) = self_signed("second.test");
        write(&second_cert, &second_key, 60);
        age(&r);
        let second = r.key();
        assert_ne!(first.cert, second.cert, "the renewed certificate is served");

        // A key that does not belong to the certificate keeps the last good pair.
        write(&first_cert, &second_key, 120);
        age(&r);
        assert_eq!(r.key().cert, second.cert);

        assert!(matches!(
            ReloadingCert::new(&files, Arc::new(rustls::crypto::ring::default_provider())),
            Err(PushError::Tls(_))
        ));
    }
}
