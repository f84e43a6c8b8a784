//! The exact Secret to write for a resource: data, type, labels and annotations, with a content
//! hash that lets the apply step skip writes when nothing changed.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::content_key::ContentKey;
use super::{
    CONTENT_HASH_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE, OBSERVED_HASH_ANNOTATION,
    OWNER_ANNOTATION, OWNER_UID_LABEL,
};
use crate::crd::{DeletionPolicy, SyncedVersion, TargetObject, TargetSecret};
use crate::vault::SecretValue;

mod kept;
pub use kept::KeptSecret;

/// The resource a Secret belongs to.
#[derive(Clone, Debug)]
pub struct Owner {
    /// `VaultSecret` or `VaultCertificate`.
    pub kind: &'static str,
    /// `vaultsync.dev/v1alpha1`.
    pub api_version: String,
    /// Resource name.
    pub name: String,
    /// Resource namespace.
    pub namespace: String,
    /// Resource uid.
    pub uid: String,
}

/// The Secret vaultsync wants to exist.
#[derive(Clone, Debug)]
pub struct DesiredSecret {
    /// Secret name.
    pub name: String,
    /// The kind of object written: a Secret, or a ConfigMap holding the same data.
    pub object: TargetObject,
    /// Secret type.
    pub type_: String,
    /// Data (values redacted in Debug).
    pub data: BTreeMap<String, SecretValue>,
    /// Labels including the managed-by and owner labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations including the owner and content hash.
    pub annotations: BTreeMap<String, String>,
    /// Owner reference (only with deletion policy Delete, so garbage collection removes it).
    pub owner_reference: Option<OwnerReference>,
    /// Versions behind each key.
    pub versions: Vec<SyncedVersion>,
    /// Keyed hash of type and data (see [`ContentKey`]).
    pub content_hash: String,
    /// The values read from the vault, by source key, when the data was built from them by a
    /// template (`None`: the data is the sources). Kept in memory so that a refresh reads only
    /// the sources that changed.
    pub sources: Option<BTreeMap<String, SecretValue>>,
    /// The key `content_hash` was computed under, to hash an existing Secret the same way.
    content_key: ContentKey,
}

/// The content hash of `secret`'s data: as the cache observed it (see [`fingerprint`]), or
/// computed from the data a full Secret carries.
pub fn observed_hash(secret: &Secret, key: &ContentKey) -> String {
    match cached_hash(secret) {
        Some(observed) => observed.to_string(),
        None => data_hash(secret, key),
    }
}

/// The content hash the cache recorded for `secret` (see [`fingerprint`]); `None` for a Secret
/// that did not come from the cache.
pub fn cached_hash(secret: &Secret) -> Option<&str> {
    secret
        .metadata
        .annotations
        .as_ref()?
        .get(OBSERVED_HASH_ANNOTATION)
        .map(String::as_str)
}

/// The content hash computed from the data `secret` carries.
fn data_hash(secret: &Secret, key: &ContentKey) -> String {
    // The API server omits an empty data map: that is the empty content, not no content.
    let values: BTreeMap<String, SecretValue> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), SecretValue::new(v.0.clone())))
        .collect();
    key.hash(secret.type_.as_deref().unwrap_or("Opaque"), &values)
}

/// Whether `secret` is a cache copy whose values were dropped by [`fingerprint`].
pub fn is_fingerprint(secret: &Secret) -> bool {
    secret
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(OBSERVED_HASH_ANNOTATION))
}

/// What the cache keeps of a Secret: its metadata, the names of its keys and the content hash
/// of its data, never the values or managed fields. Anyone can put vaultsync's label on a
/// Secret; memory must not grow with what they put in it.
pub fn fingerprint(secret: &mut Secret, key: &ContentKey) {
    // From the data itself: an annotation of that name on the object as served is not trusted.
    let hash = data_hash(secret, key);
    secret.metadata.managed_fields = None;
    secret.string_data = None;
    for value in secret.data.iter_mut().flat_map(|d| d.values_mut()) {
        value.0 = Vec::new();
    }
    secret
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(OBSERVED_HASH_ANNOTATION.to_string(), hash);
}

/// Removes the cache's annotation from a Secret read from the API server, where only someone
/// else could have put it.
pub fn distrust_observed_hash(secret: &mut Secret) {
    if let Some(annotations) = secret.metadata.annotations.as_mut() {
        annotations.remove(OBSERVED_HASH_ANNOTATION);
    }
}

/// Builds the desired Secret.
pub fn desired_secret(
    owner: &Owner,
    target: &TargetSecret,
    secret_name: &str,
    default_type: &str,
    data: BTreeMap<String, SecretValue>,
    mut versions: Vec<SyncedVersion>,
    key: &ContentKey,
) -> DesiredSecret {
    let type_ = target
        .type_
        .clone()
        .unwrap_or_else(|| default_type.to_string());
    let content_hash = key.hash(&type_, &data);
    let mut labels = target.labels.clone();
    labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY_VALUE.into());
    labels.insert(OWNER_UID_LABEL.into(), owner.uid.clone());
    let mut annotations = target.annotations.clone();
    annotations.insert(
        OWNER_ANNOTATION.into(),
        format!("{}/{}", owner.kind, owner.name),
    );
    annotations.insert(CONTENT_HASH_ANNOTATION.into(), content_hash.clone());
    let owner_reference =
        (target.deletion_policy == DeletionPolicy::Delete).then(|| OwnerReference {
            api_version: owner.api_version.clone(),
            kind: owner.kind.to_string(),
            name: owner.name.clone(),
            uid: owner.uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        });
    versions.sort_by(|a, b| a.key.cmp(&b.key));
    DesiredSecret {
        name: secret_name.to_string(),
        object: TargetObject::Secret,
        type_,
        data,
        labels,
        annotations,
        owner_reference,
        versions,
        content_hash,
        sources: None,
        content_key: key.clone(),
    }
}

