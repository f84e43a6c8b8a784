//! Hostile tenants, end to end on the real control plane: what one namespace can make the
//! operator do, and what it cannot.

mod support;

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use sha2::{Digest, Sha256};
use support::eventually::{check, eventually};
use support::kubectl_apply;
use support::pki::{self, Alg, pem_bundle};
use support::world::{TestNamespace, test_namespace, world};
use vaultsync::controller::content_key::get_or_create;
use vaultsync::desired::content_key::ContentKey;
use vaultsync::vault::SecretValue;
use vaultsync_emulator::Fault;

const SYNC: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_vault_host_outside_the_allow_list_is_never_contacted() {
    let t = test_namespace("allow").await;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    // Resolves to loopback for the operator under test, but is not under .vault.localhost.
    for (name, url) in [
        ("outside", format!("https://evil.localhost:{port}/")),
        (
            "lookalike",
            format!("https://vault.localhost.evil.localhost:{port}/"),
        ),
    ] {
        let yaml = format!(
            "apiVersion: vaultsync.dev/v1alpha1\nkind: VaultSecret\nmetadata:\n  name: {name}\n  namespace: {}\nspec:\n  vault:\n    url: {url}\n    serviceAccountName: app\n  data:\n  - key: k\n    name: s\n",
            t.ns
        );
        let out = kubectl_apply(&yaml);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let refused = t.wait_reason(name, "VaultHostNotAllowed", SYNC).await;
        let ready = &refused.status.unwrap().conditions[0];
        assert!(
            ready.message.contains("--allowed-vault-hosts"),
            "{}",
            ready.message
        );
        assert!(
            ready.message.contains(".vault.localhost"),
            "{}",
            ready.message
        );
    }
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the refused host was contacted: {other:?}"),
    }
    assert_eq!(t.event_reasons("outside").len(), 1, "one Warning, no storm");
}

/// Creates Secret `name` holding `mine=keep-me`, shaped by `shape`.
async fn foreign_secret(t: &TestNamespace, name: &str, shape: impl FnOnce(&mut Secret)) {
    let mut secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            annotations: Some(
                [(
                    "vaultsync.dev/adopt".to_string(),
                    format!("VaultSecret/{name}"),
                )]
                .into(),
            ),
            ..Default::default()
        },
        string_data: Some([("mine".to_string(), "keep-me".to_string())].into()),
        ..Default::default()
    };
    shape(&mut secret);
    Api::<Secret>::namespaced(t.client.clone(), &t.ns)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

fn adopt(t: &TestNamespace, name: &str) {
    t.apply(
        name,
        "  data:\n  - key: v\n    name: v\n  target:\n    creationPolicy: Adopt\n",
    );
}

async fn assert_refused_and_untouched(t: &TestNamespace, name: &str, expected: &str) {
    let refused = t.wait_reason(name, "OwnershipConflict", SYNC).await;
    let message = &refused.status.unwrap().conditions[0].message;
    assert!(message.contains(expected), "{name}: {message}");
    let data = t.secret_data(name).await.unwrap();
    assert_eq!(
        data.get("mine").map(String::as_str),
        Some("keep-me"),
        "{name}"
    );
    assert!(!data.contains_key("v"), "{name} was written");
}

#[tokio::test]
async fn adoption_never_takes_what_belongs_to_another_controller_or_tool() {
    let t = test_namespace("adopt").await;
    t.set("v", "vault-val-4");
    let owner = Api::<ConfigMap>::namespaced(t.client.clone(), &t.ns)
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("owner".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let uid = owner.metadata.uid.unwrap();
    foreign_secret(&t, "controlled", |s| {
        s.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: "owner".into(),
            uid,
            controller: Some(true),
            ..Default::default()
        }]);
    })
    .await;
    foreign_secret(&t, "release", |s| {
        s.type_ = Some("helm.sh/release.v1".into())
    })
    .await;
    foreign_secret(&t, "token", |s| {
        s.type_ = Some("kubernetes.io/service-account-token".into());
        s.metadata
            .annotations
            .get_or_insert_default()
            .insert("kubernetes.io/service-account.name".into(), "app".into());
    })
    .await;
    foreign_secret(&t, "unconsented", |s| s.metadata.annotations = None).await;
    for name in ["controlled", "release", "token", "unconsented"] {
        adopt(&t, name);
    }
    assert_refused_and_untouched(&t, "controlled", "controlled by ConfigMap owner").await;
    assert_refused_and_untouched(&t, "release", "helm.sh/release.v1").await;
    assert_refused_and_untouched(&t, "token", "kubernetes.io/service-account-token").await;
    assert_refused_and_untouched(
        &t,
        "unconsented",
        "vaultsync.dev/adopt=VaultSecret/unconsented",
    )
    .await;
}

