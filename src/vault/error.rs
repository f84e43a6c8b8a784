use std::time::Duration;

/// Classified vault failures. Messages carry names, codes and statuses, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// The object (or version) does not exist.
    #[error("{object} was not found in the vault")]
    NotFound {
        /// What was asked for.
        object: String,
    },
    /// The object exists but is disabled.
    #[error("{object} is disabled in the vault")]
    Disabled {
        /// What was asked for.
        object: String,
    },
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
    /// The vault or the network failed (5xx, connection refused, timeout, TLS).
    #[error("the vault is unavailable: {detail}")]
    Unavailable {
        /// What went wrong.
        detail: String,
    },
    /// The request itself was invalid (bad name, bad version, malformed URL).
    #[error("the vault rejected the request: {detail}")]
    Invalid {
        /// What was wrong.
        detail: String,
    },
}

impl VaultError {
    /// Whether retrying later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            VaultError::Throttled { .. } | VaultError::Unavailable { .. }
        )
    }
}
