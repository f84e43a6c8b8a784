//! Key material must never reach logs through Debug or Display.

mod common;

use common::*;
use vaultsync_tls::{BackingFormat, ConvertOptions, KeyFormat, convert};

/// Fragments of the key body must not appear in `text`, except those that
/// are public anyway: PKCS#8/SEC1 keys embed the public key, whose base64 can
/// coincide with the certificate's.
fn assert_free_of_key(text: &str, key_pem: &str, public: &str) {
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    let public: String = public.split_whitespace().collect();
    for line in key_pem.lines().filter(|l| !l.starts_with("-----")) {
        for chunk in line.as_bytes().chunks(12).filter(|c| c.len() == 12) {
            let chunk = std::str::from_utf8(chunk).unwrap();
            if !public.contains(chunk) {
                assert!(
                    !text.contains(chunk),
                    "key fragment {chunk} leaked in {text}"
                );
            }
        }
    }
}

#[test]
fn bundle_debug_redacts_key_keystore_and_password() {
    for alg in ALL_ALGS {
        let pki = pki(alg);
        let value = pem_join(&[
            &pki.leaf_key_pem,
            &pki.leaf.pem,
            &pki.inter.pem,
            &pki.root.pem,
        ]);
        for format in [KeyFormat::Pkcs8, KeyFormat::Pkcs1, KeyFormat::Sec1] {
            let mut o = ConvertOptions::new(NOW);
            o.key_format = format;
            o.pkcs12_password = Some("do-not-print".into());
            let Ok(b) = convert(&value, BackingFormat::Pem, &o) else {
                continue; // format not available for this algorithm
            };
            let debug = format!("{b:?} {b:#?} {o:?}");
            assert!(debug.contains("redacted"));
            assert!(!debug.contains("do-not-print"));
            let public = format!("{}{}", b.tls_crt, b.ca_crt.as_deref().unwrap_or(""));
            assert_free_of_key(&debug, &pki.leaf_key_pem, &public);
            assert_free_of_key(&debug, &b.tls_key, &public);
            // The keystore's bytes are not printed either, in any form.
            let p12 = b.pkcs12.as_deref().unwrap();
            assert!(!debug.contains(&format!("{:?}", &p12[..8])));
        }
    }
}

#[test]
fn errors_never_contain_key_text() {
    let pki = pki(Alg::P256);
    let other = common::pki(Alg::P256);
    let broken_key = pki.leaf_key_pem.replacen('M', "*", 1);
    let inputs = [
        pem_join(&[&other.leaf_key_pem, &pki.leaf.pem]),
        pem_join(&[&pki.leaf_key_pem]),
        pem_join(&[&broken_key, &pki.leaf.pem]),
        pem_join(&[&pki.leaf_key_pem, &other.leaf_key_pem, &pki.leaf.pem]),
        pki.leaf_key_pem.replace("-----END PRIVATE KEY-----", ""),
        pki.leaf_key_pem.replace(
            "PRIVATE KEY-----\n",
            "PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n",
        ),
    ];
    for input in inputs {
        for format in [BackingFormat::Pem, BackingFormat::Pkcs12] {
            let e = convert(&input, format, &ConvertOptions::new(NOW)).unwrap_err();
            assert_free_of_key(&format!("{e} {e:?}"), &pki.leaf_key_pem, "");
            assert_free_of_key(&format!("{e} {e:?}"), &other.leaf_key_pem, "");
        }
    }
}
