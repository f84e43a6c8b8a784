//! Verification of the Entra bearer token Event Grid sends with Microsoft Entra authentication:
//! RS256 (Entra's algorithm) or ES256 signatures checked with `ring` against the keys named by
//! the tenant's OpenID discovery document, then issuer, audience and validity.
//!
//! Keys are fetched on first use and again when a token names an unknown key id, at most once
//! per [`REFETCH_AFTER`], so forged tokens cannot make the endpoint hammer the authority.

use super::settings::EntraVerification;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ring::signature;
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

/// Least time between two fetches of the discovery document and keys.
const REFETCH_AFTER: Duration = Duration::from_secs(30);
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: i64 = 60;
/// Longest token looked at.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    /// Missing, malformed, wrongly signed, or with the wrong issuer, audience or validity.
    #[error("bearer token refused: {0}")]
    Invalid(&'static str),
    /// The signing keys could not be fetched, so no token can be checked now.
    #[error("Entra signing keys unavailable: {0}")]
    KeysUnavailable(String),
}

#[derive(Default)]
struct Keys {
    issuer: String,
    jwks: Vec<Value>,
    fetched: Option<Instant>,
}

/// Checks bearer tokens for one tenant and audience.
pub(crate) struct EntraCheck {
    settings: EntraVerification,
    keys: Mutex<Keys>,
}

/// A decoded, not yet verified token.
struct Token {
    header: Value,
    claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

fn invalid(why: &'static str) -> TokenRejection {
    TokenRejection::Invalid(why)
}

fn decode_json(part: &str) -> Option<Value> {
    let v: Value = serde_json::from_slice(&B64URL.decode(part).ok()?).ok()?;
    v.is_object().then_some(v)
}

impl Token {
    fn parse(token: &str) -> Result<Token, TokenRejection> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid("token too long"));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("not a JWT"));
        };
        Ok(Token {
            header: decode_json(h).ok_or(invalid("malformed header"))?,
            claims: decode_json(c).ok_or(invalid("malformed claims"))?,
            signing_input: format!("{h}.{c}"),
            signature: B64URL
                .decode(s)
                .map_err(|_| invalid("malformed signature"))?,
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    fn verify_with(&self, jwk: &Value) -> Result<(), TokenRejection> {
        let field = |n: &str| {
            jwk.get(n)
                .and_then(Value::as_str)
                .and_then(|v| B64URL.decode(v).ok())
                .ok_or(invalid("unusable key"))
        };
        let msg = self.signing_input.as_bytes();
        let kty = jwk.get("kty").and_then(Value::as_str);
        let ok = match (self.header("alg"), kty) {
            (Some("RS256"), Some("RSA")) => signature::RsaPublicKeyComponents {
                n: field("n")?,
                e: field("e")?,
            }
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, &self.signature)
            .is_ok(),
            (Some("ES256"), Some("EC")) => {
                let mut point = vec![4u8];
                point.extend(field("x")?);
                point.extend(field("y")?);
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(msg, &self.signature)
                    .is_ok()
            }
            _ => return Err(invalid("unsupported algorithm")),
        };
        ok.then_some(()).ok_or(invalid("bad signature"))
    }

    fn number(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(Value::as_i64)
    }

    fn audiences(&self) -> Vec<&str> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

fn find_key<'a>(jwks: &'a [Value], kid: Option<&str>) -> Option<&'a Value> {
    match kid {
        Some(kid) => jwks
            .iter()
            .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid)),
        None if jwks.len() == 1 => jwks.first(),
        None => None,
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl EntraCheck {
    pub fn new(settings: EntraVerification) -> EntraCheck {
        EntraCheck {
            settings,
            keys: Mutex::default(),
        }
    }

    /// Fetches the discovery document and the keys it names.
    async fn fetch(&self) -> Result<(String, Vec<Value>), String> {
        let s = &self.settings;
        let url = format!(
            "{}/{}/v2.0/.well-known/openid-configuration",
            s.authority_host.trim_end_matches('/'),
            s.tenant
        );
        let get = |url: String| async move {
            let resp = s.http.get(&url).send().await.map_err(|e| e.to_string())?;
            if !resp.status().is_success() {
                return Err(format!("{url} answered {}", resp.status()));
            }
            let body = resp.bytes().await.map_err(|e| e.to_string())?;
            serde_json::from_slice::<Value>(&body).map_err(|e| e.to_string())
        };
        let doc = get(url).await?;
        let issuer = doc
            .get("issuer")
            .and_then(Value::as_str)
            .ok_or("discovery document without issuer")?
            .replace("{tenantid}", &s.tenant);
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or("discovery document without jwks_uri")?;
        let jwks = get(jwks_uri.to_owned()).await?;
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .cloned()
            .ok_or("JWKS without keys")?;
        Ok((issuer, keys))
    }

    /// Verifies a bearer token.
    pub async fn verify(&self, bearer: &str) -> Result<(), TokenRejection> {
        let token = Token::parse(bearer)?;
        let kid = token.header("kid");
        let mut keys = self.keys.lock().await;
        let known = find_key(&keys.jwks, kid).is_some();
        let may_refetch = keys.fetched.is_none_or(|t| t.elapsed() >= REFETCH_AFTER);
        if !known && may_refetch {
            keys.fetched = Some(Instant::now());
            match self.fetch().await {
                Ok((issuer, jwks)) => {
                    keys.issuer = issuer;
                    keys.jwks = jwks;
                }
                Err(e) if keys.jwks.is_empty() => return Err(TokenRejection::KeysUnavailable(e)),
                Err(e) => tracing::warn!(error = %e, "Entra signing keys not refreshed"),
            }
        }
        let jwk = find_key(&keys.jwks, kid).ok_or(invalid("unknown signing key"))?;
        token.verify_with(jwk)?;
        if token.claims.get("iss").and_then(Value::as_str) != Some(keys.issuer.as_str()) {
            return Err(invalid("wrong issuer"));
        }
        drop(keys);
        if !token.audiences().contains(&self.settings.audience.as_str()) {
            return Err(invalid("wrong audience"));
        }
        let now = now_secs();
        match token.number("exp") {
            Some(exp) if exp + LEEWAY_SECS > now => {}
            _ => return Err(invalid("expired")),
        }
        if token
            .number("nbf")
            .is_some_and(|nbf| nbf - LEEWAY_SECS > now)
        {
            return Err(invalid("not yet valid"));
        }
        Ok(())
    }
}
