//! VaultCertificate end to end on the real control plane with the vault emulator: certificates
//! made here are imported into the vault, synced by the operator binary, and the resulting
//! Secrets are used for a real TLS handshake and checked with the openssl CLI.

mod support;

use std::time::Duration;

use base64::Engine;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use sha2::{Digest, Sha256};
use support::certs::condition;
use support::eventually::{check, eventually};
use support::pki::{self, Alg, SERVER_NAME, handshake, openssl, pem_bundle, pfx};
use support::world::{TestNamespace, test_namespace, world};
use vaultsync::crd::VaultCertificate;

const SYNC: Duration = Duration::from_secs(60);

fn text(data: &std::collections::BTreeMap<String, Vec<u8>>, key: &str) -> String {
    String::from_utf8(
        data.get(key)
            .unwrap_or_else(|| panic!("{key} missing"))
            .clone(),
    )
    .unwrap()
}

fn pem_count(text: &str) -> usize {
    text.matches("-----BEGIN CERTIFICATE-----").count()
}

fn sha256_hex(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// The base64 body of a PEM key: what must never appear outside the Secret.
fn key_body(key_pem: &str) -> String {
    key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .take(2)
        .collect::<Vec<_>>()
        .join("")
}

/// The operator's /metrics page (plain HTTP/1.0 GET).
fn metrics() -> String {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(&world().metrics_addr).unwrap();
    socket
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut page = String::new();
    socket.read_to_string(&mut page).unwrap();
    page
}

/// Each PEM block's base64 body, whatever the line breaks.
fn pem_bodies(text: &str) -> Vec<String> {
    text.split("-----BEGIN")
        .skip(1)
        .map(|block| {
            block
                .lines()
                .skip(1)
                .take_while(|l| !l.starts_with("-----END"))
                .map(str::trim)
                .collect()
        })
        .collect()
}

fn first_pem(text: &str) -> &str {
    let end = "-----END CERTIFICATE-----";
    &text[..text.find(end).map_or(0, |i| i + end.len())]
}

#[tokio::test]
async fn rsa_pfx_uploaded_out_of_order_serves_a_verified_tls_handshake() {
    let t = test_namespace("crsa").await;
    let chain = pki::chain(Alg::Rsa, "RSA Root", -1, 365);
    // Uploaded as intermediate, root, leaf: vaultsync must order it leaf first.
    let version = t.import_pfx(
        "web",
        pfx(&chain.key_pem, &[&chain.inter, &chain.root, &chain.leaf]),
    );
    t.apply_certificate("web", "  certificate:\n    name: web\n");
    let ready = t.wait_certificate_reason("web", "Synced", SYNC).await;

    let (type_, data) = t.secret_bytes("web").await.expect("Secret exists");
    assert_eq!(type_, "kubernetes.io/tls");
    let tls_crt = text(&data, "tls.crt");
    let tls_key = text(&data, "tls.key");
    let ca_crt = text(&data, "ca.crt");
    assert!(
        tls_key.starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8 by default"
    );
    assert_eq!(
        pem_count(&tls_crt),
        2,
        "leaf and intermediate, not the root"
    );
    assert_eq!(
        first_pem(&tls_crt),
        chain.leaf.pem.trim_end(),
        "the leaf comes first"
    );
    assert_eq!(pem_count(&ca_crt), 2, "intermediate then root");
    handshake(&tls_crt, &tls_key, &ca_crt, SERVER_NAME).expect("TLS handshake verifies");
    assert!(
        handshake(&tls_crt, &tls_key, &ca_crt, "other.example.test").is_err(),
        "a wrong server name fails: the handshake check can fail"
    );
    let (cert_pub, key_pub) = pki::public_keys(&tls_crt, &tls_key);
    assert_eq!(cert_pub, key_pub, "openssl: key and certificate match");

    let status = ready.status.clone().unwrap();
    let facts = status.certificate.expect("certificate facts in status");
    assert_eq!(facts.version, version);
    assert_eq!(facts.subject, format!("CN={SERVER_NAME}"));
    assert_eq!(facts.dns_names, vec![SERVER_NAME.to_string()]);
    assert_eq!(facts.sha256_thumbprint, sha256_hex(&chain.leaf.der));
    assert_eq!(facts.key_algorithm, "RSA-2048");
    assert_eq!(status.sync.versions[0].version, version);
    assert_eq!(
        condition(&ready, "ChainValid").unwrap().reason,
        "ChainComplete"
    );
    assert_eq!(
        condition(&ready, "ExpiringSoon").unwrap().status,
        vaultsync::crd::ConditionStatus::False
    );
    let not_after = facts
        .not_after
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_second();
    let metric = format!(
        "vaultsync_certificate_expiry_timestamp_seconds{{namespace=\"{}\",name=\"web\"}} {not_after}",
        t.ns
    );
    let scraped = metrics();
    assert!(scraped.contains(&metric), "expiry metric missing: {metric}");
    t.assert_no_leak(&[&key_body(&chain.key_pem)]).await;
}

#[tokio::test]
async fn ec_pem_shuffled_with_sec1_key_root_ca_and_keystore() {
    let t = test_namespace("cec").await;
    let chain = pki::chain(Alg::Ec, "EC Root", -1, 365);
    t.import_pem(
        "api",
        &pem_bundle(
            Some(&chain.key_pem),
            &[&chain.root, &chain.leaf, &chain.inter],
        ),
        true,
    );
    let password = "keystore-pw-41d";
    create_secret(&t, "p12-password", "password", password).await;
    t.apply_certificate(
        "api",
        "  certificate:\n    name: api\n  output:\n    keyFormat: SEC1\n    ca: Root\n    pkcs12:\n      passwordSecretRef:\n        name: p12-password\n        key: password\n  target:\n    name: api-tls\n",
    );
    t.wait_certificate_reason("api", "Synced", SYNC).await;
    let (_, data) = t.secret_bytes("api-tls").await.expect("Secret exists");
    let tls_crt = text(&data, "tls.crt");
    let tls_key = text(&data, "tls.key");
    let ca_crt = text(&data, "ca.crt");
    assert!(tls_key.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    assert_eq!(pem_count(&ca_crt), 1, "only the root");
    assert_eq!(ca_crt.trim_end(), chain.root.pem.trim_end());
    handshake(&tls_crt, &tls_key, &ca_crt, SERVER_NAME).expect("TLS handshake verifies");
    let (cert_pub, key_pub) = pki::public_keys(&tls_crt, &tls_key);
    assert_eq!(cert_pub, key_pub);

    let keystore = data.get("keystore.p12").expect("keystore written").clone();
    let listed = openssl(
        &["pkcs12", "-nokeys", "-passin", &format!("pass:{password}")],
        &keystore,
    );
    assert_eq!(
        pem_count(&listed),
        3,
        "leaf, intermediate and root in the keystore"
    );
    let wrong = std::process::Command::new("openssl")
        .args([
            "pkcs12",
            "-nokeys",
            "-passin",
            "pass:wrong",
            "-in",
            "/dev/stdin",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    t.assert_no_leak(&[password, &key_body(&chain.key_pem)])
        .await;
}

#[tokio::test]
async fn a_trust_bundle_holds_only_the_ca_chain_and_java_trusts_its_truststore() {
    let t = test_namespace("ctrust").await;
    let chain = pki::chain(Alg::Ec, "Corp Private Root", -1, 365);
    t.import_pem(
        "svc",
        &pem_bundle(
            Some(&chain.key_pem),
            &[&chain.leaf, &chain.root, &chain.inter],
        ),
        true,
    );
    let password = "truststore-pw-7c2";
    create_secret(&t, "ts-password", "password", password).await;
    t.apply_certificate(
        "corp-ca",
        "  certificate:\n    name: svc\n  output:\n    trustBundle:\n      truststore:\n        passwordSecretRef:\n          name: ts-password\n          key: password\n",
    );
    t.wait_certificate_reason("corp-ca", "Synced", SYNC).await;
    let (type_, data) = t.secret_bytes("corp-ca").await.expect("Secret exists");
    assert_eq!(type_, "Opaque");
    let keys: Vec<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(keys, ["ca.crt", "truststore.p12"], "no tls.crt, no tls.key");
    let ca_crt = text(&data, "ca.crt");
    assert_eq!(
        pem_bodies(&ca_crt),
        pem_bodies(&format!("{}{}", chain.inter.pem, chain.root.pem)),
        "the intermediate, then the root: never the leaf"
    );
    // What the bundle is for: a client trusting only it verifies the service's certificate.
    let served = format!("{}{}", chain.leaf.pem, chain.inter.pem);
    handshake(&served, &chain.key_pem, &ca_crt, SERVER_NAME).expect("the bundle verifies");

    let truststore = data.get("truststore.p12").unwrap();
    let listed = openssl(
        &["pkcs12", "-nokeys", "-passin", &format!("pass:{password}")],
        truststore,
    );
    assert_eq!(listed.matches("-----BEGIN CERTIFICATE-----").count(), 2);
    assert!(!listed.contains("PRIVATE KEY"));
    let file = std::env::temp_dir().join(format!("{}-truststore.p12", t.ns));
    std::fs::write(&file, truststore).unwrap();
    let keytool = std::process::Command::new("keytool")
        .args([
            "-list",
            "-storetype",
            "PKCS12",
            "-storepass",
            password,
            "-keystore",
        ])
        .arg(&file)
        .output()
        .expect("keytool (Java) runs");
    let listing = String::from_utf8_lossy(&keytool.stdout).to_string();
    assert!(keytool.status.success(), "keytool: {listing}");
    assert!(
        listing.contains("Your keystore contains 2 entries"),
        "{listing}"
    );
    assert_eq!(listing.matches("trustedCertEntry").count(), 2, "{listing}");
    let wrong = std::process::Command::new("keytool")
        .args([
            "-list",
            "-storetype",
            "PKCS12",
            "-storepass",
            "wrong",
            "-keystore",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!wrong.status.success(), "the password protects it");
    std::fs::remove_file(&file).ok();
    t.assert_no_leak(&[password, &key_body(&chain.key_pem)])
        .await;
}

#[tokio::test]
async fn a_trust_bundle_in_a_config_map_is_restored_after_edits_and_never_takes_a_foreign_one() {
    let t = test_namespace("ctrustcm").await;
    let chain = pki::chain(Alg::Rsa, "Corp ConfigMap Root", -1, 365);
    t.import_pem(
        "svc",
        &pem_bundle(
            Some(&chain.key_pem),
            &[&chain.leaf, &chain.inter, &chain.root],
        ),
        true,
    );
    let password = "cm-truststore-pw-41d";
    create_secret(&t, "ts-password", "password", password).await;
    t.apply_certificate(
        "corp-ca",
        "  certificate:\n    name: svc\n  output:\n    trustBundle:\n      writeTo: ConfigMap\n      truststore:\n        passwordSecretRef:\n          name: ts-password\n          key: password\n",
    );
    let synced = t.wait_certificate_reason("corp-ca", "Synced", SYNC).await;
    let config_maps = Api::<ConfigMap>::namespaced(t.client.clone(), &t.ns);
    let written = config_maps
        .get("corp-ca")
        .await
        .expect("the ConfigMap exists");
    let ca_crt = written.data.clone().unwrap_or_default()["ca.crt"].clone();
    assert_eq!(
        pem_bodies(&ca_crt),
        pem_bodies(&format!("{}{}", chain.inter.pem, chain.root.pem)),
        "the CA chain in data, never the leaf"
    );
    assert_eq!(
        written.data.as_ref().unwrap().len(),
        1,
        "only ca.crt is text: {:?}",
        written.data.as_ref().unwrap().keys()
    );
    let truststore = written.binary_data.clone().unwrap_or_default()["truststore.p12"]
        .0
        .clone();
    let listed = openssl(
        &["pkcs12", "-nokeys", "-passin", &format!("pass:{password}")],
        &truststore,
    );
    assert_eq!(listed.matches("-----BEGIN CERTIFICATE-----").count(), 2);
    let owners = written
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default();
    assert!(
        owners.iter().any(|o| o.kind == "VaultCertificate"
            && Some(&o.uid) == synced.metadata.uid.as_ref()
            && o.controller == Some(true)),
        "owned by its VaultCertificate: {owners:?}"
    );
    assert!(
        t.secret_bytes("corp-ca").await.is_none(),
        "no Secret is written for a ConfigMap target"
    );
    let handshake_ok = handshake(
        &format!("{}{}", chain.leaf.pem, chain.inter.pem),
        &chain.key_pem,
        &ca_crt,
        SERVER_NAME,
    );
    handshake_ok.expect("the bundle verifies the service");

    // Someone edits the bundle, then deletes it: both are put back from the last sync.
    let mut edited = written.clone();
    edited.metadata.managed_fields = None;
    edited.data.get_or_insert_default().insert(
        "ca.crt".into(),
        "-----BEGIN CERTIFICATE-----\nforged\n".into(),
    );
    config_maps
        .replace("corp-ca", &PostParams::default(), &edited)
        .await
        .unwrap();
    eventually("the edited bundle restored", SYNC, || async {
        let now = config_maps.get("corp-ca").await.unwrap();
        let data = now.data.unwrap_or_default();
        check(
            data.get("ca.crt") == Some(&ca_crt),
            data.keys().cloned().collect::<Vec<_>>(),
        )
    })
    .await;
    config_maps
        .delete("corp-ca", &Default::default())
        .await
        .unwrap();
    eventually("the deleted bundle recreated", SYNC, || async {
        let now = config_maps.get_opt("corp-ca").await.unwrap();
        let data = now.and_then(|c| c.data).unwrap_or_default();
        check(data.get("ca.crt") == Some(&ca_crt), data.len())
    })
    .await;

    // A ConfigMap vaultsync does not manage is never overwritten.
    let foreign = ConfigMap {
        metadata: ObjectMeta {
            name: Some("platform-ca".into()),
            ..Default::default()
        },
        data: Some([("ca.crt".to_string(), "theirs".to_string())].into()),
        ..Default::default()
    };
    config_maps
        .create(&PostParams::default(), &foreign)
        .await
        .unwrap();
    t.apply_certificate(
        "grab",
        "  certificate:\n    name: svc\n  target:\n    name: platform-ca\n  output:\n    trustBundle:\n      writeTo: ConfigMap\n",
    );
    let refused = t
        .wait_certificate_reason("grab", "OwnershipConflict", SYNC)
        .await;
    let message = condition(&refused, "Ready").unwrap().message.clone();
    assert!(
        message.starts_with("ConfigMap platform-ca exists and is not managed by vaultsync"),
        "{message}"
    );
    let untouched = config_maps.get("platform-ca").await.unwrap();
    assert_eq!(untouched.data.unwrap()["ca.crt"], "theirs");
    t.assert_no_leak(&[password, &key_body(&chain.key_pem)])
        .await;
}

async fn create_secret(t: &TestNamespace, name: &str, key: &str, value: &str) {
    Api::<Secret>::namespaced(t.client.clone(), &t.ns)
        .create(
            &PostParams::default(),
            &Secret {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    ..Default::default()
                },
                string_data: Some([(key.to_string(), value.to_string())].into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn incomplete_chain_is_a_warning_condition_and_the_secret_still_syncs() {
    let t = test_namespace("cinc").await;
    let chain = pki::chain(Alg::Ec, "Lost Root", -1, 365);
    // The intermediate is missing: the leaf cannot be linked to the root.
    t.import_pem(
        "partial",
        &pem_bundle(Some(&chain.key_pem), &[&chain.leaf, &chain.root]),
        true,
    );
    t.apply_certificate("partial", "  certificate:\n    name: partial\n");
    let ready = t
        .wait_for(
            "partial",
            "ChainValid False",
            SYNC,
            |c: &VaultCertificate| {
                condition(c, "ChainValid").is_some_and(|c| c.reason == "ChainIncomplete")
            },
        )
        .await;
    assert_eq!(condition(&ready, "Ready").unwrap().reason, "Synced");
    let message = &condition(&ready, "ChainValid").unwrap().message;
    assert!(message.contains("Lost Root Intermediate"), "{message}");
    let (_, data) = t.secret_bytes("partial").await.expect("Secret exists");
    assert_eq!(pem_count(&text(&data, "tls.crt")), 1, "just the leaf");
    wait_event(&t, "partial", "Warning", "ChainIncomplete").await;
}

async fn wait_event(t: &TestNamespace, name: &str, type_: &str, reason: &str) {
    let what = format!("a {type_} Event {reason} for {name}");
    eventually(&what, Duration::from_secs(20), || async {
        let events = t.event_reasons(name);
        check(
            events.iter().any(|(ty, r)| ty == type_ && r == reason),
            events,
        )
    })
    .await;
}

#[tokio::test]
async fn renewal_reaches_the_secret_within_an_interval_and_clears_expiring_soon() {
    let t = test_namespace("cren").await;
    let old = pki::chain(Alg::Ec, "Renew Root", -30, 2);
    let first = t.import_pem(
        "site",
        &pem_bundle(Some(&old.key_pem), &[&old.leaf, &old.inter, &old.root]),
        true,
    );
    // Listings tell versions apart by their second: a certificate first read within the second
    // it was written is read once more at the next refresh. Start a second later, so the idle
    // refresh below can be served by the listing alone.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    t.apply_certificate(
        "site",
        "  certificate:\n    name: site\n  refreshInterval: 30s\n  renewBefore: 720h\n",
    );
    let expiring = t
        .wait_for("site", "ExpiringSoon True", SYNC, |c: &VaultCertificate| {
            condition(c, "ExpiringSoon").is_some_and(|c| c.reason == "CertificateExpiringSoon")
        })
        .await;
    assert_eq!(condition(&expiring, "Ready").unwrap().reason, "Synced");
    wait_event(&t, "site", "Warning", "CertificateExpiringSoon").await;

    // An idle refresh consults the change feed's listing only: neither the certificate nor
    // its key is read again.
    world().control().reset_counters();
    tokio::time::sleep(Duration::from_secs(36)).await;
    let counters = world().control().counters();
    assert!(
        counters.by_op(&t.vault, "ListCertificates") >= 1,
        "no scan happened"
    );
    assert_eq!(
        counters.by_op(&t.vault, "GetCertificate"),
        0,
        "the certificate was read again"
    );
    assert_eq!(
        counters.by_op(&t.vault, "GetSecret"),
        0,
        "the key was read again"
    );

    let renewed = pki::chain(Alg::Ec, "Renew Root", -1, 365);
    let second = t.import_pem(
        "site",
        &pem_bundle(
            Some(&renewed.key_pem),
            &[&renewed.leaf, &renewed.inter, &renewed.root],
        ),
        true,
    );
    assert_ne!(first, second);
    let done = t
        .wait_for(
            "site",
            "the renewed version",
            Duration::from_secs(45),
            |c: &VaultCertificate| {
                c.status
                    .as_ref()
                    .and_then(|s| s.certificate.as_ref())
                    .is_some_and(|f| f.version == second)
            },
        )
        .await;
    assert_eq!(
        condition(&done, "ExpiringSoon").unwrap().reason,
        "CertificateValid"
    );
    let (_, data) = t.secret_bytes("site").await.unwrap();
    assert_eq!(
        first_pem(&text(&data, "tls.crt")),
        renewed.leaf.pem.trim_end()
    );
    let (cert_pub, key_pub) = pki::public_keys(&text(&data, "tls.crt"), &text(&data, "tls.key"));
    assert_eq!(cert_pub, key_pub);
    wait_event(&t, "site", "Normal", "CertificateRenewed").await;
}

/// Puts one bad input into the vault.
type Breaker<'a> = Box<dyn Fn() + 'a>;

/// The vault gives each bad input; each gets its own reason and Event, and the Secret keeps the
/// last good certificate throughout.
#[tokio::test]
async fn bad_inputs_have_precise_reasons_and_keep_the_last_good_data() {
    let t = test_namespace("cbad").await;
    let good = pki::chain(Alg::Ec, "Good Root", -1, 365);
    let kept = t.synced_certificate("tls", &good).await;

    let other = pki::chain(Alg::Ec, "Other Root", -1, 365);
    let expired = pki::chain(Alg::Ec, "Old Root", -400, -10);
    let control = world().control();
    let cases: Vec<(&str, Breaker)> = vec![
        (
            "CertificateCorrupt",
            Box::new(|| {
                t.import_pfx("tls", pfx(&good.key_pem, &[&good.leaf]));
                let garbage =
                    base64::engine::general_purpose::STANDARD.encode([0x30u8, 0x82, 1, 2, 3, 4]);
                control
                    .overwrite_certificate_secret(&t.vault, "tls", &garbage)
                    .unwrap();
            }),
        ),
        (
            "PrivateKeyMissing",
            Box::new(|| {
                t.import_pem(
                    "tls",
                    &pem_bundle(Some(&good.key_pem), &[&good.leaf]),
                    false,
                );
            }),
        ),
        (
            "KeyMismatch",
            Box::new(|| {
                t.import_pem("tls", &pem_bundle(Some(&good.key_pem), &[&good.leaf]), true);
                let mismatched = pem_bundle(Some(&other.key_pem), &[&good.leaf]);
                control
                    .overwrite_certificate_secret(&t.vault, "tls", &mismatched)
                    .unwrap();
            }),
        ),
        (
            "CertificateExpired",
            Box::new(|| {
                t.import_pem(
                    "tls",
                    &pem_bundle(Some(&expired.key_pem), &[&expired.leaf, &expired.inter]),
                    true,
                );
            }),
        ),
    ];
    for (i, (reason, break_it)) in cases.iter().enumerate() {
        break_it();
        t.force_refresh("vaultcertificate", "tls", &format!("bad-{i}"));
        let failed = t.wait_certificate_reason("tls", reason, SYNC).await;
        let message = &condition(&failed, "Ready").unwrap().message;
        assert!(message.contains("keeps its last synced data"), "{message}");
        wait_event(&t, "tls", "Warning", reason).await;
        let (_, now) = t.secret_bytes("tls").await.expect("Secret still exists");
        assert_eq!(now, kept, "{reason}: the Secret keeps the last good data");
    }

    t.apply_certificate("missing", "  certificate:\n    name: no-such-cert\n");
    t.wait_certificate_reason("missing", "CertificateNotFound", SYNC)
        .await;
    assert!(t.secret_bytes("missing").await.is_none());

    t.apply_certificate(
        "nopw",
        "  certificate:\n    name: tls\n  output:\n    pkcs12:\n      passwordSecretRef:\n        name: absent\n        key: password\n",
    );
    t.wait_certificate_reason("nopw", "KeystorePasswordUnavailable", SYNC)
        .await;
    t.assert_no_leak(&[&key_body(&good.key_pem), &key_body(&other.key_pem)])
        .await;
}
