//! The private key: parsing, validation, and matching against certificates.
//!
//! Keys are normalised to PKCS#8 (what Key Vault stores) and parsed with the
//! RustCrypto `pkcs8`/`pkcs1`/`sec1` crates; ring then proves the private and
//! public halves belong together where it supports the algorithm, so a
//! corrupted key is caught here rather than at the first TLS handshake.

use pkcs1::RsaPrivateKeyRef;
use pkcs8::der::asn1::{AnyRef, OctetStringRef};
use pkcs8::der::{Decode, Encode};
use pkcs8::{ObjectIdentifier, PrivateKeyInfoRef};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use sec1::EcPrivateKey;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;
use zeroize::Zeroizing;

use crate::TlsError;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// Named curves Key Vault can issue; ring verifies only P-256 and P-384.
const CURVES: [(&str, &str); 4] = [
    ("1.2.840.10045.3.1.7", "P256"),
    ("1.3.132.0.34", "P384"),
    ("1.3.132.0.35", "P521"),
    ("1.3.132.0.10", "SECP256K1"),
];

/// The public half, kept to find the certificate issued for this key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PublicId {
    /// Big-endian modulus and exponent without leading zeros.
    Rsa { modulus: Vec<u8>, exponent: Vec<u8> },
    /// Curve OID and the encoded point.
    Ec {
        curve: ObjectIdentifier,
        point: Vec<u8>,
    },
}

/// A validated private key. Deliberately not `Debug`.
pub(crate) struct PrivateKey {
    /// PKCS#8 DER, wiped on drop.
    pkcs8: Zeroizing<Vec<u8>>,
    public: PublicId,
    algorithm: String,
}

impl PrivateKey {
    /// Parses and validates a PKCS#8 `PrivateKeyInfo`.
    pub(crate) fn from_pkcs8(der: &[u8]) -> Result<Self, TlsError> {
        let info = PrivateKeyInfoRef::from_der(der).map_err(|_| bad("not a PKCS#8 structure"))?;
        let inner = info.private_key.as_bytes();
        let (public, algorithm) = if info.algorithm.oid == RSA_ENCRYPTION {
            rsa_public(der, inner)?
        } else if info.algorithm.oid == EC_PUBLIC_KEY {
            let curve = info
                .algorithm
                .parameters
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| TlsError::UnsupportedKey("EC key without a named curve".into()))?;
            ec_public(der, inner, curve)?
        } else {
            return Err(TlsError::UnsupportedKey(format!(
                "key algorithm {}",
                info.algorithm.oid
            )));
        };
        Ok(Self {
            pkcs8: Zeroizing::new(der.to_vec()),
            public,
            algorithm,
        })
    }

    /// Wraps a PKCS#1 `RSAPrivateKey` (PEM `RSA PRIVATE KEY`) into PKCS#8.
    pub(crate) fn from_pkcs1(der: &[u8]) -> Result<Self, TlsError> {
        RsaPrivateKeyRef::from_der(der).map_err(|_| bad("not a PKCS#1 RSA key"))?;
        let params = AnyRef::NULL;
        Self::wrap(RSA_ENCRYPTION, params, der)
    }

    /// Wraps a SEC1 `ECPrivateKey` (PEM `EC PRIVATE KEY`) into PKCS#8.
    pub(crate) fn from_sec1(der: &[u8]) -> Result<Self, TlsError> {
        let key = EcPrivateKey::from_der(der).map_err(|_| bad("not a SEC1 EC key"))?;
        let curve = key
            .parameters
            .and_then(|p| p.named_curve())
            .ok_or_else(|| TlsError::UnsupportedKey("EC key without a named curve".into()))?;
        Self::wrap(EC_PUBLIC_KEY, AnyRef::from(&curve), der)
    }

    fn wrap(oid: ObjectIdentifier, params: AnyRef<'_>, inner: &[u8]) -> Result<Self, TlsError> {
        let octets = OctetStringRef::new(inner).map_err(|_| bad("key too large"))?;
        let info = PrivateKeyInfoRef::new(
            pkcs8::AlgorithmIdentifierRef {
                oid,
                parameters: Some(params),
            },
            octets,
        );
        let der = Zeroizing::new(info.to_der().map_err(|_| bad("cannot re-encode key"))?);
        Self::from_pkcs8(&der)
    }

    /// The PKCS#8 DER encoding.
    pub(crate) fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Human-readable algorithm, e.g. `RSA-2048`, `EC-P256`.
    pub(crate) fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The named curve of an EC key, `None` for RSA.
    pub(crate) fn curve(&self) -> Option<ObjectIdentifier> {
        match &self.public {
            PublicId::Ec { curve, .. } => Some(*curve),
            PublicId::Rsa { .. } => None,
        }
    }

    /// Whether both keys have the same public half (and so are the same key).
    pub(crate) fn same_key(&self, other: &PrivateKey) -> bool {
        self.public == other.public
    }

    /// Whether `spki` is this key's public half.
    pub(crate) fn matches(&self, spki: &SubjectPublicKeyInfo<'_>) -> bool {
        match (&self.public, spki.parsed()) {
            (PublicId::Rsa { modulus, exponent }, Ok(PublicKey::RSA(rsa))) => {
                strip_zeros(rsa.modulus) == modulus.as_slice()
                    && strip_zeros(rsa.exponent) == exponent.as_slice()
            }
            (PublicId::Ec { curve, point }, Ok(PublicKey::EC(ec))) => {
                let cert_curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok());
                cert_curve.is_some_and(|c| c.as_bytes() == curve.as_bytes())
                    && ec.data() == point.as_slice()
            }
            _ => false,
        }
    }
}

