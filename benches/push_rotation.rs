//! Rotation to Secret through Event Grid push, end to end: the emulator rotates a secret, delivers
//! the event (CloudEvents, shared secret) to the operator's push endpoint, the operator re-reads
//! the secret and updates the Kubernetes Secret. 20 VaultSecrets with a 24 h refresh interval (so
//! polling plays no part); R rotations one after another; prints p50, p99 and max of the time
//! from the vault write until the Secret holds the new value (observed by polling the API
//! server every 10 ms).
//!
//! `cargo bench --profile bench-quick --bench push_rotation` (R from VAULTSYNC_BENCH_ROTATIONS,
//! default 200).

mod common;

use std::time::{Duration, Instant};

use common::{Bench, env_or};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::PostParams;
use vaultsync::crd::{SecretItem, VaultSecret, VaultSecretSpec, VaultSource};
use vaultsync_emulator::{
    EventSchema, EventSubscription, RetryPolicy, SecretOptions, SubscriptionState,
};

const RESOURCES: usize = 20;
const SHARED_SECRET: &str = "bench-push-shared-secret";

async fn value_of(secrets: &Api<Secret>, name: &str) -> Option<Vec<u8>> {
    let secret = secrets.get_opt(name).await.ok()??;
    Some(secret.data?.get("value")?.0.clone())
}

#[tokio::main]
async fn main() {
    let rotations: usize = env_or("VAULTSYNC_BENCH_ROTATIONS", 200);
    let bench = Bench::start().await;
    let control = bench.control();
    let set = |name: &str, value: &str| {
        control
            .set_secret(common::SECRET_VAULT, name, value, SecretOptions::default())
            .unwrap()
    };
    for i in 0..RESOURCES {
        set(&format!("p{i}"), "initial");
    }
    let secret_file = bench.dir().join("push-secret");
    std::fs::write(&secret_file, SHARED_SECRET).unwrap();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let _operator = bench.operator_with(
        400.0,
        &[
            "--push-addr",
            &addr,
            "--push-shared-secret-file",
            secret_file.to_str().unwrap(),
        ],
    );
    let vs: Api<VaultSecret> = Api::namespaced(bench.client().clone(), common::NAMESPACE);
    let url = bench.vault_url(common::SECRET_VAULT);
    for i in 0..RESOURCES {
        let resource = VaultSecret::new(
            &format!("push{i}"),
            VaultSecretSpec {
                on_vault_removal: Default::default(),
                vault: VaultSource {
                    url: url.clone(),
                    service_account_name: "app".into(),
                },
                data: vec![SecretItem {
                    key: "value".into(),
                    name: format!("p{i}"),
                    version: None,
                    decoding: Default::default(),
                }],
                data_from: vec![],
                keys: vec![],
                target: Default::default(),
                template: None,
                refresh_interval: "24h".into(),
            },
        );
        vs.create(&PostParams::default(), &resource).await.unwrap();
    }
    bench.wait_ready(&vs, RESOURCES, "the push resources").await;

    let mut subscription = EventSubscription::new(common::SECRET_VAULT, &format!("http://{addr}/"));
    subscription.schema = EventSchema::CloudEvents;
    subscription.retry = RetryPolicy::quick();
    subscription.delivery_headers.insert(
        vaultsync::push::DEFAULT_SECRET_HEADER.into(),
        SHARED_SECRET.into(),
    );
    let id = control.subscribe_events(subscription).unwrap();
    while control.event_subscription(&id).map(|s| s.state) != Some(SubscriptionState::Active) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let secrets: Api<Secret> = Api::namespaced(bench.client().clone(), common::NAMESPACE);
    let mut latencies = Vec::with_capacity(rotations);
    for round in 0..rotations {
        let i = round % RESOURCES;
        let value = format!("rotation-{round}");
        let started = Instant::now();
        set(&format!("p{i}"), &value);
        loop {
            if value_of(&secrets, &format!("push{i}")).await.as_deref() == Some(value.as_bytes()) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "rotation {round} did not arrive within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    let reads = control.counters().by_op(common::SECRET_VAULT, "GetSecret");
    println!(
        "## push rotation latency ({rotations} rotations, {RESOURCES} VaultSecrets, refreshInterval 24h)"
    );
    println!("| p50 | p99 | max | vault reads in all |\n|---|---|---|---|");
    println!(
        "| {:.0?} | {:.0?} | {:.0?} | {reads} |",
        at(0.5),
        at(0.99),
        latencies[latencies.len() - 1]
    );
}
