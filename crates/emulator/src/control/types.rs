//! Public input and error types of the control API.

use crate::store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Metadata for [`Control::set_secret`]. `Default` is enabled, no content type, no tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretOptions {
    /// `contentType` of the version.
    pub content_type: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Whether the version is enabled.
    pub enabled: bool,
    /// Expiry (Unix seconds).
    pub exp: Option<i64>,
    /// Not-before (Unix seconds).
    pub nbf: Option<i64>,
}

impl Default for SecretOptions {
    fn default() -> Self {
        SecretOptions {
            content_type: None,
            tags: BTreeMap::new(),
            enabled: true,
            exp: None,
            nbf: None,
        }
    }
}

/// A certificate to import with [`Control::import_certificate`]: exactly one of `pfx_der` / `pem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateImport {
    /// PKCS#12 bytes.
    pub pfx_der: Option<Vec<u8>>,
    /// PEM text with a PKCS#8 private key and certificates in any order.
    pub pem: Option<String>,
    /// Password of `pfx_der` (empty when `None`).
    pub password: Option<String>,
    /// Backing secret content type (`application/x-pkcs12` or `application/x-pem-file`);
    /// defaults to the upload's format.
    pub content_type: Option<String>,
    /// Whether the private key is exportable (readable through the backing secret).
    pub exportable: bool,
    /// Keep the chain as uploaded instead of leaf first.
    pub preserve_order: bool,
}

impl Default for CertificateImport {
    fn default() -> Self {
        CertificateImport {
            pfx_der: None,
            pem: None,
            password: None,
            content_type: None,
            exportable: true,
            preserve_order: false,
        }
    }
}

/// Why a control operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// No vault of that name was created.
    #[error("vault {0} does not exist")]
    VaultNotFound(String),
    /// No such secret / certificate (or version).
    #[error("{0} not found")]
    NotFound(String),
    /// Input refused, with Key Vault's message.
    #[error("bad parameter: {0}")]
    BadParameter(String),
}

impl From<StoreError> for ControlError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::BadParameter(m) => ControlError::BadParameter(m),
            StoreError::NotFound(_, n) | StoreError::DeletedNotFound(_, n) => {
                ControlError::NotFound(n)
            }
            StoreError::DeletedButRecoverable(kind, n) => ControlError::BadParameter(format!(
                "{} {n} is in the deleted state; recover or purge it first",
                kind.title()
            )),
            StoreError::SecretDisabled => ControlError::BadParameter("disabled".into()),
        }
    }
}
