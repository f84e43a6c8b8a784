//! What can stop one reconcile: one variant per step, each naming what was being done and to
//! which object, and each deriving its condition reason and its retry rule.

use std::time::Duration;

use crate::desired::decoding::DecodeError;
use crate::desired::public_key::PublicKeyError;
use crate::desired::shape::ShapeError;
use crate::vault::{VaultError, VaultErrorKind};

use super::reason;

/// Everything that can stop one reconcile, by the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The spec cannot be satisfied as written.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// Reading the ServiceAccount named in the spec failed.
    #[error("failed to read ServiceAccount {namespace}/{name}: {source}")]
    ReadServiceAccount {
        /// Namespace of the ServiceAccount.
        namespace: String,
        /// Its name.
        name: String,
        /// The API server's answer.
        #[source]
        source: kube::Error,
    },
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
    /// The vault's host is not under an allowed suffix; nothing was contacted.
    #[error("{0}")]
    VaultHostNotAllowed(String),
    /// Reading the target Secret (to check who owns it) failed.
    #[error("failed to read Secret {name}: {source}")]
    ReadTargetSecret {
        /// The target Secret's name.
        name: String,
        /// The API server's answer.
        #[source]
        source: kube::Error,
    },
    /// A Secret of that name exists and may not be taken over.
    #[error("{0}")]
    OwnershipConflict(String),
    /// The target was created by someone else between the guard's look and vaultsync's create.
    #[error(
        "{kind} {name} appeared while vaultsync was creating it; it is left as it is and \
         checked again at the next reconcile"
    )]
    TargetAppeared {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// Listing the vault's secrets failed.
    #[error("failed to list the vault's secrets: {0}")]
    ListSecrets(#[source] VaultError),
    /// Listing the vault's keys (change detection for `spec.keys`) failed.
    #[error("failed to list the vault's keys: {0}")]
    ListKeys(#[source] VaultError),
    /// Reading one vault secret failed.
    #[error("failed to read vault secret {name}: {source}")]
    ReadSecret {
        /// The vault secret's name.
        name: String,
        /// The classified vault failure.
        #[source]
        source: VaultError,
    },
    /// Reading a vault key's public part failed.
    #[error("failed to read vault key {name}: {source}")]
    ReadKey {
        /// The vault key's name.
        name: String,
        /// The classified vault failure.
        #[source]
        source: VaultError,
    },
    /// A vault key's public part cannot be written as PEM or JWK.
    #[error("vault key {name} cannot be written: {source}")]
    KeyFormat {
        /// The vault key's name.
        name: String,
        /// Why.
        #[source]
        source: PublicKeyError,
    },
    /// A value read from the vault is not in the encoding its source's `decoding` names.
    #[error("failed to decode vault secret {name} for key {key}: {source}")]
    Decode {
        /// The source key.
        key: String,
        /// The vault secret's name.
        name: String,
        /// What was expected (never the value).
        #[source]
        source: DecodeError,
    },
    /// The values read could not be shaped into the Secret (template, typed Secret).
    #[error("failed to build the Secret's data: {0}")]
    Shape(#[from] ShapeError),
    /// Reading a certificate's metadata failed.
    #[error("failed to read vault certificate {name}: {source}")]
    ReadCertificate {
        /// The vault certificate's name.
        name: String,
        /// The classified vault failure.
        #[source]
        source: VaultError,
    },
    /// Reading a certificate's key and chain (its backing secret) failed.
    #[error("failed to read the key and chain of vault certificate {name}: {source}")]
    ReadCertificateKey {
        /// The vault certificate's name.
        name: String,
        /// The classified vault failure.
        #[source]
        source: VaultError,
    },
    /// The backing secret is not a certificate's (unexpected content type or not text).
    #[error(
        "the certificate's backing secret has content type {0:?}, expected application/x-pkcs12 or application/x-pem-file"
    )]
    CertificateFormat(Option<String>),
    /// The certificate's key and chain could not be turned into a TLS Secret.
    #[error("the vault certificate cannot be used: {0}")]
    Certificate(#[from] vaultsync_tls::TlsError),
    /// Converting the key and chain took too long (a hostile or broken certificate).
    #[error(
        "converting the certificate took longer than {}s; the certificate is refused",
        .0.as_secs()
    )]
    ConversionTimedOut(Duration),
    /// Reading the Secret holding the keystore password failed.
    #[error("failed to read keystore password Secret {name}: {source}")]
    ReadKeystorePassword {
        /// The password Secret's name.
        name: String,
        /// The API server's answer.
        #[source]
        source: kube::Error,
    },
    /// The keystore password Secret is missing or unusable.
    #[error("keystore password unavailable: {0}")]
    KeystorePassword(String),
    /// The Secret would hold more data than the API server accepts.
    #[error(
        "Secret {name} would hold {bytes} bytes of data, more than the 1 MiB Kubernetes accepts; \
         select fewer or smaller vault secrets"
    )]
    SecretTooLarge {
        /// The target Secret's name.
        name: String,
        /// Its data size.
        bytes: usize,
    },
    /// Writing the target Secret failed.
    #[error("failed to {action} {name}: {source}")]
    ApplySecret {
        /// The target Secret's name.
        name: String,
        /// Which write: apply, replace without foreign keys, adopt.
        action: &'static str,
        /// The API server's answer.
        #[source]
        source: kube::Error,
    },
    /// The sync did not finish within the reconcile deadline (a slow or stalling vault).
    #[error(
        "the sync did not finish within {}s; the vault or the network is too slow",
        .0.as_secs()
    )]
    DeadlineExceeded(Duration),
    /// Writing the resource's status failed.
    #[error("failed to write the status: {0}")]
    WriteStatus(#[source] kube::Error),
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
            SyncError::VaultHostNotAllowed(_) => reason::VAULT_HOST_NOT_ALLOWED,
            SyncError::ServiceAccountNotFound { .. } => reason::SERVICE_ACCOUNT_NOT_FOUND,
            SyncError::IdentityAnnotationMissing { .. } => reason::IDENTITY_ANNOTATION_MISSING,
            SyncError::ReadServiceAccount { .. }
            | SyncError::ReadTargetSecret { .. }
            | SyncError::ReadKeystorePassword { .. }
            | SyncError::WriteStatus(_) => reason::KUBERNETES_ERROR,
            SyncError::OwnershipConflict(_) | SyncError::TargetAppeared { .. } => {
                reason::OWNERSHIP_CONFLICT
            }
            SyncError::ListSecrets(e)
            | SyncError::ListKeys(e)
            | SyncError::ReadSecret { source: e, .. } => vault_reason(e.kind()),
            SyncError::ReadCertificate { source: e, .. }
            | SyncError::ReadCertificateKey { source: e, .. } => match e.kind() {
                VaultErrorKind::NotFound => reason::CERTIFICATE_NOT_FOUND,
                VaultErrorKind::Disabled => reason::CERTIFICATE_DISABLED,
                other => vault_reason(other),
            },
            SyncError::ReadKey { source: e, .. } => match e.kind() {
                VaultErrorKind::NotFound => reason::KEY_NOT_FOUND,
                VaultErrorKind::Disabled => reason::KEY_DISABLED,
                other => vault_reason(other),
            },
            SyncError::KeyFormat { .. } => reason::KEY_TYPE_UNSUPPORTED,
            SyncError::Decode { .. } => reason::DECODING_FAILED,
            SyncError::Shape(ShapeError::Template(e)) if e.problem.is_syntax() => {
                reason::TEMPLATE_INVALID
            }
            SyncError::Shape(ShapeError::Template(_) | ShapeError::NotText { .. }) => {
                reason::TEMPLATE_FAILED
            }
            SyncError::Shape(ShapeError::MissingKeys { .. }) => reason::SECRET_TYPE_KEYS_MISSING,
            SyncError::CertificateFormat(_) => reason::CERTIFICATE_FORMAT_UNSUPPORTED,
            SyncError::Certificate(e) => e.reason(),
            SyncError::ConversionTimedOut(_) => reason::CERTIFICATE_CONVERSION_TIMED_OUT,
            SyncError::KeystorePassword(_) => reason::KEYSTORE_PASSWORD_UNAVAILABLE,
            SyncError::ApplySecret { .. } => reason::APPLY_FAILED,
            SyncError::SecretTooLarge { .. } => reason::SECRET_TOO_LARGE,
            SyncError::DeadlineExceeded(_) => reason::VAULT_UNAVAILABLE,
        }
    }

    /// How to retry.
    pub fn retry(&self) -> Retry {
        match self {
            SyncError::InvalidSpec(_) | SyncError::VaultHostNotAllowed(_) => Retry::WaitForChange,
            SyncError::Shape(e) if e.is_spec_error() => Retry::WaitForChange,
            _ => match self.vault_error() {
                Some(VaultError::Throttled {
                    retry_after: Some(after),
                })
                | Some(VaultError::OverBudget { retry_after: after }) => Retry::After(*after),
                _ => Retry::Backoff,
            },
        }
    }

    /// How long to wait when the sync stopped only because this operator's own request budget
    /// for the vault was spent: nothing failed, so the caller requeues without reporting.
    pub fn budget_wait(&self) -> Option<Duration> {
        match self.vault_error() {
            Some(VaultError::OverBudget { retry_after }) => Some(*retry_after),
            _ => None,
        }
    }

    fn vault_error(&self) -> Option<&VaultError> {
        match self {
            SyncError::ListSecrets(e)
            | SyncError::ListKeys(e)
            | SyncError::ReadSecret { source: e, .. }
            | SyncError::ReadKey { source: e, .. }
            | SyncError::ReadCertificate { source: e, .. }
            | SyncError::ReadCertificateKey { source: e, .. } => Some(e),
            _ => None,
        }
    }
}

