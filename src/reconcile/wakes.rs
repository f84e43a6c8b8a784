//! When each resource is reconciled again: one ordered set of (time, place) for every resource,
//! instead of kube-runtime's requeue queue, which held two copies of each resource's full
//! reference (name, namespace, uid, resource version) plus a delay-queue slot: about 600 bytes
//! per resource, for a deadline and a name.

use std::collections::BTreeSet;
use std::time::Instant;

/// Pending wakes, soonest first; at most one per place (the caller keeps each place's time).
#[derive(Debug)]
pub struct Wakes<P> {
    soonest: BTreeSet<(Instant, P)>,
}

impl<P> Default for Wakes<P> {
    fn default() -> Self {
        Wakes {
            soonest: BTreeSet::new(),
        }
    }
}

impl<P: Ord + Clone> Wakes<P> {
    /// Wakes `place` at `at` instead of at `before` (its previous time, if any). Says whether
    /// `at` is now the soonest wake: a sleeper waiting for a later one must look again.
    pub fn set(&mut self, place: &P, before: Option<Instant>, at: Instant) -> bool {
        self.clear(place, before);
        self.soonest.insert((at, place.clone()));
        self.soonest.first().is_some_and(|(first, _)| *first == at)
    }

    /// Drops the wake of `place` at `at`, if any.
    pub fn clear(&mut self, place: &P, at: Option<Instant>) {
        if let Some(at) = at {
            self.soonest.remove(&(at, place.clone()));
        }
    }

    /// Removes and returns every place due at `now`.
    pub fn take_due(&mut self, now: Instant) -> Vec<P> {
        let mut due = Vec::new();
        while let Some((at, _)) = self.soonest.first() {
            if *at > now {
                break;
            }
            if let Some((_, place)) = self.soonest.pop_first() {
                due.push(place);
            }
        }
        due
    }

    /// The soonest pending wake.
    pub fn next(&self) -> Option<Instant> {
        self.soonest.first().map(|(at, _)| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_place_wakes_once_at_its_latest_time() {
        let start = Instant::now();
        let mut wakes = Wakes::default();
        assert!(wakes.set(&"a", None, start + Duration::from_secs(10)));
        assert!(!wakes.set(&"b", None, start + Duration::from_secs(20)));
        // Moved earlier than everything: the sleeper must look again.
        assert!(wakes.set(
            &"b",
            Some(start + Duration::from_secs(20)),
            start + Duration::from_secs(5)
        ));
        assert_eq!(wakes.next(), Some(start + Duration::from_secs(5)));
        assert_eq!(
            wakes.take_due(start + Duration::from_secs(4)),
            Vec::<&str>::new()
        );
        assert_eq!(
            wakes.take_due(start + Duration::from_secs(10)),
            vec!["b", "a"]
        );
        assert_eq!(wakes.next(), None);
    }

    #[test]
    fn a_cleared_place_does_not_wake() {
        let start = Instant::now();
        let mut wakes = Wakes::default();
        let at = start + Duration::from_secs(1);
        wakes.set(&"a", None, at);
        wakes.clear(&"a", Some(at));
        wakes.clear(&"a", None);
        assert!(wakes.take_due(start + Duration::from_secs(60)).is_empty());
    }
}
