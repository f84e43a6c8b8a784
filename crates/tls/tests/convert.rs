//! Happy paths: every algorithm, both backing formats, every upload order.

mod common;

use common::*;
use vaultsync_tls::{BackingFormat, CaSource, ConvertOptions, TlsBundle, convert};

/// Asserts the canonical output for a complete chain.
fn assert_complete(b: &TlsBundle, pki: &Pki, alg: Alg) {
    assert_eq!(
        pem_ders(&b.tls_crt),
        vec![pki.leaf.der.clone(), pki.inter.der.clone()]
    );
    assert_eq!(
        pem_ders(b.ca_crt.as_deref().expect("ca.crt")),
        vec![pki.inter.der.clone(), pki.root.der.clone()]
    );
    assert!(b.warnings.is_empty(), "{:?}", b.warnings);
    assert!(b.tls_key.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(b.pkcs12.is_none());
    let expected_alg = match alg {
        Alg::P256 => "EC-P256",
        Alg::P384 => "EC-P384",
        Alg::Rsa => "RSA-2048",
    };
    assert_eq!(b.info.key_algorithm, expected_alg);
    assert_eq!(b.info.dns_names, ["app.example.com", "www.example.com"]);
    assert!(
        b.info.subject.contains("CN=app.example.com"),
        "{}",
        b.info.subject
    );
    assert!(b.info.issuer.contains("Intermediate"), "{}", b.info.issuer);
}

#[test]
fn pem_every_upload_order_every_algorithm() {
    for alg in ALL_ALGS {
        let pki = pki(alg);
        let certs = [&pki.leaf.pem, &pki.inter.pem, &pki.root.pem];
        for order in permutations(&certs) {
            // The key at the front (Key Vault's layout) and at the end.
            for key_first in [true, false] {
                let mut parts: Vec<&str> = order.iter().map(|s| s.as_str()).collect();
                if key_first {
                    parts.insert(0, &pki.leaf_key_pem);
                } else {
                    parts.push(&pki.leaf_key_pem);
                }
                let b = convert(
                    &pem_join(&parts),
                    BackingFormat::Pem,
                    &ConvertOptions::new(NOW),
                )
                .unwrap_or_else(|e| panic!("{alg:?} {e}"));
                assert_complete(&b, &pki, alg);
            }
        }
    }
}

#[test]
fn pkcs12_every_upload_order_every_algorithm() {
    for alg in ALL_ALGS {
        let pki = pki(alg);
        let certs = [&pki.leaf, &pki.inter, &pki.root];
        for order in permutations(&certs) {
            let value = pfx_crate(&pki.leaf_key_der, &order);
            let b = convert(&value, BackingFormat::Pkcs12, &ConvertOptions::new(NOW))
                .unwrap_or_else(|e| panic!("{alg:?} {e}"));
            assert_complete(&b, &pki, alg);
        }
    }
}

#[test]
fn pkcs12_written_by_openssl_cli_in_all_modes() {
    for alg in ALL_ALGS {
        let pki = pki(alg);
        for mode in [
            OpensslPfx::Default,
            OpensslPfx::Legacy,
            OpensslPfx::TripleDes,
        ] {
            let value = pfx_openssl(&pki.leaf_key_pem, &[&pki.root, &pki.leaf, &pki.inter], mode);
            let b = convert(&value, BackingFormat::Pkcs12, &ConvertOptions::new(NOW))
                .unwrap_or_else(|e| panic!("{alg:?} {mode:?}: {e}"));
            assert_complete(&b, &pki, alg);
        }
    }
}

#[test]
fn ca_source_root_gives_only_the_root() {
    let pki = pki(Alg::P256);
    let value = pem_join(&[
        &pki.leaf_key_pem,
        &pki.inter.pem,
        &pki.leaf.pem,
        &pki.root.pem,
    ]);
    let mut o = ConvertOptions::new(NOW);
    o.ca = CaSource::Root;
    let b = convert(&value, BackingFormat::Pem, &o).unwrap();
    assert_eq!(
        pem_ders(b.ca_crt.as_deref().unwrap()),
        vec![pki.root.der.clone()]
    );
    assert_eq!(pem_ders(&b.tls_crt).len(), 2);
}

#[test]
fn base64_with_line_breaks_and_pem_with_crlf_are_accepted() {
    let pki = pki(Alg::P256);
    let value = pfx_crate(&pki.leaf_key_der, &[&pki.leaf, &pki.inter, &pki.root]);
    let wrapped: String = value
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap().to_owned() + "\r\n")
        .collect();
    let b = convert(&wrapped, BackingFormat::Pkcs12, &ConvertOptions::new(NOW)).unwrap();
    assert_complete(&b, &pki, Alg::P256);

    let pem = pem_join(&[
        &pki.leaf_key_pem,
        &pki.leaf.pem,
        &pki.inter.pem,
        &pki.root.pem,
    ]);
    let b = convert(
        &pem.replace('\n', "\r\n"),
        BackingFormat::Pem,
        &ConvertOptions::new(NOW),
    )
    .unwrap();
    assert_complete(&b, &pki, Alg::P256);
}

