//! Soft delete as Key Vault does it: deleted secrets and certificates keep their versions in the
//! deleted state (/deletedsecrets, /deletedcertificates), hold their name against new values
//! (409 Conflict, ObjectIsDeletedButRecoverable), and can be recovered or purged.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;
use vaultsync_emulator::{CertificateImport, SecretOptions};

const API: &str = "api-version=2025-07-01";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_secret_holds_its_name_until_recovered_or_purged() {
    let fx = fixture().await;
    let t = access_token(&fx).await;
    let c = fx.control();
    let v1 = c
        .set_secret("v1", "Soft", "one", SecretOptions::default())
        .unwrap();
    c.set_secret("v1", "soft", "two", SecretOptions::default())
        .unwrap();

    let (s, b) = rest(
        &fx,
        &t,
        Method::DELETE,
        &format!("secrets/soft?{API}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let base = fx.emu.vault_url("v1");
    assert_eq!(
        b["recoveryId"],
        format!("{base}deletedsecrets/Soft").as_str()
    );
    assert!(
        b["deletedDate"].is_i64() && b["scheduledPurgeDate"].is_i64(),
        "{b}"
    );
    assert!(
        b.get("value").is_none(),
        "a deleted bundle carries no value: {b}"
    );

    let (s, b) = rest(&fx, &t, Method::GET, &format!("secrets/soft?{API}"), None).await;
    assert_eq!((s, kv_code(&b)), (404, "SecretNotFound"), "{b}");
    let (s, b) = rest(&fx, &t, Method::GET, &format!("secrets?{API}"), None).await;
    assert_eq!(s, 200);
    assert!(b["value"].as_array().unwrap().is_empty(), "{b}");

    let (s, b) = rest(&fx, &t, Method::GET, &format!("deletedsecrets?{API}"), None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["value"][0]["id"], format!("{base}secrets/Soft").as_str());
    let (s, b) = rest(
        &fx,
        &t,
        Method::GET,
        &format!("deletedsecrets/soft?{API}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(
        b["id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{base}secrets/Soft/"))
    );

    let set = json!({"value": "three"});
    let (s, b) = rest(
        &fx,
        &t,
        Method::PUT,
        &format!("secrets/soft?{API}"),
        Some(set.clone()),
    )
    .await;
    assert_eq!((s, kv_code(&b)), (409, "Conflict"), "{b}");
    assert_eq!(
        b["error"]["innererror"]["code"],
        "ObjectIsDeletedButRecoverable"
    );
    assert_eq!(
        b["error"]["message"],
        "Secret Soft is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged."
    );
    assert!(
        c.set_secret("v1", "soft", "x", SecretOptions::default())
            .is_err()
    );

    let path = format!("deletedsecrets/soft/recover?{API}");
    let (s, b) = rest(&fx, &t, Method::POST, &path, None).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = rest(
        &fx,
        &t,
        Method::GET,
        &format!("secrets/soft/{v1}?{API}"),
        None,
    )
    .await;
    assert_eq!(
        (s, b["value"].as_str()),
        (200, Some("one")),
        "all versions come back: {b}"
    );

    c.delete_secret("v1", "soft").unwrap();
    let (s, _) = rest(
        &fx,
        &t,
        Method::DELETE,
        &format!("deletedsecrets/soft?{API}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, b) = rest(
        &fx,
        &t,
        Method::GET,
        &format!("deletedsecrets/soft?{API}"),
        None,
    )
    .await;
    assert_eq!((s, kv_code(&b)), (404, "SecretNotFound"), "{b}");
    let (s, b) = rest(
        &fx,
        &t,
        Method::PUT,
        &format!("secrets/soft?{API}"),
        Some(set),
    )
    .await;
    assert_eq!(s, 200, "a purged name is free again: {b}");
    let (s, b) = rest(&fx, &t, Method::POST, &path, None).await;
    assert_eq!((s, kv_code(&b)), (404, "SecretNotFound"), "{b}");
}

fn pem_certificate() -> String {
    let c = rcgen::generate_simple_self_signed(vec!["soft.example.test".to_owned()]).unwrap();
    format!("{}{}", c.signing_key.serialize_pem(), c.cert.pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_certificate_takes_its_backing_secret_along() {
    let fx = fixture().await;
    let t = access_token(&fx).await;
    let import = CertificateImport {
        pem: Some(pem_certificate()),
        ..CertificateImport::default()
    };
    fx.control()
        .import_certificate("v1", "cert", import)
        .unwrap();

    let (s, b) = rest(
        &fx,
        &t,
        Method::DELETE,
        &format!("certificates/cert?{API}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let base = fx.emu.vault_url("v1");
    assert_eq!(
        b["recoveryId"],
        format!("{base}deletedcertificates/cert").as_str()
    );
    assert!(b["cer"].is_string(), "{b}");
    for path in ["certificates/cert", "secrets/cert"] {
        let (s, b) = rest(&fx, &t, Method::GET, &format!("{path}?{API}"), None).await;
        assert_eq!(s, 404, "{path}: {b}");
    }
    let (s, b) = rest(
        &fx,
        &t,
        Method::GET,
        &format!("deletedcertificates?{API}"),
        None,
    )
    .await;
    assert_eq!(
        (s, b["value"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{b}"
    );

    let body = json!({"value": pem_certificate()});
    let path = format!("certificates/cert/import?{API}");
    let (s, b) = rest(&fx, &t, Method::POST, &path, Some(body.clone())).await;
    assert_eq!((s, kv_code(&b)), (409, "Conflict"), "{b}");
    assert_eq!(
        b["error"]["innererror"]["code"],
        "ObjectIsDeletedButRecoverable"
    );

    let recover = format!("deletedcertificates/cert/recover?{API}");
    let (s, b) = rest(&fx, &t, Method::POST, &recover, None).await;
    assert_eq!(s, 200, "{b}");
    let sid = b["sid"]
        .as_str()
        .unwrap()
        .trim_start_matches(&base)
        .to_owned();
    let (s, b) = rest(&fx, &t, Method::GET, &format!("{sid}?{API}"), None).await;
    assert_eq!(s, 200, "the backing secret is recovered too: {b}");
    assert!(b["value"].as_str().unwrap().contains("PRIVATE KEY"));

    rest(
        &fx,
        &t,
        Method::DELETE,
        &format!("certificates/cert?{API}"),
        None,
    )
    .await;
    let purge = format!("deletedcertificates/cert?{API}");
    assert_eq!(rest(&fx, &t, Method::DELETE, &purge, None).await.0, 204);
    let (s, b) = rest(
        &fx,
        &t,
        Method::GET,
        &format!("deletedsecrets/cert?{API}"),
        None,
    )
    .await;
    assert_eq!(s, 404, "the backing secret is purged too: {b}");
    let (s, b) = rest(&fx, &t, Method::POST, &path, Some(body)).await;
    assert_eq!(s, 200, "{b}");
}
