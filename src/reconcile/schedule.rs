//! In-memory per-object schedule: when each resource is next due at the vault, what it last
//! wrote, and how many times in a row it failed. Reconciles that are not due (a status write, a
//! change to the managed Secret) re-check the Secret against the last write without touching the
//! vault. Memory grows with managed resources only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::wakes::Wakes;

use crate::compact::packed::Packed;
use crate::crd::{ConditionStatus, SyncStatus};
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
    /// Whether `last_status` was written by this process; otherwise it is the one last seen on
    /// the object, kept here instead of in the watch cache (which drops statuses).
    pub status_written: bool,
    /// The Ready condition of `last_status`, for the resource census.
    pub ready: Option<Readiness>,
}

/// The Ready condition of a status, as counted by the resource census.
#[derive(Clone, Debug, PartialEq)]
pub struct Readiness {
    /// Whether the resource is Ready.
    pub status: ConditionStatus,
    /// Why.
    pub reason: Box<str>,
}

impl Readiness {
    /// The Ready condition of `status`, when it has one.
    pub fn of(status: &SyncStatus) -> Option<Self> {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .map(|c| Readiness {
                status: c.status,
                reason: c.reason.as_str().into(),
            })
    }
}

/// An [`Entry`] as kept: only its fields, with the last Secret written in its compact form
/// ([`KeptSecret`]). Every slot of the map is as large as this, used or not, so it holds no
/// `DesiredSecret` (an embedded `Entry` made each slot about 700 bytes).
#[derive(Default)]
struct Stored {
    generation: Option<i64>,
    force_refresh: Option<Box<str>>,
    due: Option<Instant>,
    failures: u32,
    reread: bool,
    status_written: bool,
    /// Packed: statuses repeat the same field names and hold several timestamps.
    last_status: Option<Packed>,
    ready: Option<Readiness>,
    /// Boxed: a slot without a Secret written then costs a pointer, not a whole KeptSecret.
    last_desired: Option<Box<KeptSecret>>,
    /// When the resource is reconciled again (its place in [`Entries::wakes`]).
    wake_at: Option<Instant>,
    /// What last triggered a reconcile, hashed (see [`Schedule::trigger_changed`]).
    trigger: Option<u64>,
}

impl Stored {
    /// The entry without the last Secret written (see [`Schedule::update`]).
    fn fields(&self) -> Entry {
        Entry {
            generation: self.generation,
            force_refresh: self.force_refresh.as_deref().map(str::to_string),
            due: self.due,
            last_desired: None,
            failures: self.failures,
            reread: self.reread,
            last_status: self
                .last_status
                .as_ref()
                .map(|s| s.unpack().into_boxed_str()),
            status_written: self.status_written,
            ready: self.ready.clone(),
        }
    }

    fn entry(&self) -> Entry {
        Entry {
            last_desired: self.last_desired.as_deref().and_then(KeptSecret::desired),
            ..self.fields()
        }
    }

    /// Takes `entry`'s fields; its last Secret written, when set, replaces the one kept.
    fn absorb(&mut self, entry: Entry) {
        self.generation = entry.generation;
        self.force_refresh = entry.force_refresh.map(String::into_boxed_str);
        self.due = entry.due;
        self.failures = entry.failures;
        self.reread = entry.reread;
        self.status_written = entry.status_written;
        self.last_status = entry.last_status.as_deref().map(Packed::pack);
        self.ready = entry.ready;
        if let Some(desired) = &entry.last_desired {
            self.last_desired = Some(Box::new(KeptSecret::from(desired)));
        }
    }
}

/// The schedule of every resource: one entry per name, holding the uid it belongs to, so each
/// call is a single lookup (a first sync of 10,000 resources used to walk every entry per call).
#[derive(Default)]
pub struct Schedule {
    inner: Mutex<Entries>,
    /// Told when a wake becomes the soonest (see [`Schedule::run_wakes`]).
    sooner: tokio::sync::Notify,
}

