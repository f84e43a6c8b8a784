//! The vault seam: everything the operator needs from a secret store, in neutral types with
//! classified errors. Azure SDK types stay inside [`azure`]; the reconcilers see only this module.

pub mod azure;
mod error;
#[cfg(test)]
pub(crate) mod fake;
pub mod host;
mod secret_value;
pub mod shared;

use std::collections::BTreeMap;

pub use error::{VaultError, VaultErrorKind};
pub use secret_value::SecretValue;

/// Who reads the vault: the workload identity of one ServiceAccount.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    /// Namespace of the ServiceAccount (tokens are only ever minted in the resource's namespace).
    pub namespace: String,
    /// The ServiceAccount's name.
    pub service_account: String,
    /// Entra application (client) id from `azure.workload.identity/client-id`.
    pub client_id: String,
    /// Entra tenant id.
    pub tenant_id: String,
}

/// One identity reading one vault: the unit of client and credential caching.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VaultAccess {
    /// Base URL of the vault, normalised with a trailing slash.
    pub vault_url: String,
    /// The reader.
    pub identity: Identity,
}

/// Metadata of a secret as listed (no value): enough for cheap change detection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretProperties {
    /// Name as stored in the vault.
    pub name: String,
    /// Whether the latest version is enabled.
    pub enabled: bool,
    /// Last update of the latest version (Unix seconds, 1-second resolution).
    pub updated: Option<i64>,
    /// Tags of the latest version.
    pub tags: BTreeMap<String, String>,
    /// Content type, if set.
    pub content_type: Option<String>,
    /// True for the secret behind a certificate.
    pub managed: bool,
}

/// A secret version with its value.
#[derive(Clone, Debug)]
pub struct SecretBundle {
    /// Name of the secret.
    pub name: String,
    /// The version read (32 hex characters).
    pub version: String,
    /// The value; redacted in every Debug or Display.
    pub value: SecretValue,
    /// Content type, if set.
    pub content_type: Option<String>,
    /// Last update (Unix seconds).
    pub updated: Option<i64>,
    /// Expiry (Unix seconds), if set.
    pub expires: Option<i64>,
    /// Not-before (Unix seconds), if set.
    pub not_before: Option<i64>,
}

/// A certificate's metadata and where its private key lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateBundle {
    /// Name of the certificate.
    pub name: String,
    /// The version read.
    pub version: String,
    /// Name of the backing secret (same as the certificate for Key Vault).
    pub secret_name: String,
    /// Version of the backing secret holding key and chain.
    pub secret_version: String,
    /// Whether the certificate is enabled.
    pub enabled: bool,
    /// Last update (Unix seconds).
    pub updated: Option<i64>,
}

/// Reads from a vault as a given identity. Implementations classify every failure into
/// [`VaultError`] and never put secret values into errors or logs.
#[async_trait::async_trait]
pub trait VaultProvider: Send + Sync + 'static {
    /// Lists the properties of every secret in the vault (all pages).
    async fn list_secrets(&self, access: &VaultAccess)
    -> Result<Vec<SecretProperties>, VaultError>;

    /// Reads a secret's latest version, or the given one.
    async fn get_secret(
        &self,
        access: &VaultAccess,
        name: &str,
        version: Option<&str>,
    ) -> Result<SecretBundle, VaultError>;

    /// Reads a certificate's latest version, or the given one.
    async fn get_certificate(
        &self,
        access: &VaultAccess,
        name: &str,
        version: Option<&str>,
    ) -> Result<CertificateBundle, VaultError>;
}
