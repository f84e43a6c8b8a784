//! Every failure is a typed error with a reason, never a panic, and never
//! echoes secret input.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use vaultsync_tls::{BackingFormat, ConvertOptions, KeyFormat, TlsError, convert};

fn pem_err(parts: &[&str]) -> TlsError {
    convert(
        &pem_join(parts),
        BackingFormat::Pem,
        &ConvertOptions::new(NOW),
    )
    .unwrap_err()
}

fn p12_err(value: &str) -> TlsError {
    convert(value, BackingFormat::Pkcs12, &ConvertOptions::new(NOW)).unwrap_err()
}

/// The error text must not contain any line of the key's base64 body.
fn assert_no_leak(err: &TlsError, key_pem: &str) {
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        for line in key_pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!text.contains(&line[..line.len().min(16)]), "{text}");
        }
    }
}

#[test]
fn pem_without_key_is_no_private_key() {
    let pki = pki(Alg::P256);
    let e = pem_err(&[&pki.leaf.pem, &pki.inter.pem, &pki.root.pem]);
    assert_eq!(e, TlsError::NoPrivateKey);
    assert_eq!(e.reason(), "PrivateKeyMissing");
}

#[test]
fn pkcs12_without_key_is_no_private_key() {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry};
    let pki = pki(Alg::P256);
    let mut ks = KeyStore::new();
    ks.add_entry(
        "c",
        KeyStoreEntry::Certificate(Certificate::from_der(&pki.leaf.der).unwrap()),
    );
    let value = STANDARD.encode(ks.writer("").write().unwrap());
    assert_eq!(p12_err(&value), TlsError::NoPrivateKey);
}

#[test]
fn key_without_certificate() {
    let pki = pki(Alg::P256);
    assert_eq!(pem_err(&[&pki.leaf_key_pem]), TlsError::NoCertificate);
}

#[test]
fn key_mismatch() {
    for alg in ALL_ALGS {
        let pki = common::pki(alg);
        let other = common::pki(alg);
        let e = pem_err(&[
            &other.leaf_key_pem,
            &pki.leaf.pem,
            &pki.inter.pem,
            &pki.root.pem,
        ]);
        assert_eq!(e, TlsError::KeyMismatch, "{alg:?}");
        assert_eq!(e.reason(), "KeyMismatch");
        assert_no_leak(&e, &other.leaf_key_pem);
        let value = pfx_crate(&other.leaf_key_der, &[&pki.leaf, &pki.inter]);
        assert_eq!(p12_err(&value), TlsError::KeyMismatch);
    }
}

#[test]
fn two_distinct_keys_are_ambiguous() {
    let pki = common::pki(Alg::P256);
    let other = common::pki(Alg::P256);
    let e = pem_err(&[&pki.leaf_key_pem, &other.leaf_key_pem, &pki.leaf.pem]);
    assert_eq!(e, TlsError::MultiplePrivateKeys(2));
}

#[test]
fn expired_and_not_yet_valid_leaf() {
    let old = pki_with(Alg::P256, leaf_params(2020, 2021), "Test Root CA");
    let e = pem_err(&[&old.leaf_key_pem, &old.leaf.pem, &old.inter.pem]);
    assert_eq!(
        e,
        TlsError::Expired {
            not_after_unix: 1_609_459_200
        }
    );
    assert_eq!(e.reason(), "CertificateExpired");

    let future = pki_with(Alg::P256, leaf_params(2030, 2035), "Test Root CA");
    let e = pem_err(&[&future.leaf_key_pem, &future.leaf.pem]);
    assert_eq!(
        e,
        TlsError::NotYetValid {
            not_before_unix: 1_893_456_000
        }
    );
    assert_eq!(e.reason(), "CertificateNotYetValid");
}

#[test]
fn key_format_must_fit_the_algorithm() {
    let ec = pki(Alg::P256);
    let mut o = ConvertOptions::new(NOW);
    o.key_format = KeyFormat::Pkcs1;
    let e = convert(
        &pem_join(&[&ec.leaf_key_pem, &ec.leaf.pem]),
        BackingFormat::Pem,
        &o,
    )
    .unwrap_err();
    assert_eq!(
        e,
        TlsError::KeyFormatUnsupported {
            format: KeyFormat::Pkcs1,
            algorithm: "EC-P256".into()
        }
    );
    assert_eq!(e.reason(), "KeyFormatUnsupported");

    let rsa = pki(Alg::Rsa);
    o.key_format = KeyFormat::Sec1;
    let e = convert(
        &pem_join(&[&rsa.leaf_key_pem, &rsa.leaf.pem]),
        BackingFormat::Pem,
        &o,
    )
    .unwrap_err();
    assert!(matches!(
        e,
        TlsError::KeyFormatUnsupported {
            format: KeyFormat::Sec1,
            ..
        }
    ));
}

