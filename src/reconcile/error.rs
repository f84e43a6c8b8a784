use std::time::Duration;

use crate::vault::VaultError;

use super::reason;

/// Everything that can stop one reconcile, each mapped to a condition reason and a retry class.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The spec cannot be satisfied as written.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// The ServiceAccount named in the spec does not exist.
    #[error("ServiceAccount {namespace}/{name} not found")]
    ServiceAccountNotFound {
        /// Namespace searched.
        namespace: String,
        /// Name searched.
        name: String,
    },
    /// The ServiceAccount lacks the client-id annotation (or no tenant is known).
    #[error("ServiceAccount {namespace}/{name} {problem}")]
    IdentityAnnotationMissing {
        /// Namespace of the ServiceAccount.
        namespace: String,
        /// Its name.
        name: String,
        /// What is missing.
        problem: String,
    },
    /// A vault operation failed.
    #[error("failed to read the vault: {0}")]
    Vault(#[from] VaultError),
    /// Reading a certificate or its backing secret failed.
    #[error("failed to read the certificate from the vault: {0}")]
    CertificateRead(VaultError),
    /// The certificate's key and chain could not be turned into a TLS Secret.
    #[error("the vault certificate cannot be used: {0}")]
    Certificate(#[from] vaultsync_tls::TlsError),
    /// The backing secret is not a certificate's (unexpected content type or not text).
    #[error(
        "the certificate's backing secret has content type {0:?}, expected application/x-pkcs12 or application/x-pem-file"
    )]
    CertificateFormat(Option<String>),
    /// The PKCS#12 keystore password could not be read.
    #[error("keystore password unavailable: {0}")]
    KeystorePassword(String),
    /// A Secret of that name exists and may not be taken over.
    #[error("{0}")]
    OwnershipConflict(String),
    /// Reading or writing Kubernetes objects failed.
    #[error("failed to {action}: {source}")]
    Kubernetes {
        /// What was being done.
        action: &'static str,
        /// The cause.
        #[source]
        source: kube::Error,
    },
}

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Retry with the object's exponential backoff.
    Backoff,
    /// Retry no earlier than this (the vault's Retry-After).
    After(Duration),
    /// Nothing will change until the spec does; wait for an edit (with a slow safety recheck).
    WaitForChange,
}

impl SyncError {
    /// The condition and Event reason.
    pub fn reason(&self) -> &'static str {
        match self {
            SyncError::InvalidSpec(_) => reason::INVALID_SPEC,
            SyncError::ServiceAccountNotFound { .. } => reason::SERVICE_ACCOUNT_NOT_FOUND,
            SyncError::IdentityAnnotationMissing { .. } => reason::IDENTITY_ANNOTATION_MISSING,
            SyncError::Vault(e) => vault_reason(e),
            SyncError::CertificateRead(VaultError::NotFound { .. }) => {
                reason::CERTIFICATE_NOT_FOUND
            }
            SyncError::CertificateRead(VaultError::Disabled { .. }) => reason::CERTIFICATE_DISABLED,
            SyncError::CertificateRead(e) => vault_reason(e),
            SyncError::Certificate(e) => e.reason(),
            SyncError::CertificateFormat(_) => reason::CERTIFICATE_FORMAT_UNSUPPORTED,
            SyncError::KeystorePassword(_) => reason::KEYSTORE_PASSWORD_UNAVAILABLE,
            SyncError::OwnershipConflict(_) => reason::OWNERSHIP_CONFLICT,
            SyncError::Kubernetes { action, .. } if action.starts_with("apply") => {
                reason::APPLY_FAILED
            }
            SyncError::Kubernetes { .. } => reason::KUBERNETES_ERROR,
        }
    }

    /// How to retry.
    pub fn retry(&self) -> Retry {
        match self {
            SyncError::InvalidSpec(_) => Retry::WaitForChange,
            SyncError::Vault(VaultError::Throttled {
                retry_after: Some(after),
            })
            | SyncError::CertificateRead(VaultError::Throttled {
                retry_after: Some(after),
            }) => Retry::After(*after),
            _ => Retry::Backoff,
        }
    }
}

fn vault_reason(error: &VaultError) -> &'static str {
    match error {
        VaultError::NotFound { .. } => reason::SECRET_NOT_FOUND,
        VaultError::Disabled { .. } => reason::SECRET_DISABLED,
        VaultError::Forbidden { .. } => reason::FORBIDDEN,
        VaultError::Authentication { .. } => reason::TOKEN_EXCHANGE_FAILED,
        VaultError::Throttled { .. } => reason::THROTTLED,
        VaultError::Unavailable { .. } => reason::VAULT_UNAVAILABLE,
        VaultError::Invalid { .. } => reason::VAULT_REQUEST_INVALID,
    }
}
