//! Rollout restarts of running pods: the operator installed with `helm install` and
//! `restarts.enabled` on two kubelet nodes; 20 opted-in Deployments read a password from env.
//! One rotation restarts all 20 with never more than 3 rollouts in progress (the cap), seen
//! through the Deployments' status; every new pod prints the new value from inside itself.
//!
//! Needs root, containerd and runc (hack/test.sh runs hack/ensure-node.sh).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::ListParams;
use kube::{Api, Client};
use serde_json::json;
use vaultsync::restart::{Progress, deployment_progress};
use vaultsync_emulator::{Permission, SecretOptions};

use support::node::{
    APP_IMAGE, Cluster, NS, OPERATOR_PODS, TENANT, build_images, eventually, http_get, pods,
};

const APPS_NS: &str = "apps";
const VAULT: &str = "apps";
const CLIENT_ID: &str = "5e1f0000-0000-4000-8000-000000000011";
const WORKLOADS: usize = 20;
const CAP: usize = 3;
const GROUP: &str = "restart-group=env-readers";
const DIGEST: &str = "vaultsync.dev/restart-digest";
const FIRST: &str = "env-first-31d7";
const ROTATED: &str = "env-rotated-c84e";

fn reader(index: usize) -> String {
    let name = format!("reader-{index:02}");
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name, "namespace": APPS_NS,
            "labels": {"vaultsync.dev/restart-on-change": "true"},
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "restart-group": "env-readers"}},
                "spec": {
                    "hostNetwork": true,
                    "automountServiceAccountToken": false,
                    "terminationGracePeriodSeconds": 1,
                    "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532},
                    "containers": [{
                        "name": "app", "image": APP_IMAGE, "imagePullPolicy": "Never",
                        "command": ["/bin/sh", "-c", "echo \"env:$PASSWORD\"; exec sleep 100000"],
                        "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
                        "securityContext": {"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false},
                    }],
                }
            }
        }
    })
    .to_string()
}

async fn readers(client: &Client) -> Vec<Deployment> {
    Api::<Deployment>::namespaced(client.clone(), APPS_NS)
        .list(&ListParams::default().labels("vaultsync.dev/restart-on-change=true"))
        .await
        .expect("list Deployments")
        .items
}

fn digest_of(deployment: &Deployment, in_template: bool) -> Option<String> {
    let annotations = if in_template {
        deployment
            .spec
            .as_ref()?
            .template
            .metadata
            .as_ref()?
            .annotations
            .as_ref()
    } else {
        deployment.metadata.annotations.as_ref()
    };
    annotations?.get(DIGEST).cloned()
}