fn rsa_public(pkcs8: &[u8], inner: &[u8]) -> Result<(PublicId, String), TlsError> {
    let rsa = RsaPrivateKeyRef::from_der(inner).map_err(|_| bad("malformed RSA key"))?;
    let modulus = strip_zeros(rsa.modulus.as_bytes()).to_vec();
    let exponent = strip_zeros(rsa.public_exponent.as_bytes()).to_vec();
    let bits = bit_len(&modulus);
    if bits == 0 {
        return Err(bad("RSA modulus is zero"));
    }
    // ring checks that the primes, exponents and modulus agree. It refuses
    // sizes outside 2048..=8192 in 512-bit steps; Key Vault never issues
    // those, so such keys are matched by their public parts alone.
    if let Err(e) = RsaKeyPair::from_pkcs8(pkcs8) {
        let why = e.to_string();
        let size_only = matches!(
            why.as_str(),
            "TooSmall" | "TooLarge" | "PrivateModulusLenNotMultipleOf512Bits"
        );
        if !size_only {
            return Err(TlsError::InvalidPrivateKey(format!(
                "RSA key rejected: {why}"
            )));
        }
    }
    Ok((PublicId::Rsa { modulus, exponent }, format!("RSA-{bits}")))
}

fn ec_public(
    pkcs8: &[u8],
    inner: &[u8],
    curve: ObjectIdentifier,
) -> Result<(PublicId, String), TlsError> {
    let key = EcPrivateKey::from_der(inner).map_err(|_| bad("malformed EC key"))?;
    let name = CURVES
        .iter()
        .find(|(oid, _)| ObjectIdentifier::new(oid).is_ok_and(|o| o == curve))
        .map(|(_, name)| *name)
        .ok_or_else(|| TlsError::UnsupportedKey(format!("EC curve {curve}")))?;
    if key
        .parameters
        .and_then(|p| p.named_curve())
        .is_some_and(|c| c != curve)
    {
        return Err(bad("EC key names two different curves"));
    }
    // Matching needs the public point; computing it would need EC arithmetic
    // that ring does not expose, and Key Vault always embeds it.
    let embedded = key
        .public_key
        .ok_or_else(|| TlsError::UnsupportedKey("EC key without embedded public key".into()))?;
    let ring_alg = match name {
        "P256" => Some(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
        "P384" => Some(&signature::ECDSA_P384_SHA384_ASN1_SIGNING),
        // P-521 and secp256k1 are outside ring: trust the embedded point.
        _ => None,
    };
    if let Some(alg) = ring_alg {
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8, &SystemRandom::new())
            .map_err(|e| TlsError::InvalidPrivateKey(format!("EC key rejected: {e}")))?;
        if pair.public_key().as_ref() != embedded {
            return Err(bad("EC public key does not belong to the private key"));
        }
    }
    let public = PublicId::Ec {
        curve,
        point: embedded.to_vec(),
    };
    Ok((public, format!("EC-{name}")))
}

fn strip_zeros(mut bytes: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = bytes {
        bytes = rest;
    }
    bytes
}

fn bit_len(be: &[u8]) -> usize {
    match be.first() {
        None => 0,
        Some(first) => (be.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

fn bad(what: &str) -> TlsError {
    TlsError::InvalidPrivateKey(what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(strip_zeros(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(strip_zeros(&[0, 0]), &[] as &[u8]);
        assert_eq!(bit_len(&[0x80, 0]), 16);
        assert_eq!(bit_len(&[0x01]), 1);
        assert_eq!(bit_len(&[]), 0);
    }

    #[test]
    fn garbage_is_an_error() {
        for input in [&b""[..], b"\x30\x00", b"\x30\x03\x02\x01\x00", &[0xff; 40]] {
            assert!(PrivateKey::from_pkcs8(input).is_err());
            assert!(PrivateKey::from_pkcs1(input).is_err());
            assert!(PrivateKey::from_sec1(input).is_err());
        }
    }
}
