//! The built-in "test issuer": an OIDC-like issuer whose ES256 key the emulator holds, minting
//! Kubernetes ServiceAccount-like tokens so tests can run the full federated exchange without a
//! cluster.

use crate::jwt;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

/// Issuer URL of the test issuer (stable across runs, like a cluster's issuer).
pub(crate) const TEST_ISSUER: &str = "https://oidc.emulator.localhost/test-issuer";
const KID: &str = "emulator-test-issuer-1";

/// Signing key and JWKS of the test issuer.
pub(crate) struct TestIssuer {
    key: EcdsaKeyPair,
    jwks: Value,
}

impl TestIssuer {
    /// Generates a fresh P-256 key.
    pub fn generate() -> Result<TestIssuer, String> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|e| format!("test issuer keygen: {e}"))?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|e| format!("test issuer key: {e}"))?;
        // Uncompressed point: 0x04 || x || y.
        let point = key.public_key().as_ref();
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256",
            "kid": KID, "x": B64URL.encode(&point[1..33]), "y": B64URL.encode(&point[33..65])}]});
        Ok(TestIssuer { key, jwks })
    }

    /// The JWKS document to trust.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// Mints a ServiceAccount-like token for `subject` valid `ttl_secs` from `now`.
    pub fn mint(&self, now: i64, subject: &str, audience: &str, ttl_secs: i64) -> String {
        let claims = json!({
            "iss": TEST_ISSUER, "sub": subject, "aud": [audience],
            "iat": now, "nbf": now, "exp": now + ttl_secs,
            "kubernetes.io": {"namespace": subject.split(':').nth(2).unwrap_or("")},
        });
        jwt::sign_es256(&self.key, KID, &claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_token_verifies_against_jwks() {
        let ti = TestIssuer::generate().unwrap();
        let t = ti.mint(
            1000,
            "system:serviceaccount:ns:sa",
            "api://AzureADTokenExchange",
            60,
        );
        let jwt = jwt::Jwt::parse(&t).unwrap();
        let jwk = jwt::find_jwk(ti.jwks(), jwt.kid()).unwrap();
        assert_eq!(jwt.verify_jwk(jwk), Ok(()));
        assert_eq!(jwt.claim_str("sub"), Some("system:serviceaccount:ns:sa"));
    }
}
