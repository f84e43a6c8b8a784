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

impl SyncStatus {
    /// Whether the sync on record read a value within the second its version was written (its
    /// `updated` time is not before `lastSyncTime`, when that sync began). Listings tell
    /// versions apart only by that second, so a later version of the same second would look
    /// unchanged: the next sync reads every source again. The process that synced remembers
    /// this itself; a restarted operator or a new leader reads it back from here.
    pub fn read_within_written_second(&self) -> bool {
        let Some(synced) = self
            .last_sync_time
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        else {
            return false;
        };
        let began = synced.as_second();
        self.versions
            .iter()
            .any(|v| v.updated.is_some_and(|updated| updated >= began))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synced_at(time: &str, updated: &[i64]) -> SyncStatus {
        SyncStatus {
            last_sync_time: Some(time.into()),
            versions: updated
                .iter()
                .map(|u| SyncedVersion {
                    key: "k".into(),
                    name: "n".into(),
                    version: "0".repeat(32),
                    updated: Some(*u),
                    decoding: Default::default(),
                    public_key: None,
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_value_read_in_the_second_it_was_written_is_read_again() {
        // 2026-12-02T12:00:00Z is 1796212800.
        let at = "2026-12-02T12:00:00Z";
        assert!(synced_at(at, &[1_796_212_800]).read_within_written_second());
        assert!(synced_at(at, &[1_796_212_700, 1_796_212_801]).read_within_written_second());
        assert!(!synced_at(at, &[1_796_212_799]).read_within_written_second());
        assert!(!synced_at(at, &[]).read_within_written_second());
        assert!(!SyncStatus::default().read_within_written_second());
    }
}