/// Where a resource lives: its key without the uid. Shared texts: the wakes hold it too.
type Place = (&'static str, Arc<str>, Arc<str>);

#[derive(Default)]
struct Entries {
    by_place: HashMap<Place, (Box<str>, Stored)>,
    /// Entries with a Secret written, per kind.
    managed: HashMap<&'static str, usize>,
    /// When each resource is reconciled again.
    wakes: Wakes<Place>,
}

impl Entries {
    /// The entry of `key`, fresh when unknown or kept for another uid.
    fn slot(&mut self, key: &ObjectKey) -> &mut Stored {
        let place = place_of(key);
        if self
            .by_place
            .get(&place)
            .is_some_and(|(uid, _)| **uid != *key.uid)
        {
            self.remove(&place);
        }
        let (_, stored) = self
            .by_place
            .entry(place)
            .or_insert_with(|| (key.uid.as_str().into(), Stored::default()));
        stored
    }

    /// Removes the entry at `place`; returns the uid it belonged to.
    fn remove(&mut self, place: &Place) -> Option<Box<str>> {
        let (uid, old) = self.by_place.remove(place)?;
        self.wakes.clear(place, old.wake_at);
        if old.last_desired.is_some() {
            *self.managed.entry(place.0).or_default() -= 1;
        }
        Some(uid)
    }
}

fn place_of(key: &ObjectKey) -> Place {
    (
        key.kind,
        key.namespace.as_str().into(),
        key.name.as_str().into(),
    )
}

impl Schedule {
    /// A copy of the entry (default when unknown). A new uid under a known name means the old
    /// object was deleted and re-created: what was kept for it (values included) is dropped.
    pub fn get(&self, key: &ObjectKey) -> Entry {
        let mut entries = self.inner.lock().expect("poisoned");
        let place = place_of(key);
        match entries.by_place.get(&place) {
            Some((uid, stored)) if **uid == *key.uid => stored.entry(),
            Some(_) => {
                entries.remove(&place);
                Entry::default()
            }
            None => Entry::default(),
        }
    }

    /// Updates the entry in place (a fresh one when the uid changed). `change` sees the entry
    /// without its last Secret written and may set one: most updates touch a field or two, and
    /// rebuilding the kept Secret's maps there and back cost every one of them. A Secret written
    /// is kept until the resource is forgotten or re-created.
    pub fn update(&self, key: &ObjectKey, change: impl FnOnce(&mut Entry)) {
        let mut entries = self.inner.lock().expect("poisoned");
        let stored = entries.slot(key);
        let was_managed = stored.last_desired.is_some();
        let mut entry = stored.fields();
        change(&mut entry);
        stored.absorb(entry);
        if !was_managed && stored.last_desired.is_some() {
            *entries.managed.entry(key.kind).or_default() += 1;
        }
    }

    /// Keeps `status`, seen on the object, as the status to build on, unless this process has
    /// written one since it started: vaultsync is the only writer, so its own is never older.
    pub fn observe_status(&self, key: &ObjectKey, status: &SyncStatus, text: Box<str>) {
        let mut entries = self.inner.lock().expect("poisoned");
        let stored = entries.slot(key);
        if !stored.status_written {
            stored.ready = Readiness::of(status);
            stored.last_status = Some(Packed::pack(&text));
        }
    }

    /// Calls `record` with the Ready condition of each resource of `kind` at `places`
    /// (namespace, name); `None` when it has none.
    pub fn readiness<'a>(
        &self,
        kind: &'static str,
        places: impl IntoIterator<Item = (&'a str, &'a str)>,
        record: &mut crate::telemetry::Tally<'_>,
    ) {
        let entries = self.inner.lock().expect("poisoned");
        for (namespace, name) in places {
            let ready = entries
                .by_place
                .get(&(kind, namespace.into(), name.into()))
                .and_then(|(_, stored)| stored.ready.as_ref());
            record(ready.map(|r| (r.status, &*r.reason)));
        }
    }

    /// Reconciles `key` again at `at`, instead of when it was to be.
    pub fn wake_at(&self, key: &ObjectKey, at: Instant) {
        let mut entries = self.inner.lock().expect("poisoned");
        let before = entries.slot(key).wake_at.replace(at);
        // The wake shares the slot's texts rather than copying them.
        let Some((place, _)) = entries.by_place.get_key_value(&place_of(key)) else {
            return;
        };
        let place = place.clone();
        let soonest = entries.wakes.set(&place, before, at);
        drop(entries);
        if soonest {
            self.sooner.notify_one();
        }
    }

    /// The resources due at `now`, no longer pending.
    fn take_due(&self, now: Instant) -> Vec<ObjectKey> {
        let mut entries = self.inner.lock().expect("poisoned");
        let due = entries.wakes.take_due(now);
        due.into_iter()
            .filter_map(|place| {
                let (uid, stored) = entries.by_place.get_mut(&place)?;
                stored.wake_at = None;
                Some(ObjectKey {
                    kind: place.0,
                    namespace: place.1.to_string(),
                    name: place.2.to_string(),
                    uid: uid.to_string(),
                })
            })
            .collect()
    }

    /// Calls `wake` for each resource when it is due, until `stop` turns true.
    pub async fn run_wakes(
        self: Arc<Self>,
        wake: crate::feed::Wake,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        // Far enough to mean "nothing pending", near enough for any timer.
        const IDLE: std::time::Duration = std::time::Duration::from_secs(3600);
        loop {
            // Registered before looking, so a sooner wake set meanwhile is not missed.
            let sooner = self.sooner.notified();
            let next = self.inner.lock().expect("poisoned").wakes.next();
            let until = next.unwrap_or_else(|| Instant::now() + IDLE);
            tokio::select! {
                _ = tokio::time::sleep_until(until.into()) => {}
                _ = sooner => continue,
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
            for key in self.take_due(Instant::now()) {
                wake(&key);
            }
        }
    }

    /// Says whether `trigger` (a hash of what should trigger a reconcile of `key`: generation,
    /// force-refresh annotation) differs from the last one seen, and keeps it. The first one
    /// seen for a uid always differs.
    pub fn trigger_changed(&self, key: &ObjectKey, trigger: u64) -> bool {
        let mut entries = self.inner.lock().expect("poisoned");
        let stored = entries.slot(key);
        stored.trigger.replace(trigger) != Some(trigger)
    }

    /// Forgets the entry of a resource (it was deleted); returns the uid the entry was for.
    pub fn forget(&self, kind: &'static str, namespace: &str, name: &str) -> Option<Box<str>> {
        let place = (kind, namespace.into(), name.into());
        self.inner.lock().expect("poisoned").remove(&place)
    }

    /// Number of resources with a Secret written.
    pub fn managed_count(&self, kind: &str) -> usize {
        let entries = self.inner.lock().expect("poisoned");
        entries.managed.get(kind).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests;
