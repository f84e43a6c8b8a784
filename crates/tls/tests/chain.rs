//! Incomplete and polluted chains: warned about, never silently "fixed".

mod common;

use common::*;
use vaultsync_tls::{BackingFormat, CaSource, ChainWarning, ConvertOptions, TlsBundle, convert};

fn run(parts: &[&str], ca: CaSource) -> TlsBundle {
    let mut o = ConvertOptions::new(NOW);
    o.ca = ca;
    convert(&pem_join(parts), BackingFormat::Pem, &o).unwrap()
}

fn missing(b: &TlsBundle) -> Vec<&str> {
    b.warnings
        .iter()
        .filter_map(|w| match w {
            ChainWarning::ChainIncomplete { missing_issuer } => Some(missing_issuer.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn missing_intermediate_warns_and_drops_the_unreachable_root() {
    for alg in ALL_ALGS {
        let pki = pki(alg);
        let b = run(
            &[&pki.root.pem, &pki.leaf.pem, &pki.leaf_key_pem],
            CaSource::Chain,
        );
        assert_eq!(pem_ders(&b.tls_crt), vec![pki.leaf.der.clone()]);
        assert_eq!(
            missing(&b),
            ["CN=Test Root CA Intermediate, O=Vaultsync Test"]
        );
        assert!(b.warnings.contains(&ChainWarning::UnrelatedCertificates(1)));
        assert_eq!(b.ca_crt, None);
    }
}

#[test]
fn missing_root_keeps_intermediate_and_warns() {
    let pki = pki(Alg::P384);
    let parts = [pki.inter.pem.as_str(), &pki.leaf.pem, &pki.leaf_key_pem];
    let b = run(&parts, CaSource::Chain);
    assert_eq!(
        pem_ders(&b.tls_crt),
        vec![pki.leaf.der.clone(), pki.inter.der.clone()]
    );
    assert_eq!(
        pem_ders(b.ca_crt.as_deref().unwrap()),
        vec![pki.inter.der.clone()]
    );
    assert_eq!(missing(&b), ["CN=Test Root CA, O=Vaultsync Test"]);
    assert_eq!(b.warnings.len(), 1, "{:?}", b.warnings);

    let b = run(&parts, CaSource::Root);
    assert_eq!(b.ca_crt, None);
    assert_eq!(missing(&b).len(), 1);
}

#[test]
fn leaf_only_is_incomplete() {
    let pki = pki(Alg::Rsa);
    let b = run(&[&pki.leaf_key_pem, &pki.leaf.pem], CaSource::Root);
    assert_eq!(pem_ders(&b.tls_crt), vec![pki.leaf.der.clone()]);
    assert_eq!(b.ca_crt, None);
    assert_eq!(missing(&b).len(), 1);
}

#[test]
fn unrelated_certificates_are_dropped_with_a_warning() {
    let pki = pki(Alg::P256);
    let other = pki_with(Alg::P256, leaf_params(2024, 2030), "Other Root");
    let b = run(
        &[
            &other.leaf.pem,
            &pki.leaf_key_pem,
            &pki.root.pem,
            &other.root.pem,
            &pki.leaf.pem,
            &pki.inter.pem,
        ],
        CaSource::Chain,
    );
    assert_eq!(
        pem_ders(&b.tls_crt),
        vec![pki.leaf.der.clone(), pki.inter.der.clone()]
    );
    assert_eq!(
        pem_ders(b.ca_crt.as_deref().unwrap()),
        vec![pki.inter.der.clone(), pki.root.der.clone()]
    );
    assert_eq!(b.warnings, [ChainWarning::UnrelatedCertificates(2)]);
}

#[test]
fn look_alike_issuer_is_not_trusted_by_name() {
    let pki = pki(Alg::P256);
    // Same DNs all the way up, different keys.
    let twin = pki_with(Alg::P256, leaf_params(2024, 2030), "Test Root CA");
    let b = run(
        &[
            &pki.leaf_key_pem,
            &pki.leaf.pem,
            &twin.inter.pem,
            &pki.root.pem,
        ],
        CaSource::Chain,
    );
    assert_eq!(pem_ders(&b.tls_crt), vec![pki.leaf.der.clone()]);
    assert!(b.warnings.iter().any(|w| matches!(
        w,
        ChainWarning::IssuerSignatureMismatch { subject } if subject.contains("Intermediate")
    )));
    assert_eq!(missing(&b).len(), 1);

    // With the genuine intermediate also present, it wins.
    let b = run(
        &[
            &pki.leaf_key_pem,
            &twin.inter.pem,
            &pki.leaf.pem,
            &pki.inter.pem,
            &pki.root.pem,
        ],
        CaSource::Chain,
    );
    assert_eq!(
        pem_ders(&b.tls_crt),
        vec![pki.leaf.der.clone(), pki.inter.der.clone()]
    );
    assert!(missing(&b).is_empty());
    assert!(b.warnings.contains(&ChainWarning::UnrelatedCertificates(1)));
}

#[test]
fn leaf_is_chosen_by_key_not_position() {
    // Two leaves under the same intermediate; only the key decides.
    let pki = pki(Alg::P256);
    let other = pki_with(Alg::P256, leaf_params(2024, 2030), "Test Root CA");
    let b = run(
        &[
            &other.leaf.pem,
            &other.leaf_key_pem,
            &other.inter.pem,
            &pki.leaf.pem,
            &other.root.pem,
        ],
        CaSource::Chain,
    );
    assert_eq!(
        pem_ders(&b.tls_crt),
        vec![other.leaf.der.clone(), other.inter.der.clone()]
    );
    assert!(b.warnings.contains(&ChainWarning::UnrelatedCertificates(1)));
}

#[test]
fn expired_intermediate_is_kept_with_a_warning() {
    let pki = pki_full(Alg::P256, leaf_params(2024, 2030), "Test Root CA", 2025);
    let b = run(
        &[
            &pki.leaf_key_pem,
            &pki.leaf.pem,
            &pki.inter.pem,
            &pki.root.pem,
        ],
        CaSource::Chain,
    );
    assert_eq!(
        pem_ders(&b.tls_crt),
        vec![pki.leaf.der.clone(), pki.inter.der.clone()]
    );
    assert_eq!(
        b.warnings,
        [ChainWarning::ChainCertificateNotValid {
            subject: "CN=Test Root CA Intermediate, O=Vaultsync Test".into(),
            not_after_unix: 1_735_689_600,
        }]
    );
}

#[test]
fn warnings_have_messages_and_reasons() {
    let w = ChainWarning::ChainIncomplete {
        missing_issuer: "CN=X".into(),
    };
    assert!(w.to_string().contains("CN=X"));
    assert_eq!(w.reason(), "ChainIncomplete");
    assert_eq!(
        ChainWarning::UnrelatedCertificates(3).reason(),
        "UnrelatedCertificates"
    );
}