#[test]
fn duplicate_certificates_and_keys_are_merged() {
    let pki = pki(Alg::P256);
    let value = pem_join(&[
        &pki.leaf_key_pem,
        &pki.leaf.pem,
        &pki.inter.pem,
        &pki.leaf_key_pem,
        &pki.inter.pem,
        &pki.root.pem,
    ]);
    let b = convert(&value, BackingFormat::Pem, &ConvertOptions::new(NOW)).unwrap();
    assert_complete(&b, &pki, Alg::P256);
}

#[test]
fn info_matches_the_leaf() {
    let pki = pki(Alg::P256);
    let value = pem_join(&[
        &pki.leaf_key_pem,
        &pki.leaf.pem,
        &pki.inter.pem,
        &pki.root.pem,
    ]);
    let b = convert(&value, BackingFormat::Pem, &ConvertOptions::new(NOW)).unwrap();
    let (ok, out, err) = openssl(
        &[
            "x509",
            "-noout",
            "-fingerprint",
            "-sha1",
            "-serial",
            "-dates",
            "-inform",
            "DER",
        ],
        &pki.leaf.der,
    );
    assert!(ok, "{err}");
    let out = String::from_utf8(out).unwrap();
    let sha1 = out
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("sha1 fingerprint=")
                .map(str::to_uppercase)
        })
        .unwrap();
    assert_eq!(sha1.replace(':', ""), b.info.sha1_thumbprint_hex);
    let serial = out.lines().find_map(|l| l.strip_prefix("serial=")).unwrap();
    assert_eq!(
        serial.trim_start_matches('0'),
        b.info.serial_hex.trim_start_matches('0')
    );
    assert_eq!(b.info.sha256_thumbprint_hex.len(), 64);
    // rcgen date_time_ymd(2024,1,1) and (2030,1,1)
    assert_eq!(b.info.not_before_unix, 1_704_067_200);
    assert_eq!(b.info.not_after_unix, 1_893_456_000);
}

#[test]
fn self_signed_leaf_is_its_own_ca() {
    for alg in [Alg::P256, Alg::Rsa] {
        let (cert, key) = self_signed(alg);
        let b = convert(
            &pem_join(&[&cert.pem, &key]),
            BackingFormat::Pem,
            &ConvertOptions::new(NOW),
        )
        .unwrap();
        assert_eq!(pem_ders(&b.tls_crt), vec![cert.der.clone()]);
        assert_eq!(
            pem_ders(b.ca_crt.as_deref().unwrap()),
            vec![cert.der.clone()]
        );
        assert!(b.warnings.is_empty(), "{:?}", b.warnings);
    }
}
