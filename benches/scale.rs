//! Scale benchmark of the operator binary on a private local control plane and the vault
//! emulator. Prints one Markdown table:
//!
//! - first syncs: N VaultSecrets (8 in 10 single items, 1 in 10 two items, 1 in 10 a bulk
//!   selector matching two secrets), the first N/10 synced and refreshing before the other 9N/10
//!   are created at once; time until all are Ready, vault requests per vault object;
//! - M VaultCertificates in their own vault: time to Ready, requests per certificate;
//! - idle refresh cycles: vault requests per vault object per cycle, API writes;
//! - restart with everything synced: time until every resource is synced again, value reads;
//! - operator memory managing everything, and of the restarted operator once synced, after an
//!   idle cycle, and after U unrelated Secrets appear.
//!
//! `cargo bench --profile bench-quick --bench scale` (optimised, quick to build). N from
//! VAULTSYNC_BENCH_N (default 1000), M from VAULTSYNC_BENCH_CERTS (default 200), U from
//! VAULTSYNC_BENCH_UNRELATED (default 10000), the per-vault request budget from
//! VAULTSYNC_BENCH_RPS (default 400, Key Vault's own limit per vault), the idle window from
//! VAULTSYNC_BENCH_IDLE_SECONDS (default 120: two refresh cycles, a whole number of scan periods,
//! so that every window holds the same scans whatever its phase; 130 s held two or three).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Bench, cpu_seconds, env_or, rss_kib};
use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ListParams, ObjectMeta, PostParams};
use vaultsync::crd::{
    BulkSelector, CertificateRef, SecretItem, VaultCertificate, VaultCertificateSpec, VaultSecret,
    VaultSecretSpec, VaultSource,
};
use vaultsync_emulator::{CertificateImport, SecretOptions};

/// What one benchmark VaultSecret reads.
enum Shape {
    Single,
    Pair,
    Bulk,
}

fn shape(i: usize) -> Shape {
    match i % 10 {
        8 => Shape::Pair,
        9 => Shape::Bulk,
        _ => Shape::Single,
    }
}

/// The vault secrets resource `i` reads.
fn objects_of(i: usize) -> Vec<String> {
    match shape(i) {
        Shape::Single => vec![format!("s{i}")],
        Shape::Pair => vec![format!("s{i}"), format!("t{i}")],
        Shape::Bulk => vec![format!("g{i}-a"), format!("g{i}-b")],
    }
}

fn vault_secret(i: usize, vault_url: &str) -> VaultSecret {
    let item = |key: &str, name: String| SecretItem {
        key: key.into(),
        name,
        version: None,
        decoding: Default::default(),
    };
    let (data, data_from) = match shape(i) {
        Shape::Single => (vec![item("value", format!("s{i}"))], vec![]),
        Shape::Pair => (
            vec![
                item("user", format!("s{i}")),
                item("password", format!("t{i}")),
            ],
            vec![],
        ),
        Shape::Bulk => (
            vec![],
            vec![BulkSelector {
                name_prefix: Some(format!("g{i}-")),
                ..Default::default()
            }],
        ),
    };
    VaultSecret::new(
        &format!("vs{i}"),
        VaultSecretSpec {
            on_vault_removal: Default::default(),
            vault: VaultSource {
                url: vault_url.into(),
                service_account_name: "app".into(),
            },
            data,
            data_from,
            keys: vec![],
            target: Default::default(),
            template: None,
            refresh_interval: "60s".into(),
        },
    )
}

async fn create_vault_secrets(api: &Api<VaultSecret>, range: std::ops::Range<usize>, url: &str) {
    stream::iter(range)
        .for_each_concurrent(16, |i| {
            let api = api.clone();
            let resource = vault_secret(i, url);
            async move {
                api.create(&PostParams::default(), &resource).await.unwrap();
            }
        })
        .await;
}

async fn create_certificates(api: &Api<VaultCertificate>, m: usize, url: &str) {
    stream::iter(0..m)
        .for_each_concurrent(16, |i| {
            let api = api.clone();
            let resource = VaultCertificate::new(
                &format!("vc{i}"),
                VaultCertificateSpec {
                    vault: VaultSource {
                        url: url.into(),
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
            async move {
                api.create(&PostParams::default(), &resource).await.unwrap();
            }
        })
        .await;
}

fn import_certificates(bench: &Bench, m: usize) {
    for i in 0..m {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![format!("c{i}.bench.test")]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("c{i}.bench.test"));
        let cert = params.self_signed(&key).unwrap();
        bench
            .control()
            .import_certificate(
                common::CERT_VAULT,
                &format!("c{i}"),
                CertificateImport {
                    pem: Some(format!("{}{}", key.serialize_pem(), cert.pem())),
                    ..Default::default()
                },
            )
            .unwrap();
    }
}

/// Resource versions of every VaultSecret, VaultCertificate and managed Secret in `bench`.
async fn versions(bench: &Bench) -> BTreeMap<String, String> {
    let client = bench.client();
    let mut all = BTreeMap::new();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), common::NAMESPACE);
    let vs: Api<VaultSecret> = Api::namespaced(client.clone(), common::NAMESPACE);
    let vc: Api<VaultCertificate> = Api::namespaced(client.clone(), common::NAMESPACE);
    let params = ListParams::default();
    for s in secrets.list(&params).await.unwrap().items {
        all.insert(format!("Secret/{}", name(&s.metadata)), rv(&s.metadata));
    }
    for s in vs.list(&params).await.unwrap().items {
        all.insert(format!("VS/{}", name(&s.metadata)), rv(&s.metadata));
    }
    for s in vc.list(&params).await.unwrap().items {
        all.insert(format!("VC/{}", name(&s.metadata)), rv(&s.metadata));
    }
    all
}

