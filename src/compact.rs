//! Compact forms of what is kept per managed object between reconciles. Every Secret written
//! repeats the same label and annotation keys, owner API version and kind, and type: kept once
//! per process ([`shared`]) instead of once per kept Secret. Each small string costs a heap
//! block of at least 32 bytes, so a Secret's dozen of them added up. JSON kept per object (the
//! resources, their statuses, the cached Secrets) is [`packed`].

pub mod packed;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// Most distinct strings shared: beyond it (someone gives each Secret its own label keys) each
/// string is kept by its holder alone, so the pool cannot grow without bound.
const MAX_SHARED: usize = 4096;

fn pool() -> &'static Mutex<HashSet<Arc<str>>> {
    static POOL: OnceLock<Mutex<HashSet<Arc<str>>>> = OnceLock::new();
    POOL.get_or_init(Mutex::default)
}

/// `text`, shared with every other holder of the same text (up to [`MAX_SHARED`] texts).
/// For vocabulary that repeats across objects (keys, kinds, types), not for values that differ
/// per object (names, uids, hashes, most label values): those would fill the pool.
pub fn shared(text: &str) -> Arc<str> {
    // The pool holds only strings: a panic elsewhere cannot leave it inconsistent.
    let mut pool = pool().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(found) = pool.get(text) {
        return found.clone();
    }
    let text: Arc<str> = Arc::from(text);
    if pool.len() < MAX_SHARED {
        pool.insert(text.clone());
    }
    text
}

/// Labels or annotations: shared keys, values as `V`, in one exactly sized slice.
pub type Pairs<V> = Box<[(Arc<str>, V)]>;

/// `map` as [`Pairs`], with values converted by `value`.
pub fn pairs<V, W>(
    map: &std::collections::BTreeMap<String, V>,
    value: impl Fn(&V) -> W,
) -> Pairs<W> {
    map.iter().map(|(k, v)| (shared(k), value(v))).collect()
}

/// Pairs (shared keys or not) back as a map, with values converted by `value`.
pub fn tree<K: std::ops::Deref<Target = str>, V, W>(
    pairs: &[(K, V)],
    value: impl Fn(&V) -> W,
) -> std::collections::BTreeMap<String, W> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), value(v)))
        .collect()
}

/// An owner reference, its API version and kind shared.
#[derive(Clone, Debug, PartialEq)]
pub struct Owner {
    api_version: Arc<str>,
    kind: Arc<str>,
    name: Box<str>,
    uid: Box<str>,
    controller: Option<bool>,
    block_owner_deletion: Option<bool>,
}

impl From<&OwnerReference> for Owner {
    fn from(owner: &OwnerReference) -> Self {
        Owner {
            api_version: shared(&owner.api_version),
            kind: shared(&owner.kind),
            name: owner.name.as_str().into(),
            uid: owner.uid.as_str().into(),
            controller: owner.controller,
            block_owner_deletion: owner.block_owner_deletion,
        }
    }
}

impl Owner {
    /// The owner reference this was made from.
    pub fn reference(&self) -> OwnerReference {
        OwnerReference {
            api_version: self.api_version.to_string(),
            kind: self.kind.to_string(),
            name: self.name.to_string(),
            uid: self.uid.to_string(),
            controller: self.controller,
            block_owner_deletion: self.block_owner_deletion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_are_kept_once() {
        let a = shared("app.kubernetes.io/managed-by");
        let b = shared(&String::from("app.kubernetes.io/managed-by"));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*shared("other"), "other");
    }

    #[test]
    fn pairs_and_owners_round_trip() {
        let map = std::collections::BTreeMap::from([
            ("team".to_string(), "a".to_string()),
            ("tier".to_string(), "b".to_string()),
        ]);
        let flat = pairs(&map, |v| shared(v));
        assert_eq!(tree(&flat, |v| v.to_string()), map);
        let owner = OwnerReference {
            api_version: "vaultsync.dev/v1alpha1".into(),
            kind: "VaultSecret".into(),
            name: "app".into(),
            uid: "u1".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        assert_eq!(Owner::from(&owner).reference(), owner);
    }
}
