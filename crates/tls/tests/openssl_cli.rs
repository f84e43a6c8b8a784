//! Cross-checks with the openssl CLI: what we write must be what OpenSSL
//! (and so nginx, envoy and friends) understands.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use vaultsync_tls::{BackingFormat, CaSource, ConvertOptions, KeyFormat, TlsBundle, convert};

fn bundle(pki: &Pki, key_format: KeyFormat, password: Option<&str>) -> TlsBundle {
    let mut o = ConvertOptions::new(NOW);
    o.key_format = key_format;
    o.pkcs12_password = password.map(str::to_owned);
    let value = pem_join(&[
        &pki.root.pem,
        &pki.leaf.pem,
        &pki.leaf_key_pem,
        &pki.inter.pem,
    ]);
    convert(&value, BackingFormat::Pem, &o).unwrap()
}

fn ok_stdout(args: &[&str], stdin: &[u8]) -> String {
    let (ok, out, err) = openssl(args, stdin);
    assert!(ok, "openssl {args:?}: {err}");
    String::from_utf8(out).unwrap()
}

/// The public key of tls.key and of the first certificate in tls.crt agree.
fn assert_key_matches_leaf(b: &TlsBundle) {
    let from_key = ok_stdout(&["pkey", "-pubout"], b.tls_key.as_bytes());
    let from_cert = ok_stdout(&["x509", "-pubkey", "-noout"], b.tls_crt.as_bytes());
    assert_eq!(from_key, from_cert);
}

#[test]
fn tls_key_matches_leaf_in_every_key_format() {
    for alg in ALL_ALGS {
        let pki = pki(alg);
        let formats: &[KeyFormat] = if alg == Alg::Rsa {
            &[KeyFormat::Pkcs8, KeyFormat::Pkcs1]
        } else {
            &[KeyFormat::Pkcs8, KeyFormat::Sec1]
        };
        for &format in formats {
            let b = bundle(&pki, format, None);
            let label = match format {
                KeyFormat::Pkcs8 => "PRIVATE KEY",
                KeyFormat::Pkcs1 => "RSA PRIVATE KEY",
                KeyFormat::Sec1 => "EC PRIVATE KEY",
            };
            assert!(
                b.tls_key.starts_with(&format!("-----BEGIN {label}-----\n")),
                "{format:?}"
            );
            assert_key_matches_leaf(&b);
            match format {
                KeyFormat::Pkcs1 => {
                    ok_stdout(&["rsa", "-check", "-noout"], b.tls_key.as_bytes());
                }
                KeyFormat::Sec1 => {
                    ok_stdout(&["ec", "-check", "-noout"], b.tls_key.as_bytes());
                    // The curve must be named inside the SEC1 key itself.
                    let text = ok_stdout(&["ec", "-text", "-noout"], b.tls_key.as_bytes());
                    assert!(text.contains("ASN1 OID:"), "{text}");
                }
                KeyFormat::Pkcs8 => {}
            }
            // Our own output formats are valid inputs too.
            // (OpenSSL's `ecparam -genkey` puts the curve in a block of its own.)
            let params =
                "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----";
            let again = pem_join(&[params, &b.tls_key, &b.tls_crt]);
            let b2 = convert(&again, BackingFormat::Pem, &ConvertOptions::new(NOW)).unwrap();
            assert_eq!(b2.tls_crt, b.tls_crt);
            assert_key_matches_leaf(&b2);
        }
    }
}

#[test]
fn rsa_modulus_of_key_and_leaf_agree() {
    let pki = pki(Alg::Rsa);
    let b = bundle(&pki, KeyFormat::Pkcs8, None);
    let key_mod = ok_stdout(&["rsa", "-noout", "-modulus"], b.tls_key.as_bytes());
    let crt_mod = ok_stdout(&["x509", "-noout", "-modulus"], b.tls_crt.as_bytes());
    assert!(key_mod.starts_with("Modulus="));
    assert_eq!(key_mod, crt_mod);
}

#[test]
fn chain_verifies_against_ca_crt() {
    for alg in ALL_ALGS {
        let pki = pki(alg);
        let b = bundle(&pki, KeyFormat::Pkcs8, None);
        let dir = tempdir();
        let (crt, ca) = (dir.join("tls.crt"), dir.join("ca.crt"));
        std::fs::write(&crt, &b.tls_crt).unwrap();
        std::fs::write(&ca, b.ca_crt.as_deref().unwrap()).unwrap();
        let (c, a) = (crt.to_str().unwrap(), ca.to_str().unwrap());
        let out = ok_stdout(
            &[
                "verify",
                "-attime",
                &NOW.to_string(),
                "-CAfile",
                a,
                "-untrusted",
                c,
                c,
            ],
            b"",
        );
        assert!(out.contains(": OK"), "{out}");
        std::fs::remove_dir_all(dir).ok();
    }
}

#[test]
fn pkcs12_output_is_readable_by_openssl_and_by_us() {
    for alg in [Alg::P256, Alg::Rsa] {
        let pki = pki(alg);
        let b = bundle(&pki, KeyFormat::Pkcs8, Some("s3cret pw"));
        let p12 = b.pkcs12.as_deref().expect("pkcs12");
        let info = openssl(
            &["pkcs12", "-info", "-noout", "-passin", "pass:s3cret pw"],
            p12,
        );
        assert!(info.0, "{}", info.2);
        assert!(
            info.2.contains("AES-256-CBC") || info.2.contains("aes-256-cbc"),
            "{}",
            info.2
        );
        let wrong = openssl(&["pkcs12", "-info", "-noout", "-passin", "pass:nope"], p12);
        assert!(!wrong.0);

        // Everything comes back out: key, leaf, intermediate and root.
        let dump = ok_stdout(&["pkcs12", "-nodes", "-passin", "pass:s3cret pw"], p12);
        assert_eq!(pem_ders(&dump).len(), 3, "{dump}");
        let leaf_only = ok_stdout(
            &[
                "pkcs12",
                "-nodes",
                "-clcerts",
                "-nokeys",
                "-passin",
                "pass:s3cret pw",
            ],
            p12,
        );
        assert_eq!(pem_ders(&leaf_only), vec![pki.leaf.der.clone()]);
        let key_pub = ok_stdout(&["pkey", "-pubout"], dump.as_bytes());
        let crt_pub = ok_stdout(&["x509", "-pubkey", "-noout"], leaf_only.as_bytes());
        assert_eq!(key_pub, crt_pub);

        // An empty-password keystore is a valid Key Vault style input.
        let b = bundle(&pki, KeyFormat::Pkcs8, Some(""));
        let value = STANDARD.encode(b.pkcs12.as_deref().unwrap());
        let mut o = ConvertOptions::new(NOW);
        o.ca = CaSource::Root;
        let back = convert(&value, BackingFormat::Pkcs12, &o).unwrap();
        assert_eq!(back.tls_crt, b.tls_crt);
        assert_eq!(*back.tls_key, *b.tls_key);
        assert_eq!(
            pem_ders(back.ca_crt.as_deref().unwrap()),
            vec![pki.root.der.clone()]
        );
    }
}
