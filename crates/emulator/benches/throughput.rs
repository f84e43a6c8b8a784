//! GET-secret throughput: N concurrent raw HTTPS clients (HTTP/1.1 keep-alive, one connection
//! each) and N concurrent SDK clients hammer one vault for a fixed time; prints a table.
//!
//! Run: `cargo bench -p vaultsync-emulator --bench throughput` (env BENCH_SECS, default 3).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use vaultsync_emulator::{Emulator, EmulatorConfig, Permission, SecretOptions};

const TENANT: &str = "bench-tenant";
const CLIENT: &str = "bench-app";
const SUBJECT: &str = "system:serviceaccount:bench:sa";

fn client(emu: &Emulator) -> reqwest::Client {
    let addr: SocketAddr = ([127, 0, 0, 1], emu.port()).into();
    reqwest::Client::builder()
        .tls_certs_merge([reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).unwrap()])
        .resolve("login.localhost", addr)
        .resolve("bench.vault.localhost", addr)
        .http1_only()
        .build()
        .unwrap()
}

async fn token(emu: &Emulator, http: &reqwest::Client) -> String {
    let assertion = emu
        .control()
        .mint_test_token(SUBJECT, "api://AzureADTokenExchange", 3600);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT),
        ("scope", "https://vault.localhost/.default"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    let url = format!("{}/{TENANT}/oauth2/v2.0/token", emu.authority_host());
    let body: serde_json::Value = http
        .post(url)
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn raw_run(emu: &Emulator, n: usize, secs: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let url = format!(
        "{}secrets/bench-secret/?api-version=7.6",
        emu.vault_url("bench")
    );
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..n {
        let http = client(emu);
        let t = token(emu, &http).await;
        let (url, done) = (url.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let r = http.get(&url).bearer_auth(&t).send().await.unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let t0 = Instant::now();
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let emu = Emulator::start(EmulatorConfig {
        port: 0,
        test_issuer: true,
    })
    .await
    .unwrap();
    let c = emu.control();
    c.create_vault("bench", TENANT);
    c.register_app(TENANT, CLIENT);
    c.add_federated_credential(CLIENT, c.test_issuer(), SUBJECT);
    c.assign_role(CLIENT, "bench", &[Permission::SecretsRead]);
    c.set_secret(
        "bench",
        "bench-secret",
        &"x".repeat(64),
        SecretOptions::default(),
    )
    .unwrap();

    println!("GET /secrets/{{name}}/ over HTTPS, {secs} s per row, 2-core loopback");
    println!("{:>12} | {:>12}", "clients", "requests/s");
    println!("{:->12}-+-{:->12}", "", "");
    for n in [1, 4, 16, 64] {
        let rps = raw_run(&emu, n, secs).await;
        println!("{n:>12} | {rps:>12.0}");
    }
    let counted = emu
        .control()
        .counters()
        .by_op_status("bench", "GetSecret", 200);
    println!("(emulator counted {counted} successful GetSecret calls)");
    emu.shutdown().await;
}
