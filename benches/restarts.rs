//! Rollout restart benchmark of the operator binary on a private local control plane and the
//! vault emulator, with W Deployments in the cluster of which O opt in (they consume the managed
//! Secrets `db` and `api`; the others consume `db` without the label).
//!
//! Reports the operator's memory with restarts off, on with none opted in, and on with O opted
//! in; the latency from the Secret write to the first and to the last of the O rollouts starting
//! (default 5 s debounce, caps 10 / 3 per namespace), over R rotations; and the rollouts per
//! workload when `db` and `api` rotate 2 s apart.
//!
//! `cargo bench --bench restarts` (W from VAULTSYNC_BENCH_WORKLOADS, default 5000; O from
//! VAULTSYNC_BENCH_OPTED_IN, default 50; R from VAULTSYNC_BENCH_ROTATIONS, default 5). The W - O
//! others are paused with no replicas, so the control plane does not make W ReplicaSets; the
//! operator never lists them either way.

mod common;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use vaultsync::crd::VaultSecret;
use vaultsync_emulator::{Control, Emulator, EmulatorConfig, Permission, SecretOptions};
use vaultsync_testenv::{ControlPlane, ControlPlaneOptions, Watchdog, guard_pid};

use common::{env_or, rss_kib};

const TENANT: &str = "bench-tenant";
const CLIENT_ID: &str = "bench-client";
const NS: &str = "bench";
const OPT_IN: &str = "vaultsync.dev/restart-on-change";
const DIGEST: &str = "vaultsync.dev/restart-digest";
/// How long each operator process settles before its memory is read.
const SETTLE: Duration = Duration::from_secs(20);

fn kubectl(plane: &ControlPlane, args: &[&str], stdin: &str) {
    let mut child = plane
        .kubectl()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "kubectl {args:?}");
}

fn deployment(index: usize, opted_in: bool) -> Deployment {
    let name = format!("app-{index:05}");
    let labels = if opted_in {
        json!({OPT_IN: "true", "group": "opted-in"})
    } else {
        json!({"group": "bystanders"})
    };
    let env_from = if opted_in {
        json!([{"secretRef": {"name": "api"}}])
    } else {
        json!([])
    };
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 0,
            "paused": !opted_in,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "group": labels["group"]}},
                "spec": {"containers": [{
                    "name": "app", "image": "bench/app:1",
                    "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "PASSWORD"}}}],
                    "envFrom": env_from,
                }]}
            }
        }
    }))
    .unwrap()
}

struct Operator {
    child: Child,
    addr: String,
    _guard: Watchdog,
}

