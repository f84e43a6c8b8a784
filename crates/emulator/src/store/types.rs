//! Types shared by the store and its input checks.

use std::collections::BTreeMap;

/// The kinds of vault object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Secret,
    Certificate,
    Key,
}

impl Kind {
    /// Capitalised name, as in error codes (`SecretNotFound`) and messages.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Secret => "Secret",
            Kind::Certificate => "Certificate",
            Kind::Key => "Key",
        }
    }

    /// Lowercase name, as in messages ("A secret with ...").
    pub fn lower(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::Certificate => "certificate",
            Kind::Key => "key",
        }
    }
}

/// Why a store operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreError {
    /// 400 BadParameter with this message.
    BadParameter(String),
    /// 404: no live object (or version) of that name, as asked.
    NotFound(Kind, String),
    /// 404: no object of that name in the deleted state.
    DeletedNotFound(Kind, String),
    /// 409: the name is held by an object in the deleted state.
    DeletedButRecoverable(Kind, String),
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
