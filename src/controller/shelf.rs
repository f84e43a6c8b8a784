//! The resources of one kind in one scope, each kept as the packed JSON text of its slimmed
//! object: kube-runtime's reflector kept each one parsed (a struct of about 760 bytes plus its
//! texts) under a full `ObjectRef` key, about 1.2 KB per resource; the packed text is a sixth of
//! that. A reconcile parses its resource again, a few microseconds against the vault and API
//! calls it makes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::compact::packed::Packed;

/// Where a resource lives: `namespace/name` in one shared text (neither may contain a slash).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceAt(Arc<str>);

impl ResourceAt {
    /// The resource `name` in `namespace`.
    pub fn new(namespace: &str, name: &str) -> Self {
        Self(format!("{namespace}/{name}").into())
    }

    /// Where `resource` lives.
    pub fn of<K: kube::Resource>(resource: &K) -> Self {
        let meta = resource.meta();
        Self::new(
            meta.namespace.as_deref().unwrap_or_default(),
            meta.name.as_deref().unwrap_or_default(),
        )
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        self.0
            .split_once('/')
            .map_or("", |(namespace, _)| namespace)
    }

    /// The name.
    pub fn name(&self) -> &str {
        self.0.split_once('/').map_or(&*self.0, |(_, name)| name)
    }
}

/// The resources of one kind in one scope, as packed JSON.
#[derive(Default)]
pub struct Shelf {
    by_place: Mutex<HashMap<ResourceAt, Packed>>,
}

impl Shelf {
    /// Keeps `resource` at `at`, replacing what was there.
    pub fn put<K: Serialize>(&self, at: ResourceAt, resource: &K) {
        match serde_json::to_string(resource) {
            Ok(text) => {
                self.lock().insert(at, Packed::pack(&text));
            }
            // Cannot happen for the derived CRD types; a resource that cannot be kept is
            // treated as gone rather than reconciled from an older copy.
            Err(error) => {
                tracing::error!(%error, "a resource could not be kept");
                self.lock().remove(&at);
            }
        }
    }

    /// The resource at `at`, parsed; `None` when it is not kept (deleted).
    pub fn get<K: DeserializeOwned>(&self, at: &ResourceAt) -> Option<K> {
        let text = self.lock().get(at)?.unpack();
        match serde_json::from_str(&text) {
            Ok(resource) => Some(resource),
            Err(error) => {
                tracing::error!(%error, "a kept resource could not be read back");
                None
            }
        }
    }

    /// Drops the resource at `at`; says whether it was kept.
    pub fn remove(&self, at: &ResourceAt) -> bool {
        self.lock().remove(at).is_some()
    }

    /// Drops every resource not in `listed` (a relist's objects) and returns where they were.
    pub fn keep_only(&self, listed: &HashSet<ResourceAt>) -> Vec<ResourceAt> {
        let mut by_place = self.lock();
        let gone: Vec<ResourceAt> = by_place
            .keys()
            .filter(|at| !listed.contains(*at))
            .cloned()
            .collect();
        for at in &gone {
            by_place.remove(at);
        }
        gone
    }

    /// Calls `each` with where every kept resource lives.
    pub fn for_each(&self, mut each: impl FnMut(&ResourceAt)) {
        self.lock().keys().for_each(&mut each);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ResourceAt, Packed>> {
        self.by_place.lock().expect("poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::VaultSecret;

    fn resource(name: &str, generation: i64) -> VaultSecret {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "vaultsync.dev/v1alpha1",
            "kind": "VaultSecret",
            "metadata": {"name": name, "namespace": "team", "uid": "u-1", "generation": generation},
            "spec": {
                "vault": {"url": "https://kv.example/", "serviceAccountName": "reader"},
                "items": [{"key": "a", "name": "s"}],
                "target": {}
            }
        }))
        .expect("valid VaultSecret")
    }

    #[test]
    fn a_place_splits_into_namespace_and_name() {
        let at = ResourceAt::new("team", "web-tls");
        assert_eq!((at.namespace(), at.name()), ("team", "web-tls"));
        assert_eq!(
            ResourceAt::of(&resource("db", 1)),
            ResourceAt::new("team", "db")
        );
    }

    #[test]
    fn a_kept_resource_reads_back_as_its_latest_version() {
        let shelf = Shelf::default();
        let at = ResourceAt::new("team", "db");
        shelf.put(at.clone(), &resource("db", 1));
        shelf.put(at.clone(), &resource("db", 2));
        let back: VaultSecret = shelf.get(&at).expect("kept");
        assert_eq!(
            serde_json::to_value(&back).expect("serializes"),
            serde_json::to_value(resource("db", 2)).expect("serializes")
        );
        assert!(shelf.remove(&at));
        assert!(shelf.get::<VaultSecret>(&at).is_none());
        assert!(!shelf.remove(&at));
    }

    #[test]
    fn a_relist_drops_what_it_no_longer_lists() {
        let shelf = Shelf::default();
        for name in ["a", "b", "c"] {
            shelf.put(ResourceAt::new("team", name), &resource(name, 1));
        }
        let listed: HashSet<_> = [ResourceAt::new("team", "b")].into();
        let mut gone = shelf.keep_only(&listed);
        gone.sort_by(|x, y| x.name().cmp(y.name()));
        assert_eq!(
            gone,
            [ResourceAt::new("team", "a"), ResourceAt::new("team", "c")]
        );
        let mut left = Vec::new();
        shelf.for_each(|at| left.push(at.clone()));
        assert_eq!(left, [ResourceAt::new("team", "b")]);
    }
}