/// Sum of `metric` over both operator pods' `/metrics` (the standby reports zeros).
async fn operator_metric(client: &Client, metric: &str) -> f64 {
    let mut sum = 0.0;
    for pod in pods(client, NS, OPERATOR_PODS).await {
        let ip = pod.status.and_then(|s| s.pod_ip).unwrap_or_default();
        let body = http_get(&format!("{ip}:8080"), "/metrics").unwrap_or_default();
        sum += body
            .lines()
            .filter(|l| l.starts_with(metric))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    sum
}

#[tokio::test]
async fn twenty_running_deployments_restart_under_a_cap_of_three_and_read_the_new_value() {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_vaultsync"));
    let images = tokio::task::spawn_blocking(move || build_images(binary))
        .await
        .unwrap();
    let cluster = Cluster::start(images, Duration::from_secs(2)).await;
    let client = cluster.client().await;
    let hint = cluster.logs_hint();

    let control = &cluster.emulator.control;
    control.create_vault(VAULT, TENANT);
    control.register_app(TENANT, CLIENT_ID);
    control.add_federated_credential(
        CLIENT_ID,
        cluster.plane.issuer(),
        &format!("system:serviceaccount:{APPS_NS}:app"),
    );
    control.assign_role(
        CLIENT_ID,
        VAULT,
        &[Permission::SecretsRead, Permission::List],
    );
    let set = |value: &str| {
        control
            .set_secret(
                VAULT,
                "db-password",
                value,
                SecretOptions {
                    enabled: true,
                    ..Default::default()
                },
            )
            .unwrap()
    };
    set(FIRST);

    cluster.kubectl_ok("create namespace", &["create", "namespace", APPS_NS], "");
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/vaultsync");
    cluster.install_chart_with(
        chart,
        json!({"restarts": {
            "enabled": true, "paused": false, "debounce": "2s",
            "maxInProgress": CAP, "maxInProgressPerNamespace": CAP, "progressDeadline": "10m",
        }}),
    );
    cluster
        .ready_operator_pods(&client, "operator pods Running and Ready")
        .await;
    let url = cluster.emulator.vault_url(VAULT);
    let resources = format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: {APPS_NS}\n  annotations:\n    azure.workload.identity/client-id: {CLIENT_ID}\n---\n\
         apiVersion: vaultsync.dev/v1alpha1\nkind: VaultSecret\nmetadata:\n  name: db\n  namespace: {APPS_NS}\nspec:\n  vault:\n    url: {url}\n    serviceAccountName: app\n  data:\n  - key: password\n    name: db-password\n"
    );
    cluster.kubectl_ok("apply the VaultSecret", &["apply", "-f", "-"], &resources);
    let manifests: Vec<String> = (0..WORKLOADS).map(reader).collect();
    cluster.kubectl_ok(
        "apply the readers",
        &["apply", "-f", "-"],
        &manifests.join("\n---\n"),
    );
    let first_pods = cluster
        .ready_pods(
            &client,
            APPS_NS,
            GROUP,
            WORKLOADS,
            "the 20 readers Running and Ready",
        )
        .await;
    let first_log = cluster.kubectl_ok(
        "read a reader's log",
        &[
            "logs",
            "-n",
            APPS_NS,
            first_pods[0].metadata.name.as_deref().unwrap(),
        ],
        "",
    );
    assert!(first_log.contains(&format!("env:{FIRST}")), "{first_log}");
    let baseline = eventually(
        "a baseline digest on all 20",
        Duration::from_secs(60),
        &hint,
        || async {
            let all = readers(&client).await;
            let digests: Vec<Option<String>> = all.iter().map(|d| digest_of(d, false)).collect();
            match digests.iter().flatten().next() {
                Some(first)
                    if digests.len() == WORKLOADS
                        && digests.iter().all(|d| d.as_ref() == Some(first)) =>
                {
                    Ok(first.clone())
                }
                _ => Err(format!("{digests:?}")),
            }
        },
    )
    .await;

    // Recording the baseline changed the Deployments' annotations, which bumps a Deployment's
    // generation: wait until every first rollout and that generation are complete.
    eventually(
        "the first rollouts complete",
        Duration::from_secs(120),
        &hint,
        || async {
            let rolling: Vec<String> = readers(&client)
                .await
                .iter()
                .filter(|d| deployment_progress(d) != Progress::Complete)
                .filter_map(|d| d.metadata.name.clone())
                .collect();
            if rolling.is_empty() {
                Ok(())
            } else {
                Err(format!("still rolling: {rolling:?}"))
            }
        },
    )
    .await;

    // Watch every reader's status while the rotation rolls them.
    let most = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let observer = tokio::spawn({
        let (client, most, done) = (client.clone(), most.clone(), done.clone());
        async move {
            while !done.load(Ordering::Relaxed) {
                let rolling = readers(&client)
                    .await
                    .iter()
                    .filter(|d| deployment_progress(d) == Progress::InProgress)
                    .count();
                most.fetch_max(rolling, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });

    set(ROTATED);
    cluster.kubectl_ok(
        "force a refresh",
        &[
            "annotate",
            "--overwrite",
            "vaultsecret",
            "db",
            "-n",
            APPS_NS,
            "vaultsync.dev/force-refresh=rotation",
        ],
        "",
    );
    eventually(
        "all 20 rolled out with the new digest",
        Duration::from_secs(240),
        &hint,
        || async {
            let all = readers(&client).await;
            let finished = all
                .iter()
                .filter(|d| {
                    digest_of(d, true).is_some_and(|t| t != baseline)
                        && deployment_progress(d) == Progress::Complete
                })
                .count();
            let seen = most.load(Ordering::Relaxed);
            if finished == WORKLOADS {
                Ok(())
            } else {
                Err(format!(
                    "{finished} of {WORKLOADS} finished; at most {seen} in progress so far"
                ))
            }
        },
    )
    .await;
    done.store(true, Ordering::Relaxed);
    observer.await.unwrap();
    let most = most.load(Ordering::Relaxed);
    eprintln!("figure: at most {most} of {WORKLOADS} rollouts in progress at once (cap {CAP})");
    assert!(
        most <= CAP,
        "{most} rollouts were in progress at once; the cap is {CAP}"
    );
    assert!(
        most >= 2,
        "the rollouts ran in parallel up to the cap (seen {most})"
    );
    assert_eq!(
        operator_metric(&client, "vaultsync_restarts_triggered_total").await,
        WORKLOADS as f64
    );
    assert!(
        operator_metric(&client, "vaultsync_restarts_deferred_total").await
            >= (WORKLOADS - CAP) as f64
    );

    // Each new pod read the new value at its start, from env.
    let new_pods = cluster
        .ready_pods(
            &client,
            APPS_NS,
            GROUP,
            WORKLOADS,
            "the 20 new readers Ready",
        )
        .await;
    for pod in &new_pods {
        let name = pod.metadata.name.as_deref().unwrap();
        assert!(
            first_pods
                .iter()
                .all(|p| p.metadata.name.as_deref() != Some(name)),
            "{name} is new"
        );
        let log = cluster.kubectl_ok(
            "read a new reader's log",
            &["logs", "-n", APPS_NS, name],
            "",
        );
        assert!(log.contains(&format!("env:{ROTATED}")), "{name}: {log}");
    }

    // No value in Events, the operator's logs or metrics, or the workloads.
    let events = cluster.kubectl_ok(
        "events",
        &["get", "events", "-n", APPS_NS, "-o", "json"],
        "",
    );
    assert!(
        events.contains("RolloutRestarted"),
        "restart Events are written"
    );
    let workloads = cluster.kubectl_ok(
        "workloads",
        &["get", "deployments", "-n", APPS_NS, "-o", "json"],
        "",
    );
    let mut operator_output = String::new();
    for pod in pods(&client, NS, OPERATOR_PODS).await {
        let name = pod.metadata.name.clone().unwrap();
        operator_output += &cluster.kubectl_ok("operator log", &["logs", "-n", NS, &name], "");
        let ip = pod.status.and_then(|s| s.pod_ip).unwrap_or_default();
        operator_output += &http_get(&format!("{ip}:8080"), "/metrics").unwrap_or_default();
    }
    for value in [FIRST, ROTATED] {
        for (place, text) in [
            ("Events", &events),
            ("workloads", &workloads),
            ("operator logs and metrics", &operator_output),
        ] {
            assert!(!text.contains(value), "a secret value leaked into {place}");
        }
    }
}
