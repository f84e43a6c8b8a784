//! Certificates through the official Rust SDK: import (control and REST), get, policy, list, and
//! the backing secret in PEM and PKCS#12 forms, with and without an exportable key.

mod common;

use azure_security_keyvault_certificates::{CertificateClient, CertificateClientOptions};
use azure_security_keyvault_secrets::models::SecretClientGetSecretOptions;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use futures::TryStreamExt;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use serde_json::json;
use vaultsync_emulator::CertificateImport;

/// A root → intermediate → leaf chain (ECDSA P-256): (leaf key PKCS#8 DER, [leaf, inter, root] DER).
fn chain() -> (Vec<u8>, Vec<Vec<u8>>) {
    let ca_params = |cn: &str| {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p
    };
    let root_key = KeyPair::generate().unwrap();
    let root_params = ca_params("Test Root");
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = Issuer::new(root_params, root_key);
    let inter_key = KeyPair::generate().unwrap();
    let inter_params = ca_params("Test Intermediate");
    let inter = inter_params.signed_by(&inter_key, &root_issuer).unwrap();
    let inter_issuer = Issuer::new(inter_params, inter_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(vec!["app.example.test".to_owned()]).unwrap();
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "app.example.test");
    let leaf = leaf_params.signed_by(&leaf_key, &inter_issuer).unwrap();
    (
        leaf_key.serialize_der(),
        vec![
            leaf.der().to_vec(),
            inter.der().to_vec(),
            root.der().to_vec(),
        ],
    )
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn pem_blocks(text: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut cur: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(l) = line.strip_prefix("-----BEGIN ") {
            cur = Some((l.trim_end_matches('-').to_owned(), String::new()));
        } else if line.starts_with("-----END ") {
            let (l, b) = cur.take().unwrap();
            out.push((l, STANDARD.decode(b).unwrap()));
        } else if let Some((_, b)) = cur.as_mut() {
            b.push_str(line.trim());
        }
    }
    out
}

fn cert_client(fx: &Fixture) -> CertificateClient {
    let options = CertificateClientOptions {
        client_options: client_options(fx),
        ..Default::default()
    };
    CertificateClient::new(
        &fx.emu.vault_url("v1"),
        credential(fx, TENANT, CLIENT),
        Some(options),
    )
    .unwrap()
}