fn name(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn rv(meta: &ObjectMeta) -> String {
    meta.resource_version.clone().unwrap_or_default()
}

async fn create_unrelated(bench: &Bench, count: usize) {
    let secrets: Api<Secret> = Api::namespaced(bench.client().clone(), "unrelated");
    stream::iter(0..count)
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
}

/// `Operation status: count` of every request to `vault`, most frequent first.
fn breakdown(counters: &vaultsync_emulator::Counters, vault: &str) -> String {
    let mut rows: BTreeMap<(String, u16), u64> = BTreeMap::new();
    for (key, count) in counters.entries().filter(|(k, _)| k.vault == vault) {
        *rows.entry((key.operation.clone(), key.status)).or_default() += count;
    }
    let mut rows: Vec<_> = rows.into_iter().collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.1));
    rows.iter()
        .map(|((operation, status), count)| format!("{operation} {status}: {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main]
async fn main() {
    let n: usize = env_or("VAULTSYNC_BENCH_N", 1000);
    let m: usize = env_or("VAULTSYNC_BENCH_CERTS", 200);
    let unrelated: usize = env_or("VAULTSYNC_BENCH_UNRELATED", 10_000);
    let idle_seconds: u64 = env_or("VAULTSYNC_BENCH_IDLE_SECONDS", 120);
    let rps: f64 = env_or("VAULTSYNC_BENCH_RPS", 400.0);
    let warm = n / 10;
    let bench = Bench::start().await;
    let control = bench.control();
    let mut objects = 0usize;
    for i in 0..n {
        for object in objects_of(i) {
            let value = format!("value-{object}");
            let options = SecretOptions {
                enabled: true,
                ..Default::default()
            };
            control
                .set_secret(common::SECRET_VAULT, &object, &value, options)
                .unwrap();
            objects += 1;
        }
    }
    import_certificates(&bench, m);
    let mut operator = bench.operator(rps);
    let idle_rss = rss_kib(operator.pid(), "VmRSS:");

    // First syncs: a tenth synced and refreshing, then the rest at once.
    control.reset_counters();
    let vs: Api<VaultSecret> = Api::namespaced(bench.client().clone(), common::NAMESPACE);
    let url = bench.vault_url(common::SECRET_VAULT);
    create_vault_secrets(&vs, 0..warm, &url).await;
    bench.wait_ready(&vs, warm, "the warm tenth").await;
    let started = Instant::now();
    let cpu_before = cpu_seconds(operator.pid());
    let (plane_before, bench_before) = bench.cpu_elsewhere();
    create_vault_secrets(&vs, warm..n, &url).await;
    let created = started.elapsed();
    bench.wait_ready(&vs, n, "every VaultSecret").await;
    let all_ready = started.elapsed();
    let first_cpu = cpu_seconds(operator.pid()) - cpu_before;
    let (plane_after, bench_after) = bench.cpu_elsewhere();
    let (plane_cpu, bench_cpu) = (plane_after - plane_before, bench_after - bench_before);
    let first = control.counters();
    let first_requests = first.by_vault(common::SECRET_VAULT);
    let first_tokens = first.by_operation("Token");

    control.reset_counters();
    let vc: Api<VaultCertificate> = Api::namespaced(bench.client().clone(), common::NAMESPACE);
    let cert_started = Instant::now();
    create_certificates(&vc, m, &bench.vault_url(common::CERT_VAULT)).await;
    bench.wait_ready(&vc, m, "every VaultCertificate").await;
    let certs_ready = cert_started.elapsed();
    let cert_first = control.counters().by_vault(common::CERT_VAULT);

    // Idle: two refresh intervals with nothing changing.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before_idle = versions(&bench).await;
    control.reset_counters();
    let rss_idle_start = rss_kib(operator.pid(), "VmRSS:");
    let idle_window = Duration::from_secs(idle_seconds);
    tokio::time::sleep(idle_window).await;
    let idle = control.counters();
    let after_idle = versions(&bench).await;
    let idle_writes = after_idle
        .iter()
        .filter(|(k, v)| before_idle.get(*k) != Some(*v))
        .count();
    let cycles = idle_window.as_secs_f64() / 60.0;
    let idle_secret_requests = idle.by_vault(common::SECRET_VAULT) as f64 / cycles;
    let idle_cert_requests = idle.by_vault(common::CERT_VAULT) as f64 / cycles;
    let rss_managed = rss_kib(operator.pid(), "VmRSS:");
    let peak_managed = rss_kib(operator.pid(), "VmHWM:");

    // Restart with everything synced.
    operator.stop();
    control.reset_counters();
    let restart_started = Instant::now();
    operator = bench.operator(rps);
    operator.wait_synced(n + m).await;
    let restarted = restart_started.elapsed();
    let restart = control.counters();
    let restart_value_reads =
        restart.by_operation("GetSecret") + restart.by_operation("GetCertificate");
    let restart_requests = restart.total() - restart.by_operation("Token");

    // Unrelated Secrets in another namespace, after the restarted operator went through one
    // idle cycle (its periodic scans, a scrape): what that cycle adds is reported on its own, so
    // the growth measured is what the unrelated Secrets add.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let rss_restarted = rss_kib(operator.pid(), "VmRSS:");
    tokio::time::sleep(Duration::from_secs(70)).await;
    let rss_before_unrelated = rss_kib(operator.pid(), "VmRSS:");
    create_unrelated(&bench, unrelated).await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    let rss_with_unrelated = rss_kib(operator.pid(), "VmRSS:");

    let per = |requests: f64, of: usize| requests / of.max(1) as f64;
    println!("## vaultsync scale benchmark");
    println!(
        "N = {n} VaultSecrets ({objects} vault secrets: 8 in 10 single items, 1 in 10 two \
         items, 1 in 10 a bulk selector of two), M = {m} VaultCertificates, budget {rps} \
         requests/s per vault, 60 s refresh interval\n"
    );
    println!("| measure | value |\n|---|---|");
    println!(
        "| operator RSS before any resource | {} MiB |",
        idle_rss / 1024
    );
    println!(
        "| create {} VaultSecrets at once, {warm} already synced and refreshing (API) | {:.1} s |",
        n - warm,
        created.as_secs_f64()
    );
    println!(
        "| all {n} VaultSecrets Ready after that create began | {:.1} s |",
        all_ready.as_secs_f64()
    );
    println!(
        "| vault requests, first syncs of all {n} | {first_requests} ({:.3} per vault object) |",
        per(first_requests as f64, objects)
    );
    println!(
        "| of which, by operation and status | {} |",
        breakdown(&first, common::SECRET_VAULT)
    );
    println!("| Entra token exchanges, first syncs | {first_tokens} |");
    println!(
        "| operator CPU time during those first syncs | {first_cpu:.1} s ({:.2} ms per VaultSecret) |",
        first_cpu * 1000.0 / (n - warm).max(1) as f64
    );
    println!(
        "| and meanwhile: control plane (etcd, API server, controller manager) / emulator and benchmark client | {plane_cpu:.1} s / {bench_cpu:.1} s |"
    );
    println!(
        "| all {m} VaultCertificates Ready | {:.1} s, {cert_first} vault requests ({:.3} per certificate) |",
        certs_ready.as_secs_f64(),
        per(cert_first as f64, m)
    );
    println!(
        "| vault requests per idle refresh cycle, secrets | {idle_secret_requests:.1} ({:.4} per vault object) |",
        per(idle_secret_requests, objects)
    );
    println!(
        "| vault requests per idle refresh cycle, certificates | {idle_cert_requests:.1} ({:.4} per certificate) |",
        per(idle_cert_requests, m)
    );
    println!(
        "| API writes during {:.1} idle cycles | {idle_writes} |",
        cycles
    );
    println!(
        "| operator RSS managing {n} VaultSecrets + {m} VaultCertificates | {} MiB (peak {} MiB; {} MiB when the {:.1} idle cycles began) |",
        rss_managed / 1024,
        peak_managed / 1024,
        rss_idle_start / 1024,
        cycles
    );
    println!(
        "| restart with everything synced: all {} synced again | {:.1} s, {restart_value_reads} value or certificate reads, {restart_requests} vault requests in all |",
        n + m,
        restarted.as_secs_f64()
    );
    println!(
        "| restarted operator RSS once synced / after an idle cycle / after {unrelated} unrelated Secrets | {} / {} / {} MiB ({:+.1} % over the idle cycle) |",
        rss_restarted / 1024,
        rss_before_unrelated / 1024,
        rss_with_unrelated / 1024,
        (rss_with_unrelated as f64 / rss_before_unrelated.max(1) as f64 - 1.0) * 100.0
    );
    operator.stop();
}
