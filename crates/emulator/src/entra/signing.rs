//! Entra's token-signing key: RS256 like the real service, published at the tenant's `jwks_uri`
//! (`/{tenant}/discovery/v2.0/keys`), used for the bearer tokens Event Grid sends to webhooks
//! with Microsoft Entra authentication. Generated on first use because RSA key generation is
//! slow in debug builds.

use crate::jwt::signing_input;
use crate::store::crypto::rsa::RsaKey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde_json::{Value, json};

/// Key id Entra publishes the key under.
const KID: &str = "emulator-entra-signing-1";

/// The RSA key and its public JWK.
pub(crate) struct SigningKey {
    key: RsaKey,
    jwk: Value,
}

impl SigningKey {
    /// Generates a 2048-bit key.
    pub fn generate() -> SigningKey {
        let key = RsaKey::generate(2048);
        let jwk = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
            "n": B64URL.encode(key.n.to_bytes_be()),
            "e": B64URL.encode(key.e.to_bytes_be()),
        });
        SigningKey { key, jwk }
    }

    /// The JWKS document.
    pub fn jwks(&self) -> Value {
        json!({"keys": [self.jwk]})
    }

    /// Signs claims as an RS256 JWT.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": KID});
        let input = signing_input(&header, claims);
        let digest = ring::digest::digest(&ring::digest::SHA256, input.as_bytes());
        // Signing a SHA-256 digest with a 2048-bit private key cannot fail; an unsigned token
        // would simply be refused by the receiver.
        let sig = self.key.sign(digest.as_ref()).unwrap_or_default();
        format!("{input}.{}", B64URL.encode(sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::{Jwt, find_jwk};

    #[test]
    fn tokens_verify_against_the_published_jwks() {
        let key = SigningKey::generate();
        let token = key.sign(&json!({"aud": "api://hook"}));
        let jwt = Jwt::parse(&token).unwrap();
        let jwks = key.jwks();
        let jwk = find_jwk(&jwks, jwt.kid()).unwrap();
        assert_eq!(jwt.verify_jwk(jwk), Ok(()));
        let other = key.sign(&json!({"aud": "api://other"}));
        let (_, signature) = token.rsplit_once('.').unwrap();
        let (other_input, _) = other.rsplit_once('.').unwrap();
        let forged = Jwt::parse(&format!("{other_input}.{signature}")).unwrap();
        assert!(forged.verify_jwk(jwk).is_err());
    }
}