impl Operator {
    async fn start(
        plane: &ControlPlane,
        emulator: &Emulator,
        ca: &std::path::Path,
        restarts: bool,
        log: &str,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(ca.with_file_name(log)).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_vaultsync"))
            .args([
                "run",
                "--kubeconfig",
                plane.kubeconfig_path().to_str().unwrap(),
                "--metrics-addr",
                &addr,
            ])
            .args([
                "--tenant-id",
                TENANT,
                "--authority-host",
                &emulator.authority_host(),
            ])
            .args([
                "--extra-ca-file",
                ca.to_str().unwrap(),
                "--allowed-vault-hosts",
                ".vault.localhost",
                "--allow-loopback-hosts",
            ])
            .args(if restarts {
                &["--restarts"][..]
            } else {
                &[][..]
            })
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let guard = guard_pid(child.id()).unwrap();
        let operator = Operator {
            child,
            addr,
            _guard: guard,
        };
        let began = Instant::now();
        while !operator.get("/readyz").starts_with("HTTP/1.1 200") {
            assert!(
                began.elapsed() < Duration::from_secs(120),
                "the operator never became ready"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        operator
    }

    fn get(&self, path: &str) -> String {
        use std::io::Read;
        let Ok(mut stream) = std::net::TcpStream::connect(&self.addr) else {
            return String::new();
        };
        let _ = write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
        );
        let mut out = String::new();
        let _ = stream.read_to_string(&mut out);
        out
    }

    fn metric(&self, name: &str) -> f64 {
        self.get("/metrics")
            .lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// VmRSS after settling, in MiB.
    async fn settled_rss_mib(&self) -> f64 {
        tokio::time::sleep(SETTLE).await;
        rss_kib(self.child.id(), "VmRSS:") as f64 / 1024.0
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn template_digest(d: &Deployment) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(DIGEST)
        .cloned()
}

async fn opted_in(client: &Client) -> Vec<Deployment> {
    Api::<Deployment>::namespaced(client.clone(), NS)
        .list(&ListParams::default().labels(&format!("{OPT_IN}=true")))
        .await
        .unwrap()
        .items
}

async fn content_hash(client: &Client, name: &str) -> Option<String> {
    let secret = Api::<Secret>::namespaced(client.clone(), NS)
        .get_opt(name)
        .await
        .ok()??;
    secret
        .metadata
        .annotations?
        .get("vaultsync.dev/content-hash")
        .cloned()
}

/// Sets a new value of vault secret `vault_name` and asks for an immediate refresh of `resource`.
async fn rotate(client: &Client, control: &Control, vault_name: &str, resource: &str, value: &str) {
    control
        .set_secret(
            "bench",
            vault_name,
            value,
            SecretOptions {
                enabled: true,
                ..Default::default()
            },
        )
        .unwrap();
    let patch = json!({"metadata": {"annotations": {"vaultsync.dev/force-refresh": value}}});
    Api::<VaultSecret>::namespaced(client.clone(), NS)
        .patch(resource, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// Waits (polling every 10 ms) for the Secret's content hash to change from `before`; returns
/// when that was seen.
async fn secret_written(client: &Client, name: &str, before: &Option<String>) -> Instant {
    let began = Instant::now();
    loop {
        assert!(
            began.elapsed() < Duration::from_secs(120),
            "Secret {name} never changed"
        );
        if content_hash(client, name).await != *before {
            return Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls the opted-in Deployments until every template digest differs from `before`; returns
/// when the first and the last change were seen.
async fn rollouts_started(
    client: &Client,
    before: &[(String, Option<String>)],
) -> (Instant, Instant) {
    let mut first = None;
    let began = Instant::now();
    loop {
        assert!(
            began.elapsed() < Duration::from_secs(300),
            "the rollouts never started"
        );
        let now = opted_in(client).await;
        let changed = before
            .iter()
            .filter(|(name, digest)| {
                now.iter()
                    .find(|d| d.metadata.name.as_ref() == Some(name))
                    .is_some_and(|d| template_digest(d) != *digest)
            })
            .count();
        if changed > 0 && first.is_none() {
            first = Some(Instant::now());
        }
        if changed == before.len() {
            return (first.unwrap(), Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn digests(client: &Client) -> Vec<(String, Option<String>)> {
    opted_in(client)
        .await
        .iter()
        .map(|d| (d.metadata.name.clone().unwrap(), template_digest(d)))
        .collect()
}

async fn replica_sets(client: &Client) -> usize {
    Api::<ReplicaSet>::namespaced(client.clone(), NS)
        .list(&ListParams::default().labels("group=opted-in"))
        .await
        .unwrap()
        .items
        .len()
}

/// Waits until the deployment controller has observed the latest generation of every Deployment:
/// rollouts in progress would otherwise hold the caps while it catches up.
async fn wait_observed(api: &Api<Deployment>, what: &str) {
    let began = Instant::now();
    loop {
        let lagging = api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|d| {
                d.status.as_ref().and_then(|s| s.observed_generation) < d.metadata.generation
            })
            .count();
        if lagging == 0 {
            eprintln!("{what}: {:?}", began.elapsed());
            return;
        }
        assert!(
            began.elapsed() < Duration::from_secs(600),
            "{what}: {lagging} still lagging"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let workloads = env_or::<usize>("VAULTSYNC_BENCH_WORKLOADS", 5000);
    let opted = env_or::<usize>("VAULTSYNC_BENCH_OPTED_IN", 50).min(workloads);
    let rotations = env_or::<usize>("VAULTSYNC_BENCH_ROTATIONS", 5).max(1);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let plane = ControlPlane::start(ControlPlaneOptions::default())
        .await
        .expect("control plane");
    let client = plane.client().await.unwrap();
    kubectl(
        &plane,
        &[
            "apply",
            "-f",
            concat!(env!("CARGO_MANIFEST_DIR"), "/crds/vaultsync.yaml"),
        ],
        "",
    );
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let control = emulator.control().clone();
    control
        .trust_issuer(plane.issuer(), &plane.jwks().await.unwrap())
        .unwrap();
    control.create_vault("bench", TENANT);
    control.register_app(TENANT, CLIENT_ID);
    control.add_federated_credential(
        CLIENT_ID,
        plane.issuer(),
        &format!("system:serviceaccount:{NS}:app"),
    );
    control.assign_role(
        CLIENT_ID,
        "bench",
        &[Permission::SecretsRead, Permission::List],
    );
    for (name, value) in [("db-password", "pw-0"), ("api-key", "key-0")] {
        control
            .set_secret(
                "bench",
                name,
                value,
                SecretOptions {
                    enabled: true,
                    ..Default::default()
                },
            )
            .unwrap();
    }
    let url = emulator.vault_url("bench");
    kubectl(
        &plane,
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NS}}}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: {NS}\n  annotations: {{azure.workload.identity/client-id: {CLIENT_ID}}}\n---\n\
             apiVersion: vaultsync.dev/v1alpha1\nkind: VaultSecret\nmetadata: {{name: db, namespace: {NS}}}\nspec:\n  vault: {{url: '{url}', serviceAccountName: app}}\n  data: [{{key: PASSWORD, name: db-password}}]\n---\n\
             apiVersion: vaultsync.dev/v1alpha1\nkind: VaultSecret\nmetadata: {{name: api, namespace: {NS}}}\nspec:\n  vault: {{url: '{url}', serviceAccountName: app}}\n  data: [{{key: API_KEY, name: api-key}}]\n"
        ),
    );
    let dir = std::env::temp_dir().join(format!("vaultsync-bench-restarts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, emulator.ca_pem()).unwrap();

    // W Deployments, none opted in yet.
    let created = Instant::now();
    let api = Api::<Deployment>::namespaced(client.clone(), NS);
    stream::iter(0..workloads)
        .for_each_concurrent(32, |i| {
            let api = api.clone();
            async move {
                api.create(&PostParams::default(), &deployment(i, false))
                    .await
                    .unwrap();
            }
        })
        .await;
    eprintln!("created {workloads} Deployments in {:?}", created.elapsed());
    wait_observed(&api, "the control plane's first status of every Deployment").await;

    let off = Operator::start(&plane, &emulator, &ca, false, "off.log").await;
    while content_hash(&client, "db").await.is_none()
        || content_hash(&client, "api").await.is_none()
    {
        assert!(
            created.elapsed() < Duration::from_secs(900),
            "the VaultSecrets never synced"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rss_off = off.settled_rss_mib().await;
    off.stop();
    let none = Operator::start(&plane, &emulator, &ca, true, "none.log").await;
    let rss_none = none.settled_rss_mib().await;
    none.stop();

    // O of them opt in (and become ordinary, unpaused Deployments consuming both Secrets).
    for i in 0..opted {
        api.replace(&format!("app-{i:05}"), &PostParams::default(), &{
            let mut d = deployment(i, true);
            d.metadata.resource_version = api
                .get(&format!("app-{i:05}"))
                .await
                .unwrap()
                .metadata
                .resource_version;
            d
        })
        .await
        .unwrap();
    }
    wait_observed(&api, "the control plane observing the opted-in Deployments").await;
    let on = Operator::start(&plane, &emulator, &ca, true, "on.log").await;
    let began = Instant::now();
    while opted_in(&client).await.iter().any(|d| {
        d.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(DIGEST))
            .is_none()
    }) {
        assert!(
            began.elapsed() < Duration::from_secs(120),
            "no baseline digests"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Recording a baseline changes a Deployment's annotations, which bumps its generation.
    wait_observed(&api, "the control plane observing the baselines").await;
    let rss_on = on.settled_rss_mib().await;

    // Latency: one rotation of `db` at a time, which all O consume.
    let mut to_first = Vec::new();
    let mut to_last = Vec::new();
    for r in 1..=rotations {
        let before = digests(&client).await;
        let hash = content_hash(&client, "db").await;
        rotate(&client, &control, "db-password", "db", &format!("pw-{r}")).await;
        let written = secret_written(&client, "db", &hash).await;
        let (first, last) = rollouts_started(&client, &before).await;
        to_first.push((first - written).as_secs_f64());
        to_last.push((last - written).as_secs_f64());
    }

    // Two Secrets rotated 2 s apart.
    let triggered_before = on.metric("vaultsync_restarts_triggered_total");
    let sets_before = replica_sets(&client).await;
    let before = digests(&client).await;
    rotate(&client, &control, "db-password", "db", "pw-two-a").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    rotate(&client, &control, "api-key", "api", "key-two-b").await;
    rollouts_started(&client, &before).await;
    // Longer than the debounce window and the caps' batches: any second rollout would show.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let rollouts = (replica_sets(&client).await - sets_before) as f64 / opted as f64;
    let triggered =
        (on.metric("vaultsync_restarts_triggered_total") - triggered_before) / opted as f64;
    let peak = rss_kib(on.child.id(), "VmHWM:") as f64 / 1024.0;
    on.stop();

    println!(
        "## vaultsync restart benchmark (W = {workloads} Deployments, O = {opted} opted in, R = {rotations})"
    );
    println!("| measure | value |\n|---|---|");
    println!("| operator RSS, restarts off | {rss_off:.1} MiB |");
    println!("| operator RSS, restarts on, none opted in | {rss_none:.1} MiB |");
    println!("| operator RSS, restarts on, {opted} opted in | {rss_on:.1} MiB |");
    println!("| operator peak RSS, {opted} opted in, after the rotations | {peak:.1} MiB |");
    println!(
        "| Secret write -> first rollout start (5 s debounce), median / max | {:.2} s / {:.2} s |",
        median(to_first.clone()),
        to_first.iter().copied().fold(0.0, f64::max)
    );
    println!(
        "| Secret write -> last of {opted} rollouts started (caps 10 / 3 per namespace), median | {:.2} s |",
        median(to_last)
    );
    println!(
        "| rollouts per workload, db and api rotated 2 s apart | {rollouts:.2} (restarts counted: {triggered:.2}) |"
    );
    drop(plane);
}
