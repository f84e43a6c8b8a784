//! The push endpoint in process (axum's service called directly, no network).

use super::*;
use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tower::ServiceExt;

const SECRET: &str = "correct horse battery staple";
const VERSION: &str = "0123456789abcdef0123456789abcdef";

struct Fixture {
    router: axum::Router,
    changes: mpsc::Receiver<ObjectChanged>,
    health: PushHealth,
    _dir: tempfile::TempDir,
}

fn fixture_with(tune: impl FnOnce(&mut PushSettings), capacity: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let mut settings = PushSettings::new(([127, 0, 0, 1], 0).into());
    settings.shared_secret = Some(SharedSecret {
        header: DEFAULT_SECRET_HEADER.into(),
        file,
    });
    tune(&mut settings);
    let (sink, changes) = mpsc::channel(capacity);
    let health = PushHealth::default();
    let ep = endpoint(&settings, sink, health.clone()).unwrap();
    Fixture {
        router: routes::router(Arc::new(ep)),
        changes,
        health,
        _dir: dir,
    }
}

fn fixture() -> Fixture {
    fixture_with(|_| {}, 16)
}

fn secret_event(name: &str) -> Value {
    json!({"id": format!("id-{name}"), "topic": "/subscriptions/x/providers/Microsoft.KeyVault/vaults/KV1",
        "subject": name, "eventType": "Microsoft.KeyVault.SecretNewVersionCreated",
        "eventTime": "2026-01-01T00:00:00.0000000Z", "dataVersion": "1", "metadataVersion": "1",
        "data": {"Id": "https://kv1.vault.azure.net/secrets/x", "VaultName": "KV1", "ObjectType": "Secret",
                 "ObjectName": name, "Version": VERSION, "NBF": null, "EXP": null}})
}

fn post(body: &Value, content_type: &str, secret: Option<&str>) -> Request<Body> {
    let body = body.to_string();
    let mut b = Request::post("/api/events")
        .header("content-type", content_type)
        .header("content-length", body.len());
    if let Some(s) = secret {
        b = b.header(DEFAULT_SECRET_HEADER, s);
    }
    b.body(Body::from(body)).unwrap()
}

async fn call(f: &Fixture, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = f.router.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = to_bytes(body, 1 << 20).await.unwrap().to_vec();
    (parts.status, parts.headers, body)
}

#[tokio::test]
async fn an_authenticated_event_grid_delivery_reaches_the_sink() {
    let mut f = fixture();
    assert_eq!(f.health.last_authenticated(), None);
    let body = json!([secret_event("Db-Password"), secret_event("api-key")]);
    let (status, _, _) = call(&f, post(&body, "application/json", Some(SECRET))).await;
    assert_eq!(status, StatusCode::OK);
    let first = f.changes.try_recv().unwrap();
    assert_eq!(
        first,
        ObjectChanged {
            vault_name: "kv1".into(),
            object_type: ObjectType::Secret,
            object_name: "db-password".into(),
            version: Some(VERSION.into()),
            change: Change::NewVersion,
            event_id: Some("id-Db-Password".into()),
        }
    );
    assert_eq!(f.changes.try_recv().unwrap().object_name, "api-key");
    assert!(f.health.is_healthy_within(Duration::from_secs(60)));
}

