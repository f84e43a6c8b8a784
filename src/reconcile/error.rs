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
            SyncError::Vault(e) => match e {
                VaultError::NotFound { .. } => reason::SECRET_NOT_FOUND,
                VaultError::Disabled { .. } => reason::SECRET_DISABLED,
                VaultError::Forbidden { .. } => reason::FORBIDDEN,
                VaultError::Authentication { .. } => reason::TOKEN_EXCHANGE_FAILED,
                VaultError::Throttled { .. } => reason::THROTTLED,
                VaultError::Unavailable { .. } => reason::VAULT_UNAVAILABLE,
                VaultError::Invalid { .. } => reason::VAULT_REQUEST_INVALID,
            },
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
            }) => Retry::After(*after),
            _ => Retry::Backoff,
        }
    }
}
