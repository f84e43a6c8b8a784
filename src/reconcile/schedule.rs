//! In-memory per-object schedule: when each resource is next due at the vault, what it last
//! wrote, and how many times in a row it failed. Reconciles that are not due (a status write, a
//! change to the managed Secret) re-check the Secret against the last write without touching the
//! vault. Memory grows with managed resources only.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::desired::secret::{DesiredSecret, KeptSecret};

/// Identifies one resource across renames of nothing: kind, namespace, name and uid.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    /// Kind.
    pub kind: &'static str,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Uid (a re-created resource starts afresh).
    pub uid: String,
}

impl ObjectKey {
    /// The key of `resource`.
    pub fn of<K: crate::crd::Synced>(resource: &K) -> Self {
        use kube::ResourceExt;
        ObjectKey {
            kind: K::KIND,
            namespace: resource.namespace().unwrap_or_default(),
            name: resource.name_any(),
            uid: resource.uid().unwrap_or_default(),
        }
    }
}

/// What is remembered about one resource.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    /// Generation last synced.
    pub generation: Option<i64>,
    /// Force-refresh annotation value last acted upon.
    pub force_refresh: Option<String>,
    /// When the vault must next be read.
    pub due: Option<Instant>,
    /// The last Secret written or confirmed.
    pub last_desired: Option<DesiredSecret>,
    /// Consecutive failures.
    pub failures: u32,
    /// Whether the next due sync reads every source again: a value was read within the second
    /// its version was written, and listings tell versions apart only by that second, so a
    /// later version written within the same second would look unchanged.
    pub reread: bool,
    /// The status this process last wrote. vaultsync is the only writer of status, so this is
    /// the truth even when the watch cache still holds an older object; without it a reconcile
    /// on a stale object could write back an older status (merge patches replace the whole
    /// conditions list). Kept as JSON text: a parsed tree costs several times the memory, for
    /// every resource.
    pub last_status: Option<Box<str>>,
}

/// An [`Entry`] as kept: the last Secret written in its compact form ([`KeptSecret`]).
#[derive(Clone, Default)]
struct Stored {
    entry: Entry,
    last_desired: Option<KeptSecret>,
}

impl Stored {
    fn entry(&self) -> Entry {
        Entry {
            last_desired: self.last_desired.as_ref().map(KeptSecret::desired),
            ..self.entry.clone()
        }
    }

    fn keep(entry: Entry) -> Self {
        let last_desired = entry.last_desired.as_ref().map(KeptSecret::from);
        Stored {
            entry: Entry {
                last_desired: None,
                ..entry
            },
            last_desired,
        }
    }
}

/// The schedule of every resource: one entry per name, holding the uid it belongs to, so each
/// call is a single lookup (a first sync of 10,000 resources used to walk every entry per call).
#[derive(Default)]
pub struct Schedule {
    inner: Mutex<Entries>,
}

/// Where a resource lives: its key without the uid.
type Place = (&'static str, String, String);

#[derive(Default)]
struct Entries {
    by_place: HashMap<Place, (String, Stored)>,
    /// Entries with a Secret written, per kind.
    managed: HashMap<&'static str, usize>,
}

impl Entries {
    fn remove(&mut self, place: &Place) {
        if let Some((_, old)) = self.by_place.remove(place)
            && old.last_desired.is_some()
        {
            *self.managed.entry(place.0).or_default() -= 1;
        }
    }
}

fn place_of(key: &ObjectKey) -> Place {
    (key.kind, key.namespace.clone(), key.name.clone())
}

impl Schedule {
    /// A copy of the entry (default when unknown). A new uid under a known name means the old
    /// object was deleted and re-created: what was kept for it (values included) is dropped.
    pub fn get(&self, key: &ObjectKey) -> Entry {
        let mut entries = self.inner.lock().expect("poisoned");
        let place = place_of(key);
        match entries.by_place.get(&place) {
            Some((uid, stored)) if *uid == key.uid => stored.entry(),
            Some(_) => {
                entries.remove(&place);
                Entry::default()
            }
            None => Entry::default(),
        }
    }

    /// Updates the entry in place (a fresh one when the uid changed).
    pub fn update(&self, key: &ObjectKey, change: impl FnOnce(&mut Entry)) {
        let mut entries = self.inner.lock().expect("poisoned");
        let place = place_of(key);
        if entries
            .by_place
            .get(&place)
            .is_some_and(|(uid, _)| *uid != key.uid)
        {
            entries.remove(&place);
        }
        let Entries { by_place, managed } = &mut *entries;
        let (_, stored) = by_place
            .entry(place)
            .or_insert_with(|| (key.uid.clone(), Stored::default()));
        let was_managed = stored.last_desired.is_some();
        let mut entry = stored.entry();
        change(&mut entry);
        *stored = Stored::keep(entry);
        match (was_managed, stored.last_desired.is_some()) {
            (false, true) => *managed.entry(key.kind).or_default() += 1,
            (true, false) => *managed.entry(key.kind).or_default() -= 1,
            _ => {}
        }
    }

    /// Forgets the entry of a resource (it was deleted).
    pub fn forget(&self, kind: &'static str, namespace: &str, name: &str) {
        let place = (kind, namespace.to_string(), name.to_string());
        self.inner.lock().expect("poisoned").remove(&place);
    }

    /// Number of resources with a Secret written.
    pub fn managed_count(&self, kind: &str) -> usize {
        let entries = self.inner.lock().expect("poisoned");
        entries.managed.get(kind).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(uid: &str) -> ObjectKey {
        ObjectKey {
            kind: "VaultSecret",
            namespace: "ns".into(),
            name: "app".into(),
            uid: uid.into(),
        }
    }

    #[test]
    fn a_recreated_object_drops_what_was_kept_for_the_old_one() {
        let schedule = Schedule::default();
        schedule.update(&key("old"), |e| e.failures = 3);
        assert_eq!(schedule.get(&key("old")).failures, 3);
        assert_eq!(schedule.get(&key("new")).failures, 0);
        schedule.update(&key("new"), |e| e.failures = 1);
        assert_eq!(schedule.inner.lock().unwrap().by_place.len(), 1);
    }

    #[test]
    fn the_managed_count_follows_writes_recreations_and_deletions() {
        let schedule = Schedule::default();
        let desired = crate::desired::secret::desired_secret(
            &crate::desired::secret::Owner {
                kind: "VaultSecret",
                api_version: "vaultsync.dev/v1alpha1".into(),
                name: "app".into(),
                namespace: "ns".into(),
                uid: "old".into(),
            },
            &Default::default(),
            "app",
            "Opaque",
            Default::default(),
            vec![],
            &crate::desired::content_key::ContentKey::for_tests(),
        );
        let written = |e: &mut Entry| e.last_desired = Some(desired.clone());
        schedule.update(&key("old"), written);
        schedule.update(&key("old"), written);
        assert_eq!(schedule.managed_count("VaultSecret"), 1);
        assert_eq!(schedule.managed_count("VaultCertificate"), 0);
        // Re-created under the same name: the old entry and its Secret no longer count.
        schedule.update(&key("new"), |e| e.failures = 1);
        assert_eq!(schedule.managed_count("VaultSecret"), 0);
        schedule.update(&key("new"), written);
        assert_eq!(schedule.managed_count("VaultSecret"), 1);
        schedule.forget("VaultSecret", "ns", "app");
        assert_eq!(schedule.managed_count("VaultSecret"), 0);
        assert_eq!(schedule.get(&key("new")).failures, 0);
    }
}