#[tokio::test]
async fn a_secret_created_while_the_vault_is_read_is_not_taken_over() {
    let t = test_namespace("race").await;
    t.set("v", "vault-val-5");
    // The guard finds no Secret, then the vault read takes long enough for one to appear.
    world()
        .control()
        .set_fault(&t.vault, Fault::Latency(Duration::from_secs(8)));
    t.apply("raced", "  data:\n  - key: v\n    name: v\n");
    tokio::time::sleep(Duration::from_secs(3)).await;
    foreign_secret(&t, "raced", |s| s.metadata.annotations = None).await;
    // The create meets it; the guard then reads it and refuses it like any foreign Secret.
    assert_refused_and_untouched(&t, "raced", "not managed by vaultsync").await;
    world().control().clear_faults(&t.vault);
    // Still refused afterwards: it is someone else's Secret now.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_refused_and_untouched(&t, "raced", "not managed by vaultsync").await;
}

/// Applies `count` single-item VaultSecrets `attack-N` in `t`'s namespace.
fn many(t: &TestNamespace, count: usize) {
    for n in 0..count {
        t.apply(&format!("attack-{n}"), "  data:\n  - key: v\n    name: v\n");
    }
}

/// How long a fresh VaultSecret in an unrelated namespace takes to sync while `attacker`'s
/// resources are being reconciled.
async fn bystander_sync_time(prefix: &str) -> Duration {
    let bystander = test_namespace(prefix).await;
    bystander.set("v", "calm-value");
    let started = std::time::Instant::now();
    bystander.apply("calm", "  data:\n  - key: v\n    name: v\n");
    bystander.wait_reason("calm", "Synced", SYNC).await;
    started.elapsed()
}

#[tokio::test]
async fn a_tarpitting_vault_does_not_hold_every_worker() {
    let attacker = test_namespace("tarpit").await;
    attacker.set("v", "slow-value");
    world()
        .control()
        .set_fault(&attacker.vault, Fault::Latency(Duration::from_secs(45)));
    many(&attacker, 24);
    // Let the attacker's reconciles reach the vault and hang there.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let took = bystander_sync_time("tarpit-calm").await;
    eprintln!("bystander synced {took:?} after apply while a vault tarpits 24 resources");
    assert!(took < Duration::from_secs(10), "bystander waited {took:?}");
    world().control().clear_faults(&attacker.vault);
}

#[tokio::test]
async fn a_long_retry_after_is_waited_out_by_requeueing() {
    let attacker = test_namespace("throttle").await;
    attacker.set("v", "throttled-value");
    world().control().set_fault(
        &attacker.vault,
        Fault::Throttle {
            retry_after: Some(120),
            remaining: None,
        },
    );
    many(&attacker, 24);
    attacker.wait_reason("attack-0", "Throttled", SYNC).await;
    let took = bystander_sync_time("throttle-calm").await;
    eprintln!("bystander synced {took:?} after apply while a vault asks for a 120 s pause");
    assert!(took < Duration::from_secs(10), "bystander waited {took:?}");
    world().control().clear_faults(&attacker.vault);
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn foreign_secrets_carrying_our_label_do_not_grow_the_operators_memory() {
    let t = test_namespace("inflate").await;
    // The operator is up and has listed the managed Secrets before the first reading.
    t.set("v", "calm");
    t.apply("calm", "  data:\n  - key: v\n    name: v\n");
    t.wait_reason("calm", "Synced", SYNC).await;
    let pid = world().operator_pid();
    let before = rss_kib(pid);
    let secrets: Api<Secret> = Api::namespaced(t.client.clone(), &t.ns);
    let count = 100;
    let megabyte = k8s_openapi::ByteString(vec![b'x'; 1000 * 1000]);
    for n in 0..count {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(format!("bloat-{n}")),
                labels: Some(
                    [(
                        "app.kubernetes.io/managed-by".to_string(),
                        "vaultsync".to_string(),
                    )]
                    .into(),
                ),
                ..Default::default()
            },
            data: Some([("blob".to_string(), megabyte.clone())].into()),
            ..Default::default()
        };
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }
    // The watch delivers them; a resource applied afterwards syncing shows it kept up.
    t.apply("after", "  data:\n  - key: v\n    name: v\n");
    t.wait_reason("after", "Synced", SYNC).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kib(pid);
    let grown_mib = after.saturating_sub(before) / 1024;
    eprintln!(
        "operator RSS {} MiB before, {} MiB after {count} foreign 1 MB Secrets (+{grown_mib} MiB)",
        before / 1024,
        after / 1024
    );
    assert!(
        grown_mib < 50,
        "the cache kept foreign values: +{grown_mib} MiB"
    );
}

