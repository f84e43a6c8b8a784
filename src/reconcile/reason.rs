//! Condition reasons: the vocabulary of `status.conditions[].reason` and Event reasons. The README's
//! reason reference explains each one and what to do about it.

/// The Secret holds the vault's current data.
pub const SYNCED: &str = "Synced";
/// The spec cannot be satisfied as written (for example two sources produce the same key).
pub const INVALID_SPEC: &str = "InvalidSpec";
/// The named ServiceAccount does not exist in the resource's namespace.
pub const SERVICE_ACCOUNT_NOT_FOUND: &str = "ServiceAccountNotFound";
/// The ServiceAccount lacks the `azure.workload.identity/client-id` annotation.
pub const IDENTITY_ANNOTATION_MISSING: &str = "IdentityAnnotationMissing";
/// Entra refused the token exchange (federated credential mismatch, unknown client, ...).
pub const TOKEN_EXCHANGE_FAILED: &str = "TokenExchangeFailed";
/// The identity has no role on the vault for this operation.
pub const FORBIDDEN: &str = "Forbidden";
/// A named vault secret or version does not exist.
pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
/// A named vault secret is disabled.
pub const SECRET_DISABLED: &str = "SecretDisabled";
/// The vault throttled vaultsync; it backs off and retries.
pub const THROTTLED: &str = "Throttled";
/// The vault or the network failed; vaultsync retries with backoff.
pub const VAULT_UNAVAILABLE: &str = "VaultUnavailable";
/// The vault rejected the request as malformed.
pub const VAULT_REQUEST_INVALID: &str = "VaultRequestInvalid";
/// A Secret of the target name exists and vaultsync may not take it over.
pub const OWNERSHIP_CONFLICT: &str = "OwnershipConflict";
/// Writing the Secret to the API server failed.
pub const APPLY_FAILED: &str = "ApplyFailed";
/// Reading from the API server failed.
pub const KUBERNETES_ERROR: &str = "KubernetesError";
