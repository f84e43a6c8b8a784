//! The key arithmetic behind Key Vault's sign and verify, which operate on a digest the caller
//! computed: RSA PKCS#1 v1.5 (RS256/384/512) and ECDSA on P-256 (ES256), on `num-bigint` (already
//! in the tree through x509-parser) because `ring` signs messages, not digests, and cannot
//! generate RSA keys. Emulator-grade: correct, not constant-time.

pub(crate) mod ec;
pub(crate) mod rsa;

pub(crate) use x509_parser::num_bigint::BigUint;

/// `n` random bytes from the OS.
pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    // Only fails when the OS RNG is unavailable; then the all-zero candidate is rejected by the
    // callers' range checks and they draw again.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    b
}

/// A uniformly random integer in `[1, bound)`.
pub(crate) fn random_below(bound: &BigUint) -> BigUint {
    let len = bound.to_bytes_be().len();
    loop {
        let c = BigUint::from_bytes_be(&random_bytes(len));
        if c > BigUint::ZERO && &c < bound {
            return c;
        }
    }
}

/// Big-endian bytes left-padded with zeros to `len`.
pub(crate) fn to_fixed(x: &BigUint, len: usize) -> Vec<u8> {
    let b = x.to_bytes_be();
    let mut out = vec![0u8; len.saturating_sub(b.len())];
    out.extend_from_slice(&b);
    out
}