/// Applies VaultSecret `name` reading `lone` explicitly and `{prefix}*` in bulk.
fn explicit_and_bulk(t: &TestNamespace, name: &str, prefix: &str, policy: &str) {
    t.apply(
        name,
        &format!(
            "  onVaultRemoval: {policy}\n  data:\n  - key: lone\n    name: {prefix}lone\n  dataFrom:\n  - namePrefix: {prefix}bulk-\n"
        ),
    );
}

#[tokio::test]
async fn vault_side_removal_keeps_or_removes_keys_as_configured() {
    let t = test_namespace("removal").await;
    let control = world().control();
    for prefix in ["k-", "r-"] {
        for name in ["lone", "bulk-one", "bulk-two"] {
            t.set(&format!("{prefix}{name}"), &format!("{prefix}{name}-value"));
        }
    }
    explicit_and_bulk(&t, "keep", "k-", "Keep");
    explicit_and_bulk(&t, "remove", "r-", "Remove");
    for name in ["keep", "remove"] {
        t.wait_reason(name, "Synced", SYNC).await;
        assert_eq!(t.secret_data(name).await.unwrap().len(), 3, "{name}");
    }
    for prefix in ["k-", "r-"] {
        control
            .delete_secret(&t.vault, &format!("{prefix}lone"))
            .unwrap();
        control
            .set_secret_enabled(&t.vault, &format!("{prefix}bulk-one"), None, false)
            .unwrap();
    }
    t.force_refresh("vaultsecret", "keep", "1");
    t.force_refresh("vaultsecret", "remove", "1");

    // Keep: the explicit item reports its removal, every key keeps its last value.
    t.wait_reason("keep", "SecretNotFound", SYNC).await;
    let kept = t.secret_data("keep").await.unwrap();
    assert_eq!(kept.get("lone").map(String::as_str), Some("k-lone-value"));
    assert_eq!(
        kept.get("k-bulk-one").map(String::as_str),
        Some("k-bulk-one-value")
    );
    assert_eq!(kept.len(), 3);

    // Remove: both vanished keys go, the rest stays synced, a Warning names them.
    let removed = t
        .wait_for::<vaultsync::crd::VaultSecret>("remove", "two keys removed", SYNC, |vs| {
            vs.status.as_ref().is_some_and(|s| s.versions.len() == 1)
        })
        .await;
    assert_eq!(removed.status.unwrap().conditions[0].reason, "Synced");
    let left = t.secret_data("remove").await.unwrap();
    assert_eq!(left.len(), 1, "{:?}", left.keys().collect::<Vec<_>>());
    assert_eq!(
        left.get("r-bulk-two").map(String::as_str),
        Some("r-bulk-two-value")
    );
    let events = t.event_reasons("remove");
    assert!(
        events
            .iter()
            .any(|(ty, r)| ty == "Warning" && r == "VaultSecretRemoved"),
        "{events:?}"
    );
}

#[tokio::test]
async fn hostile_certificate_material_is_refused_quickly_and_others_keep_syncing() {
    let t = test_namespace("hostile").await;
    let good = pki::chain(Alg::Ec, "Hostile Root", -1, 365);
    let kept = t.synced_certificate("tls", &good).await;

    let chains: Vec<pki::Chain> = (0..12)
        .map(|n| pki::chain(Alg::Ec, &format!("Many {n}"), -1, 365))
        .collect();
    let many: Vec<&pki::Cert> = chains
        .iter()
        .flat_map(|c| [&c.leaf, &c.inter, &c.root])
        .collect();
    let too_many = pem_bundle(Some(&good.key_pem), &many);
    let huge = format!("{}{}", too_many, "A".repeat(6 * 1024 * 1024));
    for (n, (reason, value)) in [
        ("CertificateTooLarge", too_many),
        ("VaultResponseTooLarge", huge),
    ]
    .into_iter()
    .enumerate()
    {
        world()
            .control()
            .overwrite_certificate_secret(&t.vault, "tls", &value)
            .unwrap();
        t.force_refresh("vaultcertificate", "tls", &n.to_string());
        let started = std::time::Instant::now();
        let refused = t.wait_certificate_reason("tls", reason, SYNC).await;
        let took = started.elapsed();
        eprintln!("{reason} reported {took:?} after the force refresh");
        assert!(took < Duration::from_secs(20), "{reason} took {took:?}");
        let message = &refused.status.unwrap().sync.conditions[0].message;
        assert!(message.contains("keeps its last synced data"), "{message}");
        assert_eq!(t.secret_bytes("tls").await.unwrap().1, kept, "{reason}");
        let calm = bystander_sync_time(&format!("hostile-calm{n}")).await;
        assert!(
            calm < Duration::from_secs(10),
            "a bystander waited {calm:?}"
        );
    }
}

