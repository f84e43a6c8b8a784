//! The result of a conversion: the files of a `kubernetes.io/tls` Secret,
//! facts about the leaf, and what was wrong but not fatal.

use std::fmt;

use zeroize::Zeroizing;

/// The files of a Kubernetes TLS Secret built from one backing secret.
///
/// `Debug` redacts `tls_key` and `pkcs12`; both are wiped from memory on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsBundle {
    /// PEM: the leaf, then each issuer up the chain, never the self-signed root
    /// (unless the leaf is itself self-signed).
    pub tls_crt: String,
    /// PEM private key in the requested [`crate::KeyFormat`].
    pub tls_key: Zeroizing<String>,
    /// PEM CA certificates per [`crate::CaSource`], `None` when there are none.
    pub ca_crt: Option<String>,
    /// PKCS#12 keystore (key, leaf, intermediates and root when present) when
    /// a keystore password was requested.
    pub pkcs12: Option<Zeroizing<Vec<u8>>>,
    /// The CA certificates alone, when a trust bundle was asked for.
    pub trust: Option<crate::TrustBundle>,
    /// Facts about the leaf certificate.
    pub info: CertificateInfo,
    /// Problems that did not stop the conversion.
    pub warnings: Vec<ChainWarning>,
}

impl fmt::Debug for TlsBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsBundle")
            .field("tls_crt", &self.tls_crt)
            .field("tls_key", &"<redacted>")
            .field("ca_crt", &self.ca_crt)
            .field(
                "pkcs12",
                &self
                    .pkcs12
                    .as_ref()
                    .map(|p| format!("<redacted {} bytes>", p.len())),
            )
            .field("trust", &self.trust)
            .field("info", &self.info)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Facts about the leaf certificate, for status and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Subject DN, RFC 4514 style (`CN=example.com, O=Example`).
    pub subject: String,
    /// Issuer DN in the same style.
    pub issuer: String,
    /// DNS names from the subjectAltName extension, in certificate order.
    pub dns_names: Vec<String>,
    /// Serial number as upper-case hex, no separators.
    pub serial_hex: String,
    /// SHA-1 of the DER certificate, upper-case hex (Key Vault's `x5t`).
    pub sha1_thumbprint_hex: String,
    /// SHA-256 of the DER certificate, upper-case hex.
    pub sha256_thumbprint_hex: String,
    /// Start of validity, unix seconds.
    pub not_before_unix: i64,
    /// End of validity, unix seconds.
    pub not_after_unix: i64,
    /// Key algorithm and size, e.g. `RSA-2048`, `EC-P256`.
    pub key_algorithm: String,
}

/// A problem that still let a usable Secret be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainWarning {
    /// The chain stops before a self-signed root: no certificate in the
    /// bundle both has this issuer DN as subject and verifies the signature.
    ChainIncomplete {
        /// DN of the issuer that is missing.
        missing_issuer: String,
    },
    /// A certificate with the right subject DN was present but its key did
    /// not verify the child's signature, so it was not used.
    IssuerSignatureMismatch {
        /// DN of the certificate whose signature failed.
        subject: String,
    },
    /// This many certificates were not part of the leaf's chain and were dropped.
    UnrelatedCertificates(usize),
    /// A CA certificate in the chain is outside its validity period at the
    /// conversion time; clients may reject the chain.
    ChainCertificateNotValid {
        /// DN of that certificate.
        subject: String,
        /// Its notAfter, unix seconds.
        not_after_unix: i64,
    },
}

impl fmt::Display for ChainWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainWarning::ChainIncomplete { missing_issuer } => write!(
                f,
                "certificate chain is incomplete: issuer {missing_issuer} is not in the bundle"
            ),
            ChainWarning::IssuerSignatureMismatch { subject } => write!(
                f,
                "certificate {subject} has the issuer's name but did not verify its child's signature"
            ),
            ChainWarning::UnrelatedCertificates(n) => {
                write!(f, "{n} certificate(s) not in the leaf's chain were dropped")
            }
            ChainWarning::ChainCertificateNotValid {
                subject,
                not_after_unix,
            } => write!(
                f,
                "chain certificate {subject} is outside its validity period (notAfter {not_after_unix})"
            ),
        }
    }
}

impl ChainWarning {
    /// A stable CamelCase reason for Kubernetes events, one per variant.
    pub fn reason(&self) -> &'static str {
        match self {
            ChainWarning::ChainIncomplete { .. } => "ChainIncomplete",
            ChainWarning::IssuerSignatureMismatch { .. } => "IssuerSignatureMismatch",
            ChainWarning::UnrelatedCertificates(_) => "UnrelatedCertificates",
            ChainWarning::ChainCertificateNotValid { .. } => "ChainCertificateNotValid",
        }
    }
}
