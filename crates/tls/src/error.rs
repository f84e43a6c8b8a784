//! Errors returned by [`crate::convert`].
//!
//! Every message is built from fixed text, distinguished names, labels or
//! timestamps only: no variant can carry key bytes or PEM bodies, so errors
//! may be logged and written to status conditions as they are.

use crate::options::KeyFormat;

/// Why a backing secret could not be turned into a TLS Secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The PKCS#12 value is not valid base64.
    #[error("certificate value is not valid base64")]
    InvalidBase64,
    /// The PKCS#12 container could not be parsed or decrypted with the empty password.
    #[error("PKCS#12 container is corrupt: {0}")]
    CorruptPkcs12(String),
    /// The PKCS#12 container asks for more key-derivation or MAC iterations than accepted (or
    /// omits its parameters): deriving its keys would hold a thread for minutes or hours.
    #[error(
        "PKCS#12 container declares more than {max} key-derivation or MAC iterations, or no \
         parameters; re-export it with the usual counts (2,048 to 600,000)",
        max = crate::MAX_PKCS12_ITERATIONS
    )]
    Pkcs12IterationsRefused,
    /// The PEM text is malformed (the string says where, never what).
    #[error("PEM data is invalid: {0}")]
    InvalidPem(String),
    /// A certificate in the bundle is not a parseable X.509 certificate.
    #[error("certificate is not valid X.509: {0}")]
    InvalidCertificate(String),
    /// The bundle holds no certificate at all.
    #[error("no certificate found")]
    NoCertificate,
    /// The bundle holds certificates but no private key; in Key Vault this
    /// means the certificate's key is not exportable.
    #[error("no private key found (is the Key Vault certificate's key exportable?)")]
    NoPrivateKey,
    /// The bundle holds more than one distinct private key.
    #[error("{0} distinct private keys found, expected exactly one")]
    MultiplePrivateKeys(usize),
    /// The private key is structurally invalid or internally inconsistent.
    #[error("private key is invalid: {0}")]
    InvalidPrivateKey(String),
    /// No certificate in the bundle carries the private key's public key.
    #[error("private key does not match any certificate's public key")]
    KeyMismatch,
    /// The key algorithm, curve or size is not supported.
    #[error("unsupported private key: {0}")]
    UnsupportedKey(String),
    /// The requested tls.key encoding does not exist for this key algorithm.
    #[error("key format {format:?} is not available for {algorithm} keys")]
    KeyFormatUnsupported {
        /// The requested encoding.
        format: KeyFormat,
        /// The key's algorithm, e.g. "RSA-2048" or "EC-P256".
        algorithm: String,
    },
    /// The leaf certificate's validity ended before the conversion time.
    #[error("certificate expired at unix time {not_after_unix}")]
    Expired {
        /// The leaf's notAfter as unix seconds.
        not_after_unix: i64,
    },
    /// The leaf certificate's validity starts after the conversion time.
    #[error("certificate is not valid before unix time {not_before_unix}")]
    NotYetValid {
        /// The leaf's notBefore as unix seconds.
        not_before_unix: i64,
    },
    /// The backing secret is larger than any real certificate's (a hostile or broken vault).
    #[error("certificate value is {0} bytes, more than the {max} accepted", max = crate::MAX_INPUT_BYTES)]
    InputTooLarge(usize),
    /// The bundle holds more certificates than any real chain (a hostile or broken vault).
    #[error("{0} certificates found, more than the {max} a chain may hold", max = crate::MAX_CERTIFICATES)]
    TooManyCertificates(usize),
    /// A trust bundle was asked for, but the chain holds no CA certificate: the certificate is
    /// a leaf and the vault has none of its issuers.
    #[error(
        "no CA certificate to put in the trust bundle: the certificate is not a CA and the vault \
         holds none of its issuers (import the certificate with its chain, or name the CA's own \
         certificate)"
    )]
    NoTrustAnchors,
    /// Writing the PKCS#12 keystore output failed.
    #[error("could not build PKCS#12 keystore: {0}")]
    Pkcs12Encode(String),
}

impl TlsError {
    /// A stable CamelCase reason for Kubernetes status conditions and events,
    /// one per variant.
    pub fn reason(&self) -> &'static str {
        match self {
            TlsError::InvalidBase64 => "CertificateEncodingInvalid",
            TlsError::CorruptPkcs12(_) => "CertificateCorrupt",
            TlsError::Pkcs12IterationsRefused => "Pkcs12IterationsTooHigh",
            TlsError::InvalidPem(_) => "PemInvalid",
            TlsError::InvalidCertificate(_) => "CertificateInvalid",
            TlsError::NoCertificate => "CertificateMissing",
            TlsError::NoPrivateKey => "PrivateKeyMissing",
            TlsError::MultiplePrivateKeys(_) => "MultiplePrivateKeys",
            TlsError::InputTooLarge(_) | TlsError::TooManyCertificates(_) => "CertificateTooLarge",
            TlsError::InvalidPrivateKey(_) => "PrivateKeyInvalid",
            TlsError::KeyMismatch => "KeyMismatch",
            TlsError::UnsupportedKey(_) => "KeyAlgorithmUnsupported",
            TlsError::KeyFormatUnsupported { .. } => "KeyFormatUnsupported",
            TlsError::Expired { .. } => "CertificateExpired",
            TlsError::NotYetValid { .. } => "CertificateNotYetValid",
            TlsError::Pkcs12Encode(_) => "Pkcs12EncodeFailed",
            TlsError::NoTrustAnchors => "TrustBundleEmpty",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_camel_case_and_distinct() {
        let all = [
            TlsError::InvalidBase64,
            TlsError::CorruptPkcs12(String::new()),
            TlsError::Pkcs12IterationsRefused,
            TlsError::InvalidPem(String::new()),
            TlsError::InvalidCertificate(String::new()),
            TlsError::NoCertificate,
            TlsError::NoPrivateKey,
            TlsError::MultiplePrivateKeys(2),
            TlsError::InvalidPrivateKey(String::new()),
            TlsError::KeyMismatch,
            TlsError::UnsupportedKey(String::new()),
            TlsError::KeyFormatUnsupported {
                format: KeyFormat::Pkcs1,
                algorithm: "EC-P256".into(),
            },
            TlsError::Expired { not_after_unix: 0 },
            TlsError::NotYetValid { not_before_unix: 0 },
            TlsError::Pkcs12Encode(String::new()),
            TlsError::TooManyCertificates(33),
            TlsError::NoTrustAnchors,
        ];
        let mut seen = std::collections::HashSet::new();
        for e in &all {
            let r = e.reason();
            assert!(r.chars().next().unwrap().is_ascii_uppercase(), "{r}");
            assert!(r.chars().all(|c| c.is_ascii_alphanumeric()), "{r}");
            assert!(seen.insert(r), "duplicate reason {r}");
        }
    }
}
