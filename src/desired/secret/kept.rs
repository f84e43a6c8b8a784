//! A [`DesiredSecret`] as the schedule keeps it between reconciles: the same content in flat,
//! exactly sized slices. A `BTreeMap` allocates a node for eleven entries even when it holds
//! one; the three maps of a desired Secret (data, labels, annotations) made up most of the
//! 2 KB every managed resource kept in memory.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::DesiredSecret;
use crate::compact::{Owner, Pairs, pairs, shared, tree};
use crate::crd::{SyncedVersion, TargetObject};
use crate::desired::content_key::ContentKey;
use crate::vault::SecretValue;

/// Pairs keyed by vault object names: not shared (they are rarely repeated).
type Named<V> = Box<[(Box<str>, V)]>;

/// The last Secret written for one resource, compact.
#[derive(Clone)]
pub struct KeptSecret {
    name: Box<str>,
    object: TargetObject,
    type_: Arc<str>,
    data: Pairs<SecretValue>,
    labels: Pairs<Box<str>>,
    annotations: Pairs<Box<str>>,
    owner_reference: Option<Owner>,
    versions: Box<[SyncedVersion]>,
    content_hash: Box<str>,
    sources: Option<Named<SecretValue>>,
    content_key: ContentKey,
}

impl std::fmt::Debug for KeptSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeptSecret")
            .field("name", &self.name)
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
        KeptSecret {
            name: desired.name.as_str().into(),
            object: desired.object,
            type_: shared(&desired.type_),
            data: pairs(&desired.data, SecretValue::clone),
            labels: pairs(&desired.labels, |v| v.as_str().into()),
            annotations: pairs(&desired.annotations, |v| v.as_str().into()),
            owner_reference: desired.owner_reference.as_ref().map(Owner::from),
            versions: desired.versions.clone().into_boxed_slice(),
            content_hash: desired.content_hash.as_str().into(),
            sources: desired.sources.as_ref().map(named),
            content_key: desired.content_key.clone(),
        }
    }
}

impl KeptSecret {
    /// The desired Secret this was made from.
    pub fn desired(&self) -> DesiredSecret {
        DesiredSecret {
            name: self.name.to_string(),
            object: self.object,
            type_: self.type_.to_string(),
            data: tree(&self.data, SecretValue::clone),
            labels: tree(&self.labels, |v| v.to_string()),
            annotations: tree(&self.annotations, |v| v.to_string()),
            owner_reference: self.owner_reference.as_ref().map(Owner::reference),
            versions: self.versions.to_vec(),
            content_hash: self.content_hash.to_string(),
            sources: self.sources.as_deref().map(|s| tree(s, SecretValue::clone)),
            content_key: self.content_key.clone(),
        }
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
        let back = KeptSecret::from(&desired).desired();
        assert_eq!(back.to_secret("ns"), desired.to_secret("ns"));
        assert_eq!(back.versions, desired.versions);
        assert_eq!(back.content_hash, desired.content_hash);
        assert_eq!(back.sources, desired.sources);
        assert!(back.is_satisfied_by(&desired.to_secret("ns")));
        assert!(!format!("{:?}", KeptSecret::from(&desired)).contains("s3cr3t"));
    }
}
