//! The restart digest: one value for the content of every managed Secret a workload consumes.
//!
//! It is built from what the operator already records for each Secret (the keyed content hash
//! its cache keeps in place of the values, see `desired::content_key`), with the Secret's name
//! and uid. Whoever can read the workload's pod template but not the Secret cannot test guesses
//! of a low-entropy value against it: the content hash is an HMAC under the installation's key,
//! and the uid is a random 122-bit value readable only with access to the Secret itself. The same
//! content in the same Secret always gives the same digest, so an operator restart, a resync or a
//! failed sync never changes it.

use sha2::{Digest, Sha256};

/// What one consumed managed Secret contributes to the digest.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DigestInput {
    /// Secret name.
    pub name: String,
    /// Secret uid: the key that makes the digest useless for guessing values.
    pub uid: String,
    /// The content hash the operator's cache observed for the Secret's data.
    pub content_hash: String,
}

/// Lowercase hex SHA-256 over the inputs in name order, each field length-prefixed so that no
/// two different input lists hash the same bytes.
pub fn digest(inputs: &[DigestInput]) -> String {
    let mut sorted: Vec<&DigestInput> = inputs.iter().collect();
    sorted.sort();
    let mut hasher = Sha256::new();
    for input in sorted {
        for field in [&input.name, &input.uid, &input.content_hash] {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
    }
    crate::desired::lower_hex(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, uid: &str, hash: &str) -> DigestInput {
        DigestInput {
            name: name.into(),
            uid: uid.into(),
            content_hash: hash.into(),
        }
    }

    #[test]
    fn same_content_same_digest_whatever_the_order() {
        let a = input("db", "u1", "h1");
        let b = input("api", "u2", "h2");
        assert_eq!(
            digest(&[a.clone(), b.clone()]),
            digest(&[b.clone(), a.clone()])
        );
        assert_eq!(digest(std::slice::from_ref(&a)).len(), 64);
    }

    #[test]
    fn any_change_of_content_uid_or_name_changes_it() {
        let base = digest(&[input("db", "u1", "h1")]);
        assert_ne!(base, digest(&[input("db", "u1", "h2")]));
        assert_ne!(base, digest(&[input("db", "u2", "h1")]));
        assert_ne!(base, digest(&[input("db2", "u1", "h1")]));
        assert_ne!(
            base,
            digest(&[input("db", "u1", "h1"), input("x", "u", "h")])
        );
    }

    #[test]
    fn fields_cannot_be_shifted_into_each_other() {
        assert_ne!(
            digest(&[input("ab", "c", "h")]),
            digest(&[input("a", "bc", "h")])
        );
    }

    #[test]
    fn the_content_hash_alone_does_not_give_the_digest() {
        // Someone who knows a candidate value can compute its content hash; without the uid the
        // digest differs.
        let real = digest(&[input("db", "7d1f5a0e-uid", "h1")]);
        assert_ne!(real, digest(&[input("db", "", "h1")]));
        assert!(!real.contains("h1"));
    }
}
