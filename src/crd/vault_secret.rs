use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::duration::SpecDuration;

use super::{Decoding, SecretTemplate, SyncStatus, TargetSecret, VaultSource};

/// Syncs Key Vault secrets into one Kubernetes Secret.
// Each printcolumn repeats `type_`; clippy reads that as a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "vaultsync.dev",
    version = "v1alpha1",
    kind = "VaultSecret",
    namespaced,
    doc = "VaultSecret syncs Azure Key Vault secrets into one Kubernetes Secret, reading the vault as the workload identity of a ServiceAccount in the same namespace.",
    status = "Box<SyncStatus>",
    shortname = "vsec",
    category = "vaultsync",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(name = "Secret", type_ = "string", json_path = ".status.secretName"),
    printcolumn(name = "Last Sync", type_ = "date", json_path = ".status.lastSyncTime"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("size(self.data) + size(self.dataFrom) + size(self.keys) > 0").message("give at least one entry in data (explicit vault secrets), dataFrom (bulk selection) or keys (public parts of vault keys)"))]
#[x_kube(validation = Rule::new("self.keys.all(k, !self.data.exists(d, d.key == k.key))").message("a keys[].key is also a data[].key: every Secret key must come from one source"))]
#[x_kube(validation = Rule::new("!has(self.template) || !has(self.target) || !has(self.target.type) || !(has(self.template.dockerConfigJson) || has(self.template.basicAuth) || has(self.template.sshAuth)) || self.target.type == (has(self.template.dockerConfigJson) ? 'kubernetes.io/dockerconfigjson' : has(self.template.basicAuth) ? 'kubernetes.io/basic-auth' : 'kubernetes.io/ssh-auth')").message("target.type does not match the template: template.dockerConfigJson writes kubernetes.io/dockerconfigjson, basicAuth kubernetes.io/basic-auth, sshAuth kubernetes.io/ssh-auth; remove target.type or set it to that type"))]
#[x_kube(validation = Rule::new("!has(self.target) || !has(self.target.type) || size(self.dataFrom) > 0 || (has(self.template) && (has(self.template.dockerConfigJson) || has(self.template.basicAuth) || has(self.template.sshAuth))) || (self.target.type == 'kubernetes.io/basic-auth' ? ((has(self.template) ? (has(self.template.data) && 'username' in self.template.data) : self.data.exists(i, i.key == 'username')) || (has(self.template) ? (has(self.template.data) && 'password' in self.template.data) : self.data.exists(i, i.key == 'password'))) : self.target.type == 'kubernetes.io/ssh-auth' ? (has(self.template) ? (has(self.template.data) && 'ssh-privatekey' in self.template.data) : self.data.exists(i, i.key == 'ssh-privatekey')) : self.target.type == 'kubernetes.io/dockerconfigjson' ? (has(self.template) ? (has(self.template.data) && '.dockerconfigjson' in self.template.data) : self.data.exists(i, i.key == '.dockerconfigjson')) : self.target.type == 'kubernetes.io/tls' ? ((has(self.template) ? (has(self.template.data) && 'tls.crt' in self.template.data) : self.data.exists(i, i.key == 'tls.crt')) && (has(self.template) ? (has(self.template.data) && 'tls.key' in self.template.data) : self.data.exists(i, i.key == 'tls.key'))) : true)").message("target.type needs keys the spec does not write: kubernetes.io/basic-auth needs a key username or password, kubernetes.io/ssh-auth ssh-privatekey, kubernetes.io/dockerconfigjson .dockerconfigjson (or use template.dockerConfigJson), kubernetes.io/tls tls.crt and tls.key; name data[].key or template.data keys accordingly"))]
#[serde(rename_all = "camelCase")]
pub struct VaultSecretSpec {
    /// The vault to read and the ServiceAccount whose identity reads it.
    pub vault: VaultSource,
    /// Explicit items: each Secret key is filled from one vault secret.
    #[serde(default)]
    #[schemars(length(max = 256))]
    #[x_kube(validation = Rule::new("self.all(a, self.exists_one(b, a.key == b.key))").message("data has duplicate keys: every data[].key must be unique"))]
    pub data: Vec<SecretItem>,
    /// Public parts of vault keys: each Secret key holds one key's public part as PEM or JWK.
    /// The private part never leaves Key Vault. The identity needs permission to read keys
    /// (for example the role "Key Vault Crypto User").
    #[serde(default)]
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("self.all(a, self.exists_one(b, a.key == b.key))").message("keys has duplicate keys: every keys[].key must be unique"))]
    pub keys: Vec<KeyItem>,
    /// Bulk selection: every enabled vault secret matching a selector becomes a key.
    #[serde(default)]
    #[schemars(length(max = 16))]
    pub data_from: Vec<BulkSelector>,
    /// The Secret to write.
    #[serde(default)]
    pub target: TargetSecret,
    /// Build the Secret's keys from templates over the sources instead of one key per source,
    /// and optionally a typed Secret (registry credentials, basic auth, SSH key). See the
    /// README's "Templates and typed Secrets".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<SecretTemplate>,
    /// What happens to a key whose vault secret was deleted or disabled in the vault. `Keep`
    /// (default): the key keeps its last value (an explicit item also reports SecretNotFound or
    /// SecretDisabled). `Remove`: the key is removed from the Secret and a Warning Event names
    /// it. Explicit items and bulk selection follow the same rule. A failure to read the vault
    /// (unavailable, forbidden, token exchange) never removes anything.
    #[serde(default)]
    pub on_vault_removal: VaultRemovalPolicy,
    /// How often to check the vault for new versions, as a Go-style duration between 30s and
    /// 168h (for example `1h`, `15m`, `90s`). Refreshes are jittered so that many resources do not
    /// hit the vault in lockstep.
    #[serde(default = "super::common::default_refresh_interval")]
    #[schemars(
        regex(pattern = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$"),
        length(min = 2, max = 16)
    )]
    #[x_kube(validation = Rule::new("self != '' && duration(self) >= duration('30s') && duration(self) <= duration('168h')").message("refreshInterval must be a duration between 30s and 168h, for example 1h or 15m"))]
    pub refresh_interval: SpecDuration,
}