#[test]
fn unsupported_keys() {
    let k = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let cert = leaf_params(2024, 2030).self_signed(&k).unwrap();
    let e = pem_err(&[&k.serialize_pem(), &cert.pem()]);
    assert!(matches!(e, TlsError::UnsupportedKey(_)), "{e:?}");
    assert_eq!(e.reason(), "KeyAlgorithmUnsupported");

    let pki = pki(Alg::P256);
    let encrypted = pki
        .leaf_key_pem
        .replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY");
    assert!(matches!(
        pem_err(&[&encrypted, &pki.leaf.pem]),
        TlsError::UnsupportedKey(_)
    ));
}

#[test]
fn corrupt_base64_pfx_and_password_protected_pfx() {
    assert_eq!(p12_err("this is not base64!"), TlsError::InvalidBase64);
    assert!(matches!(p12_err(""), TlsError::CorruptPkcs12(_)));
    assert!(matches!(
        p12_err(&STANDARD.encode(b"garbage")),
        TlsError::CorruptPkcs12(_)
    ));

    let pki = pki(Alg::P256);
    let good = STANDARD
        .decode(pfx_crate(&pki.leaf_key_der, &[&pki.leaf]))
        .unwrap();
    for cut in [1, good.len() / 2, good.len() - 1] {
        let e = p12_err(&STANDARD.encode(&good[..cut]));
        assert!(matches!(e, TlsError::CorruptPkcs12(_)), "{e:?}");
        assert_eq!(e.reason(), "CertificateCorrupt");
        assert_no_leak(&e, &pki.leaf_key_pem);
    }
    // Key Vault PFX never have a password; one that has is corrupt to us.
    let dir = tempdir();
    std::fs::write(dir.join("k.pem"), &pki.leaf_key_pem).unwrap();
    std::fs::write(dir.join("c.pem"), &pki.leaf.pem).unwrap();
    let (ok, pfx, err) = openssl(
        &[
            "pkcs12",
            "-export",
            "-passout",
            "pass:secret",
            "-inkey",
            dir.join("k.pem").to_str().unwrap(),
            "-in",
            dir.join("c.pem").to_str().unwrap(),
        ],
        b"",
    );
    assert!(ok, "{err}");
    std::fs::remove_dir_all(dir).ok();
    assert!(matches!(
        p12_err(&STANDARD.encode(pfx)),
        TlsError::CorruptPkcs12(_)
    ));
}

#[test]
fn corrupt_pem() {
    let pki = pki(Alg::P256);
    assert!(matches!(pem_err(&["just text"]), TlsError::InvalidPem(_)));
    // Flip a character inside the key body: invalid key or invalid base64,
    // either way a typed error that does not quote the body.
    let body_line = pki.leaf_key_pem.lines().nth(1).unwrap();
    let mut broken_line = body_line.to_owned();
    broken_line.replace_range(5..6, "*");
    let broken = pki.leaf_key_pem.replace(body_line, &broken_line);
    let e = pem_err(&[&broken, &pki.leaf.pem]);
    assert!(matches!(e, TlsError::InvalidPem(_)), "{e:?}");
    assert_eq!(e.reason(), "PemInvalid");
    assert_no_leak(&e, &pki.leaf_key_pem);

    let e = pem_err(&[
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        &pki.leaf.pem,
    ]);
    assert!(matches!(e, TlsError::InvalidPrivateKey(_)), "{e:?}");
    let e = pem_err(&[
        &pki.leaf_key_pem,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
    ]);
    assert!(matches!(e, TlsError::InvalidCertificate(_)), "{e:?}");
    let e = pem_err(&[
        "-----BEGIN FOO-----\nAAAA\n-----END FOO-----",
        &pki.leaf.pem,
    ]);
    assert_eq!(e, TlsError::InvalidPem("unexpected block FOO".into()));
}
