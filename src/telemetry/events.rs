//! Kubernetes Events (`events.k8s.io/v1`) about resources and workloads.
//!
//! A repeat of an Event (same object, type, action and reason) within [`SERIES_WINDOW`] of the
//! last one is counted into a series on that Event, as client-go does, so a resource failing
//! the same way at every retry does not flood its namespace. kube's `Recorder` does the same
//! but keeps every Event it published, whole, for six minutes and walks them all on each
//! publish: a first sync of 10,000 resources held 10,000 Events and made 10,000² steps. Here
//! only a small summary of each recent Event is kept, at most [`REMEMBERED`] of them.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};

pub use kube::runtime::events::EventType;

/// A repeat within this long of an Event's last occurrence joins its series.
pub const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);
/// Most recent Events remembered for series; older ones are forgotten first.
pub const REMEMBERED: usize = 4096;
/// Longest note the API server accepts, in bytes.
pub const MAX_NOTE_BYTES: usize = 1024;

/// What happened, to whom it is told.
#[derive(Clone, Debug)]
pub struct Occurrence<'a> {
    /// Normal or Warning.
    pub type_: EventType,
    /// What vaultsync was doing (`Sync`, `Restart`).
    pub action: &'a str,
    /// Machine-readable reason (a condition reason).
    pub reason: &'a str,
    /// Human-readable note; cut to [`MAX_NOTE_BYTES`]. Never a value.
    pub note: &'a str,
}

/// Publishes Events as one reporting controller (and instance).
#[derive(Clone)]
pub struct Events {
    client: kube::Client,
    controller: String,
    instance: String,
    recent: Arc<Mutex<Recent>>,
}

/// The series one remembered Event is in.
#[derive(Clone, Debug)]
struct Seen {
    namespace: String,
    name: String,
    count: i32,
    last: Instant,
}

#[derive(Default)]
struct Recent {
    hasher: RandomState,
    by_key: HashMap<u64, Seen>,
}

impl Recent {
    fn key(&self, regarding: &ObjectReference, occurrence: &Occurrence<'_>) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        (
            &regarding.api_version,
            &regarding.kind,
            &regarding.namespace,
            &regarding.name,
            &regarding.uid,
        )
            .hash(&mut hasher);
        (
            type_name(occurrence.type_),
            occurrence.action,
            occurrence.reason,
        )
            .hash(&mut hasher);
        hasher.finish()
    }

    /// The series `key` continues, counted one more, if its last Event is recent enough.
    fn repeat(&mut self, key: u64, now: Instant) -> Option<Seen> {
        let seen = self.by_key.get_mut(&key)?;
        if now.duration_since(seen.last) >= SERIES_WINDOW {
            self.by_key.remove(&key);
            return None;
        }
        seen.count = seen.count.saturating_add(1);
        seen.last = now;
        Some(seen.clone())
    }

    /// Remembers a newly created Event, forgetting expired and then the oldest ones when full.
    fn remember(&mut self, key: u64, seen: Seen) {
        if self.by_key.len() >= REMEMBERED {
            let now = seen.last;
            self.by_key
                .retain(|_, s| now.duration_since(s.last) < SERIES_WINDOW);
        }
        if self.by_key.len() >= REMEMBERED {
            // Forget the oldest quarter at once, so this walk happens once per many Events.
            let mut ages: Vec<Instant> = self.by_key.values().map(|s| s.last).collect();
            ages.sort_unstable();
            let cutoff = ages[REMEMBERED / 4];
            self.by_key.retain(|_, s| s.last > cutoff);
        }
        self.by_key.insert(key, seen);
    }
}

impl Events {
    /// Events reported by `controller`, instance `instance` (the pod name) or else `controller`.
    pub fn new(client: kube::Client, controller: &str, instance: Option<String>) -> Self {
        Events {
            client,
            controller: controller.to_string(),
            instance: instance.unwrap_or_else(|| controller.to_string()),
            recent: Arc::default(),
        }
    }

    /// Publishes `occurrence` about `regarding`; a failure is logged, never returned (an Event
    /// lost is no reason to fail a sync).
    pub async fn publish(&self, regarding: &ObjectReference, occurrence: &Occurrence<'_>) {
        if let Err(err) = self.try_publish(regarding, occurrence).await {
            tracing::warn!(error = %err, reason = occurrence.reason, "failed to publish an Event");
        }
    }

    /// [`Events::publish`], returning the API server's refusal.
    pub async fn try_publish(
        &self,
        regarding: &ObjectReference,
        occurrence: &Occurrence<'_>,
    ) -> Result<(), kube::Error> {
        let now = Instant::now();
        let (key, repeat) = {
            let mut recent = self.recent.lock().expect("poisoned");
            let key = recent.key(regarding, occurrence);
            (key, recent.repeat(key, now))
        };
        if let Some(seen) = repeat {
            let events: Api<Event> = Api::namespaced(self.client.clone(), &seen.namespace);
            let series = serde_json::json!({
                "series": {"count": seen.count, "lastObservedTime": MicroTime(Timestamp::now())}
            });
            match events
                .patch(&seen.name, &PatchParams::default(), &Patch::Merge(&series))
                .await
            {
                Ok(_) => return Ok(()),
                // Events expire (an hour by default): start a new one.
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(err) => return Err(err),
            }
        }
        let event = self.event(regarding, occurrence);
        let namespace = event.metadata.namespace.clone().unwrap_or_default();
        let name = event.metadata.name.clone().unwrap_or_default();
        Api::<Event>::namespaced(self.client.clone(), &namespace)
            .create(&PostParams::default(), &event)
            .await?;
        let seen = Seen {
            namespace,
            name,
            count: 1,
            last: now,
        };
        self.recent.lock().expect("poisoned").remember(key, seen);
        Ok(())
    }

