//! Fair use of the reconcile workers: at most a few reconciles of one namespace run at once, so
//! one tenant's slow or hostile vault cannot occupy every worker. A reconcile that finds its
//! namespace's slots taken gives its worker back at once and comes back shortly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Reconcile slots per namespace. Cheap to clone; memory grows with namespaces that have a
/// reconcile running, not with all namespaces.
#[derive(Clone)]
pub struct NamespaceSlots {
    per_namespace: usize,
    taken: Arc<Mutex<HashMap<String, usize>>>,
}

impl NamespaceSlots {
    /// At most `per_namespace` (at least 1) reconciles of one namespace at once.
    pub fn new(per_namespace: usize) -> Self {
        NamespaceSlots {
            per_namespace: per_namespace.max(1),
            taken: Arc::default(),
        }
    }

    /// A slot in `namespace`, held until the returned guard drops; `None` when all are taken.
    pub fn try_take(&self, namespace: &str) -> Option<Slot> {
        let mut taken = self.taken.lock().expect("poisoned");
        let count = taken.entry(namespace.to_string()).or_default();
        if *count >= self.per_namespace {
            return None;
        }
        *count += 1;
        Some(Slot {
            slots: self.clone(),
            namespace: namespace.to_string(),
        })
    }
}

/// One taken slot; gives it back when dropped.
pub struct Slot {
    slots: NamespaceSlots,
    namespace: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut taken = self.slots.taken.lock().expect("poisoned");
        if let Some(count) = taken.get_mut(&self.namespace) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                taken.remove(&self.namespace);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::NamespaceSlots;

    #[test]
    fn one_namespace_cannot_take_more_than_its_slots() {
        let slots = NamespaceSlots::new(2);
        let a1 = slots.try_take("a").unwrap();
        let _a2 = slots.try_take("a").unwrap();
        assert!(slots.try_take("a").is_none());
        let _b = slots
            .try_take("b")
            .expect("other namespaces are unaffected");
        drop(a1);
        assert!(slots.try_take("a").is_some());
    }

    #[test]
    fn released_namespaces_are_forgotten() {
        let slots = NamespaceSlots::new(1);
        drop(slots.try_take("a").unwrap());
        assert!(slots.taken.lock().unwrap().is_empty());
    }
}
