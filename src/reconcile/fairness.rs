//! Fair use of the reconcile workers. Each namespace has a share of a few workers it can always
//! use; beyond its share it may borrow idle workers, as long as a share's worth stays free for
//! the other namespaces, so a thousand resources in one namespace are not synced four at a time.
//! A namespace whose reconciles turn slow (a tarpitting or throttled vault) stops borrowing for a
//! while, so one tenant's slow vault cannot occupy every worker; one of its reconciles finishing
//! quickly again ends that at once, so a single slow moment (waiting for the first listing of a
//! large vault) does not halve a namespace's throughput for the next minute. A reconcile that
//! finds no slot gives its worker back at once and comes back shortly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A reconcile this slow marks its namespace as slow.
const SLOW_RECONCILE: Duration = Duration::from_secs(5);
/// How long a slow namespace keeps to its share, unless one of its reconciles finishes quickly.
const SLOW_PENALTY: Duration = Duration::from_secs(60);

/// Reconcile slots per namespace. Cheap to clone; memory grows with namespaces that have a
/// reconcile running or were slow in the last minute, not with all namespaces.
#[derive(Clone)]
pub struct NamespaceSlots {
    share: usize,
    workers: usize,
    state: Arc<Mutex<SlotState>>,
}

#[derive(Default)]
struct SlotState {
    taken: HashMap<String, usize>,
    total: usize,
    slow_until: HashMap<String, Instant>,
}

impl SlotState {
    fn is_slow(&mut self, namespace: &str, now: Instant) -> bool {
        self.slow_until.retain(|_, until| *until > now);
        self.slow_until.contains_key(namespace)
    }
}

impl NamespaceSlots {
    /// At least `share` (at least 1) reconciles of one namespace at once, more while idle
    /// workers out of `workers` remain for the others.
    pub fn new(share: usize, workers: usize) -> Self {
        NamespaceSlots {
            share: share.max(1),
            workers,
            state: Arc::default(),
        }
    }

    /// A slot in `namespace`, held until the returned guard drops; `None` when its share is
    /// taken and no worker may be borrowed.
    pub fn try_take(&self, namespace: &str) -> Option<Slot> {
        self.try_take_at(namespace, Instant::now())
    }

    fn try_take_at(&self, namespace: &str, now: Instant) -> Option<Slot> {
        let mut state = self.state.lock().expect("poisoned");
        let count = state.taken.get(namespace).copied().unwrap_or(0);
        let within_share = count < self.share;
        // Borrowing leaves a share's worth of workers idle for whichever namespace comes next.
        let may_borrow = state.total + 1 + self.share <= self.workers;
        let borrows = !within_share;
        if borrows && (!may_borrow || state.is_slow(namespace, now)) {
            return None;
        }
        *state.taken.entry(namespace.to_string()).or_default() += 1;
        state.total += 1;
        Some(Slot {
            slots: self.clone(),
            namespace: namespace.to_string(),
            since: now,
        })
    }

    fn give_back(&self, namespace: &str, held: Duration, now: Instant) {
        let mut state = self.state.lock().expect("poisoned");
        state.total = state.total.saturating_sub(1);
        if let Some(count) = state.taken.get_mut(namespace) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                state.taken.remove(namespace);
            }
        }
        if held >= SLOW_RECONCILE {
            state
                .slow_until
                .insert(namespace.to_string(), now + SLOW_PENALTY);
        } else {
            state.slow_until.remove(namespace);
        }
    }
}

/// One taken slot; gives it back when dropped.
pub struct Slot {
    slots: NamespaceSlots,
    namespace: String,
    since: Instant,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let now = Instant::now();
        let held = now.saturating_duration_since(self.since);
        self.slots.give_back(&self.namespace, held, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_namespace_cannot_take_more_than_its_share_when_no_worker_is_idle() {
        let slots = NamespaceSlots::new(2, 2);
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
    fn a_namespace_borrows_idle_workers_but_leaves_a_share_free() {
        let slots = NamespaceSlots::new(2, 6);
        let held: Vec<Slot> = (0..4).map(|_| slots.try_take("a").unwrap()).collect();
        assert!(slots.try_take("a").is_none(), "two workers stay free");
        let b1 = slots.try_take("b").expect("a share for the next namespace");
        let _b2 = slots.try_take("b").unwrap();
        assert!(slots.try_take("c").is_some(), "c's share is its own");
        drop(b1);
        drop(held);
        assert!(slots.try_take("a").is_some());
    }

    /// Slots of share 1 of 8 whose namespace `a` just had a slow reconcile, and the time a
    /// second after it.
    fn after_a_slow_reconcile() -> (NamespaceSlots, Instant) {
        let slots = NamespaceSlots::new(1, 8);
        let start = Instant::now();
        let slow = slots.try_take_at("a", start).unwrap();
        slots.give_back("a", SLOW_RECONCILE, start + SLOW_RECONCILE);
        std::mem::forget(slow);
        (slots, start + SLOW_RECONCILE + Duration::from_secs(1))
    }

    #[test]
    fn a_slow_namespace_keeps_to_its_share_for_a_while() {
        let (slots, later) = after_a_slow_reconcile();
        let _own = slots.try_take_at("a", later).expect("its share");
        assert!(slots.try_take_at("a", later).is_none(), "no borrowing");
        let after = later + SLOW_PENALTY;
        assert!(slots.try_take_at("a", after).is_some(), "borrowing again");
    }

    #[test]
    fn a_quick_reconcile_ends_the_slow_spell() {
        let (slots, later) = after_a_slow_reconcile();
        let quick = slots.try_take_at("a", later).expect("its share");
        assert!(slots.try_take_at("a", later).is_none(), "no borrowing yet");
        slots.give_back("a", Duration::from_millis(40), later);
        std::mem::forget(quick);
        let _own = slots.try_take_at("a", later).expect("its share");
        assert!(
            slots.try_take_at("a", later).is_some(),
            "borrowing again within the minute"
        );
    }

    #[test]
    fn released_namespaces_are_forgotten() {
        let slots = NamespaceSlots::new(1, 4);
        drop(slots.try_take("a").unwrap());
        let state = slots.state.lock().unwrap();
        assert!(state.taken.is_empty());
        assert_eq!(state.total, 0);
    }
}
