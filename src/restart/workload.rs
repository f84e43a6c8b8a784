//! The three workload kinds seen through one lens: what they consume, what digest they record,
//! whether they are paused, how their rollout stands, and how to patch them.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ObjectReference, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Api, Client, Resource};
use serde_json::json;

use super::progress::{Progress, daemon_set_progress, deployment_progress, stateful_set_progress};
use super::{DIGEST_ANNOTATION, RESTARTED_AT_ANNOTATION, SECRETS_ANNOTATION};

/// A workload kind that can opt in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 DaemonSet.
    DaemonSet,
}

impl WorkloadKind {
    /// The Kubernetes kind name, also the `kind` label of the restart metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
        }
    }
}

/// Identifies one workload.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkloadKey {
    /// Its kind.
    pub kind: WorkloadKind,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl std::fmt::Display for WorkloadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind.as_str(), self.namespace, self.name)
    }
}

/// What the restart controller needs to know of one opted-in workload.
#[derive(Clone, Debug)]
pub struct WorkloadView {
    /// Which workload.
    pub key: WorkloadKey,
    /// The Secrets it follows: the explicit annotation's list, or those its pod template reads.
    pub consumed: BTreeSet<String>,
    /// The digest last acted upon: the workload's own annotation, else the pod template's.
    pub recorded_digest: Option<String>,
    /// A paused Deployment.
    pub paused: bool,
    /// How its rollout stands.
    pub progress: Progress,
    /// When vaultsync last restarted it, if it did.
    pub restarted_at: Option<jiff::Timestamp>,
    /// `metadata.generation`.
    pub generation: i64,
    /// Reference for Events.
    pub reference: ObjectReference,
}

fn view(
    kind: WorkloadKind,
    meta: &ObjectMeta,
    template: Option<&PodTemplateSpec>,
    paused: bool,
    progress: Progress,
    reference: ObjectReference,
) -> WorkloadView {
    let annotations = meta.annotations.clone().unwrap_or_default();
    let consumed = match annotations.get(SECRETS_ANNOTATION) {
        Some(list) => super::consumed::explicit_secrets(list),
        None => template
            .and_then(|t| t.spec.as_ref())
            .map(super::consumed::consumed_secrets)
            .unwrap_or_default(),
    };
    let template_digest = template
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(DIGEST_ANNOTATION))
        .cloned();
    WorkloadView {
        key: WorkloadKey {
            kind,
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
        },
        consumed,
        recorded_digest: annotations
            .get(DIGEST_ANNOTATION)
            .cloned()
            .or(template_digest),
        paused,
        progress,
        restarted_at: annotations
            .get(RESTARTED_AT_ANNOTATION)
            .and_then(|at| at.parse().ok()),
        generation: meta.generation.unwrap_or(0),
        reference,
    }
}

/// The view of a Deployment.
pub fn deployment_view(deployment: &Deployment) -> WorkloadView {
    let spec = deployment.spec.as_ref();
    view(
        WorkloadKind::Deployment,
        &deployment.metadata,
        spec.map(|s| &s.template),
        spec.and_then(|s| s.paused) == Some(true),
        deployment_progress(deployment),
        deployment.object_ref(&()),
    )
}

/// The view of a StatefulSet.
pub fn stateful_set_view(set: &StatefulSet) -> WorkloadView {
    view(
        WorkloadKind::StatefulSet,
        &set.metadata,
        set.spec.as_ref().map(|s| &s.template),
        false,
        stateful_set_progress(set),
        set.object_ref(&()),
    )
}

/// The view of a DaemonSet.
pub fn daemon_set_view(set: &DaemonSet) -> WorkloadView {
    view(
        WorkloadKind::DaemonSet,
        &set.metadata,
        set.spec.as_ref().map(|s| &s.template),
        false,
        daemon_set_progress(set),
        set.object_ref(&()),
    )
}

