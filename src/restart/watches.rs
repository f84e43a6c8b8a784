//! Label-selected watches of the opted-in workloads: nothing else of the cluster's workloads is
//! listed or cached.

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use super::workload::{
    WorkloadKey, WorkloadKind, WorkloadView, daemon_set_view, deployment_view, stateful_set_view,
};
use super::{OPT_IN_LABEL, OPT_IN_VALUE};
use crate::controller::watches::{Scope, scoped, strip_bookkeeping};

/// The caches of opted-in workloads of every kind and scope.
#[derive(Clone, Default)]
pub struct Workloads {
    deployments: Vec<Store<Deployment>>,
    stateful_sets: Vec<Store<StatefulSet>>,
    daemon_sets: Vec<Store<DaemonSet>>,
}

/// The keys of opted-in workloads as they change (applied, or listed again).
pub type WorkloadChanges = BoxStream<'static, WorkloadKey>;

impl Workloads {
    /// Watches the three kinds in every scope; returns the caches and one stream of changes.
    pub fn watch(client: &Client, scopes: &[Scope]) -> (Self, WorkloadChanges) {
        let mut workloads = Workloads::default();
        let mut changes: Vec<WorkloadChanges> = Vec::new();
        for scope in scopes {
            let (store, stream) = watch::<Deployment>(client, scope, WorkloadKind::Deployment);
            workloads.deployments.push(store);
            changes.push(stream);
            let (store, stream) = watch::<StatefulSet>(client, scope, WorkloadKind::StatefulSet);
            workloads.stateful_sets.push(store);
            changes.push(stream);
            let (store, stream) = watch::<DaemonSet>(client, scope, WorkloadKind::DaemonSet);
            workloads.daemon_sets.push(store);
            changes.push(stream);
        }
        (workloads, futures::stream::select_all(changes).boxed())
    }

    /// Waits until every cache has its first listing.
    pub async fn wait_until_ready(&self) {
        for store in &self.deployments {
            let _ = store.wait_until_ready().await;
        }
        for store in &self.stateful_sets {
            let _ = store.wait_until_ready().await;
        }
        for store in &self.daemon_sets {
            let _ = store.wait_until_ready().await;
        }
    }

    /// Every cached opted-in workload.
    pub fn all(&self) -> Vec<WorkloadView> {
        let deployments = self
            .deployments
            .iter()
            .flat_map(Store::state)
            .map(|d| deployment_view(&d));
        let stateful_sets = self
            .stateful_sets
            .iter()
            .flat_map(Store::state)
            .map(|s| stateful_set_view(&s));
        let daemon_sets = self
            .daemon_sets
            .iter()
            .flat_map(Store::state)
            .map(|s| daemon_set_view(&s));
        deployments
            .chain(stateful_sets)
            .chain(daemon_sets)
            .collect()
    }

    /// The cached workload `key`, if it is (still) opted in.
    pub fn get(&self, key: &WorkloadKey) -> Option<WorkloadView> {
        match key.kind {
            WorkloadKind::Deployment => find(&self.deployments, key).map(|d| deployment_view(&d)),
            WorkloadKind::StatefulSet => {
                find(&self.stateful_sets, key).map(|s| stateful_set_view(&s))
            }
            WorkloadKind::DaemonSet => find(&self.daemon_sets, key).map(|s| daemon_set_view(&s)),
        }
    }
}

fn find<K>(stores: &[Store<K>], key: &WorkloadKey) -> Option<std::sync::Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone,
{
    let reference = ObjectRef::new(&key.name).within(&key.namespace);
    stores.iter().find_map(|store| store.get(&reference))
}

fn watch<K>(client: &Client, scope: &Scope, kind: WorkloadKind) -> (Store<K>, WorkloadChanges)
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let selector = crate::controller::watches::listed_in_small_pages()
        .labels(&format!("{OPT_IN_LABEL}={OPT_IN_VALUE}"));
    let changes = watcher(scoped::<K>(client, scope), selector)
        .default_backoff()
        .modify(strip_bookkeeping::<K>)
        .reflect(writer)
        .touched_objects()
        .filter_map(move |event| futures::future::ready(event.ok().map(|o| key_of(kind, &o))));
    (store, boxed(changes))
}

fn boxed(stream: impl Stream<Item = WorkloadKey> + Send + 'static) -> WorkloadChanges {
    stream.boxed()
}

fn key_of<K: Resource>(kind: WorkloadKind, object: &K) -> WorkloadKey {
    let meta = object.meta();
    WorkloadKey {
        kind,
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
    }
}
