//! What the controllers watch: resources of one kind filtered to spec and force-refresh changes,
//! and the managed Secrets, routed to the controller of the kind named in their owner annotation.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use futures::channel::mpsc::UnboundedSender;
use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::shelf::ResourceAt;
use crate::crd::{FORCE_REFRESH_ANNOTATION, Synced, VaultCertificate, VaultSecret};
use crate::desired::config_map::secret_view;
use crate::desired::content_key::ContentKey;
use crate::desired::secret::fingerprint;
use crate::desired::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, OWNER_ANNOTATION};
use crate::reconcile::{ObjectKey, Schedule, SecretStore};

/// Where the controllers look: every namespace, or one.
pub type Scope = Option<String>;

/// An API for `K` in `scope`.
pub fn scoped<K>(client: &Client, scope: &Scope) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match scope {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// Objects per page of a watch's initial list.
const LIST_PAGE_SIZE: u32 = 100;

/// A watch whose initial list comes in pages of [`LIST_PAGE_SIZE`] objects: kube-runtime's
/// default of 500 made each restart buffer several megabytes of JSON per watch at once (managed
/// Secrets with their managed fields), a peak the allocator keeps long after.
pub(crate) fn listed_in_small_pages() -> watcher::Config {
    watcher::Config::default().page_size(LIST_PAGE_SIZE)
}

/// The watch of `K` in `scope`, each resource stripped to what reconciles read. Statuses are not
/// kept with the resource: each one seen is handed to `schedule` as JSON text (the schedule keeps
/// the last status per resource anyway, and a parsed status cost about 2 KB per resource).
pub fn resources<K>(
    client: &Client,
    scope: &Scope,
    schedule: Arc<Schedule>,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static
where
    K: Synced
        + Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    watcher(scoped::<K>(client, scope), listed_in_small_pages())
        .default_backoff()
        .map_ok(move |event| slim(event, &schedule))
}

/// The annotation `kubectl apply` keeps a copy of the whole object in.
const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops what no reconcile reads and would otherwise be cached for every resource: managed
/// fields and kubectl's copy of the last applied object (together often larger than the rest).
pub(crate) fn strip_bookkeeping<K: Resource>(resource: &mut K) {
    let meta = resource.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
}

/// Drops the metadata no reconcile of a resource reads: its labels (charts and GitOps tools add
/// several to every object), owners, finalizers, resource version and creation time. Name, namespace, uid,
/// generation and annotations (force refresh) stay.
fn strip_unread_metadata<K: Resource>(resource: &mut K) {
    strip_bookkeeping(resource);
    let meta = resource.meta_mut();
    meta.labels = None;
    meta.owner_references = None;
    meta.finalizers = None;
    meta.resource_version = None;
    meta.generate_name = None;
    meta.creation_timestamp = None;
}

/// Strips an event's resource to what reconciles read, moving an applied status to `schedule`.
fn slim<K: Synced>(mut event: watcher::Event<K>, schedule: &Schedule) -> watcher::Event<K> {
    match &mut event {
        watcher::Event::Apply(resource) | watcher::Event::InitApply(resource) => {
            strip_unread_metadata(resource);
            shelve_status(resource, schedule);
        }
        watcher::Event::Delete(resource) => {
            strip_unread_metadata(resource);
            resource.take_status();
        }
        watcher::Event::Init | watcher::Event::InitDone => {}
    }
    event
}

fn shelve_status<K: Synced>(resource: &mut K, schedule: &Schedule) {
    let Some(status) = resource.take_status() else {
        return;
    };
    if let Ok(text) = serde_json::to_string(&status) {
        let key = ObjectKey::of(resource);
        schedule.observe_status(&key, K::sync_part(&status), text.into_boxed_str());
    }
}

/// A hash of what triggers a reconcile: the generation and the force-refresh annotation.
pub(crate) fn spec_or_force_refresh<K: Resource>(resource: &K) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    resource.meta().generation.hash(&mut hasher);
    resource
        .annotations()
        .get(FORCE_REFRESH_ANNOTATION)
        .hash(&mut hasher);
    hasher.finish()
}

/// The changes of the managed Secrets of one scope.
pub type SecretEvents = futures::stream::BoxStream<'static, Result<Secret, watcher::Error>>;

/// A cached watch of the Secrets vaultsync manages (label-selected: nothing else is cached).
pub fn managed_secrets(
    client: &Client,
    scope: &Scope,
    content_key: ContentKey,
) -> (SecretStore, SecretEvents) {
    let store = SecretStore::default();
    let selector =
        listed_in_small_pages().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"));
    let cache = store.clone();
    let events = watcher(scoped::<Secret>(client, scope), selector)
        .default_backoff()
        .modify(move |secret| fingerprint(secret, &content_key))
        .inspect_ok(move |event| cache.apply(event))
        .touched_objects()
        .boxed();
    (store, events)
}

/// The changes of the ConfigMaps vaultsync manages (trust bundles), in the Secret shape and
/// without their data: only the owner annotation is needed to route them. Nothing is cached.
pub fn managed_config_maps(client: &Client, scope: &Scope) -> SecretEvents {
    let selector =
        listed_in_small_pages().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"));
    watcher(scoped::<ConfigMap>(client, scope), selector)
        .default_backoff()
        .touched_objects()
        .map_ok(|config_map| {
            secret_view(ConfigMap {
                metadata: config_map.metadata,
                ..Default::default()
            })
        })
        .boxed()
}

/// Channels to the controller of each kind.
#[derive(Clone)]
pub struct Routes {
    /// To the VaultSecret controller.
    pub vault_secrets: UnboundedSender<ResourceAt>,
    /// To the VaultCertificate controller.
    pub vault_certificates: UnboundedSender<ResourceAt>,
}

/// Sends each changed or deleted managed Secret to the controller of its owner, so an edited or
/// deleted Secret is restored. Runs until the watch ends.
pub async fn route(
    secrets: impl Stream<Item = Result<Secret, watcher::Error>> + Send,
    routes: Routes,
) {
    let mut secrets = std::pin::pin!(secrets);
    while let Some(event) = secrets.next().await {
        let Ok(secret) = event else { continue };
        let Some((kind, name, namespace)) = owner_of(&secret) else {
            continue;
        };
        routes.send(&kind, ResourceAt::new(&namespace, &name));
    }
}

impl Routes {
    /// Sends `at` to the controller of `kind`; nothing for another kind.
    pub fn send(&self, kind: &str, at: ResourceAt) {
        // A closed channel means that controller stopped; shutdown is under way.
        if kind == VaultSecret::KIND {
            let _ = self.vault_secrets.unbounded_send(at);
        } else if kind == VaultCertificate::KIND {
            let _ = self.vault_certificates.unbounded_send(at);
        }
    }
}

/// `(kind, name, namespace)` of the resource named in a Secret's owner annotation.
fn owner_of(secret: &Secret) -> Option<(String, String, String)> {
    let owner = secret.annotations().get(OWNER_ANNOTATION)?;
    let (kind, name) = owner.split_once('/')?;
    Some((kind.to_string(), name.to_string(), secret.namespace()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn owner_annotation_names_kind_and_name() {
        let secret = Secret {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                annotations: Some(
                    [(
                        OWNER_ANNOTATION.to_string(),
                        "VaultCertificate/web".to_string(),
                    )]
                    .into(),
                ),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            owner_of(&secret),
            Some(("VaultCertificate".into(), "web".into(), "ns".into()))
        );
        assert_eq!(owner_of(&Secret::default()), None);
    }
}