#[tokio::test]
async fn an_endless_listing_is_cut_off_with_a_precise_reason() {
    let t = test_namespace("endless").await;
    t.set("bulk-a", "a");
    world().control().set_fault(&t.vault, Fault::EndlessPaging);
    t.apply("all", "  dataFrom:\n  - namePrefix: bulk-\n");
    let started = std::time::Instant::now();
    let refused = t.wait_reason("all", "VaultResponseTooLarge", SYNC).await;
    eprintln!("endless listing refused after {:?}", started.elapsed());
    let message = &refused.status.unwrap().conditions[0].message;
    assert!(message.contains("2000 pages"), "{message}");
    let calm = bystander_sync_time("endless-calm").await;
    assert!(
        calm < Duration::from_secs(10),
        "a bystander waited {calm:?}"
    );
    world().control().clear_faults(&t.vault);
}

/// The content hash as it was before it was keyed: SHA-256 over the length-prefixed type, keys
/// and values. Anyone who can edit a Secret can compute it.
fn unkeyed_hash(type_: &str, data: &BTreeMap<String, Vec<u8>>) -> String {
    let mut hasher = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    part(type_.as_bytes());
    for (key, value) in data {
        part(key.as_bytes());
        part(value);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn an_edited_certificate_secret_with_a_recomputed_hash_is_still_restored() {
    let t = test_namespace("forged").await;
    let chain = pki::chain(Alg::Ec, "Forged Root", -1, 365);
    let kept = t.synced_certificate("tls", &chain).await;
    let other = pki::chain(Alg::Ec, "Intruder Root", -1, 365);
    let mut tampered = kept.clone();
    tampered.insert("tls.key".into(), other.key_pem.clone().into_bytes());
    // The tenant replaces the key and makes the recorded hash match the new data, as an
    // unkeyed hash allowed: the operator would then have taken the data as its own build.
    let secrets = Api::<Secret>::namespaced(t.client.clone(), &t.ns);
    let mut secret = secrets.get("tls").await.unwrap();
    let type_ = secret.type_.clone().unwrap();
    secret.data = Some(
        tampered
            .iter()
            .map(|(k, v)| (k.clone(), ByteString(v.clone())))
            .collect(),
    );
    secret.metadata.annotations.get_or_insert_default().insert(
        "vaultsync.dev/content-hash".into(),
        unkeyed_hash(&type_, &tampered),
    );
    secrets
        .replace("tls", &PostParams::default(), &secret)
        .await
        .unwrap();
    eventually(
        "the edited Secret restored from the vault",
        SYNC,
        || async {
            let now = t.secret_bytes("tls").await.unwrap().1;
            check(now == kept, "still the edited key")
        },
    )
    .await;
}

#[tokio::test]
async fn the_content_hash_is_keyed_by_one_key_every_replica_shares() {
    let t = test_namespace("hashkey").await;
    // Replicas starting together: one creates the key Secret, the others read it.
    let client = t.client.clone();
    let ns = t.ns.clone();
    let keys = futures::future::join_all((0..4).map(|_| {
        let (client, ns) = (client.clone(), ns.clone());
        async move { get_or_create(&client, &ns, "hash-key").await.unwrap() }
    }))
    .await;
    let probe: BTreeMap<String, SecretValue> = [("k".to_string(), SecretValue::new("v"))].into();
    let hashes: Vec<String> = keys.iter().map(|k| k.hash("Opaque", &probe)).collect();
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");
    let stored = Api::<Secret>::namespaced(t.client.clone(), &t.ns)
        .get("hash-key")
        .await
        .unwrap();
    assert_eq!(stored.immutable, Some(true));
    let raw = &stored.data.as_ref().unwrap()["key"].0;
    assert_eq!(raw.len(), 32);
    assert_eq!(
        ContentKey::new(raw).unwrap().hash("Opaque", &probe),
        hashes[0]
    );

    // The world's operator runs out of cluster: its key Secret is in the kubeconfig's namespace.
    let value = "keyed-hash-value";
    t.set("db", value);
    t.apply("app", "  data:\n  - key: password\n    name: db\n");
    t.wait_reason("app", "Synced", SYNC).await;
    let world_key = Api::<Secret>::namespaced(t.client.clone(), "default")
        .get("vaultsync-content-hash-key")
        .await
        .unwrap();
    let world_key = ContentKey::new(&world_key.data.unwrap()["key"].0).unwrap();
    let synced = Api::<Secret>::namespaced(t.client.clone(), &t.ns)
        .get("app")
        .await
        .unwrap();
    let recorded = &synced.metadata.annotations.as_ref().unwrap()["vaultsync.dev/content-hash"];
    let data: BTreeMap<String, Vec<u8>> =
        [("password".to_string(), value.as_bytes().to_vec())].into();
    let values = data
        .iter()
        .map(|(k, v)| (k.clone(), SecretValue::new(v.clone())))
        .collect();
    assert_eq!(recorded, &world_key.hash("Opaque", &values));
    assert_ne!(recorded, &unkeyed_hash("Opaque", &data));
}
