//! Scale benchmark of the operator binary on a private local control plane and the vault
//! emulator: time for N VaultSecrets to become Ready, vault requests per resource for the first
//! sync and per idle refresh cycle, peak memory, and memory with 10,000 unrelated Secrets.
//!
//! The same for M VaultCertificates (their own vault, so requests are counted apart): time to
//! Ready and vault requests per certificate for the first sync and per idle refresh cycle.
//!
//! `cargo bench --bench scale` (N from VAULTSYNC_BENCH_N, default 1000; M from
//! VAULTSYNC_BENCH_CERTS, default 200).

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::{Api, Client};
use vaultsync::crd::{
    CertificateRef, SecretItem, Synced, VaultCertificate, VaultCertificateSpec, VaultSecret,
    VaultSecretSpec, VaultSource,
};
use vaultsync_emulator::{CertificateImport, Emulator, EmulatorConfig, Permission, SecretOptions};
use vaultsync_testenv::{ControlPlane, ControlPlaneOptions, guard_pid};

const TENANT: &str = "bench-tenant";
const CLIENT_ID: &str = "bench-client";

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn create_namespace(client: &Client, name: &str) {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
}

async fn ready_count<K>(api: &Api<K>) -> usize
where
    K: Synced + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.list(&ListParams::default())
        .await
        .map(|l| {
            l.items
                .iter()
                .filter(|v| {
                    v.sync_status().is_some_and(|s| {
                        s.conditions
                            .iter()
                            .any(|c| c.type_ == "Ready" && c.reason == "Synced")
                    })
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("VAULTSYNC_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let m: usize = std::env::var("VAULTSYNC_BENCH_CERTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let plane = ControlPlane::start(ControlPlaneOptions::default())
        .await
        .expect("control plane");
    let client = plane.client().await.unwrap();
    let crds = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/vaultsync.yaml");
    assert!(
        plane
            .kubectl()
            .args(["apply", "-f", crds])
            .status()
            .unwrap()
            .success()
    );
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let control = emulator.control().clone();
    control
        .trust_issuer(plane.issuer(), &plane.jwks().await.unwrap())
        .unwrap();
    control.create_vault("bench", TENANT);
    control.register_app(TENANT, CLIENT_ID);
    control.add_federated_credential(CLIENT_ID, plane.issuer(), "system:serviceaccount:bench:app");
    control.assign_role(
        CLIENT_ID,
        "bench",
        &[Permission::SecretsRead, Permission::List],
    );
    for i in 0..n {
        control
            .set_secret(
                "bench",
                &format!("s{i}"),
                &format!("value-{i}"),
                SecretOptions {
                    enabled: true,
                    ..Default::default()
                },
            )
            .unwrap();
    }
    control.create_vault("benchcerts", TENANT);
    control.assign_role(
        CLIENT_ID,
        "benchcerts",
        &[Permission::SecretsRead, Permission::CertificatesRead],
    );
    for i in 0..m {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![format!("c{i}.bench.test")]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("c{i}.bench.test"));
        let cert = params.self_signed(&key).unwrap();
        control
            .import_certificate(
                "benchcerts",
                &format!("c{i}"),
                CertificateImport {
                    pem: Some(format!("{}{}", key.serialize_pem(), cert.pem())),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    create_namespace(&client, "bench").await;
    create_namespace(&client, "unrelated").await;
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some("app".into()),
            annotations: Some(BTreeMap::from([(
                "azure.workload.identity/client-id".to_string(),
                CLIENT_ID.to_string(),
            )])),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<ServiceAccount>::namespaced(client.clone(), "bench")
        .create(&PostParams::default(), &sa)
        .await
        .unwrap();
    // wait for CRD to be served
    let vs: Api<VaultSecret> = Api::namespaced(client.clone(), "bench");
    while vs.list(&ListParams::default()).await.is_err() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let dir = tempfile_dir();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, emulator.ca_pem()).unwrap();
    let log = std::fs::File::create(dir.join("operator.log")).unwrap();
    let mut operator = Command::new(env!("CARGO_BIN_EXE_vaultsync"))
        .args([
            "run",
            "--kubeconfig",
            plane.kubeconfig_path().to_str().unwrap(),
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .args([
            "--tenant-id",
            TENANT,
            "--authority-host",
            &emulator.authority_host(),
            "--extra-ca-file",
            ca.to_str().unwrap(),
            "--allowed-vault-hosts",
            ".vault.localhost",
            "--allow-loopback-hosts",
        ])
        .args(["--vault-requests-per-second", "400"])
        .env("RUST_LOG", "warn")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = operator.id();
    let _guard = guard_pid(pid).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = rss_kib(pid, "VmRSS:");

    control.reset_counters();
    let started = Instant::now();
    let vault_url = emulator.vault_url("bench");
    stream::iter(0..n)
        .for_each_concurrent(16, |i| {
            let vs = vs.clone();
            let vault_url = vault_url.clone();
            async move {
                let resource = VaultSecret::new(
                    &format!("vs{i}"),
                    VaultSecretSpec {
                        on_vault_removal: Default::default(),
                        vault: VaultSource {
                            url: vault_url,
                            service_account_name: "app".into(),
                        },
                        data: vec![SecretItem {
                            key: "value".into(),
                            name: format!("s{i}"),
                            version: None,
                        }],
                        data_from: vec![],
                        target: Default::default(),
                        refresh_interval: "60s".into(),
                    },
                );
                vs.create(&PostParams::default(), &resource).await.unwrap();
            }
        })
        .await;
    let applied = started.elapsed();
    loop {
        if ready_count(&vs).await >= n {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "not all Ready in 15 minutes"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let all_ready = started.elapsed();
    let first_sync = control.counters();
    let first_vault = first_sync.by_vault("bench");
    let first_tokens = first_sync.by_operation("Token");
    let peak_after_sync = rss_kib(pid, "VmHWM:");

    let vc: Api<VaultCertificate> = Api::namespaced(client.clone(), "bench");
    control.reset_counters();
    let cert_started = Instant::now();
    let certs_url = emulator.vault_url("benchcerts");
    stream::iter(0..m)
        .for_each_concurrent(16, |i| {
            let vc = vc.clone();
            let url = certs_url.clone();
            async move {
                let resource = VaultCertificate::new(
                    &format!("vc{i}"),
                    VaultCertificateSpec {
                        vault: VaultSource {
                            url,
                            service_account_name: "app".into(),
                        },
                        certificate: CertificateRef {
                            name: format!("c{i}"),
                            version: None,
                        },
                        target: Default::default(),
                        output: Default::default(),
                        refresh_interval: "60s".into(),
                        renew_before: "720h".into(),
                    },
                );
                vc.create(&PostParams::default(), &resource).await.unwrap();
            }
        })
        .await;
    while ready_count(&vc).await < m {
        assert!(
            cert_started.elapsed() < Duration::from_secs(900),
            "not all certificates Ready in 15 minutes"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let certs_ready = cert_started.elapsed();
    let cert_first_vault = control.counters().by_vault("benchcerts");

    control.reset_counters();
    let idle_window = Duration::from_secs(130);
    tokio::time::sleep(idle_window).await;
    let idle = control.counters();
    let idle_vault = idle.by_vault("bench");
    let idle_cert_vault = idle.by_vault("benchcerts");
    let idle_cert_key_reads = idle.by_op("benchcerts", "GetSecret");
    let cycles = idle_window.as_secs_f64() / 60.0;
    let rss_managed = rss_kib(pid, "VmRSS:");

    let secrets: Api<Secret> = Api::namespaced(client.clone(), "unrelated");
    stream::iter(0..10_000)
        .for_each_concurrent(32, |i| {
            let secrets = secrets.clone();
            async move {
                let s = Secret {
                    metadata: ObjectMeta {
                        name: Some(format!("u{i}")),
                        ..Default::default()
                    },
                    string_data: Some(BTreeMap::from([("k".to_string(), "x".repeat(256))])),
                    ..Default::default()
                };
                secrets.create(&PostParams::default(), &s).await.unwrap();
            }
        })
        .await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    let rss_with_unrelated = rss_kib(pid, "VmRSS:");
    let peak = rss_kib(pid, "VmHWM:");

    println!("## vaultsync scale benchmark (N = {n})");
    println!("| measure | value |\n|---|---|");
    println!(
        "| operator RSS before any resource | {} MiB |",
        idle_rss / 1024
    );
    println!(
        "| create {n} VaultSecrets (API) | {:.1} s |",
        applied.as_secs_f64()
    );
    println!(
        "| all {n} Ready after first create | {:.1} s |",
        all_ready.as_secs_f64()
    );
    println!(
        "| vault requests, first sync | {first_vault} ({:.2} per resource) |",
        first_vault as f64 / n as f64
    );
    println!("| Entra token exchanges, first sync | {first_tokens} |");
    println!(
        "| vault requests per idle refresh cycle (60 s interval, {:.1} cycles) | {:.0} ({:.3} per resource) |",
        cycles,
        idle_vault as f64 / cycles,
        idle_vault as f64 / cycles / n as f64
    );
    println!(
        "| operator peak RSS after first sync | {} MiB |",
        peak_after_sync / 1024
    );
    println!(
        "| operator RSS managing {n} VaultSecrets + {m} VaultCertificates, no unrelated Secrets | {} MiB |",
        rss_managed / 1024
    );
    println!(
        "| operator RSS after 10,000 unrelated Secrets | {} MiB |",
        rss_with_unrelated / 1024
    );
    println!("| operator peak RSS overall | {} MiB |", peak / 1024);
    println!("\n## certificates (M = {m}, same operator, 60 s interval)");
    println!("| measure | value |\n|---|---|");
    println!(
        "| all {m} VaultCertificates Ready after first create | {:.1} s |",
        certs_ready.as_secs_f64()
    );
    println!(
        "| vault requests, first sync | {cert_first_vault} ({:.2} per certificate) |",
        cert_first_vault as f64 / m.max(1) as f64
    );
    println!(
        "| vault requests per idle refresh cycle | {:.0} ({:.3} per certificate; key re-reads: {idle_cert_key_reads}) |",
        idle_cert_vault as f64 / cycles,
        idle_cert_vault as f64 / cycles / m.max(1) as f64
    );
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = operator.wait();
    drop(plane);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vaultsync-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
