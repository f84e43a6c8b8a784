//! Inputs a hostile vault could serve to stall the operator: each is refused quickly with a
//! precise reason, before any expensive work.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use vaultsync_tls::{
    BackingFormat, ConvertOptions, MAX_CERTIFICATES, MAX_PKCS12_ITERATIONS, TlsError, convert,
};

/// Well below what an unbounded parse of these inputs would take.
const QUICK: Duration = Duration::from_secs(5);

fn timed(value: &str, format: BackingFormat) -> (TlsError, Duration) {
    let started = Instant::now();
    let err = convert(value, format, &ConvertOptions::new(NOW)).unwrap_err();
    (err, started.elapsed())
}

#[test]
fn a_chain_of_ten_thousand_certificates_is_refused() {
    let (leaf, key) = self_signed(Alg::P256);
    let mut parts = vec![key.as_str()];
    parts.extend(std::iter::repeat_n(leaf.pem.as_str(), 10_000));
    let pem = pem_join(&parts);
    let (err, took) = timed(&pem, BackingFormat::Pem);
    assert!(took < QUICK, "{took:?}");
    assert_eq!(err, TlsError::InputTooLarge(pem.len()));
    assert_eq!(err.reason(), "CertificateTooLarge");
    // Within the size limit, the count is what is refused.

    let distinct: Vec<String> = (0..MAX_CERTIFICATES + 1)
        .map(|_| self_signed(Alg::P256).0.pem)
        .collect();
    let mut parts = vec![key.as_str()];
    parts.extend(distinct.iter().map(String::as_str));
    let (err, _) = timed(&pem_join(&parts), BackingFormat::Pem);
    assert_eq!(err, TlsError::TooManyCertificates(MAX_CERTIFICATES + 1));
    assert_eq!(err.reason(), "CertificateTooLarge");
}

#[test]
fn an_oversized_value_is_refused_before_parsing() {
    let huge = "A".repeat(50 * 1024 * 1024);
    let (err, took) = timed(&huge, BackingFormat::Pkcs12);
    assert!(took < QUICK, "{took:?}");
    assert_eq!(err, TlsError::InputTooLarge(huge.len()));
}

/// DER of one TLV.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A PFX whose MAC declares `iterations` of key derivation: verifying it would take hours.
fn pfx_with_mac_iterations(iterations: u32) -> String {
    const SHA256: [u8; 9] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    const DATA: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
    let auth_safe = tlv(0x30, &[]);
    let content_info = tlv(
        0x30,
        &[tlv(0x06, &DATA), tlv(0xa0, &tlv(0x04, &auth_safe))].concat(),
    );
    let algorithm = tlv(0x30, &[tlv(0x06, &SHA256), vec![0x05, 0x00]].concat());
    let digest_info = tlv(0x30, &[algorithm, tlv(0x04, &[0u8; 32])].concat());
    // Minimal two's complement, as DER requires.
    let mut count: Vec<u8> = iterations
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    if count.first().is_none_or(|b| b & 0x80 != 0) {
        count.insert(0, 0);
    }
    let mac_data = tlv(
        0x30,
        &[digest_info, tlv(0x04, &[7u8; 8]), tlv(0x02, &count)].concat(),
    );
    let pfx = tlv(0x30, &[tlv(0x02, &[3]), content_info, mac_data].concat());
    STANDARD.encode(pfx)
}

#[test]
fn a_pkcs12_declaring_two_billion_iterations_is_refused_at_once() {
    // Just over the cap, and the largest counts DER can declare in an i32 and beyond.
    for iterations in [MAX_PKCS12_ITERATIONS + 1, (1u32 << 31) - 1, 1 << 31] {
        let (err, took) = timed(&pfx_with_mac_iterations(iterations), BackingFormat::Pkcs12);
        assert!(took < QUICK, "{iterations}: {took:?}");
        assert_eq!(err, TlsError::Pkcs12IterationsRefused);
        assert_eq!(err.reason(), "Pkcs12IterationsTooHigh");
        assert!(err.to_string().contains("1000000"), "{err}");
        eprintln!("{iterations} iterations: {err}");
    }
}