/// The condition reason of a vault failure outside certificates.
fn vault_reason(kind: VaultErrorKind) -> &'static str {
    match kind {
        VaultErrorKind::NotFound => reason::SECRET_NOT_FOUND,
        VaultErrorKind::Disabled => reason::SECRET_DISABLED,
        VaultErrorKind::Forbidden => reason::FORBIDDEN,
        VaultErrorKind::Authentication => reason::TOKEN_EXCHANGE_FAILED,
        VaultErrorKind::Throttled => reason::THROTTLED,
        VaultErrorKind::OverBudget => reason::VAULT_BUDGET_EXCEEDED,
        VaultErrorKind::Unavailable => reason::VAULT_UNAVAILABLE,
        VaultErrorKind::Invalid => reason::VAULT_REQUEST_INVALID,
        VaultErrorKind::TooLarge => reason::VAULT_RESPONSE_TOO_LARGE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_names_its_object_and_derives_its_reason() {
        let secret = SyncError::ReadSecret {
            name: "db".into(),
            source: VaultError::NotFound,
        };
        assert_eq!(secret.reason(), reason::SECRET_NOT_FOUND);
        assert!(
            secret
                .to_string()
                .starts_with("failed to read vault secret db: ")
        );
        let certificate = SyncError::ReadCertificate {
            name: "web".into(),
            source: VaultError::NotFound,
        };
        assert_eq!(certificate.reason(), reason::CERTIFICATE_NOT_FOUND);
        let key = SyncError::ReadCertificateKey {
            name: "web".into(),
            source: VaultError::Disabled,
        };
        assert_eq!(key.reason(), reason::CERTIFICATE_DISABLED);
        let listing = SyncError::ListSecrets(VaultError::Forbidden {
            detail: "HTTP 403 Forbidden".into(),
        });
        assert_eq!(listing.reason(), reason::FORBIDDEN);
    }

    #[test]
    fn throttling_waits_for_the_vaults_hint_and_spec_errors_for_an_edit() {
        let throttled = SyncError::ReadCertificate {
            name: "web".into(),
            source: VaultError::Throttled {
                retry_after: Some(Duration::from_secs(7)),
            },
        };
        assert_eq!(throttled.retry(), Retry::After(Duration::from_secs(7)));
        let unhinted = SyncError::ListSecrets(VaultError::Throttled { retry_after: None });
        assert_eq!(unhinted.retry(), Retry::Backoff);
        assert_eq!(
            SyncError::InvalidSpec("x".into()).retry(),
            Retry::WaitForChange
        );
    }

    #[test]
    fn only_our_own_spent_budget_is_a_quiet_wait() {
        let spent = SyncError::ReadSecret {
            name: "db".into(),
            source: VaultError::OverBudget {
                retry_after: Duration::from_secs(3),
            },
        };
        assert_eq!(spent.budget_wait(), Some(Duration::from_secs(3)));
        let vault_said = SyncError::ReadSecret {
            name: "db".into(),
            source: VaultError::Throttled {
                retry_after: Some(Duration::from_secs(3)),
            },
        };
        assert_eq!(vault_said.budget_wait(), None);
        assert_eq!(vault_said.reason(), reason::THROTTLED);
        assert_eq!(SyncError::InvalidSpec("x".into()).budget_wait(), None);
    }
}