/// The merge patch that records `digest` on the workload and, when `restart`, also in its pod
/// template (which starts a rollout) with the time of the restart.
pub fn digest_patch(digest: &str, restart: Option<jiff::Timestamp>) -> serde_json::Value {
    match restart {
        None => json!({"metadata": {"annotations": {DIGEST_ANNOTATION: digest}}}),
        Some(at) => json!({
            "metadata": {"annotations": {
                DIGEST_ANNOTATION: digest,
                RESTARTED_AT_ANNOTATION: at.to_string(),
            }},
            "spec": {"template": {"metadata": {"annotations": {DIGEST_ANNOTATION: digest}}}}
        }),
    }
}

/// Applies `patch` to the workload `key`; returns its new generation.
pub async fn patch(
    client: &Client,
    key: &WorkloadKey,
    patch: &serde_json::Value,
) -> Result<i64, kube::Error> {
    let params = kube::api::PatchParams::default();
    let patch = kube::api::Patch::Merge(patch);
    let ns = &key.namespace;
    let meta = match key.kind {
        WorkloadKind::Deployment => {
            let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
            api.patch(&key.name, &params, &patch).await?.metadata
        }
        WorkloadKind::StatefulSet => {
            let api: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
            api.patch(&key.name, &params, &patch).await?.metadata
        }
        WorkloadKind::DaemonSet => {
            let api: Api<DaemonSet> = Api::namespaced(client.clone(), ns);
            api.patch(&key.name, &params, &patch).await?.metadata
        }
    };
    Ok(meta.generation.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(value: serde_json::Value) -> Deployment {
        serde_json::from_value(value).expect("a Deployment")
    }

    #[test]
    fn the_explicit_list_replaces_discovery() {
        let spec = json!({"selector": {}, "template": {"spec": {"containers": [
            {"name": "a", "envFrom": [{"secretRef": {"name": "discovered"}}]}
        ]}}});
        let discovered = deployment_view(&deployment(json!({
            "metadata": {"name": "d", "namespace": "n"}, "spec": spec.clone()
        })));
        assert_eq!(
            discovered.consumed,
            BTreeSet::from(["discovered".to_string()])
        );
        let explicit = deployment_view(&deployment(json!({
            "metadata": {"name": "d", "namespace": "n",
                "annotations": {SECRETS_ANNOTATION: "db,api"}},
            "spec": spec
        })));
        assert_eq!(
            explicit.consumed,
            BTreeSet::from(["api".to_string(), "db".to_string()])
        );
    }

    #[test]
    fn the_workload_annotation_wins_over_the_template_one() {
        let spec = |template_digest: &str| {
            json!({"selector": {}, "template": {
                "metadata": {"annotations": {DIGEST_ANNOTATION: template_digest}}, "spec": {"containers": []}
            }})
        };
        let template_only = deployment_view(&deployment(json!({
            "metadata": {"name": "d"}, "spec": spec("t")
        })));
        assert_eq!(template_only.recorded_digest.as_deref(), Some("t"));
        let both = deployment_view(&deployment(json!({
            "metadata": {"name": "d", "annotations": {DIGEST_ANNOTATION: "w"}}, "spec": spec("t")
        })));
        assert_eq!(both.recorded_digest.as_deref(), Some("w"));
    }

    #[test]
    fn a_baseline_touches_only_the_workload_a_restart_also_the_template() {
        let baseline = digest_patch("d1", None);
        assert!(baseline.get("spec").is_none());
        assert_eq!(baseline["metadata"]["annotations"][DIGEST_ANNOTATION], "d1");
        let at: jiff::Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        let restart = digest_patch("d2", Some(at));
        assert_eq!(
            restart["spec"]["template"]["metadata"]["annotations"][DIGEST_ANNOTATION],
            "d2"
        );
        assert_eq!(
            restart["metadata"]["annotations"][RESTARTED_AT_ANNOTATION],
            "2026-01-02T03:04:05Z"
        );
    }
}
