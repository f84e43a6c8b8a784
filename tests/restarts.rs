//! Rollout restarts of consuming workloads on the real control plane: each test runs an
//! operator of its own with `--restarts`, over its own namespace and vault. Deployments have no
//! replicas (no pod runs here), so each rollout completes as soon as its ReplicaSet exists;
//! `tests/restarts_node.rs` covers rollouts of running pods.

mod support;

use std::time::Duration;

use kube::Client;
use support::eventually::{always, check, eventually};
use support::kubectl;
use support::scoped_operator::ScopedOperator;
use support::workloads::{
    OPT_IN, consuming_pod, events_about, manifest, recorded_digest, replica_sets, revisions,
    template_digest, workload,
};
use support::world::{TestNamespace, test_namespace_without_operator};
use vaultsync::crd::{Synced, VaultSecret};
use vaultsync_emulator::Fault;

const SYNC: Duration = Duration::from_secs(60);
/// The tests' debounce window.
const DEBOUNCE: &str = "--restart-debounce=3s";
/// Long enough for a debounced restart to have happened had the operator wanted one.
const QUIET: Duration = Duration::from_secs(6);
const FIRST_PASSWORD: &str = "pw-first-4d1c";
const FIRST_API_KEY: &str = "key-first-9b2e";

/// A namespace with VaultSecrets `db` (key PASSWORD) and `api` (key API_KEY) synced, and an
/// operator serving it with restarts on.
struct Case {
    t: TestNamespace,
    operator: ScopedOperator,
    rotation: u32,
}

impl Case {
    async fn start(prefix: &str, extra: &[&str]) -> Self {
        let t = test_namespace_without_operator(prefix).await;
        t.set("db-password", FIRST_PASSWORD);
        t.set("api-key", FIRST_API_KEY);
        let mut flags = vec!["--restarts", DEBOUNCE];
        flags.extend_from_slice(extra);
        let operator = ScopedOperator::start(&t, &flags);
        t.apply("db", "  data:\n  - key: PASSWORD\n    name: db-password\n");
        t.apply("api", "  data:\n  - key: API_KEY\n    name: api-key\n");
        t.wait_reason("db", "Synced", SYNC).await;
        t.wait_reason("api", "Synced", SYNC).await;
        Case {
            t,
            operator,
            rotation: 0,
        }
    }

    fn client(&self) -> &Client {
        &self.t.client
    }

