//! Raw HTTP against the emulator: Entra refusals with their AADSTS codes, data-plane refusals
//! (api-version, JSON, limits, names, tokens, unknown vault), plain HTTP, and the control surface.

mod common;

use base64::Engine;
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const SCOPE: &str = "https://vault.localhost/.default";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_refusals_carry_aadsts_codes() {
    let fx = fixture().await;
    let c = fx.control();
    let good = c.mint_test_token(SUBJECT, EXCHANGE_AUD, 600);

    let (s, b) = raw_token(&fx, TENANT, CLIENT, &good, SCOPE).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 3599);

    let wrong_aud = c.mint_test_token(SUBJECT, "api://other", 600);
    let (s, b) = raw_token(&fx, TENANT, CLIENT, &wrong_aud, SCOPE).await;
    assert_eq!((s, aadsts(&b)), (400, 700212), "{b}");

    let expired = c.mint_test_token(SUBJECT, EXCHANGE_AUD, -60);
    let (s, b) = raw_token(&fx, TENANT, CLIENT, &expired, SCOPE).await;
    assert_eq!((s, aadsts(&b)), (401, 700024), "{b}");
    assert_eq!(b["error"], "invalid_client");

    let (s, b) = raw_token(&fx, TENANT, "no-such-app", &good, SCOPE).await;
    assert_eq!((s, aadsts(&b)), (400, 700016), "{b}");
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS700016: Application with identifier 'no-such-app' was not found")
    );
    assert!(
        b["trace_id"].is_string() && b["correlation_id"].is_string() && b["timestamp"].is_string()
    );

    let other_sub = c.mint_test_token("system:serviceaccount:ns:other", EXCHANGE_AUD, 600);
    let (s, b) = raw_token(&fx, TENANT, CLIENT, &other_sub, SCOPE).await;
    assert_eq!((s, aadsts(&b)), (400, 70021), "{b}");

    let (s, b) = raw_token(&fx, "no-such-tenant", CLIENT, &good, SCOPE).await;
    assert_eq!((s, aadsts(&b)), (400, 90002), "{b}");

    // Client credentials need `<resource>/.default`.
    let (s, b) = raw_token(&fx, TENANT, CLIENT, &good, "https://vault.localhost").await;
    assert_eq!(
        (s, aadsts(&b), b["error"].as_str()),
        (400, 1002012, Some("invalid_scope")),
        "{b}"
    );

    // Tampered signature.
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&parts[2])
        .unwrap();
    sig[5] ^= 1;
    parts[2] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig);
    let (s, b) = raw_token(&fx, TENANT, CLIENT, &parts.join("."), SCOPE).await;
    assert_eq!((s, aadsts(&b)), (401, 50012), "{b}");

    let (s, b) = raw_token(&fx, TENANT, CLIENT, "not-a-jwt", SCOPE).await;
    assert_eq!((s, aadsts(&b)), (400, 50027), "{b}");

    let url = format!("{}/{TENANT}/oauth2/v2.0/token", fx.emu.authority_host());
    let r = fx
        .http
        .post(&url)
        .form(&[("client_id", CLIENT)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(aadsts(&r.json().await.unwrap()), 900144);

    // A clock shift makes a minted assertion expire.
    c.advance_clock(700);
    let (s, b) = raw_token(&fx, TENANT, CLIENT, &good, SCOPE).await;
    assert_eq!((s, aadsts(&b)), (401, 700024), "{b}");
    assert_eq!(c.counters().by_operation("Token"), 11);
}

async fn call(
    fx: &Fixture,
    method: reqwest::Method,
    path_query: &str,
    token: Option<&str>,
    body: Option<String>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let url = format!("{}{path_query}", fx.emu.vault_url("v1"));
    let mut rb = fx.http.request(method, url);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.header("content-type", "application/json").body(b);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().await.unwrap_or_default(), headers)
}

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_plane_refusals() {
    let fx = fixture().await;
    let token = access_token(&fx).await;
    let t = Some(token.as_str());
    let get = reqwest::Method::GET;
    let put = reqwest::Method::PUT;

    let (s, b, h) = call(&fx, get.clone(), "secrets/x?api-version=7.6", None, None).await;
    assert_eq!((s, code(&b)), (401, "Unauthorized"));
    assert_eq!(
        b["error"]["message"],
        "AKV10000: Request is missing a Bearer or PoP token."
    );
    let challenge = h["www-authenticate"].to_str().unwrap();
    assert_eq!(
        challenge,
        format!(
            "Bearer authorization=\"{}/{TENANT}\", resource=\"https://vault.localhost\"",
            fx.emu.authority_host()
        )
    );

    let (s, b, h) = call(
        &fx,
        get.clone(),
        "secrets/x?api-version=7.6",
        Some("garbage"),
        None,
    )
    .await;
    assert_eq!((s, code(&b)), (401, "Unauthorized"), "{b}");
    assert!(h.contains_key("www-authenticate"));

    let (s, b, _) = call(&fx, get.clone(), "secrets/x?api-version=1.0", t, None).await;
    assert_eq!((s, code(&b)), (400, "BadParameter"), "{b}");
    assert_eq!(
        b["error"]["message"],
        "The specified version (1.0) is not recognized. Consider using the latest supported version (2026-04-01)."
    );
    // What the current SDKs send by default is accepted (the secret does not exist).
    for v in ["2026-04-01", "2025-07-01", "7.6"] {
        let path = format!("secrets/x?api-version={v}");
        let (s, b, _) = call(&fx, get.clone(), &path, t, None).await;
        assert_eq!((s, code(&b)), (404, "SecretNotFound"), "{v}: {b}");
    }
    let (s, b, _) = call(&fx, get.clone(), "secrets/x", t, None).await;
    assert_eq!((s, code(&b)), (400, "BadParameter"), "{b}");

    let (s, b, _) = call(
        &fx,
        put.clone(),
        "secrets/x?api-version=7.6",
        t,
        Some("{not json".into()),
    )
    .await;
    assert_eq!((s, code(&b)), (400, "BadParameter"), "{b}");
    let (s, b, _) = call(
        &fx,
        put.clone(),
        "secrets/x?api-version=7.6",
        t,
        Some(r#"{"value": 5}"#.into()),
    )
    .await;
    assert_eq!((s, code(&b)), (400, "BadParameter"), "{b}");

    let big = json!({"value": "x".repeat(25_601)}).to_string();
    let (s, b, _) = call(&fx, put.clone(), "secrets/x?api-version=7.6", t, Some(big)).await;
    assert_eq!((s, code(&b)), (400, "BadParameter"), "{b}");

    let (s, b, _) = call(
        &fx,
        put.clone(),
        "secrets/bad_name?api-version=7.6",
        t,
        Some(r#"{"value":"v"}"#.into()),
    )
    .await;
    assert_eq!((s, code(&b)), (400, "BadParameter"), "{b}");
    let (s, b, _) = call(&fx, get.clone(), "secrets/1abc?api-version=7.6", t, None).await;
    assert_eq!((s, code(&b)), (400, "BadParameter"), "{b}");

    let (s, b, _) = call(
        &fx,
        get.clone(),
        "secrets?api-version=7.6&maxresults=26",
        t,
        None,
    )
    .await;
    assert_eq!((s, code(&b)), (400, "BadParameter"), "{b}");

    // Set through REST, then read back with the trailing-slash form the SDK uses.
    let body = json!({"value": "v", "contentType": "text/plain", "tags": {"a": "b"}, "attributes": {"exp": 4102444800i64}});
    let (s, b, _) = call(
        &fx,
        put.clone(),
        "secrets/Rest-Set?api-version=2025-07-01",
        t,
        Some(body.to_string()),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["attributes"]["exp"], 4102444800i64);
    assert_eq!(b["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
    let (s, b2, _) = call(
        &fx,
        get.clone(),
        "secrets/rest-set/?api-version=7.4",
        t,
        None,
    )
    .await;
    assert_eq!(
        (s, &b2["id"], &b2["tags"]["a"]),
        (200, &b["id"], &json!("b"))
    );
    let (s, b, _) = call(
        &fx,
        reqwest::Method::PATCH,
        "secrets/rest-set/?api-version=7.6",
        t,
        Some(r#"{"attributes":{"enabled":false}}"#.into()),
    )
    .await;
    assert_eq!(
        (s, &b["attributes"]["enabled"]),
        (200, &json!(false)),
        "{b}"
    );
    let (s, b, _) = call(
        &fx,
        get.clone(),
        "secrets/rest-set?api-version=7.6",
        t,
        None,
    )
    .await;
    assert_eq!(
        (s, b["error"]["innererror"]["code"].as_str()),
        (403, Some("SecretDisabled"))
    );
    let (s, b, _) = call(
        &fx,
        reqwest::Method::DELETE,
        "secrets/rest-set?api-version=7.6",
        t,
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(
        b["recoveryId"]
            .as_str()
            .unwrap()
            .ends_with("/deletedsecrets/Rest-Set")
    );
    let (s, b, _) = call(
        &fx,
        get.clone(),
        "secrets/rest-set?api-version=7.6",
        t,
        None,
    )
    .await;
    assert_eq!((s, code(&b)), (404, "SecretNotFound"));
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("A secret with (name/id) rest-set was not found in this key vault.")
    );

    // Unknown vault host.
    let r = fx
        .http
        .get(format!(
            "{}secrets/x?api-version=7.6",
            fx.emu.vault_url("nosuchvault")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(code(&r.json().await.unwrap()), "VaultNotFound");

    // Tokens expire with the emulator clock.
    fx.control().advance_clock(4000);
    let (s, b, _) = call(&fx, get.clone(), "secrets?api-version=7.6", t, None).await;
    assert_eq!(s, 401, "{b}");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("expired"),
        "{b}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_refused_quickly() {
    let fx = fixture().await;
    let url = format!("http://127.0.0.1:{}/_emulator/health", fx.emu.port());
    let r = tokio::time::timeout(Duration::from_secs(10), fx.http.get(url).send()).await;
    let inner = r.expect("plain HTTP must not hang");
    assert!(inner.is_err() || !inner.unwrap().status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_surface_over_http() {
    install_provider();
    let emu = vaultsync_emulator::Emulator::start(Default::default())
        .await
        .unwrap();
    let http = http_client(&emu, &["cv"]);
    let base = format!("https://127.0.0.1:{}/_emulator", emu.port());
    let post = |path: &str, body: Value| http.post(format!("{base}{path}")).json(&body).send();
    assert_eq!(
        post("/vaults", json!({"name": "cv", "tenant": "t1"}))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post("/apps", json!({"tenant": "t1", "client_id": "c1"}))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post("/test-issuer/enable", json!({}))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post(
            "/federated-credentials",
            json!({"client_id": "c1", "subject": "s"})
        )
        .await
        .unwrap()
        .status(),
        200
    );
    assert_eq!(
        post(
            "/role-assignments",
            json!({"client_id": "c1", "vault": "cv", "permissions": ["SecretsRead"]})
        )
        .await
        .unwrap()
        .status(),
        200
    );
    let r: Value = post(
        "/vaults/cv/secrets/k",
        json!({"value": "val", "content_type": "text/plain"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(r["version"].as_str().unwrap().len(), 32);
    assert_eq!(
        post("/vaults/nope/secrets/k", json!({"value": "v"}))
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        post("/vaults", json!({"bad": 1})).await.unwrap().status(),
        400
    );
    let minted: Value = post(
        "/test-issuer/token",
        json!({"subject": "s", "audience": EXCHANGE_AUD, "expires_in": 60}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "c1"),
        ("scope", "https://vault.localhost/.default"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", minted["token"].as_str().unwrap()),
    ];
    let tok: Value = http
        .post(format!("{}/t1/oauth2/v2.0/token", emu.authority_host()))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tok["access_token"].as_str().expect("token");
    let r = http
        .get(format!("{}secrets/k/?api-version=7.6", emu.vault_url("cv")))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        post(
            "/vaults/cv/faults",
            json!({"kind": "status", "code": 500, "remaining": 1})
        )
        .await
        .unwrap()
        .status(),
        200
    );
    let r = http
        .get(format!("{}secrets/k/?api-version=7.6", emu.vault_url("cv")))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let counters: Value = http
        .get(format!("{base}/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let get_ok = counters
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["operation"] == "GetSecret" && r["status"] == 200)
        .unwrap();
    assert_eq!(
        (get_ok["client_id"].as_str(), get_ok["count"].as_u64()),
        (Some("c1"), Some(1))
    );
    // The control surface is not served on vault hosts.
    let r = http
        .post(format!("{}_emulator/vaults", emu.vault_url("cv")))
        .json(&json!({"name": "x", "tenant": "t"}))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 200);
    let ca = http
        .get(format!("{base}/ca"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(ca, emu.ca_pem());
    emu.shutdown().await;
}
