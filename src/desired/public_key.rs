//! A vault key's public part as the text a Secret key holds: PEM (`PUBLIC KEY`, the
//! SubjectPublicKeyInfo every TLS and JWT library reads) or a JWK with public members only.
//! The DER comes from the RustCrypto `pkcs1`/`spki` encoders already in the tree.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pkcs8::der::Encode;
use pkcs8::der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, UintRef};
use pkcs8::spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};
use serde_json::{Map, Value};

use crate::crd::KeyFormat;
use crate::vault::{KeyBundle, PublicKey};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// Why a key's public part cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicKeyError {
    /// A key type with no public part (`oct`), or an answer missing members.
    #[error("key type {0} has no public part to publish; only RSA and EC keys do")]
    Unsupported(String),
    /// A curve this encoder does not know.
    #[error("curve {0} is not supported; use P-256, P-384, P-521 or P-256K")]
    Curve(String),
    /// The parts do not form a key (for example a coordinate longer than its curve).
    #[error("the key's public part is malformed")]
    Malformed,
}

/// The curve's OID and the length of one coordinate.
fn curve(name: &str) -> Result<(ObjectIdentifier, usize), PublicKeyError> {
    Ok(match name {
        "P-256" => (ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7"), 32),
        "P-384" => (ObjectIdentifier::new_unwrap("1.3.132.0.34"), 48),
        "P-521" => (ObjectIdentifier::new_unwrap("1.3.132.0.35"), 66),
        "P-256K" => (ObjectIdentifier::new_unwrap("1.3.132.0.10"), 32),
        other => return Err(PublicKeyError::Curve(other.to_string())),
    })
}

/// `bytes` left-padded with zeros to `len` (JWK and SEC1 points use fixed-length coordinates).
fn fixed(bytes: &[u8], len: usize) -> Result<Vec<u8>, PublicKeyError> {
    let trimmed = without_leading_zeros(bytes);
    if trimmed.len() > len {
        return Err(PublicKeyError::Malformed);
    }
    let mut out = vec![0; len - trimmed.len()];
    out.extend_from_slice(trimmed);
    Ok(out)
}

fn without_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// DER SubjectPublicKeyInfo of `key`.
pub fn spki_der(key: &PublicKey) -> Result<Vec<u8>, PublicKeyError> {
    let malformed = |_| PublicKeyError::Malformed;
    match key {
        PublicKey::Rsa { n, e } => {
            let rsa = pkcs1::RsaPublicKey {
                modulus: UintRef::new(n).map_err(malformed)?,
                public_exponent: UintRef::new(e).map_err(malformed)?,
            };
            let inner = rsa.to_der().map_err(malformed)?;
            let spki = SubjectPublicKeyInfoRef {
                algorithm: AlgorithmIdentifierRef {
                    oid: RSA_ENCRYPTION,
                    parameters: Some(AnyRef::NULL),
                },
                subject_public_key: BitStringRef::from_bytes(&inner).map_err(malformed)?,
            };
            spki.to_der().map_err(malformed)
        }
        PublicKey::Ec { curve: name, x, y } => {
            let (oid, len) = curve(name)?;
            // SEC1 uncompressed point: 0x04 || x || y.
            let mut point = vec![0x04];
            point.extend(fixed(x, len)?);
            point.extend(fixed(y, len)?);
            let spki = SubjectPublicKeyInfoRef {
                algorithm: AlgorithmIdentifierRef {
                    oid: EC_PUBLIC_KEY,
                    parameters: Some(AnyRef::from(&oid)),
                },
                subject_public_key: BitStringRef::from_bytes(&point).map_err(malformed)?,
            };
            spki.to_der().map_err(malformed)
        }
        PublicKey::Unsupported { kty } => Err(PublicKeyError::Unsupported(kty.clone())),
    }
}

/// `-----BEGIN PUBLIC KEY-----` PEM of `key`, 64 columns, with a final newline.
pub fn pem(key: &PublicKey) -> Result<String, PublicKeyError> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(spki_der(key)?);
    let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END PUBLIC KEY-----\n");
    Ok(out)
}

