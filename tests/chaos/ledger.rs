//! What the vault served and what the Secrets showed: every revision of every tracked Secret key
//! (a vault secret's value, or a certificate's leaf), when it was written to the vault, and when
//! a Secret first held it or a later one. Rotations, staleness and leaks are computed from here.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A Secret key that follows one vault object: (Secret name, key).
pub type Slot = (String, String);

/// One revision written to the vault.
struct Revision {
    /// What identifies it in the Secret: the value itself, or a certificate's leaf (base64 body).
    marker: String,
    written: Instant,
    /// When a Secret first held this revision or a later one.
    covered: Option<Instant>,
    /// Whether a Secret held exactly this revision.
    seen: bool,
}

/// Every slot's revisions, oldest first, and the values the scan for leaks looks for.
#[derive(Default)]
pub struct Ledger {
    slots: BTreeMap<Slot, Vec<Revision>>,
    /// Every secret value and private-key fragment the emulator has served.
    secret_material: Vec<String>,
}

/// Figures about rotations at one moment.
#[derive(Debug, Default, Clone, Copy)]
pub struct Delivery {
    /// Revisions written after the first sync (each slot's first revision is its initial value).
    pub rotations: usize,
    /// Rotations a Secret held exactly.
    pub delivered: usize,
    /// Rotations never held because a newer revision of the same slot arrived first.
    pub superseded: usize,
    /// Rotations neither held nor superseded (yet).
    pub missed: usize,
    /// Slots whose latest revision is not in the Secret (yet).
    pub stale_slots: usize,
    /// Longest time from a vault write to a Secret holding it or a newer revision; revisions not
    /// covered yet count up to now.
    pub max_staleness: Duration,
}

impl Ledger {
    /// Records a new revision of `slot` about to be written to the vault; `secret` is the
    /// material that must never leak (the value, or a fragment of the private key).
    pub fn write(&mut self, slot: Slot, marker: String, secret: String) {
        self.secret_material.push(secret);
        self.slots.entry(slot).or_default().push(Revision {
            marker,
            written: Instant::now(),
            covered: None,
            seen: false,
        });
    }

    /// A Secret was observed holding `marker` in `slot`. Returns false when the marker is not a
    /// revision the vault ever had for that slot (a corrupted or crossed value).
    pub fn observe(&mut self, slot: &Slot, marker: &str, at: Instant) -> bool {
        let Some(revisions) = self.slots.get_mut(slot) else {
            return false;
        };
        let Some(index) = revisions.iter().rposition(|r| r.marker == marker) else {
            return false;
        };
        revisions[index].seen = true;
        for revision in &mut revisions[..=index] {
            revision.covered.get_or_insert(at);
        }
        true
    }

    /// Records a secret served outside the tracked slots (the bad-input table's values).
    pub fn remember_secret(&mut self, secret: String) {
        self.secret_material.push(secret);
    }

    /// Whether `slot` is tracked.
    pub fn tracks(&self, slot: &Slot) -> bool {
        self.slots.contains_key(slot)
    }

    /// Every secret value and key fragment served so far.
    pub fn secret_material(&self) -> &[String] {
        &self.secret_material
    }

    /// Rotation figures now.
    pub fn delivery(&self) -> Delivery {
        let now = Instant::now();
        let mut figures = Delivery::default();
        for revisions in self.slots.values() {
            if revisions.last().is_some_and(|r| r.covered.is_none()) {
                figures.stale_slots += 1;
            }
            // The first revision is the value the resource was created with, not a rotation.
            for revision in revisions.iter().skip(1) {
                let staleness = revision.covered.unwrap_or(now) - revision.written;
                figures.max_staleness = figures.max_staleness.max(staleness);
                figures.rotations += 1;
                match (revision.seen, revision.covered) {
                    (true, _) => figures.delivered += 1,
                    (false, Some(_)) => figures.superseded += 1,
                    (false, None) => figures.missed += 1,
                }
            }
        }
        figures
    }

    /// Slots with a revision written before `before` that no Secret has held (nor a later one),
    /// for failure messages (names only, at most ten).
    pub fn uncovered_before(&self, before: Instant) -> Vec<String> {
        self.slots
            .iter()
            .filter(|(_, revisions)| {
                revisions
                    .iter()
                    .any(|r| r.written < before && r.covered.is_none())
            })
            .map(|((secret, key), _)| format!("{secret}/{key}"))
            .take(10)
            .collect()
    }

    /// Slots whose latest revision no Secret holds yet, for failure messages (names only).
    pub fn stale(&self) -> Vec<String> {
        self.slots
            .iter()
            .filter(|(_, revisions)| revisions.last().is_some_and(|r| r.covered.is_none()))
            .map(|((secret, key), _)| format!("{secret}/{key}"))
            .take(10)
            .collect()
    }
}
