//! Minimal JWT handling by hand with `ring`: parse, verify ES256/RS256 against a JWK (service
//! account tokens), sign/verify HS256 (tokens the emulator issues), sign ES256 (test issuer).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ring::{hmac, rand::SystemRandom, signature};
use serde_json::Value;

/// A decoded but not yet verified JWT.
#[derive(Debug, Clone)]
pub(crate) struct Jwt {
    pub header: Value,
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

/// Why a signature check failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SigError {
    /// The JWK or algorithm is not usable (unsupported kty/alg, bad encoding).
    UnsupportedKey,
    /// The signature does not verify.
    BadSignature,
}

fn b64_json(part: &str) -> Option<Value> {
    let bytes = B64URL.decode(part).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.is_object().then_some(v)
}

impl Jwt {
    /// Splits and decodes a compact JWS; `None` when it is not a well-formed JWT.
    pub fn parse(token: &str) -> Option<Jwt> {
        let mut parts = token.split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(Jwt {
            header: b64_json(h)?,
            claims: b64_json(c)?,
            signing_input: format!("{h}.{c}"),
            signature: B64URL.decode(s).ok()?,
        })
    }

    /// Header `alg`.
    pub fn alg(&self) -> &str {
        self.header.get("alg").and_then(Value::as_str).unwrap_or("")
    }

    /// Header `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric claim (seconds).
    pub fn claim_i64(&self, name: &str) -> Option<i64> {
        let v = self.claims.get(name)?;
        v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
    }

    /// `aud` as a list (JWT allows a string or an array).
    pub fn audiences(&self) -> Vec<String> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Verifies an ES256 or RS256 signature with a public JWK.
    pub fn verify_jwk(&self, jwk: &Value) -> Result<(), SigError> {
        let field = |n: &str| {
            jwk.get(n)
                .and_then(Value::as_str)
                .and_then(|s| B64URL.decode(s).ok())
                .ok_or(SigError::UnsupportedKey)
        };
        let msg = self.signing_input.as_bytes();
        match (
            self.alg(),
            jwk.get("kty").and_then(Value::as_str).unwrap_or(""),
        ) {
            ("ES256", "EC") => {
                let (x, y) = (field("x")?, field("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(SigError::UnsupportedKey);
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(msg, &self.signature)
                    .map_err(|_| SigError::BadSignature)
            }
            ("RS256", "RSA") => {
                let key = signature::RsaPublicKeyComponents {
                    n: field("n")?,
                    e: field("e")?,
                };
                key.verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, &self.signature)
                    .map_err(|_| SigError::BadSignature)
            }
            _ => Err(SigError::UnsupportedKey),
        }
    }

    /// Verifies an HS256 signature.
    pub fn verify_hs256(&self, key: &hmac::Key) -> bool {
        self.alg() == "HS256"
            && hmac::verify(key, self.signing_input.as_bytes(), &self.signature).is_ok()
    }
}

pub(crate) fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        B64URL.encode(header.to_string()),
        B64URL.encode(claims.to_string())
    )
}

/// Signs claims as an HS256 JWT.
pub(crate) fn sign_hs256(key: &hmac::Key, claims: &Value) -> String {
    let header = serde_json::json!({"typ": "JWT", "alg": "HS256"});
    let input = signing_input(&header, claims);
    let tag = hmac::sign(key, input.as_bytes());
    format!("{input}.{}", B64URL.encode(tag.as_ref()))
}

/// Signs claims as an ES256 JWT with the given key id.
pub(crate) fn sign_es256(key: &signature::EcdsaKeyPair, kid: &str, claims: &Value) -> String {
    let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "kid": kid});
    let input = signing_input(&header, claims);
    match key.sign(&SystemRandom::new(), input.as_bytes()) {
        Ok(sig) => format!("{input}.{}", B64URL.encode(sig.as_ref())),
        // Signing with a valid in-memory key cannot fail in practice; an unsigned token would
        // simply be refused by the token endpoint.
        Err(_) => format!("{input}."),
    }
}

/// Finds a key in a JWKS document by `kid` (or the only key when the token has no kid).
pub(crate) fn find_jwk<'a>(jwks: &'a Value, kid: Option<&str>) -> Option<&'a Value> {
    let keys = jwks.get("keys")?.as_array()?;
    match kid {
        Some(kid) => keys
            .iter()
            .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid)),
        None if keys.len() == 1 => keys.first(),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs256_round_trip_and_tamper() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"k");
        let t = sign_hs256(&key, &serde_json::json!({"a": 1}));
        let jwt = Jwt::parse(&t).unwrap();
        assert!(jwt.verify_hs256(&key));
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"x");
        assert!(!jwt.verify_hs256(&other));
        assert!(Jwt::parse("a.b").is_none());
        assert!(Jwt::parse("!!.??.--").is_none());
    }
}
