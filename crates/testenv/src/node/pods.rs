//! Waiting for pods on the test nodes, with an error that says why they are not Ready and which
//! kubelet log to read.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::{Api, Client};

use super::Node;
use crate::StartError;

/// Whether the pod is Running, not being deleted, and its Ready condition is True.
pub fn pod_is_ready(pod: &Pod) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    status.phase.as_deref() == Some("Running")
        && pod.metadata.deletion_timestamp.is_none()
        && status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// One line per pod: name, node, phase, readiness, and why a container waits or what it last
/// terminated with (`ErrImageNeverPull`, `CrashLoopBackOff`, ...).
pub fn describe_pods(pods: &[Pod]) -> String {
    if pods.is_empty() {
        return "no pod matches".to_string();
    }
    pods.iter()
        .map(|p| {
            let status = p.status.clone().unwrap_or_default();
            let containers: Vec<String> = status
                .container_statuses
                .iter()
                .flatten()
                .filter_map(|c| {
                    let state = c.state.as_ref()?;
                    if let Some(w) = &state.waiting {
                        return Some(format!(
                            "{} waiting: {} {}",
                            c.name,
                            w.reason.clone().unwrap_or_default(),
                            w.message.clone().unwrap_or_default()
                        ));
                    }
                    let t = c.last_state.as_ref()?.terminated.as_ref()?;
                    Some(format!(
                        "{} restarted {} times, last exit {} {}",
                        c.name,
                        c.restart_count,
                        t.exit_code,
                        t.reason.clone().unwrap_or_default()
                    ))
                })
                .collect();
            let unscheduled = status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
                .and_then(|c| c.message.clone());
            format!(
                "{} on {}: {} ready={}{}{}",
                p.metadata.name.clone().unwrap_or_default(),
                p.spec
                    .as_ref()
                    .and_then(|s| s.node_name.clone())
                    .unwrap_or_else(|| "no node".into()),
                status.phase.unwrap_or_default(),
                pod_is_ready(p),
                unscheduled
                    .map(|m| format!(" unschedulable: {m}"))
                    .unwrap_or_default(),
                if containers.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", containers.join("; "))
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Waits until exactly `count` pods match `selector` in `namespace` and all are Ready.
///
/// On timeout: [`StartError::NotReady`] with step `wait for pods <selector> Ready`, the pods'
/// states as the last problem, and the kubelet log of the node of the first pod that is not
/// Ready (or of the first node, when no pod was scheduled).
pub async fn wait_pods_ready(
    client: &Client,
    namespace: &str,
    selector: &str,
    count: usize,
    nodes: &[&Node],
    timeout: Duration,
) -> Result<Vec<Pod>, StartError> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let deadline = Instant::now() + timeout;
    loop {
        let (pods, problem) = match api.list(&ListParams::default().labels(selector)).await {
            Ok(list) => {
                let pods = list.items;
                if pods.len() == count && pods.iter().all(pod_is_ready) {
                    return Ok(pods);
                }
                let problem = describe_pods(&pods);
                (pods, problem)
            }
            Err(e) => (Vec::new(), e.to_string()),
        };
        if Instant::now() > deadline {
            let stuck_on = pods
                .iter()
                .find(|p| !pod_is_ready(p))
                .and_then(|p| p.spec.as_ref()?.node_name.clone());
            let node = nodes
                .iter()
                .find(|n| Some(n.name()) == stuck_on.as_deref())
                .or(nodes.first());
            return Err(StartError::NotReady {
                step: "wait for pods Ready",
                seconds: timeout.as_secs(),
                last_problem: format!("{namespace}/{selector}: {problem}"),
                log: node.map(|n| n.kubelet_log()).unwrap_or_default(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
