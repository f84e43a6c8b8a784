//! Event Grid push end to end: the emulator delivers Key Vault events to the operator's push
//! endpoint, and a rotation reaches the Secret within seconds although polling is set to a day.
//! Both schemas deliver every event (so each rotation arrives twice: a duplicate costs no second
//! read); an event wakes only the resources that follow the object, and each reads it through
//! its own identity; an unfollowed object or a forged delivery costs nothing.
//!
//! The world's operator is never started in this binary: each test runs its own.

mod support;

use std::time::Duration;

use support::eventually::{check, eventually};
use support::kubectl_apply;
use support::operator::Operator;
use support::world::{TestNamespace, backdrop, test_namespace_without_operator, world_control};
use vaultsync::push::DEFAULT_SECRET_HEADER;
use vaultsync_emulator::{
    EventSchema, EventSubscription, Permission, RetryPolicy, SubscriptionState,
};

const SYNC: Duration = Duration::from_secs(60);
const SECRET: &str = "push-shared-secret-for-tests";

fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// A VaultSecret in `t`'s namespace reading `name` from `vault_url` every day.
fn follow(t: &TestNamespace, resource: &str, vault_url: &str, name: &str) {
    let yaml = format!(
        "apiVersion: vaultsync.dev/v1alpha1\nkind: VaultSecret\nmetadata:\n  name: {resource}\n  namespace: {}\nspec:\n  vault:\n    url: {vault_url}\n    serviceAccountName: app\n  refreshInterval: 24h\n  data:\n  - key: value\n    name: {name}\n",
        t.ns
    );
    let out = kubectl_apply(&yaml);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Subscribes the operator's endpoint to `vault` in `schema` and waits for the handshake.
async fn subscribe(vault: &str, endpoint: &str, schema: EventSchema) {
    let mut subscription = EventSubscription::new(vault, endpoint);
    subscription.schema = schema;
    subscription.retry = RetryPolicy::quick();
    subscription
        .delivery_headers
        .insert(DEFAULT_SECRET_HEADER.into(), SECRET.into());
    let id = world_control().subscribe_events(subscription).unwrap();
    eventually("the subscription's handshake", SYNC, || async {
        let state = world_control().event_subscription(&id).unwrap().state;
        check(state == SubscriptionState::Active, state)
    })
    .await;
}

fn reads(t: &TestNamespace) -> u64 {
    world_control().counters().by_op(&t.vault, "GetSecret")
}

#[tokio::test]
async fn pushed_rotations_arrive_in_seconds_once_per_follower_through_its_own_identity() {
    let a = test_namespace_without_operator("pusha").await;
    let b = test_namespace_without_operator("pushb").await;
    // b's identity may read a's vault too, and follows another secret there.
    world_control().assign_role(
        &b.client_id,
        &a.vault,
        &[Permission::SecretsRead, Permission::List],
    );
    a.set("db", "push-db-1");
    a.set("other", "push-other-1");
    a.set("unfollowed", "push-unfollowed-1");
    let secret_file = backdrop().dir.join(format!("{}-push-secret", a.ns));
    std::fs::write(&secret_file, SECRET).unwrap();
    let addr = free_addr();
    let namespaces = format!("{},{}", a.ns, b.ns);
    let operator = Operator::start(
        "push",
        &a.ns,
        &[
            "--namespace",
            &namespaces,
            "--push-addr",
            &addr,
            "--push-shared-secret-file",
            secret_file.to_str().unwrap(),
        ],
    );
    follow(&a, "app", &a.vault_url, "db");
    follow(&b, "app", &a.vault_url, "other");
    world_control().assign_role(&a.client_id, &a.vault, &[Permission::KeysRead]);
    world_control()
        .create_key(&a.vault, "signer", "EC", None)
        .unwrap();
    a.apply(
        "jwks",
        "  refreshInterval: 24h\n  keys:\n  - key: jwk\n    name: signer\n    format: JWK\n",
    );
    a.wait_reason("app", "Synced", SYNC).await;
    b.wait_reason("app", "Synced", SYNC).await;
    a.wait_reason("jwks", "Synced", SYNC).await;
    let endpoint = format!("http://{addr}/");
    subscribe(&a.vault, &endpoint, EventSchema::EventGrid).await;
    subscribe(&a.vault, &endpoint, EventSchema::CloudEvents).await;

    for round in 2..=4 {
        let before = reads(&a);
        let value = format!("push-db-{round}");
        a.set("db", &value);
        eventually("the pushed rotation", Duration::from_secs(5), || async {
            let data = a.secret_data("app").await.unwrap_or_default();
            check(data["value"] == value, data)
        })
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            reads(&a),
            before + 1,
            "two deliveries of one rotation (both schemas): one read"
        );
    }
    // A new key version is pushed too (`KeyNewVersionCreated`): one read, the new public part.
    let key_reads = world_control().counters().by_op(&a.vault, "GetKey");
    let old_jwk = a.secret_data("jwks").await.unwrap()["jwk"].clone();
    let rotated = world_control()
        .create_key(&a.vault, "signer", "EC", None)
        .unwrap();
    eventually("the pushed key version", Duration::from_secs(5), || async {
        let data = a.secret_data("jwks").await.unwrap_or_default();
        check(
            data["jwk"] != old_jwk && data["jwk"].contains(&rotated),
            data,
        )
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        world_control().counters().by_op(&a.vault, "GetKey"),
        key_reads + 1,
        "two deliveries of one key version: one read"
    );

    let log = operator.log();
    let b_reads_db = log.lines().any(|line| {
        line.contains("\"vault read\"")
            && line.contains(&format!("\"service_account\":\"{}/app\"", b.ns))
            && line.contains("\"object\":\"db\"")
    });
    assert!(
        !b_reads_db,
        "b's identity never reads what it does not reference"
    );

    let before = reads(&a);
    a.set("unfollowed", "push-unfollowed-2");
    let forged = reqwest::Client::new()
        .post(&endpoint)
        .body(format!(
            r#"[{{"id":"f1","eventType":"Microsoft.KeyVault.SecretNewVersionCreated","subject":"db","topic":"/x","data":{{"VaultName":"{}","ObjectType":"Secret","ObjectName":"db","Version":"0123456789abcdef0123456789abcdef"}}}}]"#,
            a.vault
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401, "a delivery without the secret");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        reads(&a),
        before,
        "an unfollowed object and a forged delivery cost no read"
    );
    a.assert_no_leak(&["push-db-2", "push-db-3", "push-db-4"])
        .await;
}
