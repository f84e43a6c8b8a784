use std::collections::BTreeMap;

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Which Key Vault to read, and as whom.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultSource {
    /// HTTPS URL of the Key Vault, for example `https://my-vault.vault.azure.net/`.
    #[x_kube(validation = Rule::new("self.startsWith('https://') && self.size() > 8").message("vault.url must be an https URL such as https://my-vault.vault.azure.net/ (Key Vault refuses bearer tokens over plain http)"))]
    #[x_kube(validation = Rule::new("!self.contains('?') && !self.contains('#')").message("vault.url must not carry a query or fragment; give only the vault's base URL"))]
    #[schemars(length(max = 253))]
    pub url: String,
    /// ServiceAccount in this resource's namespace whose workload identity reads the vault. Its
    /// annotation `azure.workload.identity/client-id` names the Entra application (optional
    /// `azure.workload.identity/tenant-id` overrides the operator's default tenant). vaultsync
    /// requests a token for this ServiceAccount only; it never reads as another namespace's
    /// identity.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub service_account_name: String,
}

/// Whether vaultsync may take over a Secret it did not create.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum CreationPolicy {
    /// Create the Secret and own it; refuse (condition OwnershipConflict) if a Secret of that
    /// name exists that vaultsync does not manage for this resource.
    #[default]
    Owner,
    /// Like Owner, but also adopt an existing Secret of that name: vaultsync takes ownership and
    /// replaces its data.
    Adopt,
}

/// What happens to the Secret when the resource is deleted.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum DeletionPolicy {
    /// The Secret is deleted with the resource (Kubernetes garbage collection of an owned object).
    #[default]
    Delete,
    /// The Secret stays, with its last data, and is no longer managed.
    Retain,
}

/// The Kubernetes Secret vaultsync writes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetSecret {
    /// Name of the Secret; defaults to the resource's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub name: Option<String>,
    /// Secret type, for example `Opaque` (the default for VaultSecret) or `kubernetes.io/tls`.
    /// Types that grant API access or belong to other tools
    /// (`kubernetes.io/service-account-token`, `bootstrap.kubernetes.io/token`,
    /// `helm.sh/release.v1`) are refused.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("!(self in ['kubernetes.io/service-account-token', 'bootstrap.kubernetes.io/token', 'helm.sh/release.v1'])").message("target.type must not be a type that grants API access or belongs to another tool (kubernetes.io/service-account-token, bootstrap.kubernetes.io/token, helm.sh/release.v1)"))]
    #[schemars(length(min = 1, max = 253))]
    pub type_: Option<String>,
    /// Extra labels on the Secret. Keys under `vaultsync.dev/` are reserved.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = Rule::new("self.all(k, !k.startsWith('vaultsync.dev/'))").message("target.labels must not use the reserved prefix vaultsync.dev/"))]
    pub labels: BTreeMap<String, String>,
    /// Extra annotations on the Secret. Keys under `vaultsync.dev/` are reserved.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = Rule::new("self.all(k, !k.startsWith('vaultsync.dev/'))").message("target.annotations must not use the reserved prefix vaultsync.dev/"))]
    pub annotations: BTreeMap<String, String>,
    /// Owner (default) creates and owns the Secret and refuses to touch one it does not manage;
    /// Adopt also takes over an existing Secret of that name.
    #[serde(default)]
    pub creation_policy: CreationPolicy,
    /// Delete (default) removes the Secret with the resource; Retain keeps it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// The refresh interval both kinds default to.
pub(super) fn default_refresh_interval() -> crate::duration::SpecDuration {
    crate::duration::SpecDuration::new("1h")
}