    fn apply(&self, kind: &str, name: &str, labels: &str, spec: &str) {
        let yaml = manifest(kind, &self.t.ns, name, labels, spec, consuming_pod());
        let out = support::kubectl_apply(&yaml);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Applies an opted-in Deployment without replicas and waits for its baseline digest.
    async fn opted_in_deployment(&self, name: &str) -> String {
        self.apply("Deployment", name, OPT_IN, "  replicas: 0\n");
        self.baseline("Deployment", name).await
    }

    /// Waits until vaultsync recorded a digest on the workload, and returns it.
    async fn baseline(&self, kind: &str, name: &str) -> String {
        let what = format!("a baseline digest on {kind} {name}");
        eventually(&what, SYNC, || async {
            let object = workload(self.client(), &self.t.ns, kind, name).await;
            recorded_digest(&object).ok_or_else(|| {
                format!(
                    "annotations {}\n{}",
                    object["metadata"]["annotations"],
                    self.operator.log_tail()
                )
            })
        })
        .await
    }

    /// Sets a new value of vault secret `vault_name` and waits until Secret `secret` has it.
    async fn rotate(&mut self, vault_name: &str, secret: &str, key: &str, value: &str) -> String {
        let version = self.t.set(vault_name, value);
        self.rotation += 1;
        self.t.force_refresh(
            "vaultsecret",
            secret,
            &format!("rotation-{}", self.rotation),
        );
        let what = format!("Secret {secret} holding the new {key}");
        eventually(&what, SYNC, || async {
            let data = self.t.secret_data(secret).await.unwrap_or_default();
            check(
                data.get(key).map(String::as_str) == Some(value),
                self.operator.log_tail(),
            )
        })
        .await;
        version
    }

    async fn wait_replica_sets(&self, app: &str, count: usize) {
        let what = format!("Deployment {app} having {count} ReplicaSet(s)");
        eventually(&what, SYNC, || async {
            let seen = replica_sets(self.client(), &self.t.ns, app).await;
            check(
                seen == count,
                format!("{seen}\n{}", self.operator.log_tail()),
            )
        })
        .await;
    }

    async fn stays_at_replica_sets(&self, apps: &[&str], count: usize) {
        always("no further rollout", QUIET, || async {
            for app in apps {
                let seen = replica_sets(self.client(), &self.t.ns, app).await;
                if seen != count {
                    return Err(format!(
                        "{app} has {seen} ReplicaSets\n{}",
                        self.operator.log_tail()
                    ));
                }
            }
            Ok(())
        })
        .await;
    }

    fn triggered(&self) -> f64 {
        self.operator
            .metric_sum("vaultsync_restarts_triggered_total", &[])
    }

    /// No secret value in the operator's log, its metrics, the namespace's Events or any
    /// workload.
    fn assert_no_leak(&self, values: &[&str]) {
        let events = kubectl(&["get", "events", "-n", &self.t.ns, "-o", "json"], "");
        let workloads = kubectl(
            &[
                "get",
                "deployments,statefulsets,daemonsets",
                "-n",
                &self.t.ns,
                "-o",
                "json",
            ],
            "",
        );
        let places = [
            ("the operator log", self.operator.log()),
            ("the metrics", self.operator.metrics()),
            (
                "Events",
                String::from_utf8_lossy(&events.stdout).into_owned(),
            ),
            (
                "workloads",
                String::from_utf8_lossy(&workloads.stdout).into_owned(),
            ),
        ];
        for value in values {
            for (place, text) in &places {
                assert!(!text.contains(value), "a secret value leaked into {place}");
            }
        }
    }
}

#[tokio::test]
async fn one_rotation_restarts_once_with_the_new_digest_and_an_event_naming_the_version() {
    let mut case = Case::start("rs-one", &[]).await;
    let baseline = case.opted_in_deployment("web").await;
    let ns = case.t.ns.clone();
    let before = workload(case.client(), &ns, "Deployment", "web").await;
    assert_eq!(template_digest(&before), None, "a baseline is no rollout");
    case.wait_replica_sets("web", 1).await;

    let version = case
        .rotate("db-password", "db", "PASSWORD", "pw-second-77aa")
        .await;
    case.wait_replica_sets("web", 2).await;
    let after = workload(case.client(), &ns, "Deployment", "web").await;
    let digest = template_digest(&after).expect("the new template carries the digest");
    assert_ne!(digest, baseline);
    assert_eq!(recorded_digest(&after), Some(digest.clone()));
    case.stays_at_replica_sets(&["web"], 2).await;
    assert_eq!(case.triggered(), 1.0);

    let events = events_about(case.client(), &ns, "web").await;
    let restarted: Vec<&(String, String)> = events
        .iter()
        .filter(|(reason, _)| reason == "RolloutRestarted")
        .collect();
    assert_eq!(restarted.len(), 1, "{events:?}");
    let note = &restarted[0].1;
    assert!(note.contains("Secret db"), "{note}");
    assert!(
        note.contains(&format!("PASSWORD=db-password@{version}")),
        "{note}"
    );
    case.assert_no_leak(&[FIRST_PASSWORD, FIRST_API_KEY, "pw-second-77aa"]);
}

#[tokio::test]
async fn two_secrets_rotated_two_seconds_apart_restart_once() {
    let mut case = Case::start("rs-two", &[]).await;
    case.opted_in_deployment("web").await;
    case.rotate("db-password", "db", "PASSWORD", "pw-second-2b")
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    case.rotate("api-key", "api", "API_KEY", "key-second-2c")
        .await;
    case.wait_replica_sets("web", 2).await;
    case.stays_at_replica_sets(&["web"], 2).await;
    assert_eq!(case.triggered(), 1.0);
    let events = events_about(case.client(), &case.t.ns, "web").await;
    let (_, note) = events
        .iter()
        .find(|(reason, _)| reason == "RolloutRestarted")
        .expect("a restart Event");
    assert!(
        note.contains("Secret db") && note.contains("Secret api"),
        "{note}"
    );
}

#[tokio::test]
async fn operator_restart_resync_same_content_and_failed_sync_never_restart() {
    let mut case = Case::start("rs-idem", &[]).await;
    case.opted_in_deployment("web").await;
    case.wait_replica_sets("web", 1).await;

    // The operator restarts: it lists everything again and finds the same digests.
    case.operator.restart();
    case.operator
        .wait_logged("restart controller started", 2, SYNC)
        .await;
    case.stays_at_replica_sets(&["web"], 1).await;

    // A resync: vaultsync reads the vault again and finds nothing new.
    case.t.force_refresh("vaultsecret", "db", "resync");
    case.stays_at_replica_sets(&["web"], 1).await;

    // A new vault version with the same value: the Secret's content is unchanged.
    let same = case.t.set("db-password", FIRST_PASSWORD);
    case.t.force_refresh("vaultsecret", "db", "same-value");
    case.t
        .wait_for("db", "the new version", SYNC, |v: &VaultSecret| {
            v.sync_status()
                .is_some_and(|s| s.versions.iter().any(|version| version.version == same))
        })
        .await;
    case.stays_at_replica_sets(&["web"], 1).await;

    // A failed sync keeps the Secret as it was.
    case.t.set("db-password", "pw-never-synced-5e");
    let control = support::world::backdrop().emulator.control();
    control.set_fault(
        &case.t.vault,
        Fault::Status {
            code: 503,
            remaining: None,
        },
    );
    case.t.force_refresh("vaultsecret", "db", "failing");
    case.t
        .wait_for("db", "a failed sync", SYNC, |v: &VaultSecret| {
            support::world::ready_reason(v).is_some_and(|r| r != "Synced")
        })
        .await;
    case.stays_at_replica_sets(&["web"], 1).await;
    assert_eq!(case.triggered(), 0.0);

    // The same operator does restart on a real change.
    control.clear_faults(&case.t.vault);
    case.rotate("db-password", "db", "PASSWORD", "pw-after-5f")
        .await;
    case.wait_replica_sets("web", 2).await;
}

#[tokio::test]
async fn stateful_sets_and_daemon_sets_restart_too() {
    let mut case = Case::start("rs-kinds", &[]).await;
    case.apply(
        "StatefulSet",
        "db-set",
        OPT_IN,
        "  replicas: 0\n  serviceName: db-set\n",
    );
    case.apply("DaemonSet", "agent", OPT_IN, "");
    let set_baseline = case.baseline("StatefulSet", "db-set").await;
    let agent_baseline = case.baseline("DaemonSet", "agent").await;
    let ns = case.t.ns.clone();
    for app in ["db-set", "agent"] {
        let what = format!("{app}'s first ControllerRevision");
        eventually(&what, SYNC, || async {
            let seen = revisions(case.client(), &ns, app).await;
            check(seen == 1, seen)
        })
        .await;
    }
    case.rotate("api-key", "api", "API_KEY", "key-kinds-3a")
        .await;
    for (kind, app, baseline) in [
        ("StatefulSet", "db-set", &set_baseline),
        ("DaemonSet", "agent", &agent_baseline),
    ] {
        let what = format!("{kind} {app} rolled to a new revision");
        eventually(&what, SYNC, || async {
            let seen = revisions(case.client(), &ns, app).await;
            check(seen == 2, format!("{seen}\n{}", case.operator.log_tail()))
        })
        .await;
        let object = workload(case.client(), &ns, kind, app).await;
        let digest = template_digest(&object).expect("a template digest");
        assert_ne!(&digest, baseline);
    }
    assert_eq!(
        case.operator.metric_sum(
            "vaultsync_restarts_triggered_total",
            &["kind=\"StatefulSet\""]
        ),
        1.0
    );
}

#[tokio::test]
async fn paused_skipped_with_an_event_unlabelled_never_patched_unlabelled_later_left_alone() {
    let mut case = Case::start("rs-skip", &[]).await;
    let ns = case.t.ns.clone();
    case.opted_in_deployment("control").await;
    case.apply(
        "Deployment",
        "paused",
        OPT_IN,
        "  replicas: 0\n  paused: true\n",
    );
    case.baseline("Deployment", "paused").await;
    case.apply("Deployment", "bystander", "team: x", "  replicas: 0\n");
    case.opted_in_deployment("leaving").await;
    let out = kubectl(
        &[
            "label",
            "deployment",
            "leaving",
            "-n",
            &ns,
            "vaultsync.dev/restart-on-change-",
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bystander_before = workload(case.client(), &ns, "Deployment", "bystander").await;

    case.rotate("db-password", "db", "PASSWORD", "pw-skip-6c")
        .await;
    case.wait_replica_sets("control", 2).await;
    eventually("the paused Deployment's skip Event", SYNC, || async {
        let events = events_about(case.client(), &ns, "paused").await;
        events
            .iter()
            .find(|(reason, _)| reason == "RestartSkippedPaused")
            .map(|(_, note)| note.clone())
            .ok_or_else(|| format!("{events:?}"))
    })
    .await;
    assert_eq!(
        case.operator.metric_sum(
            "vaultsync_restarts_skipped_total",
            &["reason=\"workload_paused\""]
        ),
        1.0
    );
    let paused = workload(case.client(), &ns, "Deployment", "paused").await;
    assert_eq!(template_digest(&paused), None);
    case.stays_at_replica_sets(&["bystander", "leaving"], 1)
        .await;
    let bystander = workload(case.client(), &ns, "Deployment", "bystander").await;
    assert_eq!(
        bystander["metadata"]["resourceVersion"], bystander_before["metadata"]["resourceVersion"],
        "a workload without the label is never patched"
    );
    assert_eq!(recorded_digest(&bystander), None);
}

#[tokio::test]
async fn the_global_pause_restarts_nothing_and_counts_the_skip() {
    let mut case = Case::start("rs-pause", &["--restarts-paused"]).await;
    case.opted_in_deployment("web").await;
    case.rotate("db-password", "db", "PASSWORD", "pw-pause-8d")
        .await;
    eventually("the skip counted", SYNC, || async {
        let skipped = case.operator.metric_sum(
            "vaultsync_restarts_skipped_total",
            &["reason=\"restarts_paused\""],
        );
        check(skipped == 1.0, case.operator.log_tail())
    })
    .await;
    case.stays_at_replica_sets(&["web"], 1).await;
}

#[tokio::test]
async fn a_rollout_in_progress_holds_the_namespace_cap_until_it_completes() {
    let mut case = Case::start("rs-cap", &["--restart-max-in-progress-per-namespace=1"]).await;
    let ns = case.t.ns.clone();
    // One replica and no node: its rollout stays in progress and holds the only slot.
    case.apply("Deployment", "stuck", "", "  replicas: 1\n");
    case.opted_in_deployment("first").await;
    case.opted_in_deployment("second").await;
    case.rotate("db-password", "db", "PASSWORD", "pw-cap-9e")
        .await;
    // "stuck" is not opted in: it does not count. Opt it in after the rotation's baseline.
    case.wait_replica_sets("first", 2).await;
    case.wait_replica_sets("second", 2).await;

    let out = kubectl(
        &[
            "label",
            "deployment",
            "stuck",
            "-n",
            &ns,
            "vaultsync.dev/restart-on-change=true",
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    case.baseline("Deployment", "stuck").await;
    case.rotate("api-key", "api", "API_KEY", "key-cap-9f").await;
    eventually("both deferred by the namespace cap", SYNC, || async {
        let deferred = case.operator.metric_sum(
            "vaultsync_restarts_deferred_total",
            &["reason=\"namespace\""],
        );
        check(
            deferred >= 2.0,
            format!("{deferred}\n{}", case.operator.log_tail()),
        )
    })
    .await;
    case.stays_at_replica_sets(&["first", "second"], 2).await;

    // The stuck rollout completes (scaled to zero): the deferred restarts go, one at a time.
    let out = kubectl(
        &["scale", "deployment", "stuck", "-n", &ns, "--replicas=0"],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    case.wait_replica_sets("first", 3).await;
    case.wait_replica_sets("second", 3).await;
}

#[tokio::test]
async fn adopting_a_consumed_secret_with_the_same_content_restarts_nothing() {
    let mut case = Case::start("rs-adopt", &[]).await;
    let ns = case.t.ns.clone();
    let legacy = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: legacy\n  namespace: {ns}\n  annotations: {{vaultsync.dev/adopt: VaultSecret/legacy}}\n\
         type: Opaque\nstringData: {{KEY: {FIRST_PASSWORD}}}\n"
    );
    let out = support::kubectl_apply(&legacy);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It follows only `legacy`, which vaultsync does not manage yet: nothing to record.
    let yaml = manifest(
        "Deployment",
        &ns,
        "web",
        OPT_IN,
        "  replicas: 0\n",
        consuming_pod(),
    )
    .replacen(
        "  labels:",
        "  annotations: {vaultsync.dev/restart-secrets: legacy}\n  labels:",
        1,
    );
    let out = support::kubectl_apply(&yaml);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    case.wait_replica_sets("web", 1).await;

    case.t.apply(
        "legacy",
        "  target:\n    creationPolicy: Adopt\n  data:\n  - key: KEY\n    name: db-password\n",
    );
    case.t.wait_reason("legacy", "Synced", SYNC).await;
    case.baseline("Deployment", "web").await;
    case.stays_at_replica_sets(&["web"], 1).await;
    assert_eq!(case.triggered(), 0.0);

    // Once adopted, a rotation restarts it.
    case.rotate("db-password", "legacy", "KEY", "pw-adopted-7b")
        .await;
    case.wait_replica_sets("web", 2).await;
}
