//! Inputs that steer a conversion: what the backing secret is and what the
//! TLS Secret should contain.

use std::fmt;

/// Encoding of a Key Vault certificate's backing secret, from its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackingFormat {
    /// `application/x-pkcs12`: base64 of a PFX with an empty password.
    Pkcs12,
    /// `application/x-pem-file`: PEM text with a PKCS#8 key and certificates.
    Pem,
}

impl BackingFormat {
    /// Maps a Key Vault secret content type to its format; `None` for
    /// anything else (such a secret is not a certificate's backing secret).
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        // Media types are case-insensitive and may carry parameters.
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/x-pkcs12") {
            Some(Self::Pkcs12)
        } else if essence.eq_ignore_ascii_case("application/x-pem-file") {
            Some(Self::Pem)
        } else {
            None
        }
    }
}

/// Encoding of the private key written to `tls.key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyFormat {
    /// PKCS#8 `PRIVATE KEY`, valid for every algorithm.
    #[default]
    Pkcs8,
    /// PKCS#1 `RSA PRIVATE KEY`, RSA keys only.
    Pkcs1,
    /// SEC1 `EC PRIVATE KEY`, EC keys only.
    Sec1,
}

/// What goes into `ca.crt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CaSource {
    /// The intermediates (issuer-first, as in `tls.crt` after the leaf)
    /// followed by the self-signed root when the bundle has it.
    #[default]
    Chain,
    /// Only the self-signed root; no `ca.crt` (and a warning) without one.
    Root,
}

/// How to convert; see [`crate::convert`].
#[derive(Clone, PartialEq, Eq)]
pub struct ConvertOptions {
    /// Encoding of `tls.key`.
    pub key_format: KeyFormat,
    /// Content of `ca.crt`.
    pub ca: CaSource,
    /// When set, also build a PKCS#12 keystore protected by this password
    /// (which may be empty).
    pub pkcs12_password: Option<String>,
    /// When set, also collect the chain's CA certificates as a trust bundle.
    pub trust_bundle: Option<TrustBundleOptions>,
    /// The time (unix seconds) at which the leaf must be valid; passed in so
    /// conversion stays pure and testable.
    pub now_unix: i64,
}

impl ConvertOptions {
    /// PKCS#8 key, full CA chain, no keystore, validity checked at `now_unix`.
    pub fn new(now_unix: i64) -> Self {
        Self {
            key_format: KeyFormat::default(),
            ca: CaSource::default(),
            pkcs12_password: None,
            trust_bundle: None,
            now_unix,
        }
    }
}

// The keystore password is a secret: Debug shows only whether it is set.
impl fmt::Debug for ConvertOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvertOptions")
            .field("key_format", &self.key_format)
            .field("ca", &self.ca)
            .field(
                "pkcs12_password",
                &self.pkcs12_password.as_ref().map(|_| "<redacted>"),
            )
            .field("trust_bundle", &self.trust_bundle)
            .field("now_unix", &self.now_unix)
            .finish()
    }
}

/// How to build a trust bundle.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustBundleOptions {
    /// When set, also write a PKCS#12 truststore protected by this password (which may be
    /// empty).
    pub truststore_password: Option<String>,
}

// The truststore password is a secret too.
impl fmt::Debug for TrustBundleOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustBundleOptions")
            .field(
                "truststore_password",
                &self.truststore_password.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            BackingFormat::from_content_type("application/x-pkcs12"),
            Some(BackingFormat::Pkcs12)
        );
        assert_eq!(
            BackingFormat::from_content_type(" Application/X-PEM-File; charset=utf-8"),
            Some(BackingFormat::Pem)
        );
        assert_eq!(BackingFormat::from_content_type("text/plain"), None);
        assert_eq!(BackingFormat::from_content_type(""), None);
    }

    #[test]
    fn debug_hides_password() {
        let mut o = ConvertOptions::new(0);
        o.pkcs12_password = Some("hunter2".into());
        let s = format!("{o:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("redacted"));
    }
}