#[tokio::test]
async fn missing_or_forged_credentials_are_refused_before_the_body_is_read() {
    let mut f = fixture();
    let garbage = json!("this is not an event array");
    for secret in [
        None,
        Some("wrong"),
        Some(""),
        Some("correct horse battery stapl"),
    ] {
        let (status, _, _) = call(&f, post(&garbage, "application/json", secret)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{secret:?}");
    }
    let events = json!([secret_event("s")]);
    let (status, _, _) = call(&f, post(&events, "application/json", Some("wrong"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(f.changes.try_recv().is_err());
    assert_eq!(f.health.last_authenticated(), None);
    // The validation event needs credentials too.
    let validation = json!([{"eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "data": {"validationCode": "c0de"}}]);
    let (status, _, _) = call(&f, post(&validation, "application/json", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn answers_both_handshakes() {
    let f = fixture();
    let validation = json!([{"id": "1", "topic": "/subscriptions/x", "subject": "",
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6", "validationUrl": "https://x"},
        "dataVersion": "2", "metadataVersion": "1"}]);
    let mut req = post(&validation, "application/json", Some(SECRET));
    req.headers_mut()
        .insert("aeg-event-type", "SubscriptionValidation".parse().unwrap());
    let (status, _, body) = call(&f, req).await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body,
        json!({"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"})
    );
    assert!(f.health.last_authenticated().is_some());

    let f = fixture();

    let preflight = Request::options("/api/events")
        .header("WebHook-Request-Origin", "eventgrid.azure.net")
        .header("WebHook-Request-Rate", "120")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = call(&f, preflight).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get("webhook-allowed-origin").unwrap(),
        "eventgrid.azure.net"
    );
    let no_origin = Request::options("/").body(Body::empty()).unwrap();
    assert_eq!(call(&f, no_origin).await.0, StatusCode::BAD_REQUEST);
    // An unauthenticated preflight is answered but does not count as push being healthy.
    assert_eq!(f.health.last_authenticated(), None);
}

#[tokio::test]
async fn accepts_cloud_events_single_and_batch() {
    let mut f = fixture();
    let ce = |name: &str, t: &str| {
        json!({"specversion": "1.0", "id": name, "source": "/subscriptions/x", "subject": name, "type": t,
            "data": {"VaultName": "kv1", "ObjectType": "Certificate", "ObjectName": name, "Version": VERSION}})
    };
    let single = ce("web", "Microsoft.KeyVault.CertificateNewVersionCreated");
    let (status, _, _) = call(
        &f,
        post(
            &single,
            "application/cloudevents+json; charset=utf-8",
            Some(SECRET),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let c = f.changes.try_recv().unwrap();
    assert_eq!(
        (c.object_type, c.change, c.object_name.as_str()),
        (ObjectType::Certificate, Change::NewVersion, "web")
    );
    let batch = json!([
        ce("a", "Microsoft.KeyVault.CertificateNearExpiry"),
        ce("b", "Microsoft.KeyVault.CertificateExpired")
    ]);
    let (status, _, _) = call(
        &f,
        post(&batch, "application/cloudevents-batch+json", Some(SECRET)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(f.changes.try_recv().unwrap().change, Change::NearExpiry);
    assert_eq!(f.changes.try_recv().unwrap().change, Change::Expired);
}

#[tokio::test]
async fn unknown_events_are_acknowledged_and_ignored() {
    let mut f = fixture();
    let body = json!([{"eventType": "Microsoft.KeyVault.VaultAccessPolicyChanged", "data": {"VaultName": "kv1", "ObjectName": "k"}},
        {"eventType": "Microsoft.Storage.BlobCreated", "data": {}}]);
    let (status, _, _) = call(&f, post(&body, "application/json", Some(SECRET))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(f.changes.try_recv().is_err());
    let (status, _, _) = call(&f, post(&json!(1), "application/json", Some(SECRET))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let req = Request::post("/")
        .header(DEFAULT_SECRET_HEADER, SECRET)
        .header("content-type", "text/xml")
        .body(Body::from("<x/>"))
        .unwrap();
    assert_eq!(call(&f, req).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let get = Request::get("/").body(Body::empty()).unwrap();
    assert_eq!(call(&f, get).await.0, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn bodies_are_bounded() {
    let f = fixture_with(|s| s.max_body_bytes = 1024, 16);
    let big = Value::Array(vec![secret_event(&"a".repeat(100)); 20]);
    // Declared too large: refused before the credentials are even checked.
    let (status, _, _) = call(&f, post(&big, "application/json", None)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Streamed without a length: cut at the limit.
    let stream = futures::stream::iter(vec![Ok::<_, std::io::Error>(big.to_string())]);
    let req = Request::post("/")
        .header(DEFAULT_SECRET_HEADER, SECRET)
        .body(Body::from_stream(stream))
        .unwrap();
    assert_eq!(call(&f, req).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn abusive_senders_are_rate_limited() {
    let f = fixture_with(
        |s| {
            s.rate_limit = RateLimit {
                per_second: 0.001,
                burst: 3,
            }
        },
        16,
    );
    let from = |ip: [u8; 4]| {
        let mut req = post(&json!([]), "application/json", Some("forged"));
        req.extensions_mut()
            .insert(ConnectInfo(PeerAddr((ip, 40000).into())));
        req
    };
    for _ in 0..3 {
        assert_eq!(
            call(&f, from([127, 0, 0, 9])).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, headers, _) = call(&f, from([127, 0, 0, 9])).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers.get("retry-after").unwrap(), "1");
    assert_eq!(
        call(&f, from([127, 0, 0, 10])).await.0,
        StatusCode::UNAUTHORIZED,
        "other senders are not limited"
    );
    // Authenticated deliveries cost nothing: many more than the burst all pass.
    for _ in 0..10 {
        let mut req = post(&json!([]), "application/json", Some(SECRET));
        req.extensions_mut()
            .insert(ConnectInfo(PeerAddr(([127, 0, 0, 11], 40000).into())));
        assert_eq!(call(&f, req).await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_full_sink_answers_503_so_event_grid_retries() {
    let f = fixture_with(|s| s.sink_timeout = Duration::from_millis(20), 1);
    let body = json!([secret_event("a"), secret_event("b")]);
    let (status, _, _) = call(&f, post(&body, "application/json", Some(SECRET))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[test]
fn settings_must_name_an_authentication() {
    let (sink, _) = mpsc::channel(1);
    let settings = PushSettings::new(([127, 0, 0, 1], 0).into());
    assert!(matches!(
        endpoint(&settings, sink.clone(), PushHealth::default()),
        Err(PushError::NoAuthentication)
    ));
    let mut settings = settings;
    settings.shared_secret = Some(SharedSecret {
        header: DEFAULT_SECRET_HEADER.into(),
        file: "/nonexistent/push-secret".into(),
    });
    let result = endpoint(&settings, sink, PushHealth::default());
    assert!(
        matches!(result, Err(PushError::SecretFile { .. })),
        "a missing secret file is an error"
    );
}
