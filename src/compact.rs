//! Compact forms of what is kept per managed object between reconciles. The data keys of every
//! Secret written repeat: kept once per process ([`shared`]) instead of once per kept Secret
//! (each small string costs a heap block of at least 32 bytes). JSON kept per object (the
//! resources, their statuses, the cached Secrets, what a kept Secret holds besides values) is
//! [`packed`].

pub mod packed;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Most distinct strings shared: beyond it (someone gives each Secret its own label keys) each
/// string is kept by its holder alone, so the pool cannot grow without bound.
const MAX_SHARED: usize = 4096;

fn pool() -> &'static Mutex<HashSet<Arc<str>>> {
    static POOL: OnceLock<Mutex<HashSet<Arc<str>>>> = OnceLock::new();
    POOL.get_or_init(Mutex::default)
}

/// `text`, shared with every other holder of the same text (up to [`MAX_SHARED`] texts).
/// For vocabulary that repeats across objects (keys, kinds, types), not for values that differ
/// per object (names, uids, hashes, most label values): those would fill the pool.
pub fn shared(text: &str) -> Arc<str> {
    // The pool holds only strings: a panic elsewhere cannot leave it inconsistent.
    let mut pool = pool().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(found) = pool.get(text) {
        return found.clone();
    }
    let text: Arc<str> = Arc::from(text);
    if pool.len() < MAX_SHARED {
        pool.insert(text.clone());
    }
    text
}

/// Labels or annotations: shared keys, values as `V`, in one exactly sized slice.
pub type Pairs<V> = Box<[(Arc<str>, V)]>;

/// `map` as [`Pairs`], with values converted by `value`.
pub fn pairs<V, W>(
    map: &std::collections::BTreeMap<String, V>,
    value: impl Fn(&V) -> W,
) -> Pairs<W> {
    map.iter().map(|(k, v)| (shared(k), value(v))).collect()
}

/// Pairs (shared keys or not) back as a map, with values converted by `value`.
pub fn tree<K: std::ops::Deref<Target = str>, V, W>(
    pairs: &[(K, V)],
    value: impl Fn(&V) -> W,
) -> std::collections::BTreeMap<String, W> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), value(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_are_kept_once() {
        let a = shared("app.kubernetes.io/managed-by");
        let b = shared(&String::from("app.kubernetes.io/managed-by"));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*shared("other"), "other");
    }

    #[test]
    fn pairs_round_trip() {
        let map = std::collections::BTreeMap::from([
            ("team".to_string(), "a".to_string()),
            ("tier".to_string(), "b".to_string()),
        ]);
        let flat = pairs(&map, |v| shared(v));
        assert_eq!(tree(&flat, |v| v.to_string()), map);
    }
}
