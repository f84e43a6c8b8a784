//! Opted-in workloads for the restart tests: manifests, what their controllers made of them
//! (ReplicaSets, ControllerRevisions), the digests vaultsync recorded and the Events it wrote.

use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::events::v1::Event;
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::{Api, Client};
use serde_json::Value;

/// The opt-in label as `key: value` YAML.
pub const OPT_IN: &str = "vaultsync.dev/restart-on-change: \"true\"";
/// The digest annotation vaultsync writes.
pub const DIGEST: &str = "vaultsync.dev/restart-digest";

/// A workload manifest of `kind` (`Deployment`, `StatefulSet`, `DaemonSet`) named `name`, whose
/// pods are labelled `app: NAME`, with `labels` (YAML flow-map entries, may be empty), and the
/// given spec lines (`replicas`, `paused`...) and pod `spec` (indented for `template.spec`).
pub fn manifest(kind: &str, ns: &str, name: &str, labels: &str, spec: &str, pod: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{{labels}}}\n\
         spec:\n{spec}  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n{pod}"
    )
}

/// A pod spec whose only container reads `PASSWORD` from Secret `db` and every key of Secret
/// `api`, with an image that is never pulled (no pod runs on the bare control plane).
pub fn consuming_pod() -> &'static str {
    "      containers:\n      - name: app\n        image: vaultsync-test/none:never\n        env:\n        - name: PASSWORD\n          valueFrom: {secretKeyRef: {name: db, key: PASSWORD}}\n        envFrom:\n        - secretRef: {name: api}\n"
}

/// A workload of `kind` as JSON.
pub async fn workload(client: &Client, ns: &str, kind: &str, name: &str) -> Value {
    let resource = match kind {
        "Deployment" => ApiResource::erase::<Deployment>(&()),
        "StatefulSet" => ApiResource::erase::<StatefulSet>(&()),
        "DaemonSet" => ApiResource::erase::<DaemonSet>(&()),
        other => panic!("not a workload kind: {other}"),
    };
    let object = Api::<DynamicObject>::namespaced_with(client.clone(), ns, &resource)
        .get(name)
        .await
        .expect("the workload exists");
    serde_json::to_value(object).expect("JSON")
}

/// The digest on the workload's own metadata (its baseline or last restart).
pub fn recorded_digest(workload: &Value) -> Option<String> {
    workload["metadata"]["annotations"][DIGEST]
        .as_str()
        .map(String::from)
}

/// The digest in the workload's pod template (what its pods were started with).
pub fn template_digest(workload: &Value) -> Option<String> {
    workload["spec"]["template"]["metadata"]["annotations"][DIGEST]
        .as_str()
        .map(String::from)
}

/// How many ReplicaSets the Deployment `app` has (one per pod template it rolled out).
pub async fn replica_sets(client: &Client, ns: &str, app: &str) -> usize {
    Api::<ReplicaSet>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("list ReplicaSets")
        .items
        .len()
}

/// How many ControllerRevisions the StatefulSet or DaemonSet `app` has.
pub async fn revisions(client: &Client, ns: &str, app: &str) -> usize {
    Api::<ControllerRevision>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("list ControllerRevisions")
        .items
        .len()
}

/// `(reason, note)` of every Event about the object named `name` in `ns`.
pub async fn events_about(client: &Client, ns: &str, name: &str) -> Vec<(String, String)> {
    Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("list Events")
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
        .collect()
}
