//! The cache of the Secrets vaultsync manages, compact. It keeps of each Secret only what the
//! guard, the apply step and the restart digests read — uid, resourceVersion, type, labels,
//! annotations, owner references and the names of its keys (values are dropped by
//! [`fingerprint`](crate::desired::secret::fingerprint) before) — as packed JSON text, and hands
//! out a `Secret` parsed from it. kube's reflector kept each one whole (about 3 KB per Secret);
//! flat slices of shared and boxed texts took about 670 bytes, the packed text about a third.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher;
use tokio::sync::watch;

use crate::compact::packed::Packed;

/// One cached Secret: what is read of it, as packed JSON (its name and namespace are the key).
struct Compact(Packed);

impl Compact {
    fn of(secret: &Secret) -> Self {
        let meta = &secret.metadata;
        let kept = Secret {
            metadata: ObjectMeta {
                uid: meta.uid.clone(),
                resource_version: meta.resource_version.clone(),
                labels: meta.labels.clone(),
                annotations: meta.annotations.clone(),
                owner_references: meta.owner_references.clone(),
                ..Default::default()
            },
            type_: secret.type_.clone(),
            // Names only, whatever the caller left in the values.
            data: secret.data.as_ref().map(|data| {
                data.keys()
                    .map(|key| (key.clone(), ByteString(Vec::new())))
                    .collect()
            }),
            ..Default::default()
        };
        // A Secret always serializes; an empty text reads back as an empty Secret.
        Compact(Packed::pack(
            &serde_json::to_string(&kept).unwrap_or_default(),
        ))
    }

    fn secret(&self, namespace: &str, name: &str) -> Secret {
        let mut secret: Secret = serde_json::from_str(&self.0.unpack()).unwrap_or_default();
        secret.metadata.name = Some(name.to_string());
        secret.metadata.namespace = Some(namespace.to_string());
        secret
    }
}

type Place = (Box<str>, Box<str>);

fn place_of(secret: &Secret) -> Option<Place> {
    let meta = &secret.metadata;
    Some((
        meta.namespace.as_deref()?.into(),
        meta.name.as_deref()?.into(),
    ))
}

#[derive(Default)]
struct Contents {
    secrets: HashMap<Place, Compact>,
    /// A relist in progress: it replaces `secrets` when complete, so Secrets deleted while the
    /// watch was down leave the cache.
    relist: Option<HashMap<Place, Compact>>,
}

/// The managed Secrets of one watched scope. Cheap to clone.
#[derive(Clone)]
pub struct SecretStore {
    contents: Arc<RwLock<Contents>>,
    ready: watch::Sender<bool>,
}

impl Default for SecretStore {
    fn default() -> Self {
        SecretStore {
            contents: Arc::default(),
            ready: watch::channel(false).0,
        }
    }
}

impl SecretStore {
    /// Applies one event of the Secret watch.
    pub fn apply(&self, event: &watcher::Event<Secret>) {
        let mut contents = self.contents.write().expect("poisoned");
        match event {
            watcher::Event::Init => contents.relist = Some(HashMap::new()),
            watcher::Event::InitApply(secret) => {
                if let (Some(relist), Some(place)) = (contents.relist.as_mut(), place_of(secret)) {
                    relist.insert(place, Compact::of(secret));
                }
            }
            watcher::Event::InitDone => {
                if let Some(relist) = contents.relist.take() {
                    contents.secrets = relist;
                }
                self.ready.send_replace(true);
            }
            watcher::Event::Apply(secret) => {
                if let Some(place) = place_of(secret) {
                    contents.secrets.insert(place, Compact::of(secret));
                }
            }
            watcher::Event::Delete(secret) => {
                if let Some(place) = place_of(secret) {
                    contents.secrets.remove(&place);
                }
            }
        }
    }

    fn get(&self, namespace: &str, name: &str) -> Option<Secret> {
        let contents = self.contents.read().expect("poisoned");
        let place: Place = (namespace.into(), name.into());
        contents
            .secrets
            .get(&place)
            .map(|compact| compact.secret(namespace, name))
    }

    async fn wait_until_ready(&self) {
        let mut ready = self.ready.subscribe();
        let _ = ready.wait_for(|ready| *ready).await;
    }
}

/// The managed-Secret caches of every watched scope (one for all namespaces, or one per listed
/// namespace).
#[derive(Clone, Default)]
pub struct SecretCache {
    stores: Vec<SecretStore>,
}

impl SecretCache {
    /// Looks in these stores.
    pub fn new(stores: Vec<SecretStore>) -> Self {
        SecretCache { stores }
    }

    /// The cached Secret `namespace/name`, if vaultsync manages it (values empty).
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        self.stores
            .iter()
            .find_map(|store| store.get(namespace, name))
            .map(Arc::new)
    }

    /// Waits until every store has its initial listing.
    pub async fn wait_until_ready(&self) {
        for store in &self.stores {
            store.wait_until_ready().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use std::collections::BTreeMap;

    fn secret(name: &str, rv: &str) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(format!("uid-{name}")),
                resource_version: Some(rv.into()),
                labels: Some(BTreeMap::from([("a".to_string(), "b".to_string())])),
                annotations: Some(BTreeMap::from([("c".to_string(), "d".to_string())])),
                owner_references: Some(vec![OwnerReference {
                    kind: "VaultSecret".into(),
                    name: "app".into(),
                    uid: "u1".into(),
                    controller: Some(true),
                    ..Default::default()
                }]),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            data: Some(BTreeMap::from([("k".to_string(), ByteString(Vec::new()))])),
            ..Default::default()
        }
    }

    #[test]
    fn a_cached_secret_is_given_back_as_it_was_stored() {
        let store = SecretStore::default();
        let cache = SecretCache::new(vec![store.clone()]);
        store.apply(&watcher::Event::Apply(secret("s", "1")));
        assert_eq!(*cache.get("ns", "s").unwrap(), secret("s", "1"));
        assert!(cache.get("ns", "other").is_none());
        assert!(cache.get("other", "s").is_none());
        store.apply(&watcher::Event::Delete(secret("s", "1")));
        assert!(cache.get("ns", "s").is_none());
    }

    #[test]
    fn values_are_never_kept() {
        let store = SecretStore::default();
        let cache = SecretCache::new(vec![store.clone()]);
        let mut with_value = secret("s", "1");
        with_value.data = Some(BTreeMap::from([(
            "k".to_string(),
            ByteString(b"hunter2".to_vec()),
        )]));
        store.apply(&watcher::Event::Apply(with_value));
        assert_eq!(*cache.get("ns", "s").unwrap(), secret("s", "1"));
    }

    #[tokio::test]
    async fn a_relist_replaces_the_contents_and_makes_the_cache_ready() {
        let store = SecretStore::default();
        let cache = SecretCache::new(vec![store.clone()]);
        store.apply(&watcher::Event::Apply(secret("gone", "1")));
        store.apply(&watcher::Event::Init);
        store.apply(&watcher::Event::InitApply(secret("kept", "2")));
        // Until the relist is complete, the cache answers from what it had.
        assert!(cache.get("ns", "gone").is_some());
        assert!(cache.get("ns", "kept").is_none());
        store.apply(&watcher::Event::InitDone);
        cache.wait_until_ready().await;
        assert!(cache.get("ns", "gone").is_none());
        assert_eq!(
            cache
                .get("ns", "kept")
                .unwrap()
                .metadata
                .resource_version
                .as_deref(),
            Some("2")
        );
    }
}
