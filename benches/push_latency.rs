//! Push latency: a secret set in the emulator until its `ObjectChanged` leaves the push
//! endpoint's channel, over N sequential rotations, per schema and authentication (shared
//! secret over HTTP, Entra bearer token over HTTPS); prints p50, p99 and max.
//!
//! Run: `cargo bench --bench push_latency` (env VAULTSYNC_BENCH_ROTATIONS, default 200).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::sync::mpsc;
use vaultsync::push::{
    DEFAULT_SECRET_HEADER, EntraVerification, ObjectChanged, PushServer, PushSettings,
    SharedSecret, TlsFiles,
};
use vaultsync_emulator::{
    Emulator, EmulatorConfig, EntraDelivery, EventSchema, EventSubscription, RetryPolicy,
    SecretOptions, SubscriptionState,
};

const TENANT: &str = "bench-tenant";
const SECRET: &str = "bench-push-secret";
const AUDIENCE: &str = "api://vaultsync-push-bench";

/// (root PEM, leaf PEM for 127.0.0.1, leaf key PEM).
fn loopback_pki() -> (String, String, String) {
    let root_key = KeyPair::generate().unwrap();
    let mut root_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root = root_params.self_signed(&root_key).unwrap();
    let issuer = Issuer::from_params(&root_params, &root_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    (root.pem(), leaf.pem(), leaf_key.serialize_pem())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run(
    emu: &Emulator,
    vault: &str,
    schema: EventSchema,
    entra: bool,
    rotations: usize,
) -> Vec<Duration> {
    let c = emu.control();
    c.create_vault(vault, TENANT);
    let dir = tempfile::tempdir().unwrap();
    let mut settings = PushSettings::new(([127, 0, 0, 1], 0).into());
    let mut sub_entra = None;
    let mut ca = None;
    let mut headers = std::collections::BTreeMap::new();
    if entra {
        let (root, leaf, key) = loopback_pki();
        let (cert_file, key_file) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        std::fs::write(&cert_file, leaf).unwrap();
        std::fs::write(&key_file, key).unwrap();
        settings.tls = Some(TlsFiles {
            cert_chain: cert_file,
            private_key: key_file,
        });
        let login: SocketAddr = ([127, 0, 0, 1], emu.port()).into();
        settings.entra = Some(EntraVerification {
            authority_host: emu.authority_host(),
            tenant: TENANT.into(),
            audience: AUDIENCE.into(),
            http: reqwest::Client::builder()
                .tls_certs_only([reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).unwrap()])
                .resolve("login.localhost", login)
                .build()
                .unwrap(),
        });
        sub_entra = Some(EntraDelivery {
            tenant: TENANT.into(),
            audience: AUDIENCE.into(),
        });
        ca = Some(root);
    } else {
        let file = dir.path().join("secret");
        std::fs::write(&file, SECRET).unwrap();
        settings.shared_secret = Some(SharedSecret {
            header: DEFAULT_SECRET_HEADER.into(),
            file,
        });
        headers.insert(DEFAULT_SECRET_HEADER.to_owned(), SECRET.to_owned());
    }
    let (sink, mut changes) = mpsc::channel::<ObjectChanged>(16);
    let server = PushServer::bind(settings, sink).await.unwrap();
    let scheme = if entra { "https" } else { "http" };
    let url = format!("{scheme}://{}/", server.local_addr());
    let task = tokio::spawn(server.run());
    let id = c
        .subscribe_events(EventSubscription {
            schema,
            delivery_headers: headers,
            entra: sub_entra,
            ca_pem: ca,
            retry: RetryPolicy::quick(),
            ..EventSubscription::new(vault, &url)
        })
        .unwrap();
    while c.event_subscription(&id).unwrap().state != SubscriptionState::Active {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut out = Vec::with_capacity(rotations);
    for i in 0..rotations {
        let t0 = Instant::now();
        c.set_secret(vault, "rotated", &format!("v{i}"), SecretOptions::default())
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), changes.recv())
            .await
            .expect("delivered within 10 s")
            .unwrap();
        out.push(t0.elapsed());
        assert_eq!(got.object_name, "rotated");
    }
    task.abort();
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rotations: usize = std::env::var("VAULTSYNC_BENCH_ROTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    println!("| schema | authentication | rotations | p50 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    for (i, (schema, entra)) in [
        (EventSchema::EventGrid, false),
        (EventSchema::CloudEvents, false),
        (EventSchema::EventGrid, true),
        (EventSchema::CloudEvents, true),
    ]
    .into_iter()
    .enumerate()
    {
        let mut d = run(&emu, &format!("bench-push-{i}"), schema, entra, rotations).await;
        d.sort();
        let auth = if entra {
            "Entra token, HTTPS"
        } else {
            "shared secret, HTTP"
        };
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        println!(
            "| {schema:?} | {auth} | {rotations} | {} | {} | {} |",
            ms(percentile(&d, 0.5)),
            ms(percentile(&d, 0.99)),
            ms(*d.last().unwrap())
        );
    }
}