async fn backing_secret(fx: &Fixture, name: &str, version: &str) -> (String, Option<String>) {
    let client = secret_client(fx, "v1", TENANT, CLIENT);
    let opts = SecretClientGetSecretOptions {
        secret_version: Some(version.to_owned()),
        ..Default::default()
    };
    let s = client
        .get_secret(name, Some(opts))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(s.managed, Some(true));
    assert!(s.kid.unwrap().ends_with(&format!("/keys/{name}/{version}")));
    (s.value.unwrap(), s.content_type)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pem_import_get_and_backing_secret() {
    let fx = fixture().await;
    let (key, ders) = chain();
    // Upload out of order: root, leaf, key, intermediate.
    let upload = format!(
        "{}{}{}{}",
        pem("CERTIFICATE", &ders[2]),
        pem("CERTIFICATE", &ders[0]),
        pem("PRIVATE KEY", &key),
        pem("CERTIFICATE", &ders[1])
    );
    let import = CertificateImport {
        pem: Some(upload),
        content_type: Some("application/x-pem-file".into()),
        ..Default::default()
    };
    let version = fx
        .control()
        .import_certificate("v1", "web", import)
        .unwrap();

    let client = cert_client(&fx);
    let cert = client
        .get_certificate("web", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(
        cert.cer.as_deref(),
        Some(ders[0].as_slice()),
        "cer is the leaf only"
    );
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &ders[0]);
    assert_eq!(cert.x509_thumbprint.as_deref(), Some(sha1.as_ref()));
    let sid = cert.sid.unwrap();
    assert!(sid.ends_with(&format!("/secrets/web/{version}")), "{sid}");
    let policy = cert.policy.unwrap();
    assert_eq!(
        policy.secret_properties.unwrap().content_type.as_deref(),
        Some("application/x-pem-file")
    );
    assert_eq!(policy.key_properties.unwrap().exportable, Some(true));
    let policy = client
        .get_certificate_policy("web", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert!(
        policy
            .x509_certificate_properties
            .unwrap()
            .subject
            .unwrap()
            .contains("app.example.test")
    );

    let (value, ct) = backing_secret(&fx, "web", &version).await;
    assert_eq!(ct.as_deref(), Some("application/x-pem-file"));
    let blocks = pem_blocks(&value);
    let labels: Vec<&str> = blocks.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        labels,
        ["PRIVATE KEY", "CERTIFICATE", "CERTIFICATE", "CERTIFICATE"]
    );
    assert_eq!(blocks[0].1, key);
    assert_eq!(blocks[1].1, ders[0], "leaf first");
    assert_eq!(blocks[2].1, ders[1]);
    assert_eq!(blocks[3].1, ders[2]);

    let mut pager = client.list_certificate_properties(None).unwrap();
    let first = pager.try_next().await.unwrap().unwrap();
    assert!(first.id.unwrap().ends_with("/certificates/web"));
    assert!(pager.try_next().await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pfx_import_and_non_exportable() {
    let fx = fixture().await;
    let (key, ders) = chain();
    // Build a PFX with the chain using p12-keystore, password "pw".
    let certs: Vec<_> = ders
        .iter()
        .map(|d| p12_keystore::Certificate::from_der(d).unwrap())
        .collect();
    let mut ks = p12_keystore::KeyStore::new();
    let pk = p12_keystore::PrivateKey::from_der(&key).unwrap();
    ks.add_entry(
        "k",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(
            b"id".as_slice(),
            pk,
            certs,
        )),
    );
    let pfx = ks.writer("pw").write().unwrap();

    let import = CertificateImport {
        pfx_der: Some(pfx.clone()),
        password: Some("pw".into()),
        ..Default::default()
    };
    let version = fx
        .control()
        .import_certificate("v1", "pfx", import)
        .unwrap();
    let (value, ct) = backing_secret(&fx, "pfx", &version).await;
    assert_eq!(ct.as_deref(), Some("application/x-pkcs12"));
    let back =
        p12_keystore::Pkcs12Archive::from_pkcs12(&STANDARD.decode(value).unwrap(), "").unwrap();
    assert_eq!(back.keys.len(), 1);
    assert_eq!(back.keys[0].key.as_der(), key.as_slice());
    assert_eq!(back.certs.len(), 3);

    // Not exportable: the backing secret has the certificates only.
    let import = CertificateImport {
        pfx_der: Some(pfx),
        password: Some("pw".into()),
        content_type: Some("application/x-pem-file".into()),
        exportable: false,
        ..Default::default()
    };
    let version = fx
        .control()
        .import_certificate("v1", "pfx", import)
        .unwrap();
    let (value, _) = backing_secret(&fx, "pfx", &version).await;
    assert!(!value.contains("PRIVATE KEY"));
    assert_eq!(pem_blocks(&value).len(), 3);
    let client = cert_client(&fx);
    let mut versions = client
        .list_certificate_properties_versions("pfx", None)
        .unwrap();
    let mut n = 0;
    while versions.try_next().await.unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_import_and_errors() {
    let fx = fixture().await;
    let token = access_token(&fx).await;
    let (key, ders) = chain();
    let url = |p: &str| format!("{}{p}?api-version=7.6", fx.emu.vault_url("v1"));
    // Incomplete chain (no root) with preserveCertOrder: stored as uploaded.
    let upload = format!(
        "{}{}{}",
        pem("PRIVATE KEY", &key),
        pem("CERTIFICATE", &ders[1]),
        pem("CERTIFICATE", &ders[0])
    );
    let body = json!({"value": upload, "policy": {"secret_props": {"contentType": "application/x-pem-file"}, "key_props": {"exportable": true}}, "preserveCertOrder": true, "tags": {"t": "1"}});
    let r = fx
        .http
        .post(url("certificates/rest/import"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        b["x5t"].as_str().unwrap(),
        URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            &ders[0]
        ))
    );
    assert_eq!(b["tags"]["t"], "1");
    let sid = b["sid"].as_str().unwrap();
    let s: serde_json::Value = fx
        .http
        .get(format!("{sid}?api-version=7.6"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let blocks = pem_blocks(s["value"].as_str().unwrap());
    assert_eq!(blocks[1].1, ders[1], "order kept as uploaded");
    assert_eq!(blocks.len(), 3);
    let k: serde_json::Value = fx
        .http
        .get(url("keys/rest"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(k["key"]["kty"], "EC");
    assert_eq!(k["key"]["crv"], "P-256");

    // A PKCS#1 / SEC1 key is refused (PKCS#8 required), and so is garbage.
    let sec1 = format!(
        "{}{}",
        pem("EC PRIVATE KEY", &[1, 2, 3]),
        pem("CERTIFICATE", &ders[0])
    );
    for value in [sec1, "bm90IGEgcGZ4".to_owned()] {
        let r = fx
            .http
            .post(url("certificates/bad/import"))
            .bearer_auth(&token)
            .json(&json!({"value": value}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    }
    let r = fx
        .http
        .get(url("certificates/missing"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