/// What happens to a key whose vault secret was deleted or disabled in the vault.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum VaultRemovalPolicy {
    /// The key keeps its last value.
    #[default]
    Keep,
    /// The key is removed from the Secret.
    Remove,
}

/// One Secret key filled from one vault secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretItem {
    /// Key in the Kubernetes Secret (letters, digits, '-', '_' and '.').
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    #[x_kube(validation = Rule::new("self != '.' && self != '..'").message("a Secret key cannot be '.' or '..'"))]
    pub key: String,
    /// Name of the secret in the vault (1-127 letters, digits and '-', starting with a letter).
    #[schemars(regex(pattern = r"^[a-zA-Z][a-zA-Z0-9-]{0,126}$"))]
    pub name: String,
    /// Pin a vault version (32 lowercase hex characters); omit to follow the latest version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9a-f]{32}$"))]
    pub version: Option<String>,
    /// How the vault's text becomes the key's bytes: `None` (default), `Base64`, `Base64Url`,
    /// or `Auto` (base64 when the vault secret's content type says it is binary).
    #[serde(default, skip_serializing_if = "Decoding::is_none")]
    pub decoding: Decoding,
}

/// One Secret key filled from the public part of a vault key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyItem {
    /// Key in the Kubernetes Secret (letters, digits, '-', '_' and '.').
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    #[x_kube(validation = Rule::new("self != '.' && self != '..'").message("a Secret key cannot be '.' or '..'"))]
    pub key: String,
    /// Name of the key in the vault (1-127 letters, digits and '-', starting with a letter).
    #[schemars(regex(pattern = r"^[a-zA-Z][a-zA-Z0-9-]{0,126}$"))]
    pub name: String,
    /// Pin a key version (32 lowercase hex characters); omit to follow the latest version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9a-f]{32}$"))]
    pub version: Option<String>,
    /// `PEM` (default): a `PUBLIC KEY` (SubjectPublicKeyInfo) block. `JWK`: a JSON Web Key with
    /// the public members and the vault's `kid`.
    #[serde(default)]
    pub format: KeyFormat,
}

/// How a vault key's public part is written.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum KeyFormat {
    /// `-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo in PEM.
    #[default]
    #[serde(rename = "PEM")]
    Pem,
    /// A JSON Web Key (RFC 7517), public members only.
    #[serde(rename = "JWK")]
    Jwk,
}

/// Selects vault secrets in bulk by name and tags; each match becomes one Secret key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.namePrefix) && has(self.namePattern))").message("give either namePrefix or namePattern in a dataFrom entry, not both"))]
#[x_kube(validation = Rule::new("has(self.namePrefix) || has(self.namePattern) || size(self.tags) > 0").message("a dataFrom entry needs namePrefix, namePattern or tags, otherwise it would select the whole vault"))]
pub struct BulkSelector {
    /// Select vault secrets whose name starts with this prefix (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-zA-Z][a-zA-Z0-9-]{0,126}$"))]
    pub name_prefix: Option<String>,
    /// Select vault secrets whose name matches this glob (`*` any run, `?` one character;
    /// case-insensitive), for example `app-*-password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-zA-Z0-9*?-]{1,127}$"))]
    pub name_pattern: Option<String>,
    /// Select only vault secrets carrying all of these tags with these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// How matched vault secret names become Secret keys.
    #[serde(default)]
    pub keys: KeyNaming,
    /// How each match's text becomes bytes, as for an explicit item.
    #[serde(default, skip_serializing_if = "Decoding::is_none")]
    pub decoding: Decoding,
}

/// Rule turning a vault secret name into a Secret key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyNaming {
    /// Remove `namePrefix` from the start of each key.
    #[serde(default)]
    pub strip_prefix: bool,
    /// Prepend this to each key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), regex(pattern = r"^[-._a-zA-Z0-9]*$"))]
    pub add_prefix: Option<String>,
    /// Lower-case the vault name (vault names are case-insensitive).
    #[serde(default)]
    pub lowercase: bool,
}

impl super::Synced for VaultSecret {
    const KIND: &'static str = "VaultSecret";
    type Status = SyncStatus;

    fn vault(&self) -> &VaultSource {
        &self.spec.vault
    }

    fn target(&self) -> &TargetSecret {
        &self.spec.target
    }

    fn refresh_interval(&self) -> &SpecDuration {
        &self.spec.refresh_interval
    }

    fn status(&self) -> Option<&SyncStatus> {
        self.status.as_deref()
    }

    fn take_status(&mut self) -> Option<SyncStatus> {
        self.status.take().map(|status| *status)
    }

    fn sync_part(status: &SyncStatus) -> &SyncStatus {
        status
    }

    fn sync_part_mut(status: &mut SyncStatus) -> &mut SyncStatus {
        status
    }
}