    /// A new Event in the namespace of `regarding` (`default` for cluster-scoped objects).
    fn event(&self, regarding: &ObjectReference, occurrence: &Occurrence<'_>) -> Event {
        let now = Timestamp::now();
        let object = regarding.name.as_deref().unwrap_or(&self.controller);
        Event {
            metadata: ObjectMeta {
                namespace: Some(
                    regarding
                        .namespace
                        .clone()
                        .unwrap_or_else(|| "default".into()),
                ),
                name: Some(format!("{object}.{:x}", now.as_nanosecond())),
                ..Default::default()
            },
            event_time: Some(MicroTime(now)),
            type_: Some(type_name(occurrence.type_).to_string()),
            action: Some(occurrence.action.to_string()),
            reason: Some(occurrence.reason.to_string()),
            note: Some(truncate_bytes(occurrence.note, MAX_NOTE_BYTES).to_string()),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Default::default()
        }
    }
}

fn type_name(type_: EventType) -> &'static str {
    match type_ {
        EventType::Normal => "Normal",
        EventType::Warning => "Warning",
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub fn truncate_bytes(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str) -> ObjectReference {
        ObjectReference {
            kind: Some("VaultSecret".into()),
            namespace: Some("ns".into()),
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        }
    }

    fn occurrence(reason: &str) -> Occurrence<'_> {
        Occurrence {
            type_: EventType::Warning,
            action: "Sync",
            reason,
            note: "note",
        }
    }

    fn seen(name: &str, last: Instant) -> Seen {
        Seen {
            namespace: "ns".into(),
            name: name.into(),
            count: 1,
            last,
        }
    }

    #[test]
    fn a_repeat_within_the_window_continues_the_series_and_a_later_one_starts_anew() {
        let mut recent = Recent::default();
        let start = Instant::now();
        let key = recent.key(&reference("a"), &occurrence("VaultUnavailable"));
        assert!(recent.repeat(key, start).is_none());
        recent.remember(key, seen("a.1", start));
        let again = recent.repeat(key, start + Duration::from_secs(60)).unwrap();
        assert_eq!((again.name.as_str(), again.count), ("a.1", 2));
        let third = recent
            .repeat(key, start + Duration::from_secs(300))
            .unwrap();
        assert_eq!(third.count, 3);
        // Six minutes after the last repeat (not the first Event) the series is over.
        assert!(
            recent
                .repeat(key, start + Duration::from_secs(300) + SERIES_WINDOW)
                .is_none()
        );
    }

    #[test]
    fn series_are_per_object_and_reason() {
        let recent = Recent::default();
        let base = recent.key(&reference("a"), &occurrence("VaultUnavailable"));
        assert_ne!(
            base,
            recent.key(&reference("b"), &occurrence("VaultUnavailable"))
        );
        assert_ne!(base, recent.key(&reference("a"), &occurrence("Throttled")));
        let normal = Occurrence {
            type_: EventType::Normal,
            ..occurrence("VaultUnavailable")
        };
        assert_ne!(base, recent.key(&reference("a"), &normal));
        // The note is not part of the key: a message that names a changing detail still counts.
        let other_note = Occurrence {
            note: "another note",
            ..occurrence("VaultUnavailable")
        };
        assert_eq!(base, recent.key(&reference("a"), &other_note));
    }

    #[test]
    fn memory_stays_bounded_and_the_oldest_are_forgotten_first() {
        let mut recent = Recent::default();
        let start = Instant::now();
        let total = REMEMBERED * 3;
        for i in 0..total {
            let at = start + Duration::from_millis(i as u64);
            recent.remember(i as u64, seen(&format!("e{i}"), at));
            assert!(recent.by_key.len() <= REMEMBERED);
        }
        let newest = (total - 1) as u64;
        assert!(recent.by_key.contains_key(&newest));
        assert!(!recent.by_key.contains_key(&0));
    }

    #[test]
    fn expired_events_are_dropped_before_recent_ones() {
        let mut recent = Recent::default();
        let start = Instant::now();
        for i in 0..REMEMBERED {
            recent.remember(i as u64, seen("old", start));
        }
        let later = start + SERIES_WINDOW;
        recent.remember(u64::MAX, seen("new", later));
        assert_eq!(recent.by_key.len(), 1);
    }

    #[test]
    fn notes_are_cut_at_a_character_boundary() {
        let text = "é".repeat(MAX_NOTE_BYTES);
        let cut = truncate_bytes(&text, MAX_NOTE_BYTES);
        assert!(cut.len() <= MAX_NOTE_BYTES);
        assert_eq!(truncate_bytes("ab", 10), "ab");
        assert_eq!(truncate_bytes("aé", 2), "a");
    }
}