impl DesiredSecret {
    /// The Secret object for server-side apply (only the fields vaultsync owns).
    pub fn to_secret(&self, namespace: &str) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(namespace.to_string()),
                labels: Some(self.labels.clone()),
                annotations: Some(self.annotations.clone()),
                owner_references: self.owner_reference.clone().map(|r| vec![r]),
                ..Default::default()
            },
            type_: Some(self.type_.clone()),
            data: Some(
                self.data
                    .iter()
                    .map(|(k, v)| (k.clone(), ByteString(v.expose().to_vec())))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    /// Whether `existing` already is this Secret (same content hash, labels, annotations and
    /// owner reference), so that no write is needed.
    pub fn is_satisfied_by(&self, existing: &Secret) -> bool {
        let meta = &existing.metadata;
        let has_all = |want: &BTreeMap<String, String>, have: &Option<BTreeMap<String, String>>| {
            want.iter()
                .all(|(k, v)| have.as_ref().and_then(|h| h.get(k)) == Some(v))
        };
        let owners = meta.owner_references.as_deref().unwrap_or_default();
        let owner_ok = match &self.owner_reference {
            Some(want) => owners
                .iter()
                .any(|o| o.uid == want.uid && o.controller == Some(true)),
            None => owners.iter().all(|o| o.uid != self.labels[OWNER_UID_LABEL]),
        };
        observed_hash(existing, &self.content_key) == self.content_hash
            && has_all(&self.labels, &meta.labels)
            && has_all(&self.annotations, &meta.annotations)
            && owner_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_keys_and_a_hash_never_values() {
        let desired = desired_secret(
            &owner(),
            &TargetSecret::default(),
            "app",
            "Opaque",
            data(&[("password", "s3cr3t"), ("user", "admin")]),
            vec![],
            &key(),
        );
        let mut cached = desired.to_secret("ns");
        cached.metadata.annotations.get_or_insert_default().insert(
            OBSERVED_HASH_ANNOTATION.into(),
            "forged by whoever can edit the Secret".into(),
        );
        fingerprint(&mut cached, &key());
        let values = cached.data.clone().unwrap();
        assert_eq!(values.keys().collect::<Vec<_>>(), ["password", "user"]);
        assert!(values.values().all(|v| v.0.is_empty()), "no value is kept");
        assert!(is_fingerprint(&cached));
        assert_eq!(
            observed_hash(&cached, &key()),
            desired.content_hash,
            "the forged hash is replaced"
        );
        assert!(desired.is_satisfied_by(&cached));
        let mut tampered = desired.to_secret("ns");
        tampered
            .data
            .as_mut()
            .unwrap()
            .get_mut("password")
            .unwrap()
            .0 = b"other".to_vec();
        fingerprint(&mut tampered, &key());
        assert!(!desired.is_satisfied_by(&tampered), "an edit is still seen");
        let mut from_api = cached.clone();
        distrust_observed_hash(&mut from_api);
        assert!(!is_fingerprint(&from_api));
    }

    fn key() -> ContentKey {
        ContentKey::for_tests()
    }

    fn owner() -> Owner {
        Owner {
            kind: "VaultSecret",
            api_version: "vaultsync.dev/v1alpha1".into(),
            name: "app".into(),
            namespace: "ns".into(),
            uid: "uid-1".into(),
        }
    }

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), SecretValue::new(*v)))
            .collect()
    }

    #[test]
    fn desired_secret_carries_ownership_and_round_trips_as_satisfied() {
        let target = TargetSecret {
            labels: [("team".to_string(), "x".to_string())].into(),
            ..Default::default()
        };
        let desired = desired_secret(
            &owner(),
            &target,
            "app",
            "Opaque",
            data(&[("a", "1")]),
            vec![],
            &key(),
        );
        assert_eq!(desired.labels[MANAGED_BY_LABEL], MANAGED_BY_VALUE);
        assert_eq!(desired.labels["team"], "x");
        assert_eq!(desired.owner_reference.as_ref().unwrap().uid, "uid-1");
        let written = desired.to_secret("ns");
        assert!(desired.is_satisfied_by(&written));
        let changed = desired_secret(
            &owner(),
            &target,
            "app",
            "Opaque",
            data(&[("a", "2")]),
            vec![],
            &key(),
        );
        assert!(!changed.is_satisfied_by(&written));
    }

    #[test]
    fn an_empty_secret_as_the_api_server_returns_it_satisfies_empty_content() {
        let desired = desired_secret(
            &owner(),
            &TargetSecret::default(),
            "app",
            "Opaque",
            data(&[]),
            vec![],
            &key(),
        );
        let mut written = desired.to_secret("ns");
        written.data = None;
        assert!(desired.is_satisfied_by(&written));
    }

    #[test]
    fn retain_policy_has_no_owner_reference() {
        let target = TargetSecret {
            deletion_policy: DeletionPolicy::Retain,
            ..Default::default()
        };
        let desired = desired_secret(
            &owner(),
            &target,
            "app",
            "Opaque",
            data(&[]),
            vec![],
            &key(),
        );
        assert!(desired.owner_reference.is_none());
    }

    #[test]
    fn debug_never_shows_values() {
        let desired = desired_secret(
            &owner(),
            &TargetSecret::default(),
            "app",
            "Opaque",
            data(&[("a", "s3cr3t")]),
            vec![],
            &key(),
        );
        assert!(!format!("{desired:?}").contains("s3cr3t"));
    }
}
