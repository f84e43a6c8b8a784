//! Types shared by the store and its input checks.

use std::collections::BTreeMap;

/// Why a store operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreError {
    /// 400 BadParameter with this message.
    BadParameter(String),
    /// 404 for a secret / certificate (name as asked).
    SecretNotFound(String),
    CertificateNotFound(String),
    /// 403 on a disabled secret version.
    SecretDisabled,
}

/// Attributes and metadata a caller may set on a secret version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SecretMeta {
    pub content_type: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub enabled: bool,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}
