//! Public parts of Key Vault keys on the real control plane with the emulator: the PEM and the
//! JWK in the Secret verify signatures the vault made with its private key, and a new key
//! version reaches the Secret.

mod support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use support::eventually::{check, eventually};
use support::pki::openssl;
use support::world::{test_namespace, world_control};
use vaultsync::crd::VaultSecret;
use vaultsync_emulator::Permission;

const SYNC: Duration = Duration::from_secs(60);

fn sha256(message: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, message)
        .as_ref()
        .to_vec()
}

/// The DER inside a `PUBLIC KEY` PEM block.
fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

/// Verifies `signature` over `message` with the PEM public key, by openssl.
fn openssl_verifies(pem: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let sig = dir.path().join("sig.bin");
    std::fs::write(&key, pem).unwrap();
    std::fs::write(&sig, signature).unwrap();
    std::fs::write(dir.path().join("message"), message).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&key)
        .arg("-signature")
        .arg(&sig)
        .arg(dir.path().join("message"))
        .output()
        .unwrap();
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

#[tokio::test]
async fn public_pem_and_jwk_verify_signatures_made_with_the_vaults_keys() {
    let t = test_namespace("keys").await;
    let control = world_control();
    control.assign_role(&t.client_id, &t.vault, &[Permission::KeysRead]);
    let v1 = control
        .create_key(&t.vault, "token-signing", "RSA", Some(2048))
        .unwrap();
    control
        .create_key(&t.vault, "device-ec", "EC", None)
        .unwrap();
    t.apply(
        "public",
        concat!(
            "  keys:\n",
            "  - key: signing.pem\n    name: token-signing\n",
            "  - key: signing.jwk\n    name: token-signing\n    format: JWK\n",
            "  - key: device\n    name: device-ec\n",
        ),
    );
    let synced = t.wait_reason("public", "Synced", SYNC).await;
    let versions = synced.status.unwrap().versions;
    assert!(
        versions
            .iter()
            .any(|v| v.key == "signing.pem" && v.version == v1),
        "{versions:?}"
    );
    let (type_, data) = t.secret_bytes("public").await.unwrap();
    assert_eq!(type_, "Opaque");
    assert_eq!(data.len(), 3);

    let message = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhcHAifQ";
    let rsa_signature = control
        .sign_digest(&t.vault, "token-signing", "RS256", &sha256(message))
        .unwrap();
    assert!(
        openssl_verifies(&data["signing.pem"], message, &rsa_signature),
        "the PEM verifies the vault's RS256 signature"
    );
    assert!(
        !openssl_verifies(&data["signing.pem"], b"another message", &rsa_signature),
        "and only over the signed message"
    );

    let jwk: serde_json::Value = serde_json::from_slice(&data["signing.jwk"]).unwrap();
    assert_eq!(jwk["kty"], "RSA");
    assert!(
        jwk["kid"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/keys/token-signing/{v1}"))
    );
    assert!(jwk.get("d").is_none() && jwk.get("p").is_none());
    let member = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    let jwk_key = RsaPublicKeyComponents {
        n: member("n"),
        e: member("e"),
    };
    jwk_key
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            message,
            &rsa_signature,
        )
        .expect("the JWK verifies the vault's RS256 signature");

    // ES256 over the same digest: Key Vault returns r || s; the PEM's point checks it.
    let ec_signature = control
        .sign_digest(&t.vault, "device-ec", "ES256", &sha256(message))
        .unwrap();
    let device = std::str::from_utf8(&data["device"]).unwrap();
    openssl(&["pkey", "-pubin", "-noout"], device.as_bytes());
    let der = pem_der(device);
    let point = &der[der.len() - 65..];
    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
        .verify(message, &ec_signature)
        .expect("the PEM's point verifies the vault's ES256 signature");

    // Only the format changes, not the key: the same point, now as a JWK.
    t.apply(
        "public",
        concat!(
            "  keys:\n",
            "  - key: signing.pem\n    name: token-signing\n",
            "  - key: signing.jwk\n    name: token-signing\n    format: JWK\n",
            "  - key: device\n    name: device-ec\n    format: JWK\n",
        ),
    );
    let device_jwk = eventually("the device key as a JWK", SYNC, || async {
        let (_, data) = t.secret_bytes("public").await.unwrap();
        let parsed = serde_json::from_slice::<serde_json::Value>(&data["device"]);
        check(parsed.is_ok(), "still PEM").map(|()| parsed.unwrap())
    })
    .await;
    assert_eq!(
        (&device_jwk["kty"], &device_jwk["crv"]),
        (&"EC".into(), &"P-256".into())
    );
    let coordinate = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(device_jwk[name].as_str().unwrap())
            .unwrap()
    };
    assert_eq!(
        [vec![0x04], coordinate("x"), coordinate("y")].concat(),
        point
    );

    // A new version of the key reaches the Secret.
    let v2 = control
        .create_key(&t.vault, "token-signing", "RSA", Some(2048))
        .unwrap();
    t.force_refresh("vaultsecret", "public", "rotate-1");
    t.wait_for(
        "public",
        "the new key version in status",
        SYNC,
        |vs: &VaultSecret| {
            vs.status.as_ref().is_some_and(|s| {
                s.versions
                    .iter()
                    .filter(|v| v.name == "token-signing")
                    .all(|v| v.version == v2)
            })
        },
    )
    .await;
    let old_pem = data["signing.pem"].clone();
    let rotated = eventually("the rotated PEM", SYNC, || async {
        let (_, data) = t.secret_bytes("public").await.unwrap();
        check(data["signing.pem"] != old_pem, "the old PEM").map(|()| data)
    })
    .await;
    let new_signature = control
        .sign_digest(&t.vault, "token-signing", "RS256", &sha256(message))
        .unwrap();
    assert!(openssl_verifies(
        &rotated["signing.pem"],
        message,
        &new_signature
    ));
    assert!(
        !openssl_verifies(&rotated["signing.pem"], message, &rsa_signature),
        "the old key's signature no longer verifies"
    );
}
