//! What Entra and Azure RBAC know: tenants, apps, trusted issuers, federated credentials and role
//! assignments. Shared by the control handle (which writes it), Entra and the data plane (which
//! read it).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};

/// A data-plane permission granted by a role assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// Read secret values (`getSecret/action`).
    SecretsRead,
    /// Read certificates, their policies and public keys.
    CertificatesRead,
    /// List secrets, certificates, keys and their versions (`readMetadata`).
    List,
    /// Set, update, delete, recover and purge secrets.
    SecretsWrite,
    /// Import, delete, recover and purge certificates.
    CertificatesWrite,
    /// Read keys (public part) and use them to sign and verify.
    KeysRead,
    /// Create, import, delete, recover and purge keys.
    KeysWrite,
}

/// Identities and trust.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    pub tenants: HashSet<String>,
    /// client id → tenant.
    pub apps: HashMap<String, String>,
    /// issuer URL → JWKS document.
    pub issuers: HashMap<String, Value>,
    /// (client id, issuer, subject).
    pub federated: HashSet<(String, String, String)>,
    /// (client id, vault) → permissions.
    pub roles: HashMap<(String, String), BTreeSet<Permission>>,
}
