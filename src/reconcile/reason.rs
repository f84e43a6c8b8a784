//! Condition reasons: the vocabulary of `status.conditions[].reason` and Event reasons. The README's
//! reason reference explains each one and what to do about it.

/// The Secret holds the vault's current data.
pub const SYNCED: &str = "Synced";
/// The spec cannot be satisfied as written (for example two sources produce the same key).
pub const INVALID_SPEC: &str = "InvalidSpec";
/// The vault URL's host is not under a suffix the operator allows; no connection was made.
pub const VAULT_HOST_NOT_ALLOWED: &str = "VaultHostNotAllowed";
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
/// The vault answered with more than any real vault sends (a body over 4 MiB, a listing past
/// its page or item limit); the answer is refused.
pub const VAULT_RESPONSE_TOO_LARGE: &str = "VaultResponseTooLarge";
/// The vault rejected the request as malformed.
pub const VAULT_REQUEST_INVALID: &str = "VaultRequestInvalid";
/// A named vault key or version does not exist.
pub const KEY_NOT_FOUND: &str = "KeyNotFound";
/// A named vault key is disabled.
pub const KEY_DISABLED: &str = "KeyDisabled";
/// A vault key has no public part to publish (a symmetric `oct` key) or an unknown curve.
pub const KEY_TYPE_UNSUPPORTED: &str = "KeyTypeUnsupported";
/// A template is malformed (the message names the template, line and column); fix the spec.
pub const TEMPLATE_INVALID: &str = "TemplateInvalid";
/// A template could not be rendered from the values read: it names a source that is not
/// there, or a filter could not take a value (the message names the template, line and column,
/// never the value). The Secret keeps its last data.
pub const TEMPLATE_FAILED: &str = "TemplateFailed";
/// A vault value is not in the encoding its item's `decoding` names. The Secret keeps its last
/// data.
pub const DECODING_FAILED: &str = "DecodingFailed";
/// The Secret would lack a key its type requires (for example `username` or `password` for
/// `kubernetes.io/basic-auth`). The Secret keeps its last data.
pub const SECRET_TYPE_KEYS_MISSING: &str = "SecretTypeKeysMissing";
/// A Secret of the target name exists and vaultsync may not take it over.
pub const OWNERSHIP_CONFLICT: &str = "OwnershipConflict";
/// Event: keys were removed because their vault secrets were deleted or disabled
/// (`onVaultRemoval: Remove`).
pub const VAULT_SECRET_REMOVED: &str = "VaultSecretRemoved";
/// The Secret would exceed the 1 MiB of data Kubernetes accepts.
pub const SECRET_TOO_LARGE: &str = "SecretTooLarge";
/// Writing the Secret to the API server failed.
pub const APPLY_FAILED: &str = "ApplyFailed";
/// Reading from the API server failed.
pub const KUBERNETES_ERROR: &str = "KubernetesError";
/// A named vault certificate or version does not exist.
pub const CERTIFICATE_NOT_FOUND: &str = "CertificateNotFound";
/// The vault certificate is disabled.
pub const CERTIFICATE_DISABLED: &str = "CertificateDisabled";
/// The certificate's backing secret is neither PKCS#12 nor PEM.
pub const CERTIFICATE_FORMAT_UNSUPPORTED: &str = "CertificateFormatUnsupported";
/// Converting the certificate's key and chain took too long; the certificate is refused.
pub const CERTIFICATE_CONVERSION_TIMED_OUT: &str = "CertificateConversionTimedOut";
/// The Secret holding the PKCS#12 keystore password is missing or lacks the key.
pub const KEYSTORE_PASSWORD_UNAVAILABLE: &str = "KeystorePasswordUnavailable";
/// Condition type: the certificate's notAfter is within `renewBefore`.
pub const EXPIRING_SOON: &str = "ExpiringSoon";
/// Reason of a True ExpiringSoon condition (and its Warning Event).
pub const CERTIFICATE_EXPIRING_SOON: &str = "CertificateExpiringSoon";
/// Reason of a False ExpiringSoon condition.
pub const CERTIFICATE_VALID: &str = "CertificateValid";
/// Event: a new certificate replaced one that was expiring soon.
pub const CERTIFICATE_RENEWED: &str = "CertificateRenewed";
/// Condition type: the chain from the leaf links up to a self-signed root.
pub const CHAIN_VALID: &str = "ChainValid";
/// Reason of a True ChainValid condition.
pub const CHAIN_COMPLETE: &str = "ChainComplete";
/// `RefreshOnSchedule` False: refreshing every resource of the vault would take more requests
/// than its budget allows; refreshes stretch.
pub const VAULT_BUDGET_EXCEEDED: &str = "VaultBudgetExceeded";
/// `RefreshOnSchedule` True again: the demand fits the budget.
pub const WITHIN_BUDGET: &str = "WithinBudget";
