//! Keys: RSA and EC (P-256) key versions, created in the vault or imported as a JWK, whose
//! public part is served as a JWK and whose private part only ever signs.

use super::crypto::ec::{self, EcKey};
use super::crypto::rsa::RsaKey;
use super::crypto::{BigUint, to_fixed};
use super::objects::Versioned;
use super::types::StoreError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// RSA modulus sizes Key Vault creates.
const RSA_SIZES: &[u64] = &[2048, 3072, 4096];

/// The key material of a version.
#[derive(Debug, Clone)]
pub(crate) enum KeyMaterial {
    Rsa(RsaKey),
    Ec(EcKey),
}

/// One version of a key.
#[derive(Debug, Clone)]
pub(crate) struct KeyVersion {
    pub version: String,
    /// `kty` as created or imported (`RSA`, `RSA-HSM`, `EC`, `EC-HSM`).
    pub kty: String,
    pub material: KeyMaterial,
    pub key_ops: Vec<String>,
    pub enabled: bool,
    pub created: i64,
    pub updated: i64,
    pub tags: BTreeMap<String, String>,
}

impl Versioned for KeyVersion {
    fn version(&self) -> &str {
        &self.version
    }
}

fn bad(msg: impl Into<String>) -> StoreError {
    StoreError::BadParameter(msg.into())
}

/// A JSON Web Key as Key Vault accepts it on import (private parts included).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct JwkIn {
    pub kty: Option<String>,
    pub key_ops: Option<Vec<String>>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub d: Option<String>,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
}

fn field(v: &Option<String>, name: &str) -> Result<BigUint, StoreError> {
    let text = v
        .as_deref()
        .ok_or_else(|| bad(format!("The key is missing '{name}'.")))?;
    B64URL
        .decode(text.trim_end_matches('='))
        .map(|b| BigUint::from_bytes_be(&b))
        .map_err(|_| bad(format!("The key's '{name}' is not base64url.")))
}

/// Whether `kty` names an RSA key (`RSA`, `RSA-HSM`); `None` when it is neither RSA nor EC.
fn is_rsa(kty: &str) -> Option<bool> {
    match kty {
        "RSA" | "RSA-HSM" => Some(true),
        "EC" | "EC-HSM" => Some(false),
        _ => None,
    }
}

fn unsupported_kty(kty: &str) -> StoreError {
    bad(format!(
        "The key type '{kty}' is not supported; use RSA, RSA-HSM, EC or EC-HSM."
    ))
}

fn check_curve(crv: Option<&str>) -> Result<(), StoreError> {
    match crv.unwrap_or("P-256") {
        "P-256" => Ok(()),
        other => Err(bad(format!(
            "The curve '{other}' is not supported by the emulator; use P-256."
        ))),
    }
}

/// Generates key material for a create request.
pub(crate) fn generate(
    kty: &str,
    size: Option<u64>,
    crv: Option<&str>,
) -> Result<KeyMaterial, StoreError> {
    if is_rsa(kty).ok_or_else(|| unsupported_kty(kty))? {
        let bits = size.unwrap_or(2048);
        if !RSA_SIZES.contains(&bits) {
            return Err(bad(format!(
                "The key size {bits} is not supported; use 2048, 3072 or 4096."
            )));
        }
        return Ok(KeyMaterial::Rsa(RsaKey::generate(bits)));
    }
    check_curve(crv)?;
    Ok(KeyMaterial::Ec(EcKey::generate()))
}

/// Reads the key material of an import, refusing keys whose parts do not belong together.
pub(crate) fn import(jwk: &JwkIn) -> Result<KeyMaterial, StoreError> {
    let kty = jwk.kty.as_deref().unwrap_or("");
    let material = if is_rsa(kty).ok_or_else(|| unsupported_kty(kty))? {
        let key = RsaKey {
            n: field(&jwk.n, "n")?,
            e: field(&jwk.e, "e")?,
            d: Some(field(&jwk.d, "d")?),
        };
        let size_ok = RSA_SIZES.contains(&key.n.bits());
        (size_ok && key.is_consistent()).then_some(KeyMaterial::Rsa(key))
    } else {
        check_curve(jwk.crv.as_deref())?;
        let key = EcKey {
            x: field(&jwk.x, "x")?,
            y: field(&jwk.y, "y")?,
            d: Some(field(&jwk.d, "d")?),
        };
        key.is_valid().then_some(KeyMaterial::Ec(key))
    };
    material.ok_or_else(|| {
        bad("The specified key is not valid: its public and private parts do not match.")
    })
}

/// Default operations of a new key.
pub(crate) fn default_ops(material: &KeyMaterial) -> Vec<String> {
    let ops: &[&str] = match material {
        KeyMaterial::Rsa(_) => &[
            "encrypt",
            "decrypt",
            "sign",
            "verify",
            "wrapKey",
            "unwrapKey",
        ],
        KeyMaterial::Ec(_) => &["sign", "verify"],
    };
    ops.iter().map(|s| (*s).to_owned()).collect()
}

/// The public JWK of a version (no private parts), without `kid`.
pub(crate) fn public_jwk(k: &KeyVersion) -> Value {
    let b64 = |x: &BigUint| B64URL.encode(x.to_bytes_be());
    match &k.material {
        KeyMaterial::Rsa(r) => {
            json!({"kty": k.kty, "key_ops": k.key_ops, "n": b64(&r.n), "e": b64(&r.e)})
        }
        KeyMaterial::Ec(e) => json!({"kty": k.kty, "key_ops": k.key_ops, "crv": "P-256",
            "x": B64URL.encode(to_fixed(&e.x, ec::LEN)), "y": B64URL.encode(to_fixed(&e.y, ec::LEN))}),
    }
}

/// Checks that `alg` fits the key and the digest length.
fn check_alg(k: &KeyVersion, alg: &str, digest: &[u8]) -> Result<(), StoreError> {
    let want = match (&k.material, alg) {
        (KeyMaterial::Rsa(_), "RS256") | (KeyMaterial::Ec(_), "ES256") => 32,
        (KeyMaterial::Rsa(_), "RS384") => 48,
        (KeyMaterial::Rsa(_), "RS512") => 64,
        _ => {
            return Err(bad(format!(
                "Algorithm '{alg}' is not supported for this key by the emulator."
            )));
        }
    };
    if digest.len() != want {
        return Err(bad(format!(
            "The digest must be {want} bytes for {alg}; got {}.",
            digest.len()
        )));
    }
    Ok(())
}

/// Signs a digest with a version's private key.
pub(crate) fn sign(k: &KeyVersion, alg: &str, digest: &[u8]) -> Result<Vec<u8>, StoreError> {
    check_alg(k, alg, digest)?;
    let sig = match &k.material {
        KeyMaterial::Rsa(r) => r.sign(digest),
        KeyMaterial::Ec(e) => e.sign(digest),
    };
    sig.ok_or_else(|| bad("The key cannot sign."))
}

/// Verifies a signature over a digest with a version's public key.
pub(crate) fn verify(
    k: &KeyVersion,
    alg: &str,
    digest: &[u8],
    sig: &[u8],
) -> Result<bool, StoreError> {
    check_alg(k, alg, digest)?;
    Ok(match &k.material {
        KeyMaterial::Rsa(r) => r.verify(digest, sig),
        KeyMaterial::Ec(e) => e.verify(digest, sig),
    })
}
