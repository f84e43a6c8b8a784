use std::time::Duration;

/// Classified vault failures. Messages carry codes, statuses and hosts, never values; the step
/// that failed names the object (see `reconcile::SyncError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// The object (or version) does not exist.
    #[error("not found in the vault")]
    NotFound,
    /// The object exists but is disabled.
    #[error("disabled in the vault")]
    Disabled,
    /// The identity has no role allowing this operation on the vault.
    #[error("the identity is not authorized for this vault: {detail}")]
    Forbidden {
        /// Service error code and message (no values).
        detail: String,
    },
    /// Entra refused the token exchange, or the vault refused the token.
    #[error("authentication failed: {detail}")]
    Authentication {
        /// The AADSTS code or service message.
        detail: String,
    },
    /// The vault throttled the caller.
    #[error("the vault throttled the request (retry after {retry_after:?})")]
    Throttled {
        /// The service's Retry-After hint, when present.
        retry_after: Option<Duration>,
    },
    /// This operator's own request budget for the vault is spent for now: no request was sent.
    /// Not the vault's doing, so the caller waits quietly rather than reporting a failure.
    #[error("this operator's request budget for the vault is spent (retry after {retry_after:?})")]
    OverBudget {
        /// When the budget allows a request again.
        retry_after: Duration,
    },
    /// The vault or the network failed (5xx, connection refused, timeout, TLS).
    #[error("the vault is unavailable: {detail}")]
    Unavailable {
        /// What went wrong.
        detail: String,
    },
    /// The vault's answer is larger than any real one (a hostile or broken vault).
    #[error("{detail}")]
    TooLarge {
        /// What was too large.
        detail: String,
    },
    /// The request itself was invalid (bad name, bad version, malformed URL).
    #[error("the vault rejected the request: {detail}")]
    Invalid {
        /// What was wrong.
        detail: String,
    },
}

/// The class of a [`VaultError`], without its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultErrorKind {
    /// See [`VaultError::NotFound`].
    NotFound,
    /// See [`VaultError::Disabled`].
    Disabled,
    /// See [`VaultError::Forbidden`].
    Forbidden,
    /// See [`VaultError::Authentication`].
    Authentication,
    /// See [`VaultError::Throttled`].
    Throttled,
    /// See [`VaultError::OverBudget`].
    OverBudget,
    /// See [`VaultError::Unavailable`].
    Unavailable,
    /// See [`VaultError::Invalid`].
    Invalid,
    /// See [`VaultError::TooLarge`].
    TooLarge,
}

impl VaultError {
    /// The class of this failure.
    pub fn kind(&self) -> VaultErrorKind {
        match self {
            VaultError::NotFound => VaultErrorKind::NotFound,
            VaultError::Disabled => VaultErrorKind::Disabled,
            VaultError::Forbidden { .. } => VaultErrorKind::Forbidden,
            VaultError::Authentication { .. } => VaultErrorKind::Authentication,
            VaultError::Throttled { .. } => VaultErrorKind::Throttled,
            VaultError::OverBudget { .. } => VaultErrorKind::OverBudget,
            VaultError::Unavailable { .. } => VaultErrorKind::Unavailable,
            VaultError::Invalid { .. } => VaultErrorKind::Invalid,
            VaultError::TooLarge { .. } => VaultErrorKind::TooLarge,
        }
    }
}

impl VaultErrorKind {
    /// The label of this class in metrics and the audit log.
    pub fn label(self) -> &'static str {
        match self {
            VaultErrorKind::NotFound => "not_found",
            VaultErrorKind::Disabled => "disabled",
            VaultErrorKind::Forbidden => "forbidden",
            VaultErrorKind::Authentication => "authentication_failed",
            VaultErrorKind::Throttled => "throttled",
            VaultErrorKind::OverBudget => "over_budget",
            VaultErrorKind::Unavailable => "unavailable",
            VaultErrorKind::Invalid => "invalid",
            VaultErrorKind::TooLarge => "too_large",
        }
    }
}
