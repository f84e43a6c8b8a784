use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Status of a condition, as in `metav1.Condition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Not yet known.
    Unknown,
}

/// One observation about the resource, shaped like `metav1.Condition`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type, for example `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// True, False or Unknown.
    pub status: ConditionStatus,
    /// CamelCase reason; see the README's reason reference for what to do about each.
    pub reason: String,
    /// Human-readable detail. Never contains a secret value.
    pub message: String,
    /// When `status` last changed (RFC 3339).
    pub last_transition_time: String,
    /// The `metadata.generation` this condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The vault version behind one Secret key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncedVersion {
    /// Key in the Secret.
    pub key: String,
    /// Name of the vault object.
    pub name: String,
    /// Vault version (32 hex characters) now in the Secret.
    pub version: String,
    /// The vault object's `updated` time (Unix seconds) when it was read; used for cheap change
    /// detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<i64>,
    /// The decoding the value was read with, when not `None`: a changed decoding reads the
    /// value again.
    #[serde(default, skip_serializing_if = "super::Decoding::is_none")]
    pub decoding: super::Decoding,
    /// For a vault key, the format its public part was written in: a changed format reads the
    /// key again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<super::KeyFormat>,
}

/// Observed state shared by VaultSecret and VaultCertificate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// The `metadata.generation` last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions; `Ready` summarises the sync.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Name of the Secret written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// Last sync that changed the Secret or this status (RFC 3339). Idle refreshes that find
    /// nothing new write nothing, so this does not move with them; the metric
    /// `vaultsync_last_sync_timestamp_seconds` does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<String>,
    /// When the next refresh was due as of `lastSyncTime` (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_refresh_time: Option<String>,
    /// Vault versions behind each key of the Secret. Always written (even empty): status is
    /// merge-patched, and an omitted list would leave the old one in place.
    #[serde(default)]
    pub versions: Vec<SyncedVersion>,
    /// The last value of the `vaultsync.dev/force-refresh` annotation acted upon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_force_refresh: Option<String>,
}
