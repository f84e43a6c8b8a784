//! In-memory per-object schedule: when each resource is next due at the vault, what it last
//! wrote, and how many times in a row it failed. Reconciles that are not due (a status write, a
//! change to the managed Secret) re-check the Secret against the last write without touching the
//! vault. Memory grows with managed resources only.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::desired::secret::DesiredSecret;

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

/// The schedule of every resource.
#[derive(Default)]
pub struct Schedule {
    entries: Mutex<HashMap<ObjectKey, Entry>>,
}

impl Schedule {
    /// A copy of the entry (default when unknown). A new uid under a known name means the old
    /// object was deleted and re-created: what was kept for it (values included) is dropped.
    pub fn get(&self, key: &ObjectKey) -> Entry {
        let mut entries = self.entries.lock().expect("poisoned");
        if let Some(entry) = entries.get(key) {
            return entry.clone();
        }
        entries.retain(|k, _| {
            !(k.kind == key.kind && k.namespace == key.namespace && k.name == key.name)
        });
        Entry::default()
    }

    /// Updates the entry in place.
    pub fn update(&self, key: &ObjectKey, change: impl FnOnce(&mut Entry)) {
        let mut entries = self.entries.lock().expect("poisoned");
        change(entries.entry(key.clone()).or_default());
    }

    /// Forgets every entry of a resource (it was deleted).
    pub fn forget(&self, kind: &str, namespace: &str, name: &str) {
        self.entries
            .lock()
            .expect("poisoned")
            .retain(|k, _| !(k.kind == kind && k.namespace == namespace && k.name == name));
    }

    /// Number of resources with a Secret written.
    pub fn managed_count(&self, kind: &str) -> usize {
        self.entries
            .lock()
            .expect("poisoned")
            .iter()
            .filter(|(k, e)| k.kind == kind && e.last_desired.is_some())
            .count()
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
        assert_eq!(schedule.entries.lock().unwrap().len(), 1);
    }
}
