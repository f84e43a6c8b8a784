//! The trust-bundle output: the CA certificates of a certificate's chain, as PEM and optionally
//! as a PKCS#12 truststore, for clients that must trust a private CA held in Key Vault. Neither
//! the private key nor a leaf that is not itself a CA ever goes in.

use p12_keystore::{Certificate, KeyStore, KeyStoreEntry};

use crate::TlsError;

/// Alias prefix of the truststore's entries: `ca-1`, `ca-2`, … in bundle order.
pub const TRUSTSTORE_ALIAS_PREFIX: &str = "ca-";

/// The CA certificates of one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustBundle {
    /// PEM: the certificate itself when it is a CA or self-signed, then its issuers up to the
    /// root when the vault has it (only the root with [`crate::CaSource::Root`]).
    pub pem: String,
    /// A PKCS#12 truststore of the same certificates (trusted-certificate entries, readable by
    /// Java's `PKCS12` keystore type and OpenSSL) when a truststore password was given.
    pub truststore: Option<Vec<u8>>,
    /// How many certificates the bundle holds.
    pub certificates: usize,
}

/// The bundle of `anchors` (DER, bundle order), with a truststore when a password is given.
pub(crate) fn build(anchors: &[&[u8]], password: Option<&str>) -> Result<TrustBundle, TlsError> {
    if anchors.is_empty() {
        return Err(TlsError::NoTrustAnchors);
    }
    Ok(TrustBundle {
        pem: crate::pem_certs(anchors.iter().copied()),
        truststore: password.map(|p| truststore(anchors, p)).transpose()?,
        certificates: anchors.len(),
    })
}

/// Builds the truststore of `ders` (bundle order) protected by `password`.
fn truststore(ders: &[&[u8]], password: &str) -> Result<Vec<u8>, TlsError> {
    let mut store = KeyStore::new();
    for (n, der) in ders.iter().enumerate() {
        let certificate = Certificate::from_der(der)
            .map_err(|_| TlsError::Pkcs12Encode("certificate rejected".to_owned()))?;
        store.add_entry(
            &format!("{TRUSTSTORE_ALIAS_PREFIX}{}", n + 1),
            KeyStoreEntry::Certificate(certificate),
        );
    }
    store
        .writer(password)
        .write()
        .map_err(|e| TlsError::Pkcs12Encode(e.to_string()))
}
