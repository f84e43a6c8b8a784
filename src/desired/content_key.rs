//! The per-installation key of the content hash.
//!
//! The content hash travels in an annotation, readable by whoever can read Secret metadata (and,
//! through the restart digest, by whoever can read a workload's pod template). A plain SHA-256
//! of the data would let them test guesses of a weak value offline; an HMAC under a key only the
//! operator holds does not. Both replicas, and every restart, must use the same key: a new key
//! makes every recorded hash differ once (one rewrite of each Secret with the same data, and one
//! restart of each opted-in workload).

use std::collections::BTreeMap;
use std::sync::Arc;

use ring::hmac;

use crate::vault::SecretValue;

/// Fewest key bytes accepted: HMAC-SHA256's output size.
pub const MIN_KEY_BYTES: usize = 32;

/// The HMAC-SHA256 key content hashes are computed under. Cheap to clone; never printed.
#[derive(Clone)]
pub struct ContentKey(Arc<hmac::Key>);

/// A key shorter than [`MIN_KEY_BYTES`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the content hash key has {0} bytes; it needs at least {MIN_KEY_BYTES}")]
pub struct KeyTooShort(pub usize);

impl ContentKey {
    /// The key made of `bytes` (at least [`MIN_KEY_BYTES`]).
    ///
    /// # Errors
    /// [`KeyTooShort`] when `bytes` is too short to resist guessing.
    pub fn new(bytes: &[u8]) -> Result<Self, KeyTooShort> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(KeyTooShort(bytes.len()));
        }
        Ok(Self(Arc::new(hmac::Key::new(hmac::HMAC_SHA256, bytes))))
    }

    /// Fresh random key bytes for a new installation.
    ///
    /// # Panics
    /// When the operating system has no random source (the process cannot work without one).
    pub fn generate_bytes() -> Vec<u8> {
        let mut bytes = vec![0u8; MIN_KEY_BYTES];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
            .expect("the operating system's random source");
        bytes
    }

    /// Hex HMAC-SHA256 over the type and the sorted data, with lengths so that no two contents
    /// collide by concatenation.
    pub fn hash(&self, type_: &str, data: &BTreeMap<String, SecretValue>) -> String {
        let mut context = hmac::Context::with_key(&self.0);
        context.update(&(type_.len() as u64).to_be_bytes());
        context.update(type_.as_bytes());
        for (key, value) in data {
            context.update(&(key.len() as u64).to_be_bytes());
            context.update(key.as_bytes());
            context.update(&(value.expose().len() as u64).to_be_bytes());
            context.update(value.expose());
        }
        super::lower_hex(context.sign().as_ref())
    }

    /// A fixed key for unit tests.
    #[cfg(test)]
    pub fn for_tests() -> Self {
        Self::new(&[7u8; MIN_KEY_BYTES]).expect("long enough")
    }
}

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), SecretValue::new(v.as_bytes().to_vec())))
            .collect()
    }

    #[test]
    fn equal_content_equal_hash_under_one_key_only() {
        let key = ContentKey::for_tests();
        let content = data(&[("password", "hunter2")]);
        assert_eq!(key.hash("Opaque", &content), key.hash("Opaque", &content));
        let other = ContentKey::new(&ContentKey::generate_bytes()).unwrap();
        assert_ne!(key.hash("Opaque", &content), other.hash("Opaque", &content));
    }

    #[test]
    fn a_guess_cannot_be_checked_without_the_key() {
        // What an unkeyed hash allowed: hash the candidate the way the operator does, compare.
        let key = ContentKey::for_tests();
        let recorded = key.hash("Opaque", &data(&[("password", "hunter2")]));
        let mut guess = Sha256::new();
        for part in [&b"Opaque"[..], b"password", b"hunter2"] {
            guess.update((part.len() as u64).to_be_bytes());
            guess.update(part);
        }
        assert_ne!(recorded, crate::desired::lower_hex(&guess.finalize()));
        assert_eq!(recorded.len(), 64, "hex HMAC-SHA256");
    }

    #[test]
    fn type_keys_and_boundaries_all_count() {
        let key = ContentKey::for_tests();
        let base = key.hash("Opaque", &data(&[("a", "1")]));
        assert_ne!(base, key.hash("Opaque", &data(&[("a", "2")])));
        assert_ne!(base, key.hash("Opaque", &data(&[("b", "1")])));
        assert_ne!(base, key.hash("kubernetes.io/tls", &data(&[("a", "1")])));
        assert_ne!(
            key.hash("Opaque", &data(&[("a", "1b")])),
            key.hash("Opaque", &data(&[("a1", "b")]))
        );
    }

    #[test]
    fn short_keys_are_refused_and_keys_never_print() {
        assert_eq!(
            ContentKey::new(&[1u8; 31]).unwrap_err(),
            KeyTooShort(31),
            "31 bytes is under HMAC-SHA256's output size"
        );
        let printed = format!("{:?}", ContentKey::for_tests());
        assert!(!printed.contains('7'), "{printed}");
        assert_ne!(ContentKey::generate_bytes(), ContentKey::generate_bytes());
    }
}
