//! Whether a workload's rollout is in progress, read from its status the way `kubectl rollout
//! status` reads it. Pure: the caps count these answers.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Where a workload's rollout stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Its controller has not observed the latest spec, or pods are still being replaced.
    InProgress,
    /// Every replica runs the latest template and is available.
    Complete,
    /// The Deployment exceeded its progress deadline: it no longer holds a slot of the caps.
    DeadlineExceeded,
}

fn observed_latest(meta: &ObjectMeta, observed_generation: Option<i64>) -> bool {
    observed_generation.unwrap_or(0) >= meta.generation.unwrap_or(0)
}

/// A Deployment's rollout: in progress until the new ReplicaSet has every replica available and
/// the old ones are gone; a paused Deployment makes no progress and holds no slot.
pub fn deployment_progress(deployment: &Deployment) -> Progress {
    let spec = deployment.spec.clone().unwrap_or_default();
    let Some(status) = &deployment.status else {
        return Progress::InProgress;
    };
    if !observed_latest(&deployment.metadata, status.observed_generation) {
        return Progress::InProgress;
    }
    let deadline_exceeded = status.conditions.iter().flatten().any(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    if deadline_exceeded {
        return Progress::DeadlineExceeded;
    }
    if spec.paused == Some(true) {
        return Progress::Complete;
    }
    let wanted = spec.replicas.unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if updated < wanted || total > updated || available < updated {
        Progress::InProgress
    } else {
        Progress::Complete
    }
}

/// A StatefulSet's rolling update: in progress until every replica is ready and, beyond any
/// partition, updated. An `OnDelete` StatefulSet never rolls by itself.
pub fn stateful_set_progress(set: &StatefulSet) -> Progress {
    let spec = set.spec.clone().unwrap_or_default();
    let Some(status) = &set.status else {
        return Progress::InProgress;
    };
    if !observed_latest(&set.metadata, status.observed_generation) {
        return Progress::InProgress;
    }
    let strategy = spec.update_strategy.unwrap_or_default();
    if strategy.type_.as_deref() == Some("OnDelete") {
        return Progress::Complete;
    }
    let wanted = spec.replicas.unwrap_or(1);
    if status.ready_replicas.unwrap_or(0) < wanted {
        return Progress::InProgress;
    }
    let partition = strategy
        .rolling_update
        .and_then(|r| r.partition)
        .unwrap_or(0);
    if partition > 0 {
        let updated = status.updated_replicas.unwrap_or(0);
        return if updated < wanted - partition {
            Progress::InProgress
        } else {
            Progress::Complete
        };
    }
    if status.update_revision.is_some() && status.update_revision != status.current_revision {
        Progress::InProgress
    } else {
        Progress::Complete
    }
}

/// A DaemonSet's rolling update: in progress until every scheduled pod is updated and available.
pub fn daemon_set_progress(set: &DaemonSet) -> Progress {
    let spec = set.spec.clone().unwrap_or_default();
    let Some(status) = &set.status else {
        return Progress::InProgress;
    };
    if !observed_latest(&set.metadata, status.observed_generation) {
        return Progress::InProgress;
    }
    let strategy = spec.update_strategy.unwrap_or_default();
    if strategy.type_.as_deref() == Some("OnDelete") {
        return Progress::Complete;
    }
    let desired = status.desired_number_scheduled;
    if status.updated_number_scheduled.unwrap_or(0) < desired
        || status.number_available.unwrap_or(0) < desired
    {
        Progress::InProgress
    } else {
        Progress::Complete
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(value: serde_json::Value) -> Deployment {
        serde_json::from_value(value).expect("a Deployment")
    }

    #[test]
    fn a_deployment_is_in_progress_until_every_new_replica_is_available() {
        let base = json!({
            "metadata": {"generation": 2},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
        });
        assert_eq!(
            deployment_progress(&deployment(base.clone())),
            Progress::Complete
        );
        let mut unobserved = base.clone();
        unobserved["metadata"]["generation"] = json!(3);
        assert_eq!(
            deployment_progress(&deployment(unobserved)),
            Progress::InProgress
        );
        let mut old_pods_left = base.clone();
        old_pods_left["status"]["replicas"] = json!(3);
        assert_eq!(
            deployment_progress(&deployment(old_pods_left)),
            Progress::InProgress
        );
        let mut not_available = base.clone();
        not_available["status"]["availableReplicas"] = json!(1);
        assert_eq!(
            deployment_progress(&deployment(not_available)),
            Progress::InProgress
        );
        let mut not_updated = base.clone();
        not_updated["status"]["updatedReplicas"] = json!(1);
        assert_eq!(
            deployment_progress(&deployment(not_updated.clone())),
            Progress::InProgress
        );
        not_updated["status"]["conditions"] = json!([{
            "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"
        }]);
        assert_eq!(
            deployment_progress(&deployment(not_updated)),
            Progress::DeadlineExceeded
        );
        let no_status =
            json!({"metadata": {"generation": 1}, "spec": {"selector": {}, "template": {}}});
        assert_eq!(
            deployment_progress(&deployment(no_status)),
            Progress::InProgress
        );
    }

    #[test]
    fn a_deployment_scaled_to_zero_completes_at_once() {
        let zero = json!({
            "metadata": {"generation": 4},
            "spec": {"replicas": 0, "selector": {}, "template": {}},
            "status": {"observedGeneration": 4}
        });
        assert_eq!(deployment_progress(&deployment(zero)), Progress::Complete);
    }

    #[test]
    fn a_stateful_set_rolls_until_the_revisions_meet() {
        let set = |status: serde_json::Value| -> StatefulSet {
            serde_json::from_value(json!({
                "metadata": {"generation": 1},
                "spec": {"replicas": 2, "selector": {}, "template": {}, "serviceName": "s"},
                "status": status
            }))
            .unwrap()
        };
        let done = json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2,
            "currentRevision": "r2", "updateRevision": "r2"});
        assert_eq!(stateful_set_progress(&set(done)), Progress::Complete);
        let rolling = json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2,
            "currentRevision": "r1", "updateRevision": "r2"});
        assert_eq!(stateful_set_progress(&set(rolling)), Progress::InProgress);
        let not_ready = json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 1,
            "currentRevision": "r2", "updateRevision": "r2"});
        assert_eq!(stateful_set_progress(&set(not_ready)), Progress::InProgress);
    }

    #[test]
    fn a_daemon_set_rolls_until_every_scheduled_pod_is_updated_and_available() {
        let set = |status: serde_json::Value| -> DaemonSet {
            serde_json::from_value(json!({
                "metadata": {"generation": 1},
                "spec": {"selector": {}, "template": {}},
                "status": status
            }))
            .unwrap()
        };
        let base = json!({"observedGeneration": 1, "desiredNumberScheduled": 2, "currentNumberScheduled": 2,
            "numberMisscheduled": 0, "numberReady": 2, "updatedNumberScheduled": 2, "numberAvailable": 2});
        assert_eq!(daemon_set_progress(&set(base.clone())), Progress::Complete);
        let mut rolling = base.clone();
        rolling["updatedNumberScheduled"] = json!(1);
        assert_eq!(daemon_set_progress(&set(rolling)), Progress::InProgress);
        let mut no_nodes = base;
        for field in [
            "desiredNumberScheduled",
            "currentNumberScheduled",
            "numberReady",
            "updatedNumberScheduled",
            "numberAvailable",
        ] {
            no_nodes[field] = json!(0);
        }
        assert_eq!(daemon_set_progress(&set(no_nodes)), Progress::Complete);
    }
}
