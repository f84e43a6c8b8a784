//! The push endpoint end to end with the emulator's Event Grid: the emulator validates a
//! subscription to an endpoint started with `PushServer` on 127.0.0.1:0, and a secret set in the
//! emulator arrives on the channel as an `ObjectChanged`, in both schemas, authenticated by a
//! shared secret over HTTP and by an Entra bearer token over HTTPS. Forged deliveries are
//! refused with 401; a duplicated delivery arrives twice (deduplication is the receiver's job).

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::eventually::{check, eventually};
use support::pki;
use tokio::sync::mpsc;
use vaultsync::push::{
    Change, DEFAULT_SECRET_HEADER, EntraVerification, ObjectChanged, ObjectType, PushHealth,
    PushServer, PushSettings, SharedSecret, TlsFiles,
};
use vaultsync_emulator::{
    Control, Emulator, EmulatorConfig, EntraDelivery, EventSchema, EventSubscription, RetryPolicy,
    SecretOptions, SubscriptionState,
};

const TENANT: &str = "tenant-push";
const SECRET: &str = "push-shared-secret-for-tests";
const AUDIENCE: &str = "api://vaultsync-push";

struct Endpoint {
    addr: SocketAddr,
    changes: mpsc::Receiver<ObjectChanged>,
    health: PushHealth,
    _dir: tempfile::TempDir,
    _task: AbortOnDrop,
}

