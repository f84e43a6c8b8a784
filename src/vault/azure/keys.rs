//! A Key Vault JSON Web Key as the neutral [`PublicKey`]: only public members are read, so a
//! private member in an answer could never travel further.

use azure_security_keyvault_keys::models::{CurveName, JsonWebKey, KeyType};

use crate::vault::PublicKey;

/// The public part of `jwk`.
pub(super) fn public_key(jwk: JsonWebKey) -> PublicKey {
    let kty = jwk.kty.clone();
    match (kty, jwk.n, jwk.e, jwk.crv, jwk.x, jwk.y) {
        (Some(KeyType::Rsa | KeyType::RsaHsm), Some(n), Some(e), ..) => PublicKey::Rsa { n, e },
        (Some(KeyType::Ec | KeyType::EcHsm), _, _, Some(curve), Some(x), Some(y)) => {
            PublicKey::Ec {
                curve: curve_name(&curve),
                x,
                y,
            }
        }
        (kty, ..) => PublicKey::Unsupported {
            kty: kty.map_or_else(|| "none".to_string(), |k| k.to_string()),
        },
    }
}

fn curve_name(curve: &CurveName) -> String {
    match curve {
        CurveName::P256 => "P-256".into(),
        CurveName::P256K => "P-256K".into(),
        CurveName::P384 => "P-384".into(),
        CurveName::P521 => "P-521".into(),
        CurveName::UnknownValue(other) => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_and_ec_keys_keep_their_public_members_only() {
        let rsa = JsonWebKey {
            kty: Some(KeyType::RsaHsm),
            n: Some(vec![1, 2]),
            e: Some(vec![1, 0, 1]),
            d: Some(vec![9]),
            ..Default::default()
        };
        assert_eq!(
            public_key(rsa),
            PublicKey::Rsa {
                n: vec![1, 2],
                e: vec![1, 0, 1]
            }
        );
        let ec = JsonWebKey {
            kty: Some(KeyType::Ec),
            crv: Some(CurveName::P384),
            x: Some(vec![3]),
            y: Some(vec![4]),
            ..Default::default()
        };
        assert_eq!(
            public_key(ec),
            PublicKey::Ec {
                curve: "P-384".into(),
                x: vec![3],
                y: vec![4]
            }
        );
        let oct = JsonWebKey {
            kty: Some(KeyType::Oct),
            ..Default::default()
        };
        assert_eq!(
            public_key(oct),
            PublicKey::Unsupported { kty: "oct".into() }
        );
    }
}
