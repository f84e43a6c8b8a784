//! Trust bundles: only CA certificates, never the key or a leaf that is not a CA; the
//! truststore opens with its password (here and in OpenSSL) and holds exactly the bundle.

mod common;

use common::*;
use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12ImportPolicy};
use rcgen::{BasicConstraints, IsCa};
use vaultsync_tls::{
    BackingFormat, CaSource, ConvertOptions, TlsError, TrustBundleOptions, convert,
};

fn options(ca: CaSource, password: Option<&str>) -> ConvertOptions {
    let mut o = ConvertOptions::new(NOW);
    o.ca = ca;
    o.trust_bundle = Some(TrustBundleOptions {
        truststore_password: password.map(str::to_owned),
    });
    o
}

/// The certificates a truststore holds, by alias order, after opening it with `password`.
fn truststore_ders(store: &[u8], password: &str) -> Vec<Vec<u8>> {
    let store = KeyStore::from_pkcs12(store, password, Pkcs12ImportPolicy::Raw).unwrap();
    let mut entries: Vec<(String, Vec<u8>)> = store
        .entries()
        .map(|(alias, entry)| match entry {
            KeyStoreEntry::Certificate(c) => (alias.clone(), c.as_der().to_vec()),
            other => panic!("a truststore holds certificates only, found {other:?} at {alias}"),
        })
        .collect();
    entries.sort();
    entries.into_iter().map(|(_, der)| der).collect()
}

#[test]
fn a_leaf_s_bundle_is_its_issuers_and_its_truststore_holds_exactly_them() {
    for alg in ALL_ALGS {
        let pki = pki(alg);
        let value = pem_join(&[
            &pki.leaf.pem,
            &pki.leaf_key_pem,
            &pki.inter.pem,
            &pki.root.pem,
        ]);
        let bundle = convert(
            &value,
            BackingFormat::Pem,
            &options(CaSource::Chain, Some("s3cret")),
        )
        .unwrap();
        let trust = bundle.trust.expect("a trust bundle was asked for");
        let expected = vec![pki.inter.der.clone(), pki.root.der.clone()];
        assert_eq!(pem_ders(&trust.pem), expected);
        assert_eq!(trust.certificates, 2);
        assert!(!trust.pem.contains("PRIVATE KEY"));
        let store = trust.truststore.expect("a truststore password was given");
        assert_eq!(truststore_ders(&store, "s3cret"), expected);
        assert!(
            KeyStore::from_pkcs12(&store, "wrong", Pkcs12ImportPolicy::Raw).is_err(),
            "the password protects it"
        );
        let (ok, out, err) = openssl(&["pkcs12", "-nokeys", "-passin", "pass:s3cret"], &store);
        assert!(ok, "OpenSSL opens the truststore: {err}");
        let text = String::from_utf8(out).unwrap();
        assert_eq!(pem_ders(&text), expected, "OpenSSL finds exactly the chain");
        assert!(!text.contains("PRIVATE KEY"));
    }
}

#[test]
fn root_only_bundles_hold_the_root() {
    let pki = pki(Alg::P256);
    let value = pem_join(&[
        &pki.leaf.pem,
        &pki.leaf_key_pem,
        &pki.inter.pem,
        &pki.root.pem,
    ]);
    let bundle = convert(&value, BackingFormat::Pem, &options(CaSource::Root, None)).unwrap();
    let trust = bundle.trust.unwrap();
    assert_eq!(pem_ders(&trust.pem), vec![pki.root.der.clone()]);
    assert_eq!(trust.truststore, None);
}

#[test]
fn a_ca_held_in_the_vault_is_itself_in_its_bundle() {
    let mut issuing_ca = leaf_params(2024, 2030);
    issuing_ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let pki = pki_with(Alg::P256, issuing_ca, "Corp Root");
    let value = pem_join(&[
        &pki.leaf.pem,
        &pki.leaf_key_pem,
        &pki.inter.pem,
        &pki.root.pem,
    ]);
    let trust = convert(&value, BackingFormat::Pem, &options(CaSource::Chain, None))
        .unwrap()
        .trust
        .unwrap();
    assert_eq!(
        pem_ders(&trust.pem),
        vec![
            pki.leaf.der.clone(),
            pki.inter.der.clone(),
            pki.root.der.clone()
        ]
    );

    let (root, root_key) = self_signed_ca(Alg::P384);
    let value = pem_join(&[&root.pem, &root_key]);
    let trust = convert(&value, BackingFormat::Pem, &options(CaSource::Chain, None))
        .unwrap()
        .trust
        .unwrap();
    assert_eq!(pem_ders(&trust.pem), vec![root.der], "a root appears once");
}

#[test]
fn a_leaf_without_its_issuers_has_nothing_to_trust() {
    let pki = pki(Alg::P256);
    let value = pem_join(&[&pki.leaf.pem, &pki.leaf_key_pem]);
    let err = convert(&value, BackingFormat::Pem, &options(CaSource::Chain, None)).unwrap_err();
    assert!(matches!(err, TlsError::NoTrustAnchors), "{err:?}");
    assert_eq!(err.reason(), "TrustBundleEmpty");
}
