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

/// Objects per page of a Key Vault listing (the service's largest `maxresults`): a listing of n
/// objects costs ⌈n/25⌉ requests.
pub const LISTING_PAGE_SIZE: usize = 25;

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

#[cfg(test)]
impl VaultAccess {
    /// `vault_url` read by the ServiceAccount `sa` of namespace `client_id`, whose Entra client
    /// id is `client_id`: one identity per client id, as tests need them.
    pub(crate) fn for_test(vault_url: &str, client_id: &str) -> Self {
        VaultAccess {
            vault_url: vault_url.into(),
            identity: Identity {
                namespace: client_id.into(),
                service_account: "sa".into(),
                client_id: client_id.into(),
                tenant_id: "t".into(),
            },
        }
    }
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

/// Metadata of a certificate as listed: enough for cheap change detection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateProperties {
    /// Name as stored in the vault.
    pub name: String,
    /// Whether the latest version is enabled.
    pub enabled: bool,
    /// Last update of the latest version (Unix seconds, 1-second resolution).
    pub updated: Option<i64>,
}

/// Metadata of a key as listed: enough for cheap change detection (a key's public part changes
/// only with a new version).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyProperties {
    /// Name as stored in the vault.
    pub name: String,
    /// Whether the latest version is enabled.
    pub enabled: bool,
    /// Last update of the latest version (Unix seconds, 1-second resolution).
    pub updated: Option<i64>,
}

/// Orders vault object names as the vault tells them apart: ignoring ASCII case (names are
/// alphanumerics and dashes).
pub fn compare_names(a: &str, b: &str) -> std::cmp::Ordering {
    let folded_a = a.bytes().map(|b| b.to_ascii_lowercase());
    folded_a.cmp(b.bytes().map(|b| b.to_ascii_lowercase()))
}

/// What change detection needs from any listed object.
pub trait Listed {
    /// Name as stored in the vault (compared case-insensitively).
    fn name(&self) -> &str;
    /// Whether the latest version is enabled.
    fn enabled(&self) -> bool;
    /// Last update of the latest version.
    fn updated(&self) -> Option<i64>;
}

impl Listed for SecretProperties {
    fn name(&self) -> &str {
        &self.name
    }
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn updated(&self) -> Option<i64> {
        self.updated
    }
}

impl Listed for CertificateProperties {
    fn name(&self) -> &str {
        &self.name
    }
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn updated(&self) -> Option<i64> {
        self.updated
    }
}

impl Listed for KeyProperties {
    fn name(&self) -> &str {
        &self.name
    }
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn updated(&self) -> Option<i64> {
        self.updated
    }
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

/// The public part of a vault key, as Key Vault serves it. Key Vault never returns the private
/// part of a key; this type has no place for one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// An RSA key: modulus and public exponent, big-endian.
    Rsa {
        /// Modulus `n`.
        n: Vec<u8>,
        /// Public exponent `e`.
        e: Vec<u8>,
    },
    /// An elliptic-curve key: curve name (`P-256`, `P-384`, `P-521`, `P-256K`) and point.
    Ec {
        /// Curve name as JWK writes it.
        curve: String,
        /// Affine `x`, big-endian.
        x: Vec<u8>,
        /// Affine `y`, big-endian.
        y: Vec<u8>,
    },
    /// A key type without a public part to publish (`oct`), or with parts missing.
    Unsupported {
        /// The `kty` Key Vault gave.
        kty: String,
    },
}

/// A key version's public part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyBundle {
    /// Name of the key.
    pub name: String,
    /// The version read (32 hex characters).
    pub version: String,
    /// The key's identifier (`kid`), `https://VAULT/keys/NAME/VERSION`.
    pub id: Option<String>,
    /// The public part.
    pub key: PublicKey,
    /// Last update (Unix seconds).
    pub updated: Option<i64>,
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

/// The kind of vault object a request reads: Key Vault serves each through its own client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Collection {
    /// Secrets (values, and the secret behind each certificate).
    Secrets,
    /// Certificates.
    Certificates,
    /// Keys.
    Keys,
}

/// Asked before each page of a listing after the first, so that every page is a request the
/// caller's rate limit let through; an error ends the listing with it.
pub type PageGate =
    dyn Fn() -> futures::future::BoxFuture<'static, Result<(), VaultError>> + Send + Sync;

/// Reads from a vault as a given identity. Implementations classify every failure into
/// [`VaultError`] and never put secret values into errors or logs.
#[async_trait::async_trait]
pub trait VaultProvider: Send + Sync + 'static {
    /// Lists the properties of every secret in the vault (all pages, each after `next_page`).
    async fn list_secrets(
        &self,
        access: &VaultAccess,
        next_page: &PageGate,
    ) -> Result<Vec<SecretProperties>, VaultError>;

    /// Lists the properties of every certificate in the vault (all pages, each after
    /// `next_page`).
    async fn list_certificates(
        &self,
        access: &VaultAccess,
        next_page: &PageGate,
    ) -> Result<Vec<CertificateProperties>, VaultError>;

    /// Lists the properties of every key in the vault (all pages, each after `next_page`).
    async fn list_keys(
        &self,
        access: &VaultAccess,
        next_page: &PageGate,
    ) -> Result<Vec<KeyProperties>, VaultError>;

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

    /// Reads the public part of a key's latest version, or of the given one.
    async fn get_key(
        &self,
        access: &VaultAccess,
        name: &str,
        version: Option<&str>,
    ) -> Result<KeyBundle, VaultError>;

    /// Whether the next request to `collection` through `access` may first go without
    /// credentials, to meet the vault's authentication challenge, and then again: two requests
    /// to the vault, which the caller's rate limit must count.
    fn challenge_pending(&self, _access: &VaultAccess, _collection: Collection) -> bool {
        false
    }
}