/// The key as a JWK (RFC 7517) with public members only, and `kid` when the vault named it.
pub fn jwk(bundle: &KeyBundle) -> Result<String, PublicKeyError> {
    let b64 = |bytes: &[u8]| Value::String(URL_SAFE_NO_PAD.encode(bytes));
    let mut members = Map::new();
    match &bundle.key {
        PublicKey::Rsa { n, e } => {
            members.insert("kty".into(), "RSA".into());
            members.insert("n".into(), b64(without_leading_zeros(n)));
            members.insert("e".into(), b64(without_leading_zeros(e)));
        }
        PublicKey::Ec { curve: name, x, y } => {
            let (_, len) = curve(name)?;
            members.insert("kty".into(), "EC".into());
            members.insert("crv".into(), name.clone().into());
            members.insert("x".into(), b64(&fixed(x, len)?));
            members.insert("y".into(), b64(&fixed(y, len)?));
        }
        PublicKey::Unsupported { kty } => return Err(PublicKeyError::Unsupported(kty.clone())),
    }
    if let Some(kid) = &bundle.id {
        members.insert("kid".into(), kid.clone().into());
    }
    Ok(Value::Object(members).to_string())
}

/// The text a Secret key holds for `bundle` in `format`.
pub fn render(bundle: &KeyBundle, format: KeyFormat) -> Result<String, PublicKeyError> {
    match format {
        KeyFormat::Pem => pem(&bundle.key),
        KeyFormat::Jwk => jwk(bundle),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RSA public key and its PKCS#1 DER.
    fn sample_rsa() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        // The encoding does not care whether n is a product of primes.
        let n: Vec<u8> = std::iter::once(0xc3)
            .chain((1..256).map(|i| i as u8))
            .collect();
        let e = vec![1, 0, 1];
        let rsa = pkcs1::RsaPublicKey {
            modulus: UintRef::new(&n).unwrap(),
            public_exponent: UintRef::new(&e).unwrap(),
        };
        (n.clone(), e.clone(), rsa.to_der().unwrap())
    }

    #[test]
    fn rsa_pem_wraps_the_pkcs1_key_in_an_rsa_encryption_spki() {
        let (n, e, pkcs1_der) = sample_rsa();
        let der = spki_der(&PublicKey::Rsa { n, e }).unwrap();
        // SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING { 0 unused bits, RSAPublicKey } }
        let header = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
        ];
        assert!(der.windows(header.len()).any(|w| w == header));
        assert!(der.ends_with(&pkcs1_der));
        let text = pem(&PublicKey::Rsa {
            n: sample_rsa().0,
            e: vec![1, 0, 1],
        })
        .unwrap();
        assert!(text.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(text.ends_with("\n-----END PUBLIC KEY-----\n"));
        assert!(text.lines().all(|l| l.len() <= 64));
    }

    #[test]
    fn ec_keys_become_uncompressed_points_with_fixed_coordinates() {
        let key = PublicKey::Ec {
            curve: "P-256".into(),
            x: vec![1; 31],
            y: vec![2; 32],
        };
        let der = spki_der(&key).unwrap();
        let mut point = vec![0x04, 0x00];
        point.extend([1; 31]);
        point.extend([2; 32]);
        assert!(der.ends_with(&point), "x is padded to 32 bytes");
        let too_long = PublicKey::Ec {
            curve: "P-256".into(),
            x: vec![1; 33],
            y: vec![2; 32],
        };
        assert_eq!(spki_der(&too_long), Err(PublicKeyError::Malformed));
        let unknown = PublicKey::Ec {
            curve: "X25519".into(),
            x: vec![],
            y: vec![],
        };
        assert_eq!(
            spki_der(&unknown),
            Err(PublicKeyError::Curve("X25519".into()))
        );
    }

    #[test]
    fn jwk_has_public_members_and_the_kid_only() {
        let bundle = KeyBundle {
            name: "signing".into(),
            version: "v1".into(),
            id: Some("https://v.vault.azure.net/keys/signing/v1".into()),
            key: PublicKey::Rsa {
                n: vec![0, 0xc3, 0x01],
                e: vec![1, 0, 1],
            },
            updated: None,
        };
        let jwk: Value = serde_json::from_str(&jwk(&bundle).unwrap()).unwrap();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["n"], "wwE", "no leading zero");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["kid"], "https://v.vault.azure.net/keys/signing/v1");
        assert_eq!(jwk.as_object().unwrap().len(), 4);
        let oct = KeyBundle {
            key: PublicKey::Unsupported { kty: "oct".into() },
            ..bundle
        };
        assert_eq!(
            render(&oct, KeyFormat::Pem),
            Err(PublicKeyError::Unsupported("oct".into()))
        );
    }
}
