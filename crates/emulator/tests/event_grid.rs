//! Event Grid delivery: both validation handshakes, no delivery before validation, Key Vault
//! payloads in both schemas, Azure's retry rules, the duplicate fault, expiry events, Entra bearer
//! tokens that verify against the emulator's published keys, and the control surface over HTTPS.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use common::webhook::{Received, Script, Webhook};
use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use vaultsync_emulator::{
    AttemptOutcome, CertificateImport, Control, EntraDelivery, EventSchema, EventSubscription,
    RetryPolicy, SecretOptions, SubscriptionState, SubscriptionStatus,
};

fn subscription(hook: &Webhook, schema: EventSchema) -> EventSubscription {
    EventSubscription {
        schema,
        retry: RetryPolicy::quick(),
        ..EventSubscription::new("v1", &hook.url)
    }
}

/// Waits until the subscription's status satisfies `done`.
async fn wait_for(
    c: &Control,
    id: &str,
    what: &str,
    done: impl Fn(&SubscriptionStatus) -> bool,
) -> SubscriptionStatus {
    for _ in 0..200 {
        let s = c.event_subscription(id).expect("subscription exists");
        if done(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: {:?}", c.event_subscription(id));
}

async fn active(c: &Control, id: &str) {
    wait_for(c, id, "subscription active", |s| {
        s.state == SubscriptionState::Active
    })
    .await;
}

fn only_event(r: &Received) -> Value {
    let body = r.json();
    let events = body.as_array().expect("an Event Grid array");
    assert_eq!(events.len(), 1, "{body}");
    events[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_grid_schema_handshake_then_new_secret_versions() {
    let fx = fixture().await;
    let c = fx.control();
    let mut hook = Webhook::start(Script::default()).await;
    let mut sub = subscription(&hook, EventSchema::EventGrid);
    sub.delivery_headers
        .insert("x-push-secret".into(), "s3cret-header".into());
    let id = c.subscribe_events(sub).unwrap();

    let v = hook.next().await;
    assert_eq!(v.method, Method::POST);
    assert_eq!(v.header("aeg-event-type"), Some("SubscriptionValidation"));
    assert_eq!(v.header("x-push-secret"), Some("s3cret-header"));
    let ev = only_event(&v);
    assert_eq!(
        ev["eventType"],
        "Microsoft.EventGrid.SubscriptionValidationEvent"
    );
    assert!(ev["data"]["validationCode"].as_str().unwrap().len() >= 32);
    assert!(
        ev["data"]["validationUrl"]
            .as_str()
            .unwrap()
            .contains(&format!("/_emulator/eventgrid/subscriptions/{id}/validate"))
    );
    active(c, &id).await;

    // Through the control API and through the data plane, as a client writes it.
    let version = c
        .set_secret(
            "v1",
            "Db-Password",
            "hunter2-value",
            SecretOptions {
                exp: Some(2_000_000_000),
                nbf: Some(1_000_000_000),
                ..Default::default()
            },
        )
        .unwrap();
    let n = hook.next_notification().await;
    assert_eq!(n.header("content-type"), Some("application/json"));
    assert_eq!(n.header("aeg-delivery-count"), Some("0"));
    assert_eq!(n.header("aeg-subscription-name"), Some(id.as_str()));
    assert_eq!(n.header("x-push-secret"), Some("s3cret-header"));
    assert!(!String::from_utf8_lossy(&n.body).contains("hunter2"));
    let ev = only_event(&n);
    let base = fx.emu.vault_url("v1");
    let fields: Vec<&str> = ev.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        [
            "data",
            "dataVersion",
            "eventTime",
            "eventType",
            "id",
            "metadataVersion",
            "subject",
            "topic"
        ]
    );
    assert_eq!(
        ev["eventType"],
        "Microsoft.KeyVault.SecretNewVersionCreated"
    );
    assert_eq!(ev["subject"], "Db-Password");
    assert!(
        ev["topic"]
            .as_str()
            .unwrap()
            .ends_with("/providers/Microsoft.KeyVault/vaults/v1")
    );
    assert_eq!(
        ev["data"],
        json!({"Id": format!("{base}secrets/Db-Password/{version}"), "VaultName": "v1",
            "ObjectType": "Secret", "ObjectName": "Db-Password", "Version": version,
            "NBF": 1_000_000_000, "EXP": 2_000_000_000})
    );

    let token = access_token(&fx).await;
    let (s, b) = rest(
        &fx,
        &token,
        Method::PUT,
        "secrets/api-key?api-version=7.5",
        Some(json!({"value": "v"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let ev = only_event(&hook.next_notification().await);
    assert_eq!(ev["subject"], "api-key");
    assert_eq!(ev["data"]["EXP"], Value::Null);
    let status = wait_for(c, &id, "two deliveries", |s| s.delivered == 2).await;
    assert_eq!(status.attempts, 2);
    assert_eq!(status.statuses.get(&200), Some(&2));

    // Unsubscribed: nothing more arrives.
    assert!(c.unsubscribe_events(&id));
    c.set_secret("v1", "api-key", "w", SecretOptions::default())
        .unwrap();
    assert!(hook.drain(Duration::from_millis(500)).await.is_empty());
    assert!(c.event_subscription(&id).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_events_preflight_then_certificate_versions() {
    let fx = fixture().await;
    let c = fx.control();
    let mut hook = Webhook::start(Script::default()).await;
    let id = c
        .subscribe_events(subscription(&hook, EventSchema::CloudEvents))
        .unwrap();
    let pre = hook.next().await;
    assert_eq!(pre.method, Method::OPTIONS);
    assert_eq!(
        pre.header("webhook-request-origin"),
        Some("eventgrid.azure.net")
    );
    assert!(pre.header("webhook-request-rate").is_some());
    active(c, &id).await;

    let cert = rcgen::generate_simple_self_signed(vec!["web.example".into()]).unwrap();
    let pem = format!("{}{}", cert.cert.pem(), cert.signing_key.serialize_pem());
    let version = c
        .import_certificate(
            "v1",
            "web-tls",
            CertificateImport {
                pem: Some(pem),
                ..Default::default()
            },
        )
        .unwrap();
    let n = hook.next_notification().await;
    assert_eq!(
        n.header("content-type"),
        Some("application/cloudevents+json; charset=utf-8")
    );
    let ev = n.json();
    assert_eq!(ev["specversion"], "1.0");
    assert_eq!(
        ev["type"],
        "Microsoft.KeyVault.CertificateNewVersionCreated"
    );
    assert_eq!(ev["subject"], "web-tls");
    assert!(
        ev["source"]
            .as_str()
            .unwrap()
            .starts_with("/subscriptions/")
    );
    assert_eq!(ev["data"]["ObjectType"], "Certificate");
    assert_eq!(ev["data"]["Version"], version.as_str());
    assert!(ev["data"]["EXP"].as_i64().unwrap() > ev["data"]["NBF"].as_i64().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_handshakes_leave_the_subscription_inactive() {
    let fx = fixture().await;
    let c = fx.control();

    // CloudEvents: no WebHook-Allowed-Origin, then one that is not Event Grid.
    for origin in [None, Some("elsewhere.example".to_owned())] {
        let mut hook = Webhook::start(Script {
            allowed_origin: origin,
            ..Script::default()
        })
        .await;
        let id = c
            .subscribe_events(subscription(&hook, EventSchema::CloudEvents))
            .unwrap();
        let s = wait_for(c, &id, "handshake fails", |s| {
            matches!(s.state, SubscriptionState::Failed(_))
        })
        .await;
        assert!(
            matches!(s.state, SubscriptionState::Failed(r) if r.contains("WebHook-Allowed-Origin"))
        );
        c.set_secret("v1", "s", "v", SecretOptions::default())
            .unwrap();
        let later = hook.drain(Duration::from_millis(400)).await;
        assert!(later.iter().all(|r| !r.is_notification()), "{later:?}");
        wait_for(c, &id, "event skipped", |s| s.skipped_inactive == 1).await;
        c.unsubscribe_events(&id);
    }

    // Event Grid schema: 200 without the code fails; a GET of the validationUrl then activates.
    let mut hook = Webhook::start(Script {
        echo_validation_code: false,
        ..Script::default()
    })
    .await;
    let id = c
        .subscribe_events(subscription(&hook, EventSchema::EventGrid))
        .unwrap();
    let validation = only_event(&hook.next().await);
    wait_for(c, &id, "handshake fails", |s| {
        matches!(s.state, SubscriptionState::Failed(_))
    })
    .await;
    c.set_secret("v1", "before", "v", SecretOptions::default())
        .unwrap();
    wait_for(c, &id, "event skipped", |s| s.skipped_inactive == 1).await;
    let url = validation["data"]["validationUrl"].as_str().unwrap();
    let wrong = fx
        .http
        .get(url.replace("code=", "code=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let right = fx.http.get(url).send().await.unwrap();
    assert_eq!(right.status(), 200);
    active(c, &id).await;
    c.set_secret("v1", "after", "v", SecretOptions::default())
        .unwrap();
    let ev = only_event(&hook.next_notification().await);
    assert_eq!(
        ev["subject"], "after",
        "events from before validation never arrive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_as_azure_retries_them() {
    let fx = fixture().await;
    let c = fx.control();
    let mut hook = Webhook::start(Script {
        statuses: [503, 500, 404, 200, 400, 401].into(),
        ..Script::default()
    })
    .await;
    let id = c
        .subscribe_events(subscription(&hook, EventSchema::EventGrid))
        .unwrap();
    active(c, &id).await;

    c.set_secret("v1", "retried", "v", SecretOptions::default())
        .unwrap();
    let mut counts = Vec::new();
    for _ in 0..4 {
        let n = hook.next_notification().await;
        counts.push(n.header("aeg-delivery-count").unwrap().to_owned());
        assert_eq!(only_event(&n)["subject"], "retried");
    }
    assert_eq!(counts, ["0", "1", "2", "3"]);
    let s = wait_for(c, &id, "delivered", |s| s.delivered == 1).await;
    let outcomes: Vec<_> = s.log.iter().map(|a| (a.status, a.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            (Some(503), AttemptOutcome::WillRetry),
            (Some(500), AttemptOutcome::WillRetry),
            (Some(404), AttemptOutcome::WillRetry),
            (Some(200), AttemptOutcome::Delivered),
        ]
    );

    // 400 and 401 are not retried: each event is dropped after one attempt.
    for name in ["bad-request", "unauthorized"] {
        c.set_secret("v1", name, "v", SecretOptions::default())
            .unwrap();
        hook.next_notification().await;
    }
    let s = wait_for(c, &id, "dropped", |s| s.dropped == 2).await;
    assert_eq!(s.attempts, 6);
    assert!(hook.drain(Duration::from_millis(600)).await.is_empty());

    // Attempts are bounded by max_attempts; a transport failure counts as status 0.
    let dead = EventSubscription {
        retry: RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::quick()
        },
        ..subscription(&hook, EventSchema::EventGrid)
    };
    let dead_id = c.subscribe_events(dead).unwrap();
    active(c, &dead_id).await;
    drop(hook);
    c.set_secret("v1", "nobody-home", "v", SecretOptions::default())
        .unwrap();
    let s = wait_for(c, &dead_id, "given up", |s| s.dropped == 1).await;
    assert_eq!((s.attempts, s.statuses.get(&0)), (3, Some(&3)));
    assert!(s.log.iter().all(|a| a.error.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_duplicate_fault_delivers_each_event_again() {
    let fx = fixture().await;
    let c = fx.control();
    let mut hook = Webhook::start(Script::default()).await;
    let id = c
        .subscribe_events(subscription(&hook, EventSchema::CloudEvents))
        .unwrap();
    active(c, &id).await;
    c.set_event_duplicates(&id, 2).unwrap();
    c.set_secret("v1", "dup", "v", SecretOptions::default())
        .unwrap();
    let ids: Vec<Value> = [
        hook.next_notification().await,
        hook.next_notification().await,
        hook.next_notification().await,
    ]
    .iter()
    .map(|r| r.json()["id"].clone())
    .collect();
    assert!(ids.iter().all(|i| i == &ids[0]), "{ids:?}");
    wait_for(c, &id, "three deliveries", |s| s.delivered == 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_expiry_and_expired_fire_as_the_clock_passes() {
    let fx = fixture().await;
    let c = fx.control();
    let mut hook = Webhook::start(Script::default()).await;
    let id = c
        .subscribe_events(subscription(&hook, EventSchema::EventGrid))
        .unwrap();
    active(c, &id).await;
    let day = 86_400;
    let exp = c.now() + 31 * day;
    let version = c
        .set_secret(
            "v1",
            "rotating",
            "v",
            SecretOptions {
                exp: Some(exp),
                ..Default::default()
            },
        )
        .unwrap();
    hook.next_notification().await;

    c.advance_clock(2 * day);
    let ev = only_event(&hook.next_notification().await);
    assert_eq!(ev["eventType"], "Microsoft.KeyVault.SecretNearExpiry");
    assert_eq!(ev["data"]["Version"], version.as_str());
    assert_eq!(ev["data"]["EXP"], exp);

    c.advance_clock(30 * day);
    let ev = only_event(&hook.next_notification().await);
    assert_eq!(ev["eventType"], "Microsoft.KeyVault.SecretExpired");
    assert!(
        hook.drain(Duration::from_millis(1500)).await.is_empty(),
        "each threshold fires once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_bearer_tokens_verify_against_the_published_keys() {
    let fx = fixture().await;
    let c = fx.control();
    let mut hook = Webhook::start(Script::default()).await;
    let sub = EventSubscription {
        entra: Some(EntraDelivery {
            tenant: TENANT.into(),
            audience: "api://vaultsync-push".into(),
        }),
        ..subscription(&hook, EventSchema::EventGrid)
    };
    let id = c.subscribe_events(sub).unwrap();
    let handshake = hook.next().await;
    active(c, &id).await;
    c.set_secret("v1", "s", "v", SecretOptions::default())
        .unwrap();
    let n = hook.next_notification().await;

    let openid: Value = fx
        .http
        .get(format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration",
            fx.emu.authority_host()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwks: Value = fx
        .http
        .get(openid["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for r in [&handshake, &n] {
        let token = r
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .expect("a bearer token");
        let claims = verify_rs256(token, &jwks);
        assert_eq!(claims["aud"], "api://vaultsync-push");
        assert_eq!(claims["iss"], openid["issuer"]);
        assert!(claims["exp"].as_i64().unwrap() > c.now());
    }
    let mut forged = n.header("authorization").unwrap()[7..].to_owned();
    forged.replace_range(forged.len() - 8.., "AAAAAAAA");
    assert!(std::panic::catch_unwind(|| verify_rs256(&forged, &jwks)).is_err());
}

/// Verifies an RS256 JWT against a JWKS with ring; returns its claims.
fn verify_rs256(token: &str, jwks: &Value) -> Value {
    let mut parts = token.split('.');
    let (h, p, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let header: Value = serde_json::from_slice(&B64URL.decode(h).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the token's kid is published");
    let field = |n: &str| B64URL.decode(key[n].as_str().unwrap()).unwrap();
    ring::signature::RsaPublicKeyComponents {
        n: field("n"),
        e: field("e"),
    }
    .verify(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        format!("{h}.{p}").as_bytes(),
        &B64URL.decode(s).unwrap(),
    )
    .expect("signature verifies");
    serde_json::from_slice(&B64URL.decode(p).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_surface_manages_subscriptions() {
    let fx = fixture().await;
    let mut hook = Webhook::start(Script::default()).await;
    let url = format!("{}/eventgrid/subscriptions", fx.emu.control_url());
    let spec = json!({"vault": "v1", "endpoint": hook.url, "schema": "CloudEvents",
        "retry": {"delays": [{"secs": 0, "nanos": 50_000_000}], "max_attempts": 2,
                  "ttl": {"secs": 10, "nanos": 0}, "status_floors": false}});
    let r = fx.http.post(&url).json(&spec).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    active(fx.control(), &id).await;
    let r = fx
        .http
        .post(format!("{url}/{id}/duplicates"))
        .json(&json!({"extra_copies": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    fx.control()
        .set_secret("v1", "x", "v", SecretOptions::default())
        .unwrap();
    hook.next_notification().await;
    hook.next_notification().await;
    wait_for(fx.control(), &id, "two deliveries", |s| s.delivered == 2).await;
    let status: Value = fx
        .http
        .get(format!("{url}/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["state"], json!({"state": "Active"}));
    assert_eq!(
        (status["attempts"].as_u64(), status["delivered"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        status["log"][0]["event_type"],
        "Microsoft.KeyVault.SecretNewVersionCreated"
    );

    let bad = json!({"vault": "v1", "endpoint": "http://192.0.2.1/hook"});
    let r = fx.http.post(&url).json(&bad).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = fx.http.delete(format!("{url}/{id}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = fx.http.get(format!("{url}/{id}")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}
