//! Keys over REST: create and import RSA and EC keys, get the public JWK only, list, versions,
//! sign and verify a digest, with Key Vault's refusals. (The Go suite checks the same through
//! azkeys and verifies the signatures with Go's own crypto.)

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use vaultsync_emulator::Permission;

const API: &str = "api-version=7.6";

fn digest(msg: &[u8]) -> String {
    B64URL.encode(ring::digest::digest(&ring::digest::SHA256, msg))
}

async fn sign_and_verify(fx: &Fixture, t: &str, kid_path: &str, alg: &str) -> String {
    let sign = json!({"alg": alg, "value": digest(b"data")});
    let (s, b) = rest(
        fx,
        t,
        Method::POST,
        &format!("{kid_path}/sign?{API}"),
        Some(sign),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let sig = b["value"].as_str().unwrap().to_owned();
    for (msg, want) in [(&b"data"[..], true), (&b"other"[..], false)] {
        let verify = json!({"alg": alg, "digest": digest(msg), "value": sig});
        let path = format!("{kid_path}/verify?{API}");
        let (s, b) = rest(fx, t, Method::POST, &path, Some(verify)).await;
        assert_eq!((s, b["value"].as_bool()), (200, Some(want)), "{b}");
    }
    sig
}

fn kid_path(fx: &Fixture, bundle: &Value) -> String {
    let kid = bundle["key"]["kid"].as_str().unwrap();
    kid.trim_start_matches(&fx.emu.vault_url("v1")).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_list_sign_verify() {
    let fx = fixture().await;
    fx.control()
        .assign_role(CLIENT, "v1", &[Permission::KeysRead, Permission::KeysWrite]);
    let t = access_token(&fx).await;

    let rsa = json!({"kty": "RSA", "key_size": 2048});
    let (s, b) = rest(
        &fx,
        &t,
        Method::POST,
        &format!("keys/rsa/create?{API}"),
        Some(rsa),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (b["key"]["kty"].as_str(), b["key"]["e"].as_str()),
        (Some("RSA"), Some("AQAB"))
    );
    assert_eq!(
        B64URL
            .decode(b["key"]["n"].as_str().unwrap())
            .unwrap()
            .len(),
        256
    );
    assert!(
        b["key"].get("d").is_none() && b["key"].get("p").is_none(),
        "{b}"
    );
    let rsa_path = kid_path(&fx, &b);
    let sig = sign_and_verify(&fx, &t, &rsa_path, "RS256").await;
    // An independent implementation accepts the signature for the message.
    let n = B64URL.decode(b["key"]["n"].as_str().unwrap()).unwrap();
    let public = ring::signature::RsaPublicKeyComponents {
        n,
        e: vec![1, 0, 1],
    };
    let sig = B64URL.decode(sig).unwrap();
    assert!(
        public
            .verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, b"data", &sig)
            .is_ok()
    );

    let ec = json!({"kty": "EC", "crv": "P-256"});
    for _ in 0..2 {
        let (s, b) = rest(
            &fx,
            &t,
            Method::POST,
            &format!("keys/ec/create?{API}"),
            Some(ec.clone()),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, b) = rest(&fx, &t, Method::GET, &format!("keys/ec?{API}"), None).await;
    assert_eq!((s, b["key"]["crv"].as_str()), (200, Some("P-256")), "{b}");
    assert!(b["key"].get("d").is_none(), "{b}");
    sign_and_verify(&fx, &t, &kid_path(&fx, &b), "ES256").await;

    let (s, b) = rest(
        &fx,
        &t,
        Method::GET,
        &format!("keys/ec/versions?{API}"),
        None,
    )
    .await;
    assert_eq!(
        (s, b["value"].as_array().map(Vec::len)),
        (200, Some(2)),
        "{b}"
    );
    let (s, b) = rest(&fx, &t, Method::GET, &format!("keys?{API}"), None).await;
    let kids: Vec<&str> = b["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    let base = fx.emu.vault_url("v1");
    assert_eq!(
        (s, kids),
        (
            200,
            vec![
                format!("{base}keys/ec").as_str(),
                &format!("{base}keys/rsa")
            ]
        )
    );

    // Refusals: wrong digest length, algorithm that does not fit the key, unknown key type.
    let short = json!({"alg": "RS256", "value": B64URL.encode([0u8; 20])});
    let (s, b) = rest(
        &fx,
        &t,
        Method::POST,
        &format!("{rsa_path}/sign?{API}"),
        Some(short),
    )
    .await;
    assert_eq!((s, kv_code(&b)), (400, "BadParameter"), "{b}");
    let wrong = json!({"alg": "ES256", "value": digest(b"x")});
    let (s, b) = rest(
        &fx,
        &t,
        Method::POST,
        &format!("{rsa_path}/sign?{API}"),
        Some(wrong),
    )
    .await;
    assert_eq!((s, kv_code(&b)), (400, "BadParameter"), "{b}");
    let oct = json!({"kty": "oct"});
    let (s, b) = rest(
        &fx,
        &t,
        Method::POST,
        &format!("keys/o/create?{API}"),
        Some(oct),
    )
    .await;
    assert_eq!((s, kv_code(&b)), (400, "BadParameter"), "{b}");
    let (s, b) = rest(&fx, &t, Method::GET, &format!("keys/none?{API}"), None).await;
    assert_eq!((s, kv_code(&b)), (404, "KeyNotFound"), "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_checks_the_key_and_signs_with_it() {
    let fx = fixture().await;
    fx.control()
        .assign_role(CLIENT, "v1", &[Permission::KeysRead, Permission::KeysWrite]);
    let t = access_token(&fx).await;
    // An EC key from ring: its PKCS#8 holds the scalar at a fixed offset for P-256.
    let rng = ring::rand::SystemRandom::new();
    let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let pair = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
    let point = ring::signature::KeyPair::public_key(&pair)
        .as_ref()
        .to_vec();
    let d = &pkcs8.as_ref()[36..68];
    let jwk = |x: &[u8]| {
        json!({"key": {"kty": "EC", "crv": "P-256", "x": B64URL.encode(x),
        "y": B64URL.encode(&point[33..65]), "d": B64URL.encode(d)}})
    };

    let (s, b) = rest(
        &fx,
        &t,
        Method::PUT,
        &format!("keys/imp?{API}"),
        Some(jwk(&point[1..33])),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(b["key"].get("d").is_none(), "{b}");
    let sig = sign_and_verify(&fx, &t, &kid_path(&fx, &b), "ES256").await;
    let public =
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &point);
    assert!(public.verify(b"data", &B64URL.decode(sig).unwrap()).is_ok());

    // A public point that does not belong to the private scalar is refused.
    let mut x = point[1..33].to_vec();
    x[31] ^= 1;
    let (s, b) = rest(
        &fx,
        &t,
        Method::PUT,
        &format!("keys/bad?{API}"),
        Some(jwk(&x)),
    )
    .await;
    assert_eq!((s, kv_code(&b)), (400, "BadParameter"), "{b}");

    // Deleted keys hold their name like secrets do.
    rest(&fx, &t, Method::DELETE, &format!("keys/imp?{API}"), None).await;
    let (s, b) = rest(
        &fx,
        &t,
        Method::PUT,
        &format!("keys/imp?{API}"),
        Some(jwk(&point[1..33])),
    )
    .await;
    assert_eq!(
        (s, b["error"]["innererror"]["code"].as_str()),
        (409, Some("ObjectIsDeletedButRecoverable")),
        "{b}"
    );
    let (s, _) = rest(
        &fx,
        &t,
        Method::POST,
        &format!("deletedkeys/imp/recover?{API}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
}
