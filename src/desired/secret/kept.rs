//! A [`DesiredSecret`] as the schedule keeps it between reconciles: the values in flat, exactly
//! sized slices (shared keys, values as read), everything else as packed JSON. A `BTreeMap`
//! allocates a node for eleven entries even when it holds one; the three maps of a desired
//! Secret (data, labels, annotations) made up most of the 2 KB every managed resource kept in
//! memory, and the boxed texts of labels, annotations, owner and versions most of the rest.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use serde::{Deserialize, Serialize};

use super::DesiredSecret;
use crate::compact::packed::Packed;
use crate::compact::{Pairs, pairs, tree};
use crate::crd::{SyncedVersion, TargetObject};
use crate::desired::content_key::ContentKey;
use crate::vault::SecretValue;

/// Pairs keyed by vault object names: not shared (they are rarely repeated).
type Named<V> = Box<[(Box<str>, V)]>;

/// The last Secret written for one resource, compact.
#[derive(Clone)]
pub struct KeptSecret {
    data: Pairs<SecretValue>,
    sources: Option<Named<SecretValue>>,
    content_key: ContentKey,
    /// [`Described`], packed.
    described: Packed,
}

/// What a desired Secret holds besides values, as kept. Field names are chosen so that the
/// packing table covers them.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Described {
    name: String,
    #[serde(rename = "o")]
    object: TargetObject,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    owner_references: Vec<OwnerReference>,
    versions: Vec<SyncedVersion>,
    #[serde(rename = "h")]
    content_hash: String,
    /// Last: the table holds the common types with the closing brace.
    #[serde(rename = "type")]
    type_: String,
}

impl std::fmt::Debug for KeptSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeptSecret")
            .field("keys", &self.data.len())
            .finish_non_exhaustive()
    }
}

fn named(map: &BTreeMap<String, SecretValue>) -> Named<SecretValue> {
    map.iter()
        .map(|(k, v)| (k.as_str().into(), v.clone()))
        .collect()
}

impl From<&DesiredSecret> for KeptSecret {
    fn from(desired: &DesiredSecret) -> Self {
        let described = Described {
            name: desired.name.clone(),
            object: desired.object,
            labels: desired.labels.clone(),
            annotations: desired.annotations.clone(),
            owner_references: desired.owner_reference.iter().cloned().collect(),
            versions: desired.versions.clone(),
            content_hash: desired.content_hash.clone(),
            type_: desired.type_.clone(),
        };
        // Plain strings, maps and derived types: serializing cannot fail.
        let text = serde_json::to_string(&described).unwrap_or_default();
        KeptSecret {
            data: pairs(&desired.data, SecretValue::clone),
            sources: desired.sources.as_ref().map(named),
            content_key: desired.content_key.clone(),
            described: Packed::pack(&text),
        }
    }
}

impl KeptSecret {
    /// The desired Secret this was made from; `None` only if its packed text did not read
    /// back (never: this type wrote it), which the schedule treats as nothing written yet, so
    /// the next sync reads the vault again rather than trusting a broken copy.
    pub fn desired(&self) -> Option<DesiredSecret> {
        let described: Described = serde_json::from_str(&self.described.unpack()).ok()?;
        Some(DesiredSecret {
            name: described.name,
            object: described.object,
            type_: described.type_,
            data: tree(&self.data, SecretValue::clone),
            labels: described.labels,
            annotations: described.annotations,
            owner_reference: described.owner_references.into_iter().next(),
            versions: described.versions,
            content_hash: described.content_hash,
            sources: self.sources.as_deref().map(|s| tree(s, SecretValue::clone)),
            content_key: self.content_key.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::TargetSecret;
    use crate::desired::secret::{Owner, desired_secret};

    #[test]
    fn a_kept_secret_gives_back_the_same_desired_secret() {
        let owner = Owner {
            kind: "VaultSecret",
            api_version: "vaultsync.dev/v1alpha1".into(),
            name: "app".into(),
            namespace: "ns".into(),
            uid: "u1".into(),
        };
        let target = TargetSecret {
            labels: BTreeMap::from([("team".to_string(), "a".to_string())]),
            ..Default::default()
        };
        let data = BTreeMap::from([
            ("password".to_string(), SecretValue::new("s3cr3t")),
            ("user".to_string(), SecretValue::new("admin")),
        ]);
        let versions = vec![SyncedVersion {
            key: "password".into(),
            name: "db".into(),
            version: "v1".into(),
            updated: Some(1),
            decoding: Default::default(),
            public_key: None,
        }];
        let key = ContentKey::for_tests();
        let mut desired = desired_secret(&owner, &target, "app", "Opaque", data, versions, &key);
        desired.sources = Some(BTreeMap::from([("db".to_string(), SecretValue::new("x"))]));
        let back = KeptSecret::from(&desired).desired().expect("reads back");
        assert_eq!(back.to_secret("ns"), desired.to_secret("ns"));
        assert_eq!(back.versions, desired.versions);
        assert_eq!(back.content_hash, desired.content_hash);
        assert_eq!(back.sources, desired.sources);
        assert!(back.is_satisfied_by(&desired.to_secret("ns")));
        assert!(!format!("{:?}", KeptSecret::from(&desired)).contains("s3cr3t"));
    }
}