struct AbortOnDrop(tokio::task::JoinHandle<std::io::Result<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Endpoint {
    /// The next change, waiting up to 10 s.
    async fn next(&mut self) -> ObjectChanged {
        tokio::time::timeout(Duration::from_secs(10), self.changes.recv())
            .await
            .expect("an ObjectChanged within 10 s")
            .expect("the endpoint is running")
    }

    /// Fails if a change arrives within `wait`.
    async fn assert_quiet(&mut self, wait: Duration) {
        let got = tokio::time::timeout(wait, self.changes.recv()).await;
        assert!(got.is_err(), "unexpected change: {got:?}");
    }
}

async fn start_emulator(vaults: &[&str]) -> Emulator {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator starts");
    for v in vaults {
        emu.control().create_vault(v, TENANT);
    }
    emu
}

/// Starts the endpoint; `tune` adds authentication and TLS (files live in `dir`).
async fn start_endpoint(
    dir: tempfile::TempDir,
    tune: impl FnOnce(&mut PushSettings, &std::path::Path),
) -> Endpoint {
    let mut settings = PushSettings::new(([127, 0, 0, 1], 0).into());
    tune(&mut settings, dir.path());
    let (sink, changes) = mpsc::channel(64);
    let server = PushServer::bind(settings, sink)
        .await
        .expect("endpoint binds");
    let (addr, health) = (server.local_addr(), server.health());
    Endpoint {
        addr,
        changes,
        health,
        _dir: dir,
        _task: AbortOnDrop(tokio::spawn(server.run())),
    }
}

fn with_shared_secret(settings: &mut PushSettings, dir: &std::path::Path) {
    let file = dir.join("push-secret");
    std::fs::write(&file, SECRET).unwrap();
    settings.shared_secret = Some(SharedSecret {
        header: DEFAULT_SECRET_HEADER.into(),
        file,
    });
}

async fn wait_state(c: &Control, id: &str, want: fn(&SubscriptionState) -> bool) {
    eventually(
        "the subscription's handshake",
        Duration::from_secs(20),
        || async {
            let s = c.event_subscription(id).expect("subscription exists");
            check(want(&s.state), &s.state)
        },
    )
    .await;
}

fn is_active(s: &SubscriptionState) -> bool {
    *s == SubscriptionState::Active
}

fn set(c: &Control, vault: &str, name: &str) -> String {
    c.set_secret(vault, name, "a value never sent", SecretOptions::default())
        .expect("secret set")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_set_in_the_emulator_arrive_in_both_schemas() {
    let emu = start_emulator(&["kv-grid", "kv-cloud"]).await;
    let c = emu.control();
    let mut ep = start_endpoint(tempfile::tempdir().unwrap(), with_shared_secret).await;
    let url = format!("http://{}/api/events", ep.addr);
    let mut ids = Vec::new();
    for (vault, schema) in [
        ("kv-grid", EventSchema::EventGrid),
        ("kv-cloud", EventSchema::CloudEvents),
    ] {
        let mut sub = EventSubscription {
            schema,
            retry: RetryPolicy::quick(),
            ..EventSubscription::new(vault, &url)
        };
        sub.delivery_headers
            .insert(DEFAULT_SECRET_HEADER.into(), SECRET.into());
        let id = c.subscribe_events(sub).unwrap();
        wait_state(c, &id, is_active).await;
        ids.push(id);
    }
    assert!(ep.health.is_healthy_within(Duration::from_secs(60)));

    let version = set(c, "kv-grid", "Db-Password");
    let got = ep.next().await;
    assert_eq!(
        (
            got.vault_name.as_str(),
            got.object_type,
            got.object_name.as_str()
        ),
        ("kv-grid", ObjectType::Secret, "db-password")
    );
    assert_eq!(
        (got.version.as_deref(), got.change),
        (Some(version.as_str()), Change::NewVersion)
    );

    let version = set(c, "kv-cloud", "api-key");
    let got = ep.next().await;
    assert_eq!(
        (got.vault_name.as_str(), got.object_name.as_str()),
        ("kv-cloud", "api-key")
    );
    assert_eq!(got.version.as_deref(), Some(version.as_str()));

    // A duplicated delivery arrives twice, with the same event id.
    c.set_event_duplicates(&ids[0], 1).unwrap();
    set(c, "kv-grid", "rotated");
    let (a, b) = (ep.next().await, ep.next().await);
    assert_eq!(a, b);
    assert_eq!(a.object_name, "rotated");
    assert!(a.event_id.is_some());
    ep.assert_quiet(Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_deliveries_are_refused() {
    let emu = start_emulator(&["kv-forged"]).await;
    let c = emu.control();
    let mut ep = start_endpoint(tempfile::tempdir().unwrap(), with_shared_secret).await;
    let url = format!("http://{}/api/events", ep.addr);

    // A subscription whose delivery attribute is wrong never validates and delivers nothing.
    let mut sub = EventSubscription {
        retry: RetryPolicy::quick(),
        ..EventSubscription::new("kv-forged", &url)
    };
    sub.delivery_headers
        .insert(DEFAULT_SECRET_HEADER.into(), "guessed".into());
    let id = c.subscribe_events(sub).unwrap();
    wait_state(
        c,
        &id,
        |s| matches!(s, SubscriptionState::Failed(r) if r.contains("401")),
    )
    .await;
    set(c, "kv-forged", "s");

    // Hand-made deliveries of a well-formed event: no secret, a wrong one.
    let event = serde_json::json!([{"id": "1", "eventType": "Microsoft.KeyVault.SecretNewVersionCreated",
        "subject": "s", "topic": "/subscriptions/x", "data": {"VaultName": "kv-forged", "ObjectType": "Secret",
        "ObjectName": "s", "Version": "0123456789abcdef0123456789abcdef"}}]);
    let http = reqwest::Client::new();
    for secret in [None, Some("guessed"), Some("")] {
        let mut rb = http.post(&url).body(event.to_string());
        if let Some(s) = secret {
            rb = rb.header(DEFAULT_SECRET_HEADER, s);
        }
        let status = rb.send().await.unwrap().status();
        assert_eq!(status, 401, "secret {secret:?}");
    }
    ep.assert_quiet(Duration::from_millis(500)).await;
    assert_eq!(ep.health.last_authenticated(), None);

    // The same request with the secret is accepted: the refusals were about credentials only.
    let status = http
        .post(&url)
        .header(DEFAULT_SECRET_HEADER, SECRET)
        .body(event.to_string())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    assert_eq!(ep.next().await.vault_name, "kv-forged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_bearer_tokens_over_https() {
    let emu = start_emulator(&["kv-entra"]).await;
    let c = emu.control();
    let (ca_pem, cert_pem, key_pem) = pki::loopback_server();
    let login: SocketAddr = ([127, 0, 0, 1], emu.port()).into();
    let authority_http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).unwrap()])
        .resolve("login.localhost", login)
        .build()
        .unwrap();
    let authority_host = emu.authority_host();
    let mut ep = start_endpoint(tempfile::tempdir().unwrap(), |s, dir| {
        let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert, &cert_pem).unwrap();
        std::fs::write(&key, &key_pem).unwrap();
        s.tls = Some(TlsFiles {
            cert_chain: cert,
            private_key: key,
        });
        s.entra = Some(EntraVerification {
            authority_host,
            tenant: TENANT.into(),
            audience: AUDIENCE.into(),
            http: authority_http,
        });
    })
    .await;
    let url = format!("https://{}/", ep.addr);
    let subscribe = |audience: &str, schema| {
        c.subscribe_events(EventSubscription {
            schema,
            entra: Some(EntraDelivery {
                tenant: TENANT.into(),
                audience: audience.into(),
            }),
            ca_pem: Some(ca_pem.clone()),
            retry: RetryPolicy::quick(),
            ..EventSubscription::new("kv-entra", &url)
        })
        .unwrap()
    };
    let good = subscribe(AUDIENCE, EventSchema::EventGrid);
    wait_state(c, &good, is_active).await;
    // A token for another application fails the handshake.
    let other = subscribe("api://someone-else", EventSchema::EventGrid);
    wait_state(
        c,
        &other,
        |s| matches!(s, SubscriptionState::Failed(r) if r.contains("401")),
    )
    .await;

    let version = set(c, "kv-entra", "tls-key");
    let got = ep.next().await;
    assert_eq!(
        (got.object_name.as_str(), got.version.as_deref()),
        ("tls-key", Some(version.as_str()))
    );
    ep.assert_quiet(Duration::from_millis(300)).await;
    assert!(ep.health.is_healthy_within(Duration::from_secs(60)));

    // Requests the endpoint must refuse: no token, not a JWT, an unsigned one.
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .build()
        .unwrap();
    let event = serde_json::json!([]).to_string();
    for auth in [None, Some("Bearer not.a.jwt"), Some("Bearer e30.e30.c2ln")] {
        let mut rb = http.post(&url).body(event.clone());
        if let Some(a) = auth {
            rb = rb.header("authorization", a);
        }
        assert_eq!(rb.send().await.unwrap().status(), 401, "{auth:?}");
    }
}
